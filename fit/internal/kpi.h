// KPIs of a FIT run and the verdict on its hypothesis. Not part of the public API.
//
// KPIs per group: success_rate (requests answered 2xx over requests sent; a timeout is a
// failure), p50_ms and p99_ms (from each request's scheduled time to its reply, or to when it
// failed: a timeout counts its whole timeout), rps (2xx replies per second of load).
//
// Thread-safety: pure functions.
#ifndef FAULTLINE_FIT_INTERNAL_KPI_H_
#define FAULTLINE_FIT_INTERNAL_KPI_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "fit/fit.h"
#include "fit/internal/load.h"

namespace faultline::fit::internal {

struct Kpis {
  std::int64_t requests = 0;
  std::int64_t successes = 0;
  std::int64_t timeouts = 0;
  double success_rate = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  double rps = 0;
  std::vector<double> latencies_ms;  // every request's, for the bootstrap
};

// The group's KPIs over `samples` (those of the other group are skipped); `seconds` is the time
// the rate is taken over.
Kpis GroupKpis(std::span<const Sample> samples, int group, double seconds);
nlohmann::json KpisJson(const Kpis& k);

// The value of a KPI.
double KpiValue(const Kpis& k, Kpi kpi);
// Whether the experiment is beyond a margin or bound, as measured (no test): success_rate more
// than limit points under control's, a latency ratio above limit. Nullopt when a group is empty.
std::optional<bool> Beyond(const Kpis& experiment, const Kpis& control, const Margin& margin);

// Per second of scheduled time: one JSON object per second and group.
std::vector<nlohmann::json> Timeline(std::span<const Sample> samples);

struct Verdict {
  std::string hypothesis;  // held | refuted | inconclusive
  std::string reason;
  nlohmann::json tests;  // one object per margin
  std::optional<std::int64_t> more_requests_needed;
};
Verdict Judge(const Scenario& scenario, const Kpis& experiment, const Kpis& control);

}  // namespace faultline::fit::internal

#endif  // FAULTLINE_FIT_INTERNAL_KPI_H_
