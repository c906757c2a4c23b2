// faultline wave SCENARIO --out DIR: a DiRT drill, a FIT experiment and a Jepsen campaign at the
// same time on one local cluster (issue 13 §3; wave/wave.h).
//
// Exit codes: the worst part, ranked error (3) > invalid, refuted, aborted or limit missed (1) >
// unknown or inconclusive (2) > valid (0).
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/junit.h"
#include "tools/commands.h"
#include "tools/signal_stop.h"
#include "wave/wave.h"

namespace faultline::tools {
namespace {

struct WaveArgs {
  std::string scenario;
  std::string out;
  std::string name = "wave";
  std::string state_dir;
  bool keep_cluster = false;
  std::vector<std::string> log_patterns;     // --log-pattern NAME=REGEX
  std::vector<std::string> log_pattern_max;  // --log-pattern-max NAME=N
  std::string junit;                         // --junit FILE
  std::string system = "etcd";               // --system
};

// Progress lines: at most one a second per part on stderr (events of the drill always).
class WaveProgress {
 public:
  void Show(std::string_view line) {
    const auto now = std::chrono::steady_clock::now();
    const std::string part(line.substr(0, line.find(':')));
    const bool status =
        line.find(" healthy, ") != std::string_view::npos || part == "campaign" || part == "fit";
    std::lock_guard lock(mu_);
    auto& last = last_[part];
    if (status && now - last < std::chrono::seconds(1)) return;
    last = now;
    std::fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data());
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::chrono::steady_clock::time_point> last_;
};

int RunWaveCommand(const WaveArgs& a) {
  auto scenario = wave::LoadScenario(a.scenario);
  if (!scenario) {
    PrintError(scenario.error().message());
    return kExitError;
  }
  std::string out = a.out;
  if (out.empty()) {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    out = fmt::format("waves/{}-{:04}{:02}{:02}T{:02}{:02}{:02}Z", scenario->id, tm.tm_year + 1900,
                      tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  }
  SignalStop signals("stopping the campaign and the FIT load; the drill runs to its end");
  WaveProgress progress;
  wave::WaveOptions o;
  o.out = out;
  o.cluster_name = a.name;
  o.system = a.system;
  o.state_root = a.state_dir;
  o.keep_cluster = a.keep_cluster;
  o.note = [](std::string_view l) { PrintNote(std::string(l)); };
  o.progress = [&progress](std::string_view l) { progress.Show(l); };
  o.stop = signals.token();
  o.log_patterns = a.log_patterns;
  o.log_pattern_max = a.log_pattern_max;
  Result<wave::WaveReport> r = wave::RunWave(*scenario, o);
  std::vector<JUnitSuite> suites;
  int code = kExitError;
  if (!r) {
    PrintError(r.error().message());
    wave::PartResult failed = wave::ErrorPart("wave", r.error().message());
    suites.push_back(wave::ErrorPartSuite(scenario->id, failed));
  } else {
    std::fputs(r->text.c_str(), stdout);
    std::fflush(stdout);
    WriteRunReport(out);
    suites = std::move(r->junit);
    code = r->exit_code;
  }
  if (!a.junit.empty()) {
    if (Status st = WriteJUnit(a.junit, suites); !st) {
      PrintError(st.error().message());
      return kExitError;
    }
  }
  return code;
}

}  // namespace

void RegisterWaveCommand(CLI::App& app, Action& run) {
  auto args = std::make_shared<WaveArgs>();
  CLI::App* w = app.add_subcommand(
      "wave",
      "Run a DiRT drill, a FIT experiment and a Jepsen campaign at once on one local cluster "
      "(as root)");
  w->footer(
      "A wave scenario (scenarios/WAVE*.json) names a drill (a DiRT scenario: file or object; it\n"
      "pins the cluster), a campaign (config.json keys) and a FIT experiment (file or object),\n"
      "and when each starts (start_ms). The three share one cluster, one nemesis ledger (the\n"
      "cluster's) and one tamper-evident log (DIR/history.log; `faultline audit verify` checks\n"
      "it). DIR/results.json: verdict, parts.campaign (the campaign's results.json, with valid "
      "and\n"
      "checkers), parts.drill (passed, recovery_ms, limit_ms), parts.fit (hypothesis, kpis, ...),\n"
      "and touch: the drill's recovery window against the FIT and campaign fault windows, and the\n"
      "client ops in flight during the drill's kill. Every node's log is searched over the whole\n"
      "wave for the log patterns (the drill scenario's, the campaign's, --log-pattern): the "
      "counts\n"
      "are results.json's log_patterns, and a maximum exceeded makes the wave invalid (the part\n"
      "log_patterns). --junit FILE: one test suite per part.\n"
      "\n"
      "Example:\n"
      "  faultline wave scenarios/WAVE01-register-kill-latency.json --out waves/w1\n"
      "  faultline wave scenarios/WAVE01-register-kill-latency.json --junit wave.xml \\\n"
      "      --log-pattern-max permission-denied=0                      # CI\n"
      "\n"
      "Exit codes: the worst part, ranked 3 error > 1 (campaign invalid, FIT refuted or aborted,\n"
      "drill failed, invalid or aborted, a log pattern beyond its maximum) > 2 (campaign\n"
      "unknown, FIT inconclusive, a node log not read) > 0 valid.");
  w->add_option("scenario", args->scenario, "Wave scenario JSON file (scenarios/WAVE*.json)")
      ->required()
      ->check(CLI::ExistingFile);
  w->add_option("--out", args->out,
                "Run directory, created (default waves/<id>-<UTC time>); an error if it holds a "
                "run already");
  w->add_option("--name", args->name,
                "Cluster name: used if already up (with the drill's pinned flags), else brought "
                "up and torn down after")
      ->capture_default_str();
  w->add_option("--state-dir", args->state_dir, "Cluster state root");
  w->add_option(
       "--system", args->system,
       "System under test: etcd, redis, zookeeper or a system FILE; see `dirt run --help` and "
       "`fit run --help` for what changes for a system other than etcd (the FIT part "
       "then takes TCP-level toxics only)")
      ->capture_default_str();
  w->add_flag("--keep-cluster", args->keep_cluster,
              "Leave a cluster this wave brought up (it stays until 'cluster down')");
  AddLogPatternOptions(w, args->log_patterns, args->log_pattern_max,
                       "wave (after the drill "
                       "scenario's and the campaign's patterns)",
                       "make the wave invalid");
  w->add_option("--junit", args->junit,
                "Also write a JUnit XML report to FILE: one test suite per part (campaign: a case "
                "per checker; drill; FIT: a case per KPI and the abort; log patterns)")
      ->type_name("FILE");
  w->callback([&run, args] { run = [args] { return RunWaveCommand(*args); }; });
}

}  // namespace faultline::tools
