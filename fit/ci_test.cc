// The CI glue of a FIT run: log patterns recorded beside the statistical verdict (an exceeded
// maximum fails the run, the hypothesis stays) and the JUnit suite a CI reader gets.
#include "fit/ci.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace faultline::fit {
namespace {

using nlohmann::json;

json Results(const std::string& hypothesis, int exit_code) {
  json r;
  r["scenario"] = "FIT02";
  r["source"] = "scenarios/FIT02-read-errors.json";
  r["seed"] = 1;
  r["hypothesis"] = hypothesis;
  r["exit_code"] = exit_code;
  r["reason"] = "the reason";
  r["load"] = {{"measured_s", 8.0}};
  r["abort"] = nullptr;
  r["tests"] = json::array({{{"kpi", "success_rate"},
                             {"margin", {{"max_drop_points", 1}}},
                             {"difference_points", -19.2},
                             {"p_within_holm", 1.0},
                             {"p_beyond_holm", 0.0001},
                             {"decision", hypothesis == "refuted" ? "beyond" : "within"}},
                            {{"kpi", "p99_ms"},
                             {"margin", {{"max_ratio", 2}}},
                             {"ratio", 1.1},
                             {"p_within_holm", 0.3},
                             {"p_beyond_holm", 0.9},
                             {"decision", "undecided"},
                             {"more_requests_needed", 1200}}});
  return r;
}

checker::LogPatternReport Scan(int panics) {
  checker::LogPatternScanner s(checker::BuiltinLogPatterns());
  s.AddNode("n1");
  s.AddNode("n2");
  for (int i = 0; i < panics; ++i) s.Feed("n2", "panic: failed to open database");
  s.Feed("n1", R"({"level":"info","msg":"ready"})");
  return s.Report();
}

// A copy: the suites these tests build are temporaries.
JUnitCase Case(const JUnitSuite& s, const std::string& name) {
  for (const JUnitCase& c : s.cases) {
    if (c.name == name) return c;
  }
  ADD_FAILURE() << "no case " << name;
  return {};
}

TEST(FitCi, CleanLogsKeepTheVerdictAndItsExitCode) {
  json r = Results("inconclusive", 2);
  EXPECT_EQ(ApplyLogPatterns(r, Scan(0)), 2);
  EXPECT_EQ(r["exit_code"], 2);
  EXPECT_EQ(r["log_patterns_exceeded"], false);
  EXPECT_EQ(r["log_patterns"]["panic"]["count"], 0);
  EXPECT_EQ(r["log_patterns"]["panic"]["by_node"]["n2"], 0);
  EXPECT_FALSE(r.contains("log_patterns_failure"));
  EXPECT_EQ(Case(FitJUnitSuite(r, "out"), "log-patterns").outcome, JUnitOutcome::kPassed);
}

TEST(FitCi, AnExceededMaximumFailsAHeldRunButKeepsItsHypothesis) {
  json r = Results("held", 0);
  EXPECT_EQ(ApplyLogPatterns(r, Scan(2)), 1);
  EXPECT_EQ(r["exit_code"], 1);
  EXPECT_EQ(r["hypothesis"], "held");
  EXPECT_EQ(r["log_patterns_exceeded"], true);
  EXPECT_EQ(r["log_patterns_failure"], "log pattern panic: 2 > max 0");
  EXPECT_EQ(r["log_patterns"]["panic"]["by_node"]["n2"], 2);
  const JUnitCase c = Case(FitJUnitSuite(r, "out"), "log-patterns");
  EXPECT_EQ(c.outcome, JUnitOutcome::kFailure);
  EXPECT_EQ(c.message, "log pattern panic: 2 > max 0");
  EXPECT_NE(c.detail.find("failed to open database"), std::string::npos) << c.detail;
}

TEST(FitCi, NoNodeLogsIsANoteNotZeros) {
  json r = Results("held", 0);
  NoNodeLogs(r, "--target: no node logs of ours to scan");
  EXPECT_FALSE(r.contains("log_patterns"));
  EXPECT_EQ(r["log_patterns_note"], "--target: no node logs of ours to scan");
  EXPECT_EQ(r["exit_code"], 0);
  const JUnitCase c = Case(FitJUnitSuite(r, "out"), "log-patterns");
  EXPECT_EQ(c.outcome, JUnitOutcome::kSkipped);
  EXPECT_EQ(c.message, "--target: no node logs of ours to scan");
}

TEST(FitCi, UnreadLogsAreSkippedNotPassed) {
  checker::LogPatternScanner s(checker::BuiltinLogPatterns());
  s.AddNode("n1");
  s.Unread("n1", "no such file");
  json r = Results("held", 0);
  EXPECT_EQ(ApplyLogPatterns(r, s.Report()), 0);
  ASSERT_TRUE(r.contains("log_patterns_unread"));
  EXPECT_EQ(Case(FitJUnitSuite(r, "out"), "log-patterns").outcome, JUnitOutcome::kSkipped);
}

TEST(FitCi, OneCasePerKpiTestPlusAbortAndLogs) {
  json r = Results("refuted", 1);
  NoNodeLogs(r, "ssh cluster: node logs are not fetched");
  const JUnitSuite s = FitJUnitSuite(r, "run/fit02");
  EXPECT_EQ(s.name, "faultline fit FIT02 seed 1");
  EXPECT_DOUBLE_EQ(s.time_s, 8.0);
  ASSERT_EQ(s.cases.size(), 4u);
  EXPECT_EQ(s.cases[0].name, "success_rate");
  EXPECT_EQ(s.cases[0].classname, "faultline.fit.FIT02");
  EXPECT_EQ(s.cases[0].outcome, JUnitOutcome::kFailure);
  EXPECT_EQ(s.cases[0].type, "refuted");
  EXPECT_NE(s.cases[0].message.find("-19.2"), std::string::npos) << s.cases[0].message;
  EXPECT_EQ(s.cases[1].name, "p99_ms");
  EXPECT_EQ(s.cases[1].outcome, JUnitOutcome::kSkipped);
  EXPECT_NE(s.cases[1].message.find("about 1200 more requests"), std::string::npos)
      << s.cases[1].message;
  EXPECT_EQ(s.cases[2].name, "abort");
  EXPECT_EQ(s.cases[2].outcome, JUnitOutcome::kPassed);
  bool rerun = false;
  for (const auto& [k, v] : s.properties) {
    if (k == "rerun") {
      rerun = true;
      EXPECT_EQ(v, "faultline fit run scenarios/FIT02-read-errors.json --out run/fit02");
    }
  }
  EXPECT_TRUE(rerun);

  r["abort"] = {{"kpi", "success_rate"}, {"tripped_at_ms", 3100}};
  r["reason"] = "aborted at 3100 ms: success_rate beyond its abort bound for 1000 ms";
  const JUnitCase abort = Case(FitJUnitSuite(r, "run/fit02"), "abort");
  EXPECT_EQ(abort.outcome, JUnitOutcome::kFailure);
  EXPECT_EQ(abort.type, "aborted");
  EXPECT_EQ(abort.message, r["reason"]);
}

TEST(FitCi, AnErrorIsOneErrorCase) {
  const JUnitSuite s = FitErrorJUnitSuite("FIT01", "fit: cluster up: no etcd");
  ASSERT_EQ(s.cases.size(), 1u);
  EXPECT_EQ(s.cases[0].outcome, JUnitOutcome::kError);
  EXPECT_EQ(s.cases[0].message, "fit: cluster up: no etcd");
}

}  // namespace
}  // namespace faultline::fit
