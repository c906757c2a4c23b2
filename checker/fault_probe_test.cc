// The judgement of fault probes, from what a probe saw (no root, no network).
#include "checker/fault_probe.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace faultline::checker {
namespace {

ConnectSeen Seen(std::string seen) {
  return ConnectSeen{.from = "n1", .to = "n2", .seen = std::move(seen)};
}

TEST(FaultProbeTest, PartitionConfirmedWhenTheCutPairIsSilentAndTheKeptPairAnswers) {
  ProbeFinding f = JudgePartitionProbe(
      Seen("timeout"), ConnectSeen{.from = "n3", .to = "n4", .seen = "connected"}, 2380);
  EXPECT_EQ(f.confirmed, std::optional<bool>(true));
  EXPECT_EQ(f.evidence, "connect n1->n2:2380 timeout; control n3->n4 connected");
  EXPECT_EQ(
      JudgePartitionProbe(Seen("error: exit 1 (No route to host)"), std::nullopt, 2380).confirmed,
      std::optional<bool>(true));
}

TEST(FaultProbeTest, PartitionNotConfirmedWhenTheCutPairAnswers) {
  ProbeFinding f = JudgePartitionProbe(Seen("connected"), std::nullopt, 2380);
  EXPECT_EQ(f.confirmed, std::optional<bool>(false));
  EXPECT_NE(f.evidence.find("(expected no answer)"), std::string::npos);
  EXPECT_EQ(JudgePartitionProbe(Seen("refused"), std::nullopt, 2380).confirmed,
            std::optional<bool>(false));
}

TEST(FaultProbeTest, PartitionInconclusiveWhenTheProbeOrTheControlFails) {
  EXPECT_EQ(
      JudgePartitionProbe(Seen("error: no address known for n2"), std::nullopt, 2380).confirmed,
      std::nullopt);
  ProbeFinding f = JudgePartitionProbe(
      Seen("timeout"), ConnectSeen{.from = "n3", .to = "n4", .seen = "timeout"}, 2380);
  EXPECT_EQ(f.confirmed, std::nullopt);
  EXPECT_NE(f.evidence.find("inconclusive"), std::string::npos);
}

TEST(FaultProbeTest, LossConfirmedBySomeLostConnectsInconclusiveWhenAllAreLost) {
  LossProbeSeen s{
      .from = "n1", .to = "n2", .port = 2380, .tries = 30, .lost = 9, .probability = 0.3};
  EXPECT_EQ(JudgeLossProbe(s).confirmed, std::optional<bool>(true));
  EXPECT_EQ(JudgeLossProbe(s).evidence, "9 of 30 connects n1->n2:2380 lost (expected about 9)");
  s.lost = 0;
  EXPECT_EQ(JudgeLossProbe(s).confirmed, std::optional<bool>(false));
  s.lost = 30;
  EXPECT_EQ(JudgeLossProbe(s).confirmed, std::nullopt);
}

TEST(FaultProbeTest, ProcessesNeedEveryTargetAffected) {
  const ProcessSeen dead{.node = "n1",
                         .found = true,
                         .alive = false,
                         .paused = false,
                         .state = "exited (signal 9)",
                         .pid = 0};
  const ProcessSeen paused{
      .node = "n2", .found = true, .alive = true, .paused = true, .state = "paused", .pid = 42};
  const ProcessSeen missing{
      .node = "n9", .found = false, .alive = false, .paused = false, .state = "", .pid = 0};
  EXPECT_EQ(JudgeProcessProbe(true, {dead}).confirmed, std::optional<bool>(true));
  EXPECT_EQ(JudgeProcessProbe(true, {dead, paused}).confirmed, std::optional<bool>(false));
  ProbeFinding f = JudgeProcessProbe(false, {paused});
  EXPECT_EQ(f.confirmed, std::optional<bool>(true));
  EXPECT_EQ(f.evidence, "process table: n2 paused (pid 42)");
  ProbeFinding m = JudgeProcessProbe(false, {paused, missing});
  EXPECT_EQ(m.confirmed, std::optional<bool>(false));
  EXPECT_EQ(m.evidence, "process table: n2 paused (pid 42), n9 unknown");
}

}  // namespace
}  // namespace faultline::checker
