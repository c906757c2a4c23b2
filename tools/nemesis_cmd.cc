// faultline nemesis partition|isolate|isolate-leader|kill|pause|resume|start|restart|member-remove|
// member-add|loss|delay|duplicate|reorder|packet-corrupt|bandwidth|clock-bump|clock-strobe|
// clock-reset|check|heal|status: inject one fault into a cluster by hand (nemesis/nemesis.h), heal
// it, or see what is open. The cluster's system (systems/system.h) names the leader and does
// process and membership faults.
#include <fmt/format.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cluster/cluster.h"
#include "cluster/ssh_nemesis.h"
#include "nemesis/fault.h"
#include "nemesis/grudge.h"
#include "nemesis/machine_check.h"
#include "nemesis/nemesis.h"
#include "nemesis/node_control.h"
#include "runner/ssh.h"
#include "systems/registry.h"
#include "tools/commands.h"

namespace faultline::tools {
namespace {

constexpr int kExitInterrupted = 130;

// Flags every nemesis subcommand takes.
struct Common {
  std::string name = "default";
  std::string cluster;  // "ssh:FILE"
  std::string state_dir;
  std::string ledger;
  std::uint64_t seed = 0;
  bool seed_given = false;
  double deadline_s = 0;
  double hold_s = 0;
  nemesis::BackendKind backend = nemesis::BackendKind::kAuto;  // partition --backend
};

struct FaultArgs {
  std::string grudge;
  std::string mode = "drop";
  std::string backend = "auto";
  std::string target;
  std::string nodes = "all";
  std::string peers;
  bool include_control = false;
  double probability = -1;
  long ms = -1;
  long jitter_ms = 0;
  std::int64_t kbit = 0;
  long offset_ms = 0;
  long period_ms = 0;
};

// Everything a subcommand needs: the cluster's node control, its system, and the Nemesis over
// them. Members are destroyed in reverse order: the Nemesis first, the controls it borrows last.
struct Session {
  // Local clusters only; on the heap, so the system's view of the nodes may point at it.
  std::unique_ptr<cluster::ClusterState> state;
  // The cluster's control: the local supervisor's, or ssh to the nodes file's nodes.
  std::unique_ptr<nemesis::NodeControl> control;
  // The system the cluster runs (null when it is not known: `no_system` says why) and its nodes
  // at their client endpoints, for leader lookups.
  std::unique_ptr<systems::System> system;
  systems::SystemCluster system_nodes;
  std::string no_system;
  // The system's own commands over `control`, for process faults (null: `control` does them).
  std::unique_ptr<nemesis::NodeControl> system_control;
  // The system's membership, for member-remove / member-add and their heals (null: `no_membership`
  // says why).
  std::unique_ptr<nemesis::Membership> membership;
  std::string no_membership;
  std::unique_ptr<nemesis::Nemesis> nemesis;
  std::vector<std::string> nodes;
  std::uint64_t seed = 0;
};

std::vector<std::string> SplitCommas(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    if (comma > start) out.push_back(s.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

// SIGINT and SIGTERM are blocked before any thread starts, so they stay pending while a fault is
// applied and are taken synchronously afterwards: the command heals, then exits.
void BlockTermination() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

// Waits up to `seconds` (forever if negative) for SIGINT/SIGTERM; returns the signal or 0.
int WaitForTermination(double seconds) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  if (seconds < 0) {
    int sig = 0;
    sigwait(&set, &sig);
    return sig;
  }
  const auto whole = static_cast<time_t>(seconds);
  const timespec limit{whole, static_cast<long>((seconds - static_cast<double>(whole)) * 1e9)};
  const int sig = sigtimedwait(&set, nullptr, &limit);
  return sig > 0 ? sig : 0;
}

int PendingTermination() { return WaitForTermination(0); }

// Over ssh the nodes file's "system" (etcd when it names none) is reached at each node's
// client_address:client_port; etcd's processes through the nodes file's db commands, another
// system's through its own commands run over ssh. Membership changes are local only.
Status OpenSshSession(const std::string& file, nemesis::NemesisOptions options, Session& s) {
  FAULTLINE_ASSIGN_OR_RETURN(std::unique_ptr<cluster::SshControl> ssh,
                             cluster::MakeSshControl(file));
  const cluster::NodesFile& nodes_file = ssh->nodes_file();
  for (const cluster::SshNode& n : nodes_file.nodes) s.nodes.push_back(n.name);
  FAULTLINE_ASSIGN_OR_RETURN(std::string name, runner::SshSystem(nodes_file, file, ""));
  FAULTLINE_ASSIGN_OR_RETURN(s.system, systems::OpenSystem(name));
  const systems::SystemInfo& info = s.system->Info();
  s.system_nodes = runner::SshSystemNodes(nodes_file, file, info.client_port);
  if (info.local_db != cluster::Db::kEtcd) {
    FAULTLINE_ASSIGN_OR_RETURN(s.system_control, s.system->Control(s.system_nodes, *ssh));
    options.control = s.system_control.get();
  }
  Result<std::unique_ptr<nemesis::Membership>> membership =
      s.system->Membership(s.system_nodes, options.control ? *options.control : *ssh);
  s.no_membership = membership
                        ? fmt::format(
                              "system {}: membership changes over ssh are not implemented yet "
                              "(local clusters only)",
                              info.name)
                        : membership.error().message();
  FAULTLINE_ASSIGN_OR_RETURN(cluster::SshNemesis opened,
                             cluster::OpenSshNemesis(std::move(ssh), std::move(options)));
  s.control = std::move(opened.control);
  s.nemesis = std::move(opened.nemesis);
  return OkStatus();
}

// A local cluster's system is the one `cluster up --system` recorded (etcd by default); its
// commands do process faults, its membership the membership faults.
Status OpenLocalSystem(nemesis::NemesisOptions& options, Session& s) {
  FAULTLINE_ASSIGN_OR_RETURN(std::string name, systems::LocalSystem(*s.state));
  FAULTLINE_ASSIGN_OR_RETURN(s.system, systems::OpenSystem(name));
  FAULTLINE_ASSIGN_OR_RETURN(s.system_nodes, systems::LocalNodes(*s.state, s.system->Info()));
  FAULTLINE_ASSIGN_OR_RETURN(s.system_control, s.system->Control(s.system_nodes, *s.control));
  options.control = s.system_control.get();
  Result<std::unique_ptr<nemesis::Membership>> membership =
      s.system->Membership(s.system_nodes, *s.system_control);
  if (membership) {
    s.membership = *std::move(membership);
    options.membership = s.membership.get();
  } else {
    s.no_membership = membership.error().message();
  }
  return OkStatus();
}

Result<Session> OpenSession(const Common& c) {
  Session s;
  s.seed =
      c.seed_given
          ? c.seed
          : static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
  nemesis::NemesisOptions options;
  options.heal_on_open = false;  // faults applied by earlier commands stay until `nemesis heal`
  options.deadline = std::chrono::milliseconds(static_cast<std::int64_t>(c.deadline_s * 1000));
  options.backend = c.backend;
  if (!c.cluster.empty()) {
    if (c.cluster.rfind("ssh:", 0) != 0) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("--cluster {}: expected ssh:FILE (a nodes file)", c.cluster));
    }
    const std::string file = c.cluster.substr(4);
    options.ledger_path = c.ledger.empty() ? file + ".nemesis.ledger" : c.ledger;
    FAULTLINE_RETURN_IF_ERROR(OpenSshSession(file, std::move(options), s));
    return s;
  }
  Result<cluster::ClusterState> loaded = cluster::Load(c.name, c.state_dir);
  if (!loaded && !c.ledger.empty()) {
    // A ledger without a cluster (`faultline proxy --ledger`): what needs no node (toxics) is
    // listed and healed; anything else in it fails to heal and says why.
    options.ledger_path = c.ledger;
    s.no_system = loaded.error().message();
    s.no_membership = s.no_system;
    FAULTLINE_ASSIGN_OR_RETURN(s.nemesis, nemesis::Nemesis::Open(options));
    return s;
  }
  if (!loaded) return std::move(loaded).error();
  s.state = std::make_unique<cluster::ClusterState>(*std::move(loaded));
  const cluster::ClusterState& state = *s.state;
  FAULTLINE_ASSIGN_OR_RETURN(s.control, cluster::MakeLocalControl(state));
  options.net = state.NetConfig();
  options.control_address = state.control_address;
  options.ledger_path = c.ledger.empty() ? state.run_dir + "/nemesis.ledger" : c.ledger;
  // Clock faults reach the servers that run under libfaketime with the node's file; each target's
  // process environment is checked before a fault (etcd, a Go program, is refused there).
  for (const auto& n : state.nodes) {
    options.clock.faketime_files[n.name] = nemesis::FaketimeFile(state.run_dir, n.name);
  }
  options.clock.refusal =
      "its servers were not started under libfaketime (a system declares clock: libfaketime "
      "when they read the time through libc; Go programs such as etcd bypass libc)";
  options.control = s.control.get();
  for (const auto& n : options.net.nodes) s.nodes.push_back(n.name);
  if (Status opened = OpenLocalSystem(options, s); !opened) {
    // Healing and partitions need no system: they go on, and what needs one says why not.
    s.system.reset();
    s.system_control.reset();
    options.control = s.control.get();
    s.no_system = opened.error().message();
    s.no_membership = s.no_system;
    if (opened.error().code() != ErrorCode::kNotFound) PrintNote("warning: " + s.no_system);
  }
  FAULTLINE_ASSIGN_OR_RETURN(s.nemesis, nemesis::Nemesis::Open(options));
  return s;
}

// The current leader, asked only when a fault targets it: the system's own leader query at each
// node's client endpoint.
Result<std::optional<std::string>> Leader(Session& s) {
  if (!s.system) return MakeError(ErrorCode::kInvalidArgument, s.no_system);
  return systems::LeaderForFaults(*s.system, s.system_nodes);
}

// Prints a fault's report, then holds it (--for) and heals, healing at once on SIGINT/SIGTERM.
int Finish(Session& s, const Common& c, const Result<nemesis::FaultReport>& report) {
  if (!report) {
    PrintError(report.error().message());
    if (PendingTermination() != 0) {
      std::printf("%s\n", s.nemesis->HealAll().Describe().c_str());
      return kExitInterrupted;
    }
    return kExitError;
  }
  std::printf("%s\n", report->Describe().c_str());
  std::fflush(stdout);
  int sig = PendingTermination();
  if (sig == 0 && c.hold_s > 0) {
    std::printf("holding for %.1f s (Ctrl-C heals now)\n", c.hold_s);
    std::fflush(stdout);
    sig = WaitForTermination(c.hold_s);
  }
  if (sig != 0 || c.hold_s > 0) {
    if (sig != 0) PrintNote(fmt::format("signal {}: healing before exit", sig));
    const nemesis::FaultReport healed = s.nemesis->HealAll();
    std::printf("%s\n", healed.Describe().c_str());
    if (sig != 0) return kExitInterrupted;
    return healed.ok && report->ok ? kExitOk : kExitError;
  }
  if (report->ok && report->ledger_id != 0) {
    std::string where;
    if (!c.cluster.empty()) {
      where = " --cluster " + c.cluster;
    } else if (c.name != "default") {
      where = " --name " + c.name;
    }
    std::printf("recorded as ledger entry #%llu; undo with: faultline nemesis heal%s\n",
                static_cast<unsigned long long>(report->ledger_id), where.c_str());
  }
  return report->ok ? kExitOk : kExitError;
}

// Applies a fault given by a subcommand's flags through nemesis::ApplyFault, the path campaigns
// take too; then as Finish.
int ApplySpec(Session& s, const Common& c, nemesis::FaultSpec spec) {
  spec.seed = s.seed;
  if ((spec.kind == nemesis::FaultKind::kMemberRemove ||
       spec.kind == nemesis::FaultKind::kMemberAdd) &&
      !s.membership) {
    PrintError(fmt::format("nemesis {}: {}", nemesis::FaultKindName(spec.kind), s.no_membership));
    return kExitError;
  }
  std::optional<std::string> leader;
  if (spec.kind == nemesis::FaultKind::kIsolateLeader ||
      spec.targets.find("leader") != std::string::npos ||
      (spec.kind == nemesis::FaultKind::kPartition &&
       spec.grudge.kind == nemesis::GrudgeKind::kLeaderMinority)) {
    auto known = Leader(s);
    if (!known) {
      PrintError(fmt::format("nemesis {}: {}", nemesis::FaultKindName(spec.kind),
                             known.error().message()));
      return kExitError;
    }
    leader = *known;
  }
  return Finish(s, c, nemesis::ApplyFault(*s.nemesis, spec, s.nodes, [&leader] { return leader; }));
}

template <typename Fn>
int WithSession(const Common& c, Fn fn) {
  BlockTermination();
  auto s = OpenSession(c);
  if (!s) {
    PrintError("nemesis: " + s.error().message());
    return kExitError;
  }
  PrintNote(fmt::format("seed {}", s->seed));
  return fn(*s);
}

// Applies the fault kind called `name`, with the fields `fill` sets, in a session.
int ApplyNamed(const Common& c, const std::string& name,
               const std::function<void(nemesis::FaultSpec&)>& fill) {
  auto kind = nemesis::ParseFaultKind(name);
  if (!kind) {
    PrintError(kind.error().message());
    return kExitError;
  }
  return WithSession(c, [&](Session& s) {
    nemesis::FaultSpec fault;
    fault.kind = *kind;
    fill(fault);
    return ApplySpec(s, c, fault);
  });
}

void AddCommon(CLI::App* sub, Common& c) {
  sub->add_option("--name", c.name,
                  "Local cluster name (from `faultline cluster up --name`); default \"default\"");
  sub->add_option("--cluster", c.cluster,
                  "Remote cluster: ssh:FILE, a nodes file (see `faultline cluster up --ssh`) whose "
                  "\"system\" (default etcd) serves at each node's client_address:client_port; "
                  "partitions, process and clock faults");
  sub->add_option("--state-dir", c.state_dir,
                  "Where local clusters are recorded (default $FAULTLINE_STATE_DIR or "
                  "/var/lib/faultline)");
  sub->add_option("--ledger", c.ledger,
                  "Ledger file (default <run_dir>/nemesis.ledger, or FILE.nemesis.ledger for "
                  "ssh:FILE)");
  sub->add_option("--seed", c.seed, "Seed for random choices (grudges, one/minority/majority)")
      ->each([&c](const std::string&) { c.seed_given = true; });
  sub->add_option("--deadline", c.deadline_s,
                  "Seconds after which a watchdog process heals the fault even if nobody else "
                  "does (0 = none)");
  sub->add_option("--for", c.hold_s,
                  "Hold the fault this many seconds, then heal and exit (Ctrl-C heals early); "
                  "without it the fault stays until `faultline nemesis heal`");
}

std::vector<std::string> PeersOf(const FaultArgs& a) { return SplitCommas(a.peers); }

// partition (--grudge), isolate (TARGET), isolate-leader: a cut with --mode and --backend.
int RunCut(Common& common, const FaultArgs& a, nemesis::FaultKind kind) {
  const std::string what = fmt::format("nemesis {}", nemesis::FaultKindName(kind));
  nemesis::FaultSpec fault;
  fault.kind = kind;
  if (kind == nemesis::FaultKind::kPartition) {
    auto spec = nemesis::ParseGrudgeSpec(a.grudge);
    if (!spec) {
      PrintError(what + ": --grudge: " + spec.error().message());
      return kExitError;
    }
    fault.grudge = *spec;
  } else if (kind == nemesis::FaultKind::kIsolate) {
    fault.targets = a.target;
  }
  auto mode = nemesis::ParsePartitionMode(a.mode);
  if (!mode) {
    PrintError(what + ": --mode: " + mode.error().message());
    return kExitError;
  }
  fault.partition_mode = *mode;
  auto backend = nemesis::ParseBackendKind(a.backend);
  if (!backend) {
    PrintError(what + ": --backend: " + backend.error().message());
    return kExitError;
  }
  if (*backend != nemesis::BackendKind::kAuto && !common.cluster.empty()) {
    PrintError(what +
               ": --backend applies to local clusters; over ssh partitions use iptables-restore "
               "through ssh");
    return kExitError;
  }
  // The backend is an option of the Nemesis, so it is chosen before the session opens.
  common.backend = *backend;
  return WithSession(common, [&](Session& s) { return ApplySpec(s, common, fault); });
}

}  // namespace

void RegisterNemesisCommands(CLI::App& app, Action& run) {
  auto* nem = app.add_subcommand(
      "nemesis",
      "Inject a fault by hand: partitions, process faults, packet loss, delay, bandwidth,\n"
      "duplicated, reordered and corrupted packets, clocks.\n"
      "Every fault is written with its inverse to an fsync'd ledger BEFORE it touches a node, so\n"
      "`faultline nemesis heal` undoes it even after a crash of the command that applied it.\n"
      "Faults stay until healed unless --for or --deadline is given. SIGINT/SIGTERM while a\n"
      "command applies or holds a fault heals before it exits (exit code 130).\n"
      "The cluster's system (a local cluster's `cluster up --system`, default etcd; over ssh the\n"
      "nodes file's \"system\", default etcd) does the rest: the leader (isolate-leader,\n"
      "leader-minority, target leader) is what the system names at each node's client endpoint\n"
      "(etcd's Raft leader, ZooKeeper's leader, the primary Redis's Sentinels name; a system\n"
      "without one refuses); kill/pause/restart use its commands (etcd over ssh: the nodes\n"
      "file's db commands); member-remove/member-add its membership (etcd, zookeeper; local\n"
      "clusters only).\n"
      "\n"
      "Examples:\n"
      "  faultline nemesis partition --grudge halves --mode drop\n"
      "  faultline nemesis pause leader --for 10\n"
      "  faultline nemesis isolate-leader --for 10\n"
      "  faultline nemesis loss --probability 0.2 --nodes minority\n"
      "  faultline nemesis delay --ms 50 --jitter-ms 10 --nodes n1 --peers n2,n3\n"
      "  faultline nemesis reorder --probability 0.3 --ms 50 --nodes n1 --for 10\n"
      "  faultline nemesis bandwidth --kbit 1000 --nodes n5 --deadline 60\n"
      "  faultline nemesis clock-bump --offset-ms -2000 --nodes n2 --for 10\n"
      "  faultline nemesis member-remove n2 --for 10\n"
      "  faultline nemesis isolate-leader --cluster ssh:nodes.json --for 10\n"
      "  faultline nemesis check\n"
      "  faultline nemesis status\n"
      "  faultline nemesis heal\n"
      "\n"
      "Exit codes: 0 done, 3 failed (the report says which nodes, and what may be left to heal),\n"
      "130 interrupted (and healed).");
  nem->require_subcommand(1);
  auto common = std::make_shared<Common>();
  auto args = std::make_shared<FaultArgs>();

  auto* part = nem->add_subcommand(
      "partition",
      "Partition the cluster's network according to a grudge.\n"
      "Grudges: isolate:N (cut N off), halves (random halves), majority (a random minority cut\n"
      "off), majorities-ring (every node sees a majority, no two the same), bridge (two halves\n"
      "joined by one node), minority-third, leader-minority (the leader on a minority side),\n"
      "oneway:A>B (B drops what A sends).\n"
      "Modes: drop (silent, connections time out both ways), reject (refused fast),\n"
      "new-only (only new connections are cut: a true one-way partition).\n"
      "Backends: auto probes and picks the fastest that supports the mode; nft, netlink (routes,\n"
      "no new-only), iptables. A new partition replaces the previous one of the same backend.");
  AddCommon(part, *common);
  part->add_option("--grudge", args->grudge, "Grudge spec (see above)")->required();
  part->add_option("--mode", args->mode, "drop, reject or new-only (default drop)");
  part->add_option("--backend", args->backend, "auto, nft, netlink or iptables (default auto)");
  part->callback([&run, common, args] {
    run = [common, args]() -> int {
      return RunCut(*common, *args, nemesis::FaultKind::kPartition);
    };
  });

  const std::string cut_help =
      "Modes and backends as for `nemesis partition`. Over ssh: iptables-restore on each node.";
  auto* isolate = nem->add_subcommand(
      "isolate",
      "Cut TARGET off from every other node (several targets: from each other too).\n"
      "TARGET: node names (n1,n3), one, minority, or leader (as for kill); chosen with --seed.\n" +
          cut_help);
  AddCommon(isolate, *common);
  isolate->add_option("target", args->target, "Node names, one, minority, leader")->required();
  auto* isolate_leader = nem->add_subcommand(
      "isolate-leader",
      "Cut the current leader off from every other node.\n"
      "The leader is the node the cluster's system names at the nodes' client endpoints (etcd's\n"
      "Raft leader, ZooKeeper's leader, the primary Redis's Sentinels name); refused for a\n"
      "system without a leader.\n" +
          cut_help);
  AddCommon(isolate_leader, *common);
  for (auto [sub, kind] : {std::pair{isolate, nemesis::FaultKind::kIsolate},
                           std::pair{isolate_leader, nemesis::FaultKind::kIsolateLeader}}) {
    sub->add_option("--mode", args->mode, "drop, reject or new-only (default drop)");
    sub->add_option("--backend", args->backend, "auto, nft, netlink or iptables (default auto)");
    sub->callback([&run, common, args, kind = kind] {
      run = [common, args, kind]() -> int { return RunCut(*common, *args, kind); };
    });
  }

  // A subcommand that applies one fault kind to a TARGET argument.
  auto add_target_command = [&](const std::string& name, const std::string& help) {
    auto* sub = nem->add_subcommand(name, help);
    AddCommon(sub, *common);
    sub->add_option("target", args->target, "Node names, one, minority, majority, all, leader")
        ->required();
    sub->callback([&run, common, args, name] {
      run = [common, args, name]() -> int {
        return ApplyNamed(*common, name,
                          [&](nemesis::FaultSpec& fault) { fault.targets = args->target; });
      };
    });
  };
  for (const char* action_name : {"kill", "pause", "resume", "start", "restart"}) {
    const std::string name(action_name);
    std::string help = fmt::format(
        "{} the database process of TARGET.\n"
        "Done by the system's commands (etcd: the local cluster's supervisor, or over ssh the\n"
        "nodes file's db commands).\n"
        "TARGET: node names (n1,n3), one, minority, majority, all, or leader (the node the\n"
        "system names as leader at the nodes' client endpoints: etcd's Raft leader, ZooKeeper's\n"
        "leader, the primary Redis's Sentinels name). one/minority/majority are chosen with\n"
        "--seed.\n",
        name == "kill"     ? "SIGKILL"
        : name == "pause"  ? "Pause (SIGSTOP or cgroup freeze)"
        : name == "resume" ? "Resume (SIGCONT or thaw)"
        : name == "start"  ? "Start again"
                           : "Kill, then start again");
    if (name == "kill" || name == "pause") {
      help += fmt::format("Recorded in the ledger: `nemesis heal` {} it.",
                          name == "kill" ? "starts" : "resumes");
    } else {
      help += "Closes the ledger entries of the faults it undoes.";
    }
    add_target_command(name, help);
  }

  for (const char* kind_name : {"member-remove", "member-add"}) {
    const std::string name(kind_name);
    const bool remove = name == "member-remove";
    add_target_command(
        name,
        remove
            ? "Take TARGET out of the cluster's membership.\n"
              "For systems that can change it, on local clusters (over ssh, and for other\n"
              "systems, refused with the reason).\n"
              "etcd: member remove through the JSON gateway, then the member's etcd is killed\n"
              "and its data dir's member/ wiped, as Jepsen's etcd test does; zookeeper:\n"
              "reconfig -remove, kill, wipe. Refused if fewer than a majority of the original\n"
              "nodes would stay members (etcd: one node out at a time). Recorded in the ledger:\n"
              "`nemesis heal` adds the members back (etcd: member add, then start on the empty\n"
              "data dir with --initial-cluster-state existing; zookeeper: reconfig -add; waiting\n"
              "until each has joined).\n"
              "TARGET: node names (n1,n3), one, minority, or leader; chosen with --seed."
            : "Put TARGET back into the cluster's membership (member add, start, wait until it\n"
              "has joined); members already are left alone, so `all` adds every removed node.\n"
              "Closes the ledger entries of the removals it undoes.");
  }

  auto* loss = nem->add_subcommand(
      "loss",
      "Drop packets leaving --nodes toward --peers with a probability.\n"
      "Mechanism: an nft table of faultline's own on each node (`numgen random mod 10000 < N\n"
      "drop` on the output hook). The controller's address is spared unless --include-control.");
  AddCommon(loss, *common);
  loss->add_option("--probability", args->probability, "0..1, e.g. 0.2 for 20%")->required();
  loss->add_option("--nodes", args->nodes, "TARGET (default all)");
  loss->add_option("--peers", args->peers, "Comma-separated nodes (default every other node)");
  loss->add_flag("--include-control", args->include_control, "Also drop toward the controller");
  loss->callback([&run, common, args] {
    run = [common, args]() -> int {
      return WithSession(*common, [&](Session& s) {
        nemesis::FaultSpec fault;
        fault.kind = nemesis::FaultKind::kLoss;
        fault.targets = args->nodes;
        fault.peers = PeersOf(*args);
        fault.include_control = args->include_control;
        fault.probability = args->probability;
        return ApplySpec(s, *common, fault);
      });
    };
  });

  auto* delay = nem->add_subcommand(
      "delay",
      "Hold packets leaving --nodes toward --peers for --ms ± --jitter-ms.\n"
      "Mechanism (the kernel has no netem): an iptables chain of faultline's own sends them to\n"
      "NFQUEUE (with --queue-bypass: if the helper dies, packets pass), and the\n"
      "faultline-nemesis-helper process holds each one, then lets it go. Jitter reorders.");
  AddCommon(delay, *common);
  delay->add_option("--ms", args->ms, "Delay in milliseconds")->required();
  delay->add_option("--jitter-ms", args->jitter_ms, "Uniform jitter, at most --ms (default 0)");
  delay->add_option("--nodes", args->nodes, "TARGET (default all)");
  delay->add_option("--peers", args->peers, "Comma-separated nodes (default every other node)");
  delay->add_flag("--include-control", args->include_control, "Also delay toward the controller");
  delay->callback([&run, common, args] {
    run = [common, args]() -> int {
      return WithSession(*common, [&](Session& s) {
        nemesis::FaultSpec fault;
        fault.kind = nemesis::FaultKind::kDelay;
        fault.targets = args->nodes;
        fault.peers = PeersOf(*args);
        fault.include_control = args->include_control;
        fault.delay = std::chrono::milliseconds(args->ms);
        fault.jitter = std::chrono::milliseconds(args->jitter_ms);
        return ApplySpec(s, *common, fault);
      });
    };
  });

  // duplicate, reorder, packet-corrupt: a share of the packets, through NFQUEUE as delay.
  struct Mangling {
    const char* name;
    const char* help;
  };
  for (const Mangling& m :
       {Mangling{"duplicate",
                 "Send a share (--probability) of the packets leaving --nodes toward --peers\n"
                 "twice. Mechanism: the NFQUEUE chain of delay; the helper accepts each packet\n"
                 "and sends a copy through a raw socket with SO_MARK 0xfa17d0d0, which the\n"
                 "queue rule skips (the copy is not queued and copied again).\n"
                 "Example: faultline nemesis duplicate --probability 0.2 --nodes n1"},
        Mangling{"reorder",
                 "Hold a share (--probability) of the packets leaving --nodes toward --peers\n"
                 "for --ms ± --jitter-ms while the others pass at once, so later packets\n"
                 "overtake them (unlike delay, which holds every packet). Mechanism: the\n"
                 "NFQUEUE chain and helper of delay.\n"
                 "Example: faultline nemesis reorder --probability 0.3 --ms 50 --nodes n1"},
        Mangling{"packet-corrupt",
                 "Flip one bit in the payload of a share (--probability) of the packets\n"
                 "leaving --nodes toward --peers (`corrupt` is file corruption in drills).\n"
                 "Headers stay intact and the TCP/UDP/ICMP checksum is RECOMPUTED, so the\n"
                 "damaged bytes reach the application: with a bad checksum the receiver would\n"
                 "drop the packet, and the fault would be only `loss`.\n"
                 "Mechanism: the NFQUEUE chain and helper of delay.\n"
                 "Example: faultline nemesis packet-corrupt --probability 0.05 --nodes n2"}}) {
    const std::string name = m.name;
    auto* sub = nem->add_subcommand(name, std::string(m.help) +
                                              "\nThe heal that ends it prints what the helper "
                                              "counted (packets_seen, packets_" +
                                              (name == "duplicate" ? "duplicated"
                                               : name == "reorder" ? "reordered"
                                                                   : "corrupted") +
                                              ").");
    AddCommon(sub, *common);
    sub->add_option("--probability", args->probability, "Share of the packets, 0..1")->required();
    if (name == "reorder") {
      sub->add_option("--ms", args->ms, "How long a chosen packet is held, in ms")->required();
      sub->add_option("--jitter-ms", args->jitter_ms, "Uniform jitter, at most --ms (default 0)");
    }
    sub->add_option("--nodes", args->nodes, "TARGET (default all)");
    sub->add_option("--peers", args->peers, "Comma-separated nodes (default every other node)");
    sub->add_flag("--include-control", args->include_control, "Also toward the controller");
    sub->callback([&run, common, args, name] {
      run = [common, args, name]() -> int {
        return ApplyNamed(*common, name, [&](nemesis::FaultSpec& fault) {
          fault.targets = args->nodes;
          fault.peers = PeersOf(*args);
          fault.include_control = args->include_control;
          fault.probability = args->probability;
          if (fault.kind == nemesis::FaultKind::kReorder) {
            fault.delay = std::chrono::milliseconds(args->ms);
            fault.jitter = std::chrono::milliseconds(args->jitter_ms);
          }
        });
      };
    });
  }

  auto* bw = nem->add_subcommand(
      "bandwidth",
      "Limit what --nodes send to --kbit kbit/s.\n"
      "Mechanism: tbf as the root qdisc of the node's eth0, handle fa17: (refused on a node whose\n"
      "device already has a root qdisc faultline did not make). Shaping is egress only.");
  AddCommon(bw, *common);
  bw->add_option("--kbit", args->kbit, "Rate in kbit/s")->required();
  bw->add_option("--nodes", args->nodes, "TARGET (default all)");
  bw->callback([&run, common, args] {
    run = [common, args]() -> int {
      return WithSession(*common, [&](Session& s) {
        nemesis::FaultSpec fault;
        fault.kind = nemesis::FaultKind::kBandwidth;
        fault.targets = args->nodes;
        fault.kbit = args->kbit;
        return ApplySpec(s, *common, fault);
      });
    };
  });

  const std::string clock_help =
      "Mechanism: on a local cluster, libfaketime. The servers of a system that reads the time\n"
      "through libc and declares it (a system file with \"clock\": \"libfaketime\", such as\n"
      "examples/kv/kv.json; Redis; ZooKeeper) are, when the run plans clock faults,\n"
      "started with LD_PRELOAD=libfaketime.so.1 and FAKETIME_TIMESTAMP_FILE=<run_dir>/<node>/\n"
      "faketime.rc, which they reread on every call; only they see the offset (this machine's\n"
      "clock is never touched; CLOCK_MONOTONIC is not faked). etcd, a Go program, reads the clock\n"
      "without libc and is refused (a JVM runs with FAKETIME_FORCE_MONOTONIC_FIX=0, without\n"
      "which its timed waits spin). Over ssh (--cluster ssh:FILE): `date -s` on the node, its\n"
      "NTP service (systemd-timesyncd, chrony, ntpd) stopped for the fault and started again by\n"
      "the heal, as Jepsen does; refused when the node shares this machine's kernel (same\n"
      "boot_id, as the local SSH test cluster does). Note: a jump puts Redis Sentinel into TILT\n"
      "mode for 30 s. Offsets are from the true time (a second bump replaces the first);\n"
      "`nemesis clock-reset` or `nemesis heal` gives the true time back, also after a crash.";
  auto* bump = nem->add_subcommand(
      "clock-bump",
      "Move the wall clock of --nodes by --offset-ms (negative: back).\n" + clock_help);
  AddCommon(bump, *common);
  bump->add_option("--offset-ms", args->offset_ms, "Milliseconds, e.g. 2000 or -500")->required();
  bump->add_option("--nodes", args->nodes, "TARGET (default all)");
  auto* strobe = nem->add_subcommand(
      "clock-strobe",
      "Alternate the wall clock of --nodes between +--offset-ms and the true time every\n"
      "--period-ms (a helper process rewrites the timestamp files; over ssh a loop on the "
      "node).\n" +
          clock_help);
  AddCommon(strobe, *common);
  strobe->add_option("--offset-ms", args->offset_ms, "Milliseconds")->required();
  strobe->add_option("--period-ms", args->period_ms, "Milliseconds each state lasts (>= 10)")
      ->required();
  strobe->add_option("--nodes", args->nodes, "TARGET (default all)");
  auto* reset = nem->add_subcommand(
      "clock-reset",
      "Give --nodes the true time again: heals the clock faults open on them (and on a local\n"
      "cluster writes +0 into their timestamp files).");
  AddCommon(reset, *common);
  reset->add_option("--nodes", args->nodes, "TARGET (default all)");
  for (auto [sub, kind] : {std::pair{bump, nemesis::FaultKind::kClockBump},
                           std::pair{strobe, nemesis::FaultKind::kClockStrobe},
                           std::pair{reset, nemesis::FaultKind::kClockReset}}) {
    sub->callback([&run, common, args, kind = kind] {
      run = [common, args, kind]() -> int {
        return WithSession(*common, [&](Session& s) {
          nemesis::FaultSpec fault;
          fault.kind = kind;
          fault.targets = args->nodes;
          if (kind != nemesis::FaultKind::kClockReset) {
            fault.clock_offset = std::chrono::milliseconds(args->offset_ms);
          }
          if (kind == nemesis::FaultKind::kClockStrobe) {
            fault.clock_period = std::chrono::milliseconds(args->period_ms);
          }
          return ApplySpec(s, *common, fault);
        });
      };
    });
  }

  auto* check = nem->add_subcommand(
      "check",
      "The machine check that runs before faults: whether this machine has FUSE (/dev/fuse, the\n"
      "kernel's fuse, fusermount3), libfaketime (libfaketime.so.1) and NFQUEUE (nfnetlink_queue,\n"
      "iptables), each with what is missing and how to install it. Campaigns refuse fault kinds\n"
      "whose needs are missing before they bring a cluster up. Exit 0 when all are present.");
  check->callback([&run] {
    run = []() -> int {
      const std::vector<nemesis::MachineFact> facts = nemesis::CheckMachine();
      std::printf("%s", nemesis::DescribeMachine(facts).c_str());
      const bool all = std::all_of(facts.begin(), facts.end(),
                                   [](const nemesis::MachineFact& f) { return f.ok; });
      return all ? kExitOk : kExitError;
    };
  });

  auto* heal = nem->add_subcommand(
      "heal",
      "Heal every fault open in the ledger, whoever applied it.\n"
      "Partitions removed, packet-fault rules, qdiscs and helper processes removed, paused\n"
      "processes resumed, killed ones started again. Idempotent: what is already gone counts as\n"
      "healed. Exit 0 when everything healed and was closed in the ledger.");
  AddCommon(heal, *common);
  heal->callback([&run, common] {
    run = [common]() -> int {
      return WithSession(*common, [&](Session& s) {
        const nemesis::FaultReport report = s.nemesis->HealAll();
        std::printf("%s\n", report.Describe().c_str());
        return report.ok ? kExitOk : kExitError;
      });
    };
  });

  auto* status = nem->add_subcommand(
      "status",
      "List the faults open in the ledger, with the mechanism each used and its owner.\n"
      "With --grudge SPEC, also show which node would drop whom for this cluster (nothing is\n"
      "applied), e.g. `faultline nemesis status --grudge bridge --seed 3`.");
  AddCommon(status, *common);
  status->add_option("--grudge", args->grudge, "A grudge spec to preview");
  status->callback([&run, common, args] {
    run = [common, args]() -> int {
      return WithSession(*common, [&](Session& s) {
        if (auto recovered = s.nemesis->recovered()) {
          std::printf("%s\n", recovered->Describe().c_str());
        }
        auto open = s.nemesis->OpenFaults();
        if (!open) {
          PrintError("nemesis status: " + open.error().message());
          return kExitError;
        }
        if (open->empty()) std::printf("no open faults\n");
        for (const auto& line : *open) std::printf("%s\n", line.c_str());
        if (!args->grudge.empty()) {
          auto spec = nemesis::ParseGrudgeSpec(args->grudge);
          if (!spec) {
            PrintError("nemesis status: --grudge: " + spec.error().message());
            return kExitError;
          }
          auto grudge = nemesis::MakeGrudge(*spec, s.nodes, s.seed);
          if (!grudge) {
            PrintError("nemesis status: " + grudge.error().message());
            return kExitError;
          }
          std::printf("grudge %s: %s\n", nemesis::GrudgeSpecString(*spec).c_str(),
                      nemesis::DescribeGrudge(*grudge).c_str());
        }
        return kExitOk;
      });
    };
  });
}

}  // namespace faultline::tools
