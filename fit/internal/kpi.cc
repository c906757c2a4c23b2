#include "fit/internal/kpi.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "fit/internal/stats.h"

namespace faultline::fit::internal {
namespace {

double Round(double v, double scale) { return std::round(v * scale) / scale; }

std::string Percent(double rate) { return fmt::format("{:.2f}%", rate * 100); }

}  // namespace

Kpis GroupKpis(std::span<const Sample> samples, int group, double seconds) {
  Kpis k;
  for (const Sample& s : samples) {
    if (s.group != group) continue;
    ++k.requests;
    if (s.ok) ++k.successes;
    if (s.timed_out) ++k.timeouts;
    k.latencies_ms.push_back(static_cast<double>(s.done_ns - s.scheduled_ns) / 1e6);
  }
  if (k.requests > 0) {
    k.success_rate = static_cast<double>(k.successes) / static_cast<double>(k.requests);
    k.p50_ms = Quantile(k.latencies_ms, 0.5);
    k.p99_ms = Quantile(k.latencies_ms, 0.99);
  }
  if (seconds > 0) k.rps = static_cast<double>(k.successes) / seconds;
  return k;
}

nlohmann::json KpisJson(const Kpis& k) {
  return {{"success_rate", Round(k.success_rate, 1e6)},
          {"p50_ms", Round(k.p50_ms, 1e3)},
          {"p99_ms", Round(k.p99_ms, 1e3)},
          {"rps", Round(k.rps, 1e2)},
          {"requests", k.requests},
          {"successes", k.successes},
          {"timeouts", k.timeouts}};
}

double KpiValue(const Kpis& k, Kpi kpi) {
  switch (kpi) {
    case Kpi::kSuccessRate:
      return k.success_rate;
    case Kpi::kP50:
      return k.p50_ms;
    case Kpi::kP99:
      return k.p99_ms;
    case Kpi::kRps:
      return k.rps;
  }
  return 0;
}

std::optional<bool> Beyond(const Kpis& experiment, const Kpis& control, const Margin& margin) {
  if (experiment.requests == 0 || control.requests == 0) return std::nullopt;
  if (margin.kpi == Kpi::kSuccessRate) {
    return (control.success_rate - experiment.success_rate) * 100 > margin.limit;
  }
  const double c = KpiValue(control, margin.kpi);
  return KpiValue(experiment, margin.kpi) > margin.limit * std::max(c, 1e-9);
}

std::vector<nlohmann::json> Timeline(std::span<const Sample> samples) {
  std::map<std::int64_t, std::vector<Sample>> by_second;
  for (const Sample& s : samples) by_second[s.scheduled_ns / 1000000000].push_back(s);
  std::vector<nlohmann::json> out;
  for (const auto& [second, group_samples] : by_second) {
    for (int g = 0; g < 2; ++g) {
      Kpis k = GroupKpis(group_samples, g, 1.0);
      if (k.requests == 0) continue;
      nlohmann::json line = {{"second", second}, {"group", g == 0 ? "control" : "experiment"}};
      line.update(KpisJson(k));
      out.push_back(std::move(line));
    }
  }
  return out;
}

Verdict Judge(const Scenario& scenario, const Kpis& experiment, const Kpis& control) {
  Verdict v;
  v.tests = nlohmann::json::array();
  if (experiment.requests == 0 || control.requests == 0) {
    v.hypothesis = "inconclusive";
    v.reason = "no requests were measured in a group";
    return v;
  }
  std::vector<TestResult> results;
  for (size_t i = 0; i < scenario.margins.size(); ++i) {
    const Margin& m = scenario.margins[i];
    if (m.kpi == Kpi::kSuccessRate) {
      results.push_back(ProportionNonInferiority(experiment.successes, experiment.requests,
                                                 control.successes, control.requests, m.limit));
    } else {
      const double q = m.kpi == Kpi::kP50 ? 0.5 : 0.99;
      results.push_back(BootstrapRatioNonInferiority(experiment.latencies_ms, control.latencies_ms,
                                                     q, m.limit, scenario.bootstrap_samples,
                                                     scenario.seed + i));
    }
  }
  std::vector<double> within;
  std::vector<double> beyond;
  for (const TestResult& r : results) {
    within.push_back(r.p_within);
    beyond.push_back(r.p_beyond);
  }
  const std::vector<double> within_adj = HolmAdjust(within);
  const std::vector<double> beyond_adj = HolmAdjust(beyond);
  const double alpha = scenario.alpha;
  // Bonferroni's threshold (Holm's strictest step) for "how many more requests".
  const double z_needed = NormalQuantile(1 - alpha / static_cast<double>(scenario.margins.size()));
  const std::int64_t n = experiment.requests + control.requests;
  bool all_within = true;
  std::vector<std::string> refuted_by;
  std::optional<std::int64_t> need_within = 0;
  std::optional<std::int64_t> need_beyond;
  bool leans_beyond = false;
  for (size_t i = 0; i < results.size(); ++i) {
    const Margin& m = scenario.margins[i];
    const TestResult& r = results[i];
    std::string decision = "undecided";
    if (within_adj[i] <= alpha) {
      decision = "within";
    } else if (beyond_adj[i] <= alpha) {
      decision = "beyond";
    }
    if (decision != "within") all_within = false;
    if (decision == "beyond") refuted_by.push_back(std::string(KpiName(m.kpi)));
    nlohmann::json t = {
        {"kpi", std::string(KpiName(m.kpi))},
        {"margin", m.kpi == Kpi::kSuccessRate ? nlohmann::json{{"max_drop_points", m.limit}}
                                              : nlohmann::json{{"max_ratio", m.limit}}},
        {"method", m.kpi == Kpi::kSuccessRate
                       ? "two-proportion z test (Agresti-Caffo), one-sided non-inferiority"
                       : "percentile bootstrap of the quantile ratio, one-sided"},
        {m.kpi == Kpi::kSuccessRate ? "difference_points" : "ratio", Round(r.estimate, 1e4)},
        {"p_within", r.p_within},
        {"p_beyond", r.p_beyond},
        {"p_within_holm", within_adj[i]},
        {"p_beyond_holm", beyond_adj[i]},
        {"decision", decision}};
    if (decision == "undecided") {
      auto more = RequestsNeeded(r.z, z_needed, n);
      t["more_requests_needed"] = more ? nlohmann::json(*more) : nlohmann::json(nullptr);
      if (r.z < 0) {
        leans_beyond = true;
        if (more && (!need_beyond || *more < *need_beyond)) need_beyond = more;
      } else if (!more) {
        need_within = std::nullopt;
      } else if (need_within) {
        need_within = std::max(*need_within, *more);
      }
    }
    v.tests.push_back(std::move(t));
  }
  if (!refuted_by.empty()) {
    v.hypothesis = "refuted";
    std::string kpis;
    for (const std::string& k : refuted_by) kpis.append(kpis.empty() ? "" : ", ").append(k);
    v.reason = fmt::format(
        "{} shown beyond the margin at alpha {} (Holm): experiment {} vs control {}, p99 {:.2f} "
        "vs {:.2f} ms",
        kpis, alpha, Percent(experiment.success_rate), Percent(control.success_rate),
        experiment.p99_ms, control.p99_ms);
  } else if (all_within) {
    v.hypothesis = "held";
    v.reason = fmt::format(
        "every KPI shown within its margin at alpha {} (Holm): experiment {} vs control {}, p99 "
        "{:.2f} vs {:.2f} ms",
        alpha, Percent(experiment.success_rate), Percent(control.success_rate), experiment.p99_ms,
        control.p99_ms);
  } else {
    v.hypothesis = "inconclusive";
    v.more_requests_needed = leans_beyond ? need_beyond : need_within;
    v.reason = v.more_requests_needed
                   ? fmt::format(
                         "the data cannot tell at alpha {}: about {} more requests (both "
                         "groups) would be needed",
                         alpha, *v.more_requests_needed)
                   : fmt::format(
                         "the data cannot tell at alpha {}: the estimate sits on the "
                         "margin, so no number of requests is sure to decide",
                         alpha);
  }
  return v;
}

}  // namespace faultline::fit::internal
