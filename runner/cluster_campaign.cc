#include "runner/internal/cluster_campaign.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "checker/fault_probe.h"
#include "nemesis/disk.h"
#include "nemesis/proxy.h"
#include "nemesis/proxy_api.h"
#include "nemesis/proxy_faults.h"

namespace faultline::runner::internal {
namespace {

// Forwards to the real injector and keeps how long each apply and heal took by the nemesis's own
// clock (FaultReport start/end), for one summary line: the cost of the control path (a local
// supervisor vs ssh) shows there.
class TimedInjector final : public FaultInjector {
 public:
  explicit TimedInjector(std::unique_ptr<FaultInjector> inner) : inner_(std::move(inner)) {}

  std::vector<std::string> Nodes() const override { return inner_->Nodes(); }
  Result<nemesis::FaultReport> Apply(const nemesis::FaultSpec& spec) override {
    Result<nemesis::FaultReport> r = inner_->Apply(spec);
    if (r) applied_.push_back(fmt::format("{} {}", nemesis::FaultKindName(spec.kind), Ms(*r)));
    return r;
  }
  nemesis::FaultReport HealAll() override {
    nemesis::FaultReport r = inner_->HealAll();
    healed_.push_back(Ms(r));
    return r;
  }
  FaultProbe Probe(const nemesis::FaultSpec& spec, const nemesis::FaultReport& report) override {
    return inner_->Probe(spec, report);
  }

  std::string Summary() const {
    return fmt::format("nemesis: apply (ms) {}; heal (ms) {}",
                       applied_.empty() ? "none" : fmt::format("{}", fmt::join(applied_, ", ")),
                       healed_.empty() ? "none" : fmt::format("{}", fmt::join(healed_, ", ")));
  }

 private:
  static std::string Ms(const nemesis::FaultReport& r) {
    return fmt::format("{:.0f}", static_cast<double>(r.end_mono_ns - r.start_mono_ns) / 1e6);
  }

  std::unique_ptr<FaultInjector> inner_;
  std::vector<std::string> applied_;
  std::vector<std::string> healed_;
};

// The proxies in front of the nodes' client ports (campaign --proxy): one per node, named after
// it, on 127.0.0.1 of this host, with the Toxiproxy API on a free loopback port so that a
// `faultline nemesis heal` from another process can remove toxics a live campaign left.
struct CampaignProxies {
  explicit CampaignProxies(std::uint64_t seed)
      : server(nemesis::ProxyServer::Options{.seed = seed}) {}
  ~CampaignProxies() {
    faults.reset();
    if (control) control->Stop();
    server.Stop();
  }
  nemesis::ProxyServer server;
  std::unique_ptr<nemesis::ControlServer> control;
  std::unique_ptr<nemesis::ProxyFaults> faults;
};

// Puts a proxy in front of each node's client port and points `nodes` (what the clients connect
// to) at them.
Result<std::unique_ptr<CampaignProxies>> StartProxies(const CampaignConfig& config,
                                                      systems::SystemCluster& nodes,
                                                      const std::string& ledger_path) {
  auto proxies = std::make_unique<CampaignProxies>(config.seed);
  for (systems::SystemNode& n : nodes.nodes) {
    Result<nemesis::ProxyInfo> info = proxies->server.CreateProxy(
        nemesis::ProxyConfig{.name = n.name,
                             .listen = "127.0.0.1:0",
                             .upstream = fmt::format("{}:{}", n.address, n.port),
                             .enabled = true});
    if (!info)
      return std::move(info).error().WithContext(fmt::format("campaign: proxy {}", n.name));
    const std::string& listen = info->config.listen;
    n.address = "127.0.0.1";
    n.port = std::stoi(listen.substr(listen.rfind(':') + 1));
  }
  Result<std::unique_ptr<nemesis::ControlServer>> control =
      nemesis::ControlServer::Start(proxies->server, "127.0.0.1:0");
  if (!control) return std::move(control).error().WithContext("campaign: proxy control API");
  proxies->control = std::move(*control);
  Result<std::unique_ptr<nemesis::ProxyFaults>> faults = nemesis::ProxyFaults::Open(
      proxies->server, nemesis::ProxyFaults::Options{.ledger_path = ledger_path,
                                                     .run_id = "",
                                                     .control_address = proxies->control->address(),
                                                     .on_change = {}});
  if (!faults) return std::move(faults).error().WithContext("campaign: proxies");
  proxies->faults = std::move(*faults);
  return proxies;
}

// Applies the proxy fault kinds on the campaign's proxies; every other kind goes to `inner`. The
// toxics are in the same ledger as the nemesis's faults, so its HealAll removes them too.
class ProxyInjector final : public FaultInjector {
 public:
  ProxyInjector(std::unique_ptr<FaultInjector> inner, nemesis::ProxyFaults& faults,
                std::function<std::optional<std::string>()> leader)
      : inner_(std::move(inner)), faults_(faults), leader_(std::move(leader)) {}

  std::vector<std::string> Nodes() const override { return inner_->Nodes(); }
  Result<nemesis::FaultReport> Apply(const nemesis::FaultSpec& spec) override {
    if (!nemesis::IsProxyFaultKind(spec.kind)) return inner_->Apply(spec);
    Result<std::vector<std::string>> targets = nemesis::FaultTargets(spec, Nodes(), leader_);
    if (!targets) return std::move(targets).error().WithContext("nemesis");
    return nemesis::ApplyProxyFault(faults_, spec, *targets);
  }
  nemesis::FaultReport HealAll() override {
    nemesis::FaultReport r = inner_->HealAll();
    // The ledger heal removed this process's toxics; what it could not is tried once more here
    // (the toxics it did remove count as already gone), and only failures are reported.
    nemesis::FaultReport left = faults_.RemoveAll("heal");
    if (!left.ok) {
      for (const std::string& d : left.details) r.details.push_back("proxy " + d);
      r.ok = false;
    }
    return r;
  }
  FaultProbe Probe(const nemesis::FaultSpec& spec, const nemesis::FaultReport& report) override {
    if (nemesis::IsProxyFaultKind(spec.kind)) return {};
    return inner_->Probe(spec, report);
  }

 private:
  std::unique_ptr<FaultInjector> inner_;
  nemesis::ProxyFaults& faults_;
  std::function<std::optional<std::string>()> leader_;
};

// Applies the disk fault kinds through the faulty filesystem; every other kind goes to `inner`.
// The disk faults are in the same ledger, so the inner HealAll heals them; this adds what the
// servers counted while a window fault (fsync-error, slow-disk) was in force.
class DiskInjector final : public FaultInjector {
 public:
  DiskInjector(std::unique_ptr<FaultInjector> inner, nemesis::DiskFaults& disks,
               nemesis::NodeControl* control, std::function<std::optional<std::string>()> leader)
      : inner_(std::move(inner)), disks_(disks), control_(control), leader_(std::move(leader)) {}

  std::vector<std::string> Nodes() const override { return inner_->Nodes(); }
  Result<nemesis::FaultReport> Apply(const nemesis::FaultSpec& spec) override {
    if (!nemesis::IsDiskFaultKind(spec.kind)) return inner_->Apply(spec);
    pids_before_ = Pids();
    if (auto c = disks_.Counters()) baseline_ = *c;
    window_ = spec.kind == FaultKind::kFsyncError || spec.kind == FaultKind::kSlowDisk;
    Result<std::vector<std::string>> targets = nemesis::FaultTargets(spec, Nodes(), leader_);
    if (!targets) return std::move(targets).error().WithContext("nemesis");
    return disks_.Apply(spec, *targets);
  }
  nemesis::FaultReport HealAll() override {
    nemesis::FaultReport r = inner_->HealAll();
    if (window_) {
      window_ = false;
      if (auto c = disks_.Counters()) {
        for (const char* k : {"fsync_errors", "slowed_calls"}) r.counts[k] = (*c)[k] - baseline_[k];
      }
    }
    return r;
  }
  FaultProbe Probe(const nemesis::FaultSpec& spec, const nemesis::FaultReport& report) override {
    if (!nemesis::IsDiskFaultKind(spec.kind)) return inner_->Probe(spec, report);
    std::vector<checker::DiskSeen> seen;
    checker::DiskProbeKind kind = checker::DiskProbeKind::kCrash;
    if (spec.kind == FaultKind::kFsyncError) kind = checker::DiskProbeKind::kFsyncError;
    if (spec.kind == FaultKind::kSlowDisk) kind = checker::DiskProbeKind::kSlowDisk;
    const std::map<std::string, std::pair<int, bool>> after =
        kind == checker::DiskProbeKind::kCrash ? Pids()
                                               : std::map<std::string, std::pair<int, bool>>{};
    for (const std::string& node : report.nodes) {
      checker::DiskSeen s;
      s.node = node;
      if (kind == checker::DiskProbeKind::kCrash) {
        s.pid_before = pids_before_[node].first;
        if (auto it = after.find(node); it != after.end()) {
          s.pid_after = it->second.first;
          s.alive_after = it->second.second;
        }
      } else {
        // fsync-error: enough tries to see an error at the fault's share with high probability.
        const int tries = kind == checker::DiskProbeKind::kFsyncError ? 200 : 3;
        Result<nemesis::DiskFaults::FsyncSeen> f = disks_.ProbeFsync(node, tries);
        if (f) {
          s.fsyncs = f->fsyncs;
          s.fsync_errors = f->errors;
          s.slowest_ms = f->slowest_ms;
        } else {
          s.error = f.error().message();
        }
      }
      seen.push_back(std::move(s));
    }
    return checker::JudgeDiskProbe(kind, static_cast<double>(spec.delay.count()), seen);
  }

 private:
  // Node -> (database pid, alive) as the node controller sees it now.
  std::map<std::string, std::pair<int, bool>> Pids() const {
    std::map<std::string, std::pair<int, bool>> out;
    if (control_ == nullptr) return out;
    if (auto dbs = control_->Databases()) {
      for (const nemesis::DbProcess& d : *dbs) out[d.node] = {d.pid, d.alive};
    }
    return out;
  }

  std::unique_ptr<FaultInjector> inner_;
  nemesis::DiskFaults& disks_;
  nemesis::NodeControl* control_;
  std::function<std::optional<std::string>()> leader_;
  std::map<std::string, std::pair<int, bool>> pids_before_;
  std::map<std::string, std::int64_t> baseline_;
  bool window_ = false;
};

}  // namespace

Result<RunReport> RunClusterCampaign(const CampaignConfig& config, const ClusterCampaign& cluster,
                                     const RunFiles& files, std::stop_token stop,
                                     const ProgressFn& progress) {
  if (cluster.nemesis == nullptr) {
    return MakeError(ErrorCode::kInternal, "campaign: no nemesis given (internal error)");
  }
  std::unique_ptr<FaultInjector> inner =
      MakeNemesisInjector(*cluster.nemesis, cluster.nodes, cluster.leader, cluster.probes);
  systems::SystemCluster client_nodes = cluster.system_nodes;
  std::unique_ptr<CampaignProxies> proxies;
  const bool proxy_kinds = std::any_of(config.nemesis.begin(), config.nemesis.end(),
                                       [](FaultKind k) { return nemesis::IsProxyFaultKind(k); });
  if (config.proxy || proxy_kinds) {
    // The ledger the local and ssh runners give the nemesis (RunFiles' nemesis.ledger).
    FAULTLINE_ASSIGN_OR_RETURN(
        proxies, StartProxies(config, client_nodes,
                              (std::filesystem::path(files.dir) / "nemesis.ledger").string()));
    inner = std::make_unique<ProxyInjector>(std::move(inner), *proxies->faults, cluster.leader);
    if (cluster.note) {
      std::vector<std::string> routes;
      for (size_t i = 0; i < client_nodes.nodes.size(); ++i) {
        routes.push_back(fmt::format(
            "{} 127.0.0.1:{} -> {}:{}", client_nodes.nodes[i].name, client_nodes.nodes[i].port,
            cluster.system_nodes.nodes[i].address, cluster.system_nodes.nodes[i].port));
      }
      cluster.note(fmt::format("campaign: clients through proxies ({}); control API http://{}",
                               fmt::join(routes, ", "), proxies->control->address()));
    }
  }
  if (cluster.disks != nullptr) {
    inner = std::make_unique<DiskInjector>(std::move(inner), *cluster.disks, cluster.probes.control,
                                           cluster.leader);
  }
  auto injector = std::make_unique<TimedInjector>(std::move(inner));

  if (cluster.system == nullptr) {
    return MakeError(ErrorCode::kInternal, "campaign: no system given (internal error)");
  }
  systems::ClientSetup setup;
  setup.workload = std::string(WorkloadName(config.workload));
  setup.read_mode = config.read_mode;
  setup.timeout = std::chrono::milliseconds(config.client_timeout_ms);
  setup.key_prefix =
      fmt::format("faultline/{}/", std::filesystem::path(files.dir).filename().string());
  setup.lock_ttl =
      std::chrono::seconds(static_cast<int64_t>(std::ceil(std::max(1.0, config.lock_ttl_s))));
  setup.lock_acquire_timeout = std::chrono::milliseconds(config.lock_acquire_timeout_ms);
  setup.stderr_dir = (std::filesystem::path(files.dir) / "clients").string();
  FAULTLINE_ASSIGN_OR_RETURN(std::unique_ptr<client::ClientFactory> clients,
                             cluster.system->Clients(client_nodes, setup));

  if (cluster.note) {
    cluster.note(fmt::format("campaign: {} for {:.0f} s, run directory {}",
                             WorkloadName(config.workload), config.time_limit_s, files.dir));
  }
  CampaignDeps deps;
  deps.clients = clients.get();
  deps.nemesis = injector.get();
  deps.wait_ready = cluster.wait_ready;
  deps.stop = std::move(stop);
  deps.leader = cluster.system->Info().has_leader;
  deps.account = [&cluster](const history::History& h, int64_t start_ns) {
    return cluster.system->Account(cluster.system_nodes, h, start_ns);
  };
  Result<RunReport> report = ExecuteCampaign(config, deps, files, progress);
  if (cluster.note && !config.nemesis.empty()) cluster.note(injector->Summary());
  return report;
}

}  // namespace faultline::runner::internal
