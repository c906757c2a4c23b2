#include "fit/internal/stats.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <numeric>
#include <random>

namespace faultline::fit::internal {

double NormalCdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

double NormalQuantile(double p) {
  assert(p > 0 && p < 1);
  // Acklam's coefficients.
  static constexpr double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                                 -2.759285104469687e+02, 1.383577518672690e+02,
                                 -3.066479806614716e+01, 2.506628277459239e+00};
  static constexpr double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                                 -1.556989798598866e+02, 6.680131188771972e+01,
                                 -1.328068155288572e+01};
  static constexpr double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                                 -2.400758277161838e+00, -2.549732539343734e+00,
                                 4.374664141464968e+00,  2.938163982698783e+00};
  static constexpr double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                                 2.445134137142996e+00, 3.754408661907416e+00};
  constexpr double kLow = 0.02425;
  double x;
  if (p < kLow) {
    double q = std::sqrt(-2 * std::log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else if (p > 1 - kLow) {
    double q = std::sqrt(-2 * std::log(1 - p));
    x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else {
    double q = p - 0.5;
    double r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  }
  // One Newton step on NormalCdf(x) - p.
  double e = NormalCdf(x) - p;
  double u = e * std::sqrt(2 * M_PI) * std::exp(x * x / 2);
  return x - u / (1 + x * u / 2);
}

double Quantile(std::vector<double> values, double q) {
  assert(!values.empty());
  const double h = (static_cast<double>(values.size()) - 1) * q;
  const auto lo = static_cast<size_t>(std::floor(h));
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(lo), values.end());
  const double v_lo = values[lo];
  if (lo + 1 >= values.size()) return v_lo;
  const double v_hi =
      *std::min_element(values.begin() + static_cast<std::ptrdiff_t>(lo) + 1, values.end());
  return v_lo + (h - static_cast<double>(lo)) * (v_hi - v_lo);
}

TestResult ProportionNonInferiority(std::int64_t successes_e, std::int64_t n_e,
                                    std::int64_t successes_c, std::int64_t n_c,
                                    double margin_points) {
  const double pe = (static_cast<double>(successes_e) + 1) / (static_cast<double>(n_e) + 2);
  const double pc = (static_cast<double>(successes_c) + 1) / (static_cast<double>(n_c) + 2);
  const double se = std::sqrt(pe * (1 - pe) / (static_cast<double>(n_e) + 2) +
                              pc * (1 - pc) / (static_cast<double>(n_c) + 2));
  const double raw_e = n_e > 0 ? static_cast<double>(successes_e) / static_cast<double>(n_e) : 0;
  const double raw_c = n_c > 0 ? static_cast<double>(successes_c) / static_cast<double>(n_c) : 0;
  TestResult r;
  r.estimate = (raw_e - raw_c) * 100;
  r.z = (pe - pc + margin_points / 100) / se;
  r.p_within = 1 - NormalCdf(r.z);
  r.p_beyond = NormalCdf(r.z);
  return r;
}

TestResult BootstrapRatioNonInferiority(std::span<const double> experiment,
                                        std::span<const double> control, double q, double max_ratio,
                                        int samples, std::uint64_t seed) {
  assert(!experiment.empty() && !control.empty() && samples > 0);
  std::mt19937_64 rng(seed);
  std::vector<double> e_buf(experiment.size());
  std::vector<double> c_buf(control.size());
  auto resample = [&](std::span<const double> from, std::vector<double>& into) {
    std::uniform_int_distribution<size_t> pick(0, from.size() - 1);
    for (double& v : into) v = from[pick(rng)];
    return Quantile(into, q);
  };
  const double observed = Quantile({experiment.begin(), experiment.end()}, q) /
                          std::max(Quantile({control.begin(), control.end()}, q), 1e-9);
  int at_or_above = 0;
  int at_or_below = 0;
  double sum = 0;
  double sum_sq = 0;
  for (int b = 0; b < samples; ++b) {
    const double ratio = resample(experiment, e_buf) / std::max(resample(control, c_buf), 1e-9);
    if (ratio >= max_ratio) ++at_or_above;
    if (ratio <= max_ratio) ++at_or_below;
    const double l = std::log(std::max(ratio, 1e-12));
    sum += l;
    sum_sq += l * l;
  }
  TestResult r;
  r.estimate = observed;
  r.p_within = (at_or_above + 1.0) / (samples + 1.0);
  r.p_beyond = (at_or_below + 1.0) / (samples + 1.0);
  const double mean = sum / samples;
  const double sd = std::sqrt(std::max(sum_sq / samples - mean * mean, 0.0));
  const double distance = std::log(max_ratio) - std::log(std::max(observed, 1e-12));
  r.z = sd > 0 ? distance / sd : (distance > 0 ? 1e9 : (distance < 0 ? -1e9 : 0));
  return r;
}

std::vector<double> HolmAdjust(std::span<const double> p) {
  const size_t m = p.size();
  std::vector<size_t> order(m);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return p[a] < p[b]; });
  std::vector<double> adjusted(m);
  double running = 0;
  for (size_t i = 0; i < m; ++i) {
    running = std::max(running, std::min(1.0, static_cast<double>(m - i) * p[order[i]]));
    adjusted[order[i]] = running;
  }
  return adjusted;
}

std::optional<std::int64_t> RequestsNeeded(double z, double z_needed, std::int64_t n) {
  if (std::abs(z) < 1e-6) return std::nullopt;
  const double factor = (z_needed / z) * (z_needed / z);
  const double more = std::ceil(static_cast<double>(n) * (factor - 1));
  if (more > 1e15) return std::nullopt;
  return std::max<std::int64_t>(0, static_cast<std::int64_t>(more));
}

}  // namespace faultline::fit::internal
