// Transactional histories (Jepsen's list-append and rw-register workloads, Elle's input): an op
// whose :value is a vector of micro-ops [[:append 3 1] [:r 4 [1 2]] [:w 5 2]]. Decoded once, here,
// into typed micro-ops so that checkers never look at Values again.
//
// Accepted spellings of a micro-op's function: the keywords :append, :r, :w (Jepsen EDN and
// faultline JSON Lines, where they are {"~kw":"append"}), and the strings "append", "r", "w" (the
// JSON that elle-cli reads). Keys and elements are integers, as every Jepsen and Elle workload
// writes them; anything else is an input error naming the op.
//
// Which micro-ops a transaction is known by: an :ok completion's value (reads filled in); a :fail
// or :info completion's value, or, when the completion has none, its invocation's (a read's result
// is then unknown). An invocation that never completes is an :info transaction.
//
// Thread-safety: plain values and free functions.
#ifndef FAULTLINE_HISTORY_TXN_H_
#define FAULTLINE_HISTORY_TXN_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "history/history.h"
#include "history/op.h"
#include "history/value.h"

namespace faultline::history {

enum class MicroOpKind { kAppend, kRead, kWrite };

// "append", "r", "w".
std::string_view MicroOpName(MicroOpKind kind);

struct MicroOp {
  MicroOpKind kind = MicroOpKind::kRead;
  int64_t key = 0;
  // The argument of an append or a write; for a rw-register read with a known, non-nil result, that
  // result.
  int64_t value = 0;
  // For a read: whether its result is known (an :ok completion), and whether that result was nil
  // (a register never written; a list read as nil is the empty list).
  bool known = false;
  bool nil = false;
  bool is_list = false;  // the result was a list (list-append), not an integer (rw-register)
  // For a read with a known result that was a list: the list read ([] for nil).
  std::vector<int64_t> list;

  bool operator==(const MicroOp&) const = default;
};

struct Txn {
  size_t invoke = History::kNone;    // position of the invocation, or kNone (a bare completion)
  size_t complete = History::kNone;  // position of the completion, or kNone (never completed)
  OpType type = OpType::kInfo;       // kOk, kFail or kInfo (never completed counts as info)
  Process process;
  // The op index that names the transaction in reports ("T12"): the completion's, else the
  // invocation's.
  int64_t index = -1;
  std::vector<MicroOp> ops;
  // The database's own version of the transaction, when its :ok completion carries one: etcd's
  // reply header :revision (field::kRevision), which for a transaction that writes is the
  // mod_revision of every key it wrote.
  std::optional<int64_t> revision;
  // The database's versions of what the transaction read, when its :ok completion carries them
  // (:mod_revisions [[key rev] ...], field::kModRevisions): per key, the mod_revision of the
  // version it read before its own writes (0: absent). They name the revision of a value even
  // when its writer's outcome is unknown.
  std::vector<std::pair<int64_t, int64_t>> read_revisions;

  bool operator==(const Txn&) const = default;
};

// Whether the client op is a transaction: :f :txn, or no :f with a vector value (minimal
// histories).
bool IsTxnOp(const Op& op);

// The transactions of a history, in the order of their completions (an open invocation sorts at
// its own position); nemesis ops are skipped. Errors name the op and the source line.
Result<std::vector<Txn>> DecodeTxns(const History& history);

// DecodeTxns for a history read op by op (history/io.h's ForEachOp), for histories too large to
// hold as Values: Add each op in file order, then Finish. Gives what
// DecodeTxns(History::Build(ops)) gives, errors included, while keeping only the decoded
// transactions and the open invocations.
class TxnDecoder {
 public:
  explicit TxnDecoder(std::string source);
  ~TxnDecoder();
  TxnDecoder(const TxnDecoder&) = delete;
  TxnDecoder& operator=(const TxnDecoder&) = delete;

  // `line`: the op's source line, or 0.
  Status Add(Op&& op, int64_t line);
  Result<std::vector<Txn>> Finish();

  size_t ops() const { return next_; }
  // The one-line warning History's TimeRegressionNote gives, or "".
  std::string TimeRegressionNote() const;

 private:
  struct Pending {
    Op op;
    int64_t line;
  };
  std::string source_;
  OpPairer pairer_;
  size_t next_ = 0;
  std::map<size_t, Pending> pending_;  // open client invocations by position
  std::vector<Txn> txns_;              // in the order they were taken
};

// Decodes one :value. `completed_ok` says whether read results are known.
Result<std::vector<MicroOp>> DecodeMicroOps(const Value& value, bool completed_ok);

// The :value of micro-ops, as Jepsen writes it: [[:append 3 1] [:r 4 [1 2]] [:w 5 2]]. A read whose
// result is unknown is written with nil.
Value EncodeMicroOps(const std::vector<MicroOp>& ops);

}  // namespace faultline::history

#endif  // FAULTLINE_HISTORY_TXN_H_
