// A sound detector for register histories, run before the search (issue 16 §3): the order in
// which writes must have taken effect, inferred from real time and from what reads returned, and
// a cycle in it.
//
// A register history whose values are written once each tells which write every read saw. That
// gives orders that hold in every linearization:
// - real time: an op that completed before another was invoked precedes it;
// - reads-from: the write a read saw precedes the read (an ok cas reads its old value);
// - nothing between: an effective write W' (an ok write or cas, or an info one whose value was
//   read) is not between the write W a read R saw and R, so W' before R implies W' before W, and
//   W before W' implies R before W'. A read of the initial value (which nothing writes) precedes
//   every effective write.
// The rules are applied to a fixpoint over the transitive closure; a cycle means no linearization
// exists. Two readers that observe two writes in opposite orders, among many concurrent writers
// and info ops, are such a cycle: no local detector sees them (each read has a concurrent writer
// of its value), and the search must exhaust every order of the concurrent writes first.
//
// Only values written once (by ok or info ops, the initial value by none) are used; the rest
// add no constraint, which loses power but not soundness. Bounded: partitions with more than
// kMaxOps ops are left to the search. Models: register and cas-register, and kv, split by key or
// not (the whole-map model is checked key by key: linearizability is local, so a key whose ops
// admit no order makes the whole history non-linearizable).
//
// kv appends: a get's string is parsed as a put's value (or the initial string) followed by
// appended arguments. When exactly one such parse exists and each of its values has one writer,
// the get saw that write, then those appends in that order, and no other op took effect between
// the write and the get: another put would have reset the string and another append would show in
// it, and either would give the string a second parse (or its value a second writer). So the
// write precedes the first append, each append the next, the last the get, and "nothing between"
// holds with the appends excluded. Gets with no parse, or several, add no constraint; appends of
// "" change nothing and are left out. (A put alone is the register case: a parse with no appends.)
//
// Thread-safety: a pure function of its arguments.
#ifndef FAULTLINE_CHECKER_INTERNAL_WRITE_ORDER_H_
#define FAULTLINE_CHECKER_INTERNAL_WRITE_ORDER_H_

#include <optional>
#include <vector>

#include "checker/internal/engine.h"
#include "checker/models.h"

namespace faultline::checker::internal {

// The invalid result for a cycle (failing_call: a read on it, detail: the ops of the cycle), or
// nothing when no cycle is found.
std::optional<SearchResult> FindWriteOrderCycle(const RegisterModel& model,
                                                const std::vector<Call<RegisterModel>>& calls);
std::optional<SearchResult> FindWriteOrderCycle(const KvModel& model,
                                                const std::vector<Call<KvModel>>& calls);

}  // namespace faultline::checker::internal

#endif  // FAULTLINE_CHECKER_INTERNAL_WRITE_ORDER_H_
