// An Elle-class checker for transactional histories (history/txn.h): list-append and rw-register.
//
// It infers, from the values transactions read and wrote, a version order per key and from it a
// dependency graph between transactions (Adya's ww, wr and rw edges; plus process and real-time
// edges for the session and strict models), finds its cycles (Tarjan's strongly connected
// components, then a shortest cycle of each kind inside each component) and names them as Adya
// and Elle do. Every anomaly it reports is real given the workload's premise that each (key,
// value) is appended or written at most once; where versions cannot be inferred (unobserved
// writes) it infers nothing rather than guess.
//
// Version orders:
// - list-append: the longest list read of each key; every other read must be a prefix of it
//   (else "incompatible-order", and that key yields no edges);
// - rw-register: the initial nil precedes every write; a transaction that read x of a key and then
//   wrote y to it orders x before y (writes follow reads); where committed writers carry the
//   database's revision (history::Txn::revision, etcd's header revision = the mod_revision of
//   what they wrote) that orders each key's versions outright, which decides far more; a cycle in
//   these is "cyclic-versions".
//
// Nodes are the committed (:ok) transactions and the indeterminate (:info) ones, whose writes
// count only where some read observed them; failed transactions are never nodes.
//
// Anomalies (Verdict::anomalies keys):
//   G0 (a cycle of ww edges), G1c (ww and wr), G-single (exactly one rw), G-nonadjacent (two or
//   more rw, no two adjacent), G2-item (two or more rw, some adjacent); each with "-process" when
//   the cycle needs a process-order edge and "-realtime" when it needs a real-time edge;
//   G1a (a read of a value written by a failed transaction), G1b (a read of a value its writer
//   later overwrote or appended past, in the same transaction), internal (a transaction's read
//   disagrees with its own earlier reads and writes), dirty-update (list-append: a committed
//   append follows a failed one in a version order), lost-update (two committed transactions read
//   the same version of a key and both wrote it), duplicate-elements (a list read holding an
//   element twice), incompatible-order, garbage-read (a value nobody wrote), cyclic-versions,
//   duplicate-writes (the workload wrote a (key, value) twice: inference skips that value).
//
// The consistency models and what each forbids (ConsistencyTable prints this; Adya 2000, Fekete
// et al. 2005 for snapshot isolation, Elle 2020):
//   every model forbids internal, garbage-read, duplicate-elements, incompatible-order,
//   cyclic-versions;
//   read-committed:      + G0 G1a G1b G1c dirty-update
//   snapshot-isolation:  + lost-update G-single G-nonadjacent (SI cycles always hold two adjacent
//                        rw edges, so write skew, G2-item, is allowed)
//   serializable:        + G2-item
//   strong-session-snapshot-isolation: snapshot-isolation + the -process variants of its cycles
//   strong-session-serializable:       serializable + every -process variant
//   strict-serializable: serializable + every -process and -realtime variant
//
// Thread-safety: a TxnChecker is used by one thread at a time.
#ifndef FAULTLINE_CHECKER_TXN_CHECKER_H_
#define FAULTLINE_CHECKER_TXN_CHECKER_H_

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "checker/verdict.h"
#include "common/result.h"
#include "history/history.h"
#include "history/txn.h"

namespace faultline::checker {

enum class TxnModel { kListAppend, kRwRegister };
enum class Consistency {
  kReadCommitted,
  kSnapshotIsolation,
  kStrongSessionSnapshotIsolation,
  kSerializable,
  kStrongSessionSerializable,
  kStrictSerializable,
};

// "list-append", "rw-register".
std::string_view TxnModelName(TxnModel model);
Result<TxnModel> ParseTxnModel(std::string_view name);
// "read-committed", "snapshot-isolation", ..., "strict-serializable".
std::string_view ConsistencyName(Consistency c);
Result<Consistency> ParseConsistency(std::string_view name);
// Every model, weakest first.
std::vector<Consistency> AllConsistencies();
// The anomaly kinds `c` forbids.
const std::set<std::string>& ForbiddenAnomalies(Consistency c);
// The table above, one line per model, for --help and the README.
std::string ConsistencyTable();

struct TxnCheckOptions {
  TxnModel model = TxnModel::kListAppend;
  Consistency consistency = Consistency::kStrictSerializable;
  size_t max_examples = 8;
  // Bound on the work of the shortest-cycle searches (nodes visited). A component left
  // unclassified when it runs out makes the verdict unknown if its kind matters to the model.
  uint64_t search_budget = 200'000'000;
};

// Checks decoded transactions; `history` (may be null) names lines in the explanations.
Verdict CheckTxns(const std::vector<history::Txn>& txns, const TxnCheckOptions& options);

class TxnChecker final : public Checker {
 public:
  explicit TxnChecker(TxnCheckOptions options) : options_(options) {}
  std::string_view name() const override { return TxnModelName(options_.model); }
  // An error when an op is not a transaction the model can decode.
  [[nodiscard]] Result<Verdict> Check(const history::History& history) override;
  bool Applies(const history::History& history) const override;

 private:
  TxnCheckOptions options_;
};

}  // namespace faultline::checker

#endif  // FAULTLINE_CHECKER_TXN_CHECKER_H_
