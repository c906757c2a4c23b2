// The Nemesis: partitions through a Net backend, process faults through NodeControl, packet faults
// (loss, delay, bandwidth) inside the nodes' namespaces; every fault recorded in the ledger with
// its inverse before it touches a node.
#include "nemesis/nemesis.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>

#include "nemesis/disk.h"
#include "nemesis/drill_faults.h"
#include "nemesis/internal/heal.h"
#include "nemesis/internal/netns.h"
#include "nemesis/internal/proc.h"
#include "nemesis/ledger.h"
#include "nemesis/packet.h"
#include "nemesis/packet_mangle.h"
#include "nemesis/proxy_faults.h"

namespace faultline::nemesis {
namespace {

LedgerObject Obj(std::string type, std::string node = {}, std::string netns = {},
                 std::string name = {}) {
  LedgerObject o;
  o.type = std::move(type);
  o.node = std::move(node);
  o.netns = std::move(netns);
  o.name = std::move(name);
  return o;
}

bool CrashAt(const char* point) {
  const char* at = std::getenv("FAULTLINE_CRASH_AT");
  return at != nullptr && std::strcmp(at, point) == 0;
}

// Per-node work on threads inside the nodes' namespaces, in parallel. With the between-nodes
// crash hook set, the first node is done alone and the process dies before the others.
std::vector<Status> ForNodes(const std::vector<std::string>& netns,
                             const std::function<Status(size_t)>& fn) {
  if (CrashAt("between-nodes") && netns.size() > 1) {
    auto first = internal::RunInNetns(netns[0], [&] { return fn(0); });
    (void)first;
    internal::MaybeCrash("between-nodes");
  }
  return internal::RunInNetnsParallel(netns, fn);
}

class NemesisImpl final : public Nemesis {
 public:
  NemesisImpl(NemesisOptions options, Ledger ledger)
      : options_(std::move(options)), ledger_(std::move(ledger)) {}

  ~NemesisImpl() override = default;

  void set_recovered(FaultReport r) { recovered_ = std::move(r); }
  std::optional<FaultReport> recovered() const override { return recovered_; }

  Result<FaultReport> Partition(const Grudge& grudge, PartitionMode mode) override {
    const std::int64_t start = internal::MonoNanos();
    for (const auto& [node, peers] : grudge) {
      FAULTLINE_RETURN_IF_ERROR(CheckNodes("partition", {node}));
      FAULTLINE_RETURN_IF_ERROR(
          CheckNodes("partition", std::vector<std::string>(peers.begin(), peers.end())));
    }
    FAULTLINE_ASSIGN_OR_RETURN(Net * net, PartitionNet(mode));
    LedgerEntry entry = BaseEntry(FaultKind::kPartition);
    entry.description = fmt::format("{} ({})", DescribeGrudge(grudge), PartitionModeName(mode));
    for (const auto& [node, peers] : grudge) {
      if (!peers.empty()) entry.nodes.push_back(node);
    }
    SortByCluster(entry.nodes);
    entry.net = options_.net.nodes;
    entry.objects.push_back(Obj("partition", "", "", std::string(net->Name())));
    FAULTLINE_ASSIGN_OR_RETURN(entry, Record(std::move(entry)));
    if (CrashAt("between-nodes")) {
      // Apply on the first filtering node only, then die: a half-applied partition.
      Grudge first;
      for (const auto& [node, peers] : grudge) {
        if (!peers.empty()) {
          first[node] = peers;
          break;
        }
      }
      auto partial = net->Apply(first, mode);
      (void)partial;
      internal::MaybeCrash("between-nodes");
    }
    auto applied = net->Apply(grudge, mode);
    FaultReport report = Begin(FaultKind::kPartition, entry, start);
    if (!applied) {
      // Apply refuses before touching any node: nothing to heal.
      (void)ledger_.Close(entry.id, "not applied: " + applied.error().message());
      return std::move(applied).error().WithContext("nemesis: partition");
    }
    for (const auto& n : applied->nodes) {
      report.details.push_back(fmt::format(
          "{}: {}", n.node, n.ok ? n.mechanism : (n.error ? n.error->message() : "failed")));
      if (!n.ok) report.failed.push_back(n.node);
    }
    report.notes = applied->notes;
    report.ok = report.failed.empty();
    if (report.ok) {
      // The backend replaced any earlier partition of its own under this run id.
      CloseReplaced(entry, [&](const LedgerEntry& e) {
        return e.kind == FaultKindName(FaultKind::kPartition) && e.run_id == entry.run_id &&
               !e.objects.empty() && e.objects[0].type == "partition" &&
               e.objects[0].name == net->Name();
      });
    }
    report.end_mono_ns = internal::MonoNanos();
    return report;
  }

  Result<FaultReport> Process(const std::vector<std::string>& nodes,
                              ProcessAction action) override {
    const std::int64_t start = internal::MonoNanos();
    NodeControl* control = options_.control;
    if (control == nullptr) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "nemesis: process fault: no node control given (NemesisOptions::control)");
    }
    if (nodes.empty()) {
      return MakeError(ErrorCode::kInvalidArgument, "nemesis: process fault: no nodes given");
    }
    const FaultKind kind = ProcessFaultKind(action);
    LedgerEntry entry = BaseEntry(kind);
    entry.nodes = nodes;
    entry.description = fmt::format("{} {}", FaultKindName(kind), fmt::join(nodes, ","));
    const bool records = action == ProcessAction::kPause || action == ProcessAction::kKill ||
                         action == ProcessAction::kRestart;
    if (records) {
      if (action == ProcessAction::kPause) {
        FAULTLINE_ASSIGN_OR_RETURN(std::vector<DbProcess> dbs, control->Databases());
        const bool local = control->Name() != "ssh";
        for (const auto& node : nodes) {
          LedgerObject o = Obj("paused", node);
          for (const auto& d : dbs) {
            if (d.node == node) {
              o.pid = d.pid;
              o.start_time = d.start_time;
            }
          }
          o.flag = local && o.pid != 0;
          entry.objects.push_back(o);
        }
      } else {
        entry.kind = FaultKindName(FaultKind::kKill);
        for (const auto& node : nodes) {
          entry.objects.push_back(Obj("killed", node));
        }
      }
      FAULTLINE_ASSIGN_OR_RETURN(entry, Record(std::move(entry)));
    }
    FaultReport report = Begin(kind, entry, start);
    std::vector<ProcessReport> done;
    if (CrashAt("between-nodes") && nodes.size() > 1) {
      done = control->Process({nodes[0]}, action);
      internal::MaybeCrash("between-nodes");
    }
    done = control->Process(nodes, action);
    std::set<std::string> ok_nodes;
    for (const auto& r : done) {
      if (r.ok) {
        ok_nodes.insert(r.node);
        report.details.push_back(fmt::format("{}: {}", r.node, r.mechanism));
      } else {
        report.failed.push_back(r.node);
        report.details.push_back(
            fmt::format("{}: {}", r.node, r.error ? r.error->message() : std::string("failed")));
      }
    }
    report.ok = report.failed.empty() && done.size() == nodes.size();
    if (action == ProcessAction::kRestart && report.ok) {
      (void)ledger_.Close(entry.id, "restarted");
    }
    // Resuming or starting by hand closes the pauses or kills it undid.
    if (action == ProcessAction::kResume || action == ProcessAction::kStart ||
        action == ProcessAction::kRestart) {
      const std::string_view undone =
          FaultKindName(action == ProcessAction::kResume ? FaultKind::kPause : FaultKind::kKill);
      if (auto state = ledger_.Read()) {
        for (const auto& e : state->open) {
          if (e.kind != undone || e.id == entry.id) continue;
          const bool all = std::all_of(e.nodes.begin(), e.nodes.end(),
                                       [&](const std::string& n) { return ok_nodes.contains(n); });
          if (all) {
            EndWatchdogs(e);
            (void)ledger_.Close(e.id, fmt::format("undone by {}", FaultKindName(kind)));
            report.notes.push_back(fmt::format("closed ledger entry #{} ({})", e.id, e.kind));
          }
        }
      }
    }
    report.end_mono_ns = internal::MonoNanos();
    return report;
  }

  Result<FaultReport> Loss(const std::vector<std::string>& nodes,
                           const std::vector<std::string>& peers, double probability,
                           bool include_control) override {
    const std::int64_t start = internal::MonoNanos();
    if (!(probability >= 0.0 && probability <= 1.0)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("nemesis: loss: probability {} is not in 0..1", probability));
    }
    FAULTLINE_RETURN_IF_ERROR(CheckLocal("loss"));
    FAULTLINE_ASSIGN_OR_RETURN(auto targets, Targets("loss", nodes, peers, include_control));
    LedgerEntry entry = BaseEntry(FaultKind::kLoss);
    entry.nodes = nodes;
    entry.description = fmt::format("loss {:.1f}% from {}{}", probability * 100,
                                    fmt::join(nodes, ","), PeersNote(peers, include_control));
    FAULTLINE_ASSIGN_OR_RETURN(entry, Record(std::move(entry), [&](LedgerEntry& e) {
                                 for (const auto& t : targets) {
                                   e.objects.push_back(Obj("nft-table", t.node->name, t.node->netns,
                                                           packet::LossTableName(e.run_id, e.id)));
                                 }
                               }));
    const std::string table = entry.objects.front().name;
    FaultReport report = Begin(FaultKind::kLoss, entry, start);
    std::vector<std::string> netns;
    for (const auto& t : targets) netns.push_back(t.node->netns);
    const auto statuses = ForNodes(netns, [&](size_t i) {
      return packet::ApplyLoss(table, targets[i].addresses, probability);
    });
    Finish(report, targets, statuses, [&](size_t i) {
      return fmt::format("nft table inet {}: output, numgen random drop {:.2f}% to {} address(es)",
                         table, probability * 100, targets[i].addresses.size());
    });
    return report;
  }

  Result<FaultReport> Delay(const std::vector<std::string>& nodes,
                            const std::vector<std::string>& peers, std::chrono::milliseconds delay,
                            std::chrono::milliseconds jitter, bool include_control) override {
    const std::int64_t start = internal::MonoNanos();
    if (delay.count() < 0 || jitter.count() < 0 || delay.count() > 60000 ||
        jitter.count() > delay.count()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("nemesis: delay: {} ms ± {} ms is out of range (0..60000 ms, "
                                   "jitter at most the delay)",
                                   delay.count(), jitter.count()));
    }
    return QueueFault(FaultKind::kDelay, nodes, peers, include_control,
                      fmt::format("delay {} ms ± {} ms from {}{}", delay.count(), jitter.count(),
                                  fmt::join(nodes, ","), PeersNote(peers, include_control)),
                      {"--delay-ms", std::to_string(delay.count()), "--jitter-ms",
                       std::to_string(jitter.count())},
                      fmt::format("held {} ms ± {} ms", delay.count(), jitter.count()), start);
  }

  Result<FaultReport> Mangle(const std::vector<std::string>& nodes,
                             const std::vector<std::string>& peers, const Mangling& mangling,
                             bool include_control) override {
    const std::int64_t start = internal::MonoNanos();
    const std::string_view name = FaultKindName(mangling.kind);
    if (mangling.kind != FaultKind::kDuplicate && mangling.kind != FaultKind::kReorder &&
        mangling.kind != FaultKind::kPacketCorrupt) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("nemesis: {}: not a packet mangling (duplicate, reorder or "
                                   "packet-corrupt)",
                                   name));
    }
    if (!(mangling.share >= 0.0 && mangling.share <= 1.0)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("nemesis: {}: share {} is not in 0..1", name, mangling.share));
    }
    const bool reorder = mangling.kind == FaultKind::kReorder;
    if (reorder && (mangling.delay.count() <= 0 || mangling.delay.count() > 60000 ||
                    mangling.jitter.count() < 0 || mangling.jitter > mangling.delay)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("nemesis: reorder: held {} ms ± {} ms is out of range "
                                   "(1..60000 ms, jitter at most the hold)",
                                   mangling.delay.count(), mangling.jitter.count()));
    }
    std::vector<std::string> args = {"--share", fmt::format("{}", mangling.share)};
    std::string what = fmt::format("{} {:.1f}%", name, mangling.share * 100);
    std::string description =
        fmt::format("{} {:.1f}% of packets from {}{}", name, mangling.share * 100,
                    fmt::join(nodes, ","), PeersNote(peers, include_control));
    if (reorder) {
      args.insert(args.end(), {"--delay-ms", std::to_string(mangling.delay.count()), "--jitter-ms",
                               std::to_string(mangling.jitter.count())});
      what += fmt::format(" held {} ms ± {} ms", mangling.delay.count(), mangling.jitter.count());
      description =
          fmt::format("reorder {:.1f}% of packets (held {} ms ± {} ms) from {}{}",
                      mangling.share * 100, mangling.delay.count(), mangling.jitter.count(),
                      fmt::join(nodes, ","), PeersNote(peers, include_control));
    }
    if (mangling.kind == FaultKind::kDuplicate) {
      what += fmt::format(", copies sent marked {:#x}", packet::kDuplicateMark);
    }
    if (mangling.kind == FaultKind::kPacketCorrupt) {
      what += ", one payload bit flipped, checksum recomputed";
    }
    return QueueFault(mangling.kind, nodes, peers, include_control, std::move(description),
                      std::move(args), what, start);
  }

  Result<FaultReport> Bandwidth(const std::vector<std::string>& nodes,
                                std::int64_t kbit_per_s) override {
    const std::int64_t start = internal::MonoNanos();
    if (kbit_per_s <= 0) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("nemesis: bandwidth: {} kbit/s is not positive", kbit_per_s));
    }
    FAULTLINE_RETURN_IF_ERROR(CheckLocal("bandwidth"));
    FAULTLINE_ASSIGN_OR_RETURN(auto targets, Targets("bandwidth", nodes, {}, false));
    LedgerEntry entry = BaseEntry(FaultKind::kBandwidth);
    entry.nodes = nodes;
    entry.description = fmt::format("bandwidth {} kbit/s out of {} ({})", kbit_per_s,
                                    fmt::join(nodes, ","), options_.device);
    for (const auto& t : targets) {
      LedgerObject o = Obj("qdisc", t.node->name, t.node->netns, options_.device);
      o.handle = packet::kQdiscHandle;
      entry.objects.push_back(o);
    }
    FAULTLINE_ASSIGN_OR_RETURN(entry, Record(std::move(entry)));
    FaultReport report = Begin(FaultKind::kBandwidth, entry, start);
    std::vector<std::string> netns;
    for (const auto& t : targets) netns.push_back(t.node->netns);
    const auto statuses =
        ForNodes(netns, [&](size_t) { return packet::ApplyTbf(options_.device, kbit_per_s); });
    Finish(report, targets, statuses, [&](size_t) {
      return fmt::format("tbf root qdisc fa17: on {}, rate {} kbit/s, latency 50 ms",
                         options_.device, kbit_per_s);
    });
    return report;
  }

  Result<FaultReport> Clock(const FaultSpec& spec,
                            const std::vector<std::string>& targets) override {
    FAULTLINE_RETURN_IF_ERROR(CheckNodes(FaultKindName(spec.kind), targets));
    ClockRequest req;
    req.spec = &spec;
    req.targets = targets;
    SortByCluster(req.targets);
    req.control = options_.control;
    req.access = &options_.clock;
    req.ledger = &ledger_;
    req.base = BaseEntry(spec.kind);
    req.record = [this](LedgerEntry e, const std::function<void(LedgerEntry&)>& fill) {
      return Record(std::move(e), fill);
    };
    req.heal = [this](const std::function<bool(const LedgerEntry&)>& select) {
      return internal::HealEntries(ledger_, options_.control, NetFor(), select);
    };
    return ApplyClockFault(req);
  }

  Result<FaultReport> Member(const std::vector<std::string>& nodes, MemberAction action) override {
    const std::int64_t start = internal::MonoNanos();
    const FaultKind kind =
        action == MemberAction::kRemove ? FaultKind::kMemberRemove : FaultKind::kMemberAdd;
    const std::string what(FaultKindName(kind));
    Membership* membership = options_.membership;
    if (membership == nullptr) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("nemesis: {}: this cluster's system cannot change its "
                                   "membership (no Membership given)",
                                   what));
    }
    if (nodes.empty()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("nemesis: {}: no nodes given", what));
    }
    std::vector<std::string> original;
    for (const auto& n : options_.net.nodes) original.push_back(n.name);
    if (original.empty() && options_.control != nullptr) original = options_.control->Nodes();
    FAULTLINE_RETURN_IF_ERROR(CheckNodes(what, nodes));
    LedgerEntry entry = BaseEntry(kind);
    entry.nodes = nodes;
    SortByCluster(entry.nodes);
    entry.description =
        fmt::format("{} {} ({})", what, fmt::join(entry.nodes, ","), membership->Name());
    if (action == MemberAction::kRemove) {
      Result<std::vector<std::string>> members = membership->Members();
      if (!members) return std::move(members).error().WithContext("nemesis: " + what);
      FAULTLINE_RETURN_IF_ERROR(CheckShrink(original, *members, entry.nodes, membership->MaxOut()));
      for (const auto& node : entry.nodes) entry.objects.push_back(Obj("member-removed", node));
      FAULTLINE_ASSIGN_OR_RETURN(entry, Record(std::move(entry)));
    }
    FaultReport report = Begin(kind, entry, start);
    const MemberStep step = [](std::string_view s) {
      internal::MaybeCrash(fmt::format("member-{}", s).c_str());
    };
    std::set<std::string> done;
    for (size_t i = 0; i < report.nodes.size(); ++i) {
      const std::string& node = report.nodes[i];
      if (i == 1) internal::MaybeCrash("between-nodes");
      Result<std::string> r = action == MemberAction::kRemove ? membership->Remove(node, step)
                                                              : membership->Add(node, step);
      if (r) {
        done.insert(node);
        report.details.push_back(fmt::format("{}: {}", node, *r));
      } else {
        report.failed.push_back(node);
        report.details.push_back(fmt::format("{}: {}", node, r.error().message()));
      }
    }
    report.ok = report.failed.empty();
    if (!report.ok && action == MemberAction::kRemove) {
      report.notes.push_back("failed nodes may be half removed: heal adds them back");
    }
    if (action == MemberAction::kAdd) {
      // Adding by hand closes the removals it undid, as starting closes kills.
      if (auto state = ledger_.Read()) {
        for (const auto& e : state->open) {
          if (e.kind != FaultKindName(FaultKind::kMemberRemove)) continue;
          const bool all = std::all_of(e.nodes.begin(), e.nodes.end(),
                                       [&](const std::string& n) { return done.contains(n); });
          if (!all) continue;
          EndWatchdogs(e);
          (void)ledger_.Close(e.id, "undone by member-add");
          report.notes.push_back(fmt::format("closed ledger entry #{} ({})", e.id, e.kind));
        }
      }
    }
    report.end_mono_ns = internal::MonoNanos();
    return report;
  }

  FaultReport HealAll() override {
    FaultReport report =
        internal::HealEntries(ledger_, options_.control, NetFor(), {}, options_.membership);
    scratch_.clear();
    return report;
  }

  Result<std::vector<std::string>> OpenFaults() const override {
    FAULTLINE_ASSIGN_OR_RETURN(LedgerState state, ledger_.Read());
    std::vector<std::string> out;
    const std::int64_t now = UnixMillis();
    for (const auto& e : state.open) {
      std::vector<std::string> objects;
      for (const auto& o : e.objects) objects.push_back(DescribeObject(o));
      const bool owner_alive = internal::IsSameProcess(e.owner_pid, e.owner_start_time);
      std::string deadline = "no deadline";
      if (e.deadline_unix_ms != 0) {
        deadline =
            e.deadline_unix_ms > now
                ? fmt::format("deadline in {:.1f} s", (e.deadline_unix_ms - now) / 1000.0)
                : fmt::format("deadline passed {:.1f} s ago", (now - e.deadline_unix_ms) / 1000.0);
      }
      out.push_back(fmt::format("#{} {}: {} [{}] owner pid {} ({}), {}, open {:.1f} s", e.id,
                                e.kind, e.description, fmt::join(objects, "; "), e.owner_pid,
                                owner_alive ? "alive" : "gone", deadline,
                                (now - e.opened_unix_ms) / 1000.0));
    }
    if (state.torn_tail) out.push_back("ledger: " + *state.torn_tail);
    for (const auto& w : state.warnings) out.push_back("ledger: " + w);
    return out;
  }

 private:
  struct Target {
    const NetNode* node = nullptr;
    std::vector<std::string> addresses;  // destinations filtered on this node
  };

  static std::string DescribeObject(const LedgerObject& o) {
    if (o.type == "partition") return fmt::format("{} backend", o.name);
    if (o.type == "nft-table") return fmt::format("{}: nft table inet {}", o.node, o.name);
    if (o.type == "iptables-chain") return fmt::format("{}: iptables chain {}", o.node, o.name);
    if (o.type == "qdisc") return fmt::format("{}: tbf fa17: on {}", o.node, o.name);
    if (o.type == "helper") return fmt::format("NFQUEUE helper pid {}", o.pid);
    if (o.type == "watchdog") return fmt::format("watchdog pid {}", o.pid);
    if (o.type == "paused") return fmt::format("{}: paused pid {}", o.node, o.pid);
    if (o.type == "killed") return fmt::format("{}: killed", o.node);
    if (o.type == "member-removed") return fmt::format("{}: removed from the membership", o.node);
    if (o.type == "burner") return fmt::format("siege burner pid {}", o.pid);
    if (o.type == "setting") return fmt::format("{} {} (was {})", o.name, o.set_to, o.value);
    if (o.type == "scratch-file") return fmt::format("siege file {}", o.name);
    if (o.type == "clock-file")
      return fmt::format("{}: clock file {} ({})", o.node, o.name, o.set_to);
    if (o.type == "clock-settime") {
      return fmt::format("{}: clock set over ssh (reference {}, NTP stopped: {})", o.node, o.value,
                         o.set_to.empty() ? "none" : o.set_to);
    }
    if (o.type == "clock-strobe-loop") return fmt::format("{}: strobe loop pid {}", o.node, o.pid);
    if (o.type == "toxic") {
      return fmt::format("toxic {} on proxy {}{}", o.name, o.proxy,
                         o.address.empty() ? std::string() : " at " + o.address);
    }
    return o.type;
  }

  // A fault through NFQUEUE: our iptables chain queues the packets leaving `nodes` toward their
  // peers, and a helper process (mode: the kind's name, then `helper_args`) acts on them.
  Result<FaultReport> QueueFault(FaultKind kind, const std::vector<std::string>& nodes,
                                 const std::vector<std::string>& peers, bool include_control,
                                 std::string description,
                                 const std::vector<std::string>& helper_args,
                                 const std::string& what_helper_does, std::int64_t start) {
    const std::string_view name = FaultKindName(kind);
    FAULTLINE_RETURN_IF_ERROR(CheckLocal(name));
    FAULTLINE_ASSIGN_OR_RETURN(auto targets, Targets(name, nodes, peers, include_control));
    FAULTLINE_ASSIGN_OR_RETURN(std::string helper, internal::HelperPath());
    std::vector<std::string> netns;
    for (const auto& t : targets) netns.push_back(t.node->netns);
    // Whether iptables will create the filter table here (heal then removes it, if left empty).
    std::vector<bool> had_filter(targets.size(), true);
    const auto probed = internal::RunInNetnsParallel(netns, [&](size_t i) -> Status {
      FAULTLINE_ASSIGN_OR_RETURN(bool exists, packet::FilterTableExists());
      had_filter[i] = exists;
      return OkStatus();
    });
    for (size_t i = 0; i < probed.size(); ++i) {
      if (!probed[i]) {
        return probed[i].error().WithContext(
            fmt::format("nemesis: {}: on {}", name, targets[i].node->name));
      }
    }
    LedgerEntry entry = BaseEntry(kind);
    entry.nodes = nodes;
    entry.description = std::move(description);
    FAULTLINE_ASSIGN_OR_RETURN(entry, Record(std::move(entry), [&](LedgerEntry& e) {
                                 for (size_t i = 0; i < targets.size(); ++i) {
                                   LedgerObject o = Obj("iptables-chain", targets[i].node->name,
                                                        targets[i].node->netns,
                                                        packet::QueueChainName(e.run_id, e.id));
                                   o.flag = !had_filter[i];
                                   e.objects.push_back(o);
                                 }
                                 LedgerObject h = Obj("helper", "", "", HelperTag(e.id));
                                 h.value = CountsPath(e.id);
                                 e.objects.push_back(h);
                               }));
    const std::string chain = entry.objects.front().name;
    const int queue = 10000 + static_cast<int>(entry.id % 50000);
    FaultReport report = Begin(kind, entry, start);
    std::vector<std::string> argv = {helper, std::string(name)};
    argv.insert(argv.end(), helper_args.begin(), helper_args.end());
    argv.insert(argv.end(), {"--queue", std::to_string(queue), "--seed", std::to_string(entry.id),
                             "--counts", CountsPath(entry.id), "--tag", HelperTag(entry.id)});
    for (const auto& n : netns) {
      argv.push_back("--netns");
      argv.push_back(internal::NetnsPath(n));
    }
    auto pid = internal::SpawnHelper(argv, std::chrono::seconds(5));
    if (!pid) {
      report.ok = false;
      report.details.push_back("helper: " + pid.error().message());
      for (const auto& t : targets) report.failed.push_back(t.node->name);
      report.end_mono_ns = internal::MonoNanos();
      // Nothing was installed, but the entry stays open for an idempotent heal.
      return report;
    }
    const auto st = internal::ReadProcStat(*pid);
    LedgerObject helper_object = Obj("helper", "", "", HelperTag(entry.id));
    helper_object.pid = *pid;
    helper_object.start_time = st ? st->start_time : 0;
    helper_object.value = CountsPath(entry.id);
    FAULTLINE_RETURN_IF_ERROR(ledger_.Amend(entry.id, {helper_object}));
    const auto statuses = ForNodes(netns, [&](size_t i) {
      return packet::ApplyQueueChain(chain, targets[i].addresses, queue);
    });
    Finish(report, targets, statuses, [&](size_t i) {
      return fmt::format(
          "iptables chain {} from OUTPUT: NFQUEUE {} (bypass, unmarked packets) to {} "
          "address(es), {} by helper pid {}",
          chain, queue, targets[i].addresses.size(), what_helper_does, *pid);
    });
    return report;
  }

  // Where the helper of entry `id` writes its counts (nemesis/packet_mangle.h).
  std::string CountsPath(std::uint64_t id) const {
    return fmt::format("{}.{}.counts", ledger_.path(), id);
  }

  std::string HelperTag(std::uint64_t id) const { return fmt::format("{}#{}", ledger_.path(), id); }

  static std::string PeersNote(const std::vector<std::string>& peers, bool include_control) {
    std::string s = peers.empty() ? std::string(" to every other node")
                                  : fmt::format(" to {}", fmt::join(peers, ","));
    if (include_control) s += " and the control address";
    return s;
  }

  const NetNode* FindNode(const std::string& name) const {
    for (const auto& n : options_.net.nodes) {
      if (n.name == name) return &n;
    }
    return nullptr;
  }

  Status CheckNodes(std::string_view what, const std::vector<std::string>& nodes) const {
    for (const auto& n : nodes) {
      if (FindNode(n) == nullptr) {
        std::vector<std::string> names;
        for (const auto& node : options_.net.nodes) names.push_back(node.name);
        return MakeError(ErrorCode::kNotFound,
                         fmt::format("nemesis: {}: no node named '{}' (nodes: {})", what, n,
                                     fmt::join(names, ", ")));
      }
    }
    return OkStatus();
  }

  void SortByCluster(std::vector<std::string>& nodes) const {
    std::map<std::string, size_t> order;
    for (size_t i = 0; i < options_.net.nodes.size(); ++i) order[options_.net.nodes[i].name] = i;
    std::sort(nodes.begin(), nodes.end(),
              [&](const std::string& a, const std::string& b) { return order[a] < order[b]; });
  }

  Result<std::vector<Target>> Targets(std::string_view what, const std::vector<std::string>& nodes,
                                      const std::vector<std::string>& peers,
                                      bool include_control) const {
    if (nodes.empty()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("nemesis: {}: no nodes given", what));
    }
    FAULTLINE_RETURN_IF_ERROR(CheckNodes(what, nodes));
    FAULTLINE_RETURN_IF_ERROR(CheckNodes(what, peers));
    if (include_control && options_.control_address.empty()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("nemesis: {}: the control address is not known "
                                   "(NemesisOptions::control_address)",
                                   what));
    }
    std::vector<Target> out;
    for (const auto& name : nodes) {
      Target t{.node = FindNode(name), .addresses = {}};
      for (const auto& n : options_.net.nodes) {
        if (n.name == name) continue;
        if (!peers.empty() && std::find(peers.begin(), peers.end(), n.name) == peers.end()) {
          continue;
        }
        t.addresses.push_back(n.address);
      }
      if (include_control) t.addresses.push_back(options_.control_address);
      out.push_back(std::move(t));
    }
    return out;
  }

  LedgerEntry BaseEntry(FaultKind kind) const {
    LedgerEntry e;
    e.kind = std::string(FaultKindName(kind));
    e.run_id = options_.net.run_id;
    e.owner_pid = internal::SelfPid();
    e.owner_start_time = internal::SelfStartTime();
    e.opened_unix_ms = UnixMillis();
    if (options_.deadline.count() > 0)
      e.deadline_unix_ms = e.opened_unix_ms + options_.deadline.count();
    return e;
  }

  // Appends the entry (durable before any node is touched), then starts its watchdog.
  Result<LedgerEntry> Record(LedgerEntry entry,
                             const std::function<void(LedgerEntry&)>& fill = {}) {
    FAULTLINE_ASSIGN_OR_RETURN(LedgerEntry recorded, ledger_.Append(std::move(entry), fill));
    if (recorded.deadline_unix_ms != 0) {
      auto helper = internal::HelperPath();
      if (!helper) return std::move(helper).error().WithContext("nemesis: deadline watchdog");
      auto pid = internal::SpawnHelper(
          {*helper, "watchdog", "--ledger", ledger_.path(), "--id", std::to_string(recorded.id),
           "--at-unix-ms", std::to_string(recorded.deadline_unix_ms)},
          std::chrono::seconds(5));
      if (!pid) {
        (void)ledger_.Close(recorded.id, "not applied: no watchdog");
        return std::move(pid).error().WithContext("nemesis: deadline watchdog");
      }
      const auto st = internal::ReadProcStat(*pid);
      LedgerObject w = Obj("watchdog");
      w.pid = *pid;
      w.start_time = st ? st->start_time : 0;
      FAULTLINE_RETURN_IF_ERROR(ledger_.Amend(recorded.id, {w}));
      recorded.objects.push_back(w);
    }
    return recorded;
  }

  FaultReport Begin(FaultKind kind, const LedgerEntry& entry, std::int64_t start) const {
    FaultReport r;
    r.ledger_id = entry.id;
    r.kind = kind;
    r.description = entry.description;
    r.nodes = entry.nodes;
    SortByCluster(r.nodes);
    r.start_mono_ns = start;
    return r;
  }

  static void Finish(FaultReport& report, const std::vector<Target>& targets,
                     const std::vector<Status>& statuses,
                     const std::function<std::string(size_t)>& mechanism) {
    for (size_t i = 0; i < targets.size(); ++i) {
      if (statuses[i]) {
        report.details.push_back(fmt::format("{}: {}", targets[i].node->name, mechanism(i)));
      } else {
        report.failed.push_back(targets[i].node->name);
        report.details.push_back(
            fmt::format("{}: {}", targets[i].node->name, statuses[i].error().message()));
      }
    }
    report.ok = report.failed.empty();
    if (!report.ok) report.notes.push_back("failed nodes may hold part of the fault: heal");
    report.end_mono_ns = internal::MonoNanos();
  }

  // An entry about to be closed: its watchdog has nothing left to guard.
  static void EndWatchdogs(const LedgerEntry& e) {
    for (const auto& o : e.objects) {
      if (o.type == "watchdog") internal::EndProcess(o.pid, o.start_time, std::chrono::seconds(1));
    }
  }

  void CloseReplaced(const LedgerEntry& current,
                     const std::function<bool(const LedgerEntry&)>& same) {
    auto state = ledger_.Read();
    if (!state) return;
    for (const auto& e : state->open) {
      if (e.id == current.id || !same(e)) continue;
      EndWatchdogs(e);
      (void)ledger_.Close(e.id, fmt::format("replaced by #{}", current.id));
    }
  }

  // Heals partitions with our own backend when the entry is ours (same run id and nodes), else
  // with a new one.
 public:
  internal::NetFor NetFor() {
    return [this](const std::string& backend, const NetConfig& config) -> Result<Net*> {
      const bool ours =
          config.run_id == options_.net.run_id && config.nodes.size() == options_.net.nodes.size();
      if (ours) {
        if (auto it = nets_.find(backend); it != nets_.end()) return it->second.get();
      }
      std::unique_ptr<Net> net;
      if (options_.make_net) {
        FAULTLINE_ASSIGN_OR_RETURN(net, options_.make_net(config));
      }
      if (!net || net->Name() != backend) {
        FAULTLINE_ASSIGN_OR_RETURN(BackendKind kind, ParseBackendKind(backend));
        FAULTLINE_ASSIGN_OR_RETURN(net, MakeNet(kind, config));
      }
      scratch_.push_back(std::move(net));
      return scratch_.back().get();
    };
  }

 private:
  // Packet faults work inside local network namespaces.
  Status CheckLocal(std::string_view what) const {
    if (options_.control != nullptr && options_.control->Name() == "ssh") {
      return MakeError(ErrorCode::kUnavailable,
                       fmt::format("nemesis: {}: packet faults over ssh are not implemented (they "
                                   "need the nodes' network namespaces on this machine)",
                                   what));
    }
    return OkStatus();
  }

  Result<Net*> PartitionNet(PartitionMode mode) {
    const std::string wanted(BackendName(options_.backend));
    for (auto& [name, net] : nets_) {
      if ((options_.backend == BackendKind::kAuto || name == wanted) && net->Supports(mode)) {
        return net.get();
      }
    }
    std::unique_ptr<Net> net;
    if (options_.make_net) {
      FAULTLINE_ASSIGN_OR_RETURN(net, options_.make_net(options_.net));
      if (!net->Supports(mode)) {
        return MakeError(ErrorCode::kInvalidArgument,
                         fmt::format("nemesis: partition: backend {} cannot do {}", net->Name(),
                                     PartitionModeName(mode)));
      }
    } else {
      FAULTLINE_ASSIGN_OR_RETURN(net, MakeNet(options_.backend, options_.net, mode));
    }
    const std::string name(net->Name());
    nets_[name] = std::move(net);
    return nets_[name].get();
  }

  NemesisOptions options_;
  Ledger ledger_;
  std::map<std::string, std::unique_ptr<Net>> nets_;
  std::vector<std::unique_ptr<Net>> scratch_;
  std::optional<FaultReport> recovered_;
};

}  // namespace

Result<FaultReport> Nemesis::Member(const std::vector<std::string>& /*nodes*/,
                                    MemberAction action) {
  return MakeError(ErrorCode::kInvalidArgument,
                   fmt::format("nemesis: {}: this nemesis cannot change a cluster's membership",
                               action == MemberAction::kRemove ? "member-remove" : "member-add"));
}

std::string FaultReport::Describe() const {
  std::string out =
      fmt::format("{} {}{}: {} ({:.1f} ms)", FaultKindName(kind), ok ? "ok" : "FAILED",
                  ledger_id != 0 ? fmt::format(" #{}", ledger_id) : std::string(), description,
                  (end_mono_ns - start_mono_ns) / 1e6);
  for (const auto& d : details) out += "\n  " + d;
  for (const auto& n : notes) out += "\n  note: " + n;
  if (!counts.empty()) {
    std::vector<std::string> parts;
    for (const auto& [key, value] : counts) parts.push_back(fmt::format("{} {}", key, value));
    out += fmt::format("\n  counted: {}", fmt::join(parts, ", "));
  }
  return out;
}

Result<FaultReport> ApplyFault(Nemesis& nemesis, const FaultSpec& spec,
                               const std::vector<std::string>& nodes, const LeaderFn& leader,
                               const FaultContext& context) {
  auto in_context = [](Error e) { return std::move(e).WithContext("nemesis"); };
  if (Status valid = ValidateFaultSpec(spec); !valid) return in_context(std::move(valid).error());
  const unsigned params = KindInfo(spec.kind).params;
  std::vector<std::string> targets;
  if (params & kParamTargets || spec.kind == FaultKind::kIsolateLeader) {
    Result<std::vector<std::string>> resolved = FaultTargets(spec, nodes, leader);
    if (!resolved) return in_context(std::move(resolved).error());
    targets = std::move(*resolved);
  }
  switch (spec.kind) {
    case FaultKind::kPartition:
    case FaultKind::kIsolate:
    case FaultKind::kIsolateLeader: {
      // The leader is asked once per fault: isolate kinds resolved it as their targets already;
      // a partition grudge asks it itself (leader-minority) or not at all.
      const std::optional<std::string> resolved_leader =
          targets.empty() ? std::nullopt : std::optional<std::string>(targets.front());
      Result<Grudge> grudge =
          spec.kind == FaultKind::kPartition
              ? FaultGrudge(spec, nodes, leader)
              : FaultGrudge(spec, nodes, [&resolved_leader] { return resolved_leader; });
      if (!grudge) return in_context(std::move(grudge).error());
      return nemesis.Partition(*grudge, spec.partition_mode);
    }
    case FaultKind::kKill:
    case FaultKind::kPause:
    case FaultKind::kResume:
    case FaultKind::kStart:
    case FaultKind::kRestart:
      return nemesis.Process(targets, *ProcessActionOf(spec.kind));
    case FaultKind::kLoss:
      return nemesis.Loss(targets, spec.peers, spec.probability, spec.include_control);
    case FaultKind::kDelay:
      return nemesis.Delay(targets, spec.peers, spec.delay, spec.jitter, spec.include_control);
    case FaultKind::kBandwidth:
      return nemesis.Bandwidth(targets, spec.kbit);
    case FaultKind::kDuplicate:
    case FaultKind::kReorder:
    case FaultKind::kPacketCorrupt:
      return nemesis.Mangle(targets, spec.peers,
                            Nemesis::Mangling{.kind = spec.kind,
                                              .share = spec.probability,
                                              .delay = spec.delay,
                                              .jitter = spec.jitter},
                            spec.include_control);
    case FaultKind::kHeal:
      return nemesis.HealAll();
    case FaultKind::kMemberRemove:
      return nemesis.Member(targets, MemberAction::kRemove);
    case FaultKind::kMemberAdd:
      return nemesis.Member(targets, MemberAction::kAdd);
    case FaultKind::kCrash:
      if (context.drill_faults != nullptr) return context.drill_faults->Crash(targets);
      break;
    case FaultKind::kHttpStatus:
    case FaultKind::kHttpDelay:
    case FaultKind::kHttpDrop:
    case FaultKind::kHttpTruncate:
    case FaultKind::kProxyLatency:
      if (context.proxy_faults != nullptr) {
        return ApplyProxyFault(*context.proxy_faults, spec, targets);
      }
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("nemesis: {} faults need proxies in front of the nodes "
                                   "(campaign --proxy, a FIT run or a wave)",
                                   FaultKindName(spec.kind)));
    case FaultKind::kClockBump:
    case FaultKind::kClockStrobe:
    case FaultKind::kClockReset:
      return nemesis.Clock(spec, targets);
    case FaultKind::kLoseUnsynced:
    case FaultKind::kLoseUnsyncedOne:
    case FaultKind::kFsyncError:
    case FaultKind::kTornWrite:
    case FaultKind::kSlowDisk:
      if (context.disk_faults != nullptr) return context.disk_faults->Apply(spec, targets);
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("nemesis: {} faults need the faulty filesystem mounted over the "
                                   "nodes' data dirs (campaign --disk fuse)",
                                   FaultKindName(spec.kind)));
    case FaultKind::kCorrupt:
      // On the faulty filesystem a corruption is undoable and goes through DiskFaults.
      if (context.disk_faults != nullptr) return context.disk_faults->Apply(spec, targets);
      break;
    case FaultKind::kSiege:
      break;
  }
  // A crash needs DrillFaults to signal with; corruptions and sieges: see nemesis.h.
  return MakeError(ErrorCode::kInvalidArgument,
                   fmt::format("nemesis: {} faults are applied by drills, not through the nemesis",
                               FaultKindName(spec.kind)));
}

Result<std::unique_ptr<Nemesis>> Nemesis::Open(const NemesisOptions& options) {
  FAULTLINE_ASSIGN_OR_RETURN(Ledger ledger, Ledger::Open(options.ledger_path));
  auto nemesis = std::make_unique<NemesisImpl>(options, ledger);
  if (options.heal_on_open) {
    FAULTLINE_ASSIGN_OR_RETURN(LedgerState state, ledger.Read());
    const bool orphans = std::any_of(state.open.begin(), state.open.end(), [](const auto& e) {
      return !internal::IsSameProcess(e.owner_pid, e.owner_start_time);
    });
    if (orphans) {
      nemesis->set_recovered(internal::HealEntries(
          ledger, options.control, nemesis->NetFor(),
          [](const LedgerEntry& e) {
            return !internal::IsSameProcess(e.owner_pid, e.owner_start_time);
          },
          options.membership));
    }
  }
  return std::unique_ptr<Nemesis>(std::move(nemesis));
}

}  // namespace faultline::nemesis
