#include "nemesis/internal/heal.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>

#include "nemesis/corrupt.h"
#include "nemesis/disk.h"
#include "nemesis/internal/clock_heal.h"
#include "nemesis/internal/netns.h"
#include "nemesis/internal/proc.h"
#include "nemesis/internal/toxic_heal.h"
#include "nemesis/packet.h"
#include "nemesis/packet_mangle.h"

namespace faultline::nemesis::internal {
namespace {

bool NetnsExists(const std::string& netns) { return ::access(NetnsPath(netns).c_str(), F_OK) == 0; }

bool IsNetObject(const LedgerObject& o) {
  return o.type == "nft-table" || o.type == "iptables-chain" || o.type == "qdisc";
}

// Heals one namespace object on a thread inside its namespace.
Result<std::string> HealNetObject(const LedgerObject& o) {
  if (o.type == "nft-table") {
    FAULTLINE_ASSIGN_OR_RETURN(bool had, packet::HealLoss(o.name));
    return had ? fmt::format("deleted nft table inet {}", o.name)
               : fmt::format("no nft table inet {} (already healed)", o.name);
  }
  if (o.type == "iptables-chain") {
    FAULTLINE_ASSIGN_OR_RETURN(bool had, packet::HealQueueChain(o.name, o.flag));
    return had ? fmt::format("deleted iptables chain {} and its OUTPUT jump", o.name)
               : fmt::format("no iptables chain {} (already healed)", o.name);
  }
  FAULTLINE_ASSIGN_OR_RETURN(bool had, packet::HealTbf(o.name));
  return had ? fmt::format("deleted tbf root qdisc fa17: on {}", o.name)
             : fmt::format("no qdisc fa17: on {} (already healed)", o.name);
}

// A mount of the faulty filesystem (nemesis/disk.h) is the ground disk faults stand on, not a
// fault: heals leave it while the process that mounted it lives.
bool HoldsLiveMount(const LedgerEntry& e) {
  const bool mount = std::any_of(e.objects.begin(), e.objects.end(),
                                 [](const LedgerObject& o) { return o.type == "disk-mount"; });
  return mount && IsSameProcess(e.owner_pid, e.owner_start_time);
}

std::string Who(const LedgerObject& o) { return o.node.empty() ? o.type : o.node; }

void Fail(EntryHeal& out, const std::string& who, const std::string& why) {
  out.ok = false;
  out.details.push_back(fmt::format("{}: {}", who, why));
  out.failed.push_back(who);
}

const DbProcess* FindDb(const std::vector<DbProcess>& dbs, const std::string& node) {
  for (const auto& d : dbs) {
    if (d.node == node) return &d;
  }
  return nullptr;
}

void HealProcessObject(const LedgerObject& o, NodeControl* control, EntryHeal& out) {
  if (o.type == "helper") {
    std::vector<std::string> ended;
    if (o.pid != 0) ended.push_back(EndProcess(o.pid, o.start_time, std::chrono::seconds(1)));
    // A helper started but not yet amended into the ledger is found by its unique tag.
    if (!o.name.empty()) {
      for (int pid : FindProcesses({"faultline-nemesis-helper", " " + o.name + " "})) {
        if (pid == SelfPid()) continue;
        const auto st = ReadProcStat(pid);
        if (st) ended.push_back(EndProcess(pid, st->start_time, std::chrono::seconds(1)));
      }
    }
    out.details.push_back(fmt::format(
        "helper: {}", ended.empty() ? "none running" : fmt::format("{}", fmt::join(ended, "; "))));
    // The helper writes its counts on SIGTERM (and every second before): read them once, then
    // remove the file (a second object of the same helper finds none).
    if (!o.value.empty()) {
      std::ifstream in(o.value);
      if (in) {
        const std::string text((std::istreambuf_iterator<char>(in)), {});
        for (const auto& [key, value] : packet::ParsePacketCounts(text)) out.counts[key] += value;
        std::error_code ignored;
        std::filesystem::remove(o.value, ignored);
      }
    }
    return;
  }
  if (o.type == "watchdog") {
    if (o.pid != 0 && o.pid != SelfPid()) {
      out.details.push_back(
          fmt::format("watchdog: {}", EndProcess(o.pid, o.start_time, std::chrono::seconds(1))));
    }
    return;
  }
  if (o.type == "paused") {
    if (control == nullptr) {
      if (!o.flag) {
        Fail(out, o.node, "cannot resume a remote process without node control");
        return;
      }
      const bool sent = SignalIfSame(o.pid, o.start_time, SIGCONT);
      out.details.push_back(
          fmt::format("{}: {}", o.node,
                      sent ? fmt::format("SIGCONT to pid {}", o.pid)
                           : fmt::format("pid {} is gone (nothing to resume)", o.pid)));
      return;
    }
    auto dbs = control->Databases();
    if (!dbs) {
      // Fall back to the signal when the node controller is unreachable.
      if (o.flag && SignalIfSame(o.pid, o.start_time, SIGCONT)) {
        out.details.push_back(
            fmt::format("{}: SIGCONT to pid {} ({})", o.node, o.pid, dbs.error().message()));
        return;
      }
      Fail(out, o.node, fmt::format("resume: {}", dbs.error().message()));
      return;
    }
    const DbProcess* db = FindDb(*dbs, o.node);
    // The process the pause stopped is resumed whenever it still runs, stopped or not: SIGSTOP
    // takes effect only when its target is next scheduled (and a multi-threaded process shows
    // 'T' only once its main thread stopped), so a heal soon after the pause may find it not
    // yet stopped, and SIGCONT is what cancels the pending stop. Resuming a running process
    // changes nothing.
    const bool same_local = o.flag && o.pid != 0 && IsSameProcess(o.pid, o.start_time);
    const bool same_db = db != nullptr && db->alive && o.pid != 0 && db->pid == o.pid &&
                         (o.start_time == 0 || db->start_time == o.start_time);
    const bool paused_local = same_local && ReadProcStat(o.pid).value_or(ProcStat{}).state == 'T';
    if ((db == nullptr || !db->paused) && !same_local && !same_db) {
      out.details.push_back(fmt::format("{}: not paused (nothing to resume)", o.node));
      return;
    }
    const bool shown_stopped = paused_local || (db != nullptr && db->paused);
    const std::string_view pending =
        shown_stopped ? "" : " (not seen stopped: resumed in case its stop was still pending)";
    const auto reports = control->Process({o.node}, ProcessAction::kResume);
    if (!reports.empty() && reports[0].ok) {
      out.details.push_back(fmt::format("{}: {}{}", o.node, reports[0].mechanism, pending));
      return;
    }
    if (same_local && SignalIfSame(o.pid, o.start_time, SIGCONT)) {
      out.details.push_back(fmt::format("{}: SIGCONT to pid {}{}", o.node, o.pid, pending));
      return;
    }
    Fail(out, o.node,
         fmt::format("resume: {}", reports.empty() || !reports[0].error
                                       ? std::string("no report")
                                       : reports[0].error->message()));
    return;
  }
  if (o.type == "burner") {
    out.details.push_back(
        fmt::format("burner: {}", EndProcess(o.pid, o.start_time, std::chrono::milliseconds(200))));
    return;
  }
  if (o.type == "setting") {
    if (::access(o.name.c_str(), F_OK) != 0) {
      out.details.push_back(fmt::format("{}: gone (nothing to restore)", o.name));
      return;
    }
    if (!o.set_to.empty()) {
      std::string now;
      if (FILE* f = std::fopen(o.name.c_str(), "re")) {
        char buf[64] = {};
        if (std::fgets(buf, sizeof buf, f) != nullptr) now = buf;
        std::fclose(f);
      }
      while (!now.empty() && (now.back() == '\n' || now.back() == ' ')) now.pop_back();
      if (now != o.set_to) {
        out.details.push_back(
            fmt::format("{}: holds {}, not {}: changed since, left alone", o.name, now, o.set_to));
        return;
      }
    }
    const int fd = ::open(o.name.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
    const bool written = fd >= 0 && ::write(fd, o.value.data(), o.value.size()) ==
                                        static_cast<ssize_t>(o.value.size());
    const int saved = errno;
    if (fd >= 0) ::close(fd);
    if (!written) {
      Fail(out, o.name, fmt::format("restore {}: {}", o.value, std::strerror(saved)));
      return;
    }
    out.details.push_back(fmt::format("{}: restored {}", o.name, o.value));
    return;
  }
  if (o.type == "scratch-file") {
    if (::unlink(o.name.c_str()) != 0 && errno != ENOENT) {
      Fail(out, o.name, fmt::format("remove: {}", std::strerror(errno)));
      return;
    }
    out.details.push_back(fmt::format("{}: removed", o.name));
    return;
  }
  if (o.type == "toxic") {
    auto healed = HealToxicObject(o);
    if (!healed) {
      Fail(out, o.proxy, healed.error().message());
      return;
    }
    out.details.push_back(*healed);
    return;
  }
  if (IsClockObject(o)) {
    auto healed = HealClockObject(o, control);
    if (!healed) {
      Fail(out, Who(o), healed.error().message());
      return;
    }
    out.details.push_back(*healed);
    return;
  }
  if (o.type == "disk-mount" || o.type == "disk-fault") {
    Result<std::string> healed = HealDiskObject(o);
    if (!healed) {
      Fail(out, o.node, healed.error().message());
      return;
    }
    out.details.push_back(fmt::format("{}: {}", o.node, *healed));
    return;
  }
  if (o.type == "killed") {
    if (control == nullptr) {
      Fail(out, o.node,
           "its database process was killed and only node control can start it again (run "
           "`faultline nemesis heal` for the cluster)");
      return;
    }
    auto dbs = control->Databases();
    if (!dbs) {
      Fail(out, o.node, fmt::format("start: {}", dbs.error().message()));
      return;
    }
    const DbProcess* db = FindDb(*dbs, o.node);
    if (db != nullptr && db->alive) {
      out.details.push_back(fmt::format("{}: database running (pid {})", o.node, db->pid));
      return;
    }
    const auto reports = control->Process({o.node}, ProcessAction::kStart);
    if (!reports.empty() && reports[0].ok) {
      out.details.push_back(fmt::format("{}: started again: {}", o.node, reports[0].mechanism));
      return;
    }
    Fail(out, o.node,
         fmt::format("start: {}", reports.empty() || !reports[0].error
                                      ? std::string("no report")
                                      : reports[0].error->message()));
    return;
  }
  Fail(out, Who(o), fmt::format("unknown ledger object type '{}' (left alone)", o.type));
}

// A corruption through the faulty filesystem (nemesis/disk.h): the undo file the object names is
// restored compare-and-swap (nemesis/corrupt.h), and removed once done.
void HealCorruptionObject(const LedgerObject& o, EntryHeal& out) {
  Result<RestoreReport> r = RestoreCorruption(o.value, o.set_to);
  if (!r) {
    Fail(out, o.node, r.error().message());
    return;
  }
  out.counts["ranges_restored"] += r->ranges_restored;
  out.counts["ranges_rewritten"] += r->ranges_rewritten;
  out.counts["bytes_restored"] += r->bytes_restored;
  for (const std::string& d : r->details) out.details.push_back(fmt::format("{}: {}", o.node, d));
}

void HealMemberObject(const LedgerObject& o, Membership* membership, EntryHeal& out) {
  if (membership == nullptr) {
    Fail(out, o.node,
         "removed from the cluster's membership, and only the system's membership can add it back "
         "(run `faultline nemesis heal` for the cluster, or a campaign of the system)");
    return;
  }
  auto added = membership->Add(o.node, [](std::string_view step) {
    MaybeCrash(fmt::format("heal-member-{}", step).c_str());
  });
  if (!added) {
    Fail(out, o.node, fmt::format("add back: {}", added.error().message()));
    return;
  }
  out.details.push_back(fmt::format("{}: {}", o.node, *added));
}

}  // namespace

NetFor FreshNets(std::vector<std::unique_ptr<Net>>& keep) {
  return [&keep](const std::string& backend, const NetConfig& config) -> Result<Net*> {
    FAULTLINE_ASSIGN_OR_RETURN(BackendKind kind, ParseBackendKind(backend));
    FAULTLINE_ASSIGN_OR_RETURN(std::unique_ptr<Net> net, MakeNet(kind, config));
    keep.push_back(std::move(net));
    return keep.back().get();
  };
}

EntryHeal HealEntry(const LedgerEntry& entry, NodeControl* control, const NetFor& net_for,
                    Membership* membership) {
  EntryHeal out;
  // 1. Partitions, through their backend's idempotent Heal.
  for (const auto& o : entry.objects) {
    if (o.type != "partition") continue;
    NetConfig config{.run_id = entry.run_id, .nodes = {}};
    // A backend that works through a command runner ("iptables-over-ssh") reaches nodes on other
    // machines: their namespace names mean nothing here, so every node is healed through it.
    const bool remote = o.name.starts_with("iptables-over-");
    for (const auto& n : entry.net) {
      if (remote || NetnsExists(n.netns)) {
        config.nodes.push_back(n);
      } else {
        out.details.push_back(
            fmt::format("{}: namespace {} is gone (nothing to heal)", n.name, n.netns));
      }
    }
    if (config.nodes.empty()) continue;
    auto net = net_for(o.name, config);
    if (!net) {
      Fail(out, "partition", net.error().message());
      continue;
    }
    const NetReport report = (*net)->Heal();
    for (const auto& n : report.nodes) {
      if (n.ok) {
        out.details.push_back(fmt::format("{}: {}", n.node, n.mechanism));
      } else {
        Fail(out, n.node, n.error ? n.error->message() : "heal failed");
      }
    }
  }
  // 2. Rules, chains and qdiscs, each node in parallel inside its namespace.
  std::vector<const LedgerObject*> net_objects;
  for (const auto& o : entry.objects) {
    if (!IsNetObject(o)) continue;
    if (!NetnsExists(o.netns)) {
      out.details.push_back(
          fmt::format("{}: namespace {} is gone (nothing to heal)", Who(o), o.netns));
      continue;
    }
    net_objects.push_back(&o);
  }
  std::vector<std::string> netns;
  for (const auto* o : net_objects) netns.push_back(o->netns);
  std::vector<std::string> done(net_objects.size());
  const auto statuses = RunInNetnsParallel(netns, [&](size_t i) -> Status {
    FAULTLINE_ASSIGN_OR_RETURN(done[i], HealNetObject(*net_objects[i]));
    return OkStatus();
  });
  for (size_t i = 0; i < net_objects.size(); ++i) {
    if (statuses[i]) {
      out.details.push_back(fmt::format("{}: {}", Who(*net_objects[i]), done[i]));
    } else {
      Fail(out, Who(*net_objects[i]), statuses[i].error().message());
    }
  }
  MaybeCrash("during-heal");
  // 3. Damaged files get their bytes back before a process starts on them again.
  for (const auto& o : entry.objects) {
    if (o.type == "disk-corruption") HealCorruptionObject(o, out);
  }
  // 4. Processes: helpers end after their rules are gone (with --queue-bypass, a queue without a
  // listener passes packets anyway); paused processes resume; killed ones start again.
  // Removed members are added back (and started) through the system's membership.
  for (const auto& o : entry.objects) {
    if (o.type == "partition" || IsNetObject(o) || o.type == "disk-corruption") continue;
    if (o.type == "member-removed") {
      HealMemberObject(o, membership, out);
      continue;
    }
    HealProcessObject(o, control, out);
  }
  return out;
}

FaultReport HealEntries(const Ledger& ledger, NodeControl* control, const NetFor& net_for,
                        const std::function<bool(const LedgerEntry&)>& select,
                        Membership* membership, bool include_live_mounts) {
  FaultReport report;
  report.kind = FaultKind::kHeal;
  report.start_mono_ns = MonoNanos();
  report.ok = true;
  auto state = ledger.Read();
  if (!state) {
    report.ok = false;
    report.details.push_back(state.error().message());
    report.description = "heal: cannot read the ledger";
    report.end_mono_ns = MonoNanos();
    return report;
  }
  if (state->torn_tail) report.notes.push_back("ledger: " + *state->torn_tail);
  for (const auto& w : state->warnings) report.notes.push_back("ledger: " + w);
  int healed = 0;
  int selected = 0;
  std::map<std::string, bool> nodes;
  for (const auto& entry : state->open) {
    if (select && !select(entry)) continue;
    if (!include_live_mounts && HoldsLiveMount(entry)) continue;
    ++selected;
    const EntryHeal h = HealEntry(entry, control, net_for, membership);
    for (const auto& d : h.details) {
      report.details.push_back(fmt::format("#{} {}: {}", entry.id, entry.kind, d));
    }
    for (const auto& n : entry.nodes) nodes[n] = true;
    for (const auto& [key, value] : h.counts) report.counts[key] += value;
    for (const auto& f : h.failed) report.failed.push_back(fmt::format("#{} {}", entry.id, f));
    if (!h.ok) {
      report.ok = false;
      continue;
    }
    if (auto closed = ledger.Close(entry.id, "healed"); !closed) {
      report.ok = false;
      report.details.push_back(
          fmt::format("#{}: healed but not closed: {}", entry.id, closed.error().message()));
      continue;
    }
    ++healed;
  }
  for (const auto& [n, unused] : nodes) report.nodes.push_back(n);
  report.description = selected == 0 ? "heal: nothing open"
                                     : fmt::format("heal: {} of {} open fault(s) healed and closed",
                                                   healed, selected);
  report.end_mono_ns = MonoNanos();
  return report;
}

}  // namespace faultline::nemesis::internal
