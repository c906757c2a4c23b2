// A campaign's log patterns: the node logs copied into the run directory are scanned from where
// the run began (checker/log_patterns.h), and the verdict joins the checkers'.
#include "checker/log_patterns.h"

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "common/file.h"
#include "runner/campaign.h"

namespace faultline::runner {

std::vector<checker::NodeLog> RunDirNodeLogs(const RunFiles& files,
                                             const std::vector<std::string>& nodes,
                                             const std::map<std::string, uint64_t>& offsets) {
  std::vector<checker::NodeLog> logs;
  for (const std::string& node : nodes) {
    auto it = offsets.find(node);
    logs.push_back(
        checker::NodeLog{.node = node,
                         .path = (std::filesystem::path(files.nodes) / node / "etcd.log").string(),
                         .offset = it == offsets.end() ? 0 : it->second});
  }
  return logs;
}

Status AddLogPatterns(RunReport& report, const CampaignConfig& config,
                      std::vector<checker::NodeLog> logs) {
  FAULTLINE_ASSIGN_OR_RETURN(std::vector<checker::LogPattern> patterns,
                             checker::MakeLogPatterns(config.log_patterns, config.log_pattern_max));
  FAULTLINE_ASSIGN_OR_RETURN(checker::LogPatternReport scan, checker::ScanNodeLogs(logs, patterns));
  checker::Verdict verdict = checker::LogPatternVerdict(scan);
  report.verdict.validity = checker::Merge(report.verdict.validity, verdict.validity);
  report.verdict.checkers.push_back(std::move(verdict));
  for (const std::string& w : scan.warnings) report.stats.warnings.push_back(w);
  report.log_patterns = std::move(scan);
  report.log_scan = std::move(logs);
  report.text = RenderSummary(report, config);
  return OkStatus();
}

Status ApplyLogPatterns(RunReport& report, const CampaignConfig& config,
                        std::vector<checker::NodeLog> logs) {
  FAULTLINE_RETURN_IF_ERROR(AddLogPatterns(report, config, std::move(logs)));
  return WriteFileAtomic(report.files.results, RenderResultsJson(report, config) + "\n");
}

}  // namespace faultline::runner
