#include "checker/counter_checker.h"

#include <fmt/format.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>

#include "checker/internal/ops.h"
#include "history/fields.h"

namespace faultline::checker {
namespace {

using history::History;
using history::Op;
using history::Value;

struct Sums {
  int64_t lower = 0;  // ok adds completed so far
  int64_t upper = 0;  // adds invoked so far, failed ones excluded
};

std::string Describe(const CounterReadError& e) {
  return fmt::format("op {} {}read {} -> {}, expected {}..{}", e.index, e.final ? "(final) " : "",
                     e.key, e.value, e.lower, e.upper);
}

}  // namespace

Result<CounterCheckResult> CheckCounter(const History& h, const CounterCheckOptions& options) {
  CounterCheckResult r;
  std::map<std::string, Sums> sums;
  std::map<size_t, int64_t> lower_at_invoke;  // read invocation position -> lower bound then
  std::set<std::string> keys;
  for (size_t i = 0; i < h.size(); ++i) {
    const Op& op = h[i];
    if (!op.is_client() || (op.f != "add" && op.f != "read")) continue;
    const std::string key = op.key ? op.key->ToEdn() : std::string("-");
    keys.insert(key);
    Sums& s = sums[key];
    const size_t p = h.partner(i);
    if (op.is_invoke()) {
      if (op.f == "read") {
        lower_at_invoke[i] = s.lower;
        continue;
      }
      if (!op.value.is_int()) {
        return MakeError(ErrorCode::kInvalidArgument,
                         fmt::format("counter check: op {}: add needs an integer delta, got {}",
                                     op.index, op.value.ToEdn()));
      }
      ++r.attempted;
      const history::OpType outcome = p == History::kNone ? history::OpType::kInfo : h[p].type;
      switch (outcome) {
        case history::OpType::kOk:
          ++r.acknowledged;
          break;
        case history::OpType::kFail:
          ++r.failed;
          continue;  // certainly never happened: in neither bound
        default:
          ++r.indeterminate;
          break;
      }
      s.upper += op.value.as_int();
      continue;
    }
    if (op.type != history::OpType::kOk || p == History::kNone) continue;
    if (op.f == "add") {
      s.lower += h[p].value.as_int();
      continue;
    }
    // An ok read: check it against the bounds of its invocation and of now.
    const bool final = internal::ExtraIsTrue(h[p], history::field::kFinal);
    ++r.reads;
    if (final) ++r.final_reads;
    const int64_t lower = lower_at_invoke[p];
    const int64_t upper = s.upper;
    if (op.value.is_int() && op.value.as_int() >= lower && op.value.as_int() <= upper) continue;
    ++r.errors;
    if (r.examples.size() < options.max_examples) {
      r.examples.push_back(CounterReadError{.index = h[p].index,
                                            .key = key,
                                            .value = op.value.ToEdn(),
                                            .lower = lower,
                                            .upper = upper,
                                            .final = final});
    }
  }
  r.keys = static_cast<int64_t>(keys.size());
  if (r.errors > 0) {
    r.validity = checker::Validity::kInvalid;
    r.explanation = fmt::format("{} read{} out of bounds, e.g. {}", r.errors,
                                r.errors == 1 ? "" : "s", Describe(r.examples.front()));
  } else {
    r.explanation = fmt::format(
        "every ok read ({}, {} final) lay between the acknowledged and the attempted "
        "sum of its counter",
        r.reads, r.final_reads);
  }
  return r;
}

std::string CounterCheckResultToJson(const CounterCheckResult& r) {
  nlohmann::ordered_json j = internal::AddReadCountsJson(r, r.keys);
  j["errors"] = r.errors;
  nlohmann::ordered_json examples = nlohmann::ordered_json::array();
  for (const CounterReadError& e : r.examples) {
    examples.push_back({{"index", e.index},
                        {"key", e.key},
                        {"value", e.value},
                        {"lower", e.lower},
                        {"upper", e.upper},
                        {"final", e.final}});
  }
  j["examples"] = std::move(examples);
  j["explanation"] = r.explanation;
  return j.dump();
}

namespace {

Result<Verdict> CounterVerdict(const History& h, const CounterCheckOptions& options) {
  FAULTLINE_ASSIGN_OR_RETURN(CounterCheckResult r, CheckCounter(h, options));
  std::string summary = fmt::format(
      "{} ({} keys, {} adds: {} acknowledged, {} failed, {} indeterminate; {} reads checked, "
      "{} final; {} out of bounds)",
      ValidityName(r.validity), r.keys, r.attempted, r.acknowledged, r.failed, r.indeterminate,
      r.reads, r.final_reads, r.errors);
  Verdict v{.name = "counter",
            .validity = r.validity,
            .summary = std::move(summary),
            .detail = r.explanation + "\n",
            .json = CounterCheckResultToJson(r),
            .anomalies = {},
            .examples = {}};
  if (r.errors > 0) v.anomalies["out-of-bounds"] = r.errors;
  for (const CounterReadError& e : r.examples) v.examples.push_back(Describe(e));
  return v;
}

}  // namespace

std::unique_ptr<Checker> MakeCounterChecker(CounterCheckOptions options) {
  return internal::MakeChecker(
      "counter", {.check = [options = std::move(options)](
                               const History& h) { return CounterVerdict(h, options); },
                  .applies = {},
                  .disagreement = {}});
}

}  // namespace faultline::checker
