// cluster/: the local test cluster (the built-in default) — one network namespace per node, a
// bridge in its own namespace, addresses in 198.18.0.0/15, a database (etcd 3.4) and optionally
// sshd on every node — and the small resident supervisor that owns the database processes.
//
// Lifecycle: Up() builds namespaces and links, writes the state file <run_dir>/cluster.json, then
// forks the supervisor (a daemon: setsid, its own process group), which starts every database
// process as its own child (watched through pidfds, recorded with their start times against PID
// reuse) and serves commands on <run_dir>/supervisor.sock. Up() returns once every node is
// healthy (etcd: all members answer and agree on a leader) or fails and removes what it made.
// Down() works from a fresh process from the state file alone; it is idempotent and ends only
// processes this cluster started, by PID checked against their recorded start time.
//
// Owners: a cluster that a campaign or a drill brings up for itself names that process as its
// owner (ClusterSpec::owner_pid, pid and start time). The supervisor holds a pidfd on the owner
// and, once the owner is gone (a SIGKILL included), ends every process of the cluster and removes
// its namespaces, link, cgroups and run directory itself, so no cluster outlives its user. A
// cluster without owner (`faultline cluster up`) stays until Down(); Disown() turns one into the
// other (`campaign --leave-db-running`, `dirt run --keep-cluster`). cluster/session.h does this
// bookkeeping for callers.
//
// Names: a cluster name is 1-8 characters [a-z0-9]; "default" is used when none is given.
// Namespaces are "fl-<name>-n1".."fl-<name>-nN" and "fl-<name>-br"; the root namespace's link is
// "fl-<name>" with the control address .254. Subnet: "default" gets 198.18.0.0/24, other names
// the lowest free /24 in 198.18.1.0-198.18.255.0 (never 198.19.64-127, used by the tests'
// throwaway clusters); a name already up, or a subnet already present on this machine, is refused
// with a clear error.
//
// Thread-safety: free functions are thread-safe for different clusters.
#ifndef FAULTLINE_CLUSTER_CLUSTER_H_
#define FAULTLINE_CLUSTER_CLUSTER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "nemesis/net.h"
#include "nemesis/node_control.h"

namespace faultline::cluster {

enum class Db { kNone, kEtcd };
std::string_view DbName(Db db);  // "none", "etcd"
[[nodiscard]] Result<Db> ParseDb(std::string_view name);

// etcd flags a drill or campaign depends on; recorded in the state file (a recovery limit means
// nothing unless these are pinned).
struct EtcdSettings {
  int heartbeat_ms = 100;
  int election_ms = 1000;
  bool pre_vote = true;  // 3.4 defaults to false; with false, heals cause disruptive elections
  int snapshot_count = 10000;
  bool corrupt_check = false;  // --experimental-initial-corrupt-check and periodic checks
  std::vector<std::string> extra_flags;
};

struct ClusterSpec {
  std::string name = "default";
  int nodes = 5;  // 1..9
  Db db = Db::kEtcd;
  bool ssh = false;  // also start sshd on every node (cluster/sshd.h)
  EtcdSettings etcd;
  std::string state_root;  // empty: DefaultStateRoot()
  // The process the cluster belongs to (a campaign or a drill that brought it up for itself): the
  // supervisor tears the cluster down as soon as that process is gone, however it died. 0: no
  // owner, the cluster stays until Down() (`faultline cluster up`).
  int owner_pid = 0;
};

struct NodeState {
  std::string name;      // "n1"
  std::string netns;     // "fl-default-n1"
  std::string address;   // "198.18.0.1"
  std::string data_dir;  // <run_dir>/n1/data
  std::string log_path;  // <run_dir>/n1/etcd.log
  int db_pid = 0;        // as of the last state write; the supervisor has the live value
  std::uint64_t db_start_time = 0;
  // Per-node control groups the supervisor made and put the database process in, by controller:
  // "cpu" (v1 cpu,cpuacct), "memory", "blkio", "freezer" (v1) and "unified" (v2, for
  // cgroup.freeze / cgroup.kill). A siege runs in these, so its load counts against the node.
  std::map<std::string, std::string> cgroups;
  int sshd_pid = 0;  // --ssh only
  std::uint64_t sshd_start_time = 0;

  std::string ClientUrl() const;  // "http://198.18.0.1:2379"
  std::string PeerUrl() const;    // "http://198.18.0.1:2380"
};

// Everything Down() and the nemesis need, persisted as <run_dir>/cluster.json.
struct ClusterState {
  std::string name;
  std::string run_dir;          // <state_root>/clusters/<name>
  std::string subnet;           // "198.18.0.0/24"
  std::string control_address;  // "198.18.0.254"
  std::string bridge_netns;     // "fl-default-br"
  std::string host_link;        // "fl-default"
  Db db = Db::kEtcd;
  EtcdSettings etcd;
  bool ssh = false;
  std::string ssh_private_key;  // --ssh: key for root@node, and the nodes file for ssh:FILE
  std::string ssh_nodes_file;   // --ssh: <run_dir>/nodes.json, usable with --cluster ssh:FILE
  std::vector<NodeState> nodes;
  int supervisor_pid = 0;
  std::uint64_t supervisor_start_time = 0;
  std::string socket_path;  // <run_dir>/supervisor.sock
  std::int64_t created_unix_ms = 0;
  int owner_pid = 0;                   // ClusterSpec::owner_pid; 0: none
  std::uint64_t owner_start_time = 0;  // against PID reuse

  std::vector<std::string> NodeNames() const;
  std::vector<std::string> ClientUrls() const;  // in node order
  // For the nemesis::Net backends; run_id "fl<name>" (valid for NetConfig).
  nemesis::NetConfig NetConfig() const;
};

std::string DefaultStateRoot();  // $FAULTLINE_STATE_DIR, else /var/lib/faultline

using Progress = std::function<void(std::string_view line)>;

[[nodiscard]] Result<ClusterState> Up(const ClusterSpec& spec, const Progress& progress = {});
// NotFound when no cluster of that name is recorded.
[[nodiscard]] Result<ClusterState> Load(std::string_view name, std::string_view state_root = {});
// Names of recorded clusters, sorted.
std::vector<std::string> List(std::string_view state_root = {});

struct DownReport {
  std::vector<std::string> removed;  // "supervisor pid 77", "etcd n1 pid 80", "netns fl-default-n1"
  std::vector<std::string> warnings;  // e.g. "pid 81 is no longer etcd (reused): left alone"
};
// Idempotent: a cluster that is not recorded, or partly gone, is removed as far as it exists.
[[nodiscard]] Result<DownReport> Down(std::string_view name, std::string_view state_root = {});

// Leaves an owned cluster running for good: its supervisor stops watching the owner, and the
// cluster stays until Down(). No-op for a cluster without owner.
[[nodiscard]] Status Disown(const ClusterState& state);

struct NodeStatus {
  std::string name;
  std::string netns;
  std::string address;
  nemesis::DbProcess db;
  bool healthy = false;  // etcd /health answered true within the probe timeout
  std::chrono::microseconds probe_latency{0};
  std::optional<std::string> leader_claim;  // the node this member names as leader
  std::uint64_t raft_term = 0;
  std::int64_t revision = 0;
  std::optional<std::string> probe_error;
};

struct ClusterStatus {
  std::string name;
  std::vector<NodeStatus> nodes;
  // The leader a majority of reachable members name; nullopt if none has a majority.
  std::optional<std::string> leader;
  // "n3 says n1, n1 says n1, ..." when the members disagree (e.g. an isolated old leader).
  std::optional<std::string> disagreement;
};

// Probes every node in parallel (timeout per probe, default 500 ms).
[[nodiscard]] Result<ClusterStatus> ProbeStatus(
    const ClusterState& state, std::chrono::milliseconds timeout = std::chrono::milliseconds(500));

// Node control through the cluster's supervisor (kill/pause/resume/start/restart) and
// `ip netns exec`-free command runs (fork, setns, exec /bin/sh) inside node namespaces.
[[nodiscard]] Result<std::unique_ptr<nemesis::NodeControl>> MakeLocalControl(
    const ClusterState& state);

// The supervisor's safeguard: restarts crashed database processes with backoff, in parallel;
// after max_restarts within window it stops, marks the node failed and records an escalation.
struct RestartPolicy {
  bool enabled = false;
  std::chrono::milliseconds initial_backoff{100};
  std::chrono::milliseconds max_backoff{2000};
  int max_restarts = 5;
  std::chrono::milliseconds window{60000};
};
[[nodiscard]] faultline::Status SetRestartPolicy(const ClusterState& state,
                                                 const RestartPolicy& policy);

// Something the supervisor saw or did, in order.
struct SupervisorEvent {
  std::uint64_t seq = 0;
  std::int64_t mono_ns = 0;  // CLOCK_MONOTONIC (comparable across processes on this machine)
  std::int64_t wall_ns = 0;  // CLOCK_REALTIME
  std::string node;
  // "started", "exited", "killed", "paused", "resumed", "restarted", "restart-failed",
  // "escalated" (restart limit exceeded: node marked failed)
  std::string kind;
  std::string detail;  // e.g. "signal 9", "backoff 200 ms, attempt 2 of 5"
  int pid = 0;
  bool by_safeguard = false;  // done by the restart policy rather than on command
};
// Events with seq > after_seq.
[[nodiscard]] Result<std::vector<SupervisorEvent>> Events(const ClusterState& state,
                                                          std::uint64_t after_seq = 0);

}  // namespace faultline::cluster

#endif  // FAULTLINE_CLUSTER_CLUSTER_H_
