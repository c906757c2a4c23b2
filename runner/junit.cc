// A campaign as a JUnit test suite: one test case per checker.
#include <fmt/format.h>

#include <filesystem>

#include "checker/junit_case.h"
#include "runner/campaign.h"

namespace faultline::runner {

JUnitSuite CampaignJUnitSuite(const RunReport& r, const CampaignConfig& c) {
  const std::string workload(WorkloadName(c.workload));
  JUnitSuite s{
      .name = fmt::format("faultline campaign {} seed {}", workload, c.seed),
      .timestamp = JUnitTimestampNow(),
      .time_s = r.stats.duration_s,
      .properties = {{"seed", std::to_string(c.seed)},
                     {"workload", workload},
                     {"nemesis", nemesis::FormatFaultKindList(c.nemesis)},
                     {"cluster", c.cluster},
                     {"run_dir", r.files.dir},
                     {"rerun",
                      fmt::format("faultline campaign --config {}",
                                  (std::filesystem::path(r.files.dir) / "config.json").string())},
                     {"verdict", std::string(checker::ValidityName(r.verdict.validity))}},
      .cases = {}};
  const std::string classname = fmt::format("faultline.campaign.{}", workload);
  for (const CheckerVerdict& v : r.verdict.checkers) {
    s.cases.push_back(checker::VerdictJUnitCase(v, classname));
  }
  return s;
}

JUnitSuite CampaignErrorJUnitSuite(const CampaignConfig& c, const std::string& error) {
  const std::string workload(WorkloadName(c.workload));
  return ErrorJUnitSuite(fmt::format("faultline campaign {} seed {}", workload, c.seed),
                         fmt::format("faultline.campaign.{}", workload), "campaign", error,
                         {{"seed", std::to_string(c.seed)}, {"workload", workload}});
}

}  // namespace faultline::runner
