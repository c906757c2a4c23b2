#include "dirt/internal/monitor.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "cluster/http.h"
#include "common/clock.h"
#include "dirt/internal/etcd.h"
#include "dirt/internal/metrics.h"
#include "dirt/internal/system_probe.h"
#include "dirt/internal/time.h"
#include "nemesis/siege.h"

namespace faultline::dirt::internal {
namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;

struct ProbeState {
  bool ok = false;
  std::optional<MonoTime> inflight_since;  // unset when idle
  std::chrono::microseconds latency{0};
  std::string error;
};

}  // namespace

class Monitor::Impl {
 public:
  Impl(const cluster::ClusterState& state, nemesis::NodeControl& control, const Scenario& scenario,
       const DrillOptions& options)
      : state_(state), control_(control), scenario_(scenario), options_(options) {
    health_.resize(state.nodes.size());
  }
  ~Impl() { Stop(); }

  void Start() {
    for (size_t i = 0; i < state_.nodes.size(); ++i) {
      threads_.emplace_back([this, i] { HealthLoop(i); });
    }
    threads_.emplace_back([this] { WriteReadLoop(); });
    if (options_.load_ops_per_s > 0) threads_.emplace_back([this] { LoadLoop(); });
    threads_.emplace_back([this] { SampleLoop(); });
    threads_.emplace_back([this] { SnapshotLoop(); });
    threads_.emplace_back([this] { MetricsLoop(); });
  }

  void Stop() {
    stop_ = true;
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
    threads_.clear();
  }

  // Successful load ops per second over [from, to].
  double OpsPerSecond(MonoTime from, MonoTime to) {
    std::lock_guard lock(mu_);
    const auto n = std::count_if(load_done_.begin(), load_done_.end(),
                                 [&](MonoTime t) { return t >= from && t <= to; });
    return static_cast<double>(n) / std::chrono::duration<double>(to - from).count();
  }
  std::pair<std::uint64_t, std::string> LoadFailures() {
    std::lock_guard lock(mu_);
    return {load_failed_, load_error_};
  }
  void SetBaseline(double ops) {
    std::lock_guard lock(mu_);
    baseline_ = ops;
  }
  std::vector<ProbeSample> Samples() {
    std::lock_guard lock(mu_);
    return samples_;
  }
  std::optional<ProbeSample> Last() {
    std::lock_guard lock(mu_);
    if (samples_.empty()) return std::nullopt;
    return samples_.back();
  }
  std::vector<std::string> Dumps() {
    std::lock_guard lock(mu_);
    return dumps_;
  }
  std::vector<std::string> Metrics() {
    std::lock_guard lock(mu_);
    return metrics_;
  }
  void set_fault(MonoTime at) { fault_ = at; }

 private:
  std::int64_t OffsetMs(MonoTime t) const {
    const MonoTime fault = fault_.load();
    return fault != MonoTime{} ? Millis(t - fault) : 0;
  }

  // Sleeps until `until`, waking every 50 ms to see whether Stop was called.
  void SleepUnlessStopped(MonoTime until) const {
    while (!stop_ && MonoNow() < until) {
      std::this_thread::sleep_until(std::min(until, MonoNow() + std::chrono::milliseconds(50)));
    }
  }

  // One keep-alive connection per member.
  std::vector<std::unique_ptr<cluster::HttpClient>> Connections() const {
    std::vector<std::unique_ptr<cluster::HttpClient>> conns;
    for (const auto& n : state_.nodes) {
      conns.push_back(std::make_unique<cluster::HttpClient>(n.ClientUrl()));
    }
    return conns;
  }

  // Records a probe's outcome. REQUIRES: mu_ not held.
  void Done(ProbeState& p, bool ok, MonoClock::duration took, const std::string& error) {
    std::lock_guard lock(mu_);
    p.inflight_since.reset();
    p.ok = ok;
    p.latency = std::chrono::duration_cast<std::chrono::microseconds>(took);
    p.error = error;
  }

  // A probe of the system under test for this thread; null (and the loop ends) when its client
  // cannot be made, which the samples then show as the probe's error.
  std::unique_ptr<SystemProbe> MakeProbe(ProbeState& into) {
    auto probe = SystemProbe::Make(*options_.system, *options_.system_nodes, *options_.system_shell,
                                   options_.probe_timeout);
    if (probe) return std::move(*probe);
    std::lock_guard lock(mu_);
    into.ok = false;
    into.error = probe.error().message();
    return nullptr;
  }

  // A system that is not etcd: the node is healthy when the system says it serves clients.
  void SystemHealthLoop(size_t i) {
    std::unique_ptr<SystemProbe> probe = MakeProbe(health_[i]);
    if (!probe) return;
    MonoTime next = MonoNow();
    while (!stop_) {
      const MonoTime t0 = MonoNow();
      {
        std::lock_guard lock(mu_);
        health_[i].inflight_since = t0;
      }
      Status up = probe->Healthy(i);
      const MonoTime t1 = MonoNow();
      Done(health_[i], static_cast<bool>(up), t1 - t0, up ? "" : up.error().message());
      next = std::max(next + options_.probe_interval, MonoNow());
      std::this_thread::sleep_until(next);
    }
  }

  // The node to send the next probe through: `pick` if it last looked healthy, else the next
  // one that did. REQUIRES: mu_ held.
  size_t HealthyPick(size_t pick) const {
    for (size_t k = 0; k < health_.size(); ++k) {
      const size_t idx = (pick + k) % health_.size();
      if (health_[idx].ok) return idx;
    }
    return pick;
  }

  // One write then read of the probe key through node `pick`: "" when it read back what it
  // wrote, else why not.
  std::string SystemWriteRead(SystemProbe& probe, size_t pick, std::int64_t value) {
    if (Status w = probe.Write(pick, kProbeKeyWriteRead, value); !w) return w.error().message();
    auto got = probe.Read(pick, kProbeKeyWriteRead);
    if (!got) return got.error().message();
    if (*got != value) {
      return fmt::format("read {} after writing {}",
                         got->has_value() ? std::to_string(**got) : "nil", value);
    }
    return "";
  }

  void HealthLoop(size_t i) {
    if (options_.system != nullptr) {
      SystemHealthLoop(i);
      return;
    }
    cluster::HttpClient conn(state_.nodes[i].ClientUrl());
    MonoTime next = MonoNow();
    while (!stop_) {
      const MonoTime t0 = MonoNow();
      {
        std::lock_guard lock(mu_);
        health_[i].inflight_since = t0;
      }
      auto r = internal::EtcdHealth(conn, options_.probe_timeout);
      // /health alone is fooled by a member cut off from its peers: with pre-vote it keeps the
      // last leader it saw and answers true. A linearizable read through the member needs the
      // leader (ReadIndex), so a cut-off member fails it; "no such key" is a served read.
      std::string read_error;
      if (r && *r) {
        auto got = internal::EtcdGet(conn, "faultline/dirt/health", options_.probe_timeout);
        if (!got && got.error().code() != ErrorCode::kNotFound) {
          read_error =
              "health true, but a linearizable read through it failed: " + got.error().message();
        }
      }
      const MonoTime t1 = MonoNow();
      {
        std::lock_guard lock(mu_);
        ProbeState& p = health_[i];
        p.inflight_since.reset();
        p.ok = r && *r && read_error.empty();
        p.latency = std::chrono::duration_cast<std::chrono::microseconds>(t1 - t0);
        p.error = !r ? r.error().message() : (!*r ? "health false" : read_error);
      }
      next = std::max(next + options_.probe_interval, MonoNow());
      std::this_thread::sleep_until(next);
    }
  }

  // A put then a linearizable range of the same key, through a node that last looked healthy.
  void WriteReadLoop() {
    if (options_.system != nullptr) {
      SystemWriteReadLoop();
      return;
    }
    auto conns = Connections();
    const std::string key = fmt::format("faultline/dirt/{}/probe", scenario_.id);
    MonoTime next = MonoNow();
    std::uint64_t counter = 0;
    size_t pick = 0;
    while (!stop_) {
      {
        std::lock_guard lock(mu_);
        pick = HealthyPick(pick);
        write_read_.inflight_since = MonoNow();
      }
      std::string value = std::to_string(++counter);
      const MonoTime t0 = MonoNow();
      auto put = internal::EtcdPut(*conns[pick], key, value, options_.probe_timeout);
      std::string err;
      bool ok = false;
      if (put) {
        auto got = internal::EtcdGet(*conns[pick], key, options_.probe_timeout);
        if (got && *got == value) {
          ok = true;
        } else {
          err = got ? "read " + *got + " after writing " + value : got.error().message();
        }
      } else {
        err = put.error().message();
      }
      const MonoTime t1 = MonoNow();
      Done(write_read_, ok, t1 - t0, err);
      if (!ok) pick = (pick + 1) % conns.size();
      next = std::max(next + options_.probe_interval, MonoNow());
      std::this_thread::sleep_until(next);
    }
  }

  // The write+read probe through the system's client (SystemProbe).
  void SystemWriteReadLoop() {
    std::unique_ptr<SystemProbe> probe = MakeProbe(write_read_);
    if (!probe) return;
    MonoTime next = MonoNow();
    std::int64_t counter = 0;
    size_t pick = 0;
    while (!stop_) {
      {
        std::lock_guard lock(mu_);
        pick = HealthyPick(pick);
        write_read_.inflight_since = MonoNow();
      }
      const MonoTime t0 = MonoNow();
      const std::string err = SystemWriteRead(*probe, pick, ++counter);
      const MonoTime t1 = MonoNow();
      Done(write_read_, err.empty(), t1 - t0, err);
      if (!err.empty()) pick = (pick + 1) % probe->size();
      next = std::max(next + options_.probe_interval, MonoNow());
      std::this_thread::sleep_until(next);
    }
  }

  // Records a successful load op now. REQUIRES: mu_ not held.
  void LoadDone() {
    std::lock_guard lock(mu_);
    const MonoTime now = MonoNow();
    load_done_.push_back(now);
    while (!load_done_.empty() && load_done_.front() < now - std::chrono::minutes(2)) {
      load_done_.pop_front();
    }
  }

  void LoadLoop() {
    std::unique_ptr<SystemProbe> probe;
    if (options_.system != nullptr) {
      ProbeState ignored;
      probe = MakeProbe(ignored);
      if (!probe) return;  // no load: the baseline is 0 and the pre-check says so
    }
    std::vector<std::unique_ptr<cluster::HttpClient>> conns;
    if (!probe) conns = Connections();
    const auto interval = std::chrono::duration_cast<MonoClock::duration>(
        std::chrono::duration<double>(1.0 / options_.load_ops_per_s));
    MonoTime next = MonoNow();
    size_t pick = 0;
    std::uint64_t i = 0;
    while (!stop_) {
      Status done = OkStatus();
      if (probe) {
        done = probe->Write(pick, kProbeKeyLoad + static_cast<std::int64_t>(i % 64),
                            static_cast<std::int64_t>(i));
      } else {
        auto put = internal::EtcdPut(*conns[pick], fmt::format("faultline/dirt/load/{}", i % 64),
                                     std::to_string(i), options_.probe_timeout);
        if (!put) done = std::move(put).error();
      }
      ++i;
      if (done) {
        LoadDone();
      } else {
        {
          std::lock_guard lock(mu_);
          ++load_failed_;
          load_error_ = done.error().message();
        }
        pick = (pick + 1) % state_.nodes.size();
      }
      next = std::max(next + interval, MonoNow());
      std::this_thread::sleep_until(next);
    }
  }

  void SampleLoop() {
    MonoTime next = MonoNow();
    // A probe still pending this long counts as failed: a paused member never answers, and
    // waiting for the full timeout would blur detection. 300 ms leaves room for a loaded machine.
    const auto stuck =
        std::max<MonoClock::duration>(3 * options_.probe_interval, std::chrono::milliseconds(300));
    while (!stop_) {
      next += options_.probe_interval;
      std::this_thread::sleep_until(next);
      const MonoTime now = MonoNow();
      double tput = OpsPerSecond(now - std::chrono::seconds(1), now);
      std::lock_guard lock(mu_);
      auto pending = [&](const ProbeState& p) {
        return p.inflight_since && now - *p.inflight_since > stuck;
      };
      ProbeSample s;
      s.mono_ns = NsOf(now);
      s.members = static_cast<int>(health_.size());
      std::vector<std::string> why;
      for (size_t i = 0; i < health_.size(); ++i) {
        const ProbeState& p = health_[i];
        bool ok = p.ok && !pending(p);
        if (ok) {
          ++s.healthy;
        } else {
          why.push_back(fmt::format("{} unhealthy ({})", state_.nodes[i].name,
                                    pending(p) ? "probe pending" : p.error));
        }
      }
      s.write_read = write_read_.ok && !pending(write_read_);
      if (!s.write_read) {
        why.push_back("write+read failed" + (write_read_.error.empty() ? std::string(" (pending)")
                                                                       : ": " + write_read_.error));
      }
      s.throughput_percent = baseline_ > 0 ? tput / baseline_ * 100.0 : 100.0;
      const SteadyState& ss = scenario_.steady_state;
      bool tput_ok = ss.min_throughput_percent <= 0 || baseline_ <= 0 ||
                     s.throughput_percent >= ss.min_throughput_percent;
      if (!tput_ok) {
        why.push_back(fmt::format("throughput {:.0f}% of baseline (< {:.0f}%)",
                                  s.throughput_percent, ss.min_throughput_percent));
      }
      s.steady = (!ss.all_nodes_healthy || s.healthy == s.members) &&
                 (!ss.write_read || s.write_read) && tput_ok;
      for (const std::string& w : why) s.why.append(s.why.empty() ? "" : "; ").append(w);
      samples_.push_back(std::move(s));
    }
  }

  void SnapshotLoop() {
    MonoTime next = MonoNow();
    while (!stop_) {
      const MonoTime t = MonoNow();
      json dump = {{"scenario", scenario_.id},
                   {"mono_ns", NsOf(t)},
                   {"wall_ns", WallNow().count()},
                   {"offset_ms", OffsetMs(t)}};
      if (options_.system != nullptr) {
        SystemSnapshot(dump);
        {
          // Not held through the sleep below: every probe and the load record under this lock.
          std::lock_guard lock(mu_);
          dumps_.push_back(dump.dump());
        }
        next += options_.snapshot_interval;
        SleepUnlessStopped(next);
        continue;
      }
      auto status = cluster::ProbeStatus(state_, milliseconds(300));
      auto dbs = control_.Databases();
      json nodes = json::array();
      std::map<std::string, nemesis::DbProcess> by_node;
      if (dbs) {
        for (const auto& d : *dbs) by_node[d.node] = d;
      }
      if (status) {
        for (const auto& n : status->nodes) {
          json e = {{"node", n.name},
                    {"healthy", n.healthy},
                    {"probe_latency_us", n.probe_latency.count()},
                    {"raft_term", n.raft_term},
                    {"revision", n.revision},
                    {"leader_claim", n.leader_claim ? json(*n.leader_claim) : json(nullptr)},
                    {"heartbeat", n.leader_claim ? "following " + *n.leader_claim : "no leader"}};
          if (n.probe_error) e["probe_error"] = *n.probe_error;
          const nemesis::DbProcess& d = by_node.contains(n.name) ? by_node[n.name] : n.db;
          e["process_state"] = d.state;
          e["pid"] = d.pid;
          e["restarts"] = d.restarts;
          e["paused"] = d.paused;
          nodes.push_back(std::move(e));
        }
        dump["leader"] = status->leader ? json(*status->leader) : json(nullptr);
        if (status->disagreement) dump["disagreement"] = *status->disagreement;
      } else {
        dump["error"] = status.error().message();
      }
      dump["nodes"] = std::move(nodes);
      {
        std::lock_guard lock(mu_);
        dumps_.push_back(dump.dump());
      }
      next += options_.snapshot_interval;
      SleepUnlessStopped(next);
    }
  }

  // A control-plane snapshot of a system that is not etcd: each node's health probe and
  // process as its control sees them, and the leader the system names (etcd's terms and
  // revisions have no counterpart here).
  void SystemSnapshot(json& dump) {
    auto dbs = control_.Databases();
    std::map<std::string, nemesis::DbProcess> by_node;
    if (dbs) {
      for (const auto& d : *dbs) by_node[d.node] = d;
    } else {
      dump["error"] = dbs.error().message();
    }
    json nodes = json::array();
    {
      std::lock_guard lock(mu_);
      for (size_t i = 0; i < health_.size(); ++i) {
        const std::string& name = state_.nodes[i].name;
        json e = {{"node", name},
                  {"healthy", health_[i].ok},
                  {"probe_latency_us", health_[i].latency.count()}};
        if (!health_[i].error.empty()) e["probe_error"] = health_[i].error;
        if (by_node.contains(name)) {
          const nemesis::DbProcess& d = by_node[name];
          e["process_state"] = d.state;
          e["pid"] = d.pid;
          e["paused"] = d.paused;
        }
        nodes.push_back(std::move(e));
      }
    }
    const std::optional<std::string> leader = options_.system->Leader(*options_.system_nodes);
    dump["leader"] = leader ? json(*leader) : json(nullptr);
    dump["system"] = options_.system->Info().name;
    dump["nodes"] = std::move(nodes);
  }

  void MetricsLoop() {
    ResourceMetrics metrics(state_, control_, scenario_.id);
    MonoTime next = MonoNow();
    while (!stop_) {
      const MonoTime t = MonoNow();
      if (auto sample = metrics.Sample(t, OffsetMs(t))) {
        std::lock_guard lock(mu_);
        metrics_.push_back(std::move(*sample));
      }
      next += options_.metrics_interval;
      SleepUnlessStopped(next);
    }
  }

  const cluster::ClusterState& state_;
  nemesis::NodeControl& control_;
  const Scenario& scenario_;
  const DrillOptions& options_;
  std::atomic<bool> stop_{false};
  std::atomic<MonoTime> fault_{MonoTime{}};  // the epoch until the first fault
  std::vector<std::thread> threads_;

  std::mutex mu_;
  std::vector<ProbeState> health_;
  ProbeState write_read_;
  std::deque<MonoTime> load_done_;
  std::uint64_t load_failed_ = 0;
  std::string load_error_;
  double baseline_ = 0;
  std::vector<ProbeSample> samples_;
  std::vector<std::string> dumps_;
  std::vector<std::string> metrics_;
};

Monitor::Monitor(const cluster::ClusterState& state, nemesis::NodeControl& control,
                 const Scenario& scenario, const DrillOptions& options)
    : impl_(std::make_unique<Impl>(state, control, scenario, options)) {}
Monitor::~Monitor() = default;
void Monitor::Start() { impl_->Start(); }
void Monitor::Stop() { impl_->Stop(); }
double Monitor::OpsPerSecond(MonoTime from, MonoTime to) { return impl_->OpsPerSecond(from, to); }
void Monitor::SetBaseline(double ops) { impl_->SetBaseline(ops); }
std::pair<std::uint64_t, std::string> Monitor::LoadFailures() { return impl_->LoadFailures(); }
std::vector<ProbeSample> Monitor::Samples() { return impl_->Samples(); }
std::optional<ProbeSample> Monitor::Last() { return impl_->Last(); }
std::vector<std::string> Monitor::Dumps() { return impl_->Dumps(); }
std::vector<std::string> Monitor::Metrics() { return impl_->Metrics(); }
void Monitor::SetFault(MonoTime at) { impl_->set_fault(at); }

}  // namespace faultline::dirt::internal
