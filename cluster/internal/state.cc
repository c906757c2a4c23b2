#include "cluster/internal/state.h"

#include <fmt/format.h>

#include <cctype>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cluster/internal/util.h"
#include "common/file.h"

namespace faultline::cluster::internal {

using nlohmann::json;

Status ValidateName(std::string_view name) {
  if (name.empty() || name.size() > 8) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("cluster name '{}': must have 1 to 8 characters", name));
  }
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("cluster name '{}': only a-z and 0-9 are allowed", name));
    }
  }
  return OkStatus();
}

std::string RunDir(std::string_view state_root, std::string_view name) {
  return fmt::format("{}/clusters/{}", state_root, name);
}

std::string StateToJson(const ClusterState& s) {
  json nodes = json::array();
  for (const NodeState& n : s.nodes) {
    nodes.push_back({{"name", n.name},
                     {"netns", n.netns},
                     {"address", n.address},
                     {"data_dir", n.data_dir},
                     {"log_path", n.log_path},
                     {"db_pid", n.db_pid},
                     {"db_start_time", n.db_start_time},
                     {"cgroups", n.cgroups},
                     {"sshd_pid", n.sshd_pid},
                     {"sshd_start_time", n.sshd_start_time}});
  }
  json j = {{"name", s.name},
            {"run_dir", s.run_dir},
            {"subnet", s.subnet},
            {"control_address", s.control_address},
            {"bridge_netns", s.bridge_netns},
            {"host_link", s.host_link},
            {"db", std::string(DbName(s.db))},
            {"etcd",
             {{"heartbeat_ms", s.etcd.heartbeat_ms},
              {"election_ms", s.etcd.election_ms},
              {"pre_vote", s.etcd.pre_vote},
              {"snapshot_count", s.etcd.snapshot_count},
              {"corrupt_check", s.etcd.corrupt_check},
              {"extra_flags", s.etcd.extra_flags}}},
            {"ssh", s.ssh},
            {"ssh_private_key", s.ssh_private_key},
            {"ssh_nodes_file", s.ssh_nodes_file},
            {"nodes", nodes},
            {"supervisor_pid", s.supervisor_pid},
            {"supervisor_start_time", s.supervisor_start_time},
            {"socket_path", s.socket_path},
            {"created_unix_ms", s.created_unix_ms},
            {"owner_pid", s.owner_pid},
            {"owner_start_time", s.owner_start_time}};
  return j.dump(2) + "\n";
}

Result<ClusterState> StateFromJson(std::string_view text) {
  try {
    const json j = json::parse(text);
    ClusterState s;
    j.at("name").get_to(s.name);
    j.at("run_dir").get_to(s.run_dir);
    j.at("subnet").get_to(s.subnet);
    j.at("control_address").get_to(s.control_address);
    j.at("bridge_netns").get_to(s.bridge_netns);
    j.at("host_link").get_to(s.host_link);
    FAULTLINE_ASSIGN_OR_RETURN(s.db, ParseDb(j.at("db").get<std::string>()));
    const json& e = j.at("etcd");
    e.at("heartbeat_ms").get_to(s.etcd.heartbeat_ms);
    e.at("election_ms").get_to(s.etcd.election_ms);
    e.at("pre_vote").get_to(s.etcd.pre_vote);
    e.at("snapshot_count").get_to(s.etcd.snapshot_count);
    s.etcd.corrupt_check = e.value("corrupt_check", false);
    s.etcd.extra_flags = e.value("extra_flags", std::vector<std::string>{});
    s.ssh = j.value("ssh", false);
    s.ssh_private_key = j.value("ssh_private_key", "");
    s.ssh_nodes_file = j.value("ssh_nodes_file", "");
    for (const json& jn : j.at("nodes")) {
      NodeState n;
      jn.at("name").get_to(n.name);
      jn.at("netns").get_to(n.netns);
      jn.at("address").get_to(n.address);
      n.data_dir = jn.value("data_dir", "");
      n.log_path = jn.value("log_path", "");
      n.db_pid = jn.value("db_pid", 0);
      n.db_start_time = jn.value("db_start_time", std::uint64_t{0});
      n.cgroups = jn.value("cgroups", std::map<std::string, std::string>{});
      n.sshd_pid = jn.value("sshd_pid", 0);
      n.sshd_start_time = jn.value("sshd_start_time", std::uint64_t{0});
      s.nodes.push_back(std::move(n));
    }
    s.supervisor_pid = j.value("supervisor_pid", 0);
    s.supervisor_start_time = j.value("supervisor_start_time", std::uint64_t{0});
    s.socket_path = j.value("socket_path", "");
    s.created_unix_ms = j.value("created_unix_ms", std::int64_t{0});
    // Absent in the state files of clusters brought up before owners existed: no owner.
    s.owner_pid = j.value("owner_pid", 0);
    s.owner_start_time = j.value("owner_start_time", std::uint64_t{0});
    return s;
  } catch (const json::exception& ex) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("cluster state: malformed JSON: {}", ex.what()));
  }
}

Status SaveState(const ClusterState& state) {
  return WriteFileAtomic(fmt::format("{}/{}", state.run_dir, kStateFile), StateToJson(state));
}

Result<ClusterState> LoadStateFile(const std::string& path) {
  FAULTLINE_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  auto s = StateFromJson(text);
  if (!s) return s.error().WithContext(path);
  return s;
}

Result<int> AllocateSubnet(std::string_view name, const std::set<int>& taken) {
  if (name == "default") {
    if (taken.count(0) != 0) {
      return MakeError(ErrorCode::kUnavailable,
                       "cluster default: subnet 198.18.0.0/24 is already in use on this machine "
                       "(another cluster or address; see 'faultline cluster list' and 'ip addr')");
    }
    return 0;
  }
  for (int x = 1; x <= 255; ++x) {
    if (taken.count(x) == 0) return x;
  }
  return MakeError(ErrorCode::kUnavailable,
                   fmt::format("cluster {}: no free /24 in 198.18.1.0-198.18.255.0 (bring some "
                               "clusters down)",
                               name));
}

std::set<int> OctetsInText(std::string_view text) {
  std::set<int> out;
  constexpr std::string_view kPrefix = "198.18.";
  size_t pos = 0;
  while ((pos = text.find(kPrefix, pos)) != std::string_view::npos) {
    // Not the tail of a longer address such as 10.198.18.9.
    const bool boundary =
        pos == 0 ||
        (std::isdigit(static_cast<unsigned char>(text[pos - 1])) == 0 && text[pos - 1] != '.');
    pos += kPrefix.size();
    int x = 0;
    size_t digits = 0;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos])) != 0 &&
           digits < 3) {
      x = x * 10 + (text[pos] - '0');
      ++pos;
      ++digits;
    }
    if (boundary && digits > 0 && x <= 255) out.insert(x);
  }
  return out;
}

}  // namespace faultline::cluster::internal
