// faultline campaign [flags] and faultline analyze RUN_DIR: flags and output only; the work is in
// runner/ (campaign.h, local.h, ssh.h).
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <stop_token>
#include <string>
#include <thread>
#include <type_traits>
#include <variant>
#include <vector>

#include "common/file.h"
#include "common/junit.h"
#include "report/run_report.h"
#include "runner/campaign.h"
#include "runner/config.h"
#include "runner/local.h"
#include "runner/ssh.h"
#include "systems/registry.h"
#include "tools/commands.h"
#include "tools/signal_stop.h"

namespace faultline::tools {
namespace {

struct CampaignArgs {
  std::string config_file;
  runner::CampaignConfig config;             // the flags' values (plain fields)
  std::map<std::string, std::string> texts;  // the flags' values (text fields), by key
  std::string state_dir;
  bool quiet = false;
  std::string junit;  // --junit FILE
  CLI::App* app = nullptr;
};

bool Given(const CLI::App* app, std::string_view name) {
  const CLI::Option* opt = app->get_option_no_throw(std::string(name));
  return opt != nullptr && opt->count() > 0;
}

// One flag per field of the table in runner/config.h that has one.
void AddConfigFlags(CLI::App* c, CampaignArgs& a) {
  for (const runner::ConfigField& field : runner::ConfigFields()) {
    if (field.flag.empty()) continue;
    const std::string flag(field.flag);
    const std::string help(field.help);
    CLI::Option* opt = nullptr;
    if (field.is_text()) {
      std::string& text = a.texts[std::string(field.key)];
      text = runner::FieldText(field, a.config);
      opt = c->add_option(flag, text, help);
    } else {
      std::visit(
          [&](auto m) {
            using Member = decltype(m);
            if constexpr (std::is_same_v<Member, bool runner::CampaignConfig::*>) {
              opt = c->add_flag(flag, a.config.*m, help);
            } else if constexpr (!std::is_same_v<Member, std::monostate>) {
              opt = c->add_option(flag, a.config.*m, help);
            }
          },
          field.member);
    }
    if (field.show_default) opt->capture_default_str();
  }
}

// Builds the config: the file (if any), then every flag given on the command line on top.
Result<runner::CampaignConfig> MakeConfig(const CampaignArgs& a) {
  runner::CampaignConfig c;
  if (!a.config_file.empty()) {
    Result<std::string> text = ReadFile(a.config_file);
    if (!text) {
      return MakeError(ErrorCode::kNotFound,
                       fmt::format("campaign: read config {}: cannot open it", a.config_file));
    }
    FAULTLINE_ASSIGN_OR_RETURN(c, runner::ConfigFromJson(*text));
  }
  const CLI::App* app = a.app;
  const bool from_file = !a.config_file.empty();
  for (const runner::ConfigField& field : runner::ConfigFields()) {
    if (field.flag.empty() || (from_file && !Given(app, field.flag))) continue;
    if (field.is_text()) {
      FAULTLINE_RETURN_IF_ERROR(runner::SetFieldText(field, c, a.texts.at(std::string(field.key))));
    } else {
      runner::CopyField(field, a.config, c);
    }
  }
  // Packet loss cannot be injected over ssh: the default fault list leaves it out there (asked
  // for by name, the campaign refuses it).
  if (!from_file && !Given(app, "--nemesis") && runner::SshNodesFilePath(c.cluster)) {
    std::erase(c.nemesis, runner::FaultKind::kLoss);
    PrintNote(
        "ssh cluster: default faults without loss (packet faults need the nodes' network "
        "namespaces on this machine): partition,kill,pause");
  }
  // Over ssh the nodes file may name the system: it is the default for --system (given both,
  // the campaign refuses them unless they agree).
  if (const auto nodes_file = runner::SshNodesFilePath(c.cluster);
      nodes_file && !Given(app, "--system") && !from_file) {
    Result<cluster::NodesFile> file = cluster::ReadNodesFile(*nodes_file);
    if (file && !file->system.empty()) c.system = file->system;
  }
  // A system file or a built-in system other than etcd names its node count (zookeeper: 3);
  // --nodes overrides it.
  if (!from_file && !Given(app, "--nodes") && c.system != "etcd") {
    FAULTLINE_ASSIGN_OR_RETURN(std::unique_ptr<systems::System> system,
                               systems::OpenSystem(c.system, c.system_options));
    c.nodes = system->Info().default_nodes;
  }
  // A system whose failover takes longer than the faults last (redis: Sentinel's, with one
  // retry) gets faults long enough for it, unless --fault-s says otherwise.
  if (!from_file && !Given(app, "--fault-s") && !c.nemesis.empty()) {
    FAULTLINE_ASSIGN_OR_RETURN(std::unique_ptr<systems::System> system,
                               systems::OpenSystem(c.system, c.system_options));
    const double failover_s = std::chrono::duration<double>(system->Info().failover).count();
    if (failover_s > 0 && c.fault_s < failover_s + 2) {
      c.fault_s = std::ceil(failover_s + 2);
      PrintNote(
          fmt::format("{}: faults last {:g} s (a failover may take {:g} s; --fault-s sets it)",
                      c.system, c.fault_s, failover_s));
    }
  }
  if (!from_file && !Given(app, "--seed")) {
    // No seed given: choose one, print it and record it, so the run can be repeated.
    c.seed = std::random_device{}() % 1000000;
  }
  FAULTLINE_RETURN_IF_ERROR(runner::ValidateConfig(c));
  return c;
}

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

// After --test-count N runs: the table on stdout, and <out>/summary.html beside the run
// directories (each failing seed with the command that reruns it).
void WriteCampaignSummary(const runner::CampaignConfig& config,
                          const std::vector<std::string>& run_dirs) {
  Result<std::string> text = report::RenderSummaryText(run_dirs);
  Result<std::string> page = report::RenderSummaryPage(
      run_dirs,
      fmt::format("faultline campaign --config {}/config.json (all {} runs again, seeds {}..{})",
                  run_dirs.front(), run_dirs.size(), config.seed,
                  config.seed + static_cast<std::uint64_t>(run_dirs.size()) - 1));
  if (!text || !page) {
    PrintError((!text ? text.error() : page.error()).WithContext("summary").message());
    return;
  }
  std::fputs(text->c_str(), stdout);
  const std::string path = (std::filesystem::path(config.out) / "summary.html").string();
  if (Status st = WriteFileAtomic(path, *page); !st) {
    PrintError(st.error().WithContext("summary").message());
    return;
  }
  std::fputs(fmt::format("summary: {}\n", path).c_str(), stdout);
}

int RunCampaignCommand(const CampaignArgs& a) {
  Result<runner::CampaignConfig> config = MakeConfig(a);
  if (!config) {
    PrintError(config.error().message());
    return kExitError;
  }
  const bool tty = isatty(STDERR_FILENO) == 1;
  SignalStop signals("stopping; healing and checking what was recorded");
  checker::Validity worst = checker::Validity::kValid;
  std::vector<std::string> run_dirs;
  std::vector<JUnitSuite> junit;  // one suite per run, written even when a run fails
  auto write_junit = [&](int code) {
    if (a.junit.empty()) return code;
    if (Status st = WriteJUnit(a.junit, junit); !st) {
      PrintError(st.error().message());
      return kExitError;
    }
    return code;
  };
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
      junit.push_back(runner::CampaignErrorJUnitSuite(c, report.error().message()));
      return write_junit(kExitError);
    }
    std::fputs(report->text.c_str(), stdout);
    std::fflush(stdout);
    WriteRunReport(report->files.dir);
    run_dirs.push_back(report->files.dir);
    worst = checker::Merge(worst, report->verdict.validity);
    junit.push_back(runner::CampaignJUnitSuite(*report, c));
  }
  if (config->test_count > 1 && !run_dirs.empty()) WriteCampaignSummary(*config, run_dirs);
  return write_junit(runner::ExitCodeFor(worst));
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
    FAULTLINE_ASSIGN_OR_RETURN(std::string text, ReadFile(report->files.config));
    return runner::ConfigFromJson(text);
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

// --system redis in --help: what is started, what faults do to it, its options.
std::string RedisSystemHelp() {
  std::string out =
      "Redis (--system redis, built in: Debian's redis-server and redis-sentinel 7.0, 3 nodes\n"
      "by default; workloads register (GET, SET, cas as a Lua script), set (SADD, SMEMBERS),\n"
      "append (MULTI, RPUSH / LRANGE, EXEC) and rw-register (MULTI, SET / GET, EXEC), the\n"
      "transactions checked for strict serializability, what one primary gives)):\n"
      "one primary (n1 at start), a replica (replicaof) on every other node and a Sentinel on\n"
      "every node (quorum a majority, down-after 1 s, failover-timeout 5 s). Clients ask the\n"
      "Sentinels for the primary and confirm it with ROLE, as real clients do. kill, pause and\n"
      "restart act on a node's redis-server; its Sentinel keeps running (a partition cuts the\n"
      "Sentinels apart too). Redis replicates asynchronously: a primary cut off from the\n"
      "Sentinels' majority keeps acknowledging writes the replica promoted in its place never\n"
      "sees, and drops them when it rejoins as a replica. The summary and results.json\n"
      "(\"system\") name each failover, and for the set workload how many acknowledged writes\n"
      "each deposed primary lost. System options (--system-option KEY=VALUE, repeatable;\n"
      "\"system_options\" in a config file):\n";
  for (const std::string& line : systems::SystemOptionHelp("redis")) out += "  " + line + "\n";
  return out + "\n";
}

}  // namespace

void RegisterCampaignCommands(CLI::App& app, Action& run) {
  auto a = std::make_shared<CampaignArgs>();
  CLI::App* c = app.add_subcommand(
      "campaign",
      "Run a Jepsen-style campaign against a cluster (etcd unless --system) and check it.\n"
      "Brings a cluster up (or uses the one of that --name that is already up, and leaves it),\n"
      "runs --concurrency clients for --time-limit seconds while the nemesis injects faults\n"
      "(each lasting --fault-s, then --heal-s healed), heals, waits for the cluster, makes the\n"
      "final reads, checks, prints a summary and tears the cluster down (its supervisor does so\n"
      "too if this process dies; --leave-db-running keeps it). Every op and fault is\n"
      "recorded as it happens in <out>/<run>/history.log (tamper-evident; also history.jsonl),\n"
      "with results.json, config.json (the seed; repeat with --config), nemesis.json and each\n"
      "node's logs under nodes/ (etcd: its log and flags). Ctrl-C heals, checks what was\n"
      "recorded and exits.\n"
      "Workloads: register (read/write/cas on independent keys, checked for linearizability per\n"
      "key; final reads after the heal), set (unique adds, reads, final reads; lost/unexpected/\n"
      "stale elements), counter (adds of 1..5 and reads on a few keys; every read must lie\n"
      "between the acknowledged and the attempted sum) and lock (etcd's lock API with leases of\n"
      "lock_ttl_s = 2 s kept alive by keepalives while held; acquire / hold / release, checked\n"
      "with the mutex model per lock; try --nemesis pause: a paused member cannot renew a\n"
      "holder's lease, etcd gives the lock to another, and the first still releases it later).\n"
      "Faults: partition (random halves, majority, ring, bridge), isolate (one node; fixed with\n"
      "--isolate-node), isolate-leader, kill, pause, loss; or none. member-remove shrinks the\n"
      "cluster (etcd: member remove, kill, wipe; zookeeper: reconfig -remove, kill, wipe) by\n"
      "one node, never below a majority of the original nodes; each heal grows it back (member\n"
      "add or reconfig -add, start afresh).\n"
      "Needs root (local clusters). Exit status: 0 valid, 1 invalid, 2 unknown, 3 error.\n"
      "\n"
      "Clusters reached over SSH (--cluster ssh:FILE): FILE is a nodes file, JSON naming each\n"
      "node (name, host, port, user, identity_file, address) and, for etcd, the shell commands\n"
      "that start, kill and find it there (db.start, db.kill, db.pid). `faultline cluster up\n"
      "--ssh` brings up the local cluster with sshd on every node and writes one (it prints its\n"
      "path, e.g. /var/lib/faultline/clusters/default/nodes.json); for real machines start from\n"
      "a copy of that one (every field is documented in cluster/nodes_file.h). For etcd the\n"
      "campaign uses the cluster as it finds it: it neither brings it up nor tears it down\n"
      "(--leave-db-running does not apply; --nodes and --name never do over ssh). It refuses to\n"
      "start unless every node answers over ssh and the system serves at every node's\n"
      "client_address:client_port (defaults: address and the system's client port, etcd 2379);\n"
      "the leader (isolate-leader, leader-minority) is what the system names there. Faults over\n"
      "ssh: partitions (iptables-restore on each node, as root), kill, pause; not loss (the\n"
      "default fault list leaves it out), not member-remove (local clusters only).\n"
      "Other systems over SSH: the nodes file's \"system\" (a built-in name or a system file,\n"
      "relative to the nodes file) is the default of --system (naming another is an error), and\n"
      "each node may give client_address and client_port (defaults: address, the system's\n"
      "port), data_dir and log_dir; no db commands. The campaign starts the servers with the\n"
      "system's commands over ssh (unless they serve already), faults them with those commands,\n"
      "and stops and wipes them at the end (not with --leave-db-running).\n"
      "\n"
      "Systems (--system): etcd (built in; the default); zookeeper (built in: Debian's\n"
      "zookeeper 3.8, 3 servers by default, register only; --read-mode plain reads what the\n"
      "worker's server holds, stale on a cut-off server; sync syncs that server first); or\n"
      "FILE, a system file describing a\n"
      "system faultline has never seen (JSON; local clusters; workloads register and set):\n"
      "  {\"name\": \"kv\", \"nodes\": 3, \"client_port\": 7001,\n"
      "   \"commands\": {\"setup\": optional, once per node, \"start\": returns once started,\n"
      "     \"stop\", \"kill\", \"pid\": prints the server's pid (nothing if not running),\n"
      "     \"wipe\", \"is_up\": exit 0 when the node serves clients,\n"
      "     \"pause\"/\"resume\": optional (default SIGSTOP/SIGCONT to the pid)},\n"
      "   \"logs\": [\"{log_dir}/server.log\"], \"workloads\": [\"register\", \"set\"],\n"
      "   \"client\": \"exec:python3 client.py\"}\n"
      "Commands run through /bin/sh in the node's network namespace, in the file's directory,\n"
      "with placeholders {node} {address} {port} {peers} (every address:port) {data_dir}\n"
      "{log_dir} (per node, made by faultline) {cluster} {dir} (the file's directory). The\n"
      "file's \"nodes\" is the default of --nodes. The client is a program started once per\n"
      "worker (again after every info) with FAULTLINE_NODE, FAULTLINE_ADDRESS, FAULTLINE_PORT\n"
      "and FAULTLINE_NODES set; faultline writes one JSON op per line on its stdin:\n"
      "  {\"id\": 7, \"process\": 3, \"workload\": \"register\", \"f\": \"cas\", \"key\": "
      "\"...\",\n"
      "   \"value\": [1, 2]}   (register: read null, write N, cas [old, new]; set: add N, read "
      "null)\n"
      "and reads one answer per line on its stdout:\n"
      "  {\"id\": 7, \"type\": \"ok\"|\"fail\"|\"info\", \"value\": read's value, \"error\": "
      "\"...\"}\n"
      "fail only if the op certainly did not take effect. A timeout (--client-timeout-ms; 3 s\n"
      "more for a program's first op), a program that exits, or a line that is not the answer\n"
      "makes the op info; its stderr is kept in <run>/clients/<process>.stderr. See\n"
      "examples/kv/ (a key-value server with a planted bug, its system files and client).\n"
      "Examples:\n"
      "  faultline campaign --time-limit 30                        # register, all faults\n"
      "  faultline campaign --system examples/kv/kv-unsafe-cas.json --nemesis kill,pause \\\n"
      "      --time-limit 15 --seed 1                               # the planted bug: invalid\n"
      "  faultline campaign --read-mode serializable --nemesis isolate --isolate-node n3 \\\n"
      "      --time-limit 30 --seed 1                               # finds stale reads: invalid\n"
      "  faultline campaign --workload set --nemesis partition,kill --time-limit 30\n"
      "  faultline campaign --system redis --workload set --nemesis partition --time-limit 60\n"
      "                                   # Redis loses acknowledged writes at failovers: invalid\n"
      "  faultline campaign --workload set --nemesis lose-unsynced --time-limit 30   # power "
      "cuts:\n"
      "      # the data dirs sit on a FUSE filesystem that forgets what was not fsync'd\n"
      "  faultline campaign --config runs/<run>/config.json          # repeat a run exactly\n"
      "  faultline campaign --nemesis none --concurrency 50 --time-limit 20   # throughput\n"
      "  faultline cluster up --ssh --name lab                       # then, over ssh:\n"
      "  faultline campaign --cluster ssh:/var/lib/faultline/clusters/lab/nodes.json \\\n"
      "      --nemesis partition,kill --time-limit 30\n"
      "  faultline campaign --log-pattern 'slow=took too long' --log-pattern-max slow=10 \\\n"
      "      --log-pattern-max permission-denied=0 --junit campaign.xml   # logs, and CI\n"
      "  faultline analyze runs/<run>                              # check a run again offline");
  {
    std::string help = c->get_description();
    help.insert(help.find("Systems (--system):"), RedisSystemHelp());
    c->description(help);
  }
  c->add_option("--config", a->config_file,
                "JSON config (as written to <run>/config.json); flags "
                "given as well override it");
  AddConfigFlags(c, *a);
  c->add_option("--state-dir", a->state_dir,
                "Cluster state root (default: $FAULTLINE_STATE_DIR, else /var/lib/faultline)");
  c->add_flag("--quiet", a->quiet, "No live progress line");
  c->add_option("--junit", a->junit,
                "Also write JUnit XML for CI: a test suite per run, a test case per checker "
                "(invalid: <failure> with the counterexample; unknown: <skipped> with the reason)");
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
