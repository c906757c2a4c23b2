#include "nemesis/net.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "nemesis/internal/backend.h"
#include "nemesis/internal/conntrack.h"
#include "nemesis/internal/netns.h"

namespace faultline::nemesis {

std::string_view PartitionModeName(PartitionMode mode) {
  switch (mode) {
    case PartitionMode::kDrop:
      return "drop";
    case PartitionMode::kReject:
      return "reject";
    case PartitionMode::kNewOnly:
      return "new-only";
  }
  return "unknown";
}

Result<PartitionMode> ParsePartitionMode(std::string_view name) {
  for (auto m : {PartitionMode::kDrop, PartitionMode::kReject, PartitionMode::kNewOnly}) {
    if (name == PartitionModeName(m)) return m;
  }
  return MakeError(
      ErrorCode::kInvalidArgument,
      fmt::format("partition mode \"{}\": unknown (expected drop, reject or new-only)", name));
}

std::string_view BackendName(BackendKind kind) {
  switch (kind) {
    case BackendKind::kAuto:
      return "auto";
    case BackendKind::kNft:
      return "nft";
    case BackendKind::kNetlink:
      return "netlink";
    case BackendKind::kIptables:
      return "iptables";
  }
  return "unknown";
}

Result<BackendKind> ParseBackendKind(std::string_view name) {
  for (auto k :
       {BackendKind::kAuto, BackendKind::kNft, BackendKind::kNetlink, BackendKind::kIptables}) {
    if (name == BackendName(k)) return k;
  }
  return MakeError(ErrorCode::kInvalidArgument,
                   fmt::format("net backend \"{}\": unknown (expected auto, nft, netlink or "
                               "iptables)",
                               name));
}

bool NetReport::ok() const {
  return std::all_of(nodes.begin(), nodes.end(), [](const NodeReport& n) { return n.ok; });
}

std::vector<std::string> NetReport::Succeeded() const {
  std::vector<std::string> out;
  for (const auto& n : nodes) {
    if (n.ok) out.push_back(n.node);
  }
  return out;
}

std::vector<std::string> NetReport::Failed() const {
  std::vector<std::string> out;
  for (const auto& n : nodes) {
    if (!n.ok) out.push_back(n.node);
  }
  return out;
}

std::string NetReport::Describe() const {
  std::string out = fmt::format("{} {} ({}): {} of {} nodes ok", backend, action,
                                PartitionModeName(mode), Succeeded().size(), nodes.size());
  if (!grudge.empty()) out += "; grudge: " + grudge;
  for (const auto& n : nodes) {
    out += fmt::format("\n  {}: {}: {}", n.node, n.ok ? "ok" : "FAILED", n.mechanism);
    if (n.error) out += ": " + n.error->message();
  }
  for (const auto& note : notes) out += "\n  note: " + note;
  return out;
}

namespace internal {

Status ValidateConfig(std::string_view backend, const NetConfig& config) {
  const auto bad = [&](std::string why) {
    return MakeError(ErrorCode::kInvalidArgument, fmt::format("nemesis: {} net: {}", backend, why));
  };
  if (config.run_id.empty() || config.run_id.size() > 16 ||
      !std::all_of(config.run_id.begin(), config.run_id.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
      })) {
    return bad(
        fmt::format("run id \"{}\": expected 1 to 16 characters from [a-z0-9_]", config.run_id));
  }
  if (config.nodes.empty()) return bad("no nodes");
  std::set<std::string> names, addresses;
  for (const auto& n : config.nodes) {
    if (n.name.empty()) return bad("a node has an empty name");
    if (n.netns.empty()) return bad(fmt::format("node {}: empty network namespace", n.name));
    in_addr a{};
    if (::inet_pton(AF_INET, n.address.c_str(), &a) != 1) {
      return bad(fmt::format("node {}: address \"{}\" is not an IPv4 address", n.name, n.address));
    }
    if (!names.insert(n.name).second) return bad(fmt::format("node {} listed twice", n.name));
    if (!addresses.insert(n.address).second) {
      return bad(fmt::format("address {} listed twice", n.address));
    }
  }
  return OkStatus();
}

Result<Grudge> ValidateGrudge(std::string_view backend, const NetConfig& config,
                              const Grudge& grudge) {
  Grudge g = Normalize(grudge);
  for (const auto& [node, drops] : g) {
    const bool known = std::any_of(config.nodes.begin(), config.nodes.end(),
                                   [&](const NetNode& n) { return n.name == node; });
    if (!known) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("nemesis: {} apply: grudge names node {}, which is not in the "
                                   "cluster",
                                   backend, node));
    }
  }
  return g;
}

std::vector<NodeReport> PendingReports(const NetConfig& config, const Grudge& by_node) {
  std::vector<NodeReport> nodes(config.nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    const auto it = by_node.find(config.nodes[i].name);
    if (it != by_node.end()) nodes[i].peers = it->second;
    nodes[i].needs_heal = true;
  }
  return nodes;
}

std::vector<std::string> NetnsOf(const NetConfig& config) {
  std::vector<std::string> out;
  for (const auto& n : config.nodes) out.push_back(n.netns);
  return out;
}

std::vector<std::string> PeerAddresses(const NetConfig& config, const NodeSet& peers) {
  std::vector<std::string> out;
  for (const auto& p : peers) {
    for (const auto& n : config.nodes) {
      if (n.name == p) out.push_back(n.address);
    }
  }
  return out;
}

std::string NodeContext(std::string_view backend, std::string_view action, std::string_view node) {
  return fmt::format("nemesis: {} {}: on {}", backend, action, node);
}

NetReport MakeReport(std::string_view backend, std::string_view action, PartitionMode mode,
                     const NetConfig& config, std::vector<NodeReport> nodes) {
  NetReport r;
  r.backend = std::string(backend);
  r.action = std::string(action);
  r.mode = mode;
  for (size_t i = 0; i < nodes.size() && i < config.nodes.size(); ++i) {
    nodes[i].node = config.nodes[i].name;
  }
  r.nodes = std::move(nodes);
  return r;
}

NetReport MakeReport(std::string_view backend, std::string_view action, PartitionMode mode,
                     const NetConfig& config, std::vector<NodeReport> nodes,
                     const std::vector<Status>& statuses) {
  for (size_t i = 0; i < nodes.size() && i < statuses.size() && i < config.nodes.size(); ++i) {
    nodes[i].ok = statuses[i].has_value();
    if (action == "heal") nodes[i].needs_heal = !nodes[i].ok;
    if (!nodes[i].ok) {
      nodes[i].error =
          statuses[i].error().WithContext(NodeContext(backend, action, config.nodes[i].name));
    }
  }
  return MakeReport(backend, action, mode, config, std::move(nodes));
}

NetReport ApplyReport(std::string_view backend, PartitionMode mode, const NetConfig& config,
                      std::vector<NodeReport> nodes, const std::vector<Status>& statuses,
                      const Grudge& grudge, const std::vector<ConntrackOutcome>& conntrack) {
  NetReport report = MakeReport(backend, "apply", mode, config, std::move(nodes), statuses);
  report.grudge = DescribeGrudge(grudge);
  if (mode == PartitionMode::kNewOnly) report.notes.push_back(ConntrackNote(config, conntrack));
  return report;
}

ConntrackOutcome CutEstablishedFlows(const NetConfig& config, const NodeSet& peers) {
  ConntrackOutcome out;
  out.ran = true;
  const auto addresses = PeerAddresses(config, peers);
  auto deleted = DeleteConntrackFrom(std::set<std::string>(addresses.begin(), addresses.end()));
  if (deleted) {
    out.deleted = *deleted;
  } else {
    out.error = deleted.error();
  }
  return out;
}

std::string ConntrackNote(const NetConfig& config, const std::vector<ConntrackOutcome>& outcomes) {
  std::string deleted;
  std::string failed;
  for (size_t i = 0; i < outcomes.size() && i < config.nodes.size(); ++i) {
    const auto& o = outcomes[i];
    if (!o.ran) continue;
    if (o.error) {
      failed += fmt::format("{}{}: {}", failed.empty() ? "" : "; ", config.nodes[i].name,
                            o.error->message());
    } else {
      deleted +=
          fmt::format("{}{} {}", deleted.empty() ? "" : ", ", config.nodes[i].name, o.deleted);
    }
  }
  std::string note =
      "new-only: deleted the conntrack entries of flows the filtered peers had opened, so those "
      "established flows are cut too (deleted: " +
      (deleted.empty() ? std::string("none") : deleted) + ")";
  if (!failed.empty()) {
    note += "; NOT deleted, so established flows from these peers keep flowing, on " + failed;
  }
  return note;
}

}  // namespace internal

namespace {

// An unnamed network namespace that lives while a thread sits in it: when the thread ends, the
// kernel frees the namespace with everything in it, so a probe leaves nothing behind, even if the
// process dies.
class ScratchNetns {
 public:
  ScratchNetns() {
    auto ready_future = ready_.get_future();
    thread_ = std::thread([this] {
      if (::unshare(CLONE_NEWNET) != 0) {
        ready_.set_value(internal::ErrnoError(errno, "probe: create scratch network namespace"));
        return;
      }
      path_ = fmt::format("/proc/{}/task/{}/ns/net", ::getpid(), ::syscall(SYS_gettid));
      ready_.set_value(OkStatus());
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return done_; });
    });
    status_ = ready_future.get();
  }
  ~ScratchNetns() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  ScratchNetns(const ScratchNetns&) = delete;
  ScratchNetns& operator=(const ScratchNetns&) = delete;

  const Status& status() const { return status_; }
  const std::string& path() const { return path_; }

 private:
  std::promise<Status> ready_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::string path_;
  Status status_;
  std::thread thread_;
};

ProbeResult ProbeOne(const ProbeCandidate& candidate, const NetConfig& config) {
  ProbeResult result;
  result.backend = candidate.backend;
  Result<std::unique_ptr<Net>> net = candidate.make(config);
  if (!net) {
    result.error = net.error();
    return result;
  }
  const Grudge grudge = {{"p1", {"p2"}}, {"p2", {"p1"}}};
  for (auto mode : {PartitionMode::kDrop, PartitionMode::kReject, PartitionMode::kNewOnly}) {
    if (!(*net)->Supports(mode)) continue;
    const auto start = std::chrono::steady_clock::now();
    Result<NetReport> applied = (*net)->Apply(grudge, mode);
    const NetReport healed = (*net)->Heal();
    const auto cost = std::chrono::steady_clock::now() - start;
    std::optional<Error> error;
    if (!applied) {
      error = applied.error();
    } else if (!applied->ok()) {
      for (const auto& n : applied->nodes) {
        if (n.error && !error) error = n.error;
      }
    } else if (!healed.ok()) {
      for (const auto& n : healed.nodes) {
        if (n.error && !error) error = n.error;
      }
    }
    if (error) {
      if (!result.error) result.error = error->WithContext(PartitionModeName(mode));
      continue;
    }
    result.modes.insert(mode);
    if (mode == PartitionMode::kDrop || result.cost.count() == 0) {
      result.cost = std::chrono::duration_cast<std::chrono::nanoseconds>(cost);
    }
  }
  result.works = !result.modes.empty();
  return result;
}

}  // namespace

std::vector<ProbeCandidate> DefaultCandidates() {
  return {{BackendKind::kNft, MakeNftNet},
          {BackendKind::kNetlink, MakeNetlinkNet},
          {BackendKind::kIptables, MakeIptablesNet}};
}

std::vector<ProbeResult> ProbeBackends(const std::vector<ProbeCandidate>& candidates) {
  std::vector<ProbeResult> results;
  ScratchNetns a;
  ScratchNetns b;
  for (const auto& candidate : candidates) {
    if (!a.status() || !b.status()) {
      ProbeResult r;
      r.backend = candidate.backend;
      r.error = a.status() ? b.status().error() : a.status().error();
      results.push_back(std::move(r));
      continue;
    }
    // Addresses from 198.18.0.0/15 that no probe packet is ever sent to.
    const NetConfig config{.run_id = "probe",
                           .nodes = {{.name = "p1", .netns = a.path(), .address = "198.19.255.1"},
                                     {.name = "p2", .netns = b.path(), .address = "198.19.255.2"}}};
    results.push_back(ProbeOne(candidate, config));
  }
  return results;
}

std::vector<ProbeResult> ProbeBackends() { return ProbeBackends(DefaultCandidates()); }

Result<BackendKind> PickBackend(const std::vector<ProbeResult>& probes, PartitionMode mode) {
  const ProbeResult* best = nullptr;
  std::string why;
  for (const auto& p : probes) {
    if (p.backend == BackendKind::kAuto) continue;
    if (!p.works || p.modes.count(mode) == 0) {
      why += fmt::format("; {}: {}", BackendName(p.backend),
                         p.error ? p.error->message()
                                 : fmt::format("does not support {}", PartitionModeName(mode)));
      continue;
    }
    if (best == nullptr || p.cost < best->cost) best = &p;
  }
  if (best == nullptr) {
    return MakeError(ErrorCode::kUnavailable,
                     fmt::format("nemesis: auto backend: no backend works for mode {}{}",
                                 PartitionModeName(mode), why));
  }
  return best->backend;
}

Result<std::unique_ptr<Net>> MakeNet(BackendKind kind, const NetConfig& config,
                                     PartitionMode mode) {
  switch (kind) {
    case BackendKind::kNft:
      return MakeNftNet(config);
    case BackendKind::kNetlink:
      return MakeNetlinkNet(config);
    case BackendKind::kIptables:
      return MakeIptablesNet(config);
    case BackendKind::kAuto:
      break;
  }
  return MakeAutoNet(DefaultCandidates(), config, mode);
}

Result<std::unique_ptr<Net>> MakeAutoNet(const std::vector<ProbeCandidate>& candidates,
                                         const NetConfig& config, PartitionMode mode) {
  FAULTLINE_ASSIGN_OR_RETURN(BackendKind picked, PickBackend(ProbeBackends(candidates), mode));
  for (const auto& c : candidates) {
    if (c.backend == picked) return c.make(config);
  }
  return MakeError(ErrorCode::kInternal, "nemesis: auto backend: picked an unknown backend");
}

}  // namespace faultline::nemesis
