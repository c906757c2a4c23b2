// The drill's verdict from what it measured and did (dirt/internal/verdict.h): one table of cases.
#include "dirt/internal/verdict.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace faultline::dirt::internal {
namespace {

using std::chrono::milliseconds;

// Steady for the whole timeline: recovered right after the fault, far inside the limit.
std::vector<ProbeSample> Steady() {
  std::vector<ProbeSample> out;
  for (int i = 1; i <= 30; ++i) {
    ProbeSample s;
    s.mono_ns = static_cast<std::int64_t>(i) * 100'000'000;
    s.steady = true;
    out.push_back(s);
  }
  return out;
}

struct Case {
  std::string name;
  bool aborted = false;
  bool step_failed = false;
  bool siege_valid = true;
  bool serves_after = true;
  std::vector<std::string> expected_safeguards;
  Verdict want = Verdict::kPass;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class VerdictTest : public ::testing::TestWithParam<Case> {};

TEST_P(VerdictTest, JudgesAsBefore) {
  const Case& c = GetParam();
  Scenario s;
  s.settle_window = milliseconds(500);
  s.expected_safeguards = c.expected_safeguards;
  JudgeInput in;
  in.samples = Steady();
  in.fault = MonoOf(150'000'000);
  in.limit = milliseconds(10000);
  in.aborted = c.aborted;
  in.step_failed = c.step_failed;
  DrillResult res;
  res.siege_valid = c.siege_valid;
  res.serves_after = c.serves_after;
  res.reason = c.aborted ? "blast radius crossed" : "";
  Judge(s, in, res);
  EXPECT_EQ(res.verdict, c.want) << res.reason;
  EXPECT_FALSE(res.reason.empty());
  EXPECT_EQ(res.safeguards_missing, c.expected_safeguards);
}

// name, aborted, step failed, siege valid, serves after, expected safeguards, verdict.
Case Make(std::string name, bool aborted, bool step_failed, bool siege_valid, bool serves_after,
          std::vector<std::string> expected, Verdict want) {
  Case c;
  c.name = std::move(name);
  c.aborted = aborted;
  c.step_failed = step_failed;
  c.siege_valid = siege_valid;
  c.serves_after = serves_after;
  c.expected_safeguards = std::move(expected);
  c.want = want;
  return c;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, VerdictTest,
    ::testing::Values(Make("Recovered", false, false, true, true, {}, Verdict::kPass),
                      Make("Aborted", true, false, true, true, {}, Verdict::kAborted),
                      Make("StepFailed", false, true, true, true, {}, Verdict::kInvalid),
                      Make("SiegeMissed", false, false, false, true, {}, Verdict::kInvalid),
                      Make("NoServeAfter", false, false, true, false, {}, Verdict::kFail),
                      Make("SafeguardMissing", false, false, true, true, {"restart"},
                           Verdict::kFail)),
    [](const ::testing::TestParamInfo<Case>& p) { return p.param.name; });

}  // namespace
}  // namespace faultline::dirt::internal
