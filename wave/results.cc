#include "wave/results.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <map>

#include "checker/junit_case.h"
#include "history/fields.h"

namespace faultline::wave {
namespace {

// Position in the ranking: higher is worse.
int Rank(int code) {
  switch (code) {
    case kExitValid:
      return 0;
    case kExitUnknown:
      return 1;
    case kExitInvalid:
      return 2;
    default:
      return 3;
  }
}

double Seconds(std::int64_t ns) { return static_cast<double>(ns) / 1e9; }

Json Milliseconds(const std::optional<std::chrono::milliseconds>& ms) {
  return ms ? Json(ms->count()) : Json(nullptr);
}

}  // namespace

int WorstExitCode(std::span<const int> codes) {
  int worst = kExitValid;
  for (int c : codes) {
    const int code = (c < 0 || c > 3) ? kExitError : c;
    if (Rank(code) > Rank(worst)) worst = code;
  }
  return worst;
}

std::string_view VerdictName(int exit_code) {
  switch (exit_code) {
    case kExitValid:
      return "valid";
    case kExitInvalid:
      return "invalid";
    case kExitUnknown:
      return "unknown";
    default:
      return "error";
  }
}

int CampaignExitCode(checker::Validity validity) {
  switch (validity) {
    case checker::Validity::kValid:
      return kExitValid;
    case checker::Validity::kInvalid:
      return kExitInvalid;
    case checker::Validity::kUnknown:
      break;
  }
  return kExitUnknown;
}

int DrillExitCode(dirt::Verdict verdict) {
  switch (verdict) {
    case dirt::Verdict::kPass:
      return kExitValid;
    case dirt::Verdict::kFail:
    case dirt::Verdict::kInvalid:
    case dirt::Verdict::kAborted:
      return kExitInvalid;
    case dirt::Verdict::kError:
      break;
  }
  return kExitError;
}

int FitExitCode(int fit_exit_code) {
  return fit_exit_code >= 0 && fit_exit_code <= 2 ? fit_exit_code : kExitError;
}

PartResult ErrorPart(std::string name, std::string message) {
  PartResult p;
  p.name = std::move(name);
  p.exit_code = kExitError;
  p.summary = "error: " + message;
  p.json = Json{{"error", std::move(message)}};
  return p;
}

PartResult CampaignPart(const Json& results, checker::Validity validity) {
  PartResult p;
  p.name = "campaign";
  p.exit_code = CampaignExitCode(validity);
  p.json = results;
  p.summary = std::string(checker::ValidityName(validity));
  if (results.contains("checkers") && results["checkers"].is_object()) {
    std::vector<std::string> parts;
    for (const auto& [name, c] : results["checkers"].items()) {
      if (c.contains("summary") && c["summary"].is_string()) {
        parts.push_back(fmt::format("{}: {}", name, c["summary"].get<std::string>()));
      }
    }
    if (!parts.empty()) p.summary += fmt::format(" ({})", fmt::join(parts, "; "));
  }
  return p;
}

PartResult DrillPart(const dirt::DrillResult& d, std::string incident_file) {
  PartResult p;
  p.name = "drill";
  p.exit_code = DrillExitCode(d.verdict);
  p.summary = fmt::format("{}: {}", dirt::VerdictName(d.verdict), d.reason);
  Json j;
  j["scenario"] = d.scenario_id;
  j["passed"] = d.verdict == dirt::Verdict::kPass;
  j["verdict"] = std::string(dirt::VerdictName(d.verdict));
  j["reason"] = d.reason;
  j["recovery_ms"] = Milliseconds(d.recovery.recovery);
  j["limit_ms"] = d.recovery.limit.count();
  j["detection_ms"] = Milliseconds(d.recovery.detection);
  j["repair_ms"] = Milliseconds(d.recovery.repair);
  j["explanation"] = d.recovery.explanation;
  j["safeguards_fired"] = d.safeguards_fired;
  j["safeguards_missing"] = d.safeguards_missing;
  j["serves_after"] = d.serves_after;
  j["baseline_ops_per_s"] = d.baseline_ops_per_s;
  j["incident_file"] = std::move(incident_file);
  j["notes"] = d.notes;
  p.json = std::move(j);
  return p;
}

PartResult FitPart(const Json& results, const std::string& hypothesis, int fit_exit_code) {
  PartResult p;
  p.name = "fit";
  p.exit_code = FitExitCode(fit_exit_code);
  p.summary = hypothesis;
  p.json = results;
  return p;
}

PartResult LogPatternsPart(const checker::LogPatternReport& scan) {
  const checker::Verdict v = checker::LogPatternVerdict(scan);
  PartResult p;
  p.name = "log_patterns";
  p.exit_code = CampaignExitCode(v.validity);
  p.summary = v.summary;
  p.json = Json{{"validity", std::string(checker::ValidityName(v.validity))},
                {"summary", v.summary},
                {"exceeded", checker::ExceededLine(scan)},
                {"unread", scan.unread},
                {"lines", scan.lines}};
  return p;
}

JUnitSuite ErrorPartSuite(std::string_view wave_id, const PartResult& part) {
  return ErrorJUnitSuite(fmt::format("faultline wave {} {}", wave_id, part.name),
                         fmt::format("faultline.wave.{}", wave_id), part.name, part.summary,
                         {{"wave", std::string(wave_id)}});
}

JUnitSuite LogPatternsSuite(std::string_view wave_id, const checker::LogPatternReport& scan) {
  JUnitSuite s{.name = fmt::format("faultline wave {} log patterns", wave_id),
               .timestamp = JUnitTimestampNow(),
               .time_s = 0,
               .properties = {{"wave", std::string(wave_id)}},
               .cases = {}};
  s.cases.push_back(checker::VerdictJUnitCase(checker::LogPatternVerdict(scan),
                                              fmt::format("faultline.wave.{}", wave_id)));
  return s;
}

double OverlapMs(const Window& a, const Window& b) {
  const double start = std::max(a.start_s, b.start_s);
  const double end = std::min(a.end_s, b.end_s);
  return end > start ? (end - start) * 1000.0 : 0.0;
}

Json OpsInFlight(const history::History& h, const Window& kill,
                 const std::vector<std::string>& killed) {
  std::map<std::string, std::int64_t> by_type = {{"ok", 0}, {"fail", 0}, {"info", 0}, {"open", 0}};
  std::int64_t count = 0;
  std::int64_t on_killed = 0;
  Json examples = Json::array();
  for (size_t i = 0; i < h.size(); ++i) {
    const history::Op& op = h[i];
    if (!op.is_client() || !op.is_invoke()) continue;
    if (Seconds(op.time_ns) > kill.end_s) continue;
    const size_t p = h.partner(i);
    const history::Op* done = p == history::History::kNone ? nullptr : &h[p];
    if (done != nullptr && Seconds(done->time_ns) < kill.start_s) continue;
    ++count;
    const std::string type =
        done == nullptr ? std::string("open") : std::string(history::OpTypeName(done->type));
    ++by_type[type];
    std::string node;
    if (done != nullptr) {
      if (const history::Value* n = done->FindExtra(history::field::kNode);
          n != nullptr && n->is_string()) {
        node = n->text();
      }
    }
    const bool on_killed_node =
        !node.empty() && std::find(killed.begin(), killed.end(), node) != killed.end();
    if (on_killed_node) ++on_killed;
    if (examples.size() < 5) {
      Json e;
      e["index"] = op.index;
      e["process"] = op.process.ToString();
      e["f"] = op.f;
      e["invoked_s"] = Seconds(op.time_ns);
      e["completed"] = type;
      e["completed_s"] = done != nullptr ? Json(Seconds(done->time_ns)) : Json(nullptr);
      e["node"] = node;
      examples.push_back(std::move(e));
    }
  }
  Json j;
  j["kill"] = Json{{"what", kill.what}, {"start_s", kill.start_s}, {"end_s", kill.end_s}};
  j["killed_nodes"] = killed;
  j["count"] = count;
  j["by_completion"] = Json(by_type);
  j["on_killed_nodes"] = on_killed;
  j["examples"] = std::move(examples);
  return j;
}

std::vector<Window> FitFaultWindows(const history::History& h) {
  std::map<std::string, Window> by_toxic;
  std::vector<std::string> order;
  double last_s = 0;
  for (size_t i = 0; i < h.size(); ++i) {
    const history::Op& op = h[i];
    last_s = std::max(last_s, Seconds(op.time_ns));
    if (op.process != history::Process::Nemesis() || !op.is_completion()) continue;
    if (op.f != "toxic-add" && op.f != "toxic-remove") continue;
    // Completions carry :source (the reason); their invocations do not.
    if (op.FindExtra(history::field::kSource) == nullptr || !op.value.is_string()) continue;
    std::string name;
    try {
      const auto j = nlohmann::json::parse(op.value.text());
      if (j.contains("name") && j["name"].is_string()) name = j["name"].get<std::string>();
    } catch (const nlohmann::json::exception&) {
      continue;
    }
    if (name.empty()) continue;
    const size_t p = h.partner(i);
    const double invoked_s =
        p == history::History::kNone ? Seconds(op.time_ns) : Seconds(h[p].time_ns);
    auto it = by_toxic.find(name);
    if (op.f == "toxic-add") {
      if (it == by_toxic.end()) {
        by_toxic[name] = Window{.start_s = invoked_s, .end_s = -1, .what = "fit toxic " + name};
        order.push_back(name);
      }
    } else if (it != by_toxic.end()) {
      it->second.end_s = std::max(it->second.end_s, Seconds(op.time_ns));
    }
  }
  std::vector<Window> out;
  for (const std::string& name : order) {
    Window w = by_toxic[name];
    if (w.end_s < w.start_s) {
      w.end_s = last_s;
      w.what += " (never removed in the log)";
    }
    out.push_back(std::move(w));
  }
  return out;
}

Json RecoveryTouch(const Window& recovery, bool recovered, std::span<const Window> fit_faults,
                   std::span<const Window> campaign_faults) {
  auto list = [&](std::span<const Window> windows, double& total) {
    Json out = Json::array();
    for (const Window& w : windows) {
      const double overlap = OverlapMs(recovery, w);
      total += overlap;
      out.push_back(Json{
          {"what", w.what}, {"start_s", w.start_s}, {"end_s", w.end_s}, {"overlap_ms", overlap}});
    }
    return out;
  };
  double fit_total = 0;
  double campaign_total = 0;
  Json j;
  j["recovery"] = Json{{"start_s", recovery.start_s},
                       {"end_s", recovery.end_s},
                       {"recovered", recovered},
                       {"what", recovery.what}};
  j["fit_faults"] = list(fit_faults, fit_total);
  j["campaign_faults"] = list(campaign_faults, campaign_total);
  j["fit_overlap_ms"] = fit_total;
  j["campaign_overlap_ms"] = campaign_total;
  j["measured_while_fit_faults_active"] = fit_total > 0;
  return j;
}

Json AssembleResults(std::string_view id, std::string_view title, std::string_view source,
                     std::span<const PartResult> parts, const Json& touch, const Json& extra) {
  std::vector<int> codes;
  for (const PartResult& p : parts) codes.push_back(p.exit_code);
  const int code = WorstExitCode(codes);
  std::vector<const PartResult*> order;
  for (const PartResult& p : parts) order.push_back(&p);
  std::stable_sort(order.begin(), order.end(), [](const PartResult* a, const PartResult* b) {
    return Rank(a->exit_code) > Rank(b->exit_code);
  });
  Json reasons = Json::array();
  for (const PartResult* p : order) {
    reasons.push_back(fmt::format("{} ({}): {}", p->name, VerdictName(p->exit_code), p->summary));
  }
  Json j;
  j["wave"] = std::string(id);
  j["title"] = std::string(title);
  j["source"] = std::string(source);
  j["verdict"] = std::string(VerdictName(code));
  j["exit_code"] = code;
  j["reasons"] = std::move(reasons);
  Json by_name = Json::object();
  for (const PartResult& p : parts) by_name[p.name] = p.json;
  j["parts"] = std::move(by_name);
  j["touch"] = touch;
  if (extra.is_object()) {
    for (const auto& [k, v] : extra.items()) j[k] = v;
  }
  return j;
}

}  // namespace faultline::wave

namespace faultline::wave {

std::string RenderText(const Json& r, std::string_view dir) {
  std::string out = fmt::format("wave {}: {}\n", r.value("wave", ""), r.value("title", ""));
  if (r.contains("reasons")) {
    for (const auto& line : r["reasons"]) out += fmt::format("  {}\n", line.get<std::string>());
  }
  const Json& touch = r.contains("touch") ? r["touch"] : Json::object();
  if (touch.contains("recovery") && touch["recovery"].is_object()) {
    const Json& t = touch["recovery"];
    out += fmt::format(
        "  touch: the drill's recovery window ({:.1f}..{:.1f} s) overlapped FIT faults for {:.0f} "
        "ms (measured while FIT faults were active: {}) and campaign faults for {:.0f} ms\n",
        t["recovery"]["start_s"].get<double>(), t["recovery"]["end_s"].get<double>(),
        t["fit_overlap_ms"].get<double>(),
        t["measured_while_fit_faults_active"].get<bool>() ? "yes" : "no",
        t["campaign_overlap_ms"].get<double>());
  }
  if (touch.contains("ops_in_flight_at_kill") && touch["ops_in_flight_at_kill"].is_object()) {
    const Json& k = touch["ops_in_flight_at_kill"];
    const Json& c = k["by_completion"];
    out += fmt::format(
        "  touch: {} client ops in flight during {} (ok {}, fail {}, info {}, never completed {}; "
        "{} answered by a killed node)\n",
        k["count"].get<std::int64_t>(), k["kill"]["what"].get<std::string>(),
        c.value("ok", std::int64_t{0}), c.value("fail", std::int64_t{0}),
        c.value("info", std::int64_t{0}), c.value("open", std::int64_t{0}),
        k["on_killed_nodes"].get<std::int64_t>());
  }
  if (touch.contains("ops_during_kill_outage") && touch["ops_during_kill_outage"].is_object()) {
    const Json& k = touch["ops_during_kill_outage"];
    const Json& c = k["by_completion"];
    out += fmt::format(
        "  touch: {} client ops in flight from the kill to the last restart ({:.2f}..{:.2f} s: ok "
        "{}, fail {}, info {}, never completed {})\n",
        k["count"].get<std::int64_t>(), k["kill"]["start_s"].get<double>(),
        k["kill"]["end_s"].get<double>(), c.value("ok", std::int64_t{0}),
        c.value("fail", std::int64_t{0}), c.value("info", std::int64_t{0}),
        c.value("open", std::int64_t{0}));
  }
  if (r.contains("warnings")) {
    for (const auto& w : r["warnings"]) out += fmt::format("  warning: {}\n", w.get<std::string>());
  }
  std::string verdict = r.value("verdict", "error");
  for (char& ch : verdict) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  out += fmt::format("verdict: {}\n", verdict);
  out += fmt::format(
      "report: {}/results.json (history.log, history.jsonl, nemesis.ledger, campaign/, drill/, "
      "fit/, nodes/)\n",
      dir);
  return out;
}

}  // namespace faultline::wave
