#include "runner/ssh.h"

#include <fmt/format.h>

#include <algorithm>
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

// The nodes as the system sees them: their addresses and the client port.
systems::SystemCluster SystemNodes(const cluster::NodesFile& file, std::string name,
                                   std::uint16_t client_port) {
  systems::SystemCluster out;
  out.name = std::move(name);
  for (const cluster::SshNode& n : file.nodes) {
    out.nodes.push_back(
        {.name = n.name, .address = n.address, .port = client_port, .data_dir = {}, .log_dir = {}});
  }
  return out;
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

}  // namespace

std::optional<std::string> SshNodesFilePath(std::string_view cluster) {
  if (!cluster.starts_with("ssh:") || cluster.size() == 4) return std::nullopt;
  return std::string(cluster.substr(4));
}

std::optional<std::string> SshClusterLeader(const cluster::NodesFile& file,
                                            std::uint16_t client_port,
                                            std::chrono::milliseconds /*timeout*/) {
  Result<std::unique_ptr<systems::System>> etcd = systems::OpenSystem("etcd");
  if (!etcd) return std::nullopt;
  return (*etcd)->Leader(SystemNodes(file, "ssh", client_port));
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
  if (config.system != "etcd") {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("{}: --system {}: clusters over ssh run etcd only for now (use "
                                 "--cluster local for other systems)",
                                 ctx, config.system));
  }
  CampaignConfig c = config;
  if (c.nodes != static_cast<int>(nodes.size())) {
    Note(options, fmt::format("cluster {}: {} nodes from the nodes file ({}); --nodes {} does "
                              "not apply to ssh clusters",
                              *path, nodes.size(), fmt::join(nodes, ","), c.nodes));
    if (nodes.size() <= 9) c.nodes = static_cast<int>(nodes.size());
  }
  if (c.leave_db_running) {
    Note(options,
         "--leave-db-running: moot for ssh clusters (the campaign never brings them up "
         "or down)");
  }

  // Both checks fail before a run directory exists: the nodes must answer over ssh, and the
  // etcd members on their client port.
  FAULTLINE_ASSIGN_OR_RETURN(std::unique_ptr<cluster::SshControl> probe_control,
                             cluster::MakeSshControl(file, options.ssh));
  {
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
  }
  // Clusters over ssh run etcd (the nodes file's db commands).
  FAULTLINE_ASSIGN_OR_RETURN(std::unique_ptr<systems::System> system, systems::OpenSystem("etcd"));
  const systems::SystemCluster system_nodes = SystemNodes(file, *path, options.client_port);
  const Status ready = AwaitReady(*system, system_nodes, *probe_control,
                                  Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(
                                                     options.ready_timeout_s * 1000)));
  if (!ready) {
    return MakeError(
        ErrorCode::kUnavailable,
        fmt::format("{}: etcd members on port {} not ready after {:.0f} s: {} (is "
                    "etcd running on every node?)",
                    ctx, options.client_port, options.ready_timeout_s, ready.error().message()));
  }

  FAULTLINE_ASSIGN_OR_RETURN(RunFiles files, MakeRunDir(c));
  nemesis_options.ledger_path = (fs::path(files.dir) / "nemesis.ledger").string();
  // The control whose masters the check above started goes on to serve the nemesis.
  Result<cluster::SshNemesis> ssh =
      cluster::OpenSshNemesis(std::move(probe_control), std::move(nemesis_options));
  if (!ssh) return std::move(ssh).error().WithContext(ctx);

  internal::ClusterCampaign parts;
  parts.nemesis = ssh->nemesis.get();
  parts.nodes = nodes;
  parts.leader = [&]() { return system->Leader(system_nodes); };
  parts.probes.control = ssh->control.get();
  parts.probes.peer_addresses = peer_addresses;
  parts.system = system.get();
  parts.system_nodes = system_nodes;
  nemesis::NodeControl* shell = ssh->control.get();
  parts.wait_ready = [&, shell](Clock::time_point deadline) {
    return static_cast<bool>(AwaitReady(*system, system_nodes, *shell, deadline));
  };
  parts.note = options.note;
  Result<RunReport> report = internal::RunClusterCampaign(c, parts, files, stop, progress);
  if (!report) return report;
  for (std::string& w : CopyNodeFiles(*ssh->control, files)) {
    report->stats.warnings.push_back(std::move(w));
  }
  // The fetched logs are the logs' tails, earlier runs' lines included: scanned whole.
  if (Status scanned = ApplyLogPatterns(*report, c, RunDirNodeLogs(files, nodes, {})); !scanned) {
    return std::move(scanned).error().WithContext(ctx);
  }
  report->text = RenderSummary(*report, c);
  return report;
}

}  // namespace faultline::runner
