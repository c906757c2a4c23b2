// RunExperiment: proxies for both groups, the load, the fault windows, the abort monitor, and the
// artifacts (timeline, event log) of one FIT run.
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <fstream>
#include <mutex>
#include <optional>
#include <thread>

#include "common/clock.h"
#include "fit/fit.h"
#include "fit/internal/kpi.h"
#include "fit/internal/load.h"
#include "fit/internal/toxics.h"
#include "history/fields.h"
#include "history/op.h"
#include "nemesis/proxy.h"

namespace faultline::fit {
namespace {

using internal::Kpis;
using internal::Sample;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;

constexpr milliseconds kTick{100};
constexpr std::int64_t kWindowNs = 1000000000;
constexpr std::int64_t kMinWindowSamples = 10;

// Samples as they complete (appended on the load's io thread, read by the monitor).
class Recorder {
 public:
  void Add(const Sample& s) {
    std::lock_guard lock(mu_);
    samples_.push_back(s);
  }
  // Samples completed in [from_ns, to_ns), per group.
  std::vector<Sample> CompletedSince(std::int64_t from_ns) const {
    std::lock_guard lock(mu_);
    std::vector<Sample> out;
    for (auto it = samples_.rbegin(); it != samples_.rend() && it->done_ns >= from_ns; ++it) {
      out.push_back(*it);
    }
    return out;
  }
  std::vector<Sample> All() const {
    std::lock_guard lock(mu_);
    return samples_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<Sample> samples_;
};

struct Window {
  const FaultSpec* fault = nullptr;
  std::optional<std::int64_t> applied_ms;
  std::optional<std::int64_t> removed_ms;
  std::string removed_by;
  std::string error;
};

struct AbortInfo {
  const AbortRule* rule = nullptr;
  std::int64_t tripped_at_ms = 0;
  std::int64_t beyond_since_ms = 0;
  double experiment_value = 0;
  double control_value = 0;
  double faults_removed_ms = 0;
  std::string remove_error;
};

nlohmann::json MarginJson(const Margin& m) {
  nlohmann::json j = {{"kpi", std::string(KpiName(m.kpi))}};
  if (m.kpi == Kpi::kSuccessRate) {
    j["max_drop_points"] = m.limit;
  } else {
    j["max_ratio"] = m.limit;
  }
  return j;
}

void LogEvent(history::LogWriter* log, std::string_view f, std::string value,
              nlohmann::json detail) {
  if (log == nullptr) return;
  history::Op invoke{.index = -1,
                     .time_ns = -1,
                     .type = history::OpType::kInvoke,
                     .process = history::Process::Named("fit"),
                     .f = std::string(f),
                     .key = std::nullopt,
                     .value = history::Value::String(std::move(value)),
                     .error = std::nullopt,
                     .extras = {}};
  history::Op done = invoke.Complete(history::OpType::kOk, history::Value::String(detail.dump()));
  (void)log->Append(invoke);
  (void)log->Append(done);
}

std::string FormatKpiLine(const Kpis& k) {
  return fmt::format("{:.1f}% p50 {:.1f} p99 {:.1f} ms", k.success_rate * 100, k.p50_ms, k.p99_ms);
}

}  // namespace

Status CheckClientLoad(const Scenario& scenario) {
  for (size_t i = 0; i < scenario.faults.size(); ++i) {
    const nemesis::Toxic& t = scenario.faults[i].toxic;
    if (nemesis::IsHttpToxic(t.type)) {
      return MakeError(
          ErrorCode::kInvalidArgument,
          fmt::format("{}: faults[{}] ({}): {} is an HTTP-level toxic, and this system has no "
                      "HTTP API: its load is its own client's ops, so only TCP-level toxics "
                      "(latency, bandwidth, slow_close, timeout, reset_peer, slicer, limit_data) "
                      "can act on it",
                      scenario.source, i, t.name, nemesis::ToxicTypeName(t.type)));
    }
  }
  for (size_t i = 0; i < scenario.requests.size(); ++i) {
    const std::string& name = scenario.requests[i].name;
    if (name != "read" && name != "write") {
      return MakeError(
          ErrorCode::kInvalidArgument,
          fmt::format("{}: requests[{}]: name \"{}\": a system without HTTP runs its own "
                      "client's register ops, so a request's name must be \"read\" or "
                      "\"write\"",
                      scenario.source, i, name));
    }
  }
  return OkStatus();
}

GroupClients SystemGroupClients(systems::System& system, systems::SystemCluster nodes,
                                std::chrono::milliseconds timeout) {
  return [&system, nodes = std::move(nodes), timeout](const std::vector<std::string>& proxies)
             -> Result<std::unique_ptr<client::ClientFactory>> {
    systems::SystemCluster via = nodes;
    via.local = nullptr;  // the proxies are on this machine, not in the nodes' namespaces
    for (size_t i = 0; i < via.nodes.size() && i < proxies.size(); ++i) {
      const size_t colon = proxies[i].rfind(':');
      via.nodes[i].address = proxies[i].substr(0, colon);
      via.nodes[i].port = std::stoi(proxies[i].substr(colon + 1));
    }
    systems::ClientSetup setup;
    setup.workload = "register";
    setup.timeout = timeout;
    setup.key_prefix = "faultline/fit/";
    return system.Clients(via, setup);
  };
}

Result<Outcome> RunExperiment(const Scenario& scenario, const Target& target,
                              const std::filesystem::path& out_dir, const Hooks& hooks,
                              std::stop_token stop) {
  if (target.upstreams.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "fit: target: no upstream to send load to");
  }
  if (target.clients) FAULTLINE_RETURN_IF_ERROR(CheckClientLoad(scenario));
  auto progress = [&](std::string_view line) {
    if (hooks.progress) hooks.progress(line);
  };
  std::error_code fs_error;
  std::filesystem::create_directories(out_dir, fs_error);
  if (fs_error) {
    return MakeError(ErrorCode::kUnavailable,
                     fmt::format("fit: create {}: {}", out_dir.string(), fs_error.message()));
  }

  // The event log: the caller's, or our own beside results.json.
  std::unique_ptr<history::LogWriter> own_log;
  history::LogWriter* log = hooks.log;
  const std::string log_name = fmt::format("history-{}.log", scenario.id);
  if (log == nullptr) {
    history::LogOptions options;
    options.meta = nlohmann::json{{"faultline",
                                   {{"fit",
                                     {{"scenario", scenario.id},
                                      {"title", scenario.title},
                                      {"source", scenario.source},
                                      {"seed", scenario.seed},
                                      {"upstreams", target.upstreams}}}}}}
                       .dump();
    auto created = history::LogWriter::Create((out_dir / log_name).string(), std::move(options));
    if (!created) {
      return std::move(created).error().WithContext(
          "fit: event log (use a new --out directory for each run)");
    }
    own_log = std::move(*created);
    log = own_log.get();
  }

  // One proxy per node and group; both groups pay the same proxy hop.
  nemesis::ProxyServer proxies({.seed = scenario.seed});
  std::vector<std::string> group_addresses[2];
  std::vector<std::string> experiment_proxies;
  static constexpr std::string_view kGroupNames[2] = {"control", "experiment"};
  for (int g = 0; g < 2; ++g) {
    for (size_t i = 0; i < target.upstreams.size(); ++i) {
      const std::string name = fmt::format("fit-{}-n{}", kGroupNames[g], i + 1);
      auto info = proxies.CreateProxy({.name = name,
                                       .listen = "127.0.0.1:0",
                                       .upstream = target.upstreams[i],
                                       .enabled = true});
      if (!info) return std::move(info).error().WithContext("fit: proxy");
      group_addresses[g].push_back(info->config.listen);
      if (g == 1) experiment_proxies.push_back(name);
    }
  }
  auto opened_toxics =
      internal::ExperimentToxics::Open(proxies, experiment_proxies, hooks.ledger, log);
  if (!opened_toxics) return std::move(opened_toxics).error();
  internal::ExperimentToxics& toxics = **opened_toxics;

  internal::LoadPlan plan;
  plan.upstreams[0] = group_addresses[0];
  plan.upstreams[1] = group_addresses[1];
  std::unique_ptr<client::ClientFactory> group_clients[2];
  if (target.clients) {
    for (int g = 0; g < 2; ++g) {
      auto made = target.clients(group_addresses[g]);
      if (!made) {
        (void)toxics.RemoveAll("setup failed");
        return std::move(made).error().WithContext(fmt::format("fit: {} clients", kGroupNames[g]));
      }
      group_clients[g] = std::move(*made);
      plan.clients[g] = group_clients[g].get();
    }
  }
  plan.rate_per_group = scenario.rate / 2;
  plan.timeout = scenario.timeout;
  plan.connections = scenario.connections;
  const auto per_group = static_cast<std::int64_t>(
      std::floor(plan.rate_per_group * static_cast<double>(scenario.duration.count()) / 1000));
  plan.requests =
      internal::PlanRequests(scenario, target.base_path, std::max<std::int64_t>(1, per_group));

  LogEvent(log, "start", fmt::format("fit {}", scenario.id),
           {{"rate", scenario.rate},
            {"duration_ms", scenario.duration.count()},
            {"requests_per_group", plan.requests.size()},
            {"control", group_addresses[0]},
            {"experiment", group_addresses[1]}});

  std::vector<Window> windows;
  for (const FaultSpec& f : scenario.faults) {
    Window w;
    w.fault = &f;
    windows.push_back(std::move(w));
  }
  Status fault_error = OkStatus();
  auto apply = [&](Window& w, std::int64_t at_ms) {
    Status st = toxics.Add(w.fault->toxic, "window");
    if (st) {
      w.applied_ms = at_ms;
      progress(fmt::format("fit {}: {} on the experiment ({} of matching requests) at {} ms",
                           scenario.id, w.fault->toxic.name, w.fault->toxic.toxicity, at_ms));
    } else {
      w.error = st.error().message();
      if (fault_error) fault_error = st;
    }
  };
  // Faults from the first request on are in place before the load starts.
  for (Window& w : windows) {
    if (w.fault->start.count() == 0) apply(w, 0);
  }
  if (!fault_error) {
    (void)toxics.RemoveAll("setup failed");
    return std::move(fault_error).error().WithContext("fit: apply fault");
  }

  Recorder recorder;
  std::atomic<bool> stop_load{false};
  std::atomic<std::int64_t> start_ns{0};
  Status load_status = OkStatus();
  std::thread load([&] {
    load_status = internal::RunLoad(
        plan, stop_load, [&](std::int64_t ns) { start_ns.store(ns); },
        [&](const Sample& s) { recorder.Add(s); });
    stop_load.store(true);
    start_ns.store(start_ns.load() == 0 ? 1 : start_ns.load());
  });
  while (start_ns.load() == 0) std::this_thread::sleep_for(milliseconds(1));
  const std::int64_t t0 = start_ns.load();
  auto now_ns = [&] { return MonotonicNow().count() - t0; };

  std::optional<AbortInfo> abort;
  std::vector<std::optional<std::int64_t>> beyond_since(scenario.abort.size());
  std::int64_t next_progress_ns = kWindowNs;
  const std::int64_t load_ns = nanoseconds(scenario.duration).count();
  bool stopped = false;
  std::int64_t last_check = 0;
  while (!stop_load.load()) {
    std::this_thread::sleep_for(milliseconds(10));
    const std::int64_t now = now_ns();
    if (stop.stop_requested() && !stopped) {
      stopped = true;
      stop_load.store(true);
      progress(fmt::format("fit {}: stop requested: ending the load", scenario.id));
    }
    // Fault windows.
    for (Window& w : windows) {
      const std::int64_t start = nanoseconds(w.fault->start).count();
      if (!w.applied_ms && w.error.empty() && now >= start && now < load_ns) {
        apply(w, now / 1000000);
      }
      if (w.applied_ms && !w.removed_ms && w.fault->duration.count() > 0 &&
          now >= start + nanoseconds(w.fault->duration).count()) {
        Status st = toxics.Remove(w.fault->toxic.name, "window");
        w.removed_ms = now / 1000000;
        w.removed_by = "window";
        if (!st) w.error = st.error().message();
      }
    }
    // The abort monitor: every tick, the trailing second of each group.
    if (!abort && !scenario.abort.empty() && now - last_check >= nanoseconds(kTick).count()) {
      last_check = now;
      const std::vector<Sample> recent = recorder.CompletedSince(now - kWindowNs);
      const Kpis c = internal::GroupKpis(recent, 0, 1.0);
      const Kpis e = internal::GroupKpis(recent, 1, 1.0);
      for (size_t i = 0; i < scenario.abort.size() && !abort; ++i) {
        const AbortRule& rule = scenario.abort[i];
        std::optional<bool> beyond;
        if (c.requests >= kMinWindowSamples && e.requests >= kMinWindowSamples) {
          beyond = internal::Beyond(e, c, rule.bound);
        }
        if (!beyond.value_or(false)) {
          beyond_since[i].reset();
          continue;
        }
        if (!beyond_since[i]) beyond_since[i] = now;
        if (now - *beyond_since[i] < nanoseconds(rule.hold).count()) continue;
        // Tripped: every toxic goes first, then the load stops.
        AbortInfo a;
        a.rule = &rule;
        a.tripped_at_ms = now / 1000000;
        a.beyond_since_ms = *beyond_since[i] / 1000000;
        a.experiment_value = internal::KpiValue(e, rule.bound.kpi);
        a.control_value = internal::KpiValue(c, rule.bound.kpi);
        const auto decided = MonotonicNow();
        Status st = toxics.RemoveAll("abort");
        a.faults_removed_ms =
            std::chrono::duration<double, std::milli>(MonotonicNow() - decided).count();
        if (!st) a.remove_error = st.error().message();
        stop_load.store(true);
        for (Window& w : windows) {
          if (w.applied_ms && !w.removed_ms) {
            w.removed_ms = now / 1000000;
            w.removed_by = "abort";
          }
        }
        LogEvent(log, "abort", fmt::format("abort: {} beyond its bound", KpiName(rule.bound.kpi)),
                 {{"bound", MarginJson(rule.bound)},
                  {"for_ms", rule.hold.count()},
                  {"tripped_at_ms", a.tripped_at_ms},
                  {"experiment", a.experiment_value},
                  {"control", a.control_value},
                  {"faults_removed_ms", a.faults_removed_ms}});
        progress(fmt::format(
            "fit {}: ABORT at {} ms: {} experiment {:.4g} vs control {:.4g} beyond {} for {} ms; "
            "every toxic removed in {:.2f} ms",
            scenario.id, a.tripped_at_ms, KpiName(rule.bound.kpi), a.experiment_value,
            a.control_value, rule.bound.limit, rule.hold.count(), a.faults_removed_ms));
        abort = a;
      }
    }
    if (now >= next_progress_ns) {
      next_progress_ns += kWindowNs;
      const std::vector<Sample> recent = recorder.CompletedSince(now - kWindowNs);
      progress(fmt::format("fit {}: {}/{} s  control {}  experiment {}", scenario.id,
                           now / 1000000000, scenario.duration.count() / 1000,
                           FormatKpiLine(internal::GroupKpis(recent, 0, 1.0)),
                           FormatKpiLine(internal::GroupKpis(recent, 1, 1.0))));
    }
  }
  load.join();
  const std::int64_t end_ms = now_ns() / 1000000;
  Status end_removal = toxics.RemoveAll("end");
  for (Window& w : windows) {
    if (w.applied_ms && !w.removed_ms) {
      w.removed_ms = end_ms;
      w.removed_by = "end";
    }
  }
  proxies.Stop();
  if (!load_status) return load_status.error();
  if (!end_removal) return std::move(end_removal).error().WithContext("fit: remove toxics");
  if (!fault_error) return std::move(fault_error).error().WithContext("fit: apply fault");

  // KPIs over the load actually run (an abort or stop shortens it).
  const std::vector<Sample> samples = recorder.All();
  std::int64_t last_scheduled_ns = 0;
  for (const Sample& s : samples) last_scheduled_ns = std::max(last_scheduled_ns, s.scheduled_ns);
  const double seconds =
      std::max(1.0 / plan.rate_per_group,
               static_cast<double>(last_scheduled_ns) / 1e9 + 1.0 / plan.rate_per_group);
  const Kpis control = internal::GroupKpis(samples, 0, seconds);
  const Kpis experiment = internal::GroupKpis(samples, 1, seconds);
  internal::Verdict verdict = internal::Judge(scenario, experiment, control);

  Outcome outcome;
  outcome.hypothesis = abort ? "aborted" : verdict.hypothesis;
  outcome.exit_code = outcome.hypothesis == "held"           ? 0
                      : outcome.hypothesis == "inconclusive" ? 2
                                                             : 1;

  // The per-second timeline.
  const std::string timeline_name = "kpi-timeline.jsonl";
  {
    std::ofstream out(out_dir / timeline_name, std::ios::trunc);
    for (const nlohmann::json& line : internal::Timeline(samples)) out << line.dump() << '\n';
    if (!out) {
      return MakeError(ErrorCode::kUnavailable,
                       fmt::format("fit: write {}", (out_dir / timeline_name).string()));
    }
  }

  nlohmann::json r;
  r["scenario"] = scenario.id;
  r["title"] = scenario.title;
  r["source"] = scenario.source;
  r["seed"] = scenario.seed;
  r["hypothesis"] = outcome.hypothesis;
  r["exit_code"] = outcome.exit_code;
  r["reason"] = abort ? fmt::format("aborted at {} ms: {} beyond its abort bound for {} ms",
                                    abort->tripped_at_ms, KpiName(abort->rule->bound.kpi),
                                    abort->rule->hold.count())
                      : verdict.reason;
  r["load"] = {{"rate", scenario.rate},
               {"duration_s", static_cast<double>(scenario.duration.count()) / 1000},
               {"measured_s", seconds},
               {"timeout_ms", scenario.timeout.count()},
               {"requests_per_group_planned", plan.requests.size()},
               {"upstreams", target.upstreams},
               {"proxies", {{"control", group_addresses[0]}, {"experiment", group_addresses[1]}}}};
  r["kpis"] = {{"control", internal::KpisJson(control)},
               {"experiment", internal::KpisJson(experiment)}};
  r["deltas"] = {{"success_rate_points",
                  std::round((experiment.success_rate - control.success_rate) * 1e4) / 1e2},
                 {"p50_ratio", control.p50_ms > 0 ? experiment.p50_ms / control.p50_ms : 0.0},
                 {"p99_ratio", control.p99_ms > 0 ? experiment.p99_ms / control.p99_ms : 0.0}};
  nlohmann::json margins = nlohmann::json::array();
  for (const Margin& m : scenario.margins) margins.push_back(MarginJson(m));
  r["margins"] = margins;
  r["alpha"] = scenario.alpha;
  r["correction"] = "holm";
  r["tests"] = verdict.tests;
  r["verdict_on_data"] = verdict.hypothesis;
  if (verdict.hypothesis == "inconclusive") {
    r["more_requests_needed"] = verdict.more_requests_needed
                                    ? nlohmann::json(*verdict.more_requests_needed)
                                    : nlohmann::json(nullptr);
  }
  nlohmann::json faults = nlohmann::json::array();
  for (const Window& w : windows) {
    nlohmann::json j = internal::ToxicJson(w.fault->toxic);
    j["group"] = "experiment";
    j["proxies"] = experiment_proxies;
    j["start_ms"] = w.applied_ms ? nlohmann::json(*w.applied_ms) : nlohmann::json(nullptr);
    j["end_ms"] = w.removed_ms ? nlohmann::json(*w.removed_ms) : nlohmann::json(nullptr);
    j["removed_by"] = w.removed_by;
    if (!w.error.empty()) j["error"] = w.error;
    faults.push_back(std::move(j));
  }
  r["faults"] = faults;
  if (abort) {
    r["abort"] = {{"kpi", std::string(KpiName(abort->rule->bound.kpi))},
                  {"bound", MarginJson(abort->rule->bound)},
                  {"for_ms", abort->rule->hold.count()},
                  {"beyond_since_ms", abort->beyond_since_ms},
                  {"tripped_at_ms", abort->tripped_at_ms},
                  {"experiment_value", abort->experiment_value},
                  {"control_value", abort->control_value},
                  {"faults_removed_ms", abort->faults_removed_ms}};
    if (!abort->remove_error.empty()) r["abort"]["remove_error"] = abort->remove_error;
  } else {
    r["abort"] = nullptr;
  }
  r["toxics_left"] = toxics.held();
  r["timeline"] = timeline_name;

  LogEvent(log, "verdict", outcome.hypothesis, {{"reason", r["reason"]}, {"kpis", r["kpis"]}});
  if (own_log) {
    auto summary = own_log->Close();
    if (!summary) return std::move(summary).error().WithContext("fit: event log");
    r["log"] = {{"path", log_name}, {"records", summary->records}, {"head", summary->head}};
  } else {
    r["log"] = {{"path", log->path()}};
  }
  outcome.results = std::move(r);
  return outcome;
}

}  // namespace faultline::fit
