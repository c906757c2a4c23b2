#include "runner/internal/cluster_campaign.h"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

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

}  // namespace

Result<RunReport> RunClusterCampaign(const CampaignConfig& config, const ClusterCampaign& cluster,
                                     const RunFiles& files, std::stop_token stop,
                                     const ProgressFn& progress) {
  if (cluster.nemesis == nullptr) {
    return MakeError(ErrorCode::kInternal, "campaign: no nemesis given (internal error)");
  }
  auto injector = std::make_unique<TimedInjector>(
      MakeNemesisInjector(*cluster.nemesis, cluster.nodes, cluster.leader, cluster.probes));

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
                             cluster.system->Clients(cluster.system_nodes, setup));

  if (cluster.note) {
    cluster.note(fmt::format("campaign: {} for {:.0f} s, run directory {}",
                             WorkloadName(config.workload), config.time_limit_s, files.dir));
  }
  CampaignDeps deps;
  deps.clients = clients.get();
  deps.nemesis = injector.get();
  deps.wait_ready = cluster.wait_ready;
  deps.stop = std::move(stop);
  Result<RunReport> report = ExecuteCampaign(config, deps, files, progress);
  if (cluster.note && !config.nemesis.empty()) cluster.note(injector->Summary());
  return report;
}

}  // namespace faultline::runner::internal
