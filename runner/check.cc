// CheckHistory: the checkers a workload needs (checker/), composed, and the figures of a history.
// The verdicts are made in checker/; this file only chooses and configures them.
#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "checker/counter_checker.h"
#include "checker/linearizable_checker.h"
#include "checker/revision_checker.h"
#include "checker/sanity_checker.h"
#include "checker/set_checker.h"
#include "checker/txn_checker.h"
#include "checker/verdict.h"
#include "runner/campaign.h"

namespace faultline::runner {
namespace {

using checker::Validity;
using history::History;
using history::Op;
using history::OpType;

double Percentile(std::vector<int64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  const size_t i =
      std::min(sorted.size() - 1, static_cast<size_t>(q * static_cast<double>(sorted.size())));
  return static_cast<double>(sorted[i]) / 1e6;
}

HistoryFigures Figures(const History& h) {
  HistoryFigures fig;
  fig.by_f = checker::CountByF(h);
  for (const auto& [f, c] : fig.by_f) fig.client_ops += c.ok + c.fail + c.info;
  std::vector<int64_t> latencies;
  int64_t first = -1;
  int64_t last = -1;
  for (size_t i = 0; i < h.size(); ++i) {
    const Op& op = h[i];
    const size_t p = h.partner(i);
    if (!op.is_client()) {
      if (op.is_completion() && p != History::kNone && p < i && op.f != "heal") ++fig.faults;
      continue;
    }
    if (op.time_ns >= 0) {
      if (first < 0) first = op.time_ns;
      last = op.time_ns;
    }
    if (!op.is_invoke() || p == History::kNone) continue;
    const Op& done = h[p];
    // A lock's hold lasts as long as it was asked to: not a latency.
    if (done.type == OpType::kOk && op.time_ns >= 0 && done.time_ns >= op.time_ns &&
        op.f != "hold") {
      latencies.push_back(done.time_ns - op.time_ns);
    }
  }
  std::sort(latencies.begin(), latencies.end());
  fig.latency_p50_ms = Percentile(latencies, 0.50);
  fig.latency_p99_ms = Percentile(latencies, 0.99);
  fig.latency_max_ms = latencies.empty() ? 0 : static_cast<double>(latencies.back()) / 1e6;
  if (first >= 0 && last > first) {
    fig.span_s = static_cast<double>(last - first) / 1e9;
    fig.ops_per_s = static_cast<double>(fig.client_ops) / fig.span_s;
  }
  return fig;
}

// The fs a workload's run must have ok completions of.
std::vector<std::string> ExpectedF(Workload workload) {
  switch (workload) {
    case Workload::kRegister:
      return {"read", "write", "cas"};
    case Workload::kSet:
    case Workload::kCounter:
      return {"add", "read"};
    case Workload::kLock:
      return {"acquire", "release"};
    case Workload::kAppend:
    case Workload::kRwRegister:
      return {"txn"};
  }
  return {};
}

// The checkers of a workload, then the sanity checks. The revision-order checker is a second
// opinion beside the search: its invalid is evidence (etcd's own revisions contradict the
// history), but its unknown (a revision it could not attribute) says nothing about a history the
// search decided, so it does not merge.
std::unique_ptr<checker::ComposeChecker> MakeJudge(const CampaignConfig& config) {
  auto judge = std::make_unique<checker::ComposeChecker>("run");
  switch (config.workload) {
    case Workload::kRegister:
      judge->Add(checker::MakeLinearizableChecker({.time_limit_s = config.check_time_limit_s}));
      judge->AddSecondOpinion(checker::MakeRevisionOrderChecker(
          {.check = {},
           .serializable_reads =
               config.read_mode == "serializable" || config.read_mode == "plain"}));
      break;
    case Workload::kSet:
      judge->Add(checker::MakeSetChecker(
          {.stale_is_invalid = config.read_mode == "linearizable", .max_examples = 10}));
      break;
    case Workload::kCounter:
      judge->Add(checker::MakeCounterChecker({.max_examples = 10}));
      break;
    case Workload::kLock:
      judge->Add(checker::MakeMutexChecker({.time_limit_s = config.check_time_limit_s}));
      break;
    case Workload::kAppend:
    case Workload::kRwRegister:
      judge->Add(std::make_unique<checker::TxnChecker>(*TxnClaim(config)));
      break;
  }
  judge->Add(checker::MakeSanityChecker({.expected_f = ExpectedF(config.workload),
                                         .info_ceiling = config.info_ceiling,
                                         .faults_scheduled = !config.nemesis.empty()}));
  return judge;
}

}  // namespace

std::optional<checker::TxnCheckOptions> TxnClaim(const CampaignConfig& config) {
  if (config.workload != Workload::kAppend && config.workload != Workload::kRwRegister) {
    return std::nullopt;
  }
  // etcd claims strict serializability for its txns, and so does one Redis primary running
  // MULTI/EXEC (the system refuses other read modes); etcd's serializable reads of a read-only
  // transaction may be stale, which only serializability allows.
  return checker::TxnCheckOptions{.model = config.workload == Workload::kAppend
                                               ? checker::TxnModel::kListAppend
                                               : checker::TxnModel::kRwRegister,
                                  .consistency = config.read_mode == "serializable"
                                                     ? checker::Consistency::kSerializable
                                                     : checker::Consistency::kStrictSerializable};
}

Result<RunVerdict> CheckHistory(const History& h, const CampaignConfig& config) {
  std::unique_ptr<checker::ComposeChecker> judge = MakeJudge(config);
  FAULTLINE_ASSIGN_OR_RETURN(checker::Verdict merged, judge->Check(h));
  return RunVerdict{.validity = merged.validity, .checkers = judge->parts(), .figures = Figures(h)};
}

int ExitCodeFor(Validity validity) {
  switch (validity) {
    case Validity::kValid:
      return 0;
    case Validity::kInvalid:
      return 1;
    case Validity::kUnknown:
      return 2;
  }
  return 2;
}

}  // namespace faultline::runner
