// The resident supervisor of a local cluster, and the client side of its socket protocol.
//
// How it runs: Up() calls SpawnSupervisor, which forks twice (the daemon is reparented away from
// the caller and gets its own session through setsid) and execs /proc/self/exe with
// FAULTLINE_CLUSTER_SUPERVISOR=<run_dir> in its environment. Every binary linking the cluster
// library (the faultline binary, GoogleTest binaries) carries a static initializer in
// supervisor.cc that sees that variable and runs SupervisorMain instead of main(). Exec gives the
// daemon a clean single-threaded image even when the caller has threads (a test binary, a
// campaign with client threads), so nothing between fork and exec needs more than
// async-signal-safe calls.
//
// The supervisor is single-threaded: one poll loop over its listening socket, client connections
// and one pidfd per child. It is the parent of every database process (and sshd with --ssh), so it
// reaps them at once, and it sets PR_SET_PDEATHSIG so they die with it. Protocol: one JSON object
// per line in each direction, on <run_dir>/supervisor.sock:
//   {"cmd":"status"}                                   -> {"ok":true,"nodes":[...]}
//   {"cmd":"process","action":"kill","nodes":["n1"]}   -> {"ok":true,"reports":[...]}
//   {"cmd":"set-restart-policy","enabled":true,...}    -> {"ok":true}
//   {"cmd":"events","after":N}                         -> {"ok":true,"events":[...]}
//   {"cmd":"shutdown"}                                 -> {"ok":true,"killed":[...]} then exits
//   {"cmd":"disown"}                                   -> {"ok":true} (stops watching the owner)
//
// Owner: when cluster.json names an owner (pid and start time), the supervisor holds a pidfd on it
// and polls it with its children. Once the owner is gone it ends its children and tears the whole
// cluster down itself (DownBySupervisor), then exits: a campaign or drill that dies leaves no
// cluster behind.
// Errors: {"ok":false,"error":"..."}.
//
// Thread-safety: client functions are thread-safe (one connection per call).
#ifndef FAULTLINE_CLUSTER_INTERNAL_SUPERVISOR_H_
#define FAULTLINE_CLUSTER_INTERNAL_SUPERVISOR_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cluster/cluster.h"
#include "common/result.h"

namespace faultline::cluster::internal {

inline constexpr std::string_view kSupervisorConfig = "supervisor.json";

// What the supervisor starts besides what cluster.json says: per node, the sshd argv (--ssh).
struct SupervisorConfig {
  std::map<std::string, std::vector<std::string>> sshd_argv;
};
[[nodiscard]] Status SaveSupervisorConfig(const std::string& run_dir, const SupervisorConfig& c);

// The etcd command line of a node (PLATFORM.md §4). `existing`: restart on the same data dir.
std::vector<std::string> EtcdArgv(const ClusterState& state, const NodeState& node, bool existing);

struct SupervisorIdentity {
  int pid = 0;
  std::uint64_t start_time = 0;
};
// Starts the supervisor for the cluster in state.run_dir (cluster.json must be written) and waits
// until it has started every node's processes and listens on its socket.
[[nodiscard]] Result<SupervisorIdentity> SpawnSupervisor(const ClusterState& state,
                                                         std::chrono::milliseconds timeout);

// Down() without step 1 (asking the supervisor): for the supervisor itself, once its children
// are ended. Removes cgroups, namespaces, the link and the run directory. Defined in cluster.cc.
DownReport DownBySupervisor(const ClusterState& state);

// One request/response round trip on the socket.
[[nodiscard]] Result<nlohmann::json> SupervisorCall(const std::string& socket_path,
                                                    const nlohmann::json& request,
                                                    std::chrono::milliseconds timeout);

}  // namespace faultline::cluster::internal

#endif  // FAULTLINE_CLUSTER_INTERNAL_SUPERVISOR_H_
