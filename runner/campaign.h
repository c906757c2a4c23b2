// The campaign run loop: concurrent workers (Asio coroutines on one io_context thread) invoke ops
// through clients while a nemesis thread injects faults on a schedule; every invocation, completion
// and nemesis event is appended to the immutable log (history/log.h) as it happens, so a crash of
// the runner leaves a verifiable prefix. Then: heal, wait until the cluster answers, final reads,
// and the checkers on the history read back from the log (the checked history is the recorded one).
//
// Layers, each usable alone (tests drive them with fakes):
// - RunCampaign: the loop, given a ClientFactory, a FaultInjector and a LogWriter.
// - CheckHistory: the checkers of checker/ composed for the workload (linearizability per key,
//   set, counter, mutex; revision order; sanity and fault probes) + summary figures.
// - ExecuteCampaign: a run directory (history.log, history.jsonl, config.json, nemesis.json,
//   results.json) around RunCampaign and CheckHistory.
// - AnalyzeRunDir: CheckHistory again, offline, from a run directory.
//
// Thread-safety: each function runs one campaign and may be called from one thread at a time per
// campaign; the callbacks are called from the campaign's threads (progress: the io_context thread).
#ifndef FAULTLINE_RUNNER_CAMPAIGN_H_
#define FAULTLINE_RUNNER_CAMPAIGN_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "checker/checker.h"
#include "checker/fault_probe.h"
#include "checker/log_patterns.h"
#include "checker/sanity_checker.h"
#include "checker/txn_checker.h"
#include "checker/verdict.h"
#include "client/client.h"
#include "common/junit.h"
#include "common/ports.h"
#include "common/result.h"
#include "history/history.h"
#include "history/log.h"
#include "nemesis/nemesis.h"
#include "runner/generator.h"
#include "systems/system.h"

namespace faultline::runner {

// Everything that defines a campaign; the same fields as the command-line flags. Written to the
// run directory as config.json, so `faultline campaign --config config.json` repeats a run.
// A new field also needs its row in runner/config.h's table (key, flag, help, rule).
struct CampaignConfig {
  std::string db = "etcd";
  // The system under test: "etcd" or the path of a system file (systems/system_file.h).
  std::string system = "etcd";
  // Options of the system under test, "KEY=VALUE" (--system-option; redis: min-replicas-to-write,
  // wait, appendonly, ...; systems/registry.h SystemOptionHelp).
  std::vector<std::string> system_options;
  int nodes = 5;
  std::string cluster = "local";  // "local" or "ssh:FILE"
  std::string name = "default";   // the local cluster's name
  Workload workload = Workload::kRegister;
  std::vector<FaultKind> nemesis = {FaultKind::kPartition, FaultKind::kKill, FaultKind::kPause,
                                    FaultKind::kLoss};
  std::string isolate_node;  // kIsolate always isolates this node when set ("n3")
  double time_limit_s = 60;
  int concurrency = 10;
  double rate = 0;                         // ops/s over all workers; 0 = unlimited
  std::string read_mode = "linearizable";  // or "serializable"
  std::uint64_t seed = 0;
  std::string out = "runs";  // run directories are created under it
  int test_count = 1;
  bool leave_db_running = false;
  // Clients reach each node through a fault-injecting proxy on this host (nemesis/proxy.h);
  // turned on by itself when `nemesis` names a proxy fault kind (http-status, ...).
  bool proxy = false;
  // The nodes' data dirs sit on the faulty filesystem (nemesis/disk.h), local clusters only;
  // turned on by itself when `nemesis` names a disk fault kind (lose-unsynced, ...). Without
  // faults it measures what the filesystem costs.
  bool disk = false;
  // Finer knobs (config file only).
  int per_key_limit = 2;
  int ops_per_key = 100;
  int value_domain = 5;
  int client_timeout_ms = 1000;  // below etcd's 7 s request timeout, so info ops do not pile up
  // lock workload: the lease TTL (holds last 0.5..2.5 x TTL, kept alive by keepalives), and the
  // client timeout of an acquire, which blocks while another worker holds the lock.
  double lock_ttl_s = 2;
  int lock_acquire_timeout_ms = 5000;
  double fault_s = 5;         // each fault lasts this long...
  double heal_s = 5;          // ...and is followed by this long healed
  double info_ceiling = 0.5;  // sanity: share of info completions above which a run is unknown
  double final_phase_s = 30;  // bound on waiting for the cluster and the final reads
  double check_time_limit_s = 120;
  // Log patterns counted in each node's log after the run (checker/log_patterns.h): "NAME=REGEX"
  // added to the built-ins, and "NAME=N" (or "NAME=unlimited") maxima.
  std::vector<std::string> log_patterns;
  std::vector<std::string> log_pattern_max;

  bool operator==(const CampaignConfig&) const = default;
};

// The three below are driven by the field table in runner/config.h (keys, types, rules).
// JSON object with every field (nemesis as a list of names, workload as its name).
std::string ConfigToJson(const CampaignConfig& config);
// Fields that are absent keep their defaults; unknown fields are an error (a typo must not pass).
[[nodiscard]] Result<CampaignConfig> ConfigFromJson(std::string_view json);
[[nodiscard]] Status ValidateConfig(const CampaignConfig& config);

// What an independent probe saw right after a fault was applied. It does not trust the nemesis's
// own report: a partition is probed with a TCP connect across a cut pair (which must time out)
// and across a pair left connected (which must not, or the probe is inconclusive); a kill or a
// pause is probed in the process table (/proc state as the node controller reads it).
// How the findings are judged: checker/fault_probe.h.
using FaultProbe = checker::ProbeFinding;

// The runner's view of the nemesis: a few calls, so tests can use a fake; MakeNemesisInjector
// adapts nemesis::Nemesis.
// Thread-safety: called from the campaign's nemesis thread only.
class FaultInjector {
 public:
  FaultInjector() = default;
  virtual ~FaultInjector() = default;
  FaultInjector(const FaultInjector&) = delete;
  FaultInjector& operator=(const FaultInjector&) = delete;

  virtual std::vector<std::string> Nodes() const = 0;
  // Applies a fault. An error only when nothing could be attempted; partial failure is a report
  // with ok false.
  [[nodiscard]] virtual Result<nemesis::FaultReport> Apply(const nemesis::FaultSpec& spec) = 0;
  // Heals every fault (idempotent).
  virtual nemesis::FaultReport HealAll() = 0;
  // Probes whether the fault just applied by Apply(spec) took effect. The default probes nothing.
  virtual FaultProbe Probe(const nemesis::FaultSpec& /*spec*/,
                           const nemesis::FaultReport& /*report*/) {
    return {};
  }
};

// What MakeNemesisInjector needs to probe faults; without a control nothing is probed.
struct ProbeTargets {
  nemesis::NodeControl* control = nullptr;  // borrowed; must outlive the injector
  // Node name -> the address its peers connect to (a partition probe connects to it).
  std::map<std::string, std::string> peer_addresses;
  int peer_port = kEtcdPeerPort;
  double connect_timeout_s = 1.0;
};

// Borrows nemesis (which must outlive the injector). leader(): the current leader's node name, or
// nullopt; used for kIsolateLeader and "leader" targets. Applies partitions (kPartition, kIsolate,
// kIsolateLeader), the process kinds that go through the node controller (kill, pause, resume,
// start, restart) and packet faults (loss, delay, bandwidth); other kinds are an error.
std::unique_ptr<FaultInjector> MakeNemesisInjector(
    nemesis::Nemesis& nemesis, std::vector<std::string> nodes,
    std::function<std::optional<std::string>()> leader, ProbeTargets probes = {});

struct CampaignDeps {
  client::ClientFactory* clients = nullptr;  // required; borrowed
  FaultInjector* nemesis = nullptr;          // null: no faults (config.nemesis must be empty)
  history::LogWriter* log = nullptr;         // required; borrowed; not closed by RunCampaign
  // Final phase: returns once the cluster answers (true) or the deadline passes (false). Null:
  // the final reads' own retries are the only wait.
  std::function<bool(std::chrono::steady_clock::time_point deadline)> wait_ready;
  // Ctrl-C: stops the generator early; the run still heals and returns what was recorded.
  std::stop_token stop;
  // The system's account of the run (systems/system.h System::Account), from the recorded history
  // and the log's start (MonotonicNowNs() at the ops' time zero). Null: none.
  std::function<systems::SystemAccount(const history::History&, int64_t start_ns)> account;
  // The system names a leader (systems::SystemInfo::has_leader): half of the scheduled partitions
  // put it on the minority side (NemesisScheduleOptions::leader).
  bool leader = false;
};

struct ProgressInfo {
  double elapsed_s = 0;
  double ops_per_s = 0;  // completions in the last second
  int64_t ok = 0;
  int64_t fail = 0;
  int64_t info = 0;
  std::string fault;  // the fault in force ("none", "partition halves", "healing")
  std::string phase;  // "run", "heal", "final reads"
};
using ProgressFn = std::function<void(const ProgressInfo&)>;

// A fault as it happened, for nemesis.json: an entry of its `faults` array has "f"
// (nemesis::FaultF), "plan" (nemesis::DescribeFault) and "spec" (nemesis::FormatFaultSpec) of
// `spec`, and the fields below.
struct FaultInterval {
  nemesis::FaultSpec spec;                                           // as the schedule made it
  std::string_view f() const { return nemesis::FaultF(spec.kind); }  // "partition", "kill", ...
  std::string plan() const { return nemesis::DescribeFault(spec); }  // "partition halves", ...
  std::string description;  // the report's description, or the error
  bool ok = false;
  std::vector<std::string> nodes;
  std::vector<std::string> failed;
  std::vector<std::string> details;
  std::vector<std::string> cut_off;  // partitions: nodes cut off from a majority (FaultReport)
  double start_s = 0;                // since the log's start
  double end_s = 0;                  // when the heal returned
  double heal_s = 0;                 // when the heal began
  FaultProbe probe;                  // the independent probe's finding
  double apply_ms = 0;  // how long applying took, from the nemesis report (0 if unknown)
  // What the fault did, counted by the nemesis at apply and heal (disk faults: writes_dropped,
  // bytes_dropped, fsync_errors, ...); each a key of the fault's entry in nemesis.json.
  std::map<std::string, std::int64_t> counts;
};

struct RunStats {
  int64_t invocations = 0;
  double duration_s = 0;
  bool interrupted = false;  // stopped through CampaignDeps::stop
  bool cluster_answered = true;
  std::vector<FaultInterval> faults;
  std::vector<std::string> heal_reports;  // one line per heal
  std::vector<std::string> warnings;      // e.g. a client that could not be opened
};

// Runs the campaign loop. An error means the run could not go on (the log could not be written);
// ops recorded until then stay in the log.
[[nodiscard]] Result<RunStats> RunCampaign(const CampaignConfig& config, CampaignDeps& deps,
                                           const ProgressFn& progress = {});

// ---- checking ----

using FCounts = checker::FCounts;

struct HistoryFigures {
  std::map<std::string, FCounts> by_f;  // client ops
  int64_t client_ops = 0;               // client invocations
  double latency_p50_ms = 0;            // ok completions, from the recorded times
  double latency_p99_ms = 0;
  double latency_max_ms = 0;
  double span_s = 0;  // first to last client op
  double ops_per_s = 0;
  int64_t faults = 0;  // nemesis faults recorded (heals excluded)
};

// One checker's verdict ("linearizable", "set", "sanity", ...), as checker/verdict.h makes it.
using CheckerVerdict = checker::Verdict;

struct RunVerdict {
  checker::Validity validity =
      checker::Validity::kValid;  // merged over the checkers (not revision-order's unknown)
  std::vector<CheckerVerdict> checkers;
  HistoryFigures figures;
};

// Checks a recorded history as the config's workload demands, composing the checkers of checker/
// (register: "linearizable" per key, with "revision-order" as a second opinion when the history
// carries etcd's revisions; set: "set"; counter: "counter"; lock: "mutex", acquire / release per
// lock, hold ops left out), plus "sanity" (checker/sanity_checker.h: every f has ok completions,
// info share under config.info_ceiling, every fault reported ok, and no fault that an independent
// probe found without effect). A failed sanity check makes the run unknown: an empty or broken run
// must not look valid.
[[nodiscard]] Result<RunVerdict> CheckHistory(const history::History& history,
                                              const CampaignConfig& config);

// What a transactional workload (append, rw-register) claims: the model and the consistency its
// history is checked at; nullopt for other workloads. CheckHistory judges by it, and the run's log
// metadata records it as "claims" ({"model":"list-append","consistency":"strict-serializable"}),
// so that `faultline check` of the run's history defaults to the same judge.
std::optional<checker::TxnCheckOptions> TxnClaim(const CampaignConfig& config);

// ---- run directories ----

struct RunFiles {
  std::string dir;
  std::string log;      // history.log (the immutable log)
  std::string jsonl;    // history.jsonl (its export)
  std::string config;   // config.json
  std::string nemesis;  // nemesis.json
  std::string results;  // results.json
  std::string nodes;    // nodes/ (database logs and flags), when copied
};

struct RunReport {
  RunFiles files;
  RunStats stats;
  RunVerdict verdict;
  std::string log_note;  // e.g. a crash prefix when the log was read back
  std::string text;      // the summary for people (several lines, ends with a newline)
  // The node logs' pattern counts (ApplyLogPatterns), and where each node's scan began:
  // node -> {the log under files.nodes, the byte offset}.
  std::optional<checker::LogPatternReport> log_patterns;
  std::vector<checker::NodeLog> log_scan;
  // The system's account of the run (lines in the summary, results.json's "system").
  systems::SystemAccount system_account;
};

// A new run directory under config.out: "<out>/<UTC yyyymmddThhmmss>-<workload>-<seed>[-N]".
[[nodiscard]] Result<RunFiles> MakeRunDir(const CampaignConfig& config);

// Creates the log in files.dir, runs, closes the log, exports JSONL, checks, writes
// config.json, nemesis.json and results.json. deps.log is ignored (the log is made here).
[[nodiscard]] Result<RunReport> ExecuteCampaign(const CampaignConfig& config, CampaignDeps deps,
                                                const RunFiles& files,
                                                const ProgressFn& progress = {});

// After the node logs were copied into the run directory: counts config.log_patterns (with the
// built-ins) in `logs` (each node's log from the byte offset where this run began), adds the
// "log-patterns" verdict to report.verdict (an exceeded maximum makes the run invalid), keeps the
// counts for results.json's "log_patterns", rewrites results.json and renders the summary again.
// An error only for patterns that do not compile (ValidateConfig rejects those first).
[[nodiscard]] Status ApplyLogPatterns(RunReport& report, const CampaignConfig& config,
                                      std::vector<checker::NodeLog> logs);
// ApplyLogPatterns without writing results.json (for `analyze`, which leaves the run directory
// as it is).
[[nodiscard]] Status AddLogPatterns(RunReport& report, const CampaignConfig& config,
                                    std::vector<checker::NodeLog> logs);

// The node logs copied into a run directory: files.nodes/<node>/etcd.log, from `offsets` (node ->
// the size its log had when the run began; 0 when absent).
std::vector<checker::NodeLog> RunDirNodeLogs(const RunFiles& files,
                                             const std::vector<std::string>& nodes,
                                             const std::map<std::string, uint64_t>& offsets);

// Reads a run directory's config.json and history.log and checks them again; the node logs too
// when results.json says where their scan began.
[[nodiscard]] Result<RunReport> AnalyzeRunDir(const std::string& dir);

// The summary text and results.json of a report.
std::string RenderSummary(const RunReport& report, const CampaignConfig& config);
std::string RenderResultsJson(const RunReport& report, const CampaignConfig& config);
// nemesis.json of a run: every fault as it happened (FaultInterval) and the heal reports.
std::string RenderNemesisJson(const RunStats& stats);

// The run as a JUnit test suite (common/junit.h): one test case per checker (log-patterns
// included), with the seed, run directory and the command that reruns it as properties.
JUnitSuite CampaignJUnitSuite(const RunReport& report, const CampaignConfig& config);
// A run that ended in an error, as a suite with one <error> case.
JUnitSuite CampaignErrorJUnitSuite(const CampaignConfig& config, const std::string& error);

// Exit code as `faultline check`: 0 valid, 1 invalid, 2 unknown.
int ExitCodeFor(checker::Validity validity);

}  // namespace faultline::runner

#endif  // FAULTLINE_RUNNER_CAMPAIGN_H_
