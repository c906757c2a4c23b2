#include "runner/ssh.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <utility>
#include <vector>

#include "cluster/nodes_file.h"
#include "cluster/ssh_nemesis.h"
#include "common/parallel.h"
#include "common/shell.h"
#include "runner/generator.h"
#include "runner/internal/cluster_campaign.h"
#include "systems/registry.h"

namespace faultline::runner {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Logs can be large; a campaign's part is at the end.
constexpr long kMaxLogBytes = 64L << 20;

void Note(const SshCampaignOptions& o, std::string_view line) {
  if (o.note) o.note(line);
}

// Returns once the system is ready (ok), or when the deadline passes: Unavailable with what the
// last probe saw.
Status AwaitReady(systems::System& system, const systems::SystemCluster& nodes,
                  nemesis::NodeControl& shell, Clock::time_point deadline) {
  while (true) {
    Status ready = system.Ready(nodes, shell);
    if (ready || Clock::now() >= deadline) return ready;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

// The remote script that prints the node's etcd log (the source on stderr's first line).
std::string LogScript(const cluster::SshNode& node) {
  std::string candidates = "\"$lo\"";
  if (node.db.data_dir) {
    candidates += fmt::format(" {}/../etcd.log", ShellQuote(*node.db.data_dir));
  }
  candidates += " /var/log/etcd.log /var/log/etcd/etcd.log";
  return fmt::format(
      "pid=$( ({}) 2>/dev/null | head -n 1 )\n"
      "lo=\n"
      "if [ -n \"$pid\" ]; then lo=$(tr '\\0' '\\n' < /proc/$pid/cmdline 2>/dev/null | "
      "sed -n 's/^--log-outputs=//p' | head -n 1); fi\n"
      "for f in {}; do\n"
      "  if [ -n \"$f\" ] && [ -f \"$f\" ] && [ -r \"$f\" ]; then echo \"$f\" >&2; "
      "tail -c {} \"$f\"; exit 0; fi\n"
      "done\n"
      "if command -v journalctl >/dev/null 2>&1; then echo 'journalctl -u etcd' >&2; "
      "journalctl -u etcd --no-pager -o short-iso 2>/dev/null | tail -c {}; exit 0; fi\n"
      "echo 'no etcd log found (next to db.data_dir, in /var/log, or in the journal)' >&2\n"
      "exit 1\n",
      node.db.pid, candidates, kMaxLogBytes, kMaxLogBytes);
}

std::string CmdlineScript(const cluster::SshNode& node) {
  return fmt::format(
      "pid=$( ({}) 2>/dev/null | head -n 1 )\n"
      "[ -n \"$pid\" ] || {{ echo 'db.pid printed no pid' >&2; exit 1; }}\n"
      "tr '\\0' '\\n' < /proc/$pid/cmdline\n",
      node.db.pid);
}

std::string FirstLine(std::string_view s) { return std::string(s.substr(0, s.find('\n'))); }

// The nodes file and, per node, its etcd log and flags, under <run>/nodes/. Best effort.
std::vector<std::string> CopyNodeFiles(cluster::SshControl& control, const RunFiles& files) {
  const cluster::NodesFile& file = control.nodes_file();
  std::vector<std::string> warnings;
  std::error_code ec;
  fs::create_directories(files.nodes, ec);
  if (ec) return {fmt::format("node files: create {}: {}", files.nodes, ec.message())};
  std::ofstream(fs::path(files.nodes) / "nodes.json") << cluster::FormatNodesFile(file);
  // Each task returns the node's warnings; a task cannot fail as a whole, so the Result is only
  // for an exception ParallelFor caught.
  std::vector<Result<std::vector<std::string>>> per_node =
      ParallelFor(file.nodes.size(), [&](size_t i) -> Result<std::vector<std::string>> {
        const cluster::SshNode& n = file.nodes[i];
        std::vector<std::string> w;
        const fs::path dir = fs::path(files.nodes) / n.name;
        std::error_code dir_ec;
        fs::create_directories(dir, dir_ec);
        Result<nemesis::CommandOutput> log = control.Run(n.name, LogScript(n));
        if (!log) {
          w.push_back(
              fmt::format("copy etcd log of {} over ssh: {}", n.name, log.error().message()));
        } else if (log->exit_code != 0 || log->out.empty()) {
          w.push_back(fmt::format("copy etcd log of {} over ssh: {}", n.name,
                                  log->exit_code != 0 ? FirstLine(log->err) : "the log is empty"));
        } else {
          std::ofstream(dir / "etcd.log", std::ios::binary) << log->out;
        }
        Result<nemesis::CommandOutput> cmdline = control.Run(n.name, CmdlineScript(n));
        if (!cmdline || cmdline->exit_code != 0) {
          w.push_back(fmt::format("read etcd flags of {} over ssh: {}", n.name,
                                  cmdline ? FirstLine(cmdline->err) : cmdline.error().message()));
        } else {
          std::ofstream(dir / "cmdline.txt") << cmdline->out;
        }
        return w;
      });
  for (size_t i = 0; i < per_node.size(); ++i) {
    if (!per_node[i]) {
      warnings.push_back(
          fmt::format("node files of {}: {}", file.nodes[i].name, per_node[i].error().message()));
      continue;
    }
    for (std::string& line : *per_node[i]) warnings.push_back(std::move(line));
  }
  return warnings;
}

// This run's part of each of the system's log files on every node (from the sizes `before` the
// run, by path per node), copied to nodes/<node>/<file name>; the copies as logs to scan. Best
// effort: warnings say what could not be fetched.
std::vector<checker::NodeLog> CopySystemLogs(
    nemesis::NodeControl& control, systems::System& system, const systems::SystemCluster& nodes,
    const RunFiles& files, const std::map<std::string, std::map<std::string, long>>& before,
    std::vector<std::string>& warnings) {
  std::vector<checker::NodeLog> logs;
  std::error_code ec;
  fs::create_directories(files.nodes, ec);
  for (const systems::SystemNode& n : nodes.nodes) {
    const fs::path dir = fs::path(files.nodes) / n.name;
    fs::create_directories(dir, ec);
    for (const std::string& log : system.LogFiles(nodes, n)) {
      long from = 0;
      if (auto node = before.find(n.name); node != before.end()) {
        if (auto size = node->second.find(log); size != node->second.end()) from = size->second;
      }
      Result<nemesis::CommandOutput> out =
          control.Run(n.name, fmt::format("[ -r {0} ] || exit 3; tail -c +{1} {0} | tail -c {2}",
                                          ShellQuote(log), from + 1, kMaxLogBytes));
      if (!out || out->exit_code != 0) {
        // A log the system names need not exist (commands.log when no command wrote to it).
        if (out && out->exit_code == 3) continue;
        warnings.push_back(fmt::format("copy {} of {} over ssh: {}", log, n.name,
                                       out ? FirstLine(out->err) : out.error().message()));
        continue;
      }
      const fs::path copy = dir / fs::path(log).filename();
      std::ofstream(copy, std::ios::binary) << out->out;
      logs.push_back(checker::NodeLog{.node = n.name, .path = copy.string(), .offset = 0});
    }
  }
  return logs;
}

// The sizes of the system's log files on every node now (0 for a file that does not exist).
std::map<std::string, std::map<std::string, long>> LogSizes(nemesis::NodeControl& control,
                                                            systems::System& system,
                                                            const systems::SystemCluster& nodes) {
  std::map<std::string, std::map<std::string, long>> sizes;
  for (const systems::SystemNode& n : nodes.nodes) {
    for (const std::string& log : system.LogFiles(nodes, n)) {
      Result<nemesis::CommandOutput> out =
          control.Run(n.name, fmt::format("wc -c <{} 2>/dev/null || echo 0", ShellQuote(log)));
      sizes[n.name][log] = out ? std::atol(out->out.c_str()) : 0;
    }
  }
  return sizes;
}

// Makes every node's {data_dir} and {log_dir} over ssh, in parallel; also the proof that every
// node answers.
Status MakeNodeDirs(nemesis::NodeControl& control, const systems::SystemCluster& nodes) {
  std::vector<Status> made = ParallelFor(nodes.nodes.size(), [&](size_t i) -> Status {
    const systems::SystemNode& n = nodes.nodes[i];
    FAULTLINE_ASSIGN_OR_RETURN(
        nemesis::CommandOutput out,
        control.Run(n.name,
                    fmt::format("mkdir -p {} {}", ShellQuote(n.data_dir), ShellQuote(n.log_dir))));
    if (out.exit_code != 0) {
      return MakeError(ErrorCode::kUnavailable,
                       fmt::format("node {}: mkdir -p {} {}: {}", n.name, n.data_dir, n.log_dir,
                                   FirstLine(out.err)));
    }
    return OkStatus();
  });
  for (Status& s : made) FAULTLINE_RETURN_IF_ERROR(s);
  return OkStatus();
}

bool SameSystem(std::string_view a, std::string_view b) {
  if (a == b) return true;
  if (!cluster::NamesSystemFile(a) || !cluster::NamesSystemFile(b)) return false;
  std::error_code ea;
  std::error_code eb;
  const fs::path pa = fs::weakly_canonical(fs::path(a), ea);
  const fs::path pb = fs::weakly_canonical(fs::path(b), eb);
  return !ea && !eb && pa == pb;
}

}  // namespace

Result<bool> StartSshSystem(systems::System& system, const systems::SystemCluster& nodes,
                            nemesis::NodeControl& shell, std::chrono::milliseconds timeout,
                            const systems::Progress& note) {
  const Clock::time_point t0 = Clock::now();
  if (Status made = MakeNodeDirs(shell, nodes); !made) {
    return std::move(made).error().WithContext("ssh");
  }
  const std::string name = system.Info().name;
  if (note) {
    note(fmt::format(
        "ssh: {} nodes answer in {} ms; system {}, clients at {}", nodes.nodes.size(),
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count(), name,
        nodes.Peers()));
  }
  if (system.Ready(nodes, shell)) {
    if (note) {
      note(
          fmt::format("system {}: already serving on every node; used as it is and left "
                      "running",
                      name));
    }
    return false;
  }
  Status up = system.Form(nodes, shell, timeout, note);
  if (!up) {
    Status down = system.Teardown(nodes, shell);
    return MakeError(up.error().code(),
                     fmt::format("{}{}", up.error().message(),
                                 down ? "" : fmt::format(" (also: {})", down.error().message())));
  }
  return true;
}

systems::SystemCluster SshSystemNodes(const cluster::NodesFile& file, std::string name,
                                      int default_port) {
  systems::SystemCluster out;
  out.name = std::move(name);
  for (const cluster::SshNode& n : file.nodes) {
    const std::string base = fmt::format("/var/tmp/faultline/{}/{}", file.cluster, n.name);
    std::string data_dir = n.data_dir;
    if (data_dir.empty()) data_dir = n.db.data_dir.value_or(base + "/data");
    out.nodes.push_back({.name = n.name,
                         .address = cluster::ClientAddress(n),
                         .port = n.client_port != 0 ? n.client_port : default_port,
                         .data_dir = std::move(data_dir),
                         .log_dir = n.log_dir.empty() ? base + "/logs" : n.log_dir});
  }
  return out;
}

Result<std::string> SshSystem(const cluster::NodesFile& file, std::string_view nodes_file_path,
                              std::string_view requested) {
  if (file.system.empty()) return std::string(requested.empty() ? "etcd" : requested);
  if (requested.empty() || SameSystem(file.system, requested)) return file.system;
  return MakeError(ErrorCode::kInvalidArgument,
                   fmt::format("--system {} conflicts with the nodes file {}, whose \"system\" is "
                               "{} (leave --system out, or make them agree)",
                               requested, nodes_file_path, file.system));
}

std::optional<std::string> SshNodesFilePath(std::string_view cluster) {
  if (!cluster.starts_with("ssh:") || cluster.size() == 4) return std::nullopt;
  return std::string(cluster.substr(4));
}

Result<RunReport> RunSshCampaign(const CampaignConfig& config, std::stop_token stop,
                                 const ProgressFn& progress, const SshCampaignOptions& options) {
  FAULTLINE_RETURN_IF_ERROR(ValidateConfig(config));
  const std::optional<std::string> path = SshNodesFilePath(config.cluster);
  if (!path) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("campaign: cluster '{}': expected ssh:FILE, FILE a nodes file "
                                 "(`faultline cluster up --ssh` writes one)",
                                 config.cluster));
  }
  const std::string ctx = fmt::format("campaign: cluster {}", config.cluster);
  for (const FaultKind packet :
       {FaultKind::kLoss, FaultKind::kDuplicate, FaultKind::kReorder, FaultKind::kPacketCorrupt}) {
    if (std::find(config.nemesis.begin(), config.nemesis.end(), packet) == config.nemesis.end()) {
      continue;
    }
    const std::string_view name = nemesis::FaultKindName(packet);
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("{}: --nemesis {}: packet faults over ssh are not "
                                 "implemented (they need the nodes' network namespaces on this "
                                 "machine); leave {} out, e.g. --nemesis partition,kill,pause",
                                 ctx, name, name));
  }
  if (ChangesMembership(config.nemesis)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("{}: --nemesis member-remove: membership changes over ssh are not "
                                 "implemented yet (local clusters only)",
                                 ctx));
  }

  nemesis::NemesisOptions nemesis_options;
  // Open faults are healed by this campaign; the watchdog heals one that outlives this process.
  nemesis_options.deadline =
      std::chrono::milliseconds(static_cast<int64_t>(config.fault_s * 1000) + 30000);
  // The run directory exists only once the nodes file proved readable: a typo makes no run.
  Result<cluster::NodesFile> read = cluster::ReadNodesFile(*path);
  if (!read) return std::move(read).error().WithContext("campaign");
  const cluster::NodesFile file = *std::move(read);
  std::vector<std::string> nodes;
  std::map<std::string, std::string> peer_addresses;
  for (const cluster::SshNode& n : file.nodes) {
    if (n.address.empty()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("{}: node {}: no address (set \"address\" in the nodes file: "
                                   "the IPv4 address etcd's clients and peers reach it at)",
                                   ctx, n.name));
    }
    nodes.push_back(n.name);
    peer_addresses[n.name] = n.address;
  }
  if (!config.isolate_node.empty() &&
      std::find(nodes.begin(), nodes.end(), config.isolate_node) == nodes.end()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("{}: --isolate-node {}: not in the nodes file (nodes {})", ctx,
                                 config.isolate_node, fmt::join(nodes, ",")));
  }
  Result<std::string> named = SshSystem(file, *path, config.system);
  if (!named) return std::move(named).error().WithContext(ctx);
  const std::string system_name = *std::move(named);
  Result<std::unique_ptr<systems::System>> opened =
      systems::OpenSystem(system_name, config.system_options);
  if (!opened) return std::move(opened).error().WithContext(ctx);
  std::unique_ptr<systems::System> system = *std::move(opened);
  const systems::SystemInfo& info = system->Info();
  // etcd: the nodes file's db commands and a cluster the user runs; another system: its own
  // commands, servers this campaign starts and stops.
  const bool etcd = info.local_db == cluster::Db::kEtcd;
  if (Status supported = system->CheckWorkload(WorkloadName(config.workload)); !supported) {
    return std::move(supported).error().WithContext(ctx);
  }
  CampaignConfig c = config;
  c.system = system_name;
  if (c.nodes != static_cast<int>(nodes.size())) {
    Note(options, fmt::format("cluster {}: {} nodes from the nodes file ({}); --nodes {} does "
                              "not apply to ssh clusters",
                              *path, nodes.size(), fmt::join(nodes, ","), c.nodes));
    if (nodes.size() <= 9) c.nodes = static_cast<int>(nodes.size());
  }
  if (c.leave_db_running && etcd) {
    Note(options,
         "--leave-db-running: moot for ssh clusters of etcd (the campaign never brings them up "
         "or down)");
  }
  const systems::SystemCluster system_nodes =
      SshSystemNodes(file, *path, etcd ? options.client_port : info.client_port);

  // Both checks fail before a run directory exists: the nodes must answer over ssh, and the
  // system on its client ports.
  FAULTLINE_ASSIGN_OR_RETURN(std::unique_ptr<cluster::SshControl> probe_control,
                             cluster::MakeSshControl(file, options.ssh));
  const Clock::time_point ready_deadline =
      Clock::now() +
      std::chrono::milliseconds(static_cast<int64_t>(options.ready_timeout_s * 1000));
  bool formed = false;  // servers this campaign started: stopped again at the end
  std::map<std::string, std::map<std::string, long>> log_sizes;  // other systems: before start
  if (etcd) {
    const Clock::time_point t0 = Clock::now();
    Result<std::vector<nemesis::DbProcess>> dbs = probe_control->Databases();
    if (!dbs) return std::move(dbs).error().WithContext(ctx + ": ssh");
    std::vector<std::string> seen;
    for (const nemesis::DbProcess& d : *dbs) {
      seen.push_back(fmt::format("{} {}{}", d.node, d.state,
                                 d.pid != 0 ? fmt::format(" (pid {})", d.pid) : ""));
    }
    Note(options,
         fmt::format(
             "ssh: {} nodes answer in {} ms: {}", dbs->size(),
             std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count(),
             fmt::join(seen, ", ")));
    const Status ready = AwaitReady(*system, system_nodes, *probe_control, ready_deadline);
    if (!ready) {
      return MakeError(
          ErrorCode::kUnavailable,
          fmt::format("{}: etcd members on port {} not ready after {:.0f} s: {} (is "
                      "etcd running on every node?)",
                      ctx, options.client_port, options.ready_timeout_s, ready.error().message()));
    }
  } else {
    // This run's part of each log begins before the servers start.
    log_sizes = LogSizes(*probe_control, *system, system_nodes);
    Result<bool> started = StartSshSystem(*system, system_nodes, *probe_control,
                                          std::chrono::milliseconds(static_cast<int64_t>(
                                              std::max(options.ready_timeout_s, 30.0) * 1000)),
                                          [&](std::string_view line) { Note(options, line); });
    if (!started) return std::move(started).error().WithContext(ctx);
    formed = *started;
  }
  // Stops what this campaign started (not with --leave-db-running); its problems are warnings.
  auto teardown = [&](nemesis::NodeControl& shell, std::vector<std::string>& warnings) {
    if (!formed) return;
    formed = false;
    if (c.leave_db_running) {
      Note(options, fmt::format("system {}: left running (--leave-db-running)", info.name));
      return;
    }
    if (Status down = system->Teardown(system_nodes, shell); !down) {
      warnings.push_back(down.error().WithContext("system stop").message());
    }
  };

  // The system's control (its commands over ssh) does process faults; etcd's forwards to the
  // nodes file's db commands. Declared before `ssh`, so it outlives the nemesis that borrows it.
  std::unique_ptr<nemesis::NodeControl> process_control;
  cluster::SshControl* raw_control = probe_control.get();
  if (!etcd) {
    Result<std::unique_ptr<nemesis::NodeControl>> made =
        system->Control(system_nodes, *raw_control);
    if (!made) {
      std::vector<std::string> ignored;
      teardown(*raw_control, ignored);
      return std::move(made).error().WithContext(ctx);
    }
    process_control = *std::move(made);
    nemesis_options.control = process_control.get();
  }

  Result<RunFiles> made_files = MakeRunDir(c);
  if (!made_files) {
    std::vector<std::string> ignored;
    teardown(*raw_control, ignored);
    return std::move(made_files).error();
  }
  const RunFiles files = *std::move(made_files);
  nemesis_options.ledger_path = (fs::path(files.dir) / "nemesis.ledger").string();
  // The control whose masters the check above started goes on to serve the nemesis.
  Result<cluster::SshNemesis> ssh =
      cluster::OpenSshNemesis(std::move(probe_control), std::move(nemesis_options));
  if (!ssh) {
    // The control went with the failed nemesis: a fresh one stops the servers.
    if (auto again = cluster::MakeSshControl(file, options.ssh)) {
      std::vector<std::string> ignored;
      teardown(**again, ignored);
    }
    return std::move(ssh).error().WithContext(ctx);
  }

  internal::ClusterCampaign parts;
  parts.nemesis = ssh->nemesis.get();
  parts.nodes = nodes;
  parts.leader = [&]() { return system->Leader(system_nodes); };
  parts.probes.control =
      etcd ? static_cast<nemesis::NodeControl*>(ssh->control.get()) : process_control.get();
  parts.probes.peer_addresses = peer_addresses;
  parts.system = system.get();
  parts.system_nodes = system_nodes;
  nemesis::NodeControl* shell = ssh->control.get();
  parts.wait_ready = [&, shell](Clock::time_point deadline) {
    return static_cast<bool>(AwaitReady(*system, system_nodes, *shell, deadline));
  };
  parts.note = options.note;
  Result<RunReport> report = internal::RunClusterCampaign(c, parts, files, stop, progress);
  std::vector<std::string> warnings;
  std::vector<checker::NodeLog> logs;
  if (etcd) {
    if (report) warnings = CopyNodeFiles(*ssh->control, files);
    logs = RunDirNodeLogs(files, nodes, {});
  } else {
    std::error_code ec;
    fs::create_directories(files.nodes, ec);
    std::ofstream(fs::path(files.nodes) / "nodes.json") << cluster::FormatNodesFile(file);
    logs = CopySystemLogs(*ssh->control, *system, system_nodes, files, log_sizes, warnings);
  }
  teardown(*ssh->control, warnings);
  if (!report) {
    if (!warnings.empty()) {
      return Error(report.error().code(), fmt::format("{} (also: {})", report.error().message(),
                                                      fmt::join(warnings, "; ")));
    }
    return report;
  }
  for (std::string& w : warnings) report->stats.warnings.push_back(std::move(w));
  // The fetched logs: etcd's are the logs' tails, earlier runs' lines included, scanned whole;
  // another system's are this run's part.
  if (Status scanned = ApplyLogPatterns(*report, c, std::move(logs)); !scanned) {
    return std::move(scanned).error().WithContext(ctx);
  }
  report->text = RenderSummary(*report, c);
  return report;
}

}  // namespace faultline::runner
