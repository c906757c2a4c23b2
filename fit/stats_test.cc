// The statistics of a FIT verdict against values computed by hand (or by R / scipy).
#include "fit/internal/stats.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace faultline::fit::internal {
namespace {

TEST(FitStats, NormalCdfAndQuantile) {
  EXPECT_NEAR(NormalCdf(0), 0.5, 1e-12);
  EXPECT_NEAR(NormalCdf(1.959963984540054), 0.975, 1e-12);
  EXPECT_NEAR(NormalCdf(-1.6448536269514729), 0.05, 1e-12);
  EXPECT_NEAR(NormalQuantile(0.975), 1.959963984540054, 1e-9);
  EXPECT_NEAR(NormalQuantile(0.05), -1.6448536269514729, 1e-9);
  EXPECT_NEAR(NormalQuantile(1 - 0.05 / 3), 2.128045234184984, 1e-9);  // Bonferroni, 3 KPIs
  EXPECT_NEAR(NormalQuantile(1e-6), -4.753424308822899, 1e-8);
}

TEST(FitStats, QuantileIsRType7) {
  EXPECT_DOUBLE_EQ(Quantile({4, 1, 3, 2}, 0.5), 2.5);
  EXPECT_DOUBLE_EQ(Quantile({4, 1, 3, 2}, 0.99), 3.97);
  EXPECT_DOUBLE_EQ(Quantile({4, 1, 3, 2}, 0), 1);
  EXPECT_DOUBLE_EQ(Quantile({4, 1, 3, 2}, 1), 4);
  EXPECT_DOUBLE_EQ(Quantile({7}, 0.99), 7);
}

TEST(FitStats, HolmAdjustsStepDown) {
  // p sorted 0.01, 0.03, 0.04 -> 3*0.01, max(0.03, 2*0.03), max(0.06, 1*0.04).
  const std::vector<double> p = {0.01, 0.04, 0.03};
  const std::vector<double> adj = HolmAdjust(p);
  ASSERT_EQ(adj.size(), 3u);
  EXPECT_DOUBLE_EQ(adj[0], 0.03);
  EXPECT_DOUBLE_EQ(adj[1], 0.06);
  EXPECT_DOUBLE_EQ(adj[2], 0.06);
  EXPECT_DOUBLE_EQ(HolmAdjust(std::vector<double>{0.6, 0.9})[1], 1.0);  // capped at 1
}

TEST(FitStats, ProportionNonInferiorityKnownValue) {
  // 950/1000 vs 960/1000, margin 2 points: Agresti-Caffo rates 951/1002 and 961/1002,
  // z = (pe - pc + 0.02) / se = 1.07193 (computed by hand), p_within = 1 - Phi(z) = 0.14187.
  TestResult r = ProportionNonInferiority(950, 1000, 960, 1000, 2);
  EXPECT_NEAR(r.z, 1.0719343679150404, 1e-9);
  EXPECT_NEAR(r.p_within, 0.1418747561352185, 1e-9);
  EXPECT_NEAR(r.p_beyond, 0.8581252438647815, 1e-9);
  EXPECT_NEAR(r.estimate, -1.0, 1e-12);
}

TEST(FitStats, ProportionDecidesBothWays) {
  // Both at 100%: shown within a 1-point margin (finite standard error thanks to the adjustment).
  EXPECT_LT(ProportionNonInferiority(3000, 3000, 3000, 3000, 1).p_within, 1e-6);
  // 80% vs 100%: shown beyond a 1-point margin.
  TestResult r = ProportionNonInferiority(2400, 3000, 3000, 3000, 1);
  EXPECT_LT(r.p_beyond, 1e-6);
  EXPECT_GT(r.p_within, 0.99);
  // 99.5% vs 100% with 100 requests each: cannot tell.
  TestResult small = ProportionNonInferiority(99, 100, 100, 100, 1);
  EXPECT_GT(small.p_within, 0.05);
  EXPECT_GT(small.p_beyond, 0.05);
}

TEST(FitStats, BootstrapRatio) {
  std::mt19937_64 rng(7);
  std::exponential_distribution<double> latency(1.0);
  std::vector<double> control(3000);
  std::vector<double> same(3000);
  for (double& v : control) v = 1 + latency(rng);
  for (double& v : same) v = 1 + latency(rng);
  std::vector<double> tripled = same;
  for (double& v : tripled) v *= 3;
  TestResult within = BootstrapRatioNonInferiority(same, control, 0.99, 2, 1000, 1);
  EXPECT_NEAR(within.estimate, 1.0, 0.25);
  EXPECT_LT(within.p_within, 0.01);
  EXPECT_GT(within.z, 0);
  TestResult beyond = BootstrapRatioNonInferiority(tripled, control, 0.5, 2, 1000, 1);
  EXPECT_NEAR(beyond.estimate, 3.0, 0.3);
  EXPECT_LT(beyond.p_beyond, 0.01);
  EXPECT_LT(beyond.z, 0);
  // p-values never reach 0 (the +1 correction): the smallest is 1 / (samples + 1).
  EXPECT_DOUBLE_EQ(within.p_within >= 1.0 / 1001 ? 1 : 0, 1);
}

TEST(FitStats, RequestsNeededScalesWithTheSquareOfZ) {
  // Standard errors shrink as 1/sqrt(n): to go from z = 1 to z = 2 takes 4n, i.e. 3n more.
  EXPECT_EQ(RequestsNeeded(1.0, 2.0, 100), 300);
  EXPECT_EQ(RequestsNeeded(-0.5, 2.0, 1000), 15000);
  EXPECT_EQ(RequestsNeeded(3.0, 2.0, 1000), 0);
  EXPECT_FALSE(RequestsNeeded(0.0, 2.0, 1000).has_value());
}

}  // namespace
}  // namespace faultline::fit::internal
