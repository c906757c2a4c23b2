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

// A mangling is confirmed only by datagrams of its own kind; a probe that saw other damage but not
// its kind flags the fault; nothing delivered or a probe that could not run is inconclusive.
TEST(FaultProbeTest, ManglingNeedsItsOwnKindSeen) {
  ManglingSeen s{.from = "n1",
                 .to = "n2",
                 .counts = {{"probe_sent", 300},
                            {"probe_delivered", 312},
                            {"probe_duplicates_seen", 12},
                            {"probe_out_of_order_seen", 0},
                            {"probe_damaged_seen", 0}},
                 .error = ""};
  ProbeFinding dup = JudgeManglingProbe(ManglingProbeKind::kDuplicate, s);
  EXPECT_EQ(dup.confirmed, std::optional<bool>(true));
  EXPECT_EQ(dup.evidence,
            "datagram probe n1->n2: 300 sent, 312 delivered, 12 duplicates, 0 out of order, 0 "
            "damaged");
  EXPECT_EQ(dup.counts, s.counts);
  ProbeFinding reorder = JudgeManglingProbe(ManglingProbeKind::kReorder, s);
  EXPECT_EQ(reorder.confirmed, std::optional<bool>(false));
  EXPECT_NE(reorder.evidence.find("expected probe_out_of_order_seen > 0"), std::string::npos)
      << reorder.evidence;
  EXPECT_EQ(JudgeManglingProbe(ManglingProbeKind::kCorrupt, s).confirmed,
            std::optional<bool>(false));
  s.counts["probe_damaged_seen"] = 1;
  EXPECT_EQ(JudgeManglingProbe(ManglingProbeKind::kCorrupt, s).confirmed,
            std::optional<bool>(true));
  s.counts["probe_delivered"] = 0;
  EXPECT_EQ(JudgeManglingProbe(ManglingProbeKind::kCorrupt, s).confirmed, std::nullopt);
  const ManglingSeen broken{
      .from = "n1", .to = "n2", .counts = {}, .error = "receiver in n2: exit 1: bind: in use"};
  ProbeFinding b = JudgeManglingProbe(ManglingProbeKind::kDuplicate, broken);
  EXPECT_EQ(b.confirmed, std::nullopt);
  EXPECT_EQ(b.evidence, "datagram probe n1->n2: receiver in n2: exit 1: bind: in use");
  EXPECT_TRUE(b.counts.empty());
}

}  // namespace
}  // namespace faultline::checker
