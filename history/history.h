// faultline::history::History: ordered ops with invocation/completion pairing and validation.
//
// Real-time order is the order of events in the history. `time_ns`, where present, is informative
// only: Jepsen stamps :time per process before the op reaches the shared log, so an op can carry a
// time a few ns before the op above it. The file order stays authoritative (as in Jepsen and
// Knossos); such ops are accepted and counted (time_regressions()) so readers can warn once.
// Pairing follows ../shared/FORMATS.md §1.3:
// - a client process has at most one open invocation; its next completion (same process, same f)
//   closes it. A completion with no open invocation, a second invocation while one is open, and a
//   completion whose f differs from its invocation's are input errors naming the source and lines;
// - nemesis ops are `info` on both halves (Jepsen's convention) and are paired by that: an `info`
//   of the nemesis opens a fault when none is open for its f, and closes it otherwise;
// - an invocation that never completes stays open (a checker treats it as `info`);
// - ops without a process (Process::None(), minimal histories) pair by file order: a completion
//   closes the oldest open process-less invocation, or, with none open, stands alone: a
//   completion whose partner is kNone.
//
// Thread-safety: immutable after Build; const access from many threads is safe.
#ifndef FAULTLINE_HISTORY_HISTORY_H_
#define FAULTLINE_HISTORY_HISTORY_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "history/op.h"

namespace faultline::history {

// Where ops came from, for error messages: a file name and, per op, its 1-based line (or 0).
struct Source {
  std::string name;            // "history.edn", "<stdin>"
  std::vector<int64_t> lines;  // lines[i] is the line of ops[i]; may be empty when unknown
};

// Called with each op of a history read op by op (ForEachOp in history/io.h), in file order: the
// op, its 1-based source line (0: unknown), and where it begins in the text (nullptr: unknown). A
// non-ok Status stops the read and is returned.
using OpSink = std::function<Status(Op&& op, int64_t line, const char* at)>;

// The pairing and validation History::Build does, one op at a time, for readers that stream a
// history too large to hold (history/txn.h's TxnDecoder): ops must come in file order. Keeps only
// the open invocations.
class OpPairer {
 public:
  static constexpr size_t kNone = static_cast<size_t>(-1);

  explicit OpPairer(std::string source_name);
  OpPairer(OpPairer&&) noexcept;
  OpPairer& operator=(OpPairer&&) noexcept;
  ~OpPairer();

  // Takes the op at position `i` from source line `line` (0 = unknown) and returns the position of
  // the invocation it completes, or kNone. Sets a missing index (-1) to `i`. Errors as Build's.
  Result<size_t> Add(Op& op, size_t i, int64_t line);

  size_t invocations() const { return invocations_; }
  // Invocations still open (after the last op: that never completed).
  size_t open() const;
  size_t time_regressions() const { return time_regressions_; }
  size_t first_time_regression() const { return first_time_regression_; }
  // The one-line warning History's TimeRegressionNote gives, or "".
  std::string TimeRegressionNote() const;

 private:
  struct Open;
  std::string source_name_;
  std::unique_ptr<Open> open_;
  int64_t last_index_ = -1;
  int64_t last_time_ = -1;
  size_t invocations_ = 0;
  size_t time_regressions_ = 0;
  size_t first_time_regression_ = kNone;
  int64_t first_time_regression_line_ = 0;
};

class History {
 public:
  static constexpr size_t kNone = static_cast<size_t>(-1);

  History() = default;

  // Validates and pairs ops. Ops without an index (-1) get their position. Errors name
  // source.name and the lines involved: "history.edn: line 7: completion of process 3 (ok read)
  // with no open invocation".
  static Result<History> Build(std::vector<Op> ops, const Source& source = {});

  std::span<const Op> ops() const { return ops_; }
  const Op& operator[](size_t i) const { return ops_[i]; }
  size_t size() const { return ops_.size(); }
  bool empty() const { return ops_.empty(); }
  const std::string& source_name() const { return source_name_; }
  // The 1-based source line of ops()[i], or 0 when unknown.
  int64_t line(size_t i) const { return i < lines_.size() ? lines_[i] : 0; }

  // The position of the op paired with ops()[i] (its completion or its invocation), or kNone for an
  // invocation that never completed.
  size_t partner(size_t i) const { return partner_[i]; }

  // Number of invocations, client and nemesis.
  size_t invocation_count() const { return invocations_; }
  // Invocations that never completed.
  size_t open_count() const { return open_; }
  // Ops whose :time is before the :time of an op above them (file order wins; see above), and the
  // position of the first, or kNone.
  size_t time_regressions() const { return time_regressions_; }
  size_t first_time_regression() const { return first_time_regression_; }

  // Splits a Jepsen "independent" history: every client op whose value is a pair [key value]
  // becomes an op of the sub-history for that key, with `key` set and `value` the inner value
  // (an invocation's inner value is used for its completion's key, since Jepsen's completions
  // repeat it). Ops whose value is not a pair, and nemesis ops, are left out. Ordered by key.
  Result<std::map<Value, History, ValueLess>> SplitIndependent() const;

 private:
  std::vector<Op> ops_;
  std::vector<size_t> partner_;
  std::vector<int64_t> lines_;
  std::string source_name_;
  size_t invocations_ = 0;
  size_t open_ = 0;
  size_t time_regressions_ = 0;
  size_t first_time_regression_ = kNone;
};

// The one-line warning for a history with time regressions ("3 ops have a :time before that of an
// op above them (first: line 12); file order is used for real-time precedence"), or "" when none.
std::string TimeRegressionNote(const History& history);

}  // namespace faultline::history

#endif  // FAULTLINE_HISTORY_HISTORY_H_
