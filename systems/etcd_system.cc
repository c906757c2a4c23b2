// etcd 3.4 as a System: the local cluster's supervisor runs it (cluster/cluster.h), the client is
// client/etcd.h's, and readiness is every member healthy with a leader a majority names.
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "client/etcd.h"
#include "common/parallel.h"
#include "common/ports.h"
#include "systems/internal/builtin.h"
#include "systems/internal/etcd_membership.h"

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
  if (workload == "append") return client::EtcdWorkload::kAppend;
  if (workload == "rw-register") return client::EtcdWorkload::kRwRegister;
  return client::EtcdWorkload::kRegister;
}

constexpr std::chrono::milliseconds kProbeTimeout{500};

// Nodes over SSH: what each member's /v3/maintenance/status says.
struct MemberView {
  std::string node;
  std::optional<client::EtcdStatusReply> status;
  std::string error;  // when status is empty
};

std::vector<MemberView> ProbeMembers(const SystemCluster& cluster,
                                     std::chrono::milliseconds timeout) {
  std::vector<Result<client::EtcdStatusReply>> replies =
      ParallelFor(cluster.nodes.size(), [&](size_t i) {
        const SystemNode& n = cluster.nodes[i];
        return client::EtcdStatus(
            client::EtcdEndpoint{
                .node = n.name, .host = n.address, .port = static_cast<std::uint16_t>(n.port)},
            timeout);
      });
  std::vector<MemberView> views(cluster.nodes.size());
  for (size_t i = 0; i < cluster.nodes.size(); ++i) {
    views[i].node = cluster.nodes[i].name;
    if (replies[i]) {
      views[i].status = std::move(replies[i]).value();
    } else {
      views[i].error = replies[i].error().message();
    }
  }
  return views;
}

// The node a majority of all members name as leader (by member id), or nullopt.
std::optional<std::string> MajorityLeader(const std::vector<MemberView>& views) {
  std::map<std::uint64_t, std::string> names;
  std::map<std::uint64_t, size_t> votes;
  for (const MemberView& v : views) {
    if (!v.status) continue;
    names[v.status->member_id] = v.node;
    if (v.status->leader != 0) ++votes[v.status->leader];
  }
  for (const auto& [id, count] : votes) {
    auto name = names.find(id);
    if (count >= views.size() / 2 + 1 && name != names.end()) return name->second;
  }
  return std::nullopt;
}

bool AllAnswerWithLeader(const std::vector<MemberView>& views) {
  for (const MemberView& v : views) {
    if (!v.status) return false;
  }
  return MajorityLeader(views).has_value();
}

// "n1: leader n2; n3: connect: ..."
std::string DescribeMembers(const std::vector<MemberView>& views) {
  std::map<std::uint64_t, std::string> names;
  for (const MemberView& v : views) {
    if (v.status) names[v.status->member_id] = v.node;
  }
  std::vector<std::string> parts;
  for (const MemberView& v : views) {
    if (!v.status) {
      parts.push_back(fmt::format("{}: {}", v.node, v.error));
      continue;
    }
    auto leader = names.find(v.status->leader);
    parts.push_back(fmt::format("{}: leader {}", v.node,
                                v.status->leader == 0   ? std::string("none")
                                : leader != names.end() ? leader->second
                                                        : fmt::format("{:x}", v.status->leader)));
  }
  return fmt::format("{}", fmt::join(parts, "; "));
}

class EtcdSystem final : public System {
 public:
  EtcdSystem() {
    info_.name = "etcd";
    info_.workloads = {"register", "set", "counter", "lock", "append", "rw-register"};
    info_.client_port = kEtcdClientPort;
    info_.default_nodes = 5;
    info_.local_db = cluster::Db::kEtcd;
    info_.has_leader = true;  // the Raft leader a majority names; elections are quick
    info_.clock = ClockSupport::None(
        "etcd is a Go program: it reads the clock through the vDSO, not libc, so libfaketime "
        "cannot reach it (on SSH nodes clock faults set the machine's clock instead)");
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

  Status Ready(const SystemCluster& cluster, nemesis::NodeControl& /*shell*/) override {
    if (cluster.local == nullptr) {
      const std::vector<MemberView> views = ProbeMembers(cluster, kProbeTimeout);
      if (AllAnswerWithLeader(views)) return OkStatus();
      return MakeError(ErrorCode::kUnavailable, DescribeMembers(views));
    }
    Result<cluster::ClusterStatus> s = cluster::ProbeStatus(*cluster.local);
    if (!s) return s.error();
    std::vector<std::string> unhealthy;
    for (const cluster::NodeStatus& n : s->nodes) {
      if (!n.healthy) {
        unhealthy.push_back(fmt::format("{}: {}", n.name, n.probe_error.value_or("not healthy")));
      }
    }
    if (s->leader && unhealthy.empty()) return OkStatus();
    if (!s->leader) unhealthy.push_back(s->disagreement.value_or("no leader a majority names"));
    return MakeError(ErrorCode::kUnavailable, fmt::format("{}", fmt::join(unhealthy, "; ")));
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

  // A local cluster's etcd writes <run_dir>/<node>/etcd.log (cluster/cluster.h); over SSH the
  // log's place is the node's own (runner/ssh.h fetches it).
  std::vector<std::string> LogFiles(const SystemCluster& cluster,
                                    const SystemNode& node) const override {
    if (cluster.local == nullptr) return {};
    for (const cluster::NodeState& n : cluster.local->nodes) {
      if (n.name == node.name && !n.log_path.empty()) return {n.log_path};
    }
    return {};
  }

  // Member remove / add through the JSON gateway; the node control stops, wipes and starts.
  Result<std::unique_ptr<nemesis::Membership>> Membership(const SystemCluster& cluster,
                                                          nemesis::NodeControl& control) override {
    return MakeEtcdMembership(cluster, control);
  }

  std::optional<std::string> Leader(const SystemCluster& cluster) override {
    if (cluster.local == nullptr) return MajorityLeader(ProbeMembers(cluster, kProbeTimeout));
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
