// CheckHistory as the runner composes it: both verdicts of a register history with revisions
// (the search and the revision-order checker), and the loud note when they disagree.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "checker/testing/revision_sim.h"
#include "runner/campaign.h"

namespace faultline::runner {
namespace {

using checker::Validity;
using history::History;
namespace testing = checker::testing;

const CheckerVerdict* Find(const RunVerdict& run, std::string_view name) {
  for (const CheckerVerdict& c : run.checkers) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

// CheckHistory reports both verdicts for a register history with revisions, and says so loudly
// when they disagree.
TEST(RevisionCheckerCampaignTest, CheckHistoryReportsBothVerdicts) {
  CampaignConfig config;
  config.workload = Workload::kRegister;
  Result<History> honest = testing::Simulate(testing::SimOptions{.seed = 5, .ops = 60, .keys = 3});
  ASSERT_TRUE(honest) << honest.error().message();
  Result<RunVerdict> run = CheckHistory(*honest, config);
  ASSERT_TRUE(run) << run.error().message();
  const CheckerVerdict* lin = Find(*run, "linearizable");
  const CheckerVerdict* rev = Find(*run, "revision-order");
  ASSERT_NE(lin, nullptr);
  ASSERT_NE(rev, nullptr);
  EXPECT_EQ(lin->validity, Validity::kValid) << lin->detail;
  EXPECT_EQ(rev->validity, Validity::kValid) << rev->detail;
  EXPECT_EQ(rev->summary.rfind("valid (", 0), 0u) << rev->summary;
  EXPECT_EQ(rev->detail.find("checkers disagree"), std::string::npos);

  // A stale read whose value some other order explains: the search says valid, revisions do not.
  bool found = false;
  for (uint64_t seed = 1; seed < 200 && !found; ++seed) {
    Result<History> h = testing::Simulate(testing::SimOptions{
        .seed = seed, .info_writes = false, .mutation = testing::Mutation::kStaleRead, .keys = 2});
    ASSERT_TRUE(h) << h.error().message();
    Result<RunVerdict> r = CheckHistory(*h, config);
    ASSERT_TRUE(r) << r.error().message();
    lin = Find(*r, "linearizable");
    rev = Find(*r, "revision-order");
    ASSERT_NE(lin, nullptr);
    ASSERT_NE(rev, nullptr);
    if (lin->validity != Validity::kValid || rev->validity != Validity::kInvalid) continue;
    found = true;
    EXPECT_NE(rev->detail.find("!!! checkers disagree"), std::string::npos) << rev->detail;
    EXPECT_NE(lin->detail.find("!!! checkers disagree"), std::string::npos) << lin->detail;
    EXPECT_NE(rev->json.find("\"checkers_disagree\":true"), std::string::npos) << rev->json;
    EXPECT_EQ(r->validity, Validity::kInvalid);
  }
  EXPECT_TRUE(found) << "no seed gave a stale read only revisions reveal";

  // Histories without revisions (not from etcd) get no revision-order verdict.
  Result<History> h = History::Build({});
  ASSERT_TRUE(h);
  Result<RunVerdict> none = CheckHistory(*h, config);
  ASSERT_TRUE(none) << none.error().message();
  EXPECT_EQ(Find(*none, "revision-order"), nullptr);
}

}  // namespace
}  // namespace faultline::runner
