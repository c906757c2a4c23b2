// The evidence of a set of drills: incident records, control-plane dumps, the resource metrics
// timeline, a summary, and a Markdown write-up in the shape of a DiRT report.
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/file.h"
#include "dirt/drill.h"

namespace faultline::dirt {
namespace {

using json = nlohmann::json;

json OptMs(const std::optional<std::chrono::milliseconds>& ms) {
  return ms ? json(ms->count()) : json(nullptr);
}

std::string Secs(const std::optional<std::chrono::milliseconds>& ms) {
  return ms ? fmt::format("{:.1f} s", static_cast<double>(ms->count()) / 1000.0) : "-";
}

std::string IsoTime(std::int64_t wall_ns) {
  if (wall_ns == 0) return "-";
  time_t secs = static_cast<time_t>(wall_ns / 1000000000);
  tm t;
  gmtime_r(&secs, &t);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", t.tm_year + 1900, t.tm_mon + 1,
                     t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, (wall_ns / 1000000) % 1000);
}

json LogObject(const DrillResult& r) {
  if (!r.history_log) return nullptr;
  const DrillLogInfo& l = *r.history_log;
  return {{"file", std::filesystem::path(l.path).filename().string()},
          {"path", l.path},
          {"records", l.records},
          {"ops", l.ops},
          {"head", l.head},
          {"complete", l.error.empty()},
          {"error", l.error.empty() ? json(nullptr) : json(l.error)},
          {"verify", "faultline audit verify " + l.path}};
}

json ConsistencyObject(const DrillResult& r) {
  if (!r.consistency) return nullptr;
  const ConsistencyResult& c = *r.consistency;
  return {{"workload", c.workload},
          {"valid", checker::ValidityName(c.validity)},
          {"ops", c.ops},
          {"keys", c.keys},
          {"ok", c.ok},
          {"fail", c.fail},
          {"info", c.info},
          {"summary", c.summary},
          {"detail", c.detail}};
}

json IncidentObject(const DrillResult& r) {
  json events = json::array();
  for (const DrillEvent& e : r.events) {
    json x = {{"time", IsoTime(e.wall_ns)},
              {"offset_ms", e.offset_ms},
              {"source", e.source},
              {"kind", e.kind},
              {"node", e.node},
              {"detail", e.detail},
              {"ok", e.ok}};
    if (e.pid > 0) x["pid"] = e.pid;
    events.push_back(std::move(x));
  }
  json faults = json::array(), safeguards = json::array(), playbooks = json::array();
  for (const DrillEvent& e : r.events) {
    json x = {{"time", IsoTime(e.wall_ns)},
              {"offset_ms", e.offset_ms},
              {"kind", e.kind},
              {"node", e.node},
              {"detail", e.detail},
              {"ok", e.ok}};
    if (e.pid > 0) x["pid"] = e.pid;
    if (e.source == "fault") faults.push_back(x);
    if (e.source == "safeguard") safeguards.push_back(x);
    if (e.source == "playbook") playbooks.push_back(x);
  }
  json probes = json::array();
  for (const ProbeSample& p : r.probes) {
    json x = {{"offset_ms", r.fault_mono_ns != 0 ? (p.mono_ns - r.fault_mono_ns) / 1000000 : 0},
              {"steady", p.steady},
              {"healthy", p.healthy},
              {"write_read", p.write_read},
              {"throughput_percent", static_cast<int>(p.throughput_percent)}};
    if (!p.why.empty()) x["why"] = p.why;
    probes.push_back(std::move(x));
  }
  const RecoveryResult& rec = r.recovery;
  return {
      {"scenario", r.scenario_id},
      {"title", r.title},
      {"severity", r.severity},
      {"category", r.category},
      {"source", r.scenario_source},
      {"verdict", VerdictName(r.verdict)},
      {"reason", r.reason},
      {"started", IsoTime(r.start_wall_ns)},
      {"fault_issued", IsoTime(r.fault_wall_ns)},
      {"ended", IsoTime(r.end_wall_ns)},
      {"baseline_ops_per_s", r.baseline_ops_per_s},
      {"times_ms",
       {{"detection", OptMs(rec.detection)},
        {"repair", OptMs(rec.repair)},
        {"recovery", OptMs(rec.recovery)},
        {"limit", rec.limit.count()},
        {"margin", OptMs(rec.margin)},
        {"steady_state_breaks", rec.breaks}}},
      {"recovery_explanation", rec.explanation},
      {"faults", faults},
      {"safeguards", safeguards},
      {"playbooks", playbooks},
      {"safeguards_fired", r.safeguards_fired},
      {"safeguards_missing", r.safeguards_missing},
      {"siege", r.siege_figures},
      {"siege_valid", r.siege_valid},
      {"corruption", r.corruption},
      {"corrupted_bytes", r.corrupted_bytes},
      {"detection_signal", r.detection_signal ? json(*r.detection_signal) : json(nullptr)},
      {"hashes_equal", r.hashes_equal ? json(*r.hashes_equal) : json(nullptr)},
      {"serves_after", r.serves_after},
      {"consistency", ConsistencyObject(r)},
      {"log_patterns",
       r.log_patterns ? json::parse(checker::LogPatternsJson(*r.log_patterns)) : json(nullptr)},
      {"history_log", LogObject(r)},
      {"improvements", r.improvements},
      {"notes", r.notes},
      {"events", events},
      {"probes", probes},
  };
}

Status WriteFile(const std::filesystem::path& path, const std::string& text) {
  Status written = WriteFileAtomic(path.string(), text);
  if (!written) return written.error().WithContext("dirt");
  return OkStatus();
}

}  // namespace

std::string IncidentJson(const DrillResult& result) { return IncidentObject(result).dump(2); }

JUnitCase DrillJUnitCase(const DrillResult& r) {
  JUnitCase c{.name = fmt::format("{} {}", r.scenario_id, r.title),
              .classname = "faultline.dirt",
              .time_s = r.end_wall_ns > r.start_wall_ns
                            ? static_cast<double>(r.end_wall_ns - r.start_wall_ns) / 1e9
                            : 0,
              .outcome = JUnitOutcome::kPassed,
              .type = "",
              .message = fmt::format("{}: {}", VerdictName(r.verdict), r.reason),
              .detail = ""};
  switch (r.verdict) {
    case Verdict::kPass:
      c.message.clear();
      return c;
    case Verdict::kAborted:
      c.outcome = JUnitOutcome::kSkipped;
      return c;
    case Verdict::kError:
      c.outcome = JUnitOutcome::kError;
      c.type = "error";
      return c;
    case Verdict::kFail:
    case Verdict::kInvalid:
      break;
  }
  c.outcome = JUnitOutcome::kFailure;
  c.type = r.verdict == Verdict::kFail ? "fail" : "invalid";
  std::string& d = c.detail;
  if (!r.recovery.explanation.empty()) d += r.recovery.explanation + "\n";
  for (const std::string& s : r.safeguards_missing)
    d += fmt::format("safeguard did not fire: {}\n", s);
  if (r.consistency && r.consistency->validity != checker::Validity::kValid) {
    d += fmt::format("consistency: {}\n{}", r.consistency->summary, r.consistency->detail);
    if (!d.empty() && d.back() != '\n') d += "\n";
  }
  for (const std::string& i : r.improvements) d += fmt::format("to improve: {}\n", i);
  return c;
}

std::string ReportMarkdown(const std::string& run_name, const std::vector<DrillResult>& results) {
  std::string md = fmt::format("# DiRT report: {}\n\n", run_name);
  md +=
      "| Scenario | Severity | Verdict | Detection | Repair | Recovery | Limit | Margin | "
      "Consistency |\n";
  md += "|---|---|---|---|---|---|---|---|---|\n";
  for (const DrillResult& r : results) {
    md += fmt::format(
        "| {} {} | {} | **{}** | {} | {} | {} | {} | {} | {} |\n", r.scenario_id, r.title,
        r.severity, VerdictName(r.verdict), Secs(r.recovery.detection), Secs(r.recovery.repair),
        Secs(r.recovery.recovery), Secs(r.recovery.limit), Secs(r.recovery.margin),
        r.consistency
            ? fmt::format("{} ({} ops, {} keys)", checker::ValidityName(r.consistency->validity),
                          r.consistency->ops, r.consistency->keys)
            : std::string("-"));
  }
  for (const DrillResult& r : results) {
    md += fmt::format("\n## {}: {} ({}, {})\n\n", r.scenario_id, r.title, r.severity, r.category);
    md += fmt::format("**Verdict: {}.** {}\n\n", VerdictName(r.verdict), r.reason);
    md += fmt::format("Fault issued at {}; baseline {:.1f} ops/s. Scenario file: `{}`.\n\n",
                      IsoTime(r.fault_wall_ns), r.baseline_ops_per_s, r.scenario_source);
    if (r.history_log) {
      const DrillLogInfo& l = *r.history_log;
      md += fmt::format(
          "Evidence: every fault, safeguard, playbook, detection, rollback and check action is "
          "recorded as it happened in the tamper-evident history log `{}` ({} records, {} ops, "
          "head `{}`){}; check it with `faultline audit verify {}`.\n\n",
          std::filesystem::path(l.path).filename().string(), l.records, l.ops,
          l.head.empty() ? "-" : l.head, l.error.empty() ? "" : " **incomplete: " + l.error + "**",
          l.path);
    }
    if (r.consistency) {
      const ConsistencyResult& c = *r.consistency;
      md += fmt::format(
          "### Consistency during the drill\n\n{} workload: **{}**: {} ops on {} keys (ok {}, "
          "fail {}, info {}), recorded in the same log as the drill's events.\n\n- {}\n",
          c.workload, checker::ValidityName(c.validity), c.ops, c.keys, c.ok, c.fail, c.info,
          c.summary);
      if (!c.detail.empty()) md += "\n```\n" + c.detail + "\n```\n";
      md += "\n";
    }
    if (r.log_patterns) {
      md += "### Node logs over the drill\n\n";
      for (const checker::LogPatternCount& c : r.log_patterns->patterns) {
        md += fmt::format("- {}: {} (max {}){}\n", c.pattern.name, c.count,
                          c.pattern.max ? std::to_string(*c.pattern.max) : "unlimited",
                          c.exceeded() ? " **exceeded**" : "");
        for (const checker::LogPatternExample& e : c.examples) {
          md += fmt::format("  - {}: `{}`\n", e.node, e.line);
        }
      }
      md += "\n";
    }
    md += "### Faults\n\n";
    for (const DrillEvent& e : r.events) {
      if (e.source != "fault") continue;
      md += fmt::format("- +{} ms {} {}: {}{}\n", e.offset_ms, e.kind, e.node, e.detail,
                        e.ok ? "" : " **(failed)**");
    }
    if (!r.siege_figures.empty()) {
      md += "\n### Siege (achieved, from the node's own cgroups)\n\n";
      for (const auto& s : r.siege_figures) md += "- " + s + "\n";
    }
    if (!r.corruption.empty()) {
      md += fmt::format("\n### Corruption ({} bytes altered)\n\n", r.corrupted_bytes);
      for (const auto& c : r.corruption) md += "- " + c + "\n";
      md += fmt::format("\nDetection signal: {}\n",
                        r.detection_signal ? *r.detection_signal : "none seen");
      if (r.hashes_equal) {
        md += fmt::format("\nAfter repair: HashKV {} on every member.\n",
                          *r.hashes_equal ? "equal" : "NOT equal");
      }
    }
    md += "\n### Safeguards and playbooks\n\n";
    bool any = false;
    for (const DrillEvent& e : r.events) {
      if (e.source != "safeguard" && e.source != "playbook" && e.source != "detection") continue;
      any = true;
      md += fmt::format("- +{} ms [{}] {} {}: {}{}\n", e.offset_ms, e.source, e.kind, e.node,
                        e.detail, e.ok ? "" : " **(failed)**");
    }
    if (!any) md += "- none\n";
    md += fmt::format(
        "\nFired: {}. Expected but missing: {}.\n",
        r.safeguards_fired.empty() ? "none"
                                   : fmt::format("{}", fmt::join(r.safeguards_fired, ", ")),
        r.safeguards_missing.empty() ? "none"
                                     : fmt::format("{}", fmt::join(r.safeguards_missing, ", ")));
    md += fmt::format(
        "\n### Recovery\n\n- detection {} (first probe that saw the steady state broken)\n"
        "- repair {} (last safeguard or playbook action finished)\n"
        "- recovery {} (steady state held for the settle window), limit {}, margin {}\n"
        "- {}\n- after rollback the cluster {} a write then a read\n",
        Secs(r.recovery.detection), Secs(r.recovery.repair), Secs(r.recovery.recovery),
        Secs(r.recovery.limit), Secs(r.recovery.margin), r.recovery.explanation,
        r.serves_after ? "served" : "did NOT serve");
    md += "\n### What to improve\n\n";
    if (r.improvements.empty()) md += "- nothing this drill showed\n";
    for (const auto& i : r.improvements) md += "- " + i + "\n";
    for (const auto& n : r.notes) md += "- note: " + n + "\n";
  }
  return md;
}

Status WriteArtifacts(const std::string& dir, const std::string& run_name,
                      const std::vector<DrillResult>& results) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return Error(ErrorCode::kInternal, fmt::format("dirt: create {}: {}", dir, ec.message()));
  }
  namespace fs = std::filesystem;
  json dumps = json::array(), metrics = json::array(), summary_rows = json::array();
  for (const DrillResult& r : results) {
    FAULTLINE_RETURN_IF_ERROR(
        WriteFile(fs::path(dir) / fmt::format("incident-{}.json", r.scenario_id), IncidentJson(r)));
    for (const auto& d : r.control_plane_dumps) dumps.push_back(json::parse(d));
    for (const auto& m : r.resource_metrics) metrics.push_back(json::parse(m));
    summary_rows.push_back(
        {{"scenario", r.scenario_id},
         {"title", r.title},
         {"verdict", VerdictName(r.verdict)},
         {"reason", r.reason},
         {"detection_ms", OptMs(r.recovery.detection)},
         {"repair_ms", OptMs(r.recovery.repair)},
         {"recovery_ms", OptMs(r.recovery.recovery)},
         {"limit_ms", r.recovery.limit.count()},
         {"margin_ms", OptMs(r.recovery.margin)},
         {"safeguards_fired", r.safeguards_fired},
         {"safeguards_missing", r.safeguards_missing},
         {"consistency",
          r.consistency ? json(checker::ValidityName(r.consistency->validity)) : json(nullptr)},
         {"consistency_ops", r.consistency ? json(r.consistency->ops) : json(nullptr)},
         {"history_log",
          r.history_log ? json(fs::path(r.history_log->path).filename().string()) : json(nullptr)},
         {"history_log_head", r.history_log ? json(r.history_log->head) : json(nullptr)},
         {"incident", fmt::format("incident-{}.json", r.scenario_id)}});
  }
  std::vector<Verdict> verdicts;
  for (const auto& r : results) verdicts.push_back(r.verdict);
  json summary = {
      {"run", run_name}, {"scenarios", summary_rows}, {"exit_code", VerdictExitCode(verdicts)}};
  FAULTLINE_RETURN_IF_ERROR(WriteFile(fs::path(dir) / "control_plane_dumps.json", dumps.dump(1)));
  FAULTLINE_RETURN_IF_ERROR(
      WriteFile(fs::path(dir) / "resource_metrics_timeline.json", metrics.dump(1)));
  FAULTLINE_RETURN_IF_ERROR(WriteFile(fs::path(dir) / "test_summary.json", summary.dump(2)));
  FAULTLINE_RETURN_IF_ERROR(
      WriteFile(fs::path(dir) / "report.md", ReportMarkdown(run_name, results)));
  return OkStatus();
}

}  // namespace faultline::dirt
