#include "systems/system.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

namespace faultline::systems {

std::vector<std::string> SystemCluster::NodeNames() const {
  std::vector<std::string> out;
  for (const SystemNode& n : nodes) out.push_back(n.name);
  return out;
}

std::string SystemCluster::Peers() const {
  std::string out;
  for (const SystemNode& n : nodes) {
    out += fmt::format("{}{}:{}", out.empty() ? "" : ",", n.address, n.port);
  }
  return out;
}

Status System::CheckWorkload(std::string_view workload) const {
  const SystemInfo& info = Info();
  if (std::find(info.workloads.begin(), info.workloads.end(), workload) != info.workloads.end()) {
    return OkStatus();
  }
  return MakeError(ErrorCode::kInvalidArgument,
                   fmt::format("system {}: workload '{}' is not supported (it supports: {})",
                               info.name, workload, fmt::join(info.workloads, ", ")));
}

Result<std::unique_ptr<nemesis::Membership>> System::Membership(const SystemCluster& /*cluster*/,
                                                                nemesis::NodeControl& /*control*/) {
  return MakeError(ErrorCode::kInvalidArgument,
                   fmt::format("system {}: cannot change its cluster's membership (member-remove "
                               "and member-add need a system that can, such as etcd)",
                               Info().name));
}

Result<SystemCluster> LocalNodes(const cluster::ClusterState& state, const SystemInfo& info) {
  SystemCluster out;
  out.name = state.name;
  out.local = &state;
  for (const cluster::NodeState& n : state.nodes) {
    SystemNode node{.name = n.name,
                    .address = n.address,
                    .port = info.client_port,
                    .data_dir = n.data_dir,
                    .log_dir = fmt::format("{}/{}/logs", state.run_dir, n.name)};
    if (info.local_db == cluster::Db::kNone) {
      std::error_code ec;
      for (const std::string& dir : {node.data_dir, node.log_dir}) {
        std::filesystem::create_directories(dir, ec);
        if (ec) {
          return MakeError(ErrorCode::kUnavailable,
                           fmt::format("system {}: node {}: create {}: {}", info.name, n.name, dir,
                                       ec.message()));
        }
      }
    }
    out.nodes.push_back(std::move(node));
  }
  return out;
}

}  // namespace faultline::systems
