// DiRT drills: run a scenario against a live cluster, measure detection, repair and recovery,
// judge the result against the scenario's limit, and keep the evidence.
//
// A drill: sets the restart safeguard as the scenario asks; starts health probes (every 100 ms:
// each member's /health, and a put then a linearizable range through the gateway), a small
// throughput load, control-plane snapshots (default every 1 s) and a resource metrics timeline
// (per node from its cgroups and /proc/<pid>/net/dev, and the host from /proc); checks the steady
// state before any fault (else ABORTED, not FAIL); applies the steps at their times (through the
// node controller, the nemesis, nemesis/siege and nemesis/corrupt); runs the repair playbook for a
// member that cannot start; enforces the blast radius; and ALWAYS rolls back (sieges stopped,
// partitions healed, paused processes resumed, stopped processes started, safeguard restored).
//
// Verdicts: PASS (recovered within the limit, every expected safeguard fired), FAIL (late, never,
// or an expected safeguard did not fire), INVALID (a fault missed its target, e.g. a siege more
// than 5 points off), ABORTED (steady state missing before the fault, or blast radius crossed),
// ERROR (the drill could not run).
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

#include "cluster/cluster.h"
#include "common/result.h"
#include "dirt/recovery.h"
#include "dirt/scenario.h"
#include "nemesis/node_control.h"

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
  // JSON objects (one per snapshot / metrics sample), tagged with the scenario id.
  std::vector<std::string> control_plane_dumps;
  std::vector<std::string> resource_metrics;
  std::vector<std::string> improvements;  // "what to improve" lines for the report
  std::vector<std::string> notes;
};

// Runs one drill. Returns an error only when it could not start at all (then nothing was done);
// every other outcome, including ABORTED and rollback failures, is a DrillResult.
[[nodiscard]] Result<DrillResult> RunDrill(const cluster::ClusterState& state,
                                           nemesis::NodeControl& control, const Scenario& scenario,
                                           const DrillOptions& options);

// Writes incident-<id>.json per result, control_plane_dumps.json, resource_metrics_timeline.json,
// test_summary.json and report.md into `dir` (created if needed).
[[nodiscard]] Status WriteArtifacts(const std::string& dir, const std::string& run_name,
                                    const std::vector<DrillResult>& results);

// The incident record of one drill as JSON text (also what incident-<id>.json holds).
std::string IncidentJson(const DrillResult& result);
// The Markdown write-up for a set of drills.
std::string ReportMarkdown(const std::string& run_name, const std::vector<DrillResult>& results);

}  // namespace faultline::dirt

#endif  // FAULTLINE_DIRT_DRILL_H_
