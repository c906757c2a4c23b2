#include "runner/internal/cluster_campaign.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

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
  deps.account = [&cluster](const history::History& h, int64_t start_ns) {
    return cluster.system->Account(cluster.system_nodes, h, start_ns);
  };
  Result<RunReport> report = ExecuteCampaign(config, deps, files, progress);
  if (cluster.note && !config.nemesis.empty()) cluster.note(injector->Summary());
  return report;
}

}  // namespace faultline::runner::internal
