// The drill's stepping: pre-check, the fault phase (steps at their times, timed ends, the
// supervisor's events, the repair playbook beside the loop, the blast radius), rollback, checks
// and the verdict. Applying faults, measuring and judging live in dirt/internal/.
#include "dirt/drill.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "common/clock.h"
#include "common/file.h"
#include "dirt/internal/faults.h"
#include "dirt/internal/log_scan.h"
#include "dirt/internal/monitor.h"
#include "dirt/internal/playbook.h"
#include "dirt/internal/record.h"
#include "dirt/internal/time.h"
#include "dirt/internal/verdict.h"
#include "dirt/internal/workload.h"

namespace faultline::dirt {
namespace {

using internal::MonoNow;
using internal::MonoTime;
using std::chrono::milliseconds;

std::string Join(const std::vector<std::string>& v) { return fmt::format("{}", fmt::join(v, ",")); }

class Drill {
 public:
  Drill(const cluster::ClusterState& state, nemesis::NodeControl& control, const Scenario& scenario,
        const DrillOptions& options, std::vector<checker::LogPattern> log_patterns)
      : log_patterns_(std::move(log_patterns)),
        state_(state),
        control_(control),
        s_(scenario),
        options_(options),
        record_(scenario, options),
        monitor_(state, control, scenario, options),
        faults_(state, control, scenario, options, record_,
                [this](bool enabled, const std::string& why) { SetPolicy(enabled, why); }) {
    for (const auto& n : state.nodes) names_.push_back(n.name);
  }
  ~Drill() {
    JoinRepair();
    workload_.Stop();
  }

  DrillResult Run() {
    record_.Update([&](DrillResult& r) {
      r.scenario_id = s_.id;
      r.title = s_.title;
      r.severity = s_.severity;
      r.category = s_.category;
      r.scenario_source = s_.source;
      r.start_wall_ns = WallNow().count();
    });
    limit_ = options_.max_recovery_override.value_or(s_.max_recovery_time);
    if (std::optional<std::string> why = CheckPinned()) {
      record_.Update([&](DrillResult& r) {
        r.verdict = Verdict::kInvalid;
        r.reason = *why;
        r.end_wall_ns = WallNow().count();
      });
      return record_.Snapshot();
    }
    auto ev = cluster::Events(state_);
    if (ev && !ev->empty()) seq_ = ev->back().seq;
    const std::vector<checker::NodeLog> node_logs = internal::NodeLogsFromNow(state_);
    record_.OpenLog(state_.name, names_);
    // Every fault goes through the cluster's ledger: without it the drill injects nothing.
    if (Status opened = faults_.Open(); !opened) {
      const std::string why = "the nemesis ledger cannot be used: " + opened.error().message();
      record_.AddEvent("check", "verdict", "", fmt::format("ERROR: {}", why), false);
      record_.CloseLog();
      record_.Update([&](DrillResult& r) {
        r.verdict = Verdict::kError;
        r.reason = why;
        r.end_wall_ns = WallNow().count();
      });
      return record_.Snapshot();
    }
    SetPolicy(s_.restart.enabled, "drill start");
    monitor_.Start();
    workload_.Start(state_, s_, options_, record_);
    bool aborted = !PreCheck() || !FaultPhase();
    JoinRepair();
    if (!observe_end_) observe_end_ = MonoNow();
    faults_.Rollback();
    PollSupervisor();
    SetPolicy(false, "drill end");
    record_.AddEvent("rollback", "done", "",
                     "sieges stopped, partitions healed, processes resumed/started", true);
    workload_.Stop();
    if (options_.system != nullptr) {
      internal::SystemPostChecks(options_, s_, record_);
    } else {
      internal::PostChecks(state_, s_, record_);
    }
    monitor_.Stop();
    const std::vector<ProbeSample> samples = monitor_.Samples();
    record_.Update([&](DrillResult& r) {
      r.probes = samples;
      r.control_plane_dumps = monitor_.Dumps();
      r.resource_metrics = monitor_.Metrics();
    });
    workload_.Check(s_, record_);
    internal::JudgeInput in;
    for (const auto& p : samples) {
      if (p.mono_ns <= internal::NsOf(*observe_end_)) in.samples.push_back(p);
    }
    if (record_.has_fault()) in.fault = record_.fault();
    in.last_repair = last_repair_;
    in.limit = limit_;
    in.aborted = aborted;
    in.step_failed = faults_.step_failed() || target_failed_;
    DrillResult verdict;
    record_.Update([&](DrillResult& r) {
      internal::Judge(s_, in, r);
      internal::JudgeLogPatterns(node_logs, log_patterns_, r);
      verdict = r;
    });
    record_.AddEvent("check", "verdict", "",
                     fmt::format("{}: {}", VerdictName(verdict.verdict), verdict.reason),
                     verdict.verdict == Verdict::kPass);
    record_.CloseLog();
    DrillResult res = record_.Snapshot();
    std::stable_sort(
        res.events.begin(), res.events.end(),
        [](const DrillEvent& a, const DrillEvent& b) { return a.mono_ns < b.mono_ns; });
    res.end_wall_ns = WallNow().count();
    record_.Progress(fmt::format("{} {}: {}", s_.id, VerdictName(res.verdict), res.reason));
    return res;
  }

 private:
  std::optional<std::string> CheckPinned() const {
    const cluster::EtcdSettings& e = state_.etcd;
    std::vector<std::string> diff;
    if (options_.system != nullptr) {
      // db_flags pin etcd's flags; another system's own settings are its system's.
      if (static_cast<int>(state_.nodes.size()) == s_.nodes) return std::nullopt;
      return fmt::format("cluster {} has {} nodes, the scenario pins {}", state_.name,
                         state_.nodes.size(), s_.nodes);
    }
    if (e.pre_vote != s_.db.pre_vote)
      diff.push_back(fmt::format("pre_vote {} (scenario {})", e.pre_vote, s_.db.pre_vote));
    if (e.heartbeat_ms != s_.db.heartbeat_ms)
      diff.push_back(
          fmt::format("heartbeat_ms {} (scenario {})", e.heartbeat_ms, s_.db.heartbeat_ms));
    if (e.election_ms != s_.db.election_ms)
      diff.push_back(fmt::format("election_ms {} (scenario {})", e.election_ms, s_.db.election_ms));
    if (e.snapshot_count != s_.db.snapshot_count)
      diff.push_back(
          fmt::format("snapshot_count {} (scenario {})", e.snapshot_count, s_.db.snapshot_count));
    if (e.corrupt_check != s_.db.corrupt_check)
      diff.push_back(
          fmt::format("corrupt_check {} (scenario {})", e.corrupt_check, s_.db.corrupt_check));
    if (static_cast<int>(state_.nodes.size()) != s_.nodes)
      diff.push_back(fmt::format("{} nodes (scenario {})", state_.nodes.size(), s_.nodes));
    if (diff.empty()) return std::nullopt;
    std::string d;
    for (const auto& x : diff) d.append(d.empty() ? "" : ", ").append(x);
    return "cluster " + state_.name + " does not run the scenario's pinned flags: " + d +
           " (bring a cluster up with them, or let `faultline dirt run` do it)";
  }

  void SetPolicy(bool enabled, const std::string& why) {
    if (options_.system != nullptr) {
      // The cluster's supervisor owns only etcd's processes: the safeguard is the drill's own.
      safeguard_enabled_ = enabled;
      record_.AddEvent(
          "safeguard", "restart-policy", "",
          fmt::format("{} ({}): the drill's own for {} (a server found down is started through "
                      "the system's commands), backoff {}..{} ms, max {} in {} ms",
                      enabled ? "enabled" : "disabled", why, options_.system->Info().name,
                      s_.restart.initial_backoff.count(), s_.restart.max_backoff.count(),
                      s_.restart.max_restarts, s_.restart.window.count()),
          true);
      return;
    }
    cluster::RestartPolicy p;
    p.enabled = enabled;
    p.initial_backoff = s_.restart.initial_backoff;
    p.max_backoff = s_.restart.max_backoff;
    p.max_restarts = s_.restart.max_restarts;
    p.window = s_.restart.window;
    Status st = cluster::SetRestartPolicy(state_, p);
    record_.AddEvent("safeguard", "restart-policy", "",
                     fmt::format("{} ({}): backoff {}..{} ms, max {} in {} ms{}",
                                 enabled ? "enabled" : "disabled", why, p.initial_backoff.count(),
                                 p.max_backoff.count(), p.max_restarts, p.window.count(),
                                 st ? "" : ": " + st.error().message()),
                     static_cast<bool>(st));
  }

  void Abort(const std::string& reason) {
    record_.Update([&](DrillResult& r) { r.reason = reason; });
    record_.AddEvent("check", "pre-check", "", reason, false);
  }

  bool PreCheck() {
    record_.Progress(fmt::format("{} pre-check: measuring baseline for {} ms", s_.id,
                                 s_.steady_state.baseline.count()));
    // Let the probes and load warm up before measuring.
    std::this_thread::sleep_for(milliseconds(500));
    if (options_.system != nullptr && options_.load_ops_per_s > 0) {
      // Another system's first client ops open sessions (ZooKeeper: a JVM still warming up):
      // the baseline starts once the load has gone through for a second.
      const MonoTime until = MonoNow() + options_.precheck_timeout;
      while (MonoNow() < until && monitor_.OpsPerSecond(MonoNow() - milliseconds(1000), MonoNow()) <
                                      options_.load_ops_per_s / 4) {
        std::this_thread::sleep_for(milliseconds(100));
      }
    }
    const MonoTime b0 = MonoNow();
    std::this_thread::sleep_for(s_.steady_state.baseline);
    const double base = monitor_.OpsPerSecond(b0, MonoNow());
    record_.Update([&](DrillResult& r) { r.baseline_ops_per_s = base; });
    monitor_.SetBaseline(base);
    std::string measured = fmt::format("{:.1f} ops/s", base);
    if (options_.load_ops_per_s > 0) {
      measured += fmt::format(" of {:.0f} requested", options_.load_ops_per_s);
      if (auto [failed, last] = monitor_.LoadFailures(); failed > 0) {
        measured += fmt::format("; {} load ops failed so far (last: {})", failed, last);
      }
    }
    record_.Progress(fmt::format("{} baseline: {}", s_.id, measured));
    record_.AddEvent("check", "baseline", "", measured, true);
    if (options_.load_ops_per_s > 0 && base <= 0) {
      Abort("pre-check: no load op succeeded while measuring the baseline");
      return false;
    }
    const MonoTime deadline = MonoNow() + options_.precheck_timeout;
    int run = 0;
    std::string last_why;
    while (MonoNow() < deadline) {
      std::this_thread::sleep_for(options_.probe_interval);
      auto last = monitor_.Last();
      if (last && last->steady) {
        if (++run >= 5) {
          record_.AddEvent("check", "pre-check", "", "steady state holds (5 probes in a row)",
                           true);
          return true;
        }
      } else {
        run = 0;
        if (last) last_why = last->why;
      }
    }
    Abort("pre-check: steady state did not hold before any fault: " + last_why);
    return false;
  }

  void MarkFault(MonoTime at) {
    record_.SetFault(at);
    monitor_.SetFault(at);
  }

  // Resolves the step's targets (nemesis::FaultTargets: the leader is probed only when they name
  // it; "one", "minority" and "majority" are drawn with the scenario's seed plus the step's index)
  // and applies it.
  void RunStep(const Step& step, size_t index) {
    const std::string kind(FaultKindName(step.spec.kind));
    nemesis::FaultSpec spec = step.spec;
    spec.seed = s_.seed + index;
    auto targets = nemesis::FaultTargets(spec, names_, [this]() -> std::optional<std::string> {
      if (options_.system != nullptr) return options_.system->Leader(*options_.system_nodes);
      auto st = cluster::ProbeStatus(state_, milliseconds(500));
      if (!st) return std::nullopt;
      return st->leader;
    });
    if (!targets) {
      record_.AddEvent("fault", kind, "", targets.error().message(), false);
      target_failed_ = true;
      return;
    }
    if (!record_.has_fault()) MarkFault(MonoNow());
    record_.Progress(fmt::format("{} +{} ms: {} {}", s_.id,
                                 internal::Millis(MonoNow() - record_.fault()), kind,
                                 Join(*targets)));
    faults_.Apply(step, index, *targets);
    // A server stopped on purpose stays down until a start step: no safeguard restarts it.
    for (const std::string& n : *targets) {
      if (step.spec.kind == FaultKind::kKill) stopped_.insert(n);
      if (step.spec.kind == FaultKind::kStart) stopped_.erase(n);
    }
  }

  // The restart safeguard for a system whose servers the cluster's supervisor does not own
  // (DrillOptions::system): a server found down (not stopped by a kill step) is started again
  // through the system's commands, after a backoff that doubles per restart of that node up to
  // max_backoff; past max_restarts in the window it escalates instead.
  void SystemSafeguard() {
    if (options_.system == nullptr || !safeguard_enabled_) return;
    const MonoTime now = MonoNow();
    if (now < next_safeguard_poll_) return;
    next_safeguard_poll_ = now + milliseconds(200);
    auto dbs = control_.Databases();
    if (!dbs) return;
    for (const nemesis::DbProcess& d : *dbs) {
      SafeguardNode& g = safeguard_[d.node];
      if (d.alive || stopped_.contains(d.node) || g.escalated) {
        g.down_since.reset();
        continue;
      }
      if (!g.down_since) {
        g.down_since = now;
        record_.AddEvent("supervisor", "exited", d.node,
                         fmt::format("server down ({}) with no kill step", d.state), true);
      }
      std::erase_if(g.restarts, [&](MonoTime t) { return now - t > s_.restart.window; });
      if (static_cast<int>(g.restarts.size()) >= s_.restart.max_restarts) {
        g.escalated = true;
        record_.Fired("escalation");
        record_.AddEvent("safeguard", "escalated", d.node,
                         fmt::format("{} restarts in {} ms: left down", g.restarts.size(),
                                     s_.restart.window.count()),
                         false);
        continue;
      }
      milliseconds backoff = s_.restart.initial_backoff;
      for (size_t k = 0; k < g.restarts.size() && backoff < s_.restart.max_backoff; ++k) {
        backoff *= 2;
      }
      backoff = std::min(backoff, s_.restart.max_backoff);
      if (now - *g.down_since < backoff) continue;
      g.restarts.push_back(now);
      g.down_since.reset();
      if (faults_.Process("safeguard", "restarted", {d.node}, nemesis::ProcessAction::kStart)) {
        record_.Fired("restart");
        std::lock_guard lock(repair_mu_);
        last_repair_ = std::max(last_repair_.value_or(MonoTime{}), MonoNow());
      }
    }
  }

  // Supervisor events since the drill began become drill events; safeguards are recognised here.
  void PollSupervisor() {
    auto ev = cluster::Events(state_, seq_);
    if (!ev) return;
    const auto& corrupted = faults_.corrupted();
    for (const auto& e : *ev) {
      seq_ = std::max(seq_, e.seq);
      std::string source = e.by_safeguard ? "safeguard" : "supervisor";
      const internal::EventTime at{.mono_ns = e.mono_ns, .wall_ns = e.wall_ns};
      record_.AddEvent(source, e.kind, e.node,
                       e.detail + (e.pid ? fmt::format(" (pid {})", e.pid) : ""),
                       e.kind != "restart-failed", at, e.pid);
      if (e.by_safeguard && e.kind == "restarted") {
        record_.Fired("restart");
        std::lock_guard lock(repair_mu_);
        last_repair_ = std::max(last_repair_.value_or(MonoTime{}), internal::MonoOf(e.mono_ns));
      }
      if (e.kind == "escalated") record_.Fired("escalation");
      auto c = corrupted.find(e.node);
      if (c == corrupted.end()) continue;
      // A corrupted member that exits on its own after being started is the independent
      // detection signal: etcd refused its own data.
      if (e.kind == "exited" && internal::MonoOf(e.mono_ns) >= c->second) {
        if (!detected_) {
          detected_ = true;
          std::string log = LogTail(e.node);
          const std::string signal =
              fmt::format("{} etcd exited on its own ({}) {} ms after the corruption{}", e.node,
                          e.detail, internal::Millis(internal::MonoOf(e.mono_ns) - c->second),
                          log.empty() ? "" : ": " + log);
          record_.Update([&](DrillResult& r) { r.detection_signal = signal; });
          record_.AddEvent("detection", "refused-to-start", e.node, signal, true, at);
        }
        std::lock_guard lock(repair_mu_);
        needs_repair_.insert(e.node);
      }
      if (e.kind == "escalated") {
        std::lock_guard lock(repair_mu_);
        needs_repair_.insert(e.node);
      }
    }
  }

  // The last error-ish line of the node's etcd log, for the detection evidence.
  std::string LogTail(const std::string& name) const {
    std::string path;
    for (const auto& n : state_.nodes) {
      if (n.name == name) path = n.log_path;
    }
    if (path.empty()) return "";
    std::string log = ReadFile(path).value_or("");
    std::istringstream in(log.size() > 200000 ? log.substr(log.size() - 200000) : log);
    std::string line, last;
    while (std::getline(in, line)) {
      if (line.find("\"level\":\"fatal\"") != std::string::npos ||
          line.find("\"level\":\"panic\"") != std::string::npos ||
          line.find("panic:") != std::string::npos || line.find("corrupt") != std::string::npos) {
        last = line;
      }
    }
    if (last.size() > 400) last = last.substr(0, 400) + "...";
    return last;
  }

  // Starts the playbook for the next member that needs it, on its own thread, so later steps
  // still happen at their times.
  void MaybeRepair() {
    if (!s_.repair_playbook || repair_running_) return;
    JoinRepair();
    std::string next;
    {
      std::lock_guard lock(repair_mu_);
      for (const std::string& n : needs_repair_) {
        if (!repaired_.contains(n)) {
          next = n;
          break;
        }
      }
    }
    if (next.empty()) return;
    repair_running_ = true;
    repair_thread_ = std::thread([this, next] {
      const bool ok = internal::RepairMember(
          state_, s_, next, control_, faults_, record_,
          [this](bool enabled, const std::string& why) { SetPolicy(enabled, why); });
      if (ok) record_.Fired("repair");
      {
        std::lock_guard lock(repair_mu_);
        if (ok) last_repair_ = std::max(last_repair_.value_or(MonoTime{}), MonoNow());
        repaired_.insert(next);
        needs_repair_.erase(next);
      }
      repair_running_ = false;
    });
  }

  int Quorum() const { return static_cast<int>(state_.nodes.size()) / 2 + 1; }

  // Returns false when the drill aborted (blast radius).
  bool FaultPhase() {
    const MonoTime start = MonoNow();
    MonoTime last_step_end = start;
    for (const Step& st : s_.steps) {
      last_step_end = std::max(last_step_end, start + st.at + st.spec.duration);
    }
    if (s_.steps.empty()) {
      // A no-fault drill: the "fault" is the moment the phase began.
      MarkFault(start);
      record_.AddEvent("fault", "none", "", "no fault: a control drill", true);
    }
    const MonoTime give_up = last_step_end + s_.observe;
    const int min_healthy = s_.min_healthy > 0 ? s_.min_healthy : Quorum();
    size_t next_step = 0;
    // When the member count first fell below the limit, while below_limit. A plain time point
    // with a flag: GCC 12 at -O2 warns falsely (-Wmaybe-uninitialized) on an optional time_point.
    bool below_limit = false;
    MonoTime below_since{};
    for (;;) {
      while (next_step < s_.steps.size() && start + s_.steps[next_step].at <= MonoNow()) {
        RunStep(s_.steps[next_step], next_step);
        ++next_step;
      }
      faults_.EndDue();
      PollSupervisor();
      SystemSafeguard();
      MaybeRepair();
      auto last = monitor_.Last();
      if (last && record_.has_fault() && !s_.allow_below_quorum && last->healthy < min_healthy) {
        if (!below_limit) {
          below_limit = true;
          below_since = internal::MonoOf(last->mono_ns);
        }
        if (internal::MonoOf(last->mono_ns) - below_since > s_.blast_grace) {
          const std::string reason = fmt::format(
              "blast radius crossed: {} of {} members healthy (limit {}) for over {} ms: {}",
              last->healthy, last->members, min_healthy, s_.blast_grace.count(), last->why);
          record_.Update([&](DrillResult& r) { r.reason = reason; });
          record_.AddEvent("check", "blast-radius", "", reason, false);
          return false;
        }
      } else if (last) {
        below_limit = false;
      }
      bool repairs_open = repair_running_;
      {
        std::lock_guard lock(repair_mu_);
        repairs_open = repairs_open || !needs_repair_.empty();
      }
      const bool all_applied = next_step == s_.steps.size() && faults_.Ended() && !repairs_open;
      if (all_applied && record_.has_fault()) {
        RecoveryResult r = ComputeRecovery(monitor_.Samples(), internal::NsOf(record_.fault()),
                                           s_.settle_window, limit_);
        if (r.recovered_at_ns) break;
      }
      if (MonoNow() > give_up) {
        record_.AddEvent(
            "check", "observation-end", "",
            fmt::format("gave up waiting {} ms after the last step", s_.observe.count()), true);
        break;
      }
      if (last) {
        record_.Progress(
            fmt::format("{} +{:.1f} s: {}/{} healthy, write+read {}, tput {:.0f}%{}", s_.id,
                        std::chrono::duration<double>(MonoNow() - record_.fault()).count(),
                        last->healthy, last->members, last->write_read ? "ok" : "FAIL",
                        last->throughput_percent, last->steady ? ", steady" : ""));
      }
      std::this_thread::sleep_for(milliseconds(50));
    }
    observe_end_ = MonoNow();
    return true;
  }

  void JoinRepair() {
    if (repair_thread_.joinable()) repair_thread_.join();
  }

  const std::vector<checker::LogPattern> log_patterns_;
  const cluster::ClusterState& state_;
  nemesis::NodeControl& control_;
  const Scenario& s_;
  const DrillOptions& options_;
  std::vector<std::string> names_;
  internal::DrillRecord record_;
  internal::Monitor monitor_;
  internal::FaultApplier faults_;
  // Declared after the record, whose log it writes into: it stops first.
  internal::DrillWorkload workload_;
  milliseconds limit_{0};
  std::uint64_t seq_ = 0;
  std::optional<MonoTime> observe_end_;
  bool target_failed_ = false;
  bool detected_ = false;
  // What the repair thread shares with the stepping loop.
  std::mutex repair_mu_;
  std::optional<MonoTime> last_repair_;
  std::set<std::string> needs_repair_;
  std::set<std::string> repaired_;
  std::thread repair_thread_;
  std::atomic<bool> repair_running_{false};
  // The drill's own restart safeguard (SystemSafeguard), stepping loop only.
  struct SafeguardNode {
    std::optional<MonoTime> down_since;
    std::vector<MonoTime> restarts;
    bool escalated = false;
  };
  bool safeguard_enabled_ = false;
  MonoTime next_safeguard_poll_{};
  std::map<std::string, SafeguardNode> safeguard_;
  std::set<std::string> stopped_;  // killed by a step, not started since
};

// What a drill on a system that is not etcd cannot do, said before anything is done.
Status SystemSupports(const Scenario& s, const std::string& system) {
  std::vector<std::string> etcd_only;
  for (const Step& step : s.steps) {
    if (step.spec.kind == FaultKind::kCorrupt) {
      etcd_only.push_back("corrupt steps (they damage etcd's data files)");
      break;
    }
  }
  if (s.repair_playbook) {
    etcd_only.push_back("the repair playbook (etcd member remove, wipe, re-add)");
  }
  if (etcd_only.empty()) return OkStatus();
  return MakeError(ErrorCode::kInvalidArgument,
                   fmt::format("dirt: {}: system {}: the scenario uses what only etcd has: {} "
                               "(run it with --system etcd)",
                               s.id, system, fmt::format("{}", fmt::join(etcd_only, "; "))));
}

}  // namespace

Result<DrillResult> RunDrill(const cluster::ClusterState& state, nemesis::NodeControl& control,
                             const Scenario& scenario, const DrillOptions& options) {
  if (state.nodes.empty()) {
    return Error(ErrorCode::kInvalidArgument,
                 "dirt: " + scenario.id + ": cluster " + state.name + " has no nodes");
  }
  if (options.system == nullptr && state.db != cluster::Db::kEtcd) {
    return Error(ErrorCode::kInvalidArgument,
                 "dirt: " + scenario.id + ": cluster " + state.name +
                     " does not run etcd (give DrillOptions::system for another system)");
  }
  if (options.system != nullptr) {
    if (options.system_nodes == nullptr || options.system_shell == nullptr) {
      return Error(ErrorCode::kInvalidArgument, "dirt: " + scenario.id +
                                                    ": DrillOptions::system needs system_nodes and "
                                                    "system_shell");
    }
    FAULTLINE_RETURN_IF_ERROR(SystemSupports(scenario, options.system->Info().name));
  }
  std::vector<std::string> maxima = scenario.log_pattern_max;
  maxima.insert(maxima.end(), options.log_pattern_max.begin(), options.log_pattern_max.end());
  std::vector<std::string> added = scenario.log_patterns;
  added.insert(added.end(), options.log_patterns.begin(), options.log_patterns.end());
  Result<std::vector<checker::LogPattern>> patterns = checker::MakeLogPatterns(added, maxima);
  if (!patterns)
    return std::move(patterns).error().WithContext(fmt::format("dirt: {}", scenario.id));
  Drill drill(state, control, scenario, options, std::move(*patterns));
  return drill.Run();
}

}  // namespace faultline::dirt
