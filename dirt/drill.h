// DiRT drills: run a scenario against a live cluster, measure detection, repair and recovery,
// judge the result against the scenario's limit, and keep the evidence.
//
// A drill: sets the restart safeguard as the scenario asks; starts health probes (every 100 ms:
// each member's /health, and a put then a linearizable range through the gateway), a small
// throughput load, control-plane snapshots (default every 1 s) and a resource metrics timeline
// (per node from its cgroups and /proc/<pid>/net/dev, and the host from /proc); checks the steady
// state before any fault (else ABORTED, not FAIL); applies the steps at their times, each one
// recorded in the cluster's fsync'd nemesis ledger (<run_dir>/nemesis.ledger) BEFORE it takes
// effect (nemesis/nemesis.h, nemesis/drill_faults.h); runs the repair playbook for a member that
// cannot start; enforces the blast radius; and ALWAYS rolls back by healing the ledger entries it
// opened (sieges stopped, partitions healed, paused processes resumed, stopped processes started)
// and restoring the safeguard. A drill that dies on the way leaves its entries to
// `faultline nemesis heal`, or to the next drill on the cluster, which heals them first.
//
// With DrillOptions::history_dir every action (fault steps, supervisor and safeguard actions,
// playbook steps, detection, rollback, checks) is also recorded as it happens in a tamper-evident
// history log (history/log.h; op shapes in dirt/internal/event_log.h). A scenario with a workload
// runs the campaign runner's register workload for the drill's duration with that same log, so
// client ops and drill events interleave in one log, then checks the client ops.
//
// Verdicts: PASS (recovered within the limit, every expected safeguard fired, the workload's
// history linearizable), FAIL (late, never, an expected safeguard did not fire, or the workload's
// history is not linearizable), INVALID (a fault missed its target, e.g. a siege more than 5
// points off; or, when nothing failed, the workload's consistency could not be established),
// ABORTED (steady state missing before the fault, or blast radius crossed), ERROR (the drill
// could not run). A log pattern over its maximum (panics, fatal errors, data races in a node's own
// log over the drill; see DrillOptions::log_patterns) makes a PASS INVALID, naming the pattern.
//
// Thread-safety: RunDrill blocks and uses its own threads; run one drill per cluster at a time.
#ifndef FAULTLINE_DIRT_DRILL_H_
#define FAULTLINE_DIRT_DRILL_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "checker/checker.h"
#include "checker/log_patterns.h"
#include "cluster/cluster.h"
#include "common/junit.h"
#include "common/result.h"
#include "dirt/recovery.h"
#include "dirt/scenario.h"
#include "history/log.h"
#include "nemesis/ledger.h"
#include "nemesis/node_control.h"
#include "systems/system.h"

namespace faultline::dirt {

struct DrillOptions {
  std::chrono::milliseconds probe_interval{100};
  std::chrono::milliseconds probe_timeout{400};
  std::chrono::milliseconds snapshot_interval{1000};  // control-plane snapshots
  std::chrono::milliseconds metrics_interval{1000};   // resource metrics timeline
  // Longest the pre-check waits for the steady state before aborting.
  std::chrono::milliseconds precheck_timeout{15000};
  // Replaces the scenario's max_recovery_time (tests use 1 ms to force a FAIL).
  std::optional<std::chrono::milliseconds> max_recovery_override;
  // Throughput load: puts per second at most (0 = no load; then throughput is not measured).
  double load_ops_per_s = 100;
  // cpu.shares of a sieged node's group while its CPU siege runs (restored after), so that on a
  // shared, busy host the burner can still reach its target; 0 = leave the weight alone.
  int siege_cpu_shares = 8192;
  // The live progress line.
  std::function<void(std::string_view line)> progress;
  // Directory for the drill's tamper-evident history log (history/log.h), written while the drill
  // runs: history-<scenario id>.log (-2, -3, ... when taken: a log is never overwritten). Empty:
  // no log (and a scenario with a workload then has no consistency check: unknown).
  std::string history_dir;
  // Log patterns counted in each node's log over the drill (checker/log_patterns.h): "NAME=REGEX"
  // and "NAME=N" as the --log-pattern(-max) flags give them, after the scenario's own.
  std::vector<std::string> log_patterns;
  std::vector<std::string> log_pattern_max;
  // A log the caller owns (`faultline wave`, whose parts share one log): the drill appends its
  // meta record and its events to it, creates no log of its own (history_dir is ignored) and does
  // not seal it; DrillLogInfo then has the path (and any write error), and the owner learns the
  // head when it seals. Borrowed: must outlive RunDrill.
  history::LogWriter* log = nullptr;
  // Which of the ledger entries this process opened during the drill are the drill's, for its
  // rollback; the others belong to parts running beside it (a wave's campaign and FIT experiment),
  // which heal their own. Null: every one of them.
  std::function<bool(const nemesis::LedgerEntry&)> owns_entry;
  // The system under test when it is not etcd (systems/system.h), its nodes, and the control
  // that runs its commands (the cluster's own). Then a node is healthy when the system says it
  // serves clients, and the write+read probe, the load, the workload and the check after rollback
  // are register ops through the system's client (dirt/internal/system_probe.h); the restart
  // safeguard is the drill's own (the cluster's supervisor owns only etcd's processes): it starts
  // a server that is down unless a kill step stopped it on purpose. Parts that only etcd has are
  // refused before anything is done (corrupt steps, which damage etcd's files, and the member
  // repair playbook) or skipped with a note (HashKV, etcd's control-plane status). Null: etcd
  // through its gateway. Borrowed: must outlive RunDrill.
  systems::System* system = nullptr;
  const systems::SystemCluster* system_nodes = nullptr;
  nemesis::NodeControl* system_shell = nullptr;
};

// An action taken during the drill: a fault, a rollback step, a safeguard or playbook action.
struct DrillEvent {
  std::int64_t mono_ns = 0;
  std::int64_t wall_ns = 0;
  std::int64_t offset_ms = 0;  // relative to the first fault (negative: before it)
  std::string source;          // "fault", "rollback", "safeguard", "playbook", "detection", "check"
  std::string kind;            // "crash", "restarted", "member-remove", "hashkv", ...
  std::string node;            // empty for cluster-wide
  std::string detail;
  bool ok = true;
  int pid = 0;  // the process acted on, when known (supervisor events)
};

// The drill's history log: where it is and how it ended.
struct DrillLogInfo {
  std::string path;
  std::int64_t records = 0;  // all records, the seal included
  std::int64_t ops = 0;
  std::string head;   // hex hash of the seal (`faultline audit head`)
  std::string error;  // why the log is incomplete (a write failed), empty when it is whole
};

// The register workload's consistency verdict (scenario "workload"): the client ops recorded in
// the drill's log, checked for linearizability per key by the campaign runner's checkers.
struct ConsistencyResult {
  std::string workload;  // "register"
  checker::Validity validity = checker::Validity::kUnknown;
  std::int64_t ops = 0;   // client invocations
  std::int64_t keys = 0;  // distinct keys
  std::int64_t ok = 0, fail = 0, info = 0;
  std::string summary;  // one line per checker, joined
  std::string detail;   // counterexample or failed sanity checks; may be empty
};

struct DrillResult {
  std::string scenario_id;
  std::string title;
  std::string severity;
  std::string category;
  std::string scenario_source;
  Verdict verdict = Verdict::kError;
  std::string reason;  // one line: why this verdict
  RecoveryResult recovery;
  std::int64_t fault_mono_ns = 0;  // first fault issued (0 if none)
  std::int64_t fault_wall_ns = 0;
  std::int64_t start_wall_ns = 0;
  std::int64_t end_wall_ns = 0;
  double baseline_ops_per_s = 0;
  std::vector<DrillEvent> events;               // in time order
  std::vector<std::string> safeguards_fired;    // "restart", "repair", "escalation"
  std::vector<std::string> safeguards_missing;  // expected but did not fire
  std::vector<std::string> siege_figures;       // SiegeReport::Describe() lines
  bool siege_valid = true;
  std::int64_t corrupted_bytes = 0;
  std::vector<std::string> corruption;          // CorruptReport::Describe() lines
  std::optional<std::string> detection_signal;  // the independent signal that saw corruption
  std::optional<bool> hashes_equal;  // after repair: every member's HashKV equal at one revision
  bool serves_after = false;         // a write then read succeeded after rollback
  std::vector<ProbeSample> probes;
  std::optional<DrillLogInfo> history_log;       // when DrillOptions::history_dir was set
  std::optional<ConsistencyResult> consistency;  // when the scenario ran a workload
  // JSON objects (one per snapshot / metrics sample), tagged with the scenario id.
  std::vector<std::string> control_plane_dumps;
  std::vector<std::string> resource_metrics;
  std::vector<std::string> improvements;  // "what to improve" lines for the report
  std::vector<std::string> notes;
  // Each node's log over the drill, counted (an exceeded maximum makes a PASS INVALID).
  std::optional<checker::LogPatternReport> log_patterns;
};

// Runs one drill. Returns an error only when it could not start at all (then nothing was done;
// log patterns that do not parse are such an error);
// every other outcome, including ABORTED and rollback failures, is a DrillResult.
[[nodiscard]] Result<DrillResult> RunDrill(const cluster::ClusterState& state,
                                           nemesis::NodeControl& control, const Scenario& scenario,
                                           const DrillOptions& options);

// Writes incident-<id>.json per result, control_plane_dumps.json, resource_metrics_timeline.json,
// test_summary.json and report.md into `dir` (created if needed).
[[nodiscard]] Status WriteArtifacts(const std::string& dir, const std::string& run_name,
                                    const std::vector<DrillResult>& results);

// One drill as a JUnit test case (common/junit.h): PASS passes; FAIL and INVALID are a <failure>
// with the reason and, as text, the recovery explanation, what to improve and the workload's
// counterexample; ABORTED is <skipped> (nothing was measured) with the reason; ERROR is <error>.
JUnitCase DrillJUnitCase(const DrillResult& result);

// The incident record of one drill as JSON text (also what incident-<id>.json holds).
std::string IncidentJson(const DrillResult& result);
// The Markdown write-up for a set of drills.
std::string ReportMarkdown(const std::string& run_name, const std::vector<DrillResult>& results);

}  // namespace faultline::dirt

#endif  // FAULTLINE_DIRT_DRILL_H_
