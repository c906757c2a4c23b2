// Per-node control groups of a local cluster (PLATFORM.md §2, §7, §8): v1 cpu, cpuacct, memory,
// blkio and freezer groups and, when cgroup2 is mounted, a v2 group (for cgroup.freeze and
// cgroup.kill), each at <hierarchy>/<our own group>/faultline/<cluster>/<node>. Nesting under the
// group this process already sits in keeps us inside a container's memory limit. Not part of the
// public API.
//
// Thread-safety: functions are thread-safe.
#ifndef FAULTLINE_CLUSTER_INTERNAL_CGROUPS_H_
#define FAULTLINE_CLUSTER_INTERNAL_CGROUPS_H_

#include <map>
#include <string>
#include <vector>

namespace faultline::cluster::internal {

// Controller key ("cpu", "cpuacct", "memory", "blkio", "freezer", "unified") -> directory, for the
// hierarchies mounted on this machine. Nothing is created.
std::map<std::string, std::string> PlanCgroups(const std::string& cluster, const std::string& node);

// Creates the directories; returns the subset that exists afterwards and notes on failures.
std::map<std::string, std::string> CreateCgroups(const std::map<std::string, std::string>& plan,
                                                 std::vector<std::string>* notes);

// Removes the directories (retrying while exiting tasks keep them busy) and then the
// faultline/<cluster> and faultline parents if empty. Processes still in the node's v2 group
// (a system's servers its commands started, orphaned when faultline was killed) are killed first
// through its cgroup.kill, atomically against forks; what was killed is named in the result.
// Returns what was removed; failures go to warnings.
std::vector<std::string> RemoveCgroups(const std::map<std::string, std::string>& groups,
                                       std::vector<std::string>* warnings);

}  // namespace faultline::cluster::internal

#endif  // FAULTLINE_CLUSTER_INTERNAL_CGROUPS_H_
