#include "systems/system.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "common/shell.h"
#include "nemesis/clock.h"

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

Result<std::optional<std::string>> LeaderForFaults(System& system, const SystemCluster& cluster) {
  const SystemInfo& info = system.Info();
  if (!info.has_leader) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("system {}: has no leader (isolate-leader, leader-minority and "
                                 "the target leader need a system that names one: etcd, "
                                 "zookeeper, redis)",
                                 info.name));
  }
  return system.Leader(cluster);
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

Status WriteNodeFile(nemesis::NodeControl& shell, const SystemCluster& cluster,
                     const SystemNode& node, const std::string& path, std::string_view text) {
  const std::string dir = std::filesystem::path(path).parent_path().string();
  if (cluster.local != nullptr) {
    std::error_code ec;
    if (!dir.empty()) std::filesystem::create_directories(dir, ec);
    std::ofstream out(path, std::ios::trunc);
    out << text;
    out.close();
    if (ec || !out) {
      return MakeError(ErrorCode::kUnavailable,
                       fmt::format("node {}: cannot write {}", node.name, path));
    }
    return OkStatus();
  }
  Result<nemesis::CommandOutput> out = shell.Run(
      node.name,
      fmt::format("mkdir -p {} && cat >{}", ShellQuote(dir.empty() ? "." : dir), ShellQuote(path)),
      text);
  if (!out) return out.error().WithContext(fmt::format("node {}: write {}", node.name, path));
  if (out->exit_code != 0) {
    return MakeError(ErrorCode::kUnavailable,
                     fmt::format("node {}: write {}: exit code {}: {}", node.name, path,
                                 out->exit_code, out->err.substr(0, out->err.find('\n'))));
  }
  return OkStatus();
}

std::string ClockFile(const SystemCluster& cluster, const SystemNode& node) {
  if (cluster.local == nullptr) return {};
  return nemesis::FaketimeFile(cluster.local->run_dir, node.name);
}

Status CheckClockFaults(const SystemInfo& info, const std::vector<nemesis::FaultKind>& kinds,
                        bool local) {
  const bool any = std::any_of(kinds.begin(), kinds.end(), nemesis::IsClockFaultKind);
  if (!any || !local) return OkStatus();
  if (!info.clock.libfaketime) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("system {}: clock faults cannot reach its servers on a local "
                                 "cluster: {}",
                                 info.name, info.clock.why_not));
  }
  if (!nemesis::FindLibfaketime()) {
    return MakeError(ErrorCode::kUnavailable,
                     fmt::format("system {}: clock faults need libfaketime.so.1, which is not "
                                 "installed (apt-get install libfaketime)",
                                 info.name));
  }
  return OkStatus();
}

Status PrepareClockFiles(const SystemCluster& cluster, const SystemInfo& info) {
  if (!info.clock.libfaketime) return OkStatus();
  for (const SystemNode& n : cluster.nodes) {
    const std::string file = ClockFile(cluster, n);
    if (file.empty()) continue;
    if (Status s = nemesis::WriteFaketimeFile(file, std::chrono::milliseconds(0)); !s) {
      return std::move(s).error().WithContext(fmt::format("system {}: node {}", info.name, n.name));
    }
  }
  return OkStatus();
}

nemesis::ClockAccess LocalClockAccess(const SystemCluster& cluster, const SystemInfo& info) {
  nemesis::ClockAccess access;
  if (info.clock.libfaketime) {
    for (const SystemNode& n : cluster.nodes) {
      if (std::string file = ClockFile(cluster, n); !file.empty()) {
        access.faketime_files[n.name] = std::move(file);
      }
    }
  } else {
    access.refusal = fmt::format("system {}: {}", info.name, info.clock.why_not);
  }
  return access;
}

}  // namespace faultline::systems
