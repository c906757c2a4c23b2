#include "dirt/drill.h"

#include <fmt/format.h>
#include <signal.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stop_token>
#include <thread>

#include "client/etcd.h"
#include "dirt/internal/consistency.h"
#include "dirt/internal/etcd.h"
#include "dirt/internal/event_log.h"
#include "dirt/internal/http.h"
#include "history/history.h"
#include "history/log.h"
#include "nemesis/corrupt.h"
#include "nemesis/grudge.h"
#include "nemesis/nemesis.h"
#include "nemesis/siege.h"
#include "runner/campaign.h"

namespace faultline::dirt {
namespace {

using json = nlohmann::json;
using internal::HttpConnection;
using std::chrono::milliseconds;

std::int64_t MonoNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}
std::int64_t WallNs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}
void SleepUntil(std::int64_t mono_ns) {
  timespec ts{.tv_sec = static_cast<time_t>(mono_ns / 1000000000), .tv_nsec = mono_ns % 1000000000};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}
std::int64_t NsOf(milliseconds ms) { return static_cast<std::int64_t>(ms.count()) * 1000000; }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// /proc/PID/stat field 22 (start time in clock ticks), against PID reuse.
std::uint64_t ProcStartTime(int pid) {
  std::string s = ReadFile(fmt::format("/proc/{}/stat", pid));
  size_t rp = s.rfind(')');
  if (rp == std::string::npos) return 0;
  std::istringstream in(s.substr(rp + 2));
  std::string f;
  for (int i = 3; i <= 22 && in >> f; ++i) {
    if (i == 22) return std::stoull(f);
  }
  return 0;
}

// --- Live probes --------------------------------------------------------------------------

struct ProbeState {
  bool ok = false;
  std::int64_t inflight_since = 0;  // 0 when idle
  std::int64_t latency_us = 0;
  std::string error;
};

class Monitor {
 public:
  Monitor(const cluster::ClusterState& state, nemesis::NodeControl& control,
          const Scenario& scenario, const DrillOptions& options)
      : state_(state), control_(control), scenario_(scenario), options_(options) {
    health_.resize(state.nodes.size());
  }
  ~Monitor() { Stop(); }

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
  double OpsPerSecond(std::int64_t from, std::int64_t to) {
    std::lock_guard lock(mu_);
    std::int64_t n = std::count_if(load_done_.begin(), load_done_.end(),
                                   [&](std::int64_t t) { return t >= from && t <= to; });
    return static_cast<double>(n) / (static_cast<double>(to - from) / 1e9);
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
  std::optional<std::string> Leader() {
    std::lock_guard lock(mu_);
    return leader_;
  }
  void set_fault_ns(std::int64_t ns) { fault_ns_ = ns; }

 private:
  void HealthLoop(size_t i) {
    HttpConnection conn(state_.nodes[i].ClientUrl());
    std::int64_t next = MonoNs();
    while (!stop_) {
      std::int64_t t0 = MonoNs();
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
      std::int64_t t1 = MonoNs();
      {
        std::lock_guard lock(mu_);
        ProbeState& p = health_[i];
        p.inflight_since = 0;
        p.ok = r && *r && read_error.empty();
        p.latency_us = (t1 - t0) / 1000;
        p.error = !r ? r.error().message() : (!*r ? "health false" : read_error);
      }
      next += NsOf(options_.probe_interval);
      if (next < MonoNs()) next = MonoNs();
      SleepUntil(next);
    }
  }

  // A put then a linearizable range of the same key, through a node that last looked healthy.
  void WriteReadLoop() {
    std::vector<std::unique_ptr<HttpConnection>> conns;
    for (const auto& n : state_.nodes)
      conns.push_back(std::make_unique<HttpConnection>(n.ClientUrl()));
    const std::string key = fmt::format("faultline/dirt/{}/probe", scenario_.id);
    std::int64_t next = MonoNs();
    std::uint64_t counter = 0;
    size_t pick = 0;
    while (!stop_) {
      {
        std::lock_guard lock(mu_);
        for (size_t k = 0; k < health_.size(); ++k) {
          size_t idx = (pick + k) % health_.size();
          if (health_[idx].ok) {
            pick = idx;
            break;
          }
        }
        write_read_.inflight_since = MonoNs();
      }
      std::string value = std::to_string(++counter);
      std::int64_t t0 = MonoNs();
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
      std::int64_t t1 = MonoNs();
      {
        std::lock_guard lock(mu_);
        write_read_.inflight_since = 0;
        write_read_.ok = ok;
        write_read_.latency_us = (t1 - t0) / 1000;
        write_read_.error = err;
      }
      if (!ok) pick = (pick + 1) % conns.size();
      next += NsOf(options_.probe_interval);
      if (next < MonoNs()) next = MonoNs();
      SleepUntil(next);
    }
  }

  void LoadLoop() {
    std::vector<std::unique_ptr<HttpConnection>> conns;
    for (const auto& n : state_.nodes)
      conns.push_back(std::make_unique<HttpConnection>(n.ClientUrl()));
    const std::int64_t interval = static_cast<std::int64_t>(1e9 / options_.load_ops_per_s);
    std::int64_t next = MonoNs();
    size_t pick = 0;
    std::uint64_t i = 0;
    while (!stop_) {
      auto r = internal::EtcdPut(*conns[pick], fmt::format("faultline/dirt/load/{}", i % 64),
                                 std::to_string(i), options_.probe_timeout);
      ++i;
      if (r) {
        std::lock_guard lock(mu_);
        load_done_.push_back(MonoNs());
        while (!load_done_.empty() && load_done_.front() < MonoNs() - 120000000000ll) {
          load_done_.pop_front();
        }
      } else {
        pick = (pick + 1) % conns.size();
      }
      next += interval;
      if (next < MonoNs()) next = MonoNs();
      SleepUntil(next);
    }
  }

  void SampleLoop() {
    std::int64_t next = MonoNs();
    // A probe still pending this long counts as failed: a paused member never answers, and
    // waiting for the full timeout would blur detection. 300 ms leaves room for a loaded machine.
    const std::int64_t stuck = std::max<std::int64_t>(3 * NsOf(options_.probe_interval), 300000000);
    while (!stop_) {
      next += NsOf(options_.probe_interval);
      SleepUntil(next);
      std::int64_t now = MonoNs();
      double tput = OpsPerSecond(now - 1000000000, now);
      std::lock_guard lock(mu_);
      ProbeSample s;
      s.mono_ns = now;
      s.members = static_cast<int>(health_.size());
      std::vector<std::string> why;
      for (size_t i = 0; i < health_.size(); ++i) {
        const ProbeState& p = health_[i];
        bool ok = p.ok && !(p.inflight_since != 0 && now - p.inflight_since > stuck);
        if (ok) {
          ++s.healthy;
        } else {
          why.push_back(fmt::format(
              "{} unhealthy ({})", state_.nodes[i].name,
              p.inflight_since != 0 && now - p.inflight_since > stuck ? "probe pending" : p.error));
        }
      }
      s.write_read = write_read_.ok &&
                     !(write_read_.inflight_since != 0 && now - write_read_.inflight_since > stuck);
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
      if (!ss.all_nodes_healthy && s.healthy != s.members) {
        // Not part of the steady state: keep it as information only.
      }
      for (const std::string& w : why) s.why.append(s.why.empty() ? "" : "; ").append(w);
      samples_.push_back(std::move(s));
    }
  }

  void SnapshotLoop() {
    std::int64_t next = MonoNs();
    while (!stop_) {
      std::int64_t t = MonoNs();
      json dump = {{"scenario", scenario_.id},
                   {"mono_ns", t},
                   {"wall_ns", WallNs()},
                   {"offset_ms", fault_ns_ != 0 ? (t - fault_ns_) / 1000000 : 0}};
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
        std::lock_guard lock(mu_);
        leader_ = status->leader;
      } else {
        dump["error"] = status.error().message();
      }
      dump["nodes"] = std::move(nodes);
      {
        std::lock_guard lock(mu_);
        dumps_.push_back(dump.dump());
      }
      next += NsOf(options_.snapshot_interval);
      while (!stop_ && MonoNs() < next) SleepUntil(std::min(next, MonoNs() + 50000000));
    }
  }

  struct Counters {
    std::uint64_t cpu_ns = 0;
    std::uint64_t rbytes = 0, wbytes = 0, rops = 0, wops = 0, net_rx = 0, net_tx = 0;
  };

  static void BlkioTotals(const std::string& dir, Counters& c) {
    auto read_kv = [](const std::string& path, std::uint64_t& r, std::uint64_t& w) {
      std::istringstream in(ReadFile(path));
      std::string dev, op;
      std::uint64_t v;
      while (in >> dev) {
        if (dev == "Total") {
          in >> v;
          continue;
        }
        if (!(in >> op >> v)) break;
        if (op == "Read") r += v;
        if (op == "Write") w += v;
      }
    };
    read_kv(dir + "/blkio.throttle.io_service_bytes", c.rbytes, c.wbytes);
    read_kv(dir + "/blkio.throttle.io_serviced", c.rops, c.wops);
  }

  static void NetDev(const std::string& path, Counters& c, bool skip_lo) {
    std::istringstream in(ReadFile(path));
    std::string line;
    while (std::getline(in, line)) {
      size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      name.erase(0, name.find_first_not_of(' '));
      if (skip_lo && name == "lo") continue;
      std::istringstream f(line.substr(colon + 1));
      std::uint64_t v[16] = {};
      for (auto& x : v) f >> x;
      c.net_rx += v[0];
      c.net_tx += v[8];
    }
  }

  void MetricsLoop() {
    auto mounts = nemesis::DetectCgroups();
    std::vector<std::optional<nemesis::SiegeTarget>> targets;
    for (const auto& n : state_.nodes) {
      if (!mounts) {
        targets.emplace_back();
        continue;
      }
      auto t = nemesis::TargetFromCgroups(n.name, n.cgroups, *mounts);
      targets.push_back(t ? std::optional(*t) : std::nullopt);
    }
    std::map<std::string, Counters> prev;
    std::uint64_t prev_busy = 0, prev_total = 0;
    std::int64_t prev_t = 0;
    std::int64_t next = MonoNs();
    while (!stop_) {
      std::int64_t t = MonoNs();
      double dt = prev_t != 0 ? static_cast<double>(t - prev_t) / 1e9 : 0;
      json sample = {{"scenario", scenario_.id},
                     {"mono_ns", t},
                     {"wall_ns", WallNs()},
                     {"offset_ms", fault_ns_ != 0 ? (t - fault_ns_) / 1000000 : 0}};
      json nodes = json::array();
      std::map<std::string, int> pids;
      if (auto dbs = control_.Databases()) {
        for (const auto& d : *dbs) pids[d.node] = d.pid;
      }
      auto rate = [&](std::uint64_t now_v, std::uint64_t prev_v) -> json {
        if (dt <= 0 || now_v < prev_v) return nullptr;
        return static_cast<double>(now_v - prev_v) / dt;
      };
      for (size_t i = 0; i < state_.nodes.size(); ++i) {
        const std::string& name = state_.nodes[i].name;
        json e = {{"node", name}};
        Counters c;
        if (targets[i]) {
          if (auto u = nemesis::ReadCpuUsageNs(*targets[i])) c.cpu_ns = *u;
          if (auto m = nemesis::ReadMemoryBytes(*targets[i])) e["memory_bytes"] = *m;
          if (!targets[i]->blkio.empty()) BlkioTotals(targets[i]->blkio, c);
        }
        if (pids[name] > 0) NetDev(fmt::format("/proc/{}/net/dev", pids[name]), c, true);
        const Counters& p = prev[name];
        json cpu = rate(c.cpu_ns, p.cpu_ns);
        e["cpu_percent"] = cpu.is_null() ? json(nullptr) : json(cpu.get<double>() / 1e7);
        e["disk_read_bytes_per_s"] = rate(c.rbytes, p.rbytes);
        e["disk_write_bytes_per_s"] = rate(c.wbytes, p.wbytes);
        e["disk_read_ops_per_s"] = rate(c.rops, p.rops);
        e["disk_write_ops_per_s"] = rate(c.wops, p.wops);
        e["net_rx_bytes_per_s"] = rate(c.net_rx, p.net_rx);
        e["net_tx_bytes_per_s"] = rate(c.net_tx, p.net_tx);
        e["source"] = targets[i] ? "cgroups + /proc/<pid>/net/dev" : "/proc/<pid>/net/dev only";
        prev[name] = c;
        nodes.push_back(std::move(e));
      }
      // Host: /proc/stat, /proc/meminfo, /proc/diskstats, /proc/net/dev.
      json host;
      {
        std::istringstream in(ReadFile("/proc/stat"));
        std::string cpu;
        std::uint64_t v[10] = {};
        in >> cpu;
        for (auto& x : v) in >> x;
        std::uint64_t total = 0;
        for (auto x : v) total += x;
        std::uint64_t busy = total - v[3] - v[4];
        if (prev_total != 0 && total > prev_total) {
          host["cpu_percent_of_machine"] = static_cast<double>(busy - prev_busy) /
                                           static_cast<double>(total - prev_total) * 100.0;
        }
        prev_busy = busy;
        prev_total = total;
      }
      {
        std::istringstream in(ReadFile("/proc/meminfo"));
        std::string k, unit;
        std::uint64_t v, mtotal = 0, mavail = 0;
        while (in >> k >> v >> unit) {
          if (k == "MemTotal:") mtotal = v;
          if (k == "MemAvailable:") mavail = v;
        }
        host["memory_used_bytes"] = (mtotal - mavail) * 1024;
      }
      Counters hc;
      {
        std::istringstream in(ReadFile("/proc/diskstats"));
        std::string line;
        while (std::getline(in, line)) {
          std::istringstream f(line);
          unsigned maj, min;
          std::string dev;
          std::uint64_t r, rm, rs, rt, w, wm, ws;
          if (!(f >> maj >> min >> dev >> r >> rm >> rs >> rt >> w >> wm >> ws)) continue;
          // Whole disks only (a partition's I/O is already in its disk's line).
          if (!std::ifstream("/sys/block/" + dev).good() &&
              !std::ifstream("/sys/block/" + dev + "/dev").good())
            continue;
          if (dev.starts_with("loop") || dev.starts_with("ram")) continue;
          hc.rops += r;
          hc.wops += w;
          hc.rbytes += rs * 512;
          hc.wbytes += ws * 512;
        }
      }
      NetDev("/proc/net/dev", hc, true);
      const Counters& hp = prev["\x01host"];
      host["disk_read_bytes_per_s"] = rate(hc.rbytes, hp.rbytes);
      host["disk_write_bytes_per_s"] = rate(hc.wbytes, hp.wbytes);
      host["disk_read_ops_per_s"] = rate(hc.rops, hp.rops);
      host["disk_write_ops_per_s"] = rate(hc.wops, hp.wops);
      host["net_rx_bytes_per_s"] = rate(hc.net_rx, hp.net_rx);
      host["net_tx_bytes_per_s"] = rate(hc.net_tx, hp.net_tx);
      prev["\x01host"] = hc;
      sample["nodes"] = std::move(nodes);
      sample["host"] = std::move(host);
      if (prev_t != 0) {
        std::lock_guard lock(mu_);
        metrics_.push_back(sample.dump());
      }
      prev_t = t;
      next += NsOf(options_.metrics_interval);
      while (!stop_ && MonoNs() < next) SleepUntil(std::min(next, MonoNs() + 50000000));
    }
  }

  const cluster::ClusterState& state_;
  nemesis::NodeControl& control_;
  const Scenario& scenario_;
  const DrillOptions& options_;
  std::atomic<bool> stop_{false};
  std::atomic<std::int64_t> fault_ns_{0};
  std::vector<std::thread> threads_;

  std::mutex mu_;
  std::vector<ProbeState> health_;
  ProbeState write_read_;
  std::deque<std::int64_t> load_done_;
  double baseline_ = 0;
  std::vector<ProbeSample> samples_;
  std::vector<std::string> dumps_;
  std::vector<std::string> metrics_;
  std::optional<std::string> leader_;
};

// --- The register workload beside a drill --------------------------------------------------

// runner::RunCampaign on its own thread for the drill's duration: no fault injector (the drill's
// own steps are the faults), the drill's history log as the campaign's log, so client ops and
// drill events interleave in one log. Stopped through its stop token when the drill is done.
class DrillWorkload {
 public:
  DrillWorkload() = default;
  ~DrillWorkload() { Stop(); }
  DrillWorkload(const DrillWorkload&) = delete;
  DrillWorkload& operator=(const DrillWorkload&) = delete;

  // An error when it could not start (nothing runs then).
  Status Start(const cluster::ClusterState& state, const Scenario& s, history::LogWriter& log) {
    config_.db = "etcd";
    config_.nodes = static_cast<int>(state.nodes.size());
    config_.name = state.name;
    config_.workload = runner::Workload::kRegister;
    config_.nemesis = {};
    config_.time_limit_s = 24 * 3600;  // the drill stops it
    config_.concurrency = s.workload.concurrency;
    config_.rate = s.workload.rate;
    config_.seed = s.seed;
    config_.final_phase_s = 0;
    client::EtcdClientOptions o;
    for (const auto& n : state.nodes) {
      o.endpoints.push_back(client::EtcdEndpoint{.node = n.name, .host = n.address, .port = 2379});
    }
    o.timeout = milliseconds(config_.client_timeout_ms);
    o.workload = client::EtcdWorkload::kRegister;
    o.key_prefix = fmt::format("faultline/dirt/{}/{}/", s.id, WallNs());
    auto factory = client::MakeEtcdClientFactory(o);
    if (!factory) return factory.error().WithContext("dirt: " + s.id + ": workload");
    factory_ = std::move(*factory);
    deps_.clients = factory_.get();
    deps_.log = &log;
    deps_.stop = stop_.get_token();
    thread_ = std::thread([this] { stats_ = runner::RunCampaign(config_, deps_); });
    return OkStatus();
  }

  void Stop() {
    if (!thread_.joinable()) return;
    stop_.request_stop();
    thread_.join();
  }

  bool started() const { return factory_ != nullptr; }
  const runner::CampaignConfig& config() const { return config_; }
  const std::optional<Result<runner::RunStats>>& stats() const { return stats_; }

 private:
  runner::CampaignConfig config_;
  std::unique_ptr<client::ClientFactory> factory_;
  runner::CampaignDeps deps_;
  std::stop_source stop_;
  std::thread thread_;
  std::optional<Result<runner::RunStats>> stats_;
};

// --- The drill ----------------------------------------------------------------------------

struct Undo {
  std::int64_t due_ns = 0;
  std::string what;
  std::function<void()> fn;
  bool done = false;
};

class Drill {
 public:
  Drill(const cluster::ClusterState& state, nemesis::NodeControl& control, const Scenario& scenario,
        const DrillOptions& options)
      : state_(state),
        control_(control),
        s_(scenario),
        options_(options),
        monitor_(state, control, scenario, options) {
    for (const auto& n : state.nodes) names_.push_back(n.name);
  }
  ~Drill() {
    JoinRepair();
    workload_.Stop();
  }

  DrillResult Run() {
    res_.scenario_id = s_.id;
    res_.title = s_.title;
    res_.severity = s_.severity;
    res_.category = s_.category;
    res_.scenario_source = s_.source;
    res_.start_wall_ns = WallNs();
    limit_ = options_.max_recovery_override.value_or(s_.max_recovery_time);
    if (std::optional<std::string> why = CheckPinned()) {
      res_.verdict = Verdict::kInvalid;
      res_.reason = *why;
      res_.end_wall_ns = WallNs();
      return res_;
    }
    auto ev = cluster::Events(state_);
    if (ev && !ev->empty()) seq_ = ev->back().seq;
    OpenLog();
    SetPolicy(s_.restart.enabled, "drill start");
    monitor_.Start();
    StartWorkload();
    bool aborted = false;
    if (!PreCheck()) {
      aborted = true;
    } else {
      // Opening the nemesis probes partition backends (seconds on a loaded host): do it before
      // the first fault, so isolate steps happen at their times.
      if (std::any_of(s_.steps.begin(), s_.steps.end(),
                      [](const Step& st) { return st.fault == FaultKind::kIsolate; })) {
        (void)Nem();
      }
      aborted = !FaultPhase();
    }
    Rollback();
    workload_.Stop();
    PostChecks();
    monitor_.Stop();
    res_.probes = monitor_.Samples();
    res_.control_plane_dumps = monitor_.Dumps();
    res_.resource_metrics = monitor_.Metrics();
    CheckWorkload();
    Judge(aborted);
    AddEvent("check", "verdict", "", fmt::format("{}: {}", VerdictName(res_.verdict), res_.reason),
             res_.verdict == Verdict::kPass);
    CloseLog();
    std::stable_sort(
        res_.events.begin(), res_.events.end(),
        [](const DrillEvent& a, const DrillEvent& b) { return a.mono_ns < b.mono_ns; });
    res_.end_wall_ns = WallNs();
    Progress(fmt::format("{} {}: {}", s_.id, VerdictName(res_.verdict), res_.reason));
    return res_;
  }

 private:
  std::optional<std::string> CheckPinned() const {
    const cluster::EtcdSettings& e = state_.etcd;
    std::vector<std::string> diff;
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

  void Progress(const std::string& line) {
    if (options_.progress) options_.progress(line);
  }

  void AddEvent(std::string source, std::string kind, std::string node, std::string detail, bool ok,
                std::int64_t mono = 0, std::int64_t wall = 0, int pid = 0) {
    DrillEvent e;
    e.mono_ns = mono != 0 ? mono : MonoNs();
    e.wall_ns = wall != 0 ? wall : WallNs() - (MonoNs() - e.mono_ns);
    e.offset_ms = fault_ns_ != 0 ? (e.mono_ns - fault_ns_) / 1000000 : 0;
    e.source = std::move(source);
    e.kind = std::move(kind);
    e.node = std::move(node);
    e.detail = std::move(detail);
    e.ok = ok;
    e.pid = pid;
    // A fault step's own events make up its completion (EndStep), not pairs of their own.
    if (event_log_ && !(in_step_ && e.source == "fault")) {
      Status st = event_log_->Record(e);
      if (!st) LogFailed(st.error().message());
    }
    std::lock_guard lock(mu_);
    res_.events.push_back(std::move(e));
  }

  // --- The history log ---

  void OpenLog() {
    if (options_.history_dir.empty()) return;
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::create_directories(options_.history_dir, ec);
    std::string path;
    for (int i = 1;; ++i) {
      path =
          (fs::path(options_.history_dir) / (i == 1 ? fmt::format("history-{}.log", s_.id)
                                                    : fmt::format("history-{}-{}.log", s_.id, i)))
              .string();
      if (!fs::exists(path, ec)) break;
    }
    res_.history_log = DrillLogInfo{};
    res_.history_log->path = path;
    history::LogOptions lo;
    lo.meta = internal::DrillLogMeta(s_, state_.name, names_);
    auto w = history::LogWriter::Create(path, lo);
    if (!w) {
      LogFailed(w.error().message());
      return;
    }
    log_ = std::move(*w);
    event_log_ = std::make_unique<internal::EventLog>(*log_);
  }

  void LogFailed(const std::string& why) {
    std::lock_guard lock(mu_);
    if (res_.history_log && res_.history_log->error.empty()) {
      res_.history_log->error = why;
      res_.notes.push_back("history log incomplete: " + why);
    }
  }

  void CloseLog() {
    if (!log_) return;
    event_log_.reset();
    auto sum = log_->Close();
    if (sum) {
      res_.history_log->records = sum->records;
      res_.history_log->ops = sum->ops;
      res_.history_log->head = sum->head;
    } else {
      LogFailed(sum.error().message());
    }
    log_.reset();
  }

  void StartWorkload() {
    if (!s_.workload.enabled) return;
    if (!log_) {
      res_.notes.push_back(
          "workload not run: it records into the drill's history log, and there "
          "is none (give DrillOptions::history_dir)");
      return;
    }
    Status st = workload_.Start(state_, s_, *log_);
    AddEvent("check", "workload-start", "",
             st ? fmt::format("{} workload, {} workers, rate {}", s_.workload.kind,
                              s_.workload.concurrency,
                              s_.workload.rate > 0 ? fmt::format("{} ops/s", s_.workload.rate)
                                                   : std::string("unlimited"))
                : st.error().message(),
             static_cast<bool>(st));
  }

  void CheckWorkload() {
    if (!s_.workload.enabled) return;
    ConsistencyResult c;
    c.workload = s_.workload.kind;
    if (!log_ || !workload_.started()) {
      c.summary = "the workload did not run (see the notes)";
    } else {
      Status synced = log_->Sync();
      if (!synced) {
        c.summary = "the history log could not be synced: " + synced.error().message();
      } else {
        const auto& stats = workload_.stats();
        if (!stats || !*stats) {
          c.summary = "the workload did not run: " +
                      (stats ? stats->error().message() : std::string("it was never started"));
        } else {
          c = internal::CheckLoggedConsistency(res_.history_log->path, workload_.config(),
                                               (*stats)->warnings);
        }
      }
    }
    res_.consistency = c;
    AddEvent("check", "consistency", "",
             fmt::format("{}: {} ops on {} keys (ok {}, fail {}, info {}): {}",
                         checker::ValidityName(c.validity), c.ops, c.keys, c.ok, c.fail, c.info,
                         c.summary),
             c.validity == checker::Validity::kValid);
  }

  void SetPolicy(bool enabled, const std::string& why) {
    cluster::RestartPolicy p;
    p.enabled = enabled;
    p.initial_backoff = s_.restart.initial_backoff;
    p.max_backoff = s_.restart.max_backoff;
    p.max_restarts = s_.restart.max_restarts;
    p.window = s_.restart.window;
    Status st = cluster::SetRestartPolicy(state_, p);
    AddEvent("safeguard", "restart-policy", "",
             fmt::format("{} ({}): backoff {}..{} ms, max {} in {} ms{}",
                         enabled ? "enabled" : "disabled", why, p.initial_backoff.count(),
                         p.max_backoff.count(), p.max_restarts, p.window.count(),
                         st ? "" : ": " + st.error().message()),
             static_cast<bool>(st));
  }

  const cluster::NodeState* Node(const std::string& name) const {
    for (const auto& n : state_.nodes) {
      if (n.name == name) return &n;
    }
    return nullptr;
  }

  bool PreCheck() {
    Progress(fmt::format("{} pre-check: measuring baseline for {} ms", s_.id,
                         s_.steady_state.baseline.count()));
    // Let the probes and load warm up before measuring.
    std::this_thread::sleep_for(milliseconds(500));
    std::int64_t b0 = MonoNs();
    std::this_thread::sleep_for(s_.steady_state.baseline);
    double base = monitor_.OpsPerSecond(b0, MonoNs());
    res_.baseline_ops_per_s = base;
    monitor_.SetBaseline(base);
    AddEvent("check", "baseline", "", fmt::format("{:.1f} ops/s", base), true);
    if (options_.load_ops_per_s > 0 && base <= 0) {
      res_.reason = "pre-check: no load op succeeded while measuring the baseline";
      AddEvent("check", "pre-check", "", res_.reason, false);
      return false;
    }
    std::int64_t deadline = MonoNs() + NsOf(options_.precheck_timeout);
    int run = 0;
    std::string last_why;
    while (MonoNs() < deadline) {
      std::this_thread::sleep_for(options_.probe_interval);
      auto last = monitor_.Last();
      if (last && last->steady) {
        if (++run >= 5) {
          AddEvent("check", "pre-check", "", "steady state holds (5 probes in a row)", true);
          return true;
        }
      } else {
        run = 0;
        if (last) last_why = last->why;
      }
    }
    res_.reason = "pre-check: steady state did not hold before any fault: " + last_why;
    AddEvent("check", "pre-check", "", res_.reason, false);
    return false;
  }

  Result<std::vector<std::string>> Targets(const Step& step) {
    std::optional<std::string> leader;
    if (step.targets.find("leader") != std::string::npos) {
      auto st = cluster::ProbeStatus(state_, milliseconds(500));
      if (st) leader = st->leader;
    }
    return nemesis::ResolveTarget(step.targets, names_, leader, s_.seed + step_index_);
  }

  static std::string Join(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& x : v) out.append(out.empty() ? "" : ",").append(x);
    return out;
  }

  void ProcessReports(const std::string& source, const std::string& kind,
                      const std::vector<nemesis::ProcessReport>& reps) {
    for (const auto& r : reps) {
      AddEvent(source, kind, r.node, r.ok ? r.mechanism : (r.error ? r.error->message() : "failed"),
               r.ok);
      if (!r.ok && source == "fault") step_failed_ = true;
    }
  }

  nemesis::Nemesis* Nem() {
    if (nemesis_) return nemesis_.get();
    nemesis::NemesisOptions o;
    o.net = state_.NetConfig();
    o.ledger_path = state_.run_dir + "/dirt-" + s_.id + ".ledger";
    o.control = &control_;
    o.deadline = s_.observe + milliseconds(60000);
    auto n = nemesis::Nemesis::Open(o);
    if (!n) {
      AddEvent("fault", "nemesis", "", n.error().message(), false);
      return nullptr;
    }
    nemesis_ = std::move(*n);
    return nemesis_.get();
  }

  void Apply(const Step& step) {
    auto targets = Targets(step);
    const std::string kind(FaultKindName(step.fault));
    if (!targets) {
      AddEvent("fault", kind, "", targets.error().message(), false);
      step_failed_ = true;
      return;
    }
    const std::vector<std::string> nodes = *targets;
    if (fault_ns_ == 0) {
      fault_ns_ = MonoNs();
      res_.fault_mono_ns = fault_ns_;
      res_.fault_wall_ns = WallNs();
      monitor_.set_fault_ns(fault_ns_);
    }
    Progress(fmt::format("{} +{} ms: {} {}", s_.id, (MonoNs() - fault_ns_) / 1000000, kind,
                         Join(nodes)));
    size_t first_event = 0;
    {
      std::lock_guard lock(mu_);
      first_event = res_.events.size();
    }
    if (event_log_) {
      Status st =
          event_log_->BeginStep(step_index_, kind, step.targets, StepDescription(step, nodes));
      if (!st) LogFailed(st.error().message());
    }
    in_step_ = true;
    ApplyTo(step, nodes);
    in_step_ = false;
    if (event_log_) {
      std::vector<std::string> hit, details;
      bool ok = true;
      {
        std::lock_guard lock(mu_);
        for (size_t i = first_event; i < res_.events.size(); ++i) {
          const DrillEvent& e = res_.events[i];
          if (e.source != "fault") continue;
          ok = ok && e.ok;
          if (!e.node.empty() && std::find(hit.begin(), hit.end(), e.node) == hit.end()) {
            hit.push_back(e.node);
          }
          details.push_back(fmt::format("{} {}: {}", e.kind, e.node, e.detail));
        }
      }
      if (details.empty()) {
        ok = false;
        details.push_back("nothing was applied");
      }
      Status st = event_log_->EndStep(step_index_, kind, ok, hit, details);
      if (!st) LogFailed(st.error().message());
    }
  }

  std::string StepDescription(const Step& step, const std::vector<std::string>& nodes) const {
    std::string d =
        fmt::format("{} {} (step {} at +{} ms, targets \"{}\"", FaultKindName(step.fault),
                    Join(nodes), step_index_, step.at.count(), step.targets);
    if (step.duration.count() > 0) d += fmt::format(", for {} ms", step.duration.count());
    if (step.fault == FaultKind::kCorrupt) {
      d += fmt::format(", {} of {}", step.mode, fmt::join(step.files, " "));
    }
    if (step.cpu_percent) d += fmt::format(", cpu {}%", *step.cpu_percent);
    if (step.memory_mb) d += fmt::format(", memory {} MiB", *step.memory_mb);
    if (step.disk_ops) d += fmt::format(", disk {} ops/s", *step.disk_ops);
    return d + ")";
  }

  void ApplyTo(const Step& step, const std::vector<std::string>& nodes) {
    const std::string kind(FaultKindName(step.fault));
    const std::int64_t now = MonoNs();
    switch (step.fault) {
      case FaultKind::kCrash:
        Crash(nodes);
        break;
      case FaultKind::kKill:
        ProcessReports("fault", kind, control_.Process(nodes, nemesis::ProcessAction::kKill));
        break;
      case FaultKind::kStart:
        ProcessReports("fault", kind, control_.Process(nodes, nemesis::ProcessAction::kStart));
        break;
      case FaultKind::kPause: {
        ProcessReports("fault", kind, control_.Process(nodes, nemesis::ProcessAction::kPause));
        for (const auto& n : nodes) paused_.insert(n);
        if (step.duration.count() > 0) {
          undos_.push_back({now + NsOf(step.duration), "resume " + Join(nodes), [this, nodes] {
                              ProcessReports(
                                  "fault", "resume",
                                  control_.Process(nodes, nemesis::ProcessAction::kResume));
                              for (const auto& n : nodes) paused_.erase(n);
                            }});
        }
        break;
      }
      case FaultKind::kIsolate: {
        nemesis::Nemesis* nem = Nem();
        if (nem == nullptr) {
          step_failed_ = true;
          break;
        }
        std::vector<nemesis::NodeSet> parts;
        nemesis::NodeSet rest(names_.begin(), names_.end());
        for (const auto& n : nodes) {
          parts.push_back({n});
          rest.erase(n);
        }
        if (!rest.empty()) parts.push_back(rest);
        auto rep = nem->Partition(nemesis::CompleteGrudge(parts), nemesis::PartitionMode::kDrop);
        AddEvent("fault", kind, Join(nodes), rep ? rep->Describe() : rep.error().message(),
                 rep && rep->ok);
        if (!rep || !rep->ok) step_failed_ = true;
        isolated_ = true;
        if (step.duration.count() > 0) {
          undos_.push_back({now + NsOf(step.duration), "heal isolation of " + Join(nodes),
                            [this] { HealNet("fault"); }});
        }
        break;
      }
      case FaultKind::kCorrupt:
        for (const auto& n : nodes) CorruptNode(step, n);
        break;
      case FaultKind::kSiege:
        for (const auto& n : nodes) StartSiege(step, n);
        break;
    }
  }

  void HealNet(const std::string& source) {
    if (!nemesis_ || !isolated_) return;
    nemesis::FaultReport r = nemesis_->HealAll();
    AddEvent(source, "heal", Join(r.nodes), r.Describe(), r.ok);
    isolated_ = false;
  }

  // SIGKILL straight to the process, as a crash or the OOM killer would: the supervisor sees an
  // unexpected exit, which is what its restart safeguard is for. Checked against the start time
  // the controller recorded, so a reused PID is never signalled.
  void Crash(const std::vector<std::string>& nodes) {
    auto dbs = control_.Databases();
    if (!dbs) {
      AddEvent("fault", "crash", Join(nodes), dbs.error().message(), false);
      step_failed_ = true;
      return;
    }
    std::vector<std::pair<std::string, const nemesis::DbProcess*>> hit;
    for (const auto& n : nodes) {
      const nemesis::DbProcess* d = nullptr;
      for (const auto& x : *dbs) {
        if (x.node == n) d = &x;
      }
      hit.emplace_back(n, d);
    }
    // Signal all back to back first ("at once"), then record.
    std::vector<std::pair<std::int64_t, std::string>> done;
    for (const auto& [n, d] : hit) {
      std::int64_t t = MonoNs();
      if (d == nullptr || d->pid <= 0 || !d->alive) {
        done.emplace_back(t, "no running database process");
        continue;
      }
      std::uint64_t st = ProcStartTime(d->pid);
      if (d->start_time != 0 && st != d->start_time) {
        done.emplace_back(t, fmt::format("pid {} start time {} != recorded {}: left alone", d->pid,
                                         st, d->start_time));
        continue;
      }
      if (::kill(d->pid, SIGKILL) != 0) {
        done.emplace_back(t, fmt::format("kill({}, SIGKILL): {}", d->pid, std::strerror(errno)));
        continue;
      }
      done.emplace_back(t, fmt::format("SIGKILL sent directly to etcd pid {} (start time {}), "
                                       "as a crash",
                                       d->pid, d->start_time));
    }
    for (size_t i = 0; i < hit.size(); ++i) {
      bool ok = done[i].second.starts_with("SIGKILL");
      AddEvent("fault", "crash", hit[i].first, done[i].second, ok, done[i].first);
      if (!ok) step_failed_ = true;
    }
  }

  void CorruptNode(const Step& step, const std::string& name) {
    const cluster::NodeState* n = Node(name);
    if (n == nullptr) return;
    // The files must not be rewritten by a live process or restarted under us mid-way: stop the
    // member with the restart safeguard held off, damage the files, start it, restore the
    // safeguard. What happens next (refusal to start, restarts, escalation) is the drill.
    if (s_.restart.enabled) SetPolicy(false, "corrupting " + name);
    ProcessReports("fault", "stop-for-corruption",
                   control_.Process({name}, nemesis::ProcessAction::kKill));
    nemesis::CorruptSpec spec;
    spec.directory = n->data_dir;
    spec.patterns = step.files;
    spec.mode = *nemesis::ParseCorruptMode(step.mode);
    spec.count = step.count;
    spec.offset = step.offset;
    spec.seed = s_.seed + step_index_;
    auto rep = nemesis::Corrupt(spec);
    if (rep) {
      res_.corrupted_bytes += rep->bytes_altered;
      res_.corruption.push_back(name + ": " + rep->Describe());
      AddEvent("fault", "corrupt", name, rep->Describe(), rep->bytes_altered > 0);
      corrupted_[name] = MonoNs();
    } else {
      AddEvent("fault", "corrupt", name, rep.error().message(), false);
      step_failed_ = true;
    }
    if (s_.restart.enabled) SetPolicy(true, "corruption of " + name + " done");
    ProcessReports("fault", "start-after-corruption",
                   control_.Process({name}, nemesis::ProcessAction::kStart));
  }

  void StartSiege(const Step& step, const std::string& name) {
    const cluster::NodeState* n = Node(name);
    auto mounts = nemesis::DetectCgroups();
    if (n == nullptr || !mounts) {
      AddEvent("fault", "siege", name, mounts ? "unknown node" : mounts.error().message(), false);
      step_failed_ = true;
      return;
    }
    auto target = nemesis::TargetFromCgroups(name, n->cgroups, *mounts);
    if (!target) {
      AddEvent("fault", "siege", name, target.error().message(), false);
      step_failed_ = true;
      return;
    }
    nemesis::SiegeSpec spec;
    if (step.cpu_percent) {
      spec.cpu.emplace();
      spec.cpu->target_percent = *step.cpu_percent;
      if (options_.siege_cpu_shares > 0) spec.cpu->shares = options_.siege_cpu_shares;
    }
    if (step.memory_mb) {
      spec.memory.emplace();
      spec.memory->target_bytes = *step.memory_mb << 20;
    }
    if (step.disk_ops) {
      spec.disk.emplace();
      spec.disk->target_ops_per_s = *step.disk_ops;
      spec.disk->directory = n->data_dir;
    }
    auto siege = nemesis::Siege::Start(*target, spec);
    if (!siege) {
      AddEvent("fault", "siege", name, siege.error().message(), false);
      step_failed_ = true;
      return;
    }
    AddEvent("fault", "siege", name,
             fmt::format("started in {} (mounts: {})", target->cpu, mounts->Describe()), true);
    size_t idx = sieges_.size();
    sieges_.push_back(std::move(*siege));
    if (step.duration.count() > 0) {
      undos_.push_back({MonoNs() + NsOf(step.duration), "stop siege on " + name,
                        [this, idx] { StopSiege(idx, "fault"); }});
    }
  }

  void StopSiege(size_t idx, const std::string& source) {
    if (!sieges_[idx]) return;
    nemesis::SiegeReport r = sieges_[idx]->Stop();
    sieges_[idx].reset();
    res_.siege_figures.push_back(r.Describe());
    if (!r.valid) res_.siege_valid = false;
    AddEvent(source, "siege-stop", r.target, r.Describe(), r.valid);
  }

  // Supervisor events since the drill began become drill events; safeguards are recognised here.
  void PollSupervisor() {
    auto ev = cluster::Events(state_, seq_);
    if (!ev) return;
    std::lock_guard lock(mu_);
    for (const auto& e : *ev) {
      seq_ = std::max(seq_, e.seq);
      std::string source = e.by_safeguard ? "safeguard" : "supervisor";
      AddEvent(source, e.kind, e.node, e.detail + (e.pid ? fmt::format(" (pid {})", e.pid) : ""),
               e.kind != "restart-failed", e.mono_ns, e.wall_ns, e.pid);
      if (e.by_safeguard && e.kind == "restarted") {
        Fired("restart");
        last_repair_ns_ = std::max(last_repair_ns_, e.mono_ns);
      }
      if (e.kind == "escalated") Fired("escalation");
      // A corrupted member that exits on its own after being started is the independent
      // detection signal: etcd refused its own data.
      if (e.kind == "exited" && corrupted_.contains(e.node) && e.mono_ns >= corrupted_[e.node]) {
        if (!res_.detection_signal) {
          std::string log = LogTail(e.node);
          res_.detection_signal = fmt::format(
              "{} etcd exited on its own ({}) {} ms after the corruption{}", e.node, e.detail,
              (e.mono_ns - corrupted_[e.node]) / 1000000, log.empty() ? "" : ": " + log);
          AddEvent("detection", "refused-to-start", e.node, *res_.detection_signal, true, e.mono_ns,
                   e.wall_ns);
        }
        needs_repair_.insert(e.node);
      }
      if (e.kind == "escalated" && corrupted_.contains(e.node)) needs_repair_.insert(e.node);
    }
  }

  // The last error-ish line of the node's etcd log, for the detection evidence.
  std::string LogTail(const std::string& name) {
    const cluster::NodeState* n = Node(name);
    if (n == nullptr) return "";
    std::string log = ReadFile(n->log_path);
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

  void Fired(const std::string& name) {
    std::lock_guard lock(mu_);
    if (std::find(res_.safeguards_fired.begin(), res_.safeguards_fired.end(), name) ==
        res_.safeguards_fired.end()) {
      res_.safeguards_fired.push_back(name);
    }
  }

  // The repair playbook for a member that cannot start on its own data: remove it from the
  // cluster through a healthy member, wipe its data, add it back, start it (state existing) and
  // wait until it serves. Every action is a drill event with its outcome.
  void Repair(const std::string& name) {
    const cluster::NodeState* n = Node(name);
    if (n == nullptr) return;
    Progress(fmt::format("{} playbook: repairing {}", s_.id, name));
    const milliseconds t(3000);
    AddEvent("playbook", "repair-begin", name,
             "member cannot start on its data: remove, wipe, re-add", true);
    if (s_.restart.enabled) SetPolicy(false, "repair of " + name);
    ProcessReports("playbook", "stop", control_.Process({name}, nemesis::ProcessAction::kKill));
    // Membership changes are retried across healthy peers: right after a removal etcd 3.4's
    // strict reconfiguration check refuses an add ("unhealthy cluster") until every voting
    // member has been connected for its health interval.
    bool ok = false;
    bool removed = false;
    std::int64_t deadline = MonoNs() + 20000000000ll;
    while (!removed && MonoNs() < deadline) {
      for (const auto& peer : state_.nodes) {
        if (peer.name == name) continue;
        HttpConnection c(peer.ClientUrl());
        auto members = internal::EtcdMemberList(c, t);
        if (!members) continue;
        std::uint64_t id = 0;
        for (const auto& m : *members) {
          for (const auto& u : m.peer_urls) {
            if (u == n->PeerUrl()) id = m.id;
          }
        }
        if (id == 0) {
          AddEvent("playbook", "member-remove", name, "not a member (any more)", true);
          removed = true;
          break;
        }
        Status st = internal::EtcdMemberRemove(c, id, t);
        AddEvent("playbook", "member-remove", name,
                 fmt::format("member {:x} through {}{}", id, peer.name,
                             st ? "" : ": " + st.error().message()),
                 static_cast<bool>(st));
        if (st) {
          removed = true;
          break;
        }
      }
      if (!removed) std::this_thread::sleep_for(milliseconds(500));
    }
    bool wiped = false;
    if (removed) {
      auto wipe = control_.Run(name, fmt::format("rm -rf -- '{}/member'", n->data_dir));
      wiped = wipe && wipe->exit_code == 0;
      AddEvent("playbook", "wipe", name,
               fmt::format("rm -rf {}/member{}", n->data_dir,
                           wiped ? "" : ": " + (wipe ? wipe->err : wipe.error().message())),
               wiped);
    }
    deadline = MonoNs() + 30000000000ll;
    std::string last_error;
    while (wiped && !ok && MonoNs() < deadline) {
      for (const auto& peer : state_.nodes) {
        if (peer.name == name) continue;
        HttpConnection c(peer.ClientUrl());
        auto added = internal::EtcdMemberAdd(c, n->PeerUrl(), t);
        if (added) {
          AddEvent("playbook", "member-add", name,
                   fmt::format("{} as member {:x} through {}{}", n->PeerUrl(), *added, peer.name,
                               last_error.empty() ? "" : " (earlier: " + last_error + ")"),
                   true);
          ok = true;
          break;
        }
        last_error = added.error().message();
      }
      if (!ok) std::this_thread::sleep_for(milliseconds(500));
    }
    if (wiped && !ok) AddEvent("playbook", "member-add", name, last_error, false);
    if (ok) {
      auto reps = control_.Process({name}, nemesis::ProcessAction::kStart);
      ProcessReports("playbook", "start", reps);
      ok = !reps.empty() && reps[0].ok;
    }
    if (s_.restart.enabled) SetPolicy(true, "repair of " + name + " done");
    if (ok) {
      ok = false;
      HttpConnection c(n->ClientUrl());
      deadline = MonoNs() + 30000000000ll;
      while (MonoNs() < deadline) {
        auto h = internal::EtcdHealth(c, milliseconds(500));
        if (h && *h) {
          ok = true;
          break;
        }
        std::this_thread::sleep_for(milliseconds(100));
      }
    }
    AddEvent("playbook", "repair-end", name, ok ? "member serves again" : "repair failed", ok);
    std::lock_guard lock(mu_);
    if (ok) {
      Fired("repair");
      last_repair_ns_ = std::max(last_repair_ns_, MonoNs());
    }
    repaired_.insert(name);
    needs_repair_.erase(name);
  }

  int Quorum() const { return static_cast<int>(state_.nodes.size()) / 2 + 1; }

  // Returns false when the drill aborted (blast radius).
  bool FaultPhase() {
    const std::int64_t start = MonoNs();
    std::int64_t last_step_end = start;
    for (const Step& st : s_.steps) {
      last_step_end = std::max(last_step_end, start + NsOf(st.at) + NsOf(st.duration));
    }
    if (s_.steps.empty()) {
      // A no-fault drill: the "fault" is the moment the phase began.
      fault_ns_ = start;
      res_.fault_mono_ns = start;
      res_.fault_wall_ns = WallNs();
      monitor_.set_fault_ns(start);
      AddEvent("fault", "none", "", "no fault: a control drill", true);
    }
    const std::int64_t give_up = last_step_end + NsOf(s_.observe);
    const int min_healthy = s_.min_healthy > 0 ? s_.min_healthy : Quorum();
    size_t next_step = 0;
    std::int64_t below_since = 0;
    for (;;) {
      std::int64_t now = MonoNs();
      while (next_step < s_.steps.size() && start + NsOf(s_.steps[next_step].at) <= now) {
        step_index_ = next_step;
        Apply(s_.steps[next_step]);
        ++next_step;
      }
      for (Undo& u : undos_) {
        if (!u.done && u.due_ns <= MonoNs()) {
          u.done = true;
          u.fn();
        }
      }
      PollSupervisor();
      // The playbook runs beside the loop, so later steps still happen at their times.
      if (s_.repair_playbook && !repair_running_) {
        if (repair_thread_.joinable()) repair_thread_.join();
        std::string next;
        {
          std::lock_guard lock(mu_);
          for (const std::string& n : needs_repair_) {
            if (!repaired_.contains(n)) {
              next = n;
              break;
            }
          }
        }
        if (!next.empty()) {
          repair_running_ = true;
          repair_thread_ = std::thread([this, next] {
            Repair(next);
            repair_running_ = false;
          });
        }
      }
      auto last = monitor_.Last();
      if (last && fault_ns_ != 0 && !s_.allow_below_quorum && last->healthy < min_healthy) {
        if (below_since == 0) below_since = last->mono_ns;
        if (last->mono_ns - below_since > NsOf(s_.blast_grace)) {
          res_.reason = fmt::format(
              "blast radius crossed: {} of {} members healthy (limit {}) for over {} ms: {}",
              last->healthy, last->members, min_healthy, s_.blast_grace.count(), last->why);
          AddEvent("check", "blast-radius", "", res_.reason, false);
          return false;
        }
      } else if (last) {
        below_since = 0;
      }
      bool repairs_open = false;
      {
        std::lock_guard lock(mu_);
        repairs_open = repair_running_ || !needs_repair_.empty();
      }
      bool all_applied =
          next_step == s_.steps.size() &&
          std::all_of(undos_.begin(), undos_.end(), [](const Undo& u) { return u.done; }) &&
          !repairs_open;
      if (all_applied && fault_ns_ != 0) {
        RecoveryResult r = ComputeRecovery(monitor_.Samples(), fault_ns_, s_.settle_window, limit_);
        if (r.recovered_at_ns) break;
      }
      if (MonoNs() > give_up) {
        AddEvent("check", "observation-end", "",
                 fmt::format("gave up waiting {} ms after the last step", s_.observe.count()),
                 true);
        break;
      }
      if (last) {
        Progress(fmt::format("{} +{:.1f} s: {}/{} healthy, write+read {}, tput {:.0f}%{}", s_.id,
                             static_cast<double>(MonoNs() - fault_ns_) / 1e9, last->healthy,
                             last->members, last->write_read ? "ok" : "FAIL",
                             last->throughput_percent, last->steady ? ", steady" : ""));
      }
      std::this_thread::sleep_for(milliseconds(50));
    }
    observe_end_ns_ = MonoNs();
    return true;
  }

  void JoinRepair() {
    if (repair_thread_.joinable()) repair_thread_.join();
  }

  void Rollback() {
    JoinRepair();
    rolled_back_ = true;
    if (observe_end_ns_ == 0) observe_end_ns_ = MonoNs();
    for (size_t i = 0; i < sieges_.size(); ++i) StopSiege(i, "rollback");
    HealNet("rollback");
    if (!paused_.empty()) {
      std::vector<std::string> p(paused_.begin(), paused_.end());
      ProcessReports("rollback", "resume", control_.Process(p, nemesis::ProcessAction::kResume));
      paused_.clear();
    }
    for (Undo& u : undos_) u.done = true;
    // Any database process not running is started again (a failed node too: start clears it).
    auto dbs = control_.Databases();
    if (dbs) {
      std::vector<std::string> down;
      for (const auto& d : *dbs) {
        if (!d.alive) down.push_back(d.node);
      }
      if (!down.empty()) {
        ProcessReports("rollback", "start", control_.Process(down, nemesis::ProcessAction::kStart));
      }
    } else {
      AddEvent("rollback", "databases", "", dbs.error().message(), false);
    }
    PollSupervisor();
    SetPolicy(false, "drill end");
    AddEvent("rollback", "done", "", "sieges stopped, partitions healed, processes resumed/started",
             true);
  }

  // After rollback: the cluster serves a write then a read, and (when data was touched) every
  // member's HashKV agrees at one revision.
  void PostChecks() {
    std::int64_t deadline = MonoNs() + 20000000000ll;
    const std::string key = fmt::format("faultline/dirt/{}/after", s_.id);
    while (MonoNs() < deadline && !res_.serves_after) {
      for (const auto& n : state_.nodes) {
        HttpConnection c(n.ClientUrl());
        if (internal::EtcdPut(c, key, "ok", milliseconds(1000)) &&
            internal::EtcdGet(c, key, milliseconds(1000)).value_or("") == "ok") {
          res_.serves_after = true;
          AddEvent("check", "serves-after", n.name, "a write then a read succeeded", true);
          break;
        }
      }
      if (!res_.serves_after) std::this_thread::sleep_for(milliseconds(200));
    }
    if (!res_.serves_after) {
      AddEvent("check", "serves-after", "", "no write then read succeeded within 20 s", false);
    }
    // HashKV at one revision on every member; members may lag a moment behind.
    std::int64_t rev = 0;
    {
      HttpConnection c(state_.nodes[0].ClientUrl());
      for (const auto& n : state_.nodes) {
        HttpConnection cn(n.ClientUrl());
        if (auto st = internal::EtcdMaintenanceStatus(cn, milliseconds(1000))) {
          rev = std::max(rev, st->revision);
        }
      }
    }
    if (rev == 0) return;
    std::string detail;
    bool equal = false;
    const std::int64_t hash_deadline = MonoNs() + 15000000000ll;
    for (int attempt = 0; attempt < 20 && !equal && MonoNs() < hash_deadline; ++attempt) {
      std::set<std::uint32_t> hashes;
      detail.clear();
      bool all = true;
      for (const auto& n : state_.nodes) {
        HttpConnection c(n.ClientUrl());
        auto h = internal::EtcdHashKv(c, rev, milliseconds(2000));
        if (!h) {
          all = false;
          detail += fmt::format("{} error ({}); ", n.name, h.error().message());
          continue;
        }
        hashes.insert(h->hash);
        detail += fmt::format("{} {:08x}; ", n.name, h->hash);
      }
      equal = all && hashes.size() == 1;
      if (!equal) std::this_thread::sleep_for(milliseconds(250));
    }
    res_.hashes_equal = equal;
    AddEvent(
        "check", "hashkv", "",
        fmt::format("at revision {}: {}{}", rev, detail, equal ? "all equal" : "NOT all equal"),
        equal);
  }

  void Judge(bool aborted) {
    std::vector<ProbeSample> samples;
    for (const auto& s : monitor_.Samples()) {
      if (s.mono_ns <= observe_end_ns_) samples.push_back(s);
    }
    if (fault_ns_ != 0) {
      res_.recovery =
          ComputeRecovery(samples, fault_ns_, s_.settle_window, limit_,
                          last_repair_ns_ != 0 ? std::optional(last_repair_ns_) : std::nullopt);
    } else {
      res_.recovery.limit = limit_;
    }
    for (const auto& e : s_.expected_safeguards) {
      if (std::find(res_.safeguards_fired.begin(), res_.safeguards_fired.end(), e) ==
          res_.safeguards_fired.end()) {
        res_.safeguards_missing.push_back(e);
      }
    }
    bool corrupt_step = std::any_of(s_.steps.begin(), s_.steps.end(),
                                    [](const Step& st) { return st.fault == FaultKind::kCorrupt; });
    // Invalid (not linearizable) fails the drill; unknown makes a drill that otherwise passed
    // INVALID.
    const auto consistency =
        res_.consistency ? internal::ConsistencyVerdict(*res_.consistency) : std::nullopt;
    if (aborted) {
      res_.verdict = Verdict::kAborted;
      res_.improvements.push_back("the drill aborted: " + res_.reason);
      return;
    }
    if (step_failed_) {
      res_.verdict = Verdict::kInvalid;
      res_.reason = "a fault was not applied as the scenario says (see the fault events)";
    } else if (!res_.siege_valid) {
      res_.verdict = Verdict::kInvalid;
      res_.reason =
          "a siege missed its target by more than 5 points: the drill did not happen "
          "as specified";
    } else if (corrupt_step && res_.corrupted_bytes == 0) {
      res_.verdict = Verdict::kInvalid;
      res_.reason = "the corruption altered no byte";
    } else if (consistency && consistency->first == Verdict::kFail) {
      res_.verdict = consistency->first;
      res_.reason = consistency->second;
    } else if (res_.recovery.verdict != Verdict::kPass) {
      res_.verdict = Verdict::kFail;
      res_.reason = res_.recovery.explanation;
    } else if (!res_.safeguards_missing.empty()) {
      res_.verdict = Verdict::kFail;
      res_.reason = "expected safeguard(s) did not fire: " + Join(res_.safeguards_missing);
    } else if (corrupt_step && res_.hashes_equal != std::optional<bool>(true)) {
      res_.verdict = Verdict::kFail;
      res_.reason = "after repair the members' HashKV differ (or could not be read)";
    } else if (!res_.serves_after) {
      res_.verdict = Verdict::kFail;
      res_.reason = "the cluster did not serve a write then a read after rollback";
    } else if (consistency) {
      // Unknown consistency: everything else held, but the drill did not show what it set out to
      // (a recovery failure above is not hidden behind it).
      res_.verdict = consistency->first;
      res_.reason = consistency->second;
    } else {
      res_.verdict = Verdict::kPass;
      res_.reason = res_.recovery.explanation;
    }
    // What to improve, from the evidence.
    if (res_.recovery.recovery && res_.recovery.margin && res_.recovery.margin->count() < 0) {
      res_.improvements.push_back(fmt::format(
          "recovery took {} ms against a {} ms limit: shorten detection (probe and restart "
          "backoff) or restart in parallel",
          res_.recovery.recovery->count(), limit_.count()));
    }
    for (const auto& m : res_.safeguards_missing) {
      res_.improvements.push_back("wire the \"" + m +
                                  "\" safeguard: it was expected but did not "
                                  "fire");
    }
    if (corrupt_step && !res_.detection_signal) {
      res_.improvements.push_back(
          "no independent signal saw the corruption: enable etcd's "
          "corruption checks (corrupt_check) or compare HashKV");
    }
    if (std::find(res_.safeguards_fired.begin(), res_.safeguards_fired.end(), "escalation") !=
        res_.safeguards_fired.end()) {
      res_.improvements.push_back(
          "a node exceeded its restart limit and was escalated: page "
          "someone or run the repair playbook automatically");
    }
  }

  const cluster::ClusterState& state_;
  nemesis::NodeControl& control_;
  const Scenario& s_;
  const DrillOptions& options_;
  Monitor monitor_;
  std::vector<std::string> names_;
  DrillResult res_;
  milliseconds limit_{0};
  std::uint64_t seq_ = 0;
  std::int64_t fault_ns_ = 0;
  std::int64_t observe_end_ns_ = 0;
  std::int64_t last_repair_ns_ = 0;
  size_t step_index_ = 0;
  bool step_failed_ = false;
  bool isolated_ = false;
  bool rolled_back_ = false;
  std::unique_ptr<nemesis::Nemesis> nemesis_;
  // The history log (declared before the workload, which writes into it and stops first).
  std::unique_ptr<history::LogWriter> log_;
  std::unique_ptr<internal::EventLog> event_log_;
  std::atomic<bool> in_step_{false};  // Apply is running a step (main thread)
  DrillWorkload workload_;
  // Guards what the repair thread shares with the loop: events, safeguards, repair sets.
  std::recursive_mutex mu_;
  std::thread repair_thread_;
  std::atomic<bool> repair_running_{false};
  std::vector<std::unique_ptr<nemesis::Siege>> sieges_;
  std::vector<Undo> undos_;
  std::set<std::string> paused_;
  std::map<std::string, std::int64_t> corrupted_;
  std::set<std::string> needs_repair_;
  std::set<std::string> repaired_;
};

}  // namespace

Result<DrillResult> RunDrill(const cluster::ClusterState& state, nemesis::NodeControl& control,
                             const Scenario& scenario, const DrillOptions& options) {
  if (state.nodes.empty()) {
    return Error(ErrorCode::kInvalidArgument,
                 "dirt: " + scenario.id + ": cluster " + state.name + " has no nodes");
  }
  if (state.db != cluster::Db::kEtcd) {
    return Error(ErrorCode::kInvalidArgument,
                 "dirt: " + scenario.id + ": cluster " + state.name +
                     " does not run etcd (drills are written for etcd)");
  }
  Drill drill(state, control, scenario, options);
  return drill.Run();
}

}  // namespace faultline::dirt
