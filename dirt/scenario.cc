#include "dirt/scenario.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "checker/log_patterns.h"
#include "common/file.h"

namespace faultline::dirt {
namespace {

using json = nlohmann::json;

// Walks one JSON object, checking types and unknown keys, with errors naming the field path.
class Fields {
 public:
  Fields(const json& j, std::string path, std::string source)
      : j_(j), path_(std::move(path)), source_(std::move(source)) {}

  Error Bad(const std::string& key, const std::string& why) const {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("scenario: {}: field \"{}{}\": {}", source_, path_, key, why));
  }

  Status CheckObject() const {
    if (!j_.is_object()) {
      return Error(ErrorCode::kInvalidArgument,
                   fmt::format("scenario: {}: {}: expected an object", source_,
                               path_.empty() ? "top level" : path_));
    }
    return OkStatus();
  }

  Status NoUnknown(const std::set<std::string>& known) const {
    for (const auto& [k, v] : j_.items()) {
      if (!known.contains(k)) {
        std::string list;
        for (const auto& n : known) list.append(list.empty() ? "" : ", ").append(n);
        return Bad(k, "unknown field (known: " + list + ")");
      }
    }
    return OkStatus();
  }

  bool Has(const std::string& key) const { return j_.contains(key); }

  Result<std::string> String(const std::string& key, bool required,
                             std::string fallback = {}) const {
    if (!j_.contains(key)) {
      if (required) return Bad(key, "missing (a string is required)");
      return fallback;
    }
    if (!j_[key].is_string()) return Bad(key, "expected a string");
    return j_[key].get<std::string>();
  }

  Result<std::int64_t> Int(const std::string& key, bool required, std::int64_t fallback,
                           std::int64_t min, std::int64_t max) const {
    if (!j_.contains(key)) {
      if (required) return Bad(key, "missing (a number is required)");
      return fallback;
    }
    if (!j_[key].is_number_integer()) return Bad(key, "expected an integer");
    std::int64_t v = j_[key].get<std::int64_t>();
    if (v < min || v > max)
      return Bad(key, fmt::format("{} is out of range [{}, {}]", v, min, max));
    return v;
  }

  Result<double> Number(const std::string& key, double fallback, double min, double max) const {
    if (!j_.contains(key)) return fallback;
    if (!j_[key].is_number()) return Bad(key, "expected a number");
    double v = j_[key].get<double>();
    if (v < min || v > max)
      return Bad(key, fmt::format("{} is out of range [{}, {}]", v, min, max));
    return v;
  }

  Result<bool> Bool(const std::string& key, bool fallback) const {
    if (!j_.contains(key)) return fallback;
    if (!j_[key].is_boolean()) return Bad(key, "expected true or false");
    return j_[key].get<bool>();
  }

  Result<std::vector<std::string>> Strings(const std::string& key) const {
    std::vector<std::string> out;
    if (!j_.contains(key)) return out;
    if (!j_[key].is_array()) return Bad(key, "expected an array of strings");
    for (const auto& e : j_[key]) {
      if (!e.is_string()) return Bad(key, "expected an array of strings");
      out.push_back(e.get<std::string>());
    }
    return out;
  }

  Result<Fields> Object(const std::string& key) const {
    static const json kEmpty = json::object();
    const json& sub = j_.contains(key) ? j_[key] : kEmpty;
    Fields f(sub, path_ + key + ".", source_);
    if (!sub.is_object()) return Bad(key, "expected an object");
    return f;
  }

  const json& raw() const { return j_; }
  const std::string& path() const { return path_; }
  const std::string& source() const { return source_; }

 private:
  const json& j_;
  std::string path_;
  std::string source_;
};

constexpr std::int64_t kHour = 3600 * 1000;

Result<Step> ParseStep(const json& j, size_t index, const std::string& source) {
  Fields f(j, fmt::format("steps[{}].", index), source);
  FAULTLINE_RETURN_IF_ERROR(f.CheckObject());
  FAULTLINE_RETURN_IF_ERROR(
      f.NoUnknown({"at_ms", "fault", "targets", "duration_ms", "files", "mode", "count", "offset",
                   "cpu_percent", "memory_mb", "disk_ops", "note"}));
  nemesis::FaultSpec spec;
  FAULTLINE_ASSIGN_OR_RETURN(std::int64_t at, f.Int("at_ms", true, 0, 0, kHour));
  FAULTLINE_ASSIGN_OR_RETURN(std::string fault, f.String("fault", true));
  auto kind = nemesis::ParseFaultKind(fault, kScenarioFaultKinds);
  if (!kind) {
    return f.Bad("fault", fmt::format("\"{}\" is not a fault (use {})", fault,
                                      nemesis::FaultKindList(kScenarioFaultKinds)));
  }
  spec.kind = *kind;
  FAULTLINE_ASSIGN_OR_RETURN(spec.targets, f.String("targets", true));
  if (spec.targets.empty()) return f.Bad("targets", "empty (name nodes, or one/minority/...)");
  FAULTLINE_ASSIGN_OR_RETURN(std::int64_t dur, f.Int("duration_ms", false, 0, 0, kHour));
  spec.duration = std::chrono::milliseconds(dur);
  FAULTLINE_ASSIGN_OR_RETURN(spec.corrupt.files, f.Strings("files"));
  FAULTLINE_ASSIGN_OR_RETURN(std::string mode, f.String("mode", false, "overwrite"));
  FAULTLINE_ASSIGN_OR_RETURN(spec.corrupt.count, f.Int("count", false, 0, 0, 1ll << 40));
  FAULTLINE_ASSIGN_OR_RETURN(spec.corrupt.offset,
                             f.Int("offset", false, 0, -(1ll << 40), 1ll << 40));
  if (spec.kind == FaultKind::kCorrupt) {
    if (spec.corrupt.files.empty()) return f.Bad("files", "a corrupt step needs file globs");
    auto corrupt_mode = nemesis::ParseCorruptMode(mode);
    if (!corrupt_mode) {
      return f.Bad("mode", "\"" + mode + "\" is not bitflip, overwrite or truncate");
    }
    spec.corrupt.mode = *corrupt_mode;
  }
  if (f.Has("cpu_percent")) {
    FAULTLINE_ASSIGN_OR_RETURN(double v, f.Number("cpu_percent", 0, 1, 6400));
    spec.siege.cpu_percent = v;
  }
  if (f.Has("memory_mb")) {
    FAULTLINE_ASSIGN_OR_RETURN(std::int64_t v, f.Int("memory_mb", false, 0, 1, 1 << 20));
    spec.siege.memory_mb = v;
  }
  if (f.Has("disk_ops")) {
    FAULTLINE_ASSIGN_OR_RETURN(double v, f.Number("disk_ops", 0, 1, 1e6));
    spec.siege.disk_ops = v;
  }
  if (spec.kind == FaultKind::kSiege && spec.siege.empty()) {
    return f.Bad("fault", "a siege step needs cpu_percent, memory_mb or disk_ops");
  }
  if (spec.kind != FaultKind::kSiege && !spec.siege.empty()) {
    return f.Bad("cpu_percent", "only a siege step takes cpu_percent, memory_mb or disk_ops");
  }
  return Step{.at = std::chrono::milliseconds(at), .spec = std::move(spec)};
}

}  // namespace

Result<Scenario> ParseScenario(std::string_view json_text, std::string_view source_view) {
  const std::string source(source_view);
  json j;
  try {
    j = json::parse(json_text);
  } catch (const json::parse_error& e) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("scenario: {}: not JSON: {} (byte {})", source, e.what(), e.byte));
  }
  Fields f(j, "", source);
  FAULTLINE_RETURN_IF_ERROR(f.CheckObject());
  FAULTLINE_RETURN_IF_ERROR(f.NoUnknown({"id",
                                         "title",
                                         "severity",
                                         "category",
                                         "description",
                                         "nodes",
                                         "db_flags",
                                         "steady_state",
                                         "max_recovery_time_ms",
                                         "settle_window_ms",
                                         "observe_ms",
                                         "blast_radius",
                                         "safeguards",
                                         "expected_safeguards",
                                         "workload",
                                         "seed",
                                         "steps",
                                         "notes",
                                         "log_patterns",
                                         "log_pattern_max"}));
  Scenario s;
  s.source = source;
  FAULTLINE_ASSIGN_OR_RETURN(s.id, f.String("id", true));
  if (s.id.empty() || s.id.size() > 32 || !std::all_of(s.id.begin(), s.id.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
      })) {
    return f.Bad("id", "\"" + s.id + "\" must be 1-32 letters, digits or '-'");
  }
  FAULTLINE_ASSIGN_OR_RETURN(s.title, f.String("title", true));
  FAULTLINE_ASSIGN_OR_RETURN(s.severity, f.String("severity", false, "medium"));
  if (s.severity != "critical" && s.severity != "high" && s.severity != "medium" &&
      s.severity != "low") {
    return f.Bad("severity", "\"" + s.severity + "\" is not critical, high, medium or low");
  }
  FAULTLINE_ASSIGN_OR_RETURN(s.category, f.String("category", true));
  FAULTLINE_ASSIGN_OR_RETURN(s.description, f.String("description", false));
  FAULTLINE_ASSIGN_OR_RETURN(std::int64_t nodes, f.Int("nodes", false, 5, 1, 9));
  s.nodes = static_cast<int>(nodes);

  if (!f.Has("db_flags")) {
    return f.Bad("db_flags",
                 "missing: pin pre_vote, heartbeat_ms, election_ms and snapshot_count "
                 "(a recovery limit means nothing unless they are pinned)");
  }
  FAULTLINE_ASSIGN_OR_RETURN(Fields db, f.Object("db_flags"));
  FAULTLINE_RETURN_IF_ERROR(
      db.NoUnknown({"pre_vote", "heartbeat_ms", "election_ms", "snapshot_count", "corrupt_check"}));
  for (const char* k : {"pre_vote", "heartbeat_ms", "election_ms", "snapshot_count"}) {
    if (!db.Has(k)) return db.Bad(k, "missing: every drill pins this flag");
  }
  FAULTLINE_ASSIGN_OR_RETURN(s.db.pre_vote, db.Bool("pre_vote", true));
  FAULTLINE_ASSIGN_OR_RETURN(std::int64_t hb, db.Int("heartbeat_ms", true, 100, 1, 60000));
  FAULTLINE_ASSIGN_OR_RETURN(std::int64_t el, db.Int("election_ms", true, 1000, 1, 600000));
  if (el < 5 * hb) return db.Bad("election_ms", "must be at least 5 x heartbeat_ms (etcd's rule)");
  s.db.heartbeat_ms = static_cast<int>(hb);
  s.db.election_ms = static_cast<int>(el);
  FAULTLINE_ASSIGN_OR_RETURN(std::int64_t sc, db.Int("snapshot_count", true, 10000, 1, 100000000));
  s.db.snapshot_count = static_cast<int>(sc);
  FAULTLINE_ASSIGN_OR_RETURN(s.db.corrupt_check, db.Bool("corrupt_check", false));

  FAULTLINE_ASSIGN_OR_RETURN(Fields ss, f.Object("steady_state"));
  FAULTLINE_RETURN_IF_ERROR(
      ss.NoUnknown({"all_nodes_healthy", "write_read", "min_throughput_percent", "baseline_ms"}));
  FAULTLINE_ASSIGN_OR_RETURN(s.steady_state.all_nodes_healthy, ss.Bool("all_nodes_healthy", true));
  FAULTLINE_ASSIGN_OR_RETURN(s.steady_state.write_read, ss.Bool("write_read", true));
  FAULTLINE_ASSIGN_OR_RETURN(s.steady_state.min_throughput_percent,
                             ss.Number("min_throughput_percent", 0, 0, 100));
  FAULTLINE_ASSIGN_OR_RETURN(std::int64_t base, ss.Int("baseline_ms", false, 2000, 100, 600000));
  s.steady_state.baseline = std::chrono::milliseconds(base);

  FAULTLINE_ASSIGN_OR_RETURN(std::int64_t mrt, f.Int("max_recovery_time_ms", true, 0, 0, kHour));
  s.max_recovery_time = std::chrono::milliseconds(mrt);
  FAULTLINE_ASSIGN_OR_RETURN(std::int64_t settle, f.Int("settle_window_ms", false, 2000, 0, kHour));
  s.settle_window = std::chrono::milliseconds(settle);
  FAULTLINE_ASSIGN_OR_RETURN(std::int64_t obs, f.Int("observe_ms", false, 30000, 100, kHour));
  s.observe = std::chrono::milliseconds(obs);

  FAULTLINE_ASSIGN_OR_RETURN(Fields br, f.Object("blast_radius"));
  FAULTLINE_RETURN_IF_ERROR(br.NoUnknown({"min_healthy", "allow_below_quorum", "grace_ms"}));
  FAULTLINE_ASSIGN_OR_RETURN(std::int64_t mh, br.Int("min_healthy", false, 0, 0, 9));
  s.min_healthy = static_cast<int>(mh);
  FAULTLINE_ASSIGN_OR_RETURN(s.allow_below_quorum, br.Bool("allow_below_quorum", false));
  FAULTLINE_ASSIGN_OR_RETURN(std::int64_t grace, br.Int("grace_ms", false, 0, 0, kHour));
  s.blast_grace = std::chrono::milliseconds(grace != 0 ? grace : 3 * el + 1000);

  FAULTLINE_ASSIGN_OR_RETURN(Fields sg, f.Object("safeguards"));
  FAULTLINE_RETURN_IF_ERROR(sg.NoUnknown({"restart", "repair_playbook"}));
  FAULTLINE_ASSIGN_OR_RETURN(Fields rs, sg.Object("restart"));
  FAULTLINE_RETURN_IF_ERROR(rs.NoUnknown(
      {"enabled", "initial_backoff_ms", "max_backoff_ms", "max_restarts", "window_ms"}));
  FAULTLINE_ASSIGN_OR_RETURN(s.restart.enabled, rs.Bool("enabled", false));
  FAULTLINE_ASSIGN_OR_RETURN(std::int64_t ib, rs.Int("initial_backoff_ms", false, 100, 0, kHour));
  FAULTLINE_ASSIGN_OR_RETURN(std::int64_t mb, rs.Int("max_backoff_ms", false, 2000, 0, kHour));
  FAULTLINE_ASSIGN_OR_RETURN(std::int64_t mr, rs.Int("max_restarts", false, 5, 0, 1000));
  FAULTLINE_ASSIGN_OR_RETURN(std::int64_t w, rs.Int("window_ms", false, 60000, 1, 24 * kHour));
  s.restart.initial_backoff = std::chrono::milliseconds(ib);
  s.restart.max_backoff = std::chrono::milliseconds(mb);
  s.restart.max_restarts = static_cast<int>(mr);
  s.restart.window = std::chrono::milliseconds(w);
  FAULTLINE_ASSIGN_OR_RETURN(s.repair_playbook, sg.Bool("repair_playbook", false));

  FAULTLINE_ASSIGN_OR_RETURN(s.expected_safeguards, f.Strings("expected_safeguards"));
  for (const std::string& e : s.expected_safeguards) {
    if (e != "restart" && e != "repair" && e != "escalation") {
      return f.Bad("expected_safeguards",
                   "\"" + e + "\" is not a safeguard (use restart, repair or escalation)");
    }
    if ((e == "restart" || e == "escalation") && !s.restart.enabled) {
      return f.Bad("expected_safeguards",
                   "\"" + e + "\" is expected but safeguards.restart.enabled is false");
    }
    if (e == "repair" && !s.repair_playbook) {
      return f.Bad("expected_safeguards",
                   "\"repair\" is expected but safeguards.repair_playbook is false");
    }
  }
  if (f.Has("workload") && j["workload"].is_object()) {
    FAULTLINE_ASSIGN_OR_RETURN(Fields wl, f.Object("workload"));
    FAULTLINE_RETURN_IF_ERROR(wl.NoUnknown({"enabled", "kind", "concurrency", "rate"}));
    FAULTLINE_ASSIGN_OR_RETURN(s.workload.enabled, wl.Bool("enabled", true));
    FAULTLINE_ASSIGN_OR_RETURN(s.workload.kind, wl.String("kind", false, "register"));
    if (s.workload.kind != "register") {
      return wl.Bad("kind", "\"" + s.workload.kind + "\" is not a drill workload (use register)");
    }
    FAULTLINE_ASSIGN_OR_RETURN(std::int64_t conc, wl.Int("concurrency", false, 5, 1, 100));
    s.workload.concurrency = static_cast<int>(conc);
    FAULTLINE_ASSIGN_OR_RETURN(s.workload.rate, wl.Number("rate", 0, 0, 1e6));
  } else {
    FAULTLINE_ASSIGN_OR_RETURN(s.workload.enabled, f.Bool("workload", false));
  }
  // Log patterns: {"NAME": "REGEX"} and {"NAME": N or "unlimited"}, kept in the flags' form.
  FAULTLINE_ASSIGN_OR_RETURN(Fields lp, f.Object("log_patterns"));
  for (const auto& [name, regex] : lp.raw().items()) {
    if (!regex.is_string()) return lp.Bad(name, "expected a regex (a string)");
    s.log_patterns.push_back(name + "=" + regex.get<std::string>());
  }
  FAULTLINE_ASSIGN_OR_RETURN(Fields lm, f.Object("log_pattern_max"));
  for (const auto& [name, max] : lm.raw().items()) {
    if (max.is_number_unsigned()) {
      s.log_pattern_max.push_back(fmt::format("{}={}", name, max.get<std::uint64_t>()));
    } else if (max == "unlimited") {
      s.log_pattern_max.push_back(name + "=unlimited");
    } else {
      return lm.Bad(name, "expected a count (an integer >= 0) or \"unlimited\"");
    }
  }
  if (Result<std::vector<checker::LogPattern>> p =
          checker::MakeLogPatterns(s.log_patterns, s.log_pattern_max);
      !p) {
    return f.Bad("log_patterns", p.error().message());
  }
  FAULTLINE_ASSIGN_OR_RETURN(std::int64_t seed, f.Int("seed", false, 1, 0, INT64_MAX));
  s.seed = static_cast<std::uint64_t>(seed);

  if (!f.Has("steps") || !j["steps"].is_array()) {
    return f.Bad("steps", "missing or not an array (an empty array is a no-fault drill)");
  }
  for (size_t i = 0; i < j["steps"].size(); ++i) {
    FAULTLINE_ASSIGN_OR_RETURN(Step step, ParseStep(j["steps"][i], i, source));
    s.steps.push_back(std::move(step));
  }
  std::stable_sort(s.steps.begin(), s.steps.end(),
                   [](const Step& a, const Step& b) { return a.at < b.at; });
  return s;
}

Result<Scenario> LoadScenario(const std::string& path) {
  Result<std::string> text = ReadFile(path);
  if (!text) {
    return Error(
        ErrorCode::kNotFound,
        fmt::format("scenario: {}: cannot open (give a path to a scenario JSON file)", path));
  }
  return ParseScenario(*text, path);
}

}  // namespace faultline::dirt
