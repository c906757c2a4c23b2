#include "dirt/internal/log_scan.h"

#include <fmt/format.h>

#include <string>

namespace faultline::dirt::internal {

std::vector<checker::NodeLog> NodeLogsFromNow(const cluster::ClusterState& state) {
  std::vector<checker::NodeLog> logs;
  for (const cluster::NodeState& n : state.nodes) {
    logs.push_back(checker::NodeLog{
        .node = n.name, .path = n.log_path, .offset = checker::LogOffsetNow(n.log_path)});
  }
  return logs;
}

void JudgeLogPatterns(std::span<const checker::NodeLog> logs,
                      std::span<const checker::LogPattern> patterns, DrillResult& res) {
  Result<checker::LogPatternReport> scan = checker::ScanNodeLogs(logs, patterns);
  if (!scan) {
    res.notes.push_back(fmt::format("log patterns not counted: {}", scan.error().message()));
    return;
  }
  for (const std::string& u : scan->unread) {
    res.notes.push_back(fmt::format("log patterns: log not read on {}", u));
  }
  for (const std::string& w : scan->warnings) res.notes.push_back(w);
  const std::string exceeded = checker::ExceededLine(*scan);
  res.log_patterns = std::move(*scan);
  if (exceeded.empty()) return;
  if (res.verdict == Verdict::kPass) {
    res.verdict = Verdict::kInvalid;
    res.reason = exceeded;
  } else {
    res.reason = fmt::format("{}; {}", res.reason, exceeded);
  }
  res.improvements.push_back(fmt::format(
      "{}: read the node logs' examples in log_patterns; a maximum the scenario expects to be "
      "crossed belongs in its log_pattern_max",
      exceeded));
}

}  // namespace faultline::dirt::internal
