// Run directories: what a campaign leaves behind, and reading it back for `faultline analyze`.
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "common/file.h"
#include "runner/campaign.h"

namespace faultline::runner {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

RunFiles FilesIn(const std::string& dir) {
  const fs::path d(dir);
  return RunFiles{.dir = dir,
                  .log = (d / "history.log").string(),
                  .jsonl = (d / "history.jsonl").string(),
                  .config = (d / "config.json").string(),
                  .nemesis = (d / "nemesis.json").string(),
                  .results = (d / "results.json").string(),
                  .nodes = (d / "nodes").string()};
}

}  // namespace

std::string RenderNemesisJson(const RunStats& stats) {
  Json faults = Json::array();
  for (const FaultInterval& f : stats.faults) {
    Json j;
    j["f"] = std::string(f.f());
    j["plan"] = f.plan();
    j["spec"] = nemesis::FormatFaultSpec(f.spec);
    j["description"] = f.description;
    j["ok"] = f.ok;
    j["nodes"] = f.nodes;
    j["failed"] = f.failed;
    j["details"] = f.details;
    if (nemesis::IsPartitionKind(f.spec.kind)) j["cut_off"] = f.cut_off;
    j["confirmed"] = f.probe.confirmed ? Json(*f.probe.confirmed) : Json(nullptr);
    j["probe"] = f.probe.evidence;
    j["apply_ms"] = f.apply_ms;
    for (const auto& [k, v] : f.counts) j[k] = v;
    j["start_s"] = f.start_s;
    j["heal_s"] = f.heal_s;
    j["end_s"] = f.end_s;
    faults.push_back(std::move(j));
  }
  Json j;
  j["faults"] = std::move(faults);
  j["heals"] = stats.heal_reports;
  return j.dump(2);
}

Result<RunFiles> MakeRunDir(const CampaignConfig& config) {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", &tm);
  const std::string base =
      fmt::format("{}-{}-{}", stamp, WorkloadName(config.workload), config.seed);
  std::error_code ec;
  fs::create_directories(config.out, ec);
  if (ec) {
    return MakeError(ErrorCode::kUnavailable,
                     fmt::format("campaign: create {}: {}", config.out, ec.message()));
  }
  for (int n = 1; n < 1000; ++n) {
    const fs::path dir = fs::path(config.out) / (n == 1 ? base : fmt::format("{}-{}", base, n));
    if (fs::create_directory(dir, ec)) return FilesIn(dir.string());
    if (ec) {
      return MakeError(ErrorCode::kUnavailable,
                       fmt::format("campaign: create {}: {}", dir.string(), ec.message()));
    }
  }
  return MakeError(ErrorCode::kUnavailable,
                   fmt::format("campaign: no free run directory name under {}", config.out));
}

Result<RunReport> ExecuteCampaign(const CampaignConfig& config, CampaignDeps deps,
                                  const RunFiles& files, const ProgressFn& progress) {
  FAULTLINE_RETURN_IF_ERROR(ValidateConfig(config));
  // The config goes first: a run that crashes still says how to repeat it.
  FAULTLINE_RETURN_IF_ERROR(WriteFileAtomic(files.config, ConfigToJson(config) + "\n"));
  Json meta;
  meta["faultline"]["format"] = 1;
  meta["faultline"]["seed"] = config.seed;
  meta["faultline"]["workload"] = std::string(WorkloadName(config.workload));
  meta["faultline"]["config"] = Json::parse(ConfigToJson(config));
  if (auto claim = TxnClaim(config)) {
    meta["faultline"]["claims"] = {{"model", checker::TxnModelName(claim->model)},
                                   {"consistency", checker::ConsistencyName(claim->consistency)}};
  }
  history::LogOptions log_options;
  log_options.meta = meta.dump();
  FAULTLINE_ASSIGN_OR_RETURN(std::unique_ptr<history::LogWriter> log,
                             history::LogWriter::Create(files.log, std::move(log_options)));
  deps.log = log.get();
  Result<RunStats> stats = RunCampaign(config, deps, progress);
  Result<history::LogSummary> closed = log->Close();
  if (!stats) return std::move(stats).error();
  if (!closed) return std::move(closed).error().WithContext("campaign: close the log");

  RunReport report;
  report.files = files;
  report.stats = std::move(*stats);
  FAULTLINE_RETURN_IF_ERROR(WriteFileAtomic(files.nemesis, RenderNemesisJson(report.stats) + "\n"));
  FAULTLINE_ASSIGN_OR_RETURN(std::string content, ReadFile(files.log));
  FAULTLINE_ASSIGN_OR_RETURN(std::string jsonl,
                             history::ExportJsonl(content, files.log, &report.log_note));
  FAULTLINE_RETURN_IF_ERROR(WriteFileAtomic(files.jsonl, jsonl));
  FAULTLINE_ASSIGN_OR_RETURN(history::History h,
                             history::ReadLogHistory(content, files.log, &report.log_note));
  FAULTLINE_ASSIGN_OR_RETURN(report.verdict, CheckHistory(h, config));
  if (deps.account) report.system_account = deps.account(h, log->start_ns());
  report.text = RenderSummary(report, config);
  FAULTLINE_RETURN_IF_ERROR(
      WriteFileAtomic(files.results, RenderResultsJson(report, config) + "\n"));
  return report;
}

Result<RunReport> AnalyzeRunDir(const std::string& dir) {
  RunReport report;
  report.files = FilesIn(dir);
  FAULTLINE_ASSIGN_OR_RETURN(std::string config_text, ReadFile(report.files.config));
  FAULTLINE_ASSIGN_OR_RETURN(CampaignConfig config, ConfigFromJson(config_text));
  FAULTLINE_ASSIGN_OR_RETURN(std::string content, ReadFile(report.files.log));
  FAULTLINE_ASSIGN_OR_RETURN(history::History h,
                             history::ReadLogHistory(content, report.files.log, &report.log_note));
  FAULTLINE_ASSIGN_OR_RETURN(report.verdict, CheckHistory(h, config));
  report.stats.duration_s = report.verdict.figures.span_s;
  report.stats.invocations = report.verdict.figures.client_ops;
  report.text = RenderSummary(report, config);
  // The node logs again, from where the run's scan began (runs written before log patterns have
  // no log_scan: their verdict stays the history's).
  if (Result<std::string> results = ReadFile(report.files.results)) {
    const Json j = Json::parse(*results, nullptr, /*allow_exceptions=*/false);
    // What the system recorded while it ran cannot be observed again: kept as it was.
    if (j.is_object() && j.contains("system") && j["system"].is_object()) {
      Json system = j["system"];
      if (system.contains("summary") && system["summary"].is_array()) {
        for (const Json& line : system["summary"]) {
          if (line.is_string()) report.system_account.lines.push_back(line.get<std::string>());
        }
        system.erase("summary");
      }
      report.system_account.json = system.dump();
      report.text = RenderSummary(report, config);
    }
    if (j.is_object() && j.contains("log_scan") && j["log_scan"].is_object()) {
      // The copy of each scanned log under nodes/<node>/, named as the system's log file was
      // (etcd.log for etcd, and for runs written before the name was recorded).
      std::vector<checker::NodeLog> logs;
      for (const auto& [key, scan] : j["log_scan"].items()) {
        const std::string node = scan.is_object() ? scan.value("node", key) : key;
        const std::string log = scan.is_object() ? scan.value("log", std::string()) : "";
        const std::string name =
            log.empty() ? std::string("etcd.log") : std::filesystem::path(log).filename().string();
        logs.push_back(checker::NodeLog{
            .node = node,
            .path = (std::filesystem::path(report.files.nodes) / node / name).string(),
            .offset = scan.is_object() ? scan.value("offset", uint64_t{0}) : 0});
      }
      FAULTLINE_RETURN_IF_ERROR(AddLogPatterns(report, config, std::move(logs)));
    }
  }
  return report;
}

std::string RenderSummary(const RunReport& r, const CampaignConfig& c) {
  std::string out = fmt::format(
      "campaign: {} on {} {}-node {}, nemesis {}, {} reads, concurrency {}, seed {}, {:.1f} s{}\n",
      WorkloadName(c.workload), c.system == "etcd" ? c.db : c.system, c.nodes, c.cluster,
      nemesis::FormatFaultKindList(c.nemesis), c.read_mode, c.concurrency, c.seed,
      r.stats.duration_s, r.stats.interrupted ? " (interrupted)" : "");
  for (const CheckerVerdict& v : r.verdict.checkers) {
    out += fmt::format("  {:<13} {}\n", v.name + ":", v.summary);
  }
  for (const CheckerVerdict& v : r.verdict.checkers) {
    if (v.validity == checker::Validity::kValid || v.detail.empty()) continue;
    std::istringstream lines(v.detail);
    for (std::string line; std::getline(lines, line);) out += fmt::format("    {}\n", line);
  }
  for (const std::string& line : r.system_account.lines) out += fmt::format("  {}\n", line);
  const HistoryFigures& f = r.verdict.figures;
  std::vector<std::string> counts;
  for (const auto& [name, n] : f.by_f) {
    counts.push_back(fmt::format("{} {}/{}/{}", name, n.ok, n.fail, n.info));
  }
  out += fmt::format("  ops (ok/fail/info): {}\n", fmt::join(counts, ", "));
  out += fmt::format(
      "  latency of ok ops: p50 {:.1f} ms, p99 {:.1f} ms, max {:.1f} ms; {:.1f} ops/s\n",
      f.latency_p50_ms, f.latency_p99_ms, f.latency_max_ms, f.ops_per_s);
  out += fmt::format("  faults: {}\n", f.faults);
  for (const std::string& w : r.stats.warnings) out += fmt::format("  warning: {}\n", w);
  if (!r.log_note.empty()) out += fmt::format("  log: {}\n", r.log_note);
  std::string verdict(checker::ValidityName(r.verdict.validity));
  for (char& ch : verdict) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  const std::string exceeded =
      r.log_patterns ? checker::ExceededLine(*r.log_patterns) : std::string();
  out += exceeded.empty() ? fmt::format("verdict: {}\n", verdict)
                          : fmt::format("verdict: {} ({})\n", verdict, exceeded);
  out += fmt::format(
      "report: {} (history.log, history.jsonl, results.json, config.json, "
      "nemesis.json{})\n",
      r.files.dir, fs::exists(r.files.nodes) ? ", nodes/" : "");
  return out;
}

// Per node, its wall clock's offset over the run (seconds since the log's start), from the clock
// faults as they happened: {"n1": [{"t_s": 0, "offset_ms": 0}, {"t_s": 12.5, "offset_ms": 2000},
// {"t_s": 17.5, "offset_ms": 0}]}; a strobe's step also has "strobe_period_ms" (the offset holds
// half the time). Empty when the run had no clock fault.
static Json ClockOffsets(const RunStats& stats) {
  Json out = Json::object();
  for (const FaultInterval& fi : stats.faults) {
    if (!nemesis::IsClockFaultKind(fi.spec.kind) || !fi.ok) continue;
    for (const std::string& node : fi.nodes) {
      if (std::find(fi.failed.begin(), fi.failed.end(), node) != fi.failed.end()) continue;
      if (!out.contains(node)) out[node] = Json::array({Json{{"t_s", 0.0}, {"offset_ms", 0}}});
      const bool reset = fi.spec.kind == nemesis::FaultKind::kClockReset;
      Json step{{"t_s", fi.start_s},
                {"offset_ms", reset ? 0 : fi.spec.clock_offset.count()},
                {"fault", fi.plan()}};
      if (fi.spec.kind == nemesis::FaultKind::kClockStrobe) {
        step["strobe_period_ms"] = fi.spec.clock_period.count();
      }
      out[node].push_back(std::move(step));
      if (!reset)
        out[node].push_back(Json{{"t_s", fi.heal_s}, {"offset_ms", 0}, {"fault", "heal"}});
    }
  }
  return out;
}

std::string RenderResultsJson(const RunReport& r, const CampaignConfig& c) {
  Json j;
  j["valid"] = std::string(checker::ValidityName(r.verdict.validity));
  j["seed"] = c.seed;
  Json checkers = Json::object();
  int64_t anomaly_count = 0;
  for (const CheckerVerdict& v : r.verdict.checkers) {
    Json one = v.json.empty() ? Json::object() : Json::parse(v.json);
    one["summary"] = v.summary;
    one["anomalies"] = v.anomalies;
    for (const auto& [kind, n] : v.anomalies) anomaly_count += n;
    checkers[v.name] = std::move(one);
  }
  j["checkers"] = std::move(checkers);
  // Every anomaly the checkers counted; the run's report.html has one link per anomaly.
  j["anomaly_count"] = anomaly_count;
  const HistoryFigures& f = r.verdict.figures;
  Json ops = Json::object();
  for (const auto& [name, n] : f.by_f) {
    ops[name] = Json{{"ok", n.ok}, {"fail", n.fail}, {"info", n.info}};
  }
  j["ops"] = std::move(ops);
  j["client_ops"] = f.client_ops;
  j["latency_ms"] =
      Json{{"p50", f.latency_p50_ms}, {"p99", f.latency_p99_ms}, {"max", f.latency_max_ms}};
  j["ops_per_s"] = f.ops_per_s;
  j["duration_s"] = r.stats.duration_s;
  j["interrupted"] = r.stats.interrupted;
  j["faults"] = f.faults;
  if (Json clocks = ClockOffsets(r.stats); !clocks.empty()) j["clock_offsets"] = std::move(clocks);
  j["warnings"] = r.stats.warnings;
  j["log_note"] = r.log_note;
  j["files"] =
      Json{{"dir", r.files.dir},       {"log", r.files.log},         {"jsonl", r.files.jsonl},
           {"config", r.files.config}, {"nemesis", r.files.nemesis}, {"results", r.files.results},
           {"nodes", r.files.nodes}};
  if (r.log_patterns) {
    j["log_patterns"] = Json::parse(checker::LogPatternsJson(*r.log_patterns));
    Json scan = Json::object();
    for (const checker::NodeLog& log : r.log_scan) {
      // A node with several log files (a system's): one entry each, the node named inside.
      const std::string key =
          scan.contains(log.node)
              ? fmt::format("{}/{}", log.node, std::filesystem::path(log.path).filename().string())
              : log.node;
      scan[key] = Json{{"node", log.node}, {"log", log.path}, {"offset", log.offset}};
    }
    j["log_scan"] = std::move(scan);
  }
  if (!r.system_account.json.empty()) {
    Json system = Json::parse(r.system_account.json, nullptr, false);
    if (!system.is_discarded()) {
      system["summary"] = r.system_account.lines;
      j["system"] = std::move(system);
    }
  }
  j["config"] = Json::parse(ConfigToJson(c));
  return j.dump(2);
}

}  // namespace faultline::runner
