// Reading FIT scenarios: every field checked, every error naming the file and the field.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <set>

#include "common/file.h"
#include "fit/fit.h"

namespace faultline::fit {
namespace {

using nlohmann::json;

constexpr std::array kKpiNames = {std::string_view("success_rate"), std::string_view("p50_ms"),
                                  std::string_view("p99_ms"), std::string_view("rps")};

// Reads the fields of one JSON object, each error prefixed with "SOURCE: PATH", and reports keys
// nobody asked for (a typo must not pass silently).
class Fields {
 public:
  Fields(const json& j, std::string source, std::string path)
      : j_(j), source_(std::move(source)), path_(std::move(path)) {}

  Error Fail(std::string_view field, std::string_view what) const {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("{}: {}: {}", source_, Name(field), what));
  }
  std::string Name(std::string_view field) const {
    if (path_.empty()) return std::string(field);
    return fmt::format("{}.{}", path_, field);
  }
  bool Has(std::string_view field) {
    seen_.insert(std::string(field));
    return j_.contains(std::string(field));
  }
  const json& At(std::string_view field) { return j_.at(std::string(field)); }

  Result<std::string> String(std::string_view field, std::optional<std::string> fallback) {
    if (!Has(field)) {
      if (fallback) return *fallback;
      return Fail(field, "missing (expected a string)");
    }
    const json& v = At(field);
    if (!v.is_string()) return Fail(field, fmt::format("expected a string, got {}", v.dump()));
    return v.get<std::string>();
  }
  // A finite number in [lo, hi].
  Result<double> Number(std::string_view field, std::optional<double> fallback, double lo,
                        double hi) {
    if (!Has(field)) {
      if (fallback) return *fallback;
      return Fail(field, fmt::format("missing (expected a number in [{}, {}])", lo, hi));
    }
    const json& v = At(field);
    if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < lo ||
        v.get<double>() > hi) {
      return Fail(field, fmt::format("expected a number in [{}, {}], got {}", lo, hi, v.dump()));
    }
    return v.get<double>();
  }
  Result<std::int64_t> Integer(std::string_view field, std::optional<std::int64_t> fallback,
                               std::int64_t lo, std::int64_t hi) {
    if (!Has(field)) {
      if (fallback) return *fallback;
      return Fail(field, fmt::format("missing (expected an integer in [{}, {}])", lo, hi));
    }
    const json& v = At(field);
    if (!v.is_number_integer() || v.get<std::int64_t>() < lo || v.get<std::int64_t>() > hi) {
      return Fail(field, fmt::format("expected an integer in [{}, {}], got {}", lo, hi, v.dump()));
    }
    return v.get<std::int64_t>();
  }
  // Milliseconds from a field in seconds (fractions allowed).
  Result<std::chrono::milliseconds> Seconds(std::string_view field, std::optional<double> fallback,
                                            double lo, double hi) {
    FAULTLINE_ASSIGN_OR_RETURN(double s, Number(field, fallback, lo, hi));
    return std::chrono::milliseconds(std::llround(s * 1000));
  }
  Status NoOthers() const {
    for (auto it = j_.begin(); it != j_.end(); ++it) {
      if (!seen_.contains(it.key())) {
        std::string known;
        for (const std::string& k : seen_) {
          if (!known.empty()) known.append(", ");
          known.append(k);
        }
        return Fail(it.key(), fmt::format("unknown field (expected one of {})", known));
      }
    }
    return OkStatus();
  }
  const std::string& source() const { return source_; }
  const std::string& path() const { return path_; }

 private:
  const json& j_;
  std::string source_;
  std::string path_;
  std::set<std::string> seen_;
};

Error NotObject(std::string_view source, std::string_view path, const json& j) {
  return Error(ErrorCode::kInvalidArgument,
               fmt::format("{}: {}: expected an object, got {}", source, path, j.dump()));
}

Result<RequestTemplate> ParseRequest(const json& j, std::string_view source, std::string path) {
  if (!j.is_object()) return NotObject(source, path, j);
  Fields f(j, std::string(source), path);
  RequestTemplate r;
  FAULTLINE_ASSIGN_OR_RETURN(r.name, f.String("name", std::nullopt));
  FAULTLINE_ASSIGN_OR_RETURN(r.method, f.String("method", "GET"));
  static constexpr std::array kMethods = {"GET", "POST", "PUT", "DELETE", "HEAD", "PATCH"};
  if (std::find(kMethods.begin(), kMethods.end(), r.method) == kMethods.end()) {
    return f.Fail("method", fmt::format("expected one of GET, POST, PUT, DELETE, HEAD, PATCH, "
                                        "got \"{}\"",
                                        r.method));
  }
  FAULTLINE_ASSIGN_OR_RETURN(r.path, f.String("path", std::nullopt));
  if (r.path.empty() || r.path[0] != '/') {
    return f.Fail("path", fmt::format("expected a path starting with /, got \"{}\"", r.path));
  }
  FAULTLINE_ASSIGN_OR_RETURN(r.body, f.String("body", ""));
  FAULTLINE_ASSIGN_OR_RETURN(r.weight, f.Number("weight", 1.0, 0, 1e9));
  if (f.Has("headers")) {
    const json& h = f.At("headers");
    if (!h.is_object()) return f.Fail("headers", "expected an object of strings");
    for (auto it = h.begin(); it != h.end(); ++it) {
      if (!it->is_string()) {
        return f.Fail(fmt::format("headers.{}", it.key()),
                      fmt::format("expected a string, got {}", it->dump()));
      }
      r.headers[it.key()] = it->get<std::string>();
    }
  }
  FAULTLINE_RETURN_IF_ERROR(f.NoOthers());
  return r;
}

Result<FaultSpec> ParseFault(const json& j, std::string_view source, std::string path) {
  if (!j.is_object()) return NotObject(source, path, j);
  Fields f(j, std::string(source), path);
  FaultSpec spec;
  FAULTLINE_ASSIGN_OR_RETURN(std::string type, f.String("type", std::nullopt));
  auto parsed = nemesis::ParseToxicType(type);
  if (!parsed) return f.Fail("type", parsed.error().message());
  spec.toxic.type = *parsed;
  FAULTLINE_ASSIGN_OR_RETURN(spec.toxic.name, f.String("name", ""));
  FAULTLINE_ASSIGN_OR_RETURN(std::string stream, f.String("stream", "downstream"));
  auto s = nemesis::ParseToxicStream(stream);
  if (!s) return f.Fail("stream", s.error().message());
  spec.toxic.stream = *s;
  FAULTLINE_ASSIGN_OR_RETURN(spec.toxic.toxicity, f.Number("share", std::nullopt, 0, 1));
  FAULTLINE_ASSIGN_OR_RETURN(spec.start, f.Seconds("start_s", 0.0, 0, 600));
  FAULTLINE_ASSIGN_OR_RETURN(spec.duration, f.Seconds("duration_s", 0.0, 0, 600));
  if (f.Has("attributes")) {
    const json& a = f.At("attributes");
    if (!a.is_object()) return f.Fail("attributes", "expected an object");
    for (auto it = a.begin(); it != a.end(); ++it) {
      if (it->is_number_integer()) {
        spec.toxic.attributes[it.key()] = it->get<std::int64_t>();
      } else if (it->is_string()) {
        spec.toxic.attributes[it.key()] = it->get<std::string>();
      } else {
        return f.Fail(fmt::format("attributes.{}", it.key()),
                      fmt::format("expected an integer or a string, got {}", it->dump()));
      }
    }
  }
  FAULTLINE_RETURN_IF_ERROR(f.NoOthers());
  auto normalized = nemesis::NormalizeToxic(spec.toxic);
  if (!normalized) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("{}: {}: {}", source, path, normalized.error().message()));
  }
  spec.toxic = std::move(*normalized);
  return spec;
}

// {"max_drop_points": X} for success_rate, {"max_ratio": X} for latency quantiles.
Result<Margin> ParseMargin(Kpi kpi, Fields& f) {
  Margin m{.kpi = kpi, .limit = 0};
  switch (kpi) {
    case Kpi::kSuccessRate: {
      FAULTLINE_ASSIGN_OR_RETURN(m.limit, f.Number("max_drop_points", std::nullopt, 0, 100));
      return m;
    }
    case Kpi::kP50:
    case Kpi::kP99: {
      FAULTLINE_ASSIGN_OR_RETURN(m.limit, f.Number("max_ratio", std::nullopt, 1, 1000));
      return m;
    }
    case Kpi::kRps:
      break;
  }
  return f.Fail("kpi", "rps has no margin (it follows the rate; judge success_rate instead)");
}

}  // namespace

std::string_view KpiName(Kpi kpi) { return kKpiNames[static_cast<size_t>(kpi)]; }

Result<Kpi> ParseKpi(std::string_view name) {
  for (size_t i = 0; i < kKpiNames.size(); ++i) {
    if (kKpiNames[i] == name) return static_cast<Kpi>(i);
  }
  return MakeError(
      ErrorCode::kInvalidArgument,
      fmt::format("unknown kpi \"{}\" (expected success_rate, p50_ms, p99_ms or rps)", name));
}

Result<Scenario> ParseScenario(const json& j, std::string_view source_name) {
  const std::string source(source_name);
  if (!j.is_object()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("{}: expected a JSON object at the top", source));
  }
  Fields f(j, source, "");
  Scenario s;
  s.source = source;
  FAULTLINE_ASSIGN_OR_RETURN(s.id, f.String("id", std::nullopt));
  if (s.id.empty() || s.id.find_first_of("/ \t") != std::string::npos) {
    return f.Fail("id", fmt::format("expected a name without spaces or /, got \"{}\"", s.id));
  }
  FAULTLINE_ASSIGN_OR_RETURN(s.title, f.String("title", ""));
  FAULTLINE_ASSIGN_OR_RETURN(s.description, f.String("description", ""));
  FAULTLINE_ASSIGN_OR_RETURN(std::int64_t seed, f.Integer("seed", 1, 0, INT64_MAX));
  s.seed = static_cast<std::uint64_t>(seed);
  FAULTLINE_ASSIGN_OR_RETURN(s.rate, f.Number("rate", std::nullopt, 1, 100000));
  FAULTLINE_ASSIGN_OR_RETURN(s.duration, f.Seconds("duration_s", std::nullopt, 1, 600));
  FAULTLINE_ASSIGN_OR_RETURN(std::int64_t timeout, f.Integer("timeout_ms", 1000, 1, 60000));
  s.timeout = std::chrono::milliseconds(timeout);
  FAULTLINE_ASSIGN_OR_RETURN(std::int64_t keys, f.Integer("keys", 100, 1, 1000000));
  s.keys = static_cast<int>(keys);
  FAULTLINE_ASSIGN_OR_RETURN(std::int64_t conns, f.Integer("connections", 16, 1, 1024));
  s.connections = static_cast<int>(conns);

  if (!f.Has("requests") || !f.At("requests").is_array() || f.At("requests").empty()) {
    return f.Fail("requests", "expected a non-empty array of request templates");
  }
  double weights = 0;
  for (size_t i = 0; i < f.At("requests").size(); ++i) {
    FAULTLINE_ASSIGN_OR_RETURN(RequestTemplate r, ParseRequest(f.At("requests")[i], source,
                                                               fmt::format("requests[{}]", i)));
    weights += r.weight;
    s.requests.push_back(std::move(r));
  }
  if (weights <= 0) return f.Fail("requests", "every weight is 0 (expected one above 0)");

  if (f.Has("faults")) {
    if (!f.At("faults").is_array()) return f.Fail("faults", "expected an array of toxics");
    std::set<std::string> names;
    for (size_t i = 0; i < f.At("faults").size(); ++i) {
      const std::string path = fmt::format("faults[{}]", i);
      FAULTLINE_ASSIGN_OR_RETURN(FaultSpec fault, ParseFault(f.At("faults")[i], source, path));
      if (!names.insert(fault.toxic.name).second) {
        return f.Fail(path + ".name", fmt::format("\"{}\" is used twice (name the faults apart)",
                                                  fault.toxic.name));
      }
      if (fault.start >= s.duration) {
        return f.Fail(path + ".start_s", "starts after the load ends (duration_s)");
      }
      s.faults.push_back(std::move(fault));
    }
  }

  if (!f.Has("hypothesis") || !f.At("hypothesis").is_object()) {
    return f.Fail("hypothesis", "expected an object with alpha and at least one KPI margin");
  }
  {
    Fields h(f.At("hypothesis"), source, "hypothesis");
    FAULTLINE_ASSIGN_OR_RETURN(s.alpha, h.Number("alpha", 0.05, 1e-6, 0.5));
    FAULTLINE_ASSIGN_OR_RETURN(std::int64_t b, h.Integer("bootstrap_samples", 2000, 100, 100000));
    s.bootstrap_samples = static_cast<int>(b);
    for (Kpi kpi : {Kpi::kSuccessRate, Kpi::kP50, Kpi::kP99}) {
      if (!h.Has(KpiName(kpi))) continue;
      const json& m = h.At(KpiName(kpi));
      const std::string path = fmt::format("hypothesis.{}", KpiName(kpi));
      if (!m.is_object()) return NotObject(source, path, m);
      Fields mf(m, source, path);
      FAULTLINE_ASSIGN_OR_RETURN(Margin margin, ParseMargin(kpi, mf));
      FAULTLINE_RETURN_IF_ERROR(mf.NoOthers());
      s.margins.push_back(margin);
    }
    if (s.margins.empty()) {
      return h.Fail("success_rate",
                    "missing (expected at least one of success_rate, p50_ms, "
                    "p99_ms)");
    }
    FAULTLINE_RETURN_IF_ERROR(h.NoOthers());
  }

  if (f.Has("abort")) {
    if (!f.At("abort").is_array()) return f.Fail("abort", "expected an array of abort rules");
    for (size_t i = 0; i < f.At("abort").size(); ++i) {
      const std::string path = fmt::format("abort[{}]", i);
      const json& a = f.At("abort")[i];
      if (!a.is_object()) return NotObject(source, path, a);
      Fields af(a, source, path);
      FAULTLINE_ASSIGN_OR_RETURN(std::string name, af.String("kpi", std::nullopt));
      auto kpi = ParseKpi(name);
      if (!kpi) return af.Fail("kpi", kpi.error().message());
      AbortRule rule;
      FAULTLINE_ASSIGN_OR_RETURN(rule.bound, ParseMargin(*kpi, af));
      FAULTLINE_ASSIGN_OR_RETURN(rule.hold, af.Seconds("for_s", std::nullopt, 0, 600));
      FAULTLINE_RETURN_IF_ERROR(af.NoOthers());
      s.abort.push_back(rule);
    }
  }
  FAULTLINE_RETURN_IF_ERROR(f.NoOthers());
  return s;
}

Result<Scenario> LoadScenario(const std::filesystem::path& path) {
  auto text = ReadFile(path.string());
  if (!text) return std::move(text).error().WithContext("fit: read scenario");
  json j = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    // Find the line of the error for the message.
    try {
      json ignored = json::parse(*text);
    } catch (const json::parse_error& e) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("{}: not JSON: {}", path.string(), e.what()));
    }
    return MakeError(ErrorCode::kInvalidArgument, fmt::format("{}: not JSON", path.string()));
  }
  return ParseScenario(j, path.string());
}

}  // namespace faultline::fit
