// faultline::checker::BruteForceCheck: a reference linearizability checker for small histories.
//
// It tries every linearization order consistent with real-time order and shares no code with the
// engine behind Check (checker.h): the models below are implemented again, from the semantics in
// issue 3 and ../shared/FORMATS.md §1.3/§1.5, so that the property test compares two independent
// readings of the same rules. It is exponential: meant for histories of up to about 10 client ops.
//
// Semantics, for every model:
// - An `ok` op took effect exactly once, between its invocation and its completion (closed
//   interval: an op completing before another's invocation must be linearized first).
// - A `fail` op never took effect; both halves are dropped.
// - An `info` op, and an invocation with no completion, may take effect at any point after its
//   invocation, or never. Its completion's value is not a result: an info (or failed) read
//   constrains nothing and is dropped; an info op that changes state applies its arguments.
// - nil, "" and 0 are distinct values. Nemesis ops are skipped.
//
// Op shapes per model (f, then the invocation's value; results come from the `ok` completion):
// - register: `:read` (result: the value, nil if never written), `:write v`.
// - cas-register: register plus `:cas [old new]`: ok means the register held old and now holds
//   new. An info cas, if it takes effect, sets new only when the register holds old.
//   register and cas-register histories whose every client op has a value `[key inner]` (a read
//   invoked with `[k nil]`, a cas with `[k [old new]]`) are Jepsen "independent" histories: each
//   key is its own register, holding the initial value until written.
// - kv: Op::key names the key; `:get` (result: the string), `:put s`, `:append s` (concatenates a
//   string to a string). Every key starts as the initial value, "" by default.
// - multi-register: `:write {k v ...}` writes several registers at once; `:read` (invoked with any
//   value) completes with a map `{k v ...}`, each k must hold v (nil if never written). The
//   initial value, if given, is a map of starting values (default: every register nil).
// - set: `:add v`; `:read` completes with a set (or vector/list) of exactly the elements added.
//   The initial value, if given, is a collection of elements (default: empty).
// - mutex: `:acquire` (legal only when free) and `:release` (legal only when held). The initial
//   value, if given, is a bool: true = held (default: free).
// - fifo-queue: `:enqueue v`; `:dequeue` completes with the head, which it removes; a dequeue
//   that returns nil says the queue was empty. An info dequeue, if it takes effect, removes the
//   head. The initial value, if given, is a collection, head first (default: empty).
// - unordered-queue: as fifo-queue, but a dequeue may remove any element equal to its result; an
//   info dequeue may remove any one element.
//
// Thread-safety: BruteForceCheck is a pure function; call it from any thread.
#ifndef FAULTLINE_CHECKER_BRUTE_FORCE_H_
#define FAULTLINE_CHECKER_BRUTE_FORCE_H_

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "checker/checker.h"
#include "common/result.h"
#include "history/history.h"
#include "history/value.h"

namespace faultline::checker {

struct BruteForceOptions {
  std::string model = "cas-register";
  std::optional<history::Value> initial;  // nullopt = the model's default (see above)
  // Client ops (after dropping fail ops and info reads) beyond which the check refuses to run.
  size_t max_ops = 16;
};

// The models BruteForceCheck understands, sorted.
std::vector<std::string> BruteForceModelNames();

// Returns kValid or kInvalid. An error means the history could not be checked: unknown model, an
// op the model cannot decode (the message names the op's index), or more than max_ops ops.
Result<Validity> BruteForceCheck(const history::History& history, const BruteForceOptions& options);

}  // namespace faultline::checker

#endif  // FAULTLINE_CHECKER_BRUTE_FORCE_H_
