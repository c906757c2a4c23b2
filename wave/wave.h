// The combined wave (issue 13 §3): a DiRT drill, a FIT experiment and a Jepsen campaign at the same
// time on the same local etcd cluster, with one nemesis ledger, one tamper-evident event log and
// one run directory.
//
// How the parts share:
// - Cluster: the drill's scenario pins it (dirt/cluster_session.h: the cluster of that name if it
//   is up, else one brought up with the scenario's flags and torn down after the wave).
// - Ledger: the cluster's own (<cluster run dir>/nemesis.ledger, the one `faultline nemesis
//   status` and `heal` read). The drill records in it as always; the campaign's nemesis opens it
//   under a run id of its own (its partitions live in their own nft table) and its heals heal only
//   its own entries, so a partition heal never restarts what the drill crashed; the drill's
//   rollback heals only the drill's entries (DrillOptions::owns_entry); the FIT experiment records
//   every toxic in it (fit::Hooks::ledger) and removes its own. Whatever the wave opened and is
//   still open at the end is healed and reported. The wave's records are copied into the run
//   directory (nemesis.ledger).
// - Log: <dir>/history.log, created by the wave with a "wave" meta record; the drill
//   (DrillOptions::log), the campaign (CampaignDeps::log) and the FIT experiment (fit::Hooks::log)
//   append to it while they run; the wave seals it when all three are done. The campaign is
//   checked on its own ops read back from it (client ops and its nemesis's ops; the drill's fault
//   ops carry :source or :step and are left out).
// - Where the parts touched (results.json "touch", seconds on the log's clock): the drill's
//   recovery window against the windows when FIT toxics and campaign faults were in place; the
//   client ops in flight during the drill's kill step, and from the kill until its last repair.
// - Run directory <dir>: results.json, history.log, history.jsonl, nemesis.ledger, campaign/
//   (config.json, nemesis.json, results.json), drill/ (the incident record and DiRT report), fit/
//   (the FIT experiment's files), nodes/ (each node's etcd log).
// - Log patterns: every node's log is scanned from where it stood when the wave began to the end
//   of its last part, with the drill scenario's, the campaign's and WaveOptions' patterns; the
//   counts are results.json's top-level "log_patterns", and an exceeded maximum is a part
//   ("log_patterns", invalid) that makes the wave's verdict invalid.
//
// Needs root (namespaces, the supervisor). Thread-safety: RunWave blocks and uses its own threads;
// one wave per cluster at a time.
#ifndef FAULTLINE_WAVE_WAVE_H_
#define FAULTLINE_WAVE_WAVE_H_

#include <functional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "common/junit.h"
#include "common/result.h"
#include "wave/results.h"
#include "wave/scenario.h"

namespace faultline::wave {

struct WaveOptions {
  std::string out;  // the run directory (created; an error if it holds a run already)
  std::string cluster_name = "wave";
  std::string state_root;                          // empty: cluster::DefaultStateRoot()
  bool keep_cluster = false;                       // leave a cluster this wave brought up
  std::function<void(std::string_view)> note;      // one line per decision ("bringing up ...")
  std::function<void(std::string_view)> progress;  // live lines of the parts, prefixed by part
  // Ctrl-C: ends the campaign's and the FIT experiment's load early (both still heal and judge
  // what they recorded); the drill runs to its end (its observation is bounded by its scenario).
  std::stop_token stop;
  // Node-log patterns over the whole wave, after the drill scenario's and the campaign's own
  // (checker::MakeLogPatterns; --log-pattern NAME=REGEX, --log-pattern-max NAME=N).
  std::vector<std::string> log_patterns;
  std::vector<std::string> log_pattern_max;
  // The system under test: "etcd", "zookeeper" or a system file (systems/registry.h). Another
  // system than etcd runs the drill through its readiness and client (dirt/drill.h), the campaign
  // through its client, and the FIT experiment through its client via the proxies, TCP-level
  // toxics only (fit/fit.h); each node's log is the system's log files.
  std::string system = "etcd";
};

struct WaveReport {
  std::string dir;
  int exit_code = kExitError;
  Json results;      // what results.json holds
  std::string text;  // the summary for people (several lines, ends with a newline)
  // One JUnit suite per part: the campaign (a case per checker), the drill (one case), the FIT
  // experiment (fit/ci.h) and the log patterns; a part that could not run is one <error> case.
  std::vector<JUnitSuite> junit;
};

// Runs the wave. An error only when it could not start (bad run directory, no cluster, the log
// cannot be created); a part that fails to run is a part with an error (exit 3) in the report.
[[nodiscard]] Result<WaveReport> RunWave(const Scenario& scenario, const WaveOptions& options);

// The campaign's ops in a wave's history: client ops, and the nemesis ops that are not the
// drill's (the drill's fault completions carry :source, its step invocations :step; pairs are
// judged by their completion). Other processes (safeguard, check, fit, ...) are left out.
[[nodiscard]] Result<history::History> CampaignHistory(const history::History& all);

}  // namespace faultline::wave

#endif  // FAULTLINE_WAVE_WAVE_H_
