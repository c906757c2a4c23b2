#include "dirt/recovery.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace faultline::dirt {
namespace {

using std::chrono::milliseconds;

constexpr std::int64_t kMs = 1000000;

// A timeline from a pattern: one character per 100 ms probe, 'S' steady, 'x' broken; the first
// probe is at t = 100 ms.
std::vector<ProbeSample> Timeline(const std::string& pattern) {
  std::vector<ProbeSample> out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    ProbeSample s;
    s.mono_ns = static_cast<std::int64_t>(i + 1) * 100 * kMs;
    s.steady = pattern[i] == 'S';
    s.why = s.steady ? "" : "n1 unhealthy";
    out.push_back(s);
  }
  return out;
}

TEST(RecoveryTest, NoFaultDrillReportsAboutZero) {
  // Fault "issued" at 250 ms; the steady state never breaks.
  auto r = ComputeRecovery(Timeline("SSSSSSSSSSSSSSSSSSSS"), 250 * kMs, milliseconds(1000),
                           milliseconds(5000));
  ASSERT_TRUE(r.recovery);
  EXPECT_LE(r.recovery->count(), 100);  // the first probe after the fault
  EXPECT_FALSE(r.detection);
  EXPECT_FALSE(r.broke);
  EXPECT_EQ(r.verdict, Verdict::kPass);
}

TEST(RecoveryTest, DetectionRepairAndRecoveryAreSeparate) {
  // Fault at 300 ms (probe 3 is the last steady one before it).
  //            probes: 1234567890123456789012345
  auto tl = Timeline("SSSxxxxxSSSSSSSSSSSSSSSSS");
  auto r = ComputeRecovery(tl, 300 * kMs, milliseconds(1000), milliseconds(5000), 700 * kMs);
  ASSERT_TRUE(r.detection);
  EXPECT_EQ(r.detection->count(), 100);  // probe 4 at 400 ms
  ASSERT_TRUE(r.repair);
  EXPECT_EQ(r.repair->count(), 400);
  ASSERT_TRUE(r.recovery);
  EXPECT_EQ(r.recovery->count(), 600);  // steady from probe 9 (900 ms), held 1 s
  ASSERT_TRUE(r.margin);
  EXPECT_EQ(r.margin->count(), 4400);
  EXPECT_EQ(r.verdict, Verdict::kPass);
  EXPECT_EQ(r.breaks, 1);
}

TEST(RecoveryTest, ABreakInsideTheSettleWindowRestartsIt) {
  //                        fault at 300: broken 4-6, steady 7-9, broken 10, steady 11-30
  auto tl = Timeline("SSSxxxSSSxSSSSSSSSSSSSSSSSSSSS");
  auto r = ComputeRecovery(tl, 300 * kMs, milliseconds(1000), milliseconds(5000));
  ASSERT_TRUE(r.recovery);
  EXPECT_EQ(r.recovery->count(), 800);  // from probe 11 (1100 ms), not probe 7
  EXPECT_EQ(r.breaks, 2);
}

TEST(RecoveryTest, OverTheLimitFailsWithNegativeMargin) {
  auto tl = Timeline("SSSxxxxxSSSSSSSSSSSSSSSSS");
  auto r = ComputeRecovery(tl, 300 * kMs, milliseconds(1000), milliseconds(1));
  ASSERT_TRUE(r.recovery);
  EXPECT_EQ(r.verdict, Verdict::kFail);
  ASSERT_TRUE(r.margin);
  EXPECT_EQ(r.margin->count(), 1 - 600);
}

TEST(RecoveryTest, SettleWindowNotCompletedIsNoRecovery) {
  auto tl = Timeline("SSSxxxxxxxxxxxxSSSS");  // only 400 ms steady at the end
  auto r = ComputeRecovery(tl, 300 * kMs, milliseconds(1000), milliseconds(60000));
  EXPECT_FALSE(r.recovery);
  EXPECT_EQ(r.verdict, Verdict::kFail);
  EXPECT_NE(r.explanation.find("did not recover"), std::string::npos);
}

TEST(RecoveryTest, ExitCodes) {
  EXPECT_EQ(VerdictExitCode({Verdict::kPass, Verdict::kPass}), 0);
  EXPECT_EQ(VerdictExitCode({Verdict::kPass, Verdict::kFail}), 1);
  EXPECT_EQ(VerdictExitCode({Verdict::kAborted, Verdict::kPass}), 2);
  EXPECT_EQ(VerdictExitCode({Verdict::kInvalid, Verdict::kFail}), 1);
  EXPECT_EQ(VerdictExitCode({Verdict::kFail, Verdict::kError}), 3);
  EXPECT_EQ(VerdictExitCode({}), 0);
}

}  // namespace
}  // namespace faultline::dirt
