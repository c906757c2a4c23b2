// The state file (<run_dir>/cluster.json) and the pure rules of cluster naming and subnet
// allocation. Not part of the public API.
//
// Thread-safety: pure functions; LoadStateFile/SaveStateFile touch only the given run dir.
#ifndef FAULTLINE_CLUSTER_INTERNAL_STATE_H_
#define FAULTLINE_CLUSTER_INTERNAL_STATE_H_

#include <set>
#include <string>
#include <string_view>

#include "cluster/cluster.h"
#include "common/result.h"

namespace faultline::cluster::internal {

inline constexpr std::string_view kStateFile = "cluster.json";

// 1-8 characters [a-z0-9].
[[nodiscard]] Status ValidateName(std::string_view name);

// Serialises a state to its JSON text, and back. FromJson rejects missing required fields.
std::string StateToJson(const ClusterState& state);
[[nodiscard]] Result<ClusterState> StateFromJson(std::string_view text);

[[nodiscard]] Status SaveState(const ClusterState& state);  // atomic, into state.run_dir
[[nodiscard]] Result<ClusterState> LoadStateFile(const std::string& path);

// The third octet of the cluster's /24 in 198.18.0.0/16: 0 for "default"; for other names the
// lowest X in 1..255 not in `taken`. `taken` holds the third octets used by recorded clusters or
// present on this machine. An error if the wanted subnet is taken or none is free.
[[nodiscard]] Result<int> AllocateSubnet(std::string_view name, const std::set<int>& taken);

// Third octets of 198.18.X.* addresses or routes in `ip -4 -o addr` / `ip -4 route` text.
std::set<int> OctetsInText(std::string_view text);

std::string RunDir(std::string_view state_root, std::string_view name);

}  // namespace faultline::cluster::internal

#endif  // FAULTLINE_CLUSTER_INTERNAL_STATE_H_
