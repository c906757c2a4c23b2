// DiRT scenarios: what a recovery drill does to a cluster, what "recovered" means, and how long
// recovery may take. Read from JSON files (scenarios/DIRT*.json); every field is checked and an
// error names the file, the field and what was expected.
//
// Thread-safety: plain values.
#ifndef FAULTLINE_DIRT_SCENARIO_H_
#define FAULTLINE_DIRT_SCENARIO_H_

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "nemesis/fault.h"

namespace faultline::dirt {

// A step's fault is a nemesis::FaultSpec (nemesis/fault.h); dirt::FaultKind is the nemesis's kind.
using nemesis::FaultKind;
using nemesis::FaultKindName;

// The kinds a scenario step may name, in the order its error message lists them.
inline constexpr std::array kScenarioFaultKinds = {
    FaultKind::kCrash,   FaultKind::kKill,    FaultKind::kStart, FaultKind::kPause,
    FaultKind::kIsolate, FaultKind::kCorrupt, FaultKind::kSiege};

// What a scenario's kinds do in a drill:
//   crash    SIGKILL sent straight to the process, as a crash: the supervisor sees it exit
//   kill     kill through the node controller: the process stays down until a start
//   start    start a stopped database process
//   pause    SIGSTOP for duration (revokes its heartbeats), then resume
//   isolate  cut the node's peer traffic for duration (revokes its heartbeats), then heal
//   corrupt  damage data files (bitflip / overwrite / truncate), then restart the process
//   siege    CPU / memory / disk pressure in the node's cgroups for duration
struct Step {
  std::chrono::milliseconds at{0};  // after the drill's fault phase began
  // The fault: kind, targets ("n1,n3", "one", "minority", "majority", "all", "leader";
  // ResolveTarget), duration (pause, isolate, siege; 0 = until rollback), corrupt and siege
  // parameters.
  nemesis::FaultSpec spec;
};

struct SteadyState {
  // Every member's /health says true and a linearizable read through it succeeds (an isolated
  // member with pre-vote still says healthy; the read needs the leader).
  bool all_nodes_healthy = true;
  bool write_read = true;             // a put then a linearizable range through the gateway succeed
  double min_throughput_percent = 0;  // of the pre-fault baseline (0 = not checked)
  std::chrono::milliseconds baseline{2000};  // how long the baseline is measured
};

struct DbFlags {
  bool pre_vote = true;
  int heartbeat_ms = 100;
  int election_ms = 1000;
  int snapshot_count = 10000;
  bool corrupt_check = false;
};

struct RestartSafeguard {
  bool enabled = false;
  std::chrono::milliseconds initial_backoff{100};
  std::chrono::milliseconds max_backoff{2000};
  int max_restarts = 5;
  std::chrono::milliseconds window{60000};
};

// The workload a drill runs beside its faults, so consistency is checked during the drill too: the
// campaign runner's register workload (linearizability per key), its ops recorded in the drill's
// history log between the drill's own events.
struct WorkloadSpec {
  bool enabled = false;
  std::string kind = "register";  // only "register" so far
  int concurrency = 5;
  double rate = 0;  // ops/s over all workers; 0 = unlimited
};

struct Scenario {
  std::string source;  // file it came from
  std::string id;      // "DIRT01"
  std::string title;
  std::string severity;  // critical, high, medium, low
  std::string category;  // process, data, resource, combined
  std::string description;
  int nodes = 5;
  DbFlags db;
  SteadyState steady_state;
  std::chrono::milliseconds max_recovery_time{0};
  std::chrono::milliseconds settle_window{2000};
  // Longest the drill waits for recovery after the last step before calling it FAIL.
  std::chrono::milliseconds observe{30000};
  // Blast radius: abort when fewer than this many members are healthy (0 = a quorum), unless
  // allow_below_quorum.
  int min_healthy = 0;
  bool allow_below_quorum = false;
  // How long the count may stay below the limit before the drill aborts: an election after a
  // leader crash briefly makes every member report unhealthy. 0 = 3 x election_ms + 1 s.
  std::chrono::milliseconds blast_grace{0};
  RestartSafeguard restart;
  bool repair_playbook = false;  // remove, wipe and re-add a member that cannot start
  // Safeguards that must fire for a PASS: "restart", "repair", "escalation".
  std::vector<std::string> expected_safeguards;
  // "workload": false | true (register, defaults) | {"kind": "register", "concurrency": 5,
  // "rate": 0}.
  WorkloadSpec workload;
  std::uint64_t seed = 1;
  std::vector<Step> steps;  // sorted by at
  // Log patterns counted in each node's log over the drill (checker/log_patterns.h), in the
  // flags' form: "log_patterns": {"NAME": "REGEX"} -> "NAME=REGEX"; "log_pattern_max": {"NAME":
  // N or "unlimited"} -> "NAME=N" (e.g. a corruption drill allows the corrupted member's panics
  // on its data). `dirt run --log-pattern(-max)` flags come after them and override.
  std::vector<std::string> log_patterns;
  std::vector<std::string> log_pattern_max;
};

// Parses one scenario; `source` names it in errors ("scenarios/DIRT01-process-kill.json").
[[nodiscard]] Result<Scenario> ParseScenario(std::string_view json_text, std::string_view source);
[[nodiscard]] Result<Scenario> LoadScenario(const std::string& path);

}  // namespace faultline::dirt

#endif  // FAULTLINE_DIRT_SCENARIO_H_
