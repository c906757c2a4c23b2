// etcd 3.4 as a System: the local cluster's supervisor runs it (cluster/cluster.h), the client is
// client/etcd.h's, and readiness is every member healthy with a leader a majority names.
#include <fmt/format.h>

#include <cmath>

#include "client/etcd.h"
#include "common/ports.h"
#include "systems/internal/builtin.h"

namespace faultline::systems::internal {
namespace {

// The cluster's own control, as it is (the supervisor kills, pauses and starts etcd).
class ForwardingControl final : public nemesis::NodeControl {
 public:
  explicit ForwardingControl(nemesis::NodeControl& base) : base_(base) {}
  std::string_view Name() const override { return base_.Name(); }
  std::vector<std::string> Nodes() const override { return base_.Nodes(); }
  std::vector<nemesis::ProcessReport> Process(const std::vector<std::string>& nodes,
                                              nemesis::ProcessAction action) override {
    return base_.Process(nodes, action);
  }
  Result<std::vector<nemesis::DbProcess>> Databases() override { return base_.Databases(); }
  Result<nemesis::CommandOutput> Run(std::string_view node, std::string_view command,
                                     std::string_view input) override {
    return base_.Run(node, command, input);
  }

 private:
  nemesis::NodeControl& base_;
};

client::EtcdWorkload WorkloadFor(std::string_view workload) {
  if (workload == "set") return client::EtcdWorkload::kSet;
  if (workload == "counter") return client::EtcdWorkload::kCounter;
  if (workload == "lock") return client::EtcdWorkload::kLock;
  return client::EtcdWorkload::kRegister;
}

class EtcdSystem final : public System {
 public:
  EtcdSystem() {
    info_.name = "etcd";
    info_.workloads = {"register", "set", "counter", "lock"};
    info_.client_port = kEtcdClientPort;
    info_.default_nodes = 5;
    info_.local_db = cluster::Db::kEtcd;
  }

  const SystemInfo& Info() const override { return info_; }

  Status Form(const SystemCluster& /*cluster*/, nemesis::NodeControl& /*shell*/,
              std::chrono::milliseconds /*timeout*/, const Progress& /*progress*/) override {
    return OkStatus();  // the cluster's supervisor started every member
  }

  Result<std::unique_ptr<nemesis::NodeControl>> Control(const SystemCluster& /*cluster*/,
                                                        nemesis::NodeControl& base) override {
    return std::unique_ptr<nemesis::NodeControl>(std::make_unique<ForwardingControl>(base));
  }

  bool Ready(const SystemCluster& cluster, nemesis::NodeControl& /*shell*/) override {
    if (cluster.local == nullptr) return false;
    Result<cluster::ClusterStatus> s = cluster::ProbeStatus(*cluster.local);
    if (!s || !s->leader) return false;
    return std::all_of(s->nodes.begin(), s->nodes.end(),
                       [](const cluster::NodeStatus& n) { return n.healthy; });
  }

  Result<std::unique_ptr<client::ClientFactory>> Clients(const SystemCluster& cluster,
                                                         const ClientSetup& setup) override {
    if (setup.read_mode != "linearizable" && setup.read_mode != "serializable") {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("system etcd: read mode '{}' (expected linearizable or "
                                   "serializable; plain and sync are zookeeper's)",
                                   setup.read_mode));
    }
    client::EtcdClientOptions o;
    for (const SystemNode& n : cluster.nodes) {
      o.endpoints.push_back(client::EtcdEndpoint{
          .node = n.name, .host = n.address, .port = static_cast<std::uint16_t>(n.port)});
    }
    o.timeout = setup.timeout;
    o.read_mode = setup.read_mode == "serializable" ? client::EtcdReadMode::kSerializable
                                                    : client::EtcdReadMode::kLinearizable;
    o.workload = WorkloadFor(setup.workload);
    o.key_prefix = setup.key_prefix;
    if (o.workload == client::EtcdWorkload::kLock) {
      // etcd leases count whole seconds.
      o.lock_ttl = std::max(setup.lock_ttl, std::chrono::seconds(1));
      o.lock_acquire_timeout = setup.lock_acquire_timeout;
    }
    return client::MakeEtcdClientFactory(std::move(o));
  }

  std::optional<std::string> Leader(const SystemCluster& cluster) override {
    if (cluster.local == nullptr) return std::nullopt;
    Result<cluster::ClusterStatus> s = cluster::ProbeStatus(*cluster.local);
    if (!s) return std::nullopt;
    return s->leader;
  }

 private:
  SystemInfo info_;
};

}  // namespace

std::unique_ptr<System> MakeEtcdSystem() { return std::make_unique<EtcdSystem>(); }

}  // namespace faultline::systems::internal
