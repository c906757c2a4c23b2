// Summary counts of a history, for `faultline history stats` and reports.
//
// Thread-safety: free functions without shared state; HistoryStats is a plain value; a
// StatsBuilder is used by one thread at a time.
#ifndef FAULTLINE_HISTORY_STATS_H_
#define FAULTLINE_HISTORY_STATS_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/result.h"
#include "history/history.h"
#include "history/op.h"

namespace faultline::history {

// Orders clients by number first, then named processes (the nemesis) by name: the order people
// expect in a listing, unlike Process's own ordering.
struct ProcessLess {
  bool operator()(const Process& a, const Process& b) const {
    if (a.is_client() != b.is_client()) return a.is_client();
    if (a.is_client()) return a.number < b.number;
    return a.name < b.name;
  }
};

struct HistoryStats {
  size_t ops = 0;
  std::map<std::string, size_t> by_type;  // "invoke", "ok", "fail", "info" (present ones only)
  std::map<std::string, size_t> by_f;     // f name; ops without f count under ""
  std::map<Process, size_t, ProcessLess> by_process;
  size_t invocations = 0;  // client and nemesis (a fault's opening :info counts)
  size_t completions = 0;
  std::vector<size_t> open_ops;  // positions of invocations that never completed, in order
  size_t nemesis_ops = 0;        // ops of non-client processes, both halves
  // Over the ops whose time is known (time_ns >= 0); -1 and 0 when none is.
  int64_t first_time_ns = -1;
  int64_t last_time_ns = -1;
  int64_t time_span_ns = 0;
  // Transactions (client completions, or open invocations, of :f :txn or with a vector value and
  // no :f; history/txn.h) and their micro-ops; 0 for a history without transactions.
  size_t txns = 0;
  size_t micro_ops = 0;

  bool operator==(const HistoryStats&) const = default;
};

// The counts of a built History (through a StatsBuilder: one set of rules for both).
HistoryStats ComputeStats(const History& history);

// Counts op by op, for a history too large to hold (`faultline history stats` of a file): Add each
// op in file order (ForEachOp in history/io.h), then Finish. The pairing, and its errors, are
// History::Build's (through OpPairer). Keeps only the open invocations.
class StatsBuilder {
 public:
  explicit StatsBuilder(std::string source_name);

  Status Add(Op&& op, int64_t line);
  HistoryStats Finish();
  // The one-line warning History's TimeRegressionNote gives, or "".
  std::string TimeRegressionNote() const;

 private:
  struct Opened {
    bool txn = false;
    int64_t micro_ops = -1;  // the size of its value when that is a vector, else -1
  };
  OpPairer pairer_;
  HistoryStats stats_;
  std::map<size_t, Opened> open_;  // by position: open_ops come out in order
};

// Human-readable text, several lines, ending with a newline.
std::string FormatStats(const HistoryStats& stats);

// One JSON object: {"ops":N,"by_type":{...},"by_f":{...},"by_process":{"0":N,"nemesis":M},
// "invocations":N,"completions":N,"open_ops":[...],"nemesis_ops":N,"first_time_ns":T,
// "last_time_ns":T,"time_span_ns":T}, then "txns":N,"micro_ops":M when there are transactions. by_f
// names an op without f "".
std::string StatsToJson(const HistoryStats& stats);

}  // namespace faultline::history

#endif  // FAULTLINE_HISTORY_STATS_H_
