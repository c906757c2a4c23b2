// faultline campaign [flags] and faultline analyze RUN_DIR: flags and output only; the work is in
// runner/ (campaign.h, local.h, ssh.h).
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <stop_token>
#include <string>
#include <thread>

#include "runner/campaign.h"
#include "runner/local.h"
#include "runner/ssh.h"
#include "tools/commands.h"

namespace faultline::tools {
namespace {

struct CampaignArgs {
  std::string config_file;
  runner::CampaignConfig config;
  std::string workload = "register";
  std::string nemesis = "partition,kill,pause,loss";
  std::string state_dir;
  bool quiet = false;
  CLI::App* app = nullptr;
};

bool Given(const CLI::App* app, const std::string& name) {
  const CLI::Option* opt = app->get_option_no_throw(name);
  return opt != nullptr && opt->count() > 0;
}

// Builds the config: the file (if any), then every flag given on the command line on top.
Result<runner::CampaignConfig> MakeConfig(const CampaignArgs& a) {
  runner::CampaignConfig c;
  if (!a.config_file.empty()) {
    std::ifstream in(a.config_file);
    if (!in) {
      return MakeError(ErrorCode::kNotFound,
                       fmt::format("campaign: read config {}: cannot open it", a.config_file));
    }
    std::stringstream s;
    s << in.rdbuf();
    FAULTLINE_ASSIGN_OR_RETURN(c, runner::ConfigFromJson(s.str()));
  }
  const CLI::App* app = a.app;
  const runner::CampaignConfig& f = a.config;
  const bool from_file = !a.config_file.empty();
  auto take = [&](const std::string& flag) { return !from_file || Given(app, flag); };
  if (take("--db")) c.db = f.db;
  if (take("--nodes")) c.nodes = f.nodes;
  if (take("--cluster")) c.cluster = f.cluster;
  if (take("--name")) c.name = f.name;
  if (take("--workload")) {
    FAULTLINE_ASSIGN_OR_RETURN(c.workload, runner::ParseWorkload(a.workload));
  }
  if (take("--nemesis")) {
    FAULTLINE_ASSIGN_OR_RETURN(c.nemesis, runner::ParseScheduleKinds(a.nemesis));
    // Packet loss cannot be injected over ssh: the default fault list leaves it out there (asked
    // for by name, the campaign refuses it).
    if (runner::SshNodesFilePath(c.cluster) && !Given(app, "--nemesis")) {
      std::erase(c.nemesis, runner::FaultKind::kLoss);
      PrintNote(
          "ssh cluster: default faults without loss (packet faults need the nodes' network "
          "namespaces on this machine): partition,kill,pause");
    }
  }
  if (take("--isolate-node")) c.isolate_node = f.isolate_node;
  if (take("--time-limit")) c.time_limit_s = f.time_limit_s;
  if (take("--concurrency")) c.concurrency = f.concurrency;
  if (take("--rate")) c.rate = f.rate;
  if (take("--read-mode")) c.read_mode = f.read_mode;
  if (take("--out")) c.out = f.out;
  if (take("--test-count")) c.test_count = f.test_count;
  if (take("--leave-db-running")) c.leave_db_running = f.leave_db_running;
  if (take("--fault-s")) c.fault_s = f.fault_s;
  if (take("--heal-s")) c.heal_s = f.heal_s;
  if (take("--client-timeout-ms")) c.client_timeout_ms = f.client_timeout_ms;
  if (Given(app, "--seed")) {
    c.seed = f.seed;
  } else if (!from_file) {
    // No seed given: choose one, print it and record it, so the run can be repeated.
    c.seed = std::random_device{}() % 1000000;
  }
  FAULTLINE_RETURN_IF_ERROR(runner::ValidateConfig(c));
  return c;
}

// SIGINT/SIGTERM are blocked in every thread (set before any starts) and taken by one waiter
// thread, which asks the campaign to stop; the campaign then heals and checks what it recorded.
class SignalStop {
 public:
  SignalStop() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
    thread_ = std::thread([this] {
      const timespec tick{.tv_sec = 0, .tv_nsec = 200 * 1000 * 1000};
      while (!done_) {
        const int sig = sigtimedwait(&set_, nullptr, &tick);
        if (sig > 0) {
          PrintNote(
              fmt::format("signal {}: stopping; healing and checking what was recorded", sig));
          source_.request_stop();
        }
      }
    });
  }
  ~SignalStop() {
    done_ = true;
    thread_.join();
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SignalStop(const SignalStop&) = delete;
  SignalStop& operator=(const SignalStop&) = delete;
  std::stop_token token() const { return source_.get_token(); }
  bool stopped() const { return source_.stop_requested(); }

 private:
  sigset_t set_{};
  sigset_t old_{};
  std::stop_source source_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

void PrintProgress(const runner::ProgressInfo& p, bool tty) {
  const std::string line =
      fmt::format("{:6.1f} s  {:7.1f} ops/s  ok {}  fail {}  info {}  {}  fault: {}", p.elapsed_s,
                  p.ops_per_s, p.ok, p.fail, p.info, p.phase, p.fault);
  if (tty) {
    std::fprintf(stderr, "\r\033[K%s", line.c_str());
  } else if (static_cast<int64_t>(p.elapsed_s) % 10 == 0) {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  std::fflush(stderr);
}

int RunCampaignCommand(const CampaignArgs& a) {
  Result<runner::CampaignConfig> config = MakeConfig(a);
  if (!config) {
    PrintError(config.error().message());
    return kExitError;
  }
  const bool tty = isatty(STDERR_FILENO) == 1;
  SignalStop signals;
  checker::Validity worst = checker::Validity::kValid;
  for (int i = 0; i < config->test_count && !signals.stopped(); ++i) {
    runner::CampaignConfig c = *config;
    if (i > 0) c.seed = config->seed + static_cast<std::uint64_t>(i);
    if (config->test_count > 1) PrintNote(fmt::format("test {} of {}", i + 1, config->test_count));
    PrintNote(fmt::format("seed {} (repeat with --seed {} or --config <run>/config.json)", c.seed,
                          c.seed));
    auto note = [](std::string_view line) { PrintNote(std::string(line)); };
    auto progress = [tty, quiet = a.quiet](const runner::ProgressInfo& p) {
      if (!quiet) PrintProgress(p, tty);
    };
    Result<runner::RunReport> report = [&] {
      if (runner::SshNodesFilePath(c.cluster)) {
        runner::SshCampaignOptions options;
        options.note = note;
        return runner::RunSshCampaign(c, signals.token(), progress, options);
      }
      runner::LocalCampaignOptions options;
      options.state_root = a.state_dir;
      options.note = note;
      return runner::RunLocalCampaign(c, signals.token(), progress, options);
    }();
    if (tty && !a.quiet) std::fprintf(stderr, "\n");
    if (!report) {
      PrintError(report.error().message());
      return kExitError;
    }
    std::fputs(report->text.c_str(), stdout);
    std::fflush(stdout);
    worst = checker::Merge(worst, report->verdict.validity);
  }
  return runner::ExitCodeFor(worst);
}

struct AnalyzeArgs {
  std::string dir;
  bool json = false;
};

int RunAnalyze(const AnalyzeArgs& a) {
  Result<runner::RunReport> report = runner::AnalyzeRunDir(a.dir);
  if (!report) {
    PrintError(report.error().WithContext("analyze").message());
    return kExitError;
  }
  Result<runner::CampaignConfig> config = [&]() -> Result<runner::CampaignConfig> {
    std::ifstream in(report->files.config);
    std::stringstream s;
    s << in.rdbuf();
    return runner::ConfigFromJson(s.str());
  }();
  if (!config) {
    PrintError(config.error().message());
    return kExitError;
  }
  if (a.json) {
    std::fputs((runner::RenderResultsJson(*report, *config) + "\n").c_str(), stdout);
  } else {
    std::fputs(report->text.c_str(), stdout);
  }
  return runner::ExitCodeFor(report->verdict.validity);
}

}  // namespace

void RegisterCampaignCommands(CLI::App& app, Action& run) {
  auto a = std::make_shared<CampaignArgs>();
  CLI::App* c = app.add_subcommand(
      "campaign",
      "Run a Jepsen-style campaign against an etcd cluster and check it.\n"
      "Brings a cluster up (or uses the one of that --name that is already up, and leaves it),\n"
      "runs --concurrency clients for --time-limit seconds while the nemesis injects faults\n"
      "(each lasting --fault-s, then --heal-s healed), heals, waits for the cluster, makes the\n"
      "final reads, checks, prints a summary and tears the cluster down. Every op and fault is\n"
      "recorded as it happens in <out>/<run>/history.log (tamper-evident; also history.jsonl),\n"
      "with results.json, config.json (the seed; repeat with --config), nemesis.json and each\n"
      "node's etcd log and flags under nodes/. Ctrl-C heals, checks what was recorded and exits.\n"
      "Workloads: register (read/write/cas on independent keys, checked for linearizability per\n"
      "key; final reads after the heal), set (unique adds, reads, final reads; lost/unexpected/\n"
      "stale elements), counter (adds of 1..5 and reads on a few keys; every read must lie\n"
      "between the acknowledged and the attempted sum) and lock (etcd's lock API with leases of\n"
      "lock_ttl_s = 2 s kept alive by keepalives while held; acquire / hold / release, checked\n"
      "with the mutex model per lock; try --nemesis pause: a paused member cannot renew a\n"
      "holder's lease, etcd gives the lock to another, and the first still releases it later).\n"
      "Faults: partition (random halves, majority, ring, bridge), isolate (one node; fixed with\n"
      "--isolate-node), isolate-leader, kill, pause, loss; or none.\n"
      "Needs root (local clusters). Exit status: 0 valid, 1 invalid, 2 unknown, 3 error.\n"
      "\n"
      "Clusters reached over SSH (--cluster ssh:FILE): FILE is a nodes file, JSON naming each\n"
      "node (name, host, port, user, identity_file, address) and the shell commands that start,\n"
      "kill and find etcd there (db.start, db.kill, db.pid). `faultline cluster up --ssh` brings\n"
      "up the local cluster with sshd on every node and writes one (it prints its path, e.g.\n"
      "/var/lib/faultline/clusters/default/nodes.json); for real machines start from a copy of\n"
      "that one (every field is documented in cluster/nodes_file.h). The campaign uses the\n"
      "cluster as it finds it: it neither brings it up nor tears it down (--nodes, --name and\n"
      "--leave-db-running do not apply), and refuses to start unless every node answers over\n"
      "ssh and every etcd member on <address>:2379. Faults over ssh: partitions\n"
      "(iptables-restore on each node, as root), kill, pause; not loss (the default fault list\n"
      "leaves it out).\n"
      "Examples:\n"
      "  faultline campaign --time-limit 30                        # register, all faults\n"
      "  faultline campaign --read-mode serializable --nemesis isolate --isolate-node n3 \\\n"
      "      --time-limit 30 --seed 1                               # finds stale reads: invalid\n"
      "  faultline campaign --workload set --nemesis partition,kill --time-limit 30\n"
      "  faultline campaign --config runs/<run>/config.json          # repeat a run exactly\n"
      "  faultline campaign --nemesis none --concurrency 50 --time-limit 20   # throughput\n"
      "  faultline cluster up --ssh --name lab                       # then, over ssh:\n"
      "  faultline campaign --cluster ssh:/var/lib/faultline/clusters/lab/nodes.json \\\n"
      "      --nemesis partition,kill --time-limit 30\n"
      "  faultline analyze runs/<run>                              # check a run again offline");
  runner::CampaignConfig& f = a->config;
  c->add_option("--config", a->config_file,
                "JSON config (as written to <run>/config.json); flags "
                "given as well override it");
  c->add_option("--db", f.db, "Database (etcd)")->capture_default_str();
  c->add_option("--nodes", f.nodes, "Nodes of a new local cluster (1-9)")->capture_default_str();
  c->add_option("--cluster", f.cluster,
                "local (a namespace cluster on this machine) or ssh:FILE (nodes reached over "
                "ssh, described by the nodes file FILE; see below)")
      ->capture_default_str();
  c->add_option("--name", f.name, "Local cluster name (1-8 of a-z0-9)")->capture_default_str();
  c->add_option("--workload", a->workload, "register|set|counter|lock")->capture_default_str();
  c->add_option("--nemesis", a->nemesis,
                "Comma-separated faults: partition, isolate, isolate-leader, kill, pause, loss; "
                "or none")
      ->capture_default_str();
  c->add_option("--isolate-node", f.isolate_node, "Node that 'isolate' always cuts off (e.g. n3)");
  c->add_option("--time-limit", f.time_limit_s, "Seconds of generated load")->capture_default_str();
  c->add_option("--concurrency", f.concurrency, "Concurrent clients (workers)")
      ->capture_default_str();
  c->add_option("--rate", f.rate, "Ops/s over all workers, with jitter (0 = unlimited)")
      ->capture_default_str();
  c->add_option("--read-mode", f.read_mode, "linearizable or serializable")->capture_default_str();
  c->add_option("--seed", f.seed,
                "Seed of the generator and the nemesis (default: random, "
                "printed and recorded)");
  c->add_option("--out", f.out, "Directory for run directories")->capture_default_str();
  c->add_option("--test-count", f.test_count, "Run the campaign N times (seeds S, S+1, ...)")
      ->capture_default_str();
  c->add_flag("--leave-db-running", f.leave_db_running,
              "Keep a cluster this command brought up running afterwards");
  c->add_option("--fault-s", f.fault_s, "Seconds each fault lasts")->capture_default_str();
  c->add_option("--heal-s", f.heal_s, "Seconds healed between faults")->capture_default_str();
  c->add_option("--client-timeout-ms", f.client_timeout_ms,
                "Client timeout (below etcd's 7 s, so timeouts end as info first)")
      ->capture_default_str();
  c->add_option("--state-dir", a->state_dir,
                "Cluster state root (default: $FAULTLINE_STATE_DIR, else /var/lib/faultline)");
  c->add_flag("--quiet", a->quiet, "No live progress line");
  a->app = c;
  c->callback([&run, a] { run = [a] { return RunCampaignCommand(*a); }; });

  auto an = std::make_shared<AnalyzeArgs>();
  CLI::App* z = app.add_subcommand(
      "analyze",
      "Check a campaign's run directory again, offline.\n"
      "Reads <run>/config.json and <run>/history.log (its hash chain is verified on reading; a\n"
      "crash prefix is checked as far as it goes and said so) and prints the same summary as the\n"
      "campaign. Exit status: 0 valid, 1 invalid, 2 unknown, 3 error.\n"
      "Examples:\n"
      "  faultline analyze runs/20261128T041500-register-42\n"
      "  faultline analyze runs/20261128T041500-register-42 --json | jq .checkers");
  z->add_option("RUN_DIR", an->dir, "Run directory written by faultline campaign")->required();
  z->add_flag("--json", an->json, "Print results.json's form instead of the summary");
  z->callback([&run, an] { run = [an] { return RunAnalyze(*an); }; });
}

}  // namespace faultline::tools
