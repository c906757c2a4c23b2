#include "runner/local.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "cluster/cluster.h"
#include "cluster/session.h"
#include "nemesis/disk.h"
#include "nemesis/machine_check.h"
#include "nemesis/nemesis.h"
#include "runner/generator.h"
#include "runner/internal/cluster_campaign.h"
#include "systems/registry.h"

namespace faultline::runner {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

void Note(const LocalCampaignOptions& o, std::string_view line) {
  if (o.note) o.note(line);
}

// The cluster answers when the system says every node serves clients (etcd: every member healthy
// and a majority agrees on a leader).
bool WaitReady(systems::System& system, const systems::SystemCluster& nodes,
               nemesis::NodeControl& shell, std::chrono::steady_clock::time_point deadline) {
  while (true) {
    if (system.Ready(nodes, shell)) return true;  // what was missing is not needed here
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

// Each node's log files (System::LogFiles: etcd's log, or the files a system names) and, for
// etcd, the flags it ran with, under <run>/nodes/<node>/; the cluster state too.
std::vector<std::string> CopyNodeFiles(const cluster::ClusterState& state, const RunFiles& files,
                                       const systems::System& system,
                                       const systems::SystemCluster& nodes) {
  std::vector<std::string> warnings;
  std::error_code ec;
  fs::create_directories(files.nodes, ec);
  for (const cluster::NodeState& n : state.nodes) {
    const fs::path dir = fs::path(files.nodes) / n.name;
    fs::create_directories(dir, ec);
    for (const systems::SystemNode& sn : nodes.nodes) {
      if (sn.name != n.name) continue;
      for (const std::string& log : system.LogFiles(nodes, sn)) {
        if (!fs::exists(log)) continue;
        fs::copy_file(log, dir / fs::path(log).filename(), fs::copy_options::overwrite_existing,
                      ec);
        if (ec) warnings.push_back(fmt::format("copy {}: {}", log, ec.message()));
      }
    }
    if (state.db != cluster::Db::kEtcd) continue;
    Json flags;
    flags["name"] = n.name;
    flags["address"] = n.address;
    flags["client_url"] = n.ClientUrl();
    flags["peer_url"] = n.PeerUrl();
    flags["data_dir"] = n.data_dir;
    flags["heartbeat_interval_ms"] = state.etcd.heartbeat_ms;
    flags["election_timeout_ms"] = state.etcd.election_ms;
    flags["pre_vote"] = state.etcd.pre_vote;
    flags["snapshot_count"] = state.etcd.snapshot_count;
    flags["experimental_corrupt_check"] = state.etcd.corrupt_check;
    flags["extra_flags"] = state.etcd.extra_flags;
    std::ofstream(dir / "flags.json") << flags.dump(2) << "\n";
  }
  for (const char* name : {"cluster.json", "supervisor.log"}) {
    const fs::path from = fs::path(state.run_dir) / name;
    if (fs::exists(from)) {
      fs::copy_file(from, fs::path(files.nodes) / name, fs::copy_options::overwrite_existing, ec);
    }
  }
  return warnings;
}

// Node name -> the address its peers reach it at, for the fault probes.
std::map<std::string, std::string> PeerAddresses(const cluster::ClusterState& state) {
  std::map<std::string, std::string> out;
  for (const cluster::NodeState& n : state.nodes) out[n.name] = n.address;
  return out;
}

}  // namespace

Result<RunReport> RunLocalCampaign(const CampaignConfig& config, std::stop_token stop,
                                   const ProgressFn& progress,
                                   const LocalCampaignOptions& options) {
  FAULTLINE_RETURN_IF_ERROR(ValidateConfig(config));
  if (config.cluster != "local") {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("campaign: cluster '{}': RunLocalCampaign runs local clusters "
                                 "only (ssh:FILE clusters: RunSshCampaign, runner/ssh.h)",
                                 config.cluster));
  }
  FAULTLINE_ASSIGN_OR_RETURN(std::unique_ptr<systems::System> system,
                             systems::OpenSystem(config.system, config.system_options));
  FAULTLINE_RETURN_IF_ERROR(system->CheckWorkload(WorkloadName(config.workload)));
  const systems::SystemInfo& info = system->Info();
  if (Status clock = systems::CheckClockFaults(info, config.nemesis, true); !clock) {
    return std::move(clock).error().WithContext("campaign: --nemesis");
  }
  // The machine check that runs before faults: what the chosen kinds need must be here.
  if (Status machine = nemesis::RequireMachine(config.nemesis, true, nemesis::CheckMachine());
      !machine) {
    return std::move(machine).error().WithContext("campaign: --nemesis");
  }
  FAULTLINE_ASSIGN_OR_RETURN(RunFiles files, MakeRunDir(config));

  // The cluster of that name if it is up (left up), else one of our own, torn down after the run
  // or, if this process dies first, by its supervisor.
  cluster::ClusterSpec spec;
  spec.name = config.name;
  spec.nodes = config.nodes;
  spec.db = info.local_db;
  spec.state_root = options.state_root;
  if (!cluster::Load(config.name, options.state_root)) {
    Note(options,
         fmt::format("cluster {}: bringing up {} {} nodes", config.name, config.nodes, info.name));
  }
  Result<cluster::Session> session =
      cluster::Session::Open(spec, [&](std::string_view line) { Note(options, line); });
  if (!session) return std::move(session).error().WithContext("campaign: cluster up");
  const cluster::ClusterState* state = &session->state();
  if (!session->owned()) {
    Note(options, fmt::format("cluster {}: already up ({} nodes), using it and leaving it up",
                              config.name, state->nodes.size()));
  }

  // The cluster's own control runs the system's commands on the nodes.
  Result<systems::SystemCluster> nodes = systems::LocalNodes(*state, info);
  Result<std::unique_ptr<nemesis::NodeControl>> shell =
      nodes ? cluster::MakeLocalControl(*state)
            : Result<std::unique_ptr<nemesis::NodeControl>>(nodes.error());
  bool formed = false;  // servers this campaign started, stopped again at teardown

  auto teardown = [&](std::vector<std::string>& warnings) {
    const bool keep = config.leave_db_running;
    if (session->owned() && keep) {
      Note(options, fmt::format("cluster {}: left running", config.name));
    }
    if (formed && !keep && shell && nodes) {
      Status stopped = system->Teardown(*nodes, **shell);
      if (!stopped.has_value())
        warnings.push_back(stopped.error().WithContext("system stop").message());
    }
    Result<cluster::DownReport> down = session->Close(keep);
    if (!down) warnings.push_back(down.error().WithContext("cluster down").message());
  };

  Result<RunReport> report = [&]() -> Result<RunReport> {
    if (!shell) return shell.error();
    if (std::any_of(config.nemesis.begin(), config.nemesis.end(), nemesis::IsClockFaultKind)) {
      FAULTLINE_RETURN_IF_ERROR(systems::PrepareClockFiles(*nodes, info));
    }
    if (session->owned()) {
      formed = true;
      // A cluster left running (--leave-db-running) tells later commands (`faultline nemesis`,
      // `cluster down`) which system it runs.
      if (info.local_db != cluster::Db::kEtcd) {
        FAULTLINE_RETURN_IF_ERROR(systems::RecordLocalSystem(*state, config.system));
      }
      FAULTLINE_RETURN_IF_ERROR(
          system->Form(*nodes, **shell,
                       std::chrono::milliseconds(static_cast<int64_t>(config.final_phase_s * 1000)),
                       [&](std::string_view line) { Note(options, line); }));
    }
    FAULTLINE_ASSIGN_OR_RETURN(std::unique_ptr<nemesis::NodeControl> control,
                               system->Control(*nodes, **shell));
    // Membership changes (member-remove, member-add) for a system that has them; a schedule
    // asking for them on one that has not stops here, with the system's reason.
    Result<std::unique_ptr<nemesis::Membership>> membership = system->Membership(*nodes, *control);
    if (!membership && ChangesMembership(config.nemesis)) {
      return std::move(membership).error().WithContext("campaign: --nemesis");
    }
    nemesis::NemesisOptions nemesis_options;
    nemesis_options.membership = membership ? membership->get() : nullptr;
    nemesis_options.net = state->NetConfig();
    nemesis_options.ledger_path = (fs::path(files.dir) / "nemesis.ledger").string();
    nemesis_options.control = control.get();
    // If this process dies, the watchdog heals a fault that has lasted far beyond its schedule.
    nemesis_options.deadline =
        std::chrono::milliseconds(static_cast<int64_t>(config.fault_s * 1000) + 30000);
    nemesis_options.control_address = state->control_address;
    nemesis_options.clock = systems::LocalClockAccess(*nodes, info);
    FAULTLINE_ASSIGN_OR_RETURN(std::unique_ptr<nemesis::Nemesis> nemesis,
                               nemesis::Nemesis::Open(nemesis_options));
    const cluster::ClusterState& st = *state;
    internal::ClusterCampaign parts;
    parts.nemesis = nemesis.get();
    parts.nodes = st.NodeNames();
    parts.leader = [&]() { return system->Leader(*nodes); };
    parts.probes.control = control.get();
    parts.probes.peer_addresses = PeerAddresses(st);
    parts.system = system.get();
    parts.system_nodes = *nodes;
    parts.wait_ready = [&](std::chrono::steady_clock::time_point deadline) {
      return WaitReady(*system, *nodes, **shell, deadline);
    };
    parts.note = options.note;
    // Disk fault kinds: the faulty filesystem over every node's data dir, for this run. The
    // databases are restarted onto it; it is unmounted (lazily) when the run ends.
    std::unique_ptr<nemesis::DiskFaults> disks;
    const bool disk_kinds = std::any_of(config.nemesis.begin(), config.nemesis.end(),
                                        [](FaultKind k) { return nemesis::IsDiskFaultKind(k); });
    if (disk_kinds || config.disk) {
      nemesis::DiskFaults::Options disk_options{.ledger_path = nemesis_options.ledger_path,
                                                .run_id = nemesis_options.net.run_id,
                                                .nodes = {},
                                                .control = control.get()};
      for (const systems::SystemNode& sn : nodes->nodes) {
        disk_options.nodes.push_back(
            nemesis::DiskNode{.node = sn.name,
                              .dir = sn.data_dir,
                              .socket = (fs::path(st.run_dir) / sn.name / "disk.sock").string()});
      }
      FAULTLINE_ASSIGN_OR_RETURN(disks, nemesis::DiskFaults::Open(std::move(disk_options)));
      FAULTLINE_ASSIGN_OR_RETURN(nemesis::FaultReport mounted, disks->Mount());
      Note(options, fmt::format("disk: {} ({:.0f} ms)\n  {}", mounted.description,
                                (mounted.end_mono_ns - mounted.start_mono_ns) / 1e6,
                                fmt::join(mounted.details, "\n  ")));
      if (!mounted.ok) return MakeError(ErrorCode::kUnavailable, "campaign: " + mounted.Describe());
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      if (!WaitReady(*system, *nodes, **shell, deadline)) {
        (void)disks->Unmount();
        return MakeError(ErrorCode::kUnavailable,
                         "campaign: the cluster did not answer after moving onto the faulty "
                         "filesystem");
      }
      parts.disks = disks.get();
    }
    // Where this run's part of each node's log begins (a cluster left up serves many runs), and
    // where CopyNodeFiles puts its copy in the run directory, which is what is scanned.
    std::vector<checker::NodeLog> node_logs;
    for (const systems::SystemNode& sn : nodes->nodes) {
      for (const std::string& log : system->LogFiles(*nodes, sn)) {
        node_logs.push_back(checker::NodeLog{
            .node = sn.name,
            .path = (fs::path(files.nodes) / sn.name / fs::path(log).filename()).string(),
            .offset = checker::LogOffsetNow(log)});
      }
    }
    Result<RunReport> ran = internal::RunClusterCampaign(config, parts, files, stop, progress);
    if (disks) {
      nemesis::FaultReport unmounted = disks->Unmount();
      if (!unmounted.ok) Note(options, "warning: " + unmounted.Describe());
    }
    if (!ran) return std::move(ran).error();
    RunReport r = std::move(*ran);
    for (std::string& w : CopyNodeFiles(st, files, *system, *nodes))
      r.stats.warnings.push_back(std::move(w));
    // The copies of the logs scanned: the system's log files that exist (etcd's always does).
    std::vector<checker::NodeLog> scanned;
    for (checker::NodeLog& log : node_logs) {
      if (fs::exists(log.path)) scanned.push_back(std::move(log));
    }
    FAULTLINE_RETURN_IF_ERROR(ApplyLogPatterns(r, config, std::move(scanned)));
    return r;
  }();
  std::vector<std::string> warnings;
  teardown(warnings);
  if (!report) {
    if (!warnings.empty()) {
      return Error(report.error().code(), fmt::format("{} (also: {})", report.error().message(),
                                                      fmt::join(warnings, "; ")));
    }
    return report;
  }
  for (std::string& w : warnings) report->stats.warnings.push_back(std::move(w));
  report->text = RenderSummary(*report, config);
  return report;
}

}  // namespace faultline::runner
