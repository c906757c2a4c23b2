// RunWave: one cluster, one ledger, one log; the drill, the campaign and the FIT experiment each on
// its own thread; then the checks, where the parts touched, and the run directory.
#include "wave/wave.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "checker/log_patterns.h"
#include "client/client.h"
#include "cluster/cluster.h"
#include "common/file.h"
#include "common/ports.h"
#include "dirt/cluster_session.h"
#include "fit/ci.h"
#include "history/fields.h"
#include "history/log.h"
#include "nemesis/drill_faults.h"
#include "nemesis/ledger.h"
#include "nemesis/nemesis.h"
#include "systems/registry.h"

namespace faultline::wave {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// The run id of the campaign's nemesis: the cluster's ("fl<name>") with a "c", so its partitions
// live in a table of their own and its entries are told apart from the drill's (at most 16
// characters, as NetConfig requires).
std::string CampaignRunId(const std::string& cluster_run_id) {
  return cluster_run_id.substr(0, 15) + "c";
}

// The campaign's view of the shared nemesis: faults as MakeNemesisInjector applies and probes
// them, but a heal heals only the entries of the campaign's own run id, never the drill's crashes
// and pauses or the FIT experiment's toxics that share the ledger.
class CampaignInjector final : public runner::FaultInjector {
 public:
  CampaignInjector(std::unique_ptr<runner::FaultInjector> inner,
                   std::unique_ptr<nemesis::DrillFaults> healer, std::string run_id)
      : inner_(std::move(inner)), healer_(std::move(healer)), run_id_(std::move(run_id)) {}

  std::vector<std::string> Nodes() const override { return inner_->Nodes(); }
  Result<nemesis::FaultReport> Apply(const nemesis::FaultSpec& spec) override {
    return inner_->Apply(spec);
  }
  nemesis::FaultReport HealAll() override {
    const std::string& id = run_id_;
    return healer_->Heal([&id](const nemesis::LedgerEntry& e) {
      return e.run_id == id && nemesis::OwnedByThisProcess(e);
    });
  }
  runner::FaultProbe Probe(const nemesis::FaultSpec& spec,
                           const nemesis::FaultReport& report) override {
    return inner_->Probe(spec, report);
  }

 private:
  std::unique_ptr<runner::FaultInjector> inner_;
  std::unique_ptr<nemesis::DrillFaults> healer_;
  std::string run_id_;
};

// Waits `delay` or until stop; false when stopped.
bool Delay(std::chrono::milliseconds delay, std::stop_token stop) {
  if (delay.count() <= 0) return !stop.stop_requested();
  std::mutex m;
  std::condition_variable_any cv;
  std::unique_lock lock(m);
  cv.wait_for(lock, stop, delay, [] { return false; });
  return !stop.stop_requested();
}

// The cluster answers when every node is healthy and a majority agrees on a leader.
bool WaitReady(const cluster::ClusterState& state, Clock::time_point deadline) {
  while (true) {
    Result<cluster::ClusterStatus> s = cluster::ProbeStatus(state);
    if (s && s->leader) {
      const bool all = std::all_of(s->nodes.begin(), s->nodes.end(),
                                   [](const cluster::NodeStatus& n) { return n.healthy; });
      if (all) return true;
    }
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

Status PrepareDir(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return MakeError(ErrorCode::kUnavailable,
                     fmt::format("wave: create {}: {}", dir, ec.message()));
  }
  for (const char* name : {"results.json", "history.log"}) {
    if (fs::exists(fs::path(dir) / name)) {
      return MakeError(
          ErrorCode::kInvalidArgument,
          fmt::format("wave: {} already holds a run ({} exists; choose another --out)", dir, name));
    }
  }
  return OkStatus();
}

std::string WaveMeta(const Scenario& s, const cluster::ClusterState& state) {
  Json j;
  j["faultline"]["format"] = 1;
  j["faultline"]["wave"] = Json{{"scenario", s.id},
                                {"title", s.title},
                                {"source", s.source},
                                {"cluster", state.name},
                                {"nodes", state.NodeNames()},
                                {"drill", s.drill.id},
                                {"campaign", Json::parse(runner::ConfigToJson(s.campaign))},
                                {"fit", s.fit.id}};
  return j.dump();
}

bool HasExtra(const history::Op& op, std::string_view name) {
  return op.FindExtra(name) != nullptr;
}

// The first drill step that killed processes (crash or kill): its window on the log's clock and
// the nodes it hit, read from the log (the step's invocation and its completion).
std::optional<std::pair<Window, std::vector<std::string>>> KillWindow(const history::History& h) {
  for (size_t i = 0; i < h.size(); ++i) {
    const history::Op& op = h[i];
    if (op.process != history::Process::Nemesis() || (op.f != "crash" && op.f != "kill")) continue;
    if (!HasExtra(op, history::field::kStep) || HasExtra(op, history::field::kSource)) continue;
    // The step's completion: the next nemesis op of the same f with :step and :source.
    for (size_t k = i + 1; k < h.size(); ++k) {
      const history::Op& done = h[k];
      if (done.process != op.process || done.f != op.f ||
          !HasExtra(done, history::field::kSource) || !HasExtra(done, history::field::kStep)) {
        continue;
      }
      std::vector<std::string> nodes;
      if (const history::Value* v = done.FindExtra(history::field::kNodes);
          v != nullptr && v->is_sequential()) {
        for (const history::Value& n : v->items()) {
          if (n.is_string()) nodes.push_back(n.text());
        }
      }
      Window w{
          .start_s = static_cast<double>(op.time_ns) / 1e9,
          .end_s = static_cast<double>(done.time_ns) / 1e9,
          .what = fmt::format("drill step {}: {} {}", op.FindExtra(history::field::kStep)->ToEdn(),
                              op.f, fmt::join(nodes, ","))};
      return std::pair(std::move(w), std::move(nodes));
    }
  }
  return std::nullopt;
}

// The wave's records of the ledger (ids after `first`) copied to `to`; the ids still open.
Result<std::vector<std::uint64_t>> CopyLedger(const std::string& from, const std::string& to,
                                              std::uint64_t first) {
  FAULTLINE_ASSIGN_OR_RETURN(std::string text, ReadFile(from));
  std::string out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    try {
      const auto j = nlohmann::json::parse(line);
      if (j.contains("id") && j["id"].get<std::uint64_t>() > first) out += line + "\n";
    } catch (const nlohmann::json::exception&) {
      // A torn or malformed line: the ledger's reader reports those; not the wave's record.
    }
  }
  FAULTLINE_RETURN_IF_ERROR(WriteFileAtomic(to, out));
  FAULTLINE_ASSIGN_OR_RETURN(nemesis::Ledger ledger, nemesis::Ledger::Open(from));
  FAULTLINE_ASSIGN_OR_RETURN(nemesis::LedgerState state, ledger.Read());
  std::vector<std::uint64_t> open;
  for (const auto& e : state.open) {
    if (e.id > first) open.push_back(e.id);
  }
  return open;
}

// Copies each node's logs (etcd's log, or the files the system names) to dir/<node>/<file name>.
std::vector<std::string> CopyNodeLogs(const cluster::ClusterState& state,
                                      const std::vector<checker::NodeLog>& logs,
                                      const std::string& dir) {
  std::vector<std::string> warnings;
  std::error_code ec;
  for (const cluster::NodeState& n : state.nodes)
    fs::create_directories(fs::path(dir) / n.name, ec);
  for (const checker::NodeLog& log : logs) {
    if (log.path.empty()) continue;
    const fs::path to = fs::path(dir) / log.node;
    fs::create_directories(to, ec);
    fs::copy_file(log.path, to / fs::path(log.path).filename(),
                  fs::copy_options::overwrite_existing, ec);
    if (ec) warnings.push_back(fmt::format("copy {}: {}", log.path, ec.message()));
  }
  return warnings;
}

// What the campaign thread leaves.
struct CampaignRun {
  std::optional<Result<runner::RunStats>> stats;
  std::string error;  // could not start
};

}  // namespace

Result<history::History> CampaignHistory(const history::History& all) {
  std::vector<bool> keep(all.size(), false);
  for (size_t i = 0; i < all.size(); ++i) {
    const history::Op& op = all[i];
    if (op.is_client()) {
      keep[i] = true;
      continue;
    }
    if (op.process != history::Process::Nemesis()) continue;
    const size_t p = all.partner(i);
    // A pair is judged by its completion; an op without a partner by itself.
    const history::Op& judge = (p != history::History::kNone && p > i) ? all[p] : op;
    const bool drill = HasExtra(judge, history::field::kSource) ||
                       HasExtra(judge, history::field::kStep) ||
                       HasExtra(op, history::field::kStep);
    keep[i] = !drill;
  }
  std::vector<history::Op> ops;
  for (size_t i = 0; i < all.size(); ++i) {
    if (keep[i]) ops.push_back(all[i]);
  }
  return history::History::Build(std::move(ops),
                                 history::Source{.name = "wave campaign ops", .lines = {}});
}

Result<WaveReport> RunWave(const Scenario& s, const WaveOptions& options) {
  auto note = [&](const std::string& line) {
    if (options.note) options.note(line);
  };
  auto progress = [&](std::string_view part, std::string_view line) {
    if (options.progress) options.progress(fmt::format("{}: {}", part, line));
  };
  // The log patterns of the whole wave: the drill scenario's, the campaign's, then the options'
  // (a bad one is an error before anything starts).
  std::vector<std::string> added = s.drill.log_patterns;
  std::vector<std::string> maxima = s.drill.log_pattern_max;
  for (const auto* from : {&s.campaign.log_patterns, &options.log_patterns}) {
    added.insert(added.end(), from->begin(), from->end());
  }
  for (const auto* from : {&s.campaign.log_pattern_max, &options.log_pattern_max}) {
    maxima.insert(maxima.end(), from->begin(), from->end());
  }
  Result<std::vector<checker::LogPattern>> patterns = checker::MakeLogPatterns(added, maxima);
  if (!patterns) return std::move(patterns).error().WithContext("wave: log patterns");
  const std::string dir = options.out;
  FAULTLINE_RETURN_IF_ERROR(PrepareDir(dir));
  const auto started = Clock::now();

  // The system under test: etcd keeps its own probes; another is driven through its part.
  FAULTLINE_ASSIGN_OR_RETURN(std::unique_ptr<systems::System> system,
                             systems::OpenSystem(options.system));
  systems::System* other = system->Info().local_db == cluster::Db::kEtcd ? nullptr : system.get();
  if (other != nullptr) {
    if (Status st = fit::CheckClientLoad(s.fit); !st) {
      return st.error().WithContext(fmt::format("wave: --system {}: the FIT part", options.system));
    }
  }
  dirt::DrillClusters clusters({
      .name = options.cluster_name,
      .state_root = options.state_root,
      .keep = options.keep_cluster,
      .note = [&](std::string_view l) { note(std::string(l)); },
      .progress = [&](std::string_view l) { progress("cluster", l); },
      .system = other,
  });
  auto state_ref = clusters.For(s.drill);
  if (!state_ref) return std::move(state_ref).error().WithContext("wave: cluster");
  const cluster::ClusterState& state = state_ref->get();

  // Everything from here on ends with the cluster closed (a cluster the wave brought up is torn
  // down; its supervisor would do so too if this process died).
  Result<WaveReport> report = [&]() -> Result<WaveReport> {
    // Each node's log from where it stands before any part begins.
    std::vector<checker::NodeLog> node_logs;
    FAULTLINE_ASSIGN_OR_RETURN(systems::SystemCluster system_nodes,
                               other != nullptr
                                   ? Result<systems::SystemCluster>(clusters.system_nodes())
                                   : systems::LocalNodes(state, system->Info()));
    if (other != nullptr) {
      for (const systems::SystemNode& n : system_nodes.nodes) {
        for (const std::string& path : other->LogFiles(system_nodes, n)) {
          node_logs.push_back(checker::NodeLog{
              .node = n.name, .path = path, .offset = checker::LogOffsetNow(path)});
        }
      }
    } else {
      for (const cluster::NodeState& n : state.nodes) {
        node_logs.push_back(checker::NodeLog{
            .node = n.name, .path = n.log_path, .offset = checker::LogOffsetNow(n.log_path)});
      }
    }
    FAULTLINE_ASSIGN_OR_RETURN(std::unique_ptr<nemesis::NodeControl> control,
                               other != nullptr ? other->Control(system_nodes, clusters.shell())
                                                : cluster::MakeLocalControl(state));
    const std::string ledger_path = state.run_dir + "/nemesis.ledger";
    const nemesis::NetConfig net = state.NetConfig();
    const std::string drill_run_id = net.run_id;
    const std::string campaign_run_id = CampaignRunId(net.run_id);

    // The campaign's nemesis on the shared ledger (this also heals what a dead process left).
    nemesis::NemesisOptions no;
    no.net = net;
    no.net.run_id = campaign_run_id;
    no.ledger_path = ledger_path;
    no.control = control.get();
    no.deadline =
        std::chrono::milliseconds(static_cast<int64_t>(s.campaign.fault_s * 1000) + 30000);
    no.control_address = state.control_address;
    FAULTLINE_ASSIGN_OR_RETURN(std::unique_ptr<nemesis::Nemesis> campaign_nemesis,
                               nemesis::Nemesis::Open(no));
    if (auto r = campaign_nemesis->recovered()) {
      note("wave: healed faults a gone process left in the ledger: " + r->Describe());
    }
    FAULTLINE_ASSIGN_OR_RETURN(std::unique_ptr<nemesis::DrillFaults> healer,
                               nemesis::DrillFaults::Open(ledger_path, *control, campaign_run_id));
    FAULTLINE_ASSIGN_OR_RETURN(const std::uint64_t first_id, healer->LastId());
    FAULTLINE_ASSIGN_OR_RETURN(nemesis::Ledger fit_ledger, nemesis::Ledger::Open(ledger_path));

    // The one log.
    history::LogOptions lo;
    lo.meta = WaveMeta(s, state);
    const std::string log_path = (fs::path(dir) / "history.log").string();
    FAULTLINE_ASSIGN_OR_RETURN(std::unique_ptr<history::LogWriter> log,
                               history::LogWriter::Create(log_path, std::move(lo)));
    const std::int64_t log_start_ns = log->start_ns();

    // Campaign dependencies.
    runner::CampaignConfig config = s.campaign;
    config.name = state.name;
    config.nodes = static_cast<int>(state.nodes.size());
    config.out = dir;
    std::map<std::string, std::string> peers;
    for (const auto& n : state.nodes) peers[n.name] = n.address;
    runner::ProbeTargets probes{.control = control.get(),
                                .peer_addresses = peers,
                                .peer_port = kEtcdPeerPort,
                                .connect_timeout_s = 1.0};
    auto leader = [&]() -> std::optional<std::string> {
      if (other != nullptr) return other->Leader(system_nodes);
      auto st = cluster::ProbeStatus(state);
      if (!st) return std::nullopt;
      return st->leader;
    };
    CampaignInjector injector(
        runner::MakeNemesisInjector(*campaign_nemesis, state.NodeNames(), leader, probes),
        std::move(healer), campaign_run_id);
    // The campaign's clients come from the system (systems/), as a campaign's do.
    FAULTLINE_RETURN_IF_ERROR(system->CheckWorkload(runner::WorkloadName(config.workload)));
    std::vector<std::string> upstreams;
    for (const systems::SystemNode& n : system_nodes.nodes) {
      upstreams.push_back(fmt::format("{}:{}", n.address, n.port));
    }
    fit::Target fit_target{.upstreams = upstreams, .base_path = "", .clients = {}};
    if (other != nullptr) {
      fit_target.clients = fit::SystemGroupClients(
          *other, system_nodes,
          std::chrono::duration_cast<std::chrono::milliseconds>(s.fit.timeout));
    }
    systems::ClientSetup setup;
    setup.workload = std::string(runner::WorkloadName(config.workload));
    setup.read_mode = config.read_mode;
    setup.timeout = std::chrono::milliseconds(config.client_timeout_ms);
    setup.key_prefix = fmt::format("faultline/wave/{}/{}/", s.id, log_start_ns);
    setup.lock_ttl = std::chrono::seconds(
        static_cast<std::int64_t>(std::ceil(std::max(1.0, config.lock_ttl_s))));
    setup.lock_acquire_timeout = std::chrono::milliseconds(config.lock_acquire_timeout_ms);
    setup.stderr_dir = (fs::path(dir) / "clients").string();
    FAULTLINE_ASSIGN_OR_RETURN(std::unique_ptr<client::ClientFactory> clients,
                               system->Clients(system_nodes, setup));

    std::stop_source stop;
    std::stop_callback forward(options.stop, [&stop] { stop.request_stop(); });

    note(fmt::format(
        "wave {}: drill {}, campaign ({} for {:.0f} s, nemesis {}), FIT {} on cluster {}; run "
        "directory {}",
        s.id, s.drill.id, runner::WorkloadName(config.workload), config.time_limit_s,
        nemesis::FormatFaultKindList(config.nemesis), s.fit.id, state.name, dir));

    // The drill.
    std::optional<Result<dirt::DrillResult>> drill;
    std::thread drill_thread([&] {
      if (!Delay(s.start.drill, stop.get_token())) {
        drill = Error(ErrorCode::kUnavailable, "wave: stopped before the drill began");
        return;
      }
      dirt::DrillOptions o;
      o.progress = [&](std::string_view l) { progress("drill", l); };
      o.log = log.get();
      const std::string& id = drill_run_id;
      o.owns_entry = [&id](const nemesis::LedgerEntry& e) { return e.run_id == id; };
      if (other != nullptr) {
        o.system = other;
        o.system_nodes = &clusters.system_nodes();
        o.system_shell = &clusters.shell();
      }
      drill = dirt::RunDrill(state, *control, s.drill, o);
    });

    // The campaign.
    CampaignRun campaign;
    std::thread campaign_thread([&] {
      if (!Delay(s.start.campaign, stop.get_token())) {
        campaign.error = "stopped before the campaign began";
        return;
      }
      runner::CampaignDeps deps;
      deps.clients = clients.get();
      deps.nemesis = &injector;
      deps.log = log.get();
      deps.wait_ready = [&](Clock::time_point deadline) {
        if (other == nullptr) return WaitReady(state, deadline);
        while (!other->Ready(system_nodes, clusters.shell())) {
          if (Clock::now() >= deadline) return false;
          std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
        return true;
      };
      deps.stop = stop.get_token();
      campaign.stats = runner::RunCampaign(config, deps, [&](const runner::ProgressInfo& p) {
        progress("campaign",
                 fmt::format("{:.1f} s, {:.0f} ops/s, ok {} fail {} info {}, fault: {}, {}",
                             p.elapsed_s, p.ops_per_s, p.ok, p.fail, p.info, p.fault, p.phase));
      });
    });

    // The FIT experiment.
    std::optional<Result<fit::Outcome>> fit_outcome;
    const fs::path fit_dir = fs::path(dir) / "fit";
    std::thread fit_thread([&] {
      if (!Delay(s.start.fit, stop.get_token())) {
        fit_outcome = Error(ErrorCode::kUnavailable, "wave: stopped before the FIT part began");
        return;
      }
      std::error_code ec;
      fs::create_directories(fit_dir, ec);
      fit::Hooks hooks;
      hooks.ledger = &fit_ledger;
      hooks.log = log.get();
      hooks.progress = [&](std::string_view l) { progress("fit", l); };
      fit_outcome = fit::RunExperiment(s.fit, fit_target, fit_dir, hooks, stop.get_token());
    });

    drill_thread.join();
    campaign_thread.join();
    fit_thread.join();

    // Whatever the wave opened and is still open is healed now (each part heals its own; this is
    // the safety net, and it is reported).
    FAULTLINE_ASSIGN_OR_RETURN(std::unique_ptr<nemesis::DrillFaults> sweeper,
                               nemesis::DrillFaults::Open(ledger_path, *control, drill_run_id));
    Json ledger_json;
    ledger_json["path"] = ledger_path;
    ledger_json["copy"] = "nemesis.ledger";
    {
      Result<std::vector<std::uint64_t>> open =
          CopyLedger(ledger_path, (fs::path(dir) / "nemesis.ledger").string(), first_id);
      if (!open) {
        ledger_json["error"] = open.error().message();
      } else {
        ledger_json["open_after_parts"] = *open;
        if (!open->empty()) {
          const nemesis::FaultReport r = sweeper->Heal([first_id](const nemesis::LedgerEntry& e) {
            return e.id > first_id && nemesis::OwnedByThisProcess(e);
          });
          ledger_json["swept"] = r.Describe();
          note(fmt::format("wave: {} ledger entries were still open after the parts; healed: {}",
                           open->size(), r.Describe()));
        }
      }
    }

    Json log_json;
    log_json["path"] = "history.log";
    Result<history::LogSummary> sealed = log->Close();
    if (sealed) {
      log_json["records"] = sealed->records;
      log_json["ops"] = sealed->ops;
      log_json["head"] = sealed->head;
    } else {
      log_json["error"] = sealed.error().message();
    }

    std::vector<std::string> warnings =
        CopyNodeLogs(state, node_logs, (fs::path(dir) / "nodes").string());
    // Every part is done: the node logs over the whole wave (the cluster is still up).
    Result<checker::LogPatternReport> scan = checker::ScanNodeLogs(node_logs, *patterns);
    std::vector<JUnitSuite> junit;

    // Read the log back: the campaign is checked on it, and the touches are measured on it.
    std::optional<history::History> all;
    std::string log_note;
    if (Result<std::string> content = ReadFile(log_path); content) {
      if (Result<std::string> jsonl = history::ExportJsonl(*content, log_path, &log_note); jsonl) {
        if (Status st = WriteFileAtomic((fs::path(dir) / "history.jsonl").string(), *jsonl); !st) {
          warnings.push_back(st.error().message());
        }
      }
      Result<history::History> h = history::ReadLogHistory(*content, log_path, &log_note);
      if (h) {
        all = std::move(*h);
      } else {
        warnings.push_back("the log could not be read back: " + h.error().message());
      }
    } else {
      warnings.push_back(content.error().message());
    }
    if (!log_note.empty()) log_json["note"] = log_note;

    std::vector<PartResult> parts;
    // Campaign.
    const fs::path campaign_dir = fs::path(dir) / "campaign";
    std::vector<Window> campaign_windows;
    {
      std::error_code ec;
      fs::create_directories(campaign_dir, ec);
      if (!campaign.stats) {
        parts.push_back(ErrorPart("campaign", campaign.error));
      } else if (!*campaign.stats) {
        parts.push_back(ErrorPart("campaign", campaign.stats->error().message()));
      } else if (!all) {
        parts.push_back(ErrorPart("campaign", "the wave's log could not be read back"));
      } else {
        runner::RunReport rr;
        rr.files = runner::RunFiles{.dir = campaign_dir.string(),
                                    .log = log_path,
                                    .jsonl = (fs::path(dir) / "history.jsonl").string(),
                                    .config = (campaign_dir / "config.json").string(),
                                    .nemesis = (campaign_dir / "nemesis.json").string(),
                                    .results = (campaign_dir / "results.json").string(),
                                    .nodes = (fs::path(dir) / "nodes").string()};
        rr.stats = std::move(**campaign.stats);
        rr.log_note = log_note;
        for (const runner::FaultInterval& f : rr.stats.faults) {
          campaign_windows.push_back(
              Window{.start_s = f.start_s, .end_s = f.end_s, .what = f.plan()});
        }
        Result<history::History> ops = CampaignHistory(*all);
        Result<runner::RunVerdict> verdict =
            ops ? runner::CheckHistory(*ops, config) : Result<runner::RunVerdict>(ops.error());
        if (!verdict) {
          parts.push_back(ErrorPart("campaign", verdict.error().message()));
        } else {
          rr.verdict = std::move(*verdict);
          const std::string results = runner::RenderResultsJson(rr, config);
          for (const auto& [file, text] :
               {std::pair{rr.files.config, runner::ConfigToJson(config)},
                std::pair{rr.files.nemesis, runner::RenderNemesisJson(rr.stats)},
                std::pair{rr.files.results, results}}) {
            if (Status st = WriteFileAtomic(file, text + "\n"); !st) {
              warnings.push_back(st.error().message());
            }
          }
          parts.push_back(CampaignPart(Json::parse(results), rr.verdict.validity));
          junit.push_back(runner::CampaignJUnitSuite(rr, config));
        }
      }
    }
    // Drill.
    std::optional<Window> recovery;
    bool recovered = false;
    if (!drill) {
      parts.push_back(ErrorPart("drill", "the drill did not run"));
    } else if (!*drill) {
      parts.push_back(ErrorPart("drill", drill->error().message()));
    } else {
      const dirt::DrillResult& d = **drill;
      const fs::path drill_dir = fs::path(dir) / "drill";
      if (Status st = dirt::WriteArtifacts(drill_dir.string(), s.id, {d}); !st) {
        warnings.push_back(st.error().message());
      }
      parts.push_back(DrillPart(d, fmt::format("drill/incident-{}.json", d.scenario_id)));
      junit.push_back(JUnitSuite{.name = fmt::format("faultline wave {} drill", s.id),
                                 .timestamp = JUnitTimestampNow(),
                                 .time_s = 0,
                                 .properties = {{"wave", s.id}, {"drill", d.scenario_id}},
                                 .cases = {dirt::DrillJUnitCase(d)}});
      if (d.fault_mono_ns != 0) {
        const double fault_s = static_cast<double>(d.fault_mono_ns - log_start_ns) / 1e9;
        recovered = d.recovery.recovery.has_value();
        const double end_s =
            recovered ? fault_s + static_cast<double>(d.recovery.recovery->count()) / 1000.0
                      : fault_s + static_cast<double>(d.end_wall_ns - d.fault_wall_ns) / 1e9;
        recovery = Window{.start_s = fault_s,
                          .end_s = end_s,
                          .what = recovered ? "the drill's fault to its measured recovery"
                                            : "the drill's fault to its end (no recovery)"};
      }
    }
    // FIT.
    std::vector<Window> fit_windows;
    if (!fit_outcome) {
      parts.push_back(ErrorPart("fit", "the FIT experiment did not run"));
    } else if (!*fit_outcome) {
      parts.push_back(ErrorPart("fit", fit_outcome->error().message()));
    } else {
      const fit::Outcome& o = **fit_outcome;
      parts.push_back(FitPart(Json::parse(o.results.dump()), o.hypothesis, o.exit_code));
      nlohmann::json fit_results = o.results;
      fit::NoNodeLogs(fit_results, "the wave counts the node logs once, in its log_patterns part");
      junit.push_back(fit::FitJUnitSuite(fit_results, (fs::path(dir) / "fit").string()));
      if (all) fit_windows = FitFaultWindows(*all);
    }

    // The log patterns, over the whole wave.
    if (scan) {
      parts.push_back(LogPatternsPart(*scan));
      junit.push_back(LogPatternsSuite(s.id, *scan));
      for (const std::string& w : scan->warnings) warnings.push_back(w);
    } else {
      parts.push_back(ErrorPart("log_patterns", scan.error().message()));
    }
    for (const PartResult& p : parts) {
      if (p.json.contains("error")) junit.push_back(ErrorPartSuite(s.id, p));
    }

    // Where they touched.
    Json touch = Json::object();
    if (recovery) {
      touch["recovery"] = RecoveryTouch(*recovery, recovered, fit_windows, campaign_windows);
    } else {
      touch["recovery"] = "no drill fault was recorded";
    }
    if (all) {
      if (auto kill = KillWindow(*all)) {
        touch["ops_in_flight_at_kill"] = OpsInFlight(*all, kill->first, kill->second);
        // From the kill until the safeguard's last restart (the drill's repair time): the outage
        // the killed members caused.
        if (drill && *drill && (*drill)->recovery.repair) {
          const Window outage{
              .start_s = kill->first.start_s,
              .end_s = static_cast<double>((*drill)->fault_mono_ns - log_start_ns) / 1e9 +
                       static_cast<double>((*drill)->recovery.repair->count()) / 1000.0,
              .what = "the drill's kill until its last repair (restart)"};
          touch["ops_during_kill_outage"] = OpsInFlight(*all, outage, kill->second);
        } else {
          touch["ops_during_kill_outage"] = "the drill recorded no repair";
        }
      } else {
        touch["ops_in_flight_at_kill"] = "the drill killed no process (no crash or kill step)";
      }
    }

    Json extra;
    extra["log"] = log_json;
    extra["ledger"] = ledger_json;
    extra["cluster"] = Json{{"name", state.name}, {"nodes", state.NodeNames()}};
    extra["files"] = Json{{"results", "results.json"},
                          {"log", "history.log"},
                          {"jsonl", "history.jsonl"},
                          {"ledger", "nemesis.ledger"},
                          {"campaign", "campaign/"},
                          {"drill", "drill/"},
                          {"fit", "fit/"},
                          {"nodes", "nodes/"}};
    if (scan) {
      extra["log_patterns"] = Json::parse(checker::LogPatternsJson(*scan));
    }
    extra["warnings"] = warnings;
    extra["duration_s"] = std::chrono::duration<double>(Clock::now() - started).count();

    WaveReport out;
    out.dir = dir;
    out.results = AssembleResults(s.id, s.title, s.source, parts, touch, extra);
    out.exit_code = out.results["exit_code"].get<int>();
    FAULTLINE_RETURN_IF_ERROR(
        WriteFileAtomic((fs::path(dir) / "results.json").string(), out.results.dump(2) + "\n"));
    out.text = RenderText(out.results, dir);
    out.junit = std::move(junit);
    return out;
  }();

  if (Status down = clusters.Finish(); !down) {
    note("wave: cluster down: " + down.error().message());
  }
  return report;
}

}  // namespace faultline::wave
