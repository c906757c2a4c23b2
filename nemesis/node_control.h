// NodeControl: the one small interface through which the nemesis reaches a cluster's nodes and
// their database processes. Two implementations share it: local (network namespaces on this
// machine, database processes owned by the cluster's resident supervisor; cluster/local_control.h)
// and SSH (real machines described in a nodes file; cluster/ssh_control.h). Process faults,
// iptables-over-a-command partitions, packet faults and DiRT drills are written against this
// interface only, so the same nemesis code runs through either.
//
// Thread-safety: implementations are thread-safe (calls for different nodes may run concurrently).
#ifndef FAULTLINE_NEMESIS_NODE_CONTROL_H_
#define FAULTLINE_NEMESIS_NODE_CONTROL_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace faultline::nemesis {

// What a process fault does to a node's database process.
enum class ProcessAction {
  kKill,     // SIGKILL; the process stays down until kStart or kRestart
  kPause,    // SIGSTOP (or a cgroup freeze); the report's mechanism says which
  kResume,   // SIGCONT (or thaw)
  kStart,    // start a stopped database process (same data directory, cluster state "existing")
  kRestart,  // kill, then start
};
std::string_view ProcessActionName(ProcessAction action);  // "kill", "pause", ...
[[nodiscard]] Result<ProcessAction> ParseProcessAction(std::string_view name);

struct ProcessReport {
  std::string node;
  ProcessAction action = ProcessAction::kKill;
  bool ok = false;
  // What was really done, e.g. "SIGKILL through pidfd to etcd pid 4242 (start time 981234)".
  std::string mechanism;
  int pid_before = 0;  // 0 if none was running
  int pid_after = 0;   // 0 if none runs now
  std::chrono::nanoseconds took{0};
  std::optional<Error> error;  // set iff !ok
};

// A database process as the node controller sees it now.
struct DbProcess {
  std::string node;
  int pid = 0;  // 0 if not running
  std::uint64_t start_time =
      0;               // /proc/PID/stat field 22 (clock ticks after boot), against PID reuse
  bool alive = false;  // running or paused (not exited, not a zombie)
  bool paused = false;
  int restarts = 0;   // restarts by faultline (nemesis and safeguards) since cluster up
  std::string state;  // "running", "paused", "exited (signal 9)", "failed", "not started"
};

// Output of a command run on a node.
struct CommandOutput {
  int exit_code = 0;
  std::string out;
  std::string err;
};

class NodeControl {
 public:
  NodeControl() = default;
  virtual ~NodeControl() = default;
  NodeControl(const NodeControl&) = delete;
  NodeControl& operator=(const NodeControl&) = delete;

  // "local" or "ssh"; reports name it.
  virtual std::string_view Name() const = 0;
  // Node names in cluster order ("n1", "n2", ...).
  virtual std::vector<std::string> Nodes() const = 0;
  // Applies the action to each named node's database process, in parallel; one report per node in
  // the order given. Never throws; a node it cannot reach gets a report with an error.
  virtual std::vector<ProcessReport> Process(const std::vector<std::string>& nodes,
                                             ProcessAction action) = 0;
  // Every node's database process, in cluster order.
  [[nodiscard]] virtual Result<std::vector<DbProcess>> Databases() = 0;
  // Runs `command` through /bin/sh on the node (inside its network namespace locally, over SSH
  // remotely), with `input` on its stdin. An error only when it could not be run at all; a
  // command that ran and failed returns its exit code.
  [[nodiscard]] virtual Result<CommandOutput> Run(std::string_view node, std::string_view command,
                                                  std::string_view input = {}) = 0;
};

// Resolves a process-fault or packet-fault target to node names, in cluster order:
//   "n1,n3"     those nodes (each must exist)
//   "one"       one node chosen with the seed
//   "minority"  floor((N-1)/2) nodes chosen with the seed
//   "majority"  floor(N/2)+1 nodes chosen with the seed
//   "all"       every node
//   "leader"    the leader (an error if `leader` is empty: "no leader is known")
// Pure; the same seed gives the same nodes.
[[nodiscard]] Result<std::vector<std::string>> ResolveTarget(
    std::string_view target, const std::vector<std::string>& nodes,
    const std::optional<std::string>& leader, std::uint64_t seed);

}  // namespace faultline::nemesis

#endif  // FAULTLINE_NEMESIS_NODE_CONTROL_H_
