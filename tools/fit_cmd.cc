// faultline fit run SCENARIO --out DIR: a FIT experiment (issue 13 §2): control and experiment
// groups under the same synthetic load through in-process proxies, request-level faults on the
// experiment's share of requests, a one-sided non-inferiority verdict with Holm's correction.
//
// Each node's log of a local cluster is scanned for the log patterns (checker/log_patterns.h) from
// where it stood before the load; an exceeded maximum fails the run (fit/ci.h).
//
// Exit codes: 0 held, 1 refuted, aborted or a log pattern beyond its maximum, 2 inconclusive,
// 3 error.
#include <fmt/format.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "checker/log_patterns.h"
#include "cluster/cluster.h"
#include "cluster/nodes_file.h"
#include "cluster/session.h"
#include "cluster/ssh_control.h"
#include "common/file.h"
#include "common/junit.h"
#include "fit/ci.h"
#include "fit/fit.h"
#include "nemesis/ledger.h"
#include "runner/ssh.h"
#include "systems/registry.h"
#include "tools/commands.h"

namespace faultline::tools {
namespace {

struct FitArgs {
  std::string scenario;
  std::string out;
  std::vector<std::string> targets;
  std::string cluster = "local";
  std::string name = "fit";
  int nodes = 3;
  std::string state_dir;
  bool keep_cluster = false;
  int etcd_port = 2379;
  std::vector<std::string> log_patterns;     // --log-pattern NAME=REGEX
  std::vector<std::string> log_pattern_max;  // --log-pattern-max NAME=N
  std::string junit;                         // --junit FILE
  std::string system = "etcd";               // --system
  bool system_given = false;                 // --system was on the command line
};

// "http://127.0.0.1:8080/base" -> upstream "127.0.0.1:8080", base path "/base".
Result<std::pair<std::string, std::string>> ParseTargetUrl(const std::string& url) {
  constexpr std::string_view kScheme = "http://";
  if (url.rfind(kScheme, 0) != 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("--target {}: expected http://HOST:PORT[/BASE] (https is not "
                                 "supported: the proxies speak plain HTTP/1.1)",
                                 url));
  }
  std::string rest = url.substr(kScheme.size());
  std::string base;
  if (size_t slash = rest.find('/'); slash != std::string::npos) {
    base = rest.substr(slash);
    rest.resize(slash);
    while (!base.empty() && base.back() == '/') base.pop_back();
  }
  size_t colon = rest.rfind(':');
  if (colon == std::string::npos || colon + 1 == rest.size()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("--target {}: expected a port (http://HOST:PORT)", url));
  }
  std::string host = rest.substr(0, colon);
  if (host == "localhost") host = "127.0.0.1";
  return std::make_pair(host + rest.substr(colon), base);
}

int RunFit(const FitArgs& a) {
  // Written on every way out once the scenario is known, also after an error.
  std::optional<JUnitSuite> suite;
  auto finish = [&](int code) {
    if (a.junit.empty() || !suite) return code;
    if (Status st = WriteJUnit(a.junit, std::span<const JUnitSuite>(&*suite, 1)); !st) {
      PrintError(st.error().message());
      return kExitError;
    }
    return code;
  };
  auto scenario = fit::LoadScenario(a.scenario);
  if (!scenario) {
    PrintError(scenario.error().message());
    suite = fit::FitErrorJUnitSuite(std::filesystem::path(a.scenario).stem().string(),
                                    scenario.error().message());
    return finish(kExitError);
  }
  std::string out = a.out.empty() ? fmt::format("fit-{}", scenario->id) : a.out;
  auto fail = [&](const std::string& message) {
    PrintError(message);
    suite = fit::FitErrorJUnitSuite(scenario->id, message);
    return finish(kExitError);
  };
  auto patterns = checker::MakeLogPatterns(a.log_patterns, a.log_pattern_max);
  if (!patterns) return fail(patterns.error().message());

  // Over ssh the nodes file may name the system (the default for --system; given both, they
  // must agree).
  std::optional<std::string> ssh_path = runner::SshNodesFilePath(a.cluster);
  std::optional<cluster::NodesFile> nodes_file;
  std::string system_name = a.system;
  if (a.targets.empty() && ssh_path) {
    auto read = cluster::ReadNodesFile(*ssh_path);
    if (!read) return fail(read.error().WithContext("fit run").message());
    auto named = runner::SshSystem(*read, *ssh_path, a.system_given ? a.system : "");
    if (!named) return fail(named.error().WithContext("fit run").message());
    system_name = *named;
    nodes_file = std::move(*read);
  }
  auto system = systems::OpenSystem(system_name);
  if (!system) return fail(fmt::format("fit run: {}", system.error().message()));
  const systems::SystemInfo& info = (*system)->Info();
  // etcd is driven over its JSON gateway; another system through its own client (fit/fit.h).
  const bool other = info.local_db != cluster::Db::kEtcd;
  if (other && !a.targets.empty()) {
    return fail(
        fmt::format("fit run: --system {}: --target sends HTTP to your service; a system's own "
                    "client needs its nodes (--cluster local or ssh:FILE)",
                    system_name));
  }
  if (other) {
    if (Status st = fit::CheckClientLoad(*scenario); !st) {
      return fail(st.error().WithContext(fmt::format("fit run: --system {}", a.system)).message());
    }
  }
  fit::Target target;
  std::optional<cluster::Session> session;
  std::optional<systems::SystemCluster> system_nodes;
  std::unique_ptr<nemesis::NodeControl> shell;
  bool formed = false;  // servers this run started, stopped before the cluster goes
  std::optional<nemesis::Ledger> ledger;
  std::string ledger_path;
  if (!a.targets.empty()) {
    for (const std::string& url : a.targets) {
      auto t = ParseTargetUrl(url);
      if (!t) return fail(t.error().message());
      target.upstreams.push_back(t->first);
      target.base_path = t->second;
    }
    ledger_path = out + "/nemesis.ledger";
  } else if (nodes_file) {
    const std::string& file = *ssh_path;
    if (other) {
      // The system's servers over ssh: started with its commands unless they already serve.
      Status attached = [&]() -> Status {
        system_nodes = runner::SshSystemNodes(*nodes_file, file, info.client_port);
        FAULTLINE_ASSIGN_OR_RETURN(std::unique_ptr<cluster::SshControl> control,
                                   cluster::MakeSshControl(*nodes_file));
        shell = std::move(control);
        FAULTLINE_ASSIGN_OR_RETURN(
            formed,
            runner::StartSshSystem(**system, *system_nodes, *shell, std::chrono::seconds(60),
                                   [](std::string_view l) { PrintNote(std::string(l)); }));
        return OkStatus();
      }();
      if (!attached) return fail(attached.error().WithContext("fit: system over ssh").message());
      for (const systems::SystemNode& n : system_nodes->nodes) {
        target.upstreams.push_back(fmt::format("{}:{}", n.address, n.port));
      }
      target.clients = fit::SystemGroupClients(
          **system, *system_nodes,
          std::chrono::duration_cast<std::chrono::milliseconds>(scenario->timeout));
    } else {
      for (const cluster::SshNode& n : nodes_file->nodes) {
        target.upstreams.push_back(fmt::format("{}:{}", cluster::ClientAddress(n),
                                               n.client_port != 0 ? n.client_port : a.etcd_port));
      }
    }
    ledger_path = file + ".nemesis.ledger";
  } else if (a.cluster == "local") {
    cluster::ClusterSpec spec;
    spec.name = a.name;
    spec.nodes = a.nodes;
    spec.state_root = a.state_dir;
    spec.db = info.local_db;
    if (!cluster::Load(a.name, a.state_dir)) {
      PrintNote(fmt::format("cluster {}: bringing up {} {} nodes", a.name, a.nodes, info.name));
    }
    auto s = cluster::Session::Open(spec, [](std::string_view l) { PrintNote(std::string(l)); });
    if (!s) return fail(s.error().WithContext("fit: cluster up").message());
    session = std::move(*s);
    if (other) {
      Status attached = [&]() -> Status {
        FAULTLINE_ASSIGN_OR_RETURN(system_nodes, systems::LocalNodes(session->state(), info));
        FAULTLINE_ASSIGN_OR_RETURN(shell, cluster::MakeLocalControl(session->state()));
        if (!session->owned()) return OkStatus();
        formed = true;
        return (*system)->Form(*system_nodes, *shell, std::chrono::seconds(60),
                               [](std::string_view l) { PrintNote(std::string(l)); });
      }();
      if (!attached) {
        if (formed) (void)(*system)->Teardown(*system_nodes, *shell);
        (void)session->Close(false);
        return fail(attached.error().WithContext("fit: system").message());
      }
      for (const systems::SystemNode& n : system_nodes->nodes) {
        target.upstreams.push_back(fmt::format("{}:{}", n.address, n.port));
      }
      target.clients = fit::SystemGroupClients(
          **system, *system_nodes,
          std::chrono::duration_cast<std::chrono::milliseconds>(scenario->timeout));
    } else {
      for (const cluster::NodeState& n : session->state().nodes) {
        target.upstreams.push_back(fmt::format("{}:{}", n.address, a.etcd_port));
      }
    }
    ledger_path = session->state().run_dir + "/nemesis.ledger";
  } else {
    return fail(fmt::format("--cluster {}: expected local or ssh:FILE", a.cluster));
  }

  auto close_cluster = [&] {
    if (formed && !a.keep_cluster) {
      if (Status st = (*system)->Teardown(*system_nodes, *shell); !st) {
        PrintError(st.error().message());
      }
    }
    formed = false;
    if (!session) return;
    auto down = session->Close(a.keep_cluster);
    if (!down) PrintError(down.error().message());
    session.reset();
  };

  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  auto opened = nemesis::Ledger::Open(ledger_path);
  if (!opened) {
    close_cluster();
    return fail(opened.error().WithContext("fit: ledger").message());
  }
  ledger = std::move(*opened);

  fit::Hooks hooks;
  hooks.ledger = &*ledger;
  hooks.progress = [](std::string_view l) { PrintNote(std::string(l)); };
  PrintNote(
      fmt::format("fit {}: {} req/s for {} s over {} nodes, control vs experiment; "
                  "artifacts in {}",
                  scenario->id, scenario->rate, scenario->duration.count() / 1000.0,
                  target.upstreams.size(), out));
  // Each node's log from where it stands before the load (a kept cluster appends to its logs).
  std::vector<checker::NodeLog> node_logs;
  if (session && system_nodes) {
    for (const systems::SystemNode& n : system_nodes->nodes) {
      for (const std::string& path : (*system)->LogFiles(*system_nodes, n)) {
        node_logs.push_back(
            checker::NodeLog{.node = n.name, .path = path, .offset = checker::LogOffsetNow(path)});
      }
    }
  } else if (session) {
    for (const cluster::NodeState& n : session->state().nodes) {
      node_logs.push_back(checker::NodeLog{
          .node = n.name, .path = n.log_path, .offset = checker::LogOffsetNow(n.log_path)});
    }
  }
  auto outcome = fit::RunExperiment(*scenario, target, out, hooks, std::stop_token{});
  // Scanned before the cluster goes down with its state directory.
  std::optional<Result<checker::LogPatternReport>> scan;
  if (outcome && session) scan = checker::ScanNodeLogs(node_logs, *patterns);
  close_cluster();
  if (!outcome) return fail(outcome.error().message());
  int exit_code = outcome->exit_code;
  if (!scan) {
    fit::NoNodeLogs(outcome->results, !a.targets.empty()
                                          ? "--target: the service's logs are not ours to read"
                                          : "ssh cluster: node logs are not fetched by fit run");
  } else if (!*scan) {
    return fail(scan->error().WithContext("fit: log patterns").message());
  } else {
    exit_code = fit::ApplyLogPatterns(outcome->results, **scan);
    for (const std::string& w : (*scan)->warnings) PrintNote(w);
  }
  const std::string results_path = out + "/results.json";
  if (Status st = WriteFileAtomic(results_path, outcome->results.dump(2) + "\n"); !st) {
    return fail(st.error().message());
  }
  suite = fit::FitJUnitSuite(outcome->results, out);
  const auto& k = outcome->results["kpis"];
  std::printf("%s %s: %s\n", scenario->id.c_str(), outcome->hypothesis.c_str(),
              outcome->results["reason"].get<std::string>().c_str());
  for (const char* g : {"control", "experiment"}) {
    std::printf("  %-10s success_rate %.4f  p50 %.2f ms  p99 %.2f ms  rps %.1f  (%lld requests)\n",
                g, k[g]["success_rate"].get<double>(), k[g]["p50_ms"].get<double>(),
                k[g]["p99_ms"].get<double>(), k[g]["rps"].get<double>(),
                static_cast<long long>(k[g]["requests"].get<std::int64_t>()));
  }
  if (outcome->results.value("log_patterns_exceeded", false)) {
    std::printf("%s FAILED: %s (the hypothesis stays %s; exit 1)\n", scenario->id.c_str(),
                outcome->results["log_patterns_failure"].get<std::string>().c_str(),
                outcome->hypothesis.c_str());
  } else if (outcome->results.contains("log_patterns_note")) {
    std::printf("log patterns: not counted (%s)\n",
                outcome->results["log_patterns_note"].get<std::string>().c_str());
  }
  std::printf("artifacts: %s/{results.json,kpi-timeline.jsonl,history-%s.log}\n", out.c_str(),
              scenario->id.c_str());
  WriteRunReport(out);
  return finish(exit_code);
}

}  // namespace

void RegisterFitCommands(CLI::App& app, Action& run) {
  CLI::App* fit = app.add_subcommand("fit",
                                     "FIT experiments: request-level faults, control vs "
                                     "experiment");
  fit->require_subcommand(1);
  auto args = std::make_shared<FitArgs>();
  CLI::App* r = fit->add_subcommand(
      "run",
      "Run a FIT experiment: faults on a share of the experiment's requests, judged against a "
      "control\n"
      "Two groups of equal size send the scenario's synthetic load\n"
      "(open loop, keep-alive HTTP/1.1, no retries) through proxies in front of every node:\n"
      "the control's proxies stay clean, the experiment's carry the scenario's faults (toxics:\n"
      "http_status, http_delay, http_drop, http_truncate, latency, ...; `share` = the share of\n"
      "matching requests hit). KPIs per group, per second and overall: success_rate (2xx over\n"
      "requests sent; timeouts are failures), p50_ms, p99_ms (scheduled time to reply), rps\n"
      "(2xx per second). Verdict: one-sided non-inferiority tests at the scenario's alpha with\n"
      "Holm's correction (success rate: two-proportion z test; latency quantiles: bootstrap of\n"
      "the ratio): held (every KPI shown within its margin), refuted (one shown beyond),\n"
      "inconclusive (says how many more requests it would need). An abort rule whose bound is\n"
      "crossed for its time removes every toxic at once and ends the run aborted.\n"
      "Writes DIR/results.json, DIR/kpi-timeline.jsonl (per second and group) and\n"
      "DIR/history-ID.log (tamper-evident event log: faultline audit verify). Every toxic added\n"
      "or removed is recorded in the nemesis ledger (local: <run_dir>/nemesis.ledger).\n"
      "The default target is a local cluster of --system (etcd unless given; --name, --nodes),\n"
      "brought up for the run and torn down after unless one of that name is up already (as\n"
      "root).\n"
      "Each node's log of a local cluster is searched for the log patterns (built-ins panic,\n"
      "fatal, data-race max 0; permission-denied counted; add your own with --log-pattern):\n"
      "results.json's log_patterns; a count beyond its maximum fails the run (exit 1,\n"
      "log_patterns_exceeded true; the hypothesis stays the statistical one). --target and\n"
      "ssh:FILE have no node logs here: results.json says so in log_patterns_note.\n"
      "Exit status: 0 held, 1 refuted, aborted or a log pattern beyond its maximum,\n"
      "2 inconclusive, 3 error.\n"
      "\n"
      "Examples:\n"
      "  faultline fit run scenarios/FIT01-no-fault.json --out fit01/         # held\n"
      "  faultline fit run scenarios/FIT02-read-errors.json --out fit02/      # refuted\n"
      "  faultline fit run scenarios/FIT03-abort.json --out fit03/            # aborted\n"
      "  faultline fit run my.json --target http://127.0.0.1:8080 --out run/  # any HTTP service\n"
      "  faultline fit run my.json --cluster ssh:nodes.json --out run/        # the file's system\n"
      "  faultline fit run scenarios/FIT04-tcp-latency.json --cluster ssh:kv-nodes.json --out kv/\n"
      "  faultline fit run scenarios/FIT04-tcp-latency.json --system zookeeper --out zk/\n"
      "  faultline fit run scenarios/FIT01-no-fault.json --junit fit01.xml \\\n"
      "      --log-pattern 'slow=apply request took too long' --log-pattern-max slow=20  # CI");
  r->add_option("scenario", args->scenario, "Scenario JSON file (scenarios/FIT*.json)")
      ->required()
      ->check(CLI::ExistingFile);
  r->add_option("--out", args->out,
                "Artifact directory (default fit-<id>; must hold no log of "
                "the same scenario yet)");
  r->add_option("--target", args->targets,
                "http://HOST:PORT[/BASE] of an HTTP service instead of etcd (repeat for several "
                "nodes; HOST an IP address or localhost)");
  r->add_option("--cluster", args->cluster,
                "local, or ssh:FILE (a nodes file: its \"system\", etcd unless it names another, "
                "at each node's client_address:client_port; defaults: address and the system's "
                "client port, etcd 2379)")
      ->capture_default_str();
  r->add_option("--system", args->system,
                "System under test: etcd (its JSON gateway over HTTP), zookeeper, redis or a "
                "system FILE (over ssh: default the nodes file's \"system\"; its servers are "
                "started over ssh with its commands unless they serve already). A system without "
                "HTTP gets its own client's "
                "register ops as the load (a request template's name is its op: read or write), "
                "through the same proxies, so TCP-level toxics (latency, bandwidth, slow_close, "
                "timeout, reset_peer, slicer, limit_data) act on it; HTTP-level ones (http_*) are "
                "refused with an error")
      ->capture_default_str();
  r->add_option("--name", args->name, "Local cluster name: used if up, else brought up and down")
      ->capture_default_str();
  r->add_option("--nodes", args->nodes, "Nodes of a local cluster brought up")
      ->capture_default_str()
      ->check(CLI::Range(1, 9));
  r->add_option("--state-dir", args->state_dir, "Cluster state root");
  r->add_flag("--keep-cluster", args->keep_cluster, "Leave a cluster this run brought up");
  AddLogPatternOptions(r, args->log_patterns, args->log_pattern_max, "run",
                       "fail the run (exit 1)");
  r->add_option("--junit", args->junit,
                "Also write a JUnit XML report to FILE: one test case per hypothesis KPI "
                "(beyond: failure, undecided: skipped), one for the abort rule and one for the "
                "log patterns; written also when the run ends in an error")
      ->type_name("FILE");
  r->callback([&run, args, r] {
    args->system_given = r->count("--system") > 0;
    run = [args] { return RunFit(*args); };
  });
}

}  // namespace faultline::tools
