#include "dirt/internal/metrics.h"

#include <fmt/format.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cluster/cluster.h"
#include "common/clock.h"
#include "common/file.h"
#include "nemesis/node_control.h"
#include "nemesis/siege.h"

namespace faultline::dirt::internal {

using json = nlohmann::json;

namespace {

void BlkioTotals(const std::string& dir, ResourceMetrics::Counters& c) {
  auto read_kv = [](const std::string& path, std::uint64_t& r, std::uint64_t& w) {
    std::istringstream in(ReadFile(path).value_or(""));
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

void NetDev(const std::string& path, ResourceMetrics::Counters& c, bool skip_lo) {
  std::istringstream in(ReadFile(path).value_or(""));
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

}  // namespace

ResourceMetrics::ResourceMetrics(const cluster::ClusterState& state, nemesis::NodeControl& control,
                                 std::string scenario_id)
    : state_(state), control_(control), scenario_id_(std::move(scenario_id)) {
  auto mounts = nemesis::DetectCgroups();
  for (const auto& n : state_.nodes) {
    if (!mounts) {
      targets_.emplace_back();
      continue;
    }
    auto t = nemesis::TargetFromCgroups(n.name, n.cgroups, *mounts);
    targets_.push_back(t ? std::optional(*t) : std::nullopt);
  }
}

ResourceMetrics::~ResourceMetrics() = default;

std::optional<std::string> ResourceMetrics::Sample(MonoTime t, std::int64_t offset_ms) {
  const double dt = prev_t_ ? std::chrono::duration<double>(t - *prev_t_).count() : 0;
  json sample = {{"scenario", scenario_id_},
                 {"mono_ns", NsOf(t)},
                 {"wall_ns", WallNow().count()},
                 {"offset_ms", offset_ms}};
  json nodes = json::array();
  std::map<std::string, int> pids;
  if (auto dbs = control_.Databases()) {
    for (const auto& d : *dbs) pids[d.node] = d.pid;
  }
  auto rate = [&](std::uint64_t now_v, std::uint64_t prev_v) -> json {
    if (dt <= 0 || now_v < prev_v) return nullptr;
    return static_cast<double>(now_v - prev_v) / dt;
  };
  // Disk and network rates, the same keys for a node and the host.
  auto put_rates = [&](json& out, const Counters& now_c, const Counters& prev_c) {
    out["disk_read_bytes_per_s"] = rate(now_c.rbytes, prev_c.rbytes);
    out["disk_write_bytes_per_s"] = rate(now_c.wbytes, prev_c.wbytes);
    out["disk_read_ops_per_s"] = rate(now_c.rops, prev_c.rops);
    out["disk_write_ops_per_s"] = rate(now_c.wops, prev_c.wops);
    out["net_rx_bytes_per_s"] = rate(now_c.net_rx, prev_c.net_rx);
    out["net_tx_bytes_per_s"] = rate(now_c.net_tx, prev_c.net_tx);
  };
  for (size_t i = 0; i < state_.nodes.size(); ++i) {
    const std::string& name = state_.nodes[i].name;
    json e = {{"node", name}};
    Counters c;
    if (targets_[i]) {
      if (auto u = nemesis::ReadCpuUsageNs(*targets_[i])) c.cpu_ns = *u;
      if (auto m = nemesis::ReadMemoryBytes(*targets_[i])) e["memory_bytes"] = *m;
      if (!targets_[i]->blkio.empty()) BlkioTotals(targets_[i]->blkio, c);
    }
    if (pids[name] > 0) NetDev(fmt::format("/proc/{}/net/dev", pids[name]), c, true);
    const Counters& p = prev_[name];
    json cpu = rate(c.cpu_ns, p.cpu_ns);
    e["cpu_percent"] = cpu.is_null() ? json(nullptr) : json(cpu.get<double>() / 1e7);
    put_rates(e, c, p);
    e["source"] = targets_[i] ? "cgroups + /proc/<pid>/net/dev" : "/proc/<pid>/net/dev only";
    prev_[name] = c;
    nodes.push_back(std::move(e));
  }
  // Host: /proc/stat, /proc/meminfo, /proc/diskstats, /proc/net/dev.
  json host;
  {
    std::istringstream in(ReadFile("/proc/stat").value_or(""));
    std::string cpu;
    std::uint64_t v[10] = {};
    in >> cpu;
    for (auto& x : v) in >> x;
    std::uint64_t total = 0;
    for (auto x : v) total += x;
    std::uint64_t busy = total - v[3] - v[4];
    if (prev_total_ != 0 && total > prev_total_) {
      host["cpu_percent_of_machine"] =
          static_cast<double>(busy - prev_busy_) / static_cast<double>(total - prev_total_) * 100.0;
    }
    prev_busy_ = busy;
    prev_total_ = total;
  }
  {
    std::istringstream in(ReadFile("/proc/meminfo").value_or(""));
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
    std::istringstream in(ReadFile("/proc/diskstats").value_or(""));
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
  const Counters& hp = prev_["\x01host"];
  put_rates(host, hc, hp);
  prev_["\x01host"] = hc;
  sample["nodes"] = std::move(nodes);
  sample["host"] = std::move(host);
  const bool first = !prev_t_;
  prev_t_ = t;
  if (first) return std::nullopt;
  return sample.dump();
}

}  // namespace faultline::dirt::internal
