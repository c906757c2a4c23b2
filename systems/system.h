// System: the system under test as a part (STYLE.md §35). A System knows how its nodes are set
// up, started, stopped, killed, paused, resumed and wiped, how they form a cluster, which files
// are their logs, how to tell that a node serves clients, which client speaks to it, and which
// workloads it supports. The runner, the nemesis, dirt and the checkers work against this
// interface and never include a particular system's header; systems/registry.h turns a name
// ("etcd") or a system file (systems/system_file.h) into one.
//
// Node control: process faults reach a node through nemesis::NodeControl. A system whose
// processes the local cluster's supervisor owns (etcd) uses the cluster's control as it is; a
// system described by a file wraps it, so kill/pause/resume/start run the file's commands.
//
// Thread-safety: a System is immutable after it is made; its functions may be called from
// several threads at once for different nodes.
#ifndef FAULTLINE_SYSTEMS_SYSTEM_H_
#define FAULTLINE_SYSTEMS_SYSTEM_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/client.h"
#include "cluster/cluster.h"
#include "common/result.h"
#include "history/history.h"
#include "nemesis/clock.h"
#include "nemesis/fault.h"
#include "nemesis/membership.h"
#include "nemesis/node_control.h"

namespace faultline::systems {

// One node as a system sees it.
struct SystemNode {
  std::string name;     // "n1"
  std::string address;  // "198.18.0.1"
  int port = 0;         // the client port
  std::string data_dir;
  std::string log_dir;
};

// The nodes of one cluster, in cluster order.
struct SystemCluster {
  std::string name;  // the cluster's name ("default")
  std::vector<SystemNode> nodes;
  // The local cluster's state when the nodes are network namespaces on this machine; null for
  // nodes reached over SSH. Borrowed.
  const cluster::ClusterState* local = nullptr;

  std::vector<std::string> NodeNames() const;
  std::string Peers() const;  // "198.18.0.1:7001,198.18.0.2:7001,..."
};

// What a client factory is built from; the same for every system.
struct ClientSetup {
  std::string workload = "register";  // runner/generator.h's WorkloadName
  std::string read_mode = "linearizable";
  std::chrono::milliseconds timeout{1000};
  std::string key_prefix = "faultline/";
  std::chrono::seconds lock_ttl{2};
  std::chrono::milliseconds lock_acquire_timeout{5000};
  // Where clients that are programs (exec:) write their stderr, one file per process; "" for a
  // temporary directory.
  std::string stderr_dir;
};

// Whether clock faults (clock-bump, clock-strobe, clock-reset; nemesis/clock.h) reach a system's
// servers on a local cluster. A system declares it with one field of its SystemInfo:
//   info.clock = ClockSupport::Libfaketime();   // servers read the time through libc
//   info.clock = ClockSupport::None("etcd is a Go program: ...");
// and, when it declares libfaketime, starts each server with nemesis::FaketimeExports(library,
// ClockFile(cluster, node)) in front of its command when that file exists (a system file:
// "clock": "libfaketime", and the file's start command gets it). The file exists when the run
// plans clock faults (PrepareClockFiles), so other runs leave the servers untouched. Over SSH every
// system's nodes are reached with clock_settime instead.
struct ClockSupport {
  bool libfaketime = false;
  std::string why_not = "the system does not declare that its servers read the time through libc";
  static ClockSupport Libfaketime() { return ClockSupport{.libfaketime = true, .why_not = {}}; }
  static ClockSupport None(std::string why) {
    return ClockSupport{.libfaketime = false, .why_not = std::move(why)};
  }
};

struct SystemInfo {
  std::string name;                    // "etcd", or the system file's name
  std::vector<std::string> workloads;  // the workloads it supports
  int client_port = 0;
  int default_nodes = 5;
  // What the local cluster's supervisor runs on every node: kEtcd, or kNone when the system's own
  // commands start the servers.
  cluster::Db local_db = cluster::Db::kEtcd;
  ClockSupport clock;  // see ClockSupport
  // Whether Leader() names a leader (a Raft leader, a primary). A campaign's partitions then put
  // the current leader on the minority side half the time (runner/generator.h NemesisSchedule).
  bool has_leader = false;
  // How long the system may take to replace a leader cut off from the others (noticing, electing,
  // promoting, one retry), or 0 when it has none or is quick. Unless --fault-s is given, a
  // campaign's faults last at least this long plus 2 s, so a cut-off leader is replaced in time.
  std::chrono::milliseconds failover{0};
};

using Progress = std::function<void(std::string_view line)>;

// What the system saw during a run, in its users' words (Redis: the failovers its Sentinels made
// and the acknowledged writes they cost): lines for the campaign's summary and a JSON object for
// results.json's "system". Empty when the system has nothing to add.
struct SystemAccount {
  std::vector<std::string> lines;
  std::string json;  // a JSON object, or ""
};

class System {
 public:
  System() = default;
  virtual ~System() = default;
  System(const System&) = delete;
  System& operator=(const System&) = delete;

  virtual const SystemInfo& Info() const = 0;
  // Sets up and starts every node (commands run through `shell`) and returns once the cluster
  // serves clients, or an error naming the node that did not come up. Nothing for a system whose
  // servers the cluster itself starts.
  [[nodiscard]] virtual Status Form(const SystemCluster& cluster, nemesis::NodeControl& shell,
                                    std::chrono::milliseconds timeout,
                                    const Progress& progress) = 0;
  // The node control process faults go through. `base` (the cluster's, which also runs commands)
  // is borrowed and must outlive the result.
  [[nodiscard]] virtual Result<std::unique_ptr<nemesis::NodeControl>> Control(
      const SystemCluster& cluster, nemesis::NodeControl& base) = 0;
  // Ok once every node serves clients (etcd: every member answers and a majority names one
  // leader); otherwise Unavailable saying what each node lacks ("n1: leader none; n3: connect:
  // ..."). Nodes over SSH (cluster.local null) are probed on their address and port.
  [[nodiscard]] virtual Status Ready(const SystemCluster& cluster, nemesis::NodeControl& shell) = 0;
  // Ok when node `index` of `cluster` serves clients, judged from that node alone (a drill's
  // per-node health probe). The default asks Ready of a cluster of that node only; a system whose
  // Ready compares nodes with each other (Redis: every Sentinel knows the others) overrides it.
  [[nodiscard]] virtual Status NodeReady(const SystemCluster& cluster, size_t index,
                                         nemesis::NodeControl& shell) {
    SystemCluster one;
    one.name = cluster.name;
    one.local = cluster.local;
    one.nodes = {cluster.nodes.at(index)};
    return Ready(one, shell);
  }
  [[nodiscard]] virtual Result<std::unique_ptr<client::ClientFactory>> Clients(
      const SystemCluster& cluster, const ClientSetup& setup) = 0;

  // Stops every node's server and wipes its data (a system whose servers the cluster owns:
  // nothing). Every node is tried; the errors are joined.
  virtual Status Teardown(const SystemCluster& /*cluster*/, nemesis::NodeControl& /*shell*/) {
    return OkStatus();
  }
  // The cluster's membership, for the member-remove and member-add faults (nemesis/membership.h),
  // working through `control` (Control's result; borrowed, must outlive the result). A system
  // that cannot change its membership refuses: InvalidArgument saying why.
  [[nodiscard]] virtual Result<std::unique_ptr<nemesis::Membership>> Membership(
      const SystemCluster& cluster, nemesis::NodeControl& control);
  // The node the cluster names as its leader, if the system has one and it is known now.
  virtual std::optional<std::string> Leader(const SystemCluster& /*cluster*/) {
    return std::nullopt;
  }
  // The files worth keeping from a node after a run (logs), as paths on that node.
  virtual std::vector<std::string> LogFiles(const SystemCluster& /*cluster*/,
                                            const SystemNode& /*node*/) const {
    return {};
  }
  // The run in the system's own words, from its history (`start_ns`: MonotonicNowNs() when the
  // run's log began, the zero of the ops' times) and what the system recorded while it ran.
  virtual SystemAccount Account(const SystemCluster& /*cluster*/,
                                const history::History& /*history*/, int64_t /*start_ns*/) {
    return {};
  }
  // An error naming the workloads this system supports unless `workload` is one of them.
  [[nodiscard]] Status CheckWorkload(std::string_view workload) const;
};

// The node the system names as its leader now (System::Leader, which asks the nodes at their
// client endpoints), for the faults aimed at the leader: isolate-leader, partition
// leader-minority and the target "leader"; nullopt when none is known now. InvalidArgument naming
// the system when it has no leader (SystemInfo::has_leader false).
[[nodiscard]] Result<std::optional<std::string>> LeaderForFaults(System& system,
                                                                 const SystemCluster& cluster);

// The nodes of a local cluster as a system sees them: the client port is the system's, the log
// directory <run_dir>/<node>/logs (created here for systems with their own commands).
[[nodiscard]] Result<SystemCluster> LocalNodes(const cluster::ClusterState& state,
                                               const SystemInfo& info);

// Writes `text` to `path` on the node (making its directory): on this machine for a local cluster
// (its namespaces share this filesystem), through `shell` (`cat >`) for a node over SSH. Errors
// name the node and the path.
[[nodiscard]] Status WriteNodeFile(nemesis::NodeControl& shell, const SystemCluster& cluster,
                                   const SystemNode& node, const std::string& path,
                                   std::string_view text);

// A local node's libfaketime timestamp file (nemesis::FaketimeFile in the cluster's run
// directory), which a system that supports clock faults names in its servers' environment; ""
// for nodes reached over SSH (their clocks are set with clock_settime).
std::string ClockFile(const SystemCluster& cluster, const SystemNode& node);

// Refuses clock kinds among `kinds` (a campaign's --nemesis list) on a local cluster when the
// system's servers cannot be reached (its ClockSupport's reason) or libfaketime is missing.
[[nodiscard]] Status CheckClockFaults(const SystemInfo& info,
                                      const std::vector<nemesis::FaultKind>& kinds, bool local);
// Writes +0 into every local node's timestamp file (before the servers start), so a system that
// declares libfaketime starts them under it. Nothing for other systems or SSH nodes.
[[nodiscard]] Status PrepareClockFiles(const SystemCluster& cluster, const SystemInfo& info);
// What the nemesis needs for clock faults on a local cluster: the nodes' timestamp files when the
// system supports libfaketime, otherwise the reason it does not.
nemesis::ClockAccess LocalClockAccess(const SystemCluster& cluster, const SystemInfo& info);

}  // namespace faultline::systems

#endif  // FAULTLINE_SYSTEMS_SYSTEM_H_
