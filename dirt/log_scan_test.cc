// A drill's log patterns (dirt/internal/log_scan.h) and its JUnit test case: no root, no cluster.
#include "dirt/internal/log_scan.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/junit.h"

namespace faultline::dirt::internal {
namespace {

namespace fs = std::filesystem;

class DrillLogScanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("faultline-drill-logscan-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    state_.name = "t";
    for (const char* n : {"n1", "n2"}) {
      cluster::NodeState node;
      node.name = n;
      node.log_path = (dir_ / (std::string(n) + ".log")).string();
      std::ofstream(node.log_path) << "panic: an earlier drill's\n";
      state_.nodes.push_back(node);
    }
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Append(const std::string& node, const std::string& line) {
    std::ofstream(dir_ / (node + ".log"), std::ios::app) << line << "\n";
  }

  fs::path dir_;
  cluster::ClusterState state_;
};

TEST_F(DrillLogScanTest, PanicDuringTheDrillMakesAPassInvalid) {
  const std::vector<checker::NodeLog> logs = NodeLogsFromNow(state_);
  Append("n2", "panic: failed to open database");
  DrillResult r;
  r.scenario_id = "T1";
  r.title = "t";
  r.verdict = Verdict::kPass;
  r.reason = "recovered in 1.0 s";
  JudgeLogPatterns(logs, checker::BuiltinLogPatterns(), r);
  EXPECT_EQ(r.verdict, Verdict::kInvalid);
  EXPECT_EQ(r.reason, "log pattern panic: 1 > max 0");
  ASSERT_TRUE(r.log_patterns.has_value());
  EXPECT_EQ(r.log_patterns->patterns[0].by_node.at("n1"), 0);  // the earlier drill's is not counted
  EXPECT_EQ(r.log_patterns->patterns[0].by_node.at("n2"), 1);

  const JUnitCase c = DrillJUnitCase(r);
  EXPECT_EQ(c.outcome, JUnitOutcome::kFailure);
  EXPECT_EQ(c.type, "invalid");
  EXPECT_EQ(c.message, "INVALID: log pattern panic: 1 > max 0");
  EXPECT_NE(c.detail.find("to improve: log pattern panic"), std::string::npos) << c.detail;
}

TEST_F(DrillLogScanTest, AllowedPanicsAndOtherVerdicts) {
  const std::vector<checker::NodeLog> logs = NodeLogsFromNow(state_);
  Append("n2", "panic: failed to open database");
  const std::vector<std::string> none;
  const std::vector<std::string> allow = {"panic=4"};
  Result<std::vector<checker::LogPattern>> patterns = checker::MakeLogPatterns(none, allow);
  ASSERT_TRUE(patterns);
  DrillResult pass;
  pass.verdict = Verdict::kPass;
  JudgeLogPatterns(logs, *patterns, pass);
  EXPECT_EQ(pass.verdict, Verdict::kPass);
  EXPECT_EQ(DrillJUnitCase(pass).outcome, JUnitOutcome::kPassed);

  DrillResult fail;
  fail.verdict = Verdict::kFail;
  fail.reason = "never recovered";
  JudgeLogPatterns(logs, checker::BuiltinLogPatterns(), fail);
  EXPECT_EQ(fail.verdict, Verdict::kFail);  // keeps its own verdict, adds the pattern
  EXPECT_EQ(fail.reason, "never recovered; log pattern panic: 1 > max 0");
  EXPECT_EQ(DrillJUnitCase(fail).type, "fail");

  DrillResult aborted;
  aborted.verdict = Verdict::kAborted;
  aborted.reason = "pre-check: steady state did not hold";
  const JUnitCase skipped = DrillJUnitCase(aborted);
  EXPECT_EQ(skipped.outcome, JUnitOutcome::kSkipped);
  EXPECT_EQ(skipped.message, "ABORTED: pre-check: steady state did not hold");
  DrillResult error;
  error.verdict = Verdict::kError;
  EXPECT_EQ(DrillJUnitCase(error).outcome, JUnitOutcome::kError);
}

TEST_F(DrillLogScanTest, UnreadableLogIsANote) {
  state_.nodes[1].log_path = (dir_ / "gone.log").string();
  DrillResult r;
  r.verdict = Verdict::kPass;
  JudgeLogPatterns(NodeLogsFromNow(state_), checker::BuiltinLogPatterns(), r);
  EXPECT_EQ(r.verdict, Verdict::kPass);
  ASSERT_EQ(r.notes.size(), 1u);
  EXPECT_NE(r.notes[0].find("log not read on n2"), std::string::npos) << r.notes[0];
}

}  // namespace
}  // namespace faultline::dirt::internal
