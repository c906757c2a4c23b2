// faultline cluster up|status|down|list|ctl: the local namespace cluster (cluster/cluster.h).
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cluster/cluster.h"
#include "cluster/nodes_file.h"
#include "common/file.h"
#include "nemesis/node_control.h"
#include "systems/registry.h"
#include "tools/commands.h"

namespace faultline::tools {
namespace {

struct UpArgs {
  int nodes = 5;
  bool nodes_given = false;
  std::string db = "etcd";
  std::string system;  // "" or "etcd": --db decides; else a system file
  bool ssh = false;
  std::string name = "default";
  std::string state_dir;
  std::string pre_vote = "true";
  int heartbeat_ms = 100;
  int election_ms = 1000;
  int snapshot_count = 10000;
  bool corrupt_check = false;
};

struct NameArgs {
  std::string name = "default";
  std::string state_dir;
  bool json = false;
  std::string node;
  std::string action;
};

// `cluster up --ssh --system`: the nodes file names the system and each node's directories, so
// that `--cluster ssh:FILE` reaches the same servers (their pid files, configuration and logs)
// with the system's own commands.
Status NameSystemInNodesFile(const cluster::ClusterState& state, const std::string& system,
                             const systems::SystemCluster& nodes) {
  FAULTLINE_ASSIGN_OR_RETURN(cluster::NodesFile file, cluster::ReadNodesFile(state.ssh_nodes_file));
  file.system = systems::IsSystemFile(system) ? std::filesystem::absolute(system).string() : system;
  for (cluster::SshNode& n : file.nodes) {
    for (const systems::SystemNode& sn : nodes.nodes) {
      if (sn.name != n.name) continue;
      n.data_dir = sn.data_dir;
      n.log_dir = sn.log_dir;
    }
  }
  return WriteFileAtomic(state.ssh_nodes_file, cluster::FormatNodesFile(file));
}

// Starts a system file's servers on a cluster that is up; on failure stops what started.
Status FormSystem(const cluster::ClusterState& state, const std::string& system_file) {
  FAULTLINE_ASSIGN_OR_RETURN(std::unique_ptr<systems::System> system,
                             systems::OpenSystem(system_file));
  FAULTLINE_ASSIGN_OR_RETURN(systems::SystemCluster nodes,
                             systems::LocalNodes(state, system->Info()));
  FAULTLINE_ASSIGN_OR_RETURN(std::unique_ptr<nemesis::NodeControl> shell,
                             cluster::MakeLocalControl(state));
  // Recorded first, so `cluster down` and `nemesis` reach the system (cluster down stops it).
  FAULTLINE_RETURN_IF_ERROR(systems::RecordLocalSystem(state, system_file));
  if (state.ssh) FAULTLINE_RETURN_IF_ERROR(NameSystemInNodesFile(state, system_file, nodes));
  Status formed = system->Form(nodes, *shell, std::chrono::seconds(30),
                               [](std::string_view line) { PrintNote(std::string(line)); });
  if (!formed) {
    Status stopped = system->Teardown(nodes, *shell);
    if (!stopped) PrintError(fmt::format("warning: {}", stopped.error().message()));
  }
  return formed;
}

// Stops the servers of the system file recorded for the cluster, if any.
void StopSystem(const std::string& name, const std::string& state_dir) {
  Result<cluster::ClusterState> state = cluster::Load(name, state_dir);
  if (!state) return;
  // etcd's servers are the supervisor's: only a system of its own commands is stopped here.
  Result<std::string> file = systems::LocalSystem(*state);
  if (!file && file.error().code() != ErrorCode::kNotFound) {
    PrintError(fmt::format("warning: {}", file.error().message()));
  }
  if (!file || (state->db == cluster::Db::kEtcd && *file == "etcd")) return;
  Result<std::unique_ptr<systems::System>> system = systems::OpenSystem(*file);
  Result<systems::SystemCluster> nodes = system ? systems::LocalNodes(*state, (*system)->Info())
                                                : Result<systems::SystemCluster>(system.error());
  Result<std::unique_ptr<nemesis::NodeControl>> shell =
      nodes ? cluster::MakeLocalControl(*state)
            : Result<std::unique_ptr<nemesis::NodeControl>>(nodes.error());
  if (!shell) {
    PrintError(fmt::format("warning: stop the system's servers: {}", shell.error().message()));
    return;
  }
  Status stopped = (*system)->Teardown(*nodes, **shell);
  if (!stopped) {
    PrintError(fmt::format("warning: {}", stopped.error().message()));
  } else {
    std::printf("stopped %s on %zu nodes\n", (*system)->Info().name.c_str(), nodes->nodes.size());
  }
}

int RunUp(const UpArgs& a) {
  cluster::ClusterSpec spec;
  spec.name = a.name;
  spec.nodes = a.nodes;
  const bool system_file = !a.system.empty() && a.system != "etcd";
  if (system_file) {
    Result<std::unique_ptr<systems::System>> system = systems::OpenSystem(a.system);
    if (!system) {
      PrintError(fmt::format("cluster up: {}", system.error().message()));
      return kExitError;
    }
    if (!a.nodes_given) spec.nodes = (*system)->Info().default_nodes;
  }
  auto db = system_file ? Result<cluster::Db>(cluster::Db::kNone) : cluster::ParseDb(a.db);
  if (!db) {
    PrintError(db.error().message());
    return kExitError;
  }
  spec.db = *db;
  spec.ssh = a.ssh;
  spec.state_root = a.state_dir;
  if (a.pre_vote != "true" && a.pre_vote != "false") {
    PrintError(fmt::format("cluster up: --pre-vote {}: expected true or false", a.pre_vote));
    return kExitError;
  }
  spec.etcd.pre_vote = a.pre_vote == "true";
  spec.etcd.heartbeat_ms = a.heartbeat_ms;
  spec.etcd.election_ms = a.election_ms;
  spec.etcd.snapshot_count = a.snapshot_count;
  spec.etcd.corrupt_check = a.corrupt_check;
  const auto t0 = std::chrono::steady_clock::now();
  auto state = cluster::Up(spec, [](std::string_view line) { PrintNote(std::string(line)); });
  if (!state) {
    PrintError(state.error().message());
    return kExitError;
  }
  if (system_file) {
    if (Status formed = FormSystem(*state, a.system); !formed) {
      PrintError(fmt::format("cluster up: {}", formed.error().message()));
      (void)cluster::Down(state->name, a.state_dir);
      return kExitError;
    }
  }
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  std::printf("cluster %s is up in %lld ms: %zu nodes in %s, control address %s\n",
              state->name.c_str(), static_cast<long long>(ms), state->nodes.size(),
              state->subnet.c_str(), state->control_address.c_str());
  if (state->db == cluster::Db::kEtcd) {
    std::printf("etcd: heartbeat %d ms, election %d ms, pre-vote %s, snapshot count %d\n",
                state->etcd.heartbeat_ms, state->etcd.election_ms,
                state->etcd.pre_vote ? "true" : "false", state->etcd.snapshot_count);
    std::string urls;
    for (const auto& u : state->ClientUrls()) urls += (urls.empty() ? "" : ",") + u;
    std::printf("endpoints: %s\n", urls.c_str());
  }
  std::printf("state: %s/cluster.json\n", state->run_dir.c_str());
  if (state->ssh) {
    std::printf("ssh: key %s, nodes file %s\n", state->ssh_private_key.c_str(),
                state->ssh_nodes_file.c_str());
  }
  return kExitOk;
}

int RunStatus(const NameArgs& a) {
  auto state = cluster::Load(a.name, a.state_dir);
  if (!state) {
    PrintError(state.error().message());
    return kExitError;
  }
  auto st = cluster::ProbeStatus(*state);
  if (!st) {
    PrintError(st.error().message());
    return kExitError;
  }
  if (a.json) {
    nlohmann::json nodes = nlohmann::json::array();
    for (const auto& n : st->nodes) {
      nodes.push_back({{"node", n.name},
                       {"netns", n.netns},
                       {"address", n.address},
                       {"db_pid", n.db.pid},
                       {"db_start_time", n.db.start_time},
                       {"alive", n.db.alive},
                       {"paused", n.db.paused},
                       {"restarts", n.db.restarts},
                       {"state", n.db.state},
                       {"healthy", n.healthy},
                       {"probe_latency_us", n.probe_latency.count()},
                       {"leader_claim",
                        n.leader_claim ? nlohmann::json(*n.leader_claim) : nlohmann::json(nullptr)},
                       {"raft_term", n.raft_term},
                       {"revision", n.revision},
                       {"probe_error",
                        n.probe_error ? nlohmann::json(*n.probe_error) : nlohmann::json(nullptr)}});
    }
    nlohmann::json out = {
        {"name", st->name},
        {"subnet", state->subnet},
        {"db", std::string(cluster::DbName(state->db))},
        {"leader", st->leader ? nlohmann::json(*st->leader) : nlohmann::json(nullptr)},
        {"owner_pid", state->owner_pid},
        {"disagreement",
         st->disagreement ? nlohmann::json(*st->disagreement) : nlohmann::json(nullptr)},
        {"nodes", nodes}};
    std::printf("%s\n", out.dump().c_str());
    return kExitOk;
  }
  std::printf("cluster %s (%s, %s, pre-vote %s)\n", st->name.c_str(), state->subnet.c_str(),
              std::string(cluster::DbName(state->db)).c_str(),
              state->etcd.pre_vote ? "true" : "false");
  if (state->owner_pid > 0) {
    std::printf("owner: pid %d (the cluster is torn down when that process exits)\n",
                state->owner_pid);
  }
  std::printf("%-4s %-16s %-15s %-8s %-7s %-8s %-8s %s\n", "node", "namespace", "address", "db pid",
              "alive", "healthy", "leader", "state");
  for (const auto& n : st->nodes) {
    std::printf("%-4s %-16s %-15s %-8d %-7s %-8s %-8s %s%s\n", n.name.c_str(), n.netns.c_str(),
                n.address.c_str(), n.db.pid, n.db.alive ? "yes" : "no", n.healthy ? "yes" : "no",
                n.leader_claim.value_or("-").c_str(), n.db.state.c_str(),
                n.probe_error ? fmt::format(" ({})", *n.probe_error).c_str() : "");
  }
  if (st->leader) std::printf("leader: %s\n", st->leader->c_str());
  if (st->disagreement) std::printf("disagreement: %s\n", st->disagreement->c_str());
  if (!st->leader && !st->disagreement) std::printf("leader: none\n");
  return kExitOk;
}

int RunDown(const NameArgs& a) {
  StopSystem(a.name, a.state_dir);
  auto r = cluster::Down(a.name, a.state_dir);
  if (!r) {
    PrintError(r.error().message());
    return kExitError;
  }
  for (const auto& line : r->removed) std::printf("removed %s\n", line.c_str());
  for (const auto& w : r->warnings) PrintError("warning: " + w);
  if (r->removed.empty()) std::printf("cluster %s: nothing to remove\n", a.name.c_str());
  return kExitOk;
}

int RunList(const NameArgs& a) {
  for (const auto& name : cluster::List(a.state_dir)) {
    auto s = cluster::Load(name, a.state_dir);
    if (!s) {
      std::printf("%-8s (unreadable state: %s)\n", name.c_str(), s.error().message().c_str());
      continue;
    }
    std::printf("%-8s %-16s %zu nodes  %-4s %s%s\n", name.c_str(), s->subnet.c_str(),
                s->nodes.size(), std::string(cluster::DbName(s->db)).c_str(), s->run_dir.c_str(),
                s->owner_pid > 0 ? fmt::format("  (owner pid {})", s->owner_pid).c_str() : "");
  }
  return kExitOk;
}

int RunCtl(const NameArgs& a) {
  auto action = nemesis::ParseProcessAction(a.action);
  if (!action) {
    PrintError(action.error().message());
    return kExitError;
  }
  auto state = cluster::Load(a.name, a.state_dir);
  if (!state) {
    PrintError(state.error().message());
    return kExitError;
  }
  auto ctl = cluster::MakeLocalControl(*state);
  if (!ctl) {
    PrintError(ctl.error().message());
    return kExitError;
  }
  const auto reports = (*ctl)->Process({a.node}, *action);
  int code = kExitOk;
  for (const auto& r : reports) {
    if (!r.ok) {
      PrintError(r.error ? r.error->message() : a.action + " failed");
      code = kExitError;
      continue;
    }
    std::printf("%s %s: %s (pid %d -> %d, %lld us)\n", a.action.c_str(), r.node.c_str(),
                r.mechanism.c_str(), r.pid_before, r.pid_after,
                static_cast<long long>(r.took.count() / 1000));
  }
  return code;
}

void AddNameOptions(CLI::App* c, NameArgs& a) {
  c->add_option("--name", a.name, "Cluster name (1-8 of a-z0-9)")->capture_default_str();
  c->add_option("--state-dir", a.state_dir,
                "State root (default: $FAULTLINE_STATE_DIR, else /var/lib/faultline)");
}

}  // namespace

void RegisterClusterCommands(CLI::App& app, Action& run) {
  CLI::App* cl = app.add_subcommand(
      "cluster",
      "Run a local test cluster: one network namespace per node, etcd on each.\n"
      "Nodes n1..nN live in namespaces fl-<name>-n1.., joined by a bridge in fl-<name>-br; the\n"
      "root namespace reaches them through the link fl-<name> (address 198.18.X.254). A resident\n"
      "supervisor owns the database processes; 'cluster ctl' and the nemesis act through it.\n"
      "Exit status: 0 ok, 3 error.\n"
      "Examples:\n"
      "  faultline cluster up --nodes 5\n"
      "  faultline cluster status\n"
      "  faultline cluster ctl n2 kill && faultline cluster ctl n2 start\n"
      "  faultline cluster down");
  cl->require_subcommand(1);

  auto up = std::make_shared<UpArgs>();
  CLI::App* u = cl->add_subcommand(
      "up",
      "Build the namespaces, start the supervisor and etcd, and wait until healthy.\n"
      "Healthy means every member answers /health and all agree on one leader (30 s limit).\n"
      "The name 'default' uses 198.18.0.0/24; other names get the lowest free /24 in\n"
      "198.18.1.0-198.18.255.0. A name already up, or a subnet in use, is refused. On failure\n"
      "everything made is removed again. The cluster has no owner: it stays until 'cluster\n"
      "down' (one that 'campaign' or 'dirt run' brings up for itself goes with that process).\n"
      "Exit status: 0 up and healthy, 3 error.\n"
      "Examples:\n"
      "  faultline cluster up\n"
      "  faultline cluster up --name b --nodes 3 --heartbeat-ms 20 --election-ms 200\n"
      "  faultline cluster up --ssh        # also sshd per node, and a nodes file for ssh:FILE\n"
      "  faultline cluster up --db none    # namespaces only\n"
      "  faultline cluster up --system examples/kv/kv.json   # a system file's servers (see\n"
      "                                    # faultline campaign --help); down stops them");
  u->add_option("--nodes", up->nodes, "Number of nodes (1-9)")
      ->check(CLI::Range(1, 9))
      ->capture_default_str();
  u->add_option("--db", up->db, "Database: etcd or none")->capture_default_str();
  u->add_option("--system", up->system,
                "System under test: etcd (as --db etcd), zookeeper (an ensemble started after the "
                "namespaces), or FILE, a system file whose commands start the servers (its "
                "\"nodes\" is the default of --nodes)");
  u->add_flag("--ssh", up->ssh,
              "Also run sshd in every node (for the SSH control path); the nodes file names "
              "--system and each node's data and log directories");
  u->add_option("--name", up->name, "Cluster name (1-8 of a-z0-9)")->capture_default_str();
  u->add_option("--state-dir", up->state_dir,
                "State root (default: $FAULTLINE_STATE_DIR, else /var/lib/faultline)");
  u->add_option("--pre-vote", up->pre_vote,
                "etcd --pre-vote (true avoids disruptive elections when a node rejoins)")
      ->capture_default_str();
  u->add_option("--heartbeat-ms", up->heartbeat_ms, "etcd --heartbeat-interval")
      ->capture_default_str();
  u->add_option("--election-ms", up->election_ms, "etcd --election-timeout")->capture_default_str();
  u->add_option("--snapshot-count", up->snapshot_count, "etcd --snapshot-count")
      ->capture_default_str();
  u->add_flag("--corrupt-check", up->corrupt_check, "Enable etcd's corruption checks");
  u->callback([&run, up, u] {
    up->nodes_given = u->count("--nodes") > 0;
    run = [up] { return RunUp(*up); };
  });

  auto st = std::make_shared<NameArgs>();
  CLI::App* s = cl->add_subcommand(
      "status",
      "Show each node's database process, health and leader claim.\n"
      "Probes every member's /health and /v3/maintenance/status from the root namespace (500 ms\n"
      "per probe). The leader is the one a majority of reachable members name; when members\n"
      "disagree (an isolated old leader), every claim is listed.\n"
      "Exit status: 0 shown, 3 error (cluster not recorded).\n"
      "Examples:\n"
      "  faultline cluster status\n"
      "  faultline cluster status --name b --json");
  AddNameOptions(s, *st);
  s->add_flag("--json", st->json, "Print one JSON object");
  s->callback([&run, st] { run = [st] { return RunStatus(*st); }; });

  auto dn = std::make_shared<NameArgs>();
  CLI::App* d = cl->add_subcommand(
      "down",
      "Stop the cluster and remove everything it made.\n"
      "Ends the supervisor and the database processes (only those whose PID and start time match\n"
      "the state file), then removes namespaces, links, cgroups and the run directory, logs\n"
      "included (copy them first if you need them). Safe to repeat; works after a crash of 'up'.\n"
      "Exit status: 0 removed (or nothing to remove), 3 error.\n"
      "Examples:\n"
      "  faultline cluster down\n"
      "  faultline cluster down --name b");
  AddNameOptions(d, *dn);
  d->callback([&run, dn] { run = [dn] { return RunDown(*dn); }; });

  auto ls = std::make_shared<NameArgs>();
  CLI::App* l = cl->add_subcommand("list",
                                   "List recorded clusters: name, subnet, nodes, database, run "
                                   "directory.\n"
                                   "Exit status: 0.\n"
                                   "Example:\n"
                                   "  faultline cluster list");
  l->add_option("--state-dir", ls->state_dir,
                "State root (default: $FAULTLINE_STATE_DIR, else /var/lib/faultline)");
  l->callback([&run, ls] { run = [ls] { return RunList(*ls); }; });

  auto ct = std::make_shared<NameArgs>();
  CLI::App* c = cl->add_subcommand(
      "ctl",
      "Act on one node's database process through the supervisor.\n"
      "kill = SIGKILL (stays down), pause = SIGSTOP, resume = SIGCONT, start = start again on the\n"
      "same data dir (cluster state existing), restart = kill then start. The nodes file of an\n"
      "--ssh cluster uses this for its database commands.\n"
      "Exit status: 0 done, 3 error.\n"
      "Examples:\n"
      "  faultline cluster ctl n3 kill\n"
      "  faultline cluster ctl n3 start --name b");
  c->add_option("NODE", ct->node, "Node name, e.g. n3")->required();
  c->add_option("ACTION", ct->action, "kill, pause, resume, start or restart")->required();
  AddNameOptions(c, *ct);
  c->callback([&run, ct] { run = [ct] { return RunCtl(*ct); }; });
}

}  // namespace faultline::tools
