// The statistics of a FIT verdict: one-sided non-inferiority tests of the experiment against the
// control, and Holm's step-down correction across KPIs. Not part of the public API.
//
// Each test answers two one-sided questions about a KPI's margin, each with a p-value:
//   p_within: H0 "the experiment is beyond the margin"; a small p shows it within (held);
//   p_beyond: H0 "the experiment is within the margin"; a small p shows it beyond (refuted).
//
// Thread-safety: pure functions.
#ifndef FAULTLINE_FIT_INTERNAL_STATS_H_
#define FAULTLINE_FIT_INTERNAL_STATS_H_

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace faultline::fit::internal {

double NormalCdf(double z);
// The z with NormalCdf(z) == p, for p in (0, 1) (Acklam's rational approximation refined by one
// Newton step: |error| < 1e-12).
double NormalQuantile(double p);

// The q-quantile (0..1) by linear interpolation between order statistics (R's type 7).
// REQUIRES: !values.empty().
double Quantile(std::vector<double> values, double q);

struct TestResult {
  double estimate = 0;  // success_rate: experiment - control (points); latency: the ratio
  double p_within = 1;
  double p_beyond = 1;
  // Distance from the margin in standard errors (positive: within); for "more requests needed".
  double z = 0;
};

// Success rates: experiment and control successes out of requests; margin in points (1 = 1
// percentage point). A two-proportion z test on the difference with Agresti and Caffo's adjustment
// (one success and one failure added to each group), so that rates of 100% or 0% still give a
// finite standard error.
TestResult ProportionNonInferiority(std::int64_t successes_e, std::int64_t n_e,
                                    std::int64_t successes_c, std::int64_t n_c,
                                    double margin_points);

// A latency quantile's ratio experiment / control against max_ratio: percentile bootstrap
// (`samples` resamples of each group, seeded), p-values the shares of resampled ratios on the
// wrong side of the margin (with the +1 correction, so never 0).
// REQUIRES: both spans non-empty, samples > 0.
TestResult BootstrapRatioNonInferiority(std::span<const double> experiment,
                                        std::span<const double> control, double q, double max_ratio,
                                        int samples, std::uint64_t seed);

// Holm's step-down adjusted p-values (same order as given): reject k at level alpha iff
// adjusted[k] <= alpha.
std::vector<double> HolmAdjust(std::span<const double> p);

// How many requests in all (both groups) a test with distance z (in standard errors) from its
// margin would need to reach z_needed, given n requests now; nullopt when z is ~0 (the estimate
// sits on the margin: no sample size decides it).
std::optional<std::int64_t> RequestsNeeded(double z, double z_needed, std::int64_t n);

}  // namespace faultline::fit::internal

#endif  // FAULTLINE_FIT_INTERNAL_STATS_H_
