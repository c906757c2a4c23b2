// faultline dirt run SCENARIO...: DiRT recovery drills against a local cluster (issue 6).
//
// Exit codes: 0 every drill passed, 1 a drill failed (late or never recovered, or an expected
// safeguard did not fire), 2 a drill was invalid (a fault missed its target) or aborted (no steady
// state before the fault, or the blast radius was crossed), 3 an error (bad scenario file, no
// cluster). The worst wins: 3 > 1 > 2 > 0.
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "cluster/cluster.h"
#include "common/junit.h"
#include "dirt/cluster_session.h"
#include "dirt/drill.h"
#include "dirt/scenario.h"
#include "systems/registry.h"
#include "tools/commands.h"

namespace faultline::tools {
namespace {

struct DirtArgs {
  std::vector<std::string> scenarios;
  std::string cluster = "local";
  std::string system = "etcd";
  std::string name = "dirt";
  std::string out;
  std::string state_dir;
  bool keep_cluster = false;
  std::int64_t max_recovery_ms = -1;
  std::vector<std::string> log_patterns;
  std::vector<std::string> log_pattern_max;
  std::string junit;
};

// Prints the live progress line: overwritten in place on a terminal, else at most one status
// line a second (events always).
class ProgressLine {
 public:
  ProgressLine() : tty_(isatty(STDERR_FILENO) != 0) {}
  ~ProgressLine() { Finish(); }
  void Show(std::string_view line) {
    if (tty_) {
      std::fprintf(stderr, "\r\033[K%.*s", static_cast<int>(line.size()), line.data());
      std::fflush(stderr);
      open_ = true;
      return;
    }
    auto now = std::chrono::steady_clock::now();
    bool status = line.find(" healthy, ") != std::string_view::npos;
    if (status && now - last_ < std::chrono::seconds(1)) return;
    last_ = now;
    std::fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data());
  }
  void Finish() {
    if (open_) std::fprintf(stderr, "\n");
    open_ = false;
  }

 private:
  bool tty_;
  bool open_ = false;
  std::chrono::steady_clock::time_point last_{};
};

int RunDirt(const DirtArgs& a) {
  if (a.cluster != "local") {
    PrintError(
        fmt::format("dirt run: --cluster {}: drills run on a local cluster only, for every "
                    "system (they read each node's state, data directory and logs on this "
                    "machine); over ssh use `faultline campaign --cluster ssh:FILE` (any system "
                    "the nodes file names) or `faultline nemesis` by hand",
                    a.cluster));
    return kExitError;
  }
  Result<std::unique_ptr<systems::System>> system = systems::OpenSystem(a.system);
  if (!system) {
    PrintError(fmt::format("dirt run: {}", system.error().message()));
    return kExitError;
  }
  // etcd keeps its own probes (health, leader, revisions, HashKV); another system is driven
  // through its readiness, its client and its commands.
  systems::System* other =
      (*system)->Info().local_db == cluster::Db::kEtcd ? nullptr : system->get();
  std::vector<dirt::Scenario> scenarios;
  for (const std::string& path : a.scenarios) {
    auto s = dirt::LoadScenario(path);
    if (!s) {
      PrintError(s.error().message());
      return kExitError;
    }
    scenarios.push_back(std::move(*s));
  }
  std::string out = a.out;
  if (out.empty()) {
    std::time_t t = std::time(nullptr);
    std::tm tm;
    gmtime_r(&t, &tm);
    out = fmt::format("dirt-{}-{:04}{:02}{:02}T{:02}{:02}{:02}Z", a.name, tm.tm_year + 1900,
                      tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  }

  ProgressLine progress;
  dirt::DrillClusters clusters({
      .name = a.name,
      .state_root = a.state_dir,
      .keep = a.keep_cluster,
      .note = [](std::string_view l) { PrintNote(std::string(l)); },
      .progress = [&](std::string_view l) { progress.Show(l); },
      .system = other,
  });

  std::vector<dirt::DrillResult> results;
  int code = kExitOk;
  for (const dirt::Scenario& s : scenarios) {
    auto state = clusters.For(s);
    progress.Finish();
    if (!state) {
      PrintError(state.error().message());
      code = kExitError;
      break;
    }
    auto control = other != nullptr ? other->Control(clusters.system_nodes(), clusters.shell())
                                    : cluster::MakeLocalControl(*state);
    if (!control) {
      PrintError(control.error().message());
      code = kExitError;
      break;
    }
    dirt::DrillOptions options;
    options.progress = [&](std::string_view l) { progress.Show(l); };
    // Each drill's history log goes into the artifact directory as it runs.
    options.history_dir = out;
    options.log_patterns = a.log_patterns;
    options.log_pattern_max = a.log_pattern_max;
    if (other != nullptr) {
      options.system = other;
      options.system_nodes = &clusters.system_nodes();
      options.system_shell = &clusters.shell();
    }
    if (a.max_recovery_ms >= 0) {
      options.max_recovery_override = std::chrono::milliseconds(a.max_recovery_ms);
    }
    auto r = dirt::RunDrill(*state, **control, s, options);
    progress.Finish();
    if (!r) {
      PrintError(r.error().message());
      code = kExitError;
      continue;
    }
    std::printf("%s %s: %s\n", r->scenario_id.c_str(),
                std::string(dirt::VerdictName(r->verdict)).c_str(), r->reason.c_str());
    if (r->history_log) {
      std::printf(
          "%s history log: %s (%lld records, head %s)%s\n", r->scenario_id.c_str(),
          r->history_log->path.c_str(), static_cast<long long>(r->history_log->records),
          r->history_log->head.empty() ? "-" : r->history_log->head.c_str(),
          r->history_log->error.empty() ? "" : (" INCOMPLETE: " + r->history_log->error).c_str());
    }
    results.push_back(std::move(*r));
  }
  if (Status down = clusters.Finish(); !down) PrintError(down.error().message());
  if (!results.empty()) {
    Status st = dirt::WriteArtifacts(out, a.name, results);
    if (!st) {
      PrintError(st.error().message());
      return kExitError;
    }
    std::printf(
        "artifacts: %s/{report.md,test_summary.json,incident-*.json,history-*.log,"
        "control_plane_dumps.json,resource_metrics_timeline.json}\n",
        out.c_str());
    WriteRunReport(out);
  }
  std::vector<dirt::Verdict> verdicts;
  for (const auto& r : results) verdicts.push_back(r.verdict);
  int drill_code = dirt::VerdictExitCode(verdicts);
  if (!a.junit.empty()) {
    JUnitSuite suite{.name = fmt::format("faultline dirt run {}", a.name),
                     .timestamp = JUnitTimestampNow(),
                     .time_s = 0,
                     .properties = {{"cluster", a.name}, {"artifacts", out}},
                     .cases = {}};
    for (const auto& r : results) suite.cases.push_back(dirt::DrillJUnitCase(r));
    if (code == kExitError) {
      suite.cases.push_back(JUnitCase{.name = "dirt run",
                                      .classname = "faultline.dirt",
                                      .time_s = 0,
                                      .outcome = JUnitOutcome::kError,
                                      .type = "error",
                                      .message = "a drill could not run (see the log)",
                                      .detail = ""});
    }
    const std::vector<JUnitSuite> suites = {suite};
    if (Status st = WriteJUnit(a.junit, suites); !st) {
      PrintError(st.error().message());
      return kExitError;
    }
  }
  return code == kExitError ? kExitError : drill_code;
}

}  // namespace

void RegisterDirtCommands(CLI::App& app, Action& run) {
  CLI::App* dirt = app.add_subcommand("dirt", "DiRT recovery drills (kill, corrupt, siege)");
  dirt->require_subcommand(1);
  auto args = std::make_shared<DirtArgs>();
  CLI::App* r = dirt->add_subcommand(
      "run",
      "Run scenarios against a local cluster; exit 0 pass, 1 fail, 2 invalid/aborted, 3 error");
  r->add_option("scenario", args->scenarios, "Scenario JSON files (scenarios/DIRT*.json)")
      ->required()
      ->check(CLI::ExistingFile);
  r->add_option("--cluster", args->cluster, "local (the namespace cluster)");
  r->add_option(
       "--system", args->system,
       "System under test: etcd, redis, zookeeper, or a system FILE (see `campaign --help`). "
       "On a system other than etcd a node is healthy when the system says it serves "
       "clients (its is_up; Redis: the server is the primary or a replica linked to it, "
       "and its Sentinel names a primary), the write+read probe, the load and the workload go "
       "through "
       "its client, the restart safeguard is the drill's own (it starts a server found "
       "down through the system's commands), and scenarios that need etcd (corrupt "
       "steps, the repair playbook) are refused; db_flags (etcd's) do not apply")
      ->capture_default_str();
  r->add_option("--name", args->name,
                "Cluster name: used if already up, else brought up with the scenario's pinned "
                "flags and torn down after");
  r->add_option("--out", args->out, "Artifact directory (default dirt-<name>-<time>)");
  r->add_option("--state-dir", args->state_dir, "Cluster state root");
  r->add_flag("--keep-cluster", args->keep_cluster,
              "Leave a cluster this run brought up (it stays until 'cluster down'; without this "
              "flag it goes with the run, even a killed one)");
  r->add_option("--max-recovery-ms", args->max_recovery_ms,
                "Override every scenario's max_recovery_time_ms");
  r->add_option("--log-pattern", args->log_patterns,
                "NAME=REGEX (repeatable): also count lines matching REGEX (Perl syntax) in each "
                "node's log over the drill; unlimited unless --log-pattern-max gives a maximum. "
                "Built-ins: panic, fatal, data-race (max 0), permission-denied (unlimited)")
      ->allow_extra_args(false);
  r->add_option("--log-pattern-max", args->log_pattern_max,
                "NAME=N or NAME=unlimited (repeatable): the most lines of pattern NAME allowed "
                "(after the scenario's log_pattern_max); more make a passing drill INVALID")
      ->allow_extra_args(false);
  r->add_option("--junit", args->junit,
                "Also write JUnit XML for CI: a test case per drill (FAIL/INVALID: <failure>; "
                "ABORTED: <skipped>; ERROR: <error>)");
  r->callback([&run, args] { run = [args] { return RunDirt(*args); }; });
}

}  // namespace faultline::tools
