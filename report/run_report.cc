#include "report/run_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "checker/checker.h"
#include "checker/html.h"
#include "checker/report.h"
#include "common/file.h"
#include "history/audit.h"
#include "history/history.h"
#include "history/io.h"
#include "history/jsonl.h"
#include "history/log.h"
#include "report/internal/plot.h"

namespace faultline::report {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using checker::html::Esc;
using history::History;
using history::Op;
using history::OpType;
using internal::Plot;

// ---------------------------------------------------------------------------------------------
// Reading files

Result<Json> LoadJson(const fs::path& path) {
  FAULTLINE_ASSIGN_OR_RETURN(std::string text, ReadFile(path.string()));
  Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("report: {}: not valid JSON", path.string()));
  }
  return j;
}

std::optional<Json> LoadJsonIfPresent(const fs::path& path) {
  if (!fs::exists(path)) return std::nullopt;
  Result<Json> j = LoadJson(path);
  if (!j) return std::nullopt;
  return std::move(*j);
}

// Reads JSON Lines, skipping lines that are not objects.
std::vector<Json> LoadJsonLines(const fs::path& path) {
  std::vector<Json> out;
  Result<std::string> text = ReadFile(path.string());
  if (!text) return out;
  std::istringstream in(*text);
  for (std::string line; std::getline(in, line);) {
    Json j = Json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.is_object()) out.push_back(std::move(j));
  }
  return out;
}

double Num(const Json& j, std::string_view key, double fallback = 0) {
  if (!j.is_object()) return fallback;
  auto it = j.find(std::string(key));
  if (it == j.end() || !it->is_number()) return fallback;
  return it->get<double>();
}

std::string Str(const Json& j, std::string_view key, std::string fallback = "") {
  if (!j.is_object()) return fallback;
  auto it = j.find(std::string(key));
  if (it == j.end()) return fallback;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_null()) return fallback;
  return it->dump();
}

const Json& At(const Json& j, std::string_view key) {
  static const Json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(std::string(key));
  return it == j.end() ? kNull : *it;
}

// Every "op N" in a text, in order, without repeats.
std::vector<int64_t> OpsNamed(std::string_view text) {
  std::vector<int64_t> out;
  for (size_t at = text.find("op "); at != std::string_view::npos; at = text.find("op ", at + 3)) {
    if (at > 0 && std::isalnum(static_cast<unsigned char>(text[at - 1])) != 0) continue;
    size_t p = at + 3;
    int64_t n = 0;
    size_t digits = 0;
    while (p < text.size() && std::isdigit(static_cast<unsigned char>(text[p])) != 0) {
      n = n * 10 + (text[p] - '0');
      ++p;
      ++digits;
    }
    if (digits > 0 && std::find(out.begin(), out.end(), n) == out.end()) out.push_back(n);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Anomalies: what the checkers found, one entry per anomaly they counted

struct Anomaly {
  std::string checker;
  std::string kind;
  int64_t number = 0;  // 1-based within checker/kind
  int64_t of = 0;      // how many of that kind
  std::string explanation;
  std::vector<int64_t> ops;      // op indices the explanation names; first = the op at fault
  std::vector<int64_t> context;  // more ops worth drawing (a linearizable prefix)
};

// The kind -> count map of one checker's results.json object.
std::map<std::string, int64_t> CountsOf(const std::string& name, const Json& c) {
  std::map<std::string, int64_t> counts;
  if (const Json& a = At(c, "anomalies"); a.is_object()) {
    for (const auto& [kind, n] : a.items()) {
      if (n.is_number_integer() && n.get<int64_t>() > 0) counts[kind] = n.get<int64_t>();
    }
    return counts;
  }
  // Written before results.json carried each checker's anomalies: what its JSON shows.
  if (At(c, "counterexample").is_object() && name == "linearizable") {
    counts["nonlinearizable"] = 1;
  }
  if (const Json& s = At(c, "stale_reads_by_node"); s.is_object()) {
    int64_t total = 0;
    for (const auto& [node, e] : s.items()) total += static_cast<int64_t>(Num(e, "count"));
    if (total > 0) counts["stale-read"] = total;
  }
  if (const Json& v = At(c, "violations"); v.is_array()) {
    for (const Json& e : v) {
      if (Num(e, "count") > 0)
        counts[Str(e, "kind", "violation")] = static_cast<int64_t>(Num(e, "count"));
    }
  }
  if (const Json& p = At(c, "problems"); p.is_array() && !p.empty()) {
    counts["problems"] = static_cast<int64_t>(p.size());
  }
  if (Num(c, "overlapping_holds") > 0) {
    counts["overlapping-holds"] = static_cast<int64_t>(Num(c, "overlapping_holds"));
  }
  return counts;
}

// The examples a checker's JSON gives for a kind, as explanation texts.
std::vector<std::string> ExamplesOf(const Json& c, const std::string& kind) {
  std::vector<std::string> out;
  if (kind == "nonlinearizable") {
    const Json& ce = At(c, "counterexample");
    const Json& f = At(ce, "failing_op");
    std::string text = fmt::format("op {} cannot be linearized{}: {}", Num(f, "index"),
                                   Str(ce, "key").empty() ? "" : " on key " + Str(ce, "key"),
                                   Str(ce, "explanation", "no explanation given"));
    text += fmt::format(" ({}{})", Str(f, "op"),
                        Str(f, "completion").empty() ? "" : " -> " + Str(f, "completion"));
    if (!Str(c, "served_by").empty()) text += ". " + Str(c, "served_by");
    out.push_back(std::move(text));
    return out;
  }
  if (kind == "stale-read" && At(c, "stale_reads_by_node").is_object()) {
    for (const auto& [node, e] : At(c, "stale_reads_by_node").items()) {
      out.push_back(fmt::format("served by {}: {}", node, Str(e, "example")));
    }
  }
  if (const Json& v = At(c, "violations"); v.is_array()) {
    for (const Json& e : v) {
      if (Str(e, "kind") != kind) continue;
      for (const Json& x : At(e, "examples")) {
        if (x.is_string()) out.push_back(x.get<std::string>());
      }
    }
  }
  if (kind == "problems") {
    for (const Json& x : At(c, "problems"))
      out.push_back(x.is_string() ? x.get<std::string>() : x.dump());
  }
  if (kind == "overlapping-holds" && !Str(c, "overlap_example").empty()) {
    out.push_back(Str(c, "overlap_example"));
  }
  return out;
}

std::vector<Anomaly> AnomaliesOf(const Json& checkers) {
  std::vector<Anomaly> out;
  if (!checkers.is_object()) return out;
  for (const auto& [name, c] : checkers.items()) {
    for (const auto& [kind, n] : CountsOf(name, c)) {
      std::vector<std::string> examples = ExamplesOf(c, kind);
      for (int64_t i = 0; i < n; ++i) {
        Anomaly a;
        a.checker = name;
        a.kind = kind;
        a.number = i + 1;
        a.of = n;
        if (static_cast<size_t>(i) < examples.size()) {
          a.explanation = examples[static_cast<size_t>(i)];
          a.ops = OpsNamed(a.explanation);
        } else {
          a.explanation = fmt::format(
              "{} {} of {} found by {}; the checker spells out the first {} only. Its summary: {}",
              kind, i + 1, n, name, examples.size(), Str(c, "summary"));
        }
        if (kind == "nonlinearizable") {
          if (const Json& p = At(At(c, "counterexample"), "prefixes"); p.is_array() && !p.empty()) {
            for (const Json& x : p[0]) {
              if (x.is_number_integer()) a.context.push_back(x.get<int64_t>());
            }
          }
        }
        out.push_back(std::move(a));
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Client ops as intervals: what the plots and timelines need, compactly (a 1M-op history must fit
// in well under 500 MB, so history.jsonl is streamed into this table, not held as a History)

struct Interval {
  int64_t index = 0;        // the invocation's op index
  int64_t done_index = -1;  // the completion's, -1 when it never completed
  double start_s = 0;
  double end_s = 0;  // completion time; for an open op the history's end
  double latency_ms = 0;
  int64_t process = 0;
  uint32_t key = 0;    // into Ops::keys; 0 = no key
  uint16_t f = 0;      // into Ops::fs
  char outcome = 'o';  // 'k' ok, 'f' fail, 'i' info, 'o' open
  std::string arg;     // the invocation's value (EDN, cut at 40 characters)
  std::string result;  // the completion's value, when it differs
  std::string error;   // the completion's error, if any
};

class Ops {
 public:
  std::vector<Interval> ops;  // client ops, in invocation order
  std::vector<std::string> fs;
  std::vector<std::string> keys = {""};
  double t_max = 0;

  // Adds one op of the history, in file order.
  void Add(const Op& op) {
    if (op.time_ns >= 0) t_max = std::max(t_max, static_cast<double>(op.time_ns) / 1e9);
    if (!op.is_client()) return;
    if (op.is_invoke()) {
      Interval v;
      v.index = op.index;
      v.start_s = op.time_ns >= 0 ? static_cast<double>(op.time_ns) / 1e9 : 0;
      v.process = op.process.number;
      v.f = Id(fs, f_ids_, op.f.empty() ? "?" : op.f);
      v.key = op.key ? Id(keys, key_ids_, op.key->ToEdn()) : 0;
      v.arg = Short(op.value);
      open_[op.process.number] = ops.size();
      ops.push_back(std::move(v));
      return;
    }
    auto it = open_.find(op.process.number);
    if (it == open_.end()) return;
    Interval& v = ops[it->second];
    open_.erase(it);
    v.done_index = op.index;
    v.end_s = op.time_ns >= 0 ? static_cast<double>(op.time_ns) / 1e9 : v.start_s;
    v.outcome = op.type == OpType::kOk ? 'k' : op.type == OpType::kFail ? 'f' : 'i';
    if (op.type == OpType::kOk && !(op.value.ToEdn() == v.arg)) v.result = Short(op.value);
    if (op.error) v.error = op.ErrorText();
  }

  // After the last Add: open ops run to the end; the lookup by completion index is built.
  void Finish() {
    for (Interval& v : ops) {
      if (v.outcome == 'o') v.end_s = t_max;
      v.latency_ms = std::max(0.0, (v.end_s - v.start_s) * 1000.0);
    }
    by_done_.clear();
    for (size_t i = 0; i < ops.size(); ++i) {
      if (ops[i].done_index >= 0) by_done_.emplace_back(ops[i].done_index, i);
    }
    std::sort(by_done_.begin(), by_done_.end());
    open_.clear();
  }

  // The slot of the op whose invocation or completion has this index.
  std::optional<size_t> Find(int64_t index) const {
    auto inv = std::lower_bound(ops.begin(), ops.end(), index,
                                [](const Interval& v, int64_t i) { return v.index < i; });
    if (inv != ops.end() && inv->index == index) return static_cast<size_t>(inv - ops.begin());
    auto done =
        std::lower_bound(by_done_.begin(), by_done_.end(), std::pair<int64_t, size_t>(index, 0));
    if (done != by_done_.end() && done->first == index) return done->second;
    return std::nullopt;
  }

  // "3 read k1 nil -> ok 2" for people.
  std::string Describe(const Interval& v) const {
    std::string s = fmt::format("process {} {}", v.process, fs[v.f]);
    if (v.key != 0) s.append(" ").append(keys[v.key]);
    if (!v.arg.empty() && v.arg != "nil") s.append(" ").append(v.arg);
    s.append(" -> ").append(v.outcome == 'k'   ? "ok"
                            : v.outcome == 'f' ? "fail"
                            : v.outcome == 'i' ? "info"
                                               : "never completed");
    if (!v.result.empty()) s.append(" ").append(v.result);
    if (!v.error.empty()) s.append(" (").append(v.error).append(")");
    return s;
  }

 private:
  static uint16_t Id(std::vector<std::string>& names,
                     std::unordered_map<std::string, uint32_t>& ids, const std::string& name) {
    auto [it, added] = ids.emplace(name, static_cast<uint32_t>(names.size()));
    if (added) names.push_back(name);
    return static_cast<uint16_t>(std::min<uint32_t>(it->second, 65535));
  }
  static std::string Short(const history::Value& v) {
    std::string s = v.ToEdn();
    if (s.size() > 40) s = s.substr(0, 39) + "\u2026";
    return s;
  }
  std::unordered_map<std::string, uint32_t> f_ids_;
  std::unordered_map<std::string, uint32_t> key_ids_;
  std::unordered_map<int64_t, size_t> open_;  // process -> slot of its open invocation
  std::vector<std::pair<int64_t, size_t>> by_done_;
};

Ops OpsOf(const History& h) {
  Ops out;
  for (const Op& op : h.ops()) out.Add(op);
  out.Finish();
  return out;
}

// Streams a JSON Lines history into the table, one line at a time.
Result<Ops> StreamJsonl(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return MakeError(ErrorCode::kNotFound,
                     fmt::format("report: {}: cannot open it", path.string()));
  }
  Ops out;
  int64_t line_no = 0;
  int64_t position = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (line.empty() || line.starts_with("{\"faultline\"")) continue;
    Result<Op> op = history::ParseJsonOp(line);
    if (!op) {
      if (in.peek() == std::char_traits<char>::eof()) break;  // a torn last line
      return std::move(op).error().WithContext(
          fmt::format("report: {}: line {}", path.string(), line_no));
    }
    if (op->index < 0) op->index = position;
    ++position;
    out.Add(*op);
  }
  out.Finish();
  return out;
}

// ---------------------------------------------------------------------------------------------
// The run as read from its files

struct FaultWindow {
  std::string kind;   // data-fault
  std::string label;  // "partition isolate:n3"
  double start_s = 0;
  double end_s = 0;
  bool ok = true;
};

struct LogAudit {
  std::string file;
  std::string status;
  std::string head;
  std::string message;
  bool passed = false;
};

struct Run {
  std::string kind;  // campaign, drill, fit, wave, history
  fs::path dir;
  std::string title;
  Json results;
  Json config;
  std::optional<Ops> ops;  // the client ops, when the run has a history
  std::string history_note;
  std::vector<FaultWindow> faults;
  std::vector<LogAudit> audits;
  std::vector<Anomaly> anomalies;
  std::vector<Json> incidents;  // drill incident-<id>.json objects
  Json drill_summary;
  std::vector<Json> metrics;  // resource_metrics_timeline.json samples
  std::vector<Json> kpi_timeline;
  // A wave's drill on the wave's time axis: seconds from the wave's start to the drill's.
  double drill_shift_s = 0;
  std::string drill_axis = "time since the drill started (s)";
  Json fit;  // the FIT object (results.json itself, or parts.fit)
  std::string command;
  // The client history's checker verdicts when the page checked a history file itself.
  std::vector<std::pair<std::string, std::string>> verdicts;  // checker -> validity
};

LogAudit AuditLog(const fs::path& path) {
  history::AuditReport r = history::VerifyLogFile(path.string());
  LogAudit a;
  a.file = path.filename().string();
  a.status = std::string(history::AuditStatusName(r.status));
  a.head = r.head;
  a.message = r.message;
  a.passed = r.status == history::AuditStatus::kIntact;
  return a;
}

Status LoadHistoryInto(Run& run, const fs::path& jsonl, const fs::path& log) {
  if (fs::exists(jsonl)) {
    FAULTLINE_ASSIGN_OR_RETURN(run.ops, StreamJsonl(jsonl));
    return OkStatus();
  }
  if (fs::exists(log)) {
    FAULTLINE_ASSIGN_OR_RETURN(std::string content, ReadFile(log.string()));
    Result<History> h = history::ReadLogHistory(content, log.string(), &run.history_note);
    if (!h) return std::move(h).error().WithContext("report");
    run.ops = OpsOf(*h);
  }
  return OkStatus();
}

void LoadCampaignFaults(Run& run, const Json& nemesis) {
  for (const Json& f : At(nemesis, "faults")) {
    FaultWindow w;
    w.kind = Str(f, "f", "fault");
    w.label = Str(f, "plan", w.kind);
    w.start_s = Num(f, "start_s");
    w.end_s = Num(f, "end_s", w.start_s);
    w.ok = !At(f, "ok").is_boolean() || At(f, "ok").get<bool>();
    run.faults.push_back(std::move(w));
  }
}

// True when `event` (a drill fault, safeguard or rollback event) ends a fault of kind `kind` on
// its node: "siege-stop" ends "siege", "resume" ends "pause", a restart ends a crash or a kill.
bool Ends(const std::string& kind, const Json& event) {
  const std::string k = Str(event, "kind");
  if (k == kind + "-stop") return true;
  if (kind == "pause") return k == "resume";
  if (kind == "crash" || kind == "kill") return k == "restarted" || k == "start" || k == "restart";
  return false;
}

// A drill's fault events, as windows from the fault to the event that ends it on that node, else
// the drill's rollback, else its recovery. Events that only end a fault are not windows.
void LoadDrillFaults(Run& run) {
  for (const Json& inc : run.incidents) {
    const double recovery_s = Num(At(inc, "times_ms"), "recovery", -1) / 1000.0;
    std::vector<const Json*> events;
    for (const Json& e : At(inc, "events")) events.push_back(&e);
    double rollback_s = -1;
    double last_s = 0;
    for (const Json* e : events) {
      const double t = Num(*e, "offset_ms") / 1000.0;
      last_s = std::max(last_s, t);
      if (rollback_s < 0 && Str(*e, "source") == "rollback") rollback_s = t;
    }
    for (size_t i = 0; i < events.size(); ++i) {
      const Json& f = *events[i];
      if (Str(f, "source") != "fault") continue;
      const std::string kind = Str(f, "kind", "fault");
      const std::string node = Str(f, "node");
      bool ends_other = false;
      for (size_t j = 0; j < i; ++j) {
        if (Str(*events[j], "source") == "fault" && Str(*events[j], "node") == node &&
            Ends(Str(*events[j], "kind"), f)) {
          ends_other = true;
        }
      }
      if (ends_other) continue;
      FaultWindow w;
      w.kind = kind;
      w.label = node.empty() ? kind : fmt::format("{} {}", kind, node);
      w.start_s = Num(f, "offset_ms") / 1000.0;
      w.end_s = -1;
      for (size_t j = i + 1; j < events.size() && w.end_s < 0; ++j) {
        if (Str(*events[j], "node") == node && Ends(kind, *events[j])) {
          w.end_s = Num(*events[j], "offset_ms") / 1000.0;
        }
      }
      if (w.end_s < 0) w.end_s = rollback_s >= w.start_s ? rollback_s : recovery_s;
      if (w.end_s < w.start_s) w.end_s = last_s;
      w.ok = !At(f, "ok").is_boolean() || At(f, "ok").get<bool>();
      run.faults.push_back(std::move(w));
    }
  }
}

Result<Run> LoadDirectory(const fs::path& dir) {
  Run run;
  run.dir = dir;
  run.title = dir.filename().string().empty() ? dir.parent_path().filename().string()
                                              : dir.filename().string();
  if (auto r = LoadJsonIfPresent(dir / "results.json")) run.results = std::move(*r);
  if (auto c = LoadJsonIfPresent(dir / "config.json")) run.config = std::move(*c);
  const bool has_results = run.results.is_object();
  const bool is_drill = fs::exists(dir / "test_summary.json");
  if (!has_results && !is_drill) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        fmt::format("report: {}: expected a run directory (results.json of a campaign, "
                    "FIT run or wave, or test_summary.json of a drill)",
                    dir.string()));
  }
  if (has_results && At(run.results, "parts").is_object()) {
    run.kind = "wave";
  } else if (has_results && At(run.results, "hypothesis").is_string()) {
    run.kind = "fit";
  } else if (has_results) {
    run.kind = "campaign";
  } else {
    run.kind = "drill";
  }
  if (auto n = LoadJsonIfPresent(dir / "nemesis.json")) LoadCampaignFaults(run, *n);
  FAULTLINE_RETURN_IF_ERROR(LoadHistoryInto(run, dir / "history.jsonl", dir / "history.log"));

  // A wave writes each part's own files in a directory of its own (campaign/, drill/, fit/);
  // its history log and results.json are at the top.
  const bool wave = run.kind == "wave";
  auto part_dir = [&](std::string_view part) {
    return wave && fs::is_directory(dir / part) ? dir / part : dir;
  };
  // Drill files (a drill directory, or a wave's drill part).
  const fs::path drill_dir = part_dir("drill");
  if (auto s = LoadJsonIfPresent(drill_dir / "test_summary.json")) {
    run.drill_summary = std::move(*s);
  }
  std::vector<fs::path> incident_files;
  std::vector<fs::path> logs;
  for (const auto& e : fs::directory_iterator(drill_dir)) {
    const std::string name = e.path().filename().string();
    if (name.starts_with("incident-") && name.ends_with(".json"))
      incident_files.push_back(e.path());
  }
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.ends_with(".log") && (name.starts_with("history") || name.starts_with("events"))) {
      logs.push_back(e.path());
    }
  }
  std::sort(incident_files.begin(), incident_files.end());
  std::sort(logs.begin(), logs.end());
  for (const fs::path& p : incident_files) {
    if (auto j = LoadJsonIfPresent(p)) run.incidents.push_back(std::move(*j));
  }
  if (auto m = LoadJsonIfPresent(drill_dir / "resource_metrics_timeline.json");
      m && m->is_array()) {
    for (Json& x : *m) run.metrics.push_back(std::move(x));
  }
  if (run.kind == "drill") {
    LoadDrillFaults(run);
    // The drill's consistency ops are in its history log, beside its events.
    if (!run.ops) {
      for (const fs::path& p : logs) {
        if (!p.filename().string().starts_with("history-")) continue;
        FAULTLINE_RETURN_IF_ERROR(LoadHistoryInto(run, dir / "none.jsonl", p));
        break;
      }
    }
  }
  for (const fs::path& p : logs) run.audits.push_back(AuditLog(p));

  // FIT: results.json itself, or a wave's parts.fit.
  run.fit = run.kind == "fit" ? run.results : At(At(run.results, "parts"), "fit");
  if (run.fit.is_object()) {
    std::string timeline = Str(run.fit, "timeline");
    if (timeline.empty()) timeline = Str(At(run.fit, "files"), "timeline", "kpi-timeline.jsonl");
    fs::path tp = fs::path(timeline).is_absolute() ? fs::path(timeline) : dir / timeline;
    if (!fs::exists(tp)) tp = part_dir("fit") / timeline;
    if (!fs::exists(tp)) tp = dir / "kpi-timeline.jsonl";
    run.kpi_timeline = LoadJsonLines(tp);
  }

  // A wave's fault windows, on the wave's own time axis, from where its parts touched: the
  // campaign's faults (one per entry of campaign/nemesis.json), FIT's toxics and the drill's
  // fault up to its measured recovery.
  if (wave) {
    const Json& touch = At(At(run.results, "touch"), "recovery");
    auto add = [&](const Json& f, std::string kind) {
      if (!At(f, "start_s").is_number()) return;
      FaultWindow w;
      const std::string what = Str(f, "what", kind);
      w.kind = kind.empty() ? what.substr(0, what.find(' ')) : std::move(kind);
      w.label = what;
      w.start_s = Num(f, "start_s");
      w.end_s = At(f, "end_s").is_number() ? Num(f, "end_s") : w.start_s;
      run.faults.push_back(std::move(w));
    };
    // The drill's fault is at the recovery window's start on the wave's axis and at its first
    // fault's offset on the drill's own: the difference puts the drill's plots on the wave's axis.
    if (At(At(touch, "recovery"), "start_s").is_number() && !run.incidents.empty()) {
      double fault_s = 0;
      for (const Json& f : At(run.incidents.front(), "faults")) {
        fault_s = Num(f, "offset_ms") / 1000.0;
        break;
      }
      run.drill_shift_s = Num(At(touch, "recovery"), "start_s") - fault_s;
      run.drill_axis = "time since the wave started (s)";
    }
    for (const Json& f : At(touch, "campaign_faults")) add(f, "");
    for (const Json& f : At(touch, "fit_faults")) add(f, "fit-toxic");
    add(At(touch, "recovery"), "drill");
  }

  // A FIT run's toxics are its fault windows.
  if (run.kind == "fit") {
    const double end_s = Num(At(run.fit, "load"), "measured_s", 0);
    for (const Json& f : At(run.fit, "faults")) {
      FaultWindow w;
      w.kind = Str(f, "type", "toxic");
      w.label = fmt::format("{} {:.0f}% of {}", w.kind, Num(f, "share") * 100,
                            Str(f, "group", "experiment"));
      w.start_s = Num(f, "start_ms") / 1000.0;
      w.end_s = At(f, "end_ms").is_number() ? Num(f, "end_ms") / 1000.0 : end_s;
      w.ok = !At(f, "error").is_string();
      run.faults.push_back(std::move(w));
    }
  }

  // Anomalies: the campaign's checkers (a wave's campaign part).
  const Json& campaign =
      run.kind == "wave" ? At(At(run.results, "parts"), "campaign") : run.results;
  run.anomalies = AnomaliesOf(At(campaign, "checkers"));

  if (run.kind == "campaign" || run.kind == "wave") {
    // A run of `campaign --test-count N` records N there, with its own seed.
    run.command = fmt::format("faultline campaign --config {}{}", (dir / "config.json").string(),
                              Num(run.config, "test_count", 1) > 1 ? " --test-count 1" : "");
    if (run.kind == "wave") run.command = "faultline wave (see config.json / the scenario)";
  } else if (run.kind == "drill") {
    std::set<std::string> sources;
    for (const Json& inc : run.incidents) sources.insert(Str(inc, "source"));
    run.command = "faultline dirt run";
    for (const std::string& s : sources) run.command += " " + s;
    run.command += " --out " + dir.string();
  } else {
    run.command = fmt::format("faultline fit run {} --out {}",
                              Str(run.results, "source", Str(run.results, "scenario", "SCENARIO")),
                              dir.string());
  }
  return run;
}

// A bare history file: checked here with the given model.
Result<Run> LoadHistoryFile(const fs::path& file, const ReportOptions& options) {
  Run run;
  run.kind = "history";
  run.dir = file.parent_path();
  run.title = file.filename().string();
  FAULTLINE_ASSIGN_OR_RETURN(History h, history::ReadHistoryFile(file.string()));
  checker::CheckOptions check;
  check.model = options.model;
  check.time_limit_s = 60;
  FAULTLINE_ASSIGN_OR_RETURN(checker::CheckResult r, checker::Check(h, check));
  Json c = Json::parse(checker::RenderJson(r, h));
  c["summary"] = fmt::format("{} ({} ops, {} partitions, {:.0f} ms)",
                             checker::ValidityName(r.validity), r.ops, r.partitions, r.check_ms);
  if (r.counterexample) c["anomalies"] = Json{{"nonlinearizable", 1}};
  run.results = Json::object();
  run.results["valid"] = std::string(checker::ValidityName(r.validity));
  run.results["checkers"] = Json{{"linearizable", c}};
  run.results["anomaly_count"] = r.counterexample ? 1 : 0;
  run.anomalies = AnomaliesOf(run.results["checkers"]);
  run.command = fmt::format("faultline check {} --model {}", file.string(), options.model);
  if (file.extension() == ".log") run.audits.push_back(AuditLog(file));
  run.ops = OpsOf(h);
  return run;
}

double Quantile(std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  const auto k = static_cast<size_t>(std::min<double>(
      static_cast<double>(v.size() - 1), std::floor(q * static_cast<double>(v.size()))));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

// ---------------------------------------------------------------------------------------------
// HTML

const char kCss[] = R"css(
section.plot { background:#fff; border:1px solid #dde1e7; border-radius:8px; padding:10px 14px;
               margin-bottom:14px; }
section.plot h2, .card h2 { font-size:15px; margin:0 0 4px; }
.sub { color:#5b6474; font-size:12.5px; margin:0 0 6px; }
svg.chart { display:block; font-family: system-ui, sans-serif; max-width:100%; height:auto; }
svg.chart text { font-size:11px; fill:#3c4454; }
svg.chart .title { font-size:12px; fill:#1d2330; font-weight:600; }
svg.chart .grid { stroke:#eef0f3; }
svg.chart .axis { stroke:#9aa2af; }
.fault { fill:#6a3fb5; fill-opacity:.10; stroke:#6a3fb5; stroke-opacity:.45; stroke-dasharray:3 2; }
.fault.failed { fill:#c62828; fill-opacity:.08; }
.fault-shade { fill:#6a3fb5; fill-opacity:.10; }
.faultlabel { font-size:10.5px !important; fill:#4a2a8a !important; }
.pt-k { fill:#2e7d32; } .pt-f { fill:#8d8d8d; } .pt-i { fill:#e08a00; } .pt-o { fill:#e08a00; }
.q50 { stroke:#1565c0; } .q95 { stroke:#00838f; } .q99 { stroke:#ad1457; } .qmax { stroke:#1d2330; stroke-dasharray:2 2; }
.qline { fill:none; stroke-width:1.6; }
.anomaly-op { fill:none; stroke:#c62828; stroke-width:2.2; }
.bar-k { fill:#66bb6a; } .bar-f { fill:#b0b0b0; } .bar-i { fill:#ffb74d; }
table.t { border-collapse:collapse; font-size:13px; margin:4px 0; }
table.t td, table.t th { border-bottom:1px solid #eef0f3; padding:3px 10px 3px 0; text-align:left;
                         vertical-align:top; }
.kv { display:grid; grid-template-columns: max-content 1fr; gap:2px 14px; font-size:13px; }
.kv b { font-weight:600; color:#3c4454; }
.chips { max-height:72px; overflow:auto; margin:4px 0 0; }
a.anomaly { display:inline-block; font-size:12px; padding:1px 7px; margin:2px 3px 2px 0;
            border-radius:10px; background:#ffd0d4; color:#8e1b1b; text-decoration:none; }
a.anomaly:hover { background:#f6a6ae; }
.v-valid { color:#2e7d32; font-weight:600; } .v-invalid { color:#c62828; font-weight:600; }
.v-unknown { color:#b36b00; font-weight:600; }
.tl .op rect { stroke-width:1.2; rx:2; }
.tl .op.k rect { fill:#dcefdc; stroke:#2e7d32; } .tl .op.f rect { fill:#f2f2f2; stroke:#9e9e9e; }
.tl .op.i rect, .tl .op.o rect { fill:#ffe3b3; stroke:#e08a00; stroke-dasharray:4 2; }
.tl .op.focus rect { fill:#ffd0d4; stroke:#c62828; stroke-width:2.4; stroke-dasharray:none; }
.tl .op.faint { opacity:.28; }
.tl .op text { font-size:10.5px; fill:#1d2330; font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
.card:target { outline:3px solid #c62828; }
details summary { cursor:pointer; color:#3c4454; }
)css";

const char kScript[] = R"js(
window.onerror = function (msg, src, line) {
  document.body.setAttribute('data-js-error', String(msg) + ' (line ' + line + ')');
};
window.addEventListener('load', function () {
  setTimeout(function () {
    var nav = performance.getEntriesByType('navigation')[0];
    var ms = nav ? nav.loadEventStart : (performance.timing.loadEventStart - performance.timing.navigationStart);
    document.body.setAttribute('data-load-ms', String(Math.round(ms)));
    document.body.setAttribute('data-ready', 'true');
  }, 0);
});
)js";

std::string VerdictClass(std::string_view raw) {
  std::string v(raw);
  for (char& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (v == "valid" || v == "held" || v == "pass" || v == "passed") return "valid";
  if (v == "unknown" || v == "inconclusive") return "unknown";
  return "invalid";
}

// The x axis every time plot of the page shares (a wave's parts line up).
struct TimeRange {
  double t0 = 0;
  double t1 = 1;
};

TimeRange RangeOf(const Run& run, const std::optional<Ops>& ops) {
  TimeRange r;
  double hi = 0;
  if (ops && !ops->ops.empty()) hi = std::max(hi, ops->t_max);
  for (const FaultWindow& w : run.faults) hi = std::max(hi, w.end_s);
  for (const Json& x : run.kpi_timeline)
    hi = std::max(hi, Num(x, "t_s", Num(x, "second", Num(x, "t", 0))) + 1);
  for (const Json& m : run.metrics) hi = std::max(hi, Num(m, "offset_ms") / 1000.0);
  for (const Json& inc : run.incidents) {
    for (const Json& e : At(inc, "events")) hi = std::max(hi, Num(e, "offset_ms") / 1000.0);
  }
  r.t1 = std::max(hi, 1.0);
  return r;
}

void ShadeFaults(Plot& p, const std::vector<FaultWindow>& faults, bool checkable, bool labels) {
  // Labels go on up to three rows so neighbouring windows do not write over each other.
  std::vector<double> row_end(static_cast<size_t>(std::max(1.0, (p.height - 6) / 12)), -1e9);
  for (const FaultWindow& w : faults) {
    const double x0 = p.X(w.start_s);
    const double x1 = std::max(p.X(w.end_s), x0 + 2);
    if (checkable) {
      p.out += fmt::format(
          "<rect class=\"fault{}\" data-fault=\"{}\" data-start-s=\"{:.3f}\" data-end-s=\"{:.3f}\" "
          "x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\"><title>{} from {:.2f} s to "
          "{:.2f} s{}</title></rect>\n",
          w.ok ? "" : " failed", Esc(w.kind), w.start_s, w.end_s, x0, p.top, x1 - x0, p.height,
          Esc(w.label), w.start_s, w.end_s, w.ok ? "" : " (failed)");
    } else {
      p.out += fmt::format(
          "<rect class=\"fault-shade\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" "
          "height=\"{:.1f}\"/>\n",
          x0, p.top, x1 - x0, p.height);
    }
    if (!labels) continue;
    const double width = 6.2 * static_cast<double>(w.label.size());
    size_t row = 0;
    while (row + 1 < row_end.size() && row_end[row] > x0) ++row;
    row_end[row] = x0 + width + 6;
    p.out += fmt::format("<text class=\"faultlabel\" x=\"{:.1f}\" y=\"{:.1f}\">{}</text>\n", x0 + 3,
                         p.top + 12 + 12 * static_cast<double>(row), Esc(w.label));
  }
}

// The latency scatter with the per-second quantiles.
std::string LatencyPlot(const Run& run, const Ops& ops, TimeRange range,
                        const ReportOptions& options,
                        const std::unordered_set<size_t>& anomaly_slots, size_t* drawn) {
  double max_ms = 1;
  double min_ms = 1e9;
  for (const Interval& v : ops.ops) {
    if (v.outcome == 'o') continue;
    max_ms = std::max(max_ms, v.latency_ms);
    if (v.latency_ms > 0) min_ms = std::min(min_ms, v.latency_ms);
  }
  if (min_ms > max_ms) min_ms = 0.1;
  Plot p(1150, 330, range.t0, range.t1);
  p.y_log = true;
  p.y0 = std::pow(10.0, std::floor(std::log10(std::max(min_ms, 0.01))));
  p.y1 = std::pow(10.0, std::ceil(std::log10(max_ms * 1.05)));
  p.Begin("latency", "time since the run started (s)", "latency (ms, log scale)");
  ShadeFaults(p, run.faults, true, true);
  // Per-second quantiles over every completed op (by invocation second).
  const auto seconds = static_cast<size_t>(std::ceil(range.t1 - range.t0)) + 1;
  std::vector<std::vector<double>> per_s(seconds);
  for (const Interval& v : ops.ops) {
    if (v.outcome == 'o') continue;
    auto s = static_cast<size_t>(std::max(0.0, v.start_s - range.t0));
    if (s < seconds) per_s[s].push_back(v.latency_ms);
  }
  // Points: one per pixel cell per (f, outcome) once there are more than max_points.
  const bool thin = ops.ops.size() > options.max_points;
  std::map<std::pair<int, char>, std::string> paths;
  std::unordered_set<uint64_t> cells;
  size_t n = 0;
  static constexpr const char* kShapes[] = {
      "m-2 -2h4v4h-4z", "m0 -2.8l2.8 2.8l-2.8 2.8l-2.8 -2.8z", "m0 -3l2.8 5h-5.6z",
      "m-2.5 -1h5v2h-5zm1.5 -1.5h2v5h-2z", "m-2.5 -2.5h5v1.4h-5zm0 3.6h5v1.4h-5z"};
  for (size_t i = 0; i < ops.ops.size(); ++i) {
    const Interval& v = ops.ops[i];
    if (v.outcome == 'o') continue;
    const double x = p.X(v.start_s);
    const double y = p.Y(std::max(v.latency_ms, p.y0));
    if (thin) {
      const uint64_t cell = (static_cast<uint64_t>(x) << 32) ^ (static_cast<uint64_t>(y * 2) << 8) ^
                            (static_cast<uint64_t>(v.f) << 3) ^ static_cast<uint64_t>(v.outcome);
      if (!cells.insert(cell).second) continue;
    }
    std::string& d = paths[{v.f, v.outcome}];
    d += fmt::format("M{:.1f} {:.1f}{}", x, y, kShapes[static_cast<size_t>(v.f) % 5]);
    ++n;
  }
  for (const auto& [key, d] : paths) {
    p.out += fmt::format("<path class=\"pt-{}\" data-f=\"{}\" d=\"{}\"/>\n", key.second,
                         Esc(ops.fs[static_cast<size_t>(key.first)]), d);
  }
  // The anomalies' ops, always drawn, ringed.
  for (size_t slot : anomaly_slots) {
    const Interval& v = ops.ops[slot];
    p.out += fmt::format("<circle class=\"anomaly-op\" cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"6\"/>\n",
                         p.X(v.start_s), p.Y(std::max(v.latency_ms, p.y0)));
    ++n;
  }
  const std::pair<const char*, double> qs[] = {
      {"q50", 0.5}, {"q95", 0.95}, {"q99", 0.99}, {"qmax", 1.0}};
  for (const auto& [cls, q] : qs) {
    std::string pts;
    for (size_t s = 0; s < seconds; ++s) {
      if (per_s[s].empty()) continue;
      const double val =
          q >= 1.0 ? *std::max_element(per_s[s].begin(), per_s[s].end()) : Quantile(per_s[s], q);
      pts += fmt::format("{:.1f},{:.1f} ", p.X(range.t0 + static_cast<double>(s) + 0.5),
                         p.Y(std::max(val, p.y0)));
    }
    p.out += fmt::format("<polyline class=\"qline {}\" points=\"{}\"/>\n", cls, pts);
  }
  p.End();
  if (drawn != nullptr) *drawn = n;
  std::string legend = "<div class=\"legend\">";
  legend +=
      "<span><i class=\"sw sw-ok\"></i>ok</span><span><i class=\"sw sw-fail\"></i>fail</span>"
      "<span><i class=\"sw sw-info\"></i>info (outcome unknown)</span>";
  static constexpr const char* kShapeNames[] = {"&#9632;", "&#9670;", "&#9650;", "&#10010;",
                                                "&#8801;"};
  for (size_t f = 0; f < ops.fs.size(); ++f) {
    legend += fmt::format("<span>{} {}</span>", kShapeNames[f % 5], Esc(ops.fs[f]));
  }
  legend +=
      "<span style=\"color:#1565c0\">&#9473; p50</span><span style=\"color:#00838f\">&#9473; "
      "p95</span><span style=\"color:#ad1457\">&#9473; p99</span><span>&#9476; max (per "
      "second)</span><span><i class=\"sw sw-nem\"></i>fault window</span>"
      "<span style=\"color:#c62828\">&#9711; op of an anomaly</span></div>";
  std::string note;
  if (thin) {
    note = fmt::format(
        "<div class=\"note\">{} ops; {} points drawn (one per pixel and outcome; every op of an "
        "anomaly is drawn). Quantiles are over every op.</div>",
        ops.ops.size(), n);
  }
  return "<section class=\"plot\" id=\"latency\"><h2>Latency over time</h2><p class=\"sub\">One "
         "point per op at its invocation; colour: outcome, shape: f. Shaded: fault windows "
         "(kind, targets).</p>" +
         legend + note + p.out + "</section>\n";
}

std::string ThroughputPlot(const Run& run, const Ops& ops, TimeRange range) {
  const auto seconds = static_cast<size_t>(std::ceil(range.t1 - range.t0)) + 1;
  std::vector<std::array<double, 3>> per_s(seconds, {0, 0, 0});
  for (const Interval& v : ops.ops) {
    if (v.outcome == 'o') continue;
    auto s = static_cast<size_t>(std::max(0.0, v.end_s - range.t0));
    if (s >= seconds) continue;
    per_s[s][v.outcome == 'k' ? 0 : v.outcome == 'f' ? 1 : 2] += 1;
  }
  double hi = 1;
  for (const auto& a : per_s) hi = std::max(hi, a[0] + a[1] + a[2]);
  Plot p(1150, 190, range.t0, range.t1);
  p.y0 = 0;
  p.y1 = hi * 1.1;
  p.Begin("throughput", "time since the run started (s)", "completions per second");
  ShadeFaults(p, run.faults, false, false);
  static constexpr const char* kCls[] = {"bar-k", "bar-f", "bar-i"};
  for (size_t s = 0; s < seconds; ++s) {
    double base = 0;
    const double x0 = p.X(range.t0 + static_cast<double>(s));
    const double slot = p.X(range.t0 + static_cast<double>(s) + 1) - x0;
    const double w = slot > 4 ? slot - 1 : slot;  // a gap between bars only where there is room
    for (size_t k = 0; k < 3; ++k) {
      if (per_s[s][k] <= 0) continue;
      const double y_top = p.Y(base + per_s[s][k]);
      const double y_bottom = p.Y(base);
      p.out += fmt::format(
          "<rect class=\"{}\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\"><title>"
          "{:.0f}-{:.0f} s: {:.0f} {}</title></rect>",
          kCls[k], x0, y_top, w, y_bottom - y_top, static_cast<double>(s),
          static_cast<double>(s + 1), per_s[s][k],
          k == 0   ? "ok"
          : k == 1 ? "fail"
                   : "info");
      base += per_s[s][k];
    }
  }
  p.End();
  return "<section class=\"plot\" id=\"throughput\"><h2>Throughput per second</h2><p "
         "class=\"sub\">Completions per second by outcome (stacked), same time axis; shaded: "
         "fault windows.</p><div class=\"legend\"><span><i class=\"sw\" "
         "style=\"background:#66bb6a;border-color:#66bb6a\"></i>ok</span><span><i class=\"sw\" "
         "style=\"background:#b0b0b0;border-color:#b0b0b0\"></i>fail</span><span><i class=\"sw\" "
         "style=\"background:#ffb74d;border-color:#ffb74d\"></i>info</span></div>" +
         p.out + "</section>\n";
}

// A short label for an op bar: "read → 2", "write 3", "cas [1 2]".
std::string BarLabel(const Ops& ops, const Interval& v) {
  std::string s = ops.fs[v.f];
  if (!v.arg.empty() && v.arg != "nil") s.append(" ").append(v.arg);
  if (!v.result.empty()) s.append(" \u2192 ").append(v.result);
  return s;
}

// The ops around an anomaly on a per-process timeline (real time across, one row per process).
std::string AnomalyTimeline(const Ops& ops, const Anomaly& a) {
  std::vector<size_t> focus;
  for (int64_t idx : a.ops) {
    if (auto slot = ops.Find(idx)) focus.push_back(*slot);
  }
  if (focus.empty()) return "";
  // The key of the op at fault: ops of other keys are drawn faintly.
  const uint32_t key = ops.ops[focus[0]].key;
  double lo = 1e18;
  double hi = -1e18;
  for (size_t s : focus) {
    lo = std::min(lo, ops.ops[s].start_s);
    hi = std::max(hi, ops.ops[s].end_s);
  }
  const double pad = std::max(0.004, (hi - lo) * 0.3);
  lo -= pad;
  hi += pad;
  // Ops overlapping [lo, hi]: of the same key when there is one (at most 160), so the picture
  // stays readable.
  std::vector<size_t> shown;
  std::unordered_set<size_t> focus_set(focus.begin(), focus.end());
  for (int64_t idx : a.context) {
    auto slot = ops.Find(idx);
    if (slot && ops.ops[*slot].end_s >= lo && ops.ops[*slot].start_s <= hi) shown.push_back(*slot);
  }
  auto first_slot = std::lower_bound(ops.ops.begin(), ops.ops.end(), lo - 5.0,
                                     [](const Interval& v, double t) { return v.start_s < t; });
  for (auto it = first_slot; it != ops.ops.end() && it->start_s <= hi; ++it) {
    if (it->end_s < lo) continue;
    const auto slot = static_cast<size_t>(it - ops.ops.begin());
    if (key != 0 && it->key != key && focus_set.count(slot) == 0) continue;
    shown.push_back(slot);
    if (shown.size() > 160) break;
  }
  for (size_t s : focus) shown.push_back(s);
  std::sort(shown.begin(), shown.end());
  shown.erase(std::unique(shown.begin(), shown.end()), shown.end());
  std::map<int64_t, size_t> rows;
  for (size_t s : shown) rows.emplace(ops.ops[s].process, 0);
  size_t r = 0;
  for (auto& [proc, row] : rows) row = r++;
  const double left = 86;
  const double width = 1120;
  const double plot_w = width - left - 20;
  const double row_h = 24;
  const double top = 30;
  const double height = top + row_h * static_cast<double>(rows.size()) + 34;
  auto x_of = [&](double t) { return left + (t - lo) / (hi - lo) * plot_w; };
  std::string out = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart tl\" width=\"{:.0f}\" "
      "height=\"{:.0f}\" viewBox=\"0 0 {:.0f} {:.0f}\">\n",
      width, height, width, height);
  // Time axis in ms relative to the op at fault.
  const double origin = ops.ops[focus[0]].start_s;
  const double span_ms = (hi - lo) * 1000.0;
  const double step = internal::NiceStep(span_ms / 8);
  for (double t = std::ceil((lo - origin) * 1000.0 / step) * step; t <= (hi - origin) * 1000.0;
       t += step) {
    const double x = x_of(origin + t / 1000.0);
    out += fmt::format(
        "<line class=\"grid\" x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{:.1f}\" y2=\"{:.1f}\"/><text "
        "x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>\n",
        x, x, top - 4, height - 28, x, height - 14, internal::FormatTick(t));
  }
  out += fmt::format(
      "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\">ms from the invocation of op "
      "{}</text>\n",
      width - 20, height - 2, ops.ops[focus[0]].index);
  out += fmt::format("<text class=\"title\" x=\"4\" y=\"{:.1f}\">process</text>\n", top - 10);
  for (const auto& [proc, row] : rows) {
    out += fmt::format("<text x=\"4\" y=\"{:.1f}\">{}</text>\n",
                       top + row_h * static_cast<double>(row) + 16, proc);
  }
  for (size_t s : shown) {
    const Interval& v = ops.ops[s];
    const double x0 = x_of(std::max(v.start_s, lo));
    const double x1 = std::max(x0 + 3, x_of(std::min(v.end_s, hi)));
    const double y = top + row_h * static_cast<double>(rows[v.process]) + 3;
    std::string cls = std::string(1, v.outcome);
    if (focus_set.count(s) != 0) cls += " focus";
    if (key != 0 && v.key != key) cls += " faint";
    out += fmt::format(
        "<g class=\"op {}\" data-op-index=\"{}\"><title>op {}: {}</title><rect x=\"{:.1f}\" "
        "y=\"{:.1f}\" width=\"{:.1f}\" height=\"18\"/>",
        cls, v.index, v.index, Esc(ops.Describe(v)), x0, y, x1 - x0);
    std::string label = fmt::format("{} {}", v.index, BarLabel(ops, v));
    const auto room = static_cast<size_t>(std::max(0.0, (x1 - x0 - 6) / 6.4));
    if (room >= 4) {
      if (label.size() > room) {
        size_t cut = room - 1;  // on a UTF-8 character boundary
        while (cut > 0 && (static_cast<unsigned char>(label[cut]) & 0xC0) == 0x80) --cut;
        label = label.substr(0, cut) + "\u2026";
      }
      out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\">{}</text>", x0 + 3, y + 13, Esc(label));
    }
    out += "</g>\n";
  }
  out += "</svg>\n";
  return out;
}

std::string AnomalyId(const Anomaly& a) {
  std::string id = fmt::format("anomaly-{}-{}-{}", a.checker, a.kind, a.number);
  for (char& c : id) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '-') c = '-';
  }
  return id;
}

std::string AnomalySection(const Run& run, const std::optional<Ops>& ops,
                           const ReportOptions& options) {
  if (run.anomalies.empty()) return "";
  std::string out =
      "<section class=\"plot\" id=\"anomalies\"><h2>Anomalies</h2><p class=\"sub\">Each anomaly "
      "the checkers found, with the checker's explanation and the ops it names (red) on a "
      "per-process timeline; ops of other keys are faint. Hover a bar for the op.</p>\n";
  size_t timelines = 0;
  std::map<std::string, size_t> untold;  // checker/kind -> anomalies without their own example
  for (const Anomaly& a : run.anomalies) {
    const bool told = !a.ops.empty();
    if (!told) {
      ++untold[a.checker + "/" + a.kind];
      continue;
    }
    out += fmt::format(
        "<div class=\"card problem\" id=\"{}\"><h2>{} {} of {} <span class=\"sub\">({})</span></h2>"
        "<div class=\"why\">{}</div>\n",
        AnomalyId(a), Esc(a.kind), a.number, a.of, Esc(a.checker), Esc(a.explanation));
    if (ops && timelines < options.max_timelines) {
      std::string tl = AnomalyTimeline(*ops, a);
      if (!tl.empty()) {
        ++timelines;
        out += tl;
      }
    }
    out += "</div>\n";
  }
  for (const auto& [what, n] : untold) {
    const size_t slash = what.find('/');
    const std::string checker = what.substr(0, slash);
    const std::string kind = what.substr(slash + 1);
    std::string summary =
        Str(At(At(run.kind == "wave" ? At(At(run.results, "parts"), "campaign") : run.results,
                  "checkers"),
               checker),
            "summary");
    out += fmt::format(
        "<div class=\"card problem\" id=\"kind-{}-{}\"><h2>{} more {} ({})</h2><div>The checker "
        "counted them without naming each op; its summary: <code>{}</code></div></div>\n",
        Esc(checker), Esc(kind), n, Esc(kind), Esc(checker), Esc(summary));
  }
  out += "</section>\n";
  return out;
}

std::string Kv(std::string_view k, const std::string& v_html) {
  return fmt::format("<b>{}</b><span>{}</span>", k, v_html);
}

std::string Header(const Run& run, const std::optional<Ops>& ops, const ReportOptions& options) {
  const Json& campaign =
      run.kind == "wave" ? At(At(run.results, "parts"), "campaign") : run.results;
  std::string verdict = Str(run.results, "valid");
  if (run.kind == "wave") verdict = Str(run.results, "verdict", "unknown");
  if (run.kind == "fit") verdict = Str(run.results, "hypothesis", "unknown");
  if (run.kind == "drill") {
    verdict = "pass";
    for (const Json& s : At(run.drill_summary, "scenarios")) {
      const std::string v = Str(s, "verdict");
      if (v != "pass" && v != "passed") verdict = v;
    }
  }
  std::string out = fmt::format(
      "<header><h1>{} report: {} <span class=\"verdict {}\">{}</span></h1>\n<div class=\"kv\">",
      Esc(run.kind), Esc(run.title), VerdictClass(verdict), Esc(verdict));
  // Checkers.
  std::map<std::string, std::vector<const Anomaly*>> by_checker;
  for (const Anomaly& a : run.anomalies) by_checker[a.checker].push_back(&a);
  const Json& checkers = At(campaign, "checkers");
  if (checkers.is_object() && !checkers.empty()) {
    std::string rows = "<table class=\"t\">";
    for (const auto& [name, c] : checkers.items()) {
      std::string v = Str(c, "verdict", Str(c, "valid", ""));
      std::string summary = Str(c, "summary");
      if (v.empty()) v = summary.substr(0, summary.find(' '));
      std::map<std::string, int64_t> counts = CountsOf(name, c);
      std::string count_text;
      for (const auto& [kind, n] : counts) {
        count_text += fmt::format("{}{} {}", count_text.empty() ? "" : ", ", n, kind);
      }
      std::string chips;
      for (const Anomaly* a : by_checker[name]) {
        const std::string href =
            !a->ops.empty() ? AnomalyId(*a) : fmt::format("kind-{}-{}", a->checker, a->kind);
        chips += fmt::format(
            "<a class=\"anomaly\" data-anomaly=\"{}/{}/{}\" href=\"#{}\">{} {}</a>",
            Esc(a->checker), Esc(a->kind), a->number, Esc(href), Esc(a->kind), a->number);
      }
      rows += fmt::format(
          "<tr><td><b>{}</b></td><td class=\"v-{}\">{}</td><td>{}<div "
          "class=\"sub\">{}</div>{}</td></tr>",
          Esc(name), VerdictClass(v), Esc(v), Esc(count_text.empty() ? "no anomalies" : count_text),
          Esc(summary), chips.empty() ? "" : "<div class=\"chips\">" + chips + "</div>");
    }
    rows += "</table>";
    out += Kv("checkers", rows);
  }
  // The system, faults, seed.
  const Json& cfg = run.config.is_object() ? run.config : At(campaign, "config");
  if (cfg.is_object()) {
    out += Kv("system", Esc(fmt::format("{} on a {}-node {} cluster; workload {}, {} reads, "
                                        "concurrency {}, {} s",
                                        Str(cfg, "db", "etcd"), Str(cfg, "nodes", "?"),
                                        Str(cfg, "cluster", "local"), Str(cfg, "workload", "?"),
                                        Str(cfg, "read_mode", "?"), Str(cfg, "concurrency", "?"),
                                        Str(cfg, "time_limit", "?"))));
    out += Kv("nemesis", Esc(Str(cfg, "nemesis", "none")));
  }
  if (run.kind == "drill") {
    std::string s;
    for (const Json& inc : run.incidents) {
      s += fmt::format("{}{} {} ({}, {})", s.empty() ? "" : "; ", Str(inc, "scenario"),
                       Str(inc, "title"), Str(inc, "severity"), Str(inc, "category"));
    }
    out += Kv("scenarios", Esc(s));
  }
  {
    std::map<std::string, int> kinds;
    for (const FaultWindow& w : run.faults) ++kinds[w.label];
    std::string s;
    for (const auto& [label, n] : kinds)
      s += fmt::format("{}{} × {}", s.empty() ? "" : ", ", n, label);
    out += Kv("faults", Esc(s.empty() ? "none"
                                      : fmt::format("{} window{}: {}", run.faults.size(),
                                                    run.faults.size() == 1 ? "" : "s", s)));
  }
  if (At(campaign, "seed").is_number() || At(cfg, "seed").is_number()) {
    out += Kv("seed", Esc(Str(campaign, "seed", Str(cfg, "seed"))));
  }
  out += Kv("command", "<code>" +
                           Esc(options.command_line.empty() ? run.command : options.command_line) +
                           "</code>");
  for (const LogAudit& a : run.audits) {
    out += Kv("log", fmt::format("<code>{}</code> head <code>{}</code>: audit verify <span "
                                 "class=\"v-{}\">{}</span> ({})",
                                 Esc(a.file), Esc(a.head.empty() ? "-" : a.head),
                                 a.passed ? "valid" : "invalid",
                                 a.passed ? "passed" : "FAILED: " + Esc(a.status), Esc(a.message)));
  }
  if (ops && !ops->ops.empty()) {
    size_t counts[4] = {0, 0, 0, 0};
    for (const Interval& v : ops->ops) {
      ++counts[v.outcome == 'k' ? 0 : v.outcome == 'f' ? 1 : v.outcome == 'i' ? 2 : 3];
    }
    out += Kv("ops", Esc(fmt::format("{} client ops: {} ok, {} fail, {} info, {} never completed; "
                                     "{:.1f} s",
                                     ops->ops.size(), counts[0], counts[1], counts[2], counts[3],
                                     ops->t_max)));
  }
  if (!run.history_note.empty()) out += Kv("log note", Esc(run.history_note));
  out += "</div></header>\n";
  return out;
}

// The drill: recovery timeline, probes, siege curves, incidents and safeguards.
std::string DrillSection(const Run& run, TimeRange range) {
  std::string out;
  for (const Json& inc : run.incidents) {
    const Json& times = At(inc, "times_ms");
    out += fmt::format(
        "<section class=\"plot drill\" id=\"drill-{}\"><h2>Drill {}: {} <span class=\"verdict "
        "{}\" style=\"font-size:12px;padding:1px 8px;border-radius:9px;color:#fff\">{}</span></h2>"
        "<p class=\"sub\">{}</p>\n",
        Esc(Str(inc, "scenario")), Esc(Str(inc, "scenario")), Esc(Str(inc, "title")),
        VerdictClass(Str(inc, "verdict")), Esc(Str(inc, "verdict")), Esc(Str(inc, "reason")));
    // Recovery timeline: throughput % of the probes, with fault / detection / repair / recovered /
    // limit marked.
    Plot p(1150, 210, range.t0, range.t1);
    p.y0 = 0;
    p.y1 = 110;
    p.Begin("recovery", run.drill_axis, "throughput (% of baseline)");
    const double fault_s = run.drill_shift_s + [&] {
      for (const Json& f : At(inc, "faults")) return Num(f, "offset_ms") / 1000.0;
      return 0.0;
    }();
    ShadeFaults(p, run.faults, false, false);
    std::string pts;
    std::string broken;
    for (const Json& pr : At(inc, "probes")) {
      const double t = fault_s + Num(pr, "offset_ms") / 1000.0;
      if (t < range.t0) continue;  // probes before the drill's start (the baseline)
      const double y = p.Y(std::clamp(Num(pr, "throughput_percent"), 0.0, 110.0));
      pts += fmt::format("{:.1f},{:.1f} ", p.X(t), y);
      if (At(pr, "steady").is_boolean() && !At(pr, "steady").get<bool>()) {
        broken += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"#c62828\"/>",
                              p.X(t), y);
      }
    }
    p.out += fmt::format("<polyline class=\"qline\" style=\"stroke:#1565c0\" points=\"{}\"/>{}\n",
                         pts, broken);
    auto mark = [&](const char* label, double ms, const char* color, int row) {
      if (ms < 0) return;
      const double x = p.X(fault_s + ms / 1000.0);
      p.out += fmt::format(
          "<line x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"{}\" "
          "stroke-width=\"1.6\" stroke-dasharray=\"5 3\"/><text x=\"{:.1f}\" y=\"{:.1f}\" "
          "style=\"fill:{}\">{} +{:.1f} s</text>\n",
          x, x, p.top, p.top + p.height, color, x + 3, p.top + 12 + 12 * row, color, label,
          ms / 1000.0);
    };
    mark("fault", 0, "#6a3fb5", 0);
    mark("first error", Num(times, "detection", -1), "#e08a00", 1);
    mark("repaired", Num(times, "repair", -1), "#00838f", 2);
    mark("recovered", Num(times, "recovery", -1), "#2e7d32", 3);
    mark("limit", Num(times, "limit", -1), "#c62828", 4);
    p.End();
    out +=
        "<div class=\"legend\"><span style=\"color:#1565c0\">&#9473; probe throughput</span>"
        "<span style=\"color:#c62828\">&#9679; steady state broken</span><span>dashed: fault, "
        "first error, repaired, recovered, limit (offsets from the fault)</span></div>";
    out += p.out;
    if (Str(inc, "recovery_explanation") != Str(inc, "reason")) {
      out += fmt::format("<p class=\"sub\">{}</p>", Esc(Str(inc, "recovery_explanation")));
    }
    // Siege figures: target vs achieved.
    if (const Json& s = At(inc, "siege"); s.is_array() && !s.empty()) {
      out += "<h2>Siege: target vs achieved</h2><ul>";
      for (const Json& x : s)
        out +=
            "<li class=\"mono\">" + Esc(x.is_string() ? x.get<std::string>() : x.dump()) + "</li>";
      out += "</ul>";
    }
    // Events table: faults, safeguards, playbooks.
    out +=
        "<h2>Incidents and safeguard actions</h2><table class=\"t\"><tr><th>+ms</th><th>source"
        "</th><th>kind</th><th>node</th><th>detail</th></tr>";
    for (const Json& e : At(inc, "events")) {
      const std::string src = Str(e, "source");
      if (src == "probe") continue;
      const bool ok = !At(e, "ok").is_boolean() || At(e, "ok").get<bool>();
      out += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td></tr>",
                         Str(e, "offset_ms"), Esc(src), Esc(Str(e, "kind")), Esc(Str(e, "node")),
                         Esc(Str(e, "detail")), ok ? "" : " <b class=\"v-invalid\">(failed)</b>");
    }
    out += "</table>";
    auto names = [](const Json& list) {
      std::string text;
      for (const Json& x : list) {
        text += (text.empty() ? "" : ", ") + (x.is_string() ? x.get<std::string>() : x.dump());
      }
      return text.empty() ? std::string("none") : text;
    };
    out += fmt::format("<p class=\"sub\">Safeguards fired: {}. Expected but missing: {}.</p>",
                       Esc(names(At(inc, "safeguards_fired"))),
                       Esc(names(At(inc, "safeguards_missing"))));
    out += "</section>\n";
  }
  // Resource curves (CPU % and memory per node) from the metrics timeline.
  if (!run.metrics.empty()) {
    std::map<std::string, std::string> cpu;
    std::map<std::string, std::string> mem;
    double cpu_hi = 100;
    double mem_hi = 1;
    for (const Json& inc : run.incidents) {
      for (const Json& x : At(inc, "siege")) {
        if (x.is_string() && x.get<std::string>().find("MiB of ") != std::string::npos) {
          const std::string t = x.get<std::string>();
          mem_hi = std::max(mem_hi, std::strtod(t.c_str() + t.find("MiB of ") + 7, nullptr));
        }
      }
    }
    for (const Json& m : run.metrics) {
      for (const Json& n : At(m, "nodes")) {
        cpu_hi = std::max(cpu_hi, Num(n, "cpu_percent"));
        mem_hi = std::max(mem_hi, Num(n, "memory_bytes") / 1048576.0);
      }
    }
    Plot pc(1150, 200, range.t0, range.t1);
    pc.y0 = 0;
    pc.y1 = cpu_hi * 1.1;
    pc.Begin("cpu", run.drill_axis, "CPU (% of one core)");
    ShadeFaults(pc, run.faults, false, false);
    Plot pm(1150, 200, range.t0, range.t1);
    pm.y0 = 0;
    pm.y1 = mem_hi * 1.1;
    pm.Begin("memory", run.drill_axis, "memory (MiB)");
    ShadeFaults(pm, run.faults, false, false);
    for (const Json& m : run.metrics) {
      const double t = run.drill_shift_s + Num(m, "offset_ms") / 1000.0;
      for (const Json& n : At(m, "nodes")) {
        const std::string node = Str(n, "node");
        if (At(n, "cpu_percent").is_number()) {
          cpu[node] += fmt::format("{:.1f},{:.1f} ", pc.X(t), pc.Y(Num(n, "cpu_percent")));
        }
        if (At(n, "memory_bytes").is_number()) {
          mem[node] +=
              fmt::format("{:.1f},{:.1f} ", pm.X(t), pm.Y(Num(n, "memory_bytes") / 1048576.0));
        }
      }
    }
    static constexpr const char* kColors[] = {"#1565c0", "#2e7d32", "#ad1457", "#e08a00",
                                              "#6a3fb5", "#00838f", "#5d4037"};
    // Siege targets from the drills' figures ("siege on n1: valid; cpu 95.3 of 95.0 % of one CPU
    // ...; memory 256.2 MiB of 256.0 MiB ..."), drawn dashed over the node's measured curve.
    std::map<std::string, std::pair<double, double>> targets;  // node -> (cpu %, memory MiB)
    for (const Json& inc : run.incidents) {
      for (const Json& x : At(inc, "siege")) {
        if (!x.is_string()) continue;
        const std::string text = x.get<std::string>();
        if (!text.starts_with("siege on ")) continue;
        const std::string node = text.substr(9, text.find(':') - 9);
        auto number_after = [&](const std::string& prefix) {
          const size_t at = text.find(prefix);
          if (at == std::string::npos) return -1.0;
          const size_t of = text.find(" of ", at + prefix.size());
          if (of == std::string::npos) return -1.0;
          return std::strtod(text.c_str() + of + 4, nullptr);
        };
        targets[node] = {number_after("cpu "), number_after("memory ")};
      }
    }
    std::string legend = "<div class=\"legend\">";
    size_t i = 0;
    for (const auto& [node, pts] : cpu) {
      const char* color = kColors[i++ % 7];
      pc.out +=
          fmt::format("<polyline class=\"qline\" style=\"stroke:{}\" points=\"{}\"/>", color, pts);
      if (mem.count(node) != 0) {
        pm.out += fmt::format("<polyline class=\"qline\" style=\"stroke:{}\" points=\"{}\"/>",
                              color, mem[node]);
      }
      legend += fmt::format("<span style=\"color:{}\">&#9473; {}</span>", color, Esc(node));
      auto it = targets.find(node);
      if (it == targets.end()) continue;
      auto target_line = [&](Plot& plot, double value) {
        if (value < 0) return;
        plot.out += fmt::format(
            "<line x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"{}\" "
            "stroke-width=\"1.4\" stroke-dasharray=\"6 4\"/><text x=\"{:.1f}\" y=\"{:.1f}\" "
            "style=\"fill:{}\">{} siege target {}</text>",
            plot.X(range.t0), plot.X(range.t1), plot.Y(value), plot.Y(value), color,
            plot.X(range.t0) + 4, plot.Y(value) - 4, color, Esc(node), internal::FormatTick(value));
      };
      target_line(pc, it->second.first);
      target_line(pm, it->second.second);
    }
    legend += "</div>";
    pc.End();
    pm.End();
    out +=
        "<section class=\"plot\" id=\"resources\"><h2>Resources per node</h2><p class=\"sub\">"
        "From each node's own cgroups and /proc (resource_metrics_timeline.json); a siege's "
        "target is in its drill's section above.</p>" +
        legend + pc.out + pm.out + "</section>\n";
  }
  return out;
}

// A KPI timeline line is {"second": S, "group": "control", "success_rate": ..., ...} (fit/'s
// kpi-timeline.jsonl), or {"t_s": S, "control": {...}, "experiment": {...}}. -1 when absent.
double KpiAt(const Json& line, const char* group, const char* kpi) {
  if (At(line, "group").is_string()) {
    return Str(line, "group") == group && At(line, kpi).is_number() ? Num(line, kpi) : -1;
  }
  return At(At(line, group), kpi).is_number() ? Num(At(line, group), kpi) : -1;
}
double KpiSecond(const Json& line) { return Num(line, "second", Num(line, "t_s", 0)); }

// FIT: control vs experiment KPIs per second, with the abort.
std::string FitSection(const Run& run, TimeRange range) {
  if (!run.fit.is_object()) return "";
  std::string out = fmt::format(
      "<section class=\"plot\" id=\"fit\"><h2>FIT experiment: <span class=\"v-{}\">{}</span></h2>",
      VerdictClass(Str(run.fit, "hypothesis")), Esc(Str(run.fit, "hypothesis", "?")));
  const Json& kpis = At(run.fit, "kpis");
  out +=
      "<table class=\"t\"><tr><th>group</th><th>success rate</th><th>p50 (ms)</th><th>p99 (ms)"
      "</th><th>requests/s</th></tr>";
  for (const char* g : {"control", "experiment"}) {
    const Json& k = At(kpis, g);
    out += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", g,
                       Esc(Str(k, "success_rate", "-")), Esc(Str(k, "p50_ms", "-")),
                       Esc(Str(k, "p99_ms", "-")), Esc(Str(k, "rps", "-")));
  }
  out += "</table>";
  const Json& abort = At(run.fit, "abort");
  double abort_s = -1;
  if (abort.is_object()) {
    abort_s = Num(abort, "tripped_at_ms", Num(abort, "at_ms", -1)) / 1000.0;
    if (abort_s < 0) abort_s = Num(abort, "at_s", -1);
    out += fmt::format(
        "<p><b class=\"v-invalid\">Aborted</b> at {:.2f} s on {}; faults removed in "
        "{} ms.</p>",
        abort_s, Esc(Str(abort, "kpi", "?")), Esc(Str(abort, "faults_removed_ms", "?")));
  }
  if (run.kpi_timeline.empty()) {
    out +=
        "<p class=\"sub\">No per-second KPI timeline file found beside "
        "results.json.</p></section>\n";
    return out;
  }
  const std::pair<const char*, const char*> kpi_names[] = {{"success_rate", "success rate"},
                                                           {"p99_ms", "p99 latency (ms)"},
                                                           {"rps", "requests per second"}};
  for (const auto& [kpi, label] : kpi_names) {
    double hi = 0;
    for (const Json& x : run.kpi_timeline) {
      for (const char* g : {"control", "experiment"}) hi = std::max(hi, KpiAt(x, g, kpi));
    }
    Plot p(1150, 170, range.t0, range.t1);
    p.y0 = 0;
    p.y1 = std::max(hi * 1.1, std::string_view(kpi) == "success_rate" ? 1.0 : 1e-9);
    p.Begin(kpi, "time since the run started (s)", label);
    ShadeFaults(p, run.faults, false, false);
    for (const char* g : {"control", "experiment"}) {
      std::string pts;
      for (const Json& x : run.kpi_timeline) {
        const double v = KpiAt(x, g, kpi);
        if (v < 0) continue;
        // A second's KPIs are drawn at its middle.
        pts += fmt::format("{:.1f},{:.1f} ", p.X(KpiSecond(x) + 0.5), p.Y(v));
      }
      p.out += fmt::format("<polyline class=\"qline\" style=\"stroke:{}\" points=\"{}\"/>",
                           std::string_view(g) == "control" ? "#1565c0" : "#c62828", pts);
    }
    if (abort_s >= 0) {
      const double x = p.X(abort_s);
      p.out += fmt::format(
          "<line x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#c62828\" "
          "stroke-width=\"2\"/><text x=\"{:.1f}\" y=\"{:.1f}\" style=\"fill:#c62828\">abort</text>",
          x, x, p.top, p.top + p.height, x + 3, p.top + 12);
    }
    p.End();
    out += p.out;
  }
  out +=
      "<div class=\"legend\"><span style=\"color:#1565c0\">&#9473; control</span><span "
      "style=\"color:#c62828\">&#9473; experiment</span><span>red line: "
      "abort</span></div></section>\n";
  return out;
}

std::string WaveSection(const Run& run) {
  const Json& parts = At(run.results, "parts");
  if (!parts.is_object()) return "";
  std::string out = "<section class=\"plot\" id=\"wave\"><h2>Wave parts</h2><table class=\"t\">";
  const Json& c = At(parts, "campaign");
  const Json& d = At(parts, "drill");
  const Json& f = At(parts, "fit");
  out += fmt::format("<tr><td>campaign</td><td class=\"v-{}\">{}</td></tr>",
                     VerdictClass(Str(c, "valid")), Esc(Str(c, "valid", "-")));
  const bool passed = At(d, "passed").is_boolean() && At(d, "passed").get<bool>();
  out += fmt::format(
      "<tr><td>drill</td><td class=\"v-{}\">{}</td><td>recovery {} ms, limit {} ms</td></tr>",
      passed ? "valid" : "invalid", passed ? "passed" : "failed", Esc(Str(d, "recovery_ms", "-")),
      Esc(Str(d, "limit_ms", "-")));
  out += fmt::format("<tr><td>fit</td><td class=\"v-{}\">{}</td></tr>",
                     VerdictClass(Str(f, "hypothesis")), Esc(Str(f, "hypothesis", "-")));
  out += "</table><p class=\"sub\">Every plot on this page shares one time axis.</p></section>\n";
  return out;
}

}  // namespace

Result<std::string> RenderReport(const std::string& path, const ReportOptions& options,
                                 ReportFigures* figures) {
  const fs::path where(path);
  if (!fs::exists(where)) {
    return MakeError(ErrorCode::kNotFound,
                     fmt::format("report: {}: no such run directory or history file", path));
  }
  FAULTLINE_ASSIGN_OR_RETURN(
      Run run, fs::is_directory(where) ? LoadDirectory(where) : LoadHistoryFile(where, options));
  const std::optional<Ops>& ops = run.ops;
  const TimeRange range = RangeOf(run, ops);
  std::unordered_set<size_t> anomaly_slots;
  if (ops) {
    for (const Anomaly& a : run.anomalies) {
      for (int64_t idx : a.ops) {
        auto slot = ops->Find(idx);
        if (slot && ops->ops[*slot].outcome != 'o') anomaly_slots.insert(*slot);
      }
    }
  }
  std::string body;
  size_t drawn = 0;
  if (run.kind == "wave") body += WaveSection(run);
  if (ops && !ops->ops.empty()) {
    body += LatencyPlot(run, *ops, range, options, anomaly_slots, &drawn);
    body += ThroughputPlot(run, *ops, range);
  } else if (!run.faults.empty()) {
    // No client history: the fault windows still get their checkable elements.
    Plot p(1150, 60 + 13 * static_cast<double>(std::min<size_t>(run.faults.size(), 8)), range.t0,
           range.t1);
    p.y0 = 0;
    p.y1 = 0;  // no value axis: only the windows
    p.Begin("faults", "time since the run started (s)", "");
    ShadeFaults(p, run.faults, true, true);
    p.End();
    body +=
        "<section class=\"plot\" id=\"latency\"><h2>Fault windows</h2>" + p.out + "</section>\n";
  }
  body += AnomalySection(run, ops, options);
  if (!run.incidents.empty() || !run.metrics.empty()) body += DrillSection(run, range);
  body += FitSection(run, range);

  const int64_t anomaly_count = static_cast<int64_t>(run.anomalies.size());
  std::string out =
      checker::html::PageHead(fmt::format("faultline {} report: {}", run.kind, run.title), kCss);
  out += fmt::format(
      "<body data-kind=\"{}\" data-anomaly-count=\"{}\" data-fault-count=\"{}\" "
      "data-points-drawn=\"{}\">\n",
      run.kind, anomaly_count, run.faults.size(), drawn);
  out += Header(run, ops, options);
  out += "<main>\n" + body + "</main>\n<script>" + kScript + "</script>\n</body>\n</html>\n";
  if (figures != nullptr) {
    figures->kind = run.kind;
    figures->anomaly_count = anomaly_count;
    figures->fault_windows = run.faults.size();
    figures->ops = ops ? ops->ops.size() : 0;
    figures->points_drawn = drawn;
    figures->html_bytes = out.size();
  }
  return out;
}

Result<ReportFigures> WriteReport(const std::string& path, std::string out,
                                  const ReportOptions& options) {
  ReportFigures figures;
  FAULTLINE_ASSIGN_OR_RETURN(std::string html, RenderReport(path, options, &figures));
  if (out.empty()) {
    out =
        fs::is_directory(path) ? (fs::path(path) / "report.html").string() : path + ".report.html";
  }
  Status written = WriteFileAtomic(out, html);
  if (!written) return std::move(written).error().WithContext("report");
  return figures;
}

Result<int64_t> AnomalyCountOf(const std::string& results_json_text) {
  Json j = Json::parse(results_json_text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return MakeError(ErrorCode::kInvalidArgument, "report: results.json: expected a JSON object");
  }
  if (At(j, "anomaly_count").is_number_integer()) return At(j, "anomaly_count").get<int64_t>();
  return static_cast<int64_t>(AnomaliesOf(At(j, "checkers")).size());
}

namespace {

struct SummaryRow {
  std::string dir;
  std::string seed;
  std::string valid;
  std::vector<std::pair<std::string, std::string>> checkers;  // name -> validity
  std::string rerun;
};

Result<std::vector<SummaryRow>> SummaryRows(const std::vector<std::string>& run_dirs) {
  std::vector<SummaryRow> rows;
  for (const std::string& d : run_dirs) {
    FAULTLINE_ASSIGN_OR_RETURN(Json r, LoadJson(fs::path(d) / "results.json"));
    SummaryRow row;
    row.dir = d;
    row.seed = Str(r, "seed");
    row.valid = Str(r, "valid", "unknown");
    for (const auto& [name, c] : At(r, "checkers").items()) {
      std::string v = Str(c, "verdict", Str(c, "valid"));
      if (v.empty()) v = Str(c, "summary").substr(0, Str(c, "summary").find(' '));
      row.checkers.emplace_back(name, v);
    }
    // Each run's config.json holds its own seed and the whole campaign's test_count.
    row.rerun = fmt::format("faultline campaign --config {} --test-count 1",
                            (fs::path(d) / "config.json").string());
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace

Result<std::string> RenderSummaryText(const std::vector<std::string>& run_dirs) {
  FAULTLINE_ASSIGN_OR_RETURN(std::vector<SummaryRow> rows, SummaryRows(run_dirs));
  size_t found = 0;
  std::map<std::string, size_t> per_checker;
  for (const SummaryRow& r : rows) {
    if (r.valid == "invalid") ++found;
    for (const auto& [name, v] : r.checkers) per_checker[name] += v == "invalid" ? 1 : 0;
  }
  std::string out = fmt::format("summary: anomalies found in {} of {} runs\n", found, rows.size());
  for (const auto& [name, n] : per_checker)
    out += fmt::format("  {:<15} invalid in {} of {}\n", name + ":", n, rows.size());
  for (const SummaryRow& r : rows) {
    out += fmt::format("  seed {:<8} {:<8} {}\n", r.seed, r.valid, r.dir);
    if (r.valid != "valid") out += fmt::format("    rerun: {}\n", r.rerun);
  }
  return out;
}

Result<std::string> RenderSummaryPage(const std::vector<std::string>& run_dirs,
                                      const std::string& command_line) {
  FAULTLINE_ASSIGN_OR_RETURN(std::vector<SummaryRow> rows, SummaryRows(run_dirs));
  size_t found = 0;
  std::vector<std::string> names;
  std::map<std::string, size_t> per_checker;
  for (const SummaryRow& r : rows) {
    if (r.valid == "invalid") ++found;
    for (const auto& [name, v] : r.checkers) {
      if (per_checker.emplace(name, 0).second) names.push_back(name);
      per_checker[name] += v == "invalid" ? 1 : 0;
    }
  }
  std::string out = checker::html::PageHead("faultline campaign summary", kCss);
  out += fmt::format("<body data-runs=\"{}\" data-found=\"{}\">\n", rows.size(), found);
  out += fmt::format(
      "<header><h1>Campaign summary <span class=\"verdict {}\">found in {} of {}</span></h1><div "
      "class=\"stats\"><code>{}</code></div></header>\n<main>\n",
      found > 0 ? "invalid" : "valid", found, rows.size(), Esc(command_line));
  out += "<section class=\"plot\"><h2>Per checker</h2><table class=\"t\">";
  for (const std::string& n : names) {
    out += fmt::format("<tr><td>{}</td><td>invalid in {} of {}</td></tr>", Esc(n), per_checker[n],
                       rows.size());
  }
  out +=
      "</table></section>\n<section class=\"plot\"><h2>Runs</h2><table class=\"t\" id=\"runs\"><tr>"
      "<th>seed</th><th>verdict</th>";
  for (const std::string& n : names) out += "<th>" + Esc(n) + "</th>";
  out += "<th>report</th><th>rerun</th></tr>";
  for (const SummaryRow& r : rows) {
    out += fmt::format("<tr class=\"run\" data-valid=\"{}\"><td>{}</td><td class=\"v-{}\">{}</td>",
                       Esc(r.valid), Esc(r.seed), VerdictClass(r.valid), Esc(r.valid));
    for (const std::string& n : names) {
      std::string v = "-";
      for (const auto& [name, x] : r.checkers) {
        if (name == n) v = x;
      }
      out += fmt::format("<td class=\"v-{}\">{}</td>", VerdictClass(v), Esc(v));
    }
    out +=
        fmt::format("<td><a href=\"{}\">report.html</a></td><td>{}</td></tr>",
                    Esc((fs::path(fs::path(r.dir).filename()) / "report.html").string()),
                    r.valid == "valid" ? "" : "<code class=\"rerun\">" + Esc(r.rerun) + "</code>");
  }
  out += "</table></section>\n</main>\n<script>";
  out += kScript;
  out += "</script>\n</body>\n</html>\n";
  return out;
}

}  // namespace faultline::report
