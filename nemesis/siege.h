// Siege: native resource pressure (CPU, memory, disk I/O) confined to a target's control groups,
// with the achieved figures measured from those groups' own accounting.
//
// Workers are forked processes that stop themselves first thing; the controller moves each one
// into the target's cgroups (v1 cpu, cpuacct, memory, blkio, or the v2 group where a controller is
// bound to cgroup2) and only then lets it run, so every cycle it burns counts against the target
// and nothing runs outside it (PLATFORM §8). A feedback thread holds the CPU target: it reads the
// target cgroup's cpuacct.usage (v2: cpu.stat usage_usec) every control interval and adjusts the
// workers' duty cycle per period, so the target is the cgroup's total (the database's own use
// included), not the burner's. A target missed by more than the tolerance makes the fault invalid:
// the report says so rather than pretending the siege happened.
//
// Units: CPU in percent of ONE CPU (100 = one core fully busy; a 2-core machine tops at 200),
// memory in bytes of the target's memory cgroup usage, disk in fsync'd write ops per second.
//
// Thread-safety: DetectCgroups and the Read* functions are thread-safe. A Siege is used by one
// thread at a time; it runs its own control thread internally.
#ifndef FAULTLINE_NEMESIS_SIEGE_H_
#define FAULTLINE_NEMESIS_SIEGE_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace faultline::nemesis {

// Where the cgroup hierarchies are mounted on this machine, found at run time.
struct CgroupMounts {
  // v1 controller name ("cpu", "cpuacct", "memory", "blkio", "freezer", ...) -> mount point. A
  // co-mounted hierarchy ("cpu,cpuacct") appears under each of its controllers.
  std::map<std::string, std::string> v1;
  std::string unified;                           // cgroup2 mount point, empty if none
  std::vector<std::string> unified_controllers;  // from <unified>/cgroup.controllers
  // The cgroup (relative to each hierarchy's root) this process sits in, by controller; "" for v2.
  std::map<std::string, std::string> self;
  // "cpu v1 (/sys/fs/cgroup/cpu), memory v1 (...), hugetlb v2 (...)".
  std::string Describe() const;
};
[[nodiscard]] Result<CgroupMounts> DetectCgroups();

// The directories a siege acts in, one per controller; empty = that controller is not available.
struct SiegeTarget {
  std::string name;     // for reports, e.g. "n1"
  std::string cpu;      // cpu.cfs_quota_us lives here (v1) or cpu.max (v2)
  std::string cpuacct;  // cpuacct.usage (v1) or cpu.stat (v2)
  std::string memory;   // memory.usage_in_bytes (v1) or memory.current (v2)
  std::string blkio;    // blkio.throttle.* (v1) or io.stat (v2)
  bool cpu_v2 = false;
  bool memory_v2 = false;
  bool blkio_v2 = false;
};

// Resolves a node's cgroup map (cluster::NodeState::cgroups: "cpu", "cpuacct", "memory", "blkio",
// "freezer", "unified" -> absolute directory) into a target. When "cpuacct" is missing, the cpuacct
// group at the same relative path is used (cpu and cpuacct are separate hierarchies on some
// machines), or the cpu directory itself when it is co-mounted with cpuacct.
[[nodiscard]] Result<SiegeTarget> TargetFromCgroups(
    std::string name, const std::map<std::string, std::string>& cgroups,
    const CgroupMounts& mounts);

// Creates a group named `relative` (e.g. "faultline/test-42") in every needed hierarchy (cpu,
// cpuacct, memory, blkio; nested under this process's own memory group when it sits in a non-root
// one) and returns it as a target. RemoveTarget removes the directories (they must be empty).
[[nodiscard]] Result<SiegeTarget> CreateTarget(const CgroupMounts& mounts,
                                               const std::string& relative);
[[nodiscard]] Status RemoveTarget(const SiegeTarget& target);

[[nodiscard]] Result<std::uint64_t> ReadCpuUsageNs(const SiegeTarget& target);
[[nodiscard]] Result<std::int64_t> ReadMemoryBytes(const SiegeTarget& target);

struct CpuSiegeSpec {
  double target_percent = 0;             // of one CPU; the cgroup's total
  std::chrono::milliseconds period{10};  // one duty cycle
  int workers = 0;  // 0: enough to reach the target with one spare (at most the CPU count)
  // If set, cpu.cfs_quota_us is capped at this percent of one CPU while the siege runs and
  // restored afterwards, so the burner cannot take more even if the controller misbehaves.
  std::optional<double> quota_percent;
  // If set, cpu.shares (v1) of the group and of each ancestor below the root is raised to at least
  // this while the siege runs and restored after (weights are hierarchical):
  // on a busy shared host the default weight (1024) may not let the group reach its target.
  std::optional<int> shares;
};
struct MemorySiegeSpec {
  std::int64_t target_bytes = 0;  // the memory cgroup's usage to reach and hold
};
struct DiskSiegeSpec {
  double target_ops_per_s = 0;  // 4 KiB writes, each followed by fsync
  std::string directory;        // where the workers write their files (removed at stop)
  int workers = 4;              // concurrent writers, so fsync latency does not cap the rate
};
// A side effect a siege is about to make outside its own memory, reported (SiegeSpec::
// before_change) so a caller can record how to undo it before it exists: a crash-safe ledger
// then undoes it even when this process dies with the siege running.
struct SiegeChange {
  enum class Kind {
    kSetting,  // control file `path` (cpu.shares, cpu.cfs_quota_us) is about to change; it held
               // `old_value`
    kWorker,   // worker `pid` (start time `start_time`) was forked; it is stopped and runs only
               // after the hook returns
    kFile,     // a worker is about to write file `path`
  };
  Kind kind = Kind::kSetting;
  std::string path;
  std::string old_value;
  std::string new_value;  // kSetting: what it is about to hold
  int pid = 0;
  std::uint64_t start_time = 0;
};

struct SiegeSpec {
  std::optional<CpuSiegeSpec> cpu;
  std::optional<MemorySiegeSpec> memory;
  std::optional<DiskSiegeSpec> disk;
  std::chrono::milliseconds control_interval{100};
  // Time after start not counted in the achieved figures (the controller converging).
  std::chrono::milliseconds warmup{1000};
  double tolerance_points = 5;  // CPU in points; memory and disk in percent of the target
  // Called before each change; an error stops Start (nothing of the siege is left running).
  std::function<Status(const SiegeChange&)> before_change;
};

// One resource's target against what the target's own accounting shows.
struct SiegeFigure {
  std::string resource;  // "cpu", "memory", "disk"
  std::string unit;      // "% of one CPU", "bytes", "ops/s"
  double target = 0;
  double achieved = 0;  // over the measured window (memory: mean usage)
  double peak = 0;      // memory: peak usage; cpu: highest control-interval reading
  double miss = 0;      // |achieved - target| in points (cpu) or percent of target
  bool within_tolerance = false;
  std::string mechanism;  // how it was done and measured
};

struct SiegeReport {
  std::string target;
  std::vector<SiegeFigure> figures;
  bool valid = false;  // every figure within tolerance
  std::vector<int> worker_pids;
  std::chrono::milliseconds measured{0};  // length of the measured window
  std::vector<std::string> notes;
  std::string Describe() const;
};

class Siege {
 public:
  // Forks the workers stopped, moves them into the target's groups, lets them run, and starts the
  // control thread. On error nothing of it is left running.
  [[nodiscard]] static Result<std::unique_ptr<Siege>> Start(const SiegeTarget& target,
                                                            const SiegeSpec& spec);
  virtual ~Siege() = default;
  Siege() = default;
  Siege(const Siege&) = delete;
  Siege& operator=(const Siege&) = delete;

  // The figures so far (the siege keeps running).
  virtual SiegeReport Sample() = 0;
  // Ends the workers (SIGKILL, reaped), restores any quota, removes the disk files, and returns
  // the final figures. Idempotent; the destructor calls it.
  virtual SiegeReport Stop() = 0;
};

}  // namespace faultline::nemesis

#endif  // FAULTLINE_NEMESIS_SIEGE_H_
