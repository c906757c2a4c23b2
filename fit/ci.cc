#include "fit/ci.h"

#include <fmt/format.h>

#include <cstdint>
#include <utility>

#include "checker/junit_case.h"
#include "checker/verdict.h"

namespace faultline::fit {
namespace {

using nlohmann::json;

std::string Str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// "success_rate: experiment -19.2 points vs control, margin max_drop_points 1; p_within_holm 1,
// p_beyond_holm 0.0001"
std::string TestLine(const json& t) {
  const bool points = t.contains("difference_points");
  const json& estimate = points ? t["difference_points"] : t.value("ratio", json(nullptr));
  std::string margin;
  const json margins = t.value("margin", json::object());
  for (const auto& [k, v] : margins.items()) {
    margin = fmt::format("{} {}", k, v.dump());
  }
  return fmt::format("{}: {} {} (margin {}); p_within_holm {:.4g}, p_beyond_holm {:.4g}",
                     Str(t, "kpi"), points ? "difference in points" : "ratio experiment/control",
                     estimate.dump(), margin, t.value("p_within_holm", 1.0),
                     t.value("p_beyond_holm", 1.0));
}

}  // namespace

int ApplyLogPatterns(json& results, const checker::LogPatternReport& scan) {
  results["log_patterns"] = json::parse(checker::LogPatternsJson(scan));
  const std::string exceeded = checker::ExceededLine(scan);
  results["log_patterns_exceeded"] = !exceeded.empty();
  if (!scan.unread.empty()) results["log_patterns_unread"] = scan.unread;
  if (!exceeded.empty()) {
    results["log_patterns_failure"] = exceeded;
    results["exit_code"] = 1;
  }
  return results.value("exit_code", 3);
}

void NoNodeLogs(json& results, std::string_view why) {
  results.erase("log_patterns");
  results["log_patterns_exceeded"] = false;
  results["log_patterns_note"] = std::string(why);
}

JUnitSuite FitJUnitSuite(const json& r, const std::string& out_dir) {
  const std::string id = Str(r, "scenario");
  const std::string classname = fmt::format("faultline.fit.{}", id);
  JUnitSuite s{
      .name = fmt::format("faultline fit {} seed {}", id, r.value("seed", std::uint64_t{0})),
      .timestamp = JUnitTimestampNow(),
      .time_s = r.contains("load") ? r["load"].value("measured_s", 0.0) : 0.0,
      .properties = {{"scenario", id},
                     {"seed", std::to_string(r.value("seed", std::uint64_t{0}))},
                     {"hypothesis", Str(r, "hypothesis")},
                     {"reason", Str(r, "reason")},
                     {"run_dir", out_dir},
                     {"rerun",
                      fmt::format("faultline fit run {} --out {}", Str(r, "source"), out_dir)}},
      .cases = {}};
  for (const json& t : r.value("tests", json::array())) {
    JUnitCase c{.name = Str(t, "kpi"),
                .classname = classname,
                .time_s = 0,
                .outcome = JUnitOutcome::kPassed,
                .type = "",
                .message = "",
                .detail = t.dump(2)};
    const std::string decision = Str(t, "decision");
    if (decision == "beyond") {
      c.outcome = JUnitOutcome::kFailure;
      c.type = "refuted";
      c.message = fmt::format("shown beyond its margin: {}", TestLine(t));
    } else if (decision != "within") {
      c.outcome = JUnitOutcome::kSkipped;
      const json more = t.value("more_requests_needed", json(nullptr));
      c.message = fmt::format("inconclusive: {}; {}", TestLine(t),
                              more.is_number()
                                  ? fmt::format("about {} more requests would decide", more.dump())
                                  : std::string("no number of requests is sure to decide"));
    } else {
      c.detail.clear();
    }
    s.cases.push_back(std::move(c));
  }
  JUnitCase abort{.name = "abort",
                  .classname = classname,
                  .time_s = 0,
                  .outcome = JUnitOutcome::kPassed,
                  .type = "",
                  .message = "",
                  .detail = ""};
  if (r.contains("abort") && r["abort"].is_object()) {
    abort.outcome = JUnitOutcome::kFailure;
    abort.type = "aborted";
    abort.message = Str(r, "reason");
    abort.detail = r["abort"].dump(2);
  }
  s.cases.push_back(std::move(abort));
  JUnitCase logs{.name = "log-patterns",
                 .classname = classname,
                 .time_s = 0,
                 .outcome = JUnitOutcome::kSkipped,
                 .type = "",
                 .message = Str(r, "log_patterns_note"),
                 .detail = ""};
  if (r.contains("log_patterns")) {
    const bool exceeded = r.value("log_patterns_exceeded", false);
    logs.outcome = exceeded ? JUnitOutcome::kFailure : JUnitOutcome::kPassed;
    logs.type = exceeded ? "invalid" : "";
    logs.message = Str(r, "log_patterns_failure");
    if (exceeded) logs.detail = r["log_patterns"].dump(2);
    if (!exceeded && r.contains("log_patterns_unread")) {
      logs.outcome = JUnitOutcome::kSkipped;
      logs.message = fmt::format("node logs not read: {}", r["log_patterns_unread"].dump());
    }
  }
  s.cases.push_back(std::move(logs));
  return s;
}

JUnitSuite FitErrorJUnitSuite(const std::string& scenario_id, const std::string& error) {
  return ErrorJUnitSuite(fmt::format("faultline fit {}", scenario_id),
                         fmt::format("faultline.fit.{}", scenario_id), "fit", error,
                         {{"scenario", scenario_id}});
}

}  // namespace faultline::fit
