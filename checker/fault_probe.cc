#include "checker/fault_probe.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace faultline::checker {

bool ConnectWasCut(std::string_view seen) {
  return seen == "timeout" || seen.starts_with("error: exit");
}

ProbeFinding JudgePartitionProbe(const ConnectSeen& cut, const std::optional<ConnectSeen>& kept,
                                 int port) {
  std::string evidence = fmt::format("connect {}->{}:{} {}", cut.from, cut.to, port, cut.seen);
  if (!ConnectWasCut(cut.seen)) {
    return ProbeFinding{
        .confirmed = cut.seen.starts_with("error:") ? std::nullopt : std::optional<bool>(false),
        .evidence = evidence + " (expected no answer)"};
  }
  if (kept) {
    evidence += fmt::format("; control {}->{} {}", kept->from, kept->to, kept->seen);
    if (kept->seen != "connected" && kept->seen != "refused") {
      return ProbeFinding{.confirmed = std::nullopt,
                          .evidence = evidence + " (the control pair failed too: inconclusive)"};
    }
  }
  return ProbeFinding{.confirmed = true, .evidence = evidence};
}

ProbeFinding JudgeLossProbe(const LossProbeSeen& s) {
  const std::string evidence =
      fmt::format("{} of {} connects {}->{}:{} lost (expected about {:.0f})", s.lost, s.tries,
                  s.from, s.to, s.port, s.probability * s.tries);
  if (s.lost == s.tries) {
    return ProbeFinding{.confirmed = std::nullopt,
                        .evidence = evidence +
                                    ": every connect failed, is the peer down? "
                                    "inconclusive"};
  }
  return ProbeFinding{.confirmed = s.lost > 0, .evidence = evidence};
}

ProbeFinding JudgeProcessProbe(bool kill, const std::vector<ProcessSeen>& targets) {
  std::vector<std::string> seen;
  bool all = true;
  for (const ProcessSeen& t : targets) {
    if (!t.found) {
      seen.push_back(t.node + " unknown");
      all = false;
      continue;
    }
    const bool effect = kill ? !t.alive : t.paused;
    all = all && effect;
    seen.push_back(
        fmt::format("{} {}{}", t.node, t.state, t.pid != 0 ? fmt::format(" (pid {})", t.pid) : ""));
  }
  return ProbeFinding{.confirmed = all,
                      .evidence = fmt::format("process table: {}", fmt::join(seen, ", "))};
}

ProbeFinding JudgeClockProbe(int64_t expected_ms, bool strobe, const std::vector<ClockSeen>& seen) {
  std::map<std::string, std::vector<const ClockSeen*>> by_node;
  std::vector<std::string> order;
  for (const ClockSeen& s : seen) {
    if (!by_node.contains(s.node)) order.push_back(s.node);
    by_node[s.node].push_back(&s);
  }
  auto near = [](const ClockSeen& s, int64_t want) {
    const int64_t d = s.offset_ms - want;
    return (d < 0 ? -d : d) <= 100 + s.uncertainty_ms;
  };
  std::vector<std::string> parts;
  bool all = !order.empty();
  bool unread = false;
  for (const std::string& node : order) {
    bool matched = false;
    bool node_read = false;
    std::vector<std::string> readings;
    for (const ClockSeen* s : by_node[node]) {
      if (!s->read) {
        readings.push_back("unread (" + s->error + ")");
        continue;
      }
      node_read = true;
      readings.push_back(fmt::format("{:+} ms ±{}", s->offset_ms, s->uncertainty_ms));
      if (near(*s, expected_ms)) matched = true;
    }
    if (!node_read) unread = true;
    if (!strobe && node_read) {
      matched = std::all_of(by_node[node].begin(), by_node[node].end(),
                            [&](const ClockSeen* s) { return !s->read || near(*s, expected_ms); });
    }
    all = all && matched;
    parts.push_back(fmt::format("{} {}", node, fmt::join(readings, ", ")));
  }
  const std::string evidence =
      fmt::format("clock offsets read on the nodes (expected {:+} ms{}): {}", expected_ms,
                  strobe ? " part of the time" : "", fmt::join(parts, "; "));
  if (all) return ProbeFinding{.confirmed = true, .evidence = evidence};
  if (unread) return ProbeFinding{.confirmed = std::nullopt, .evidence = evidence};
  return ProbeFinding{.confirmed = false, .evidence = evidence};
}

ProbeFinding JudgeDiskProbe(DiskProbeKind kind, double delay_ms,
                            const std::vector<DiskSeen>& targets) {
  std::vector<std::string> seen;
  bool all = !targets.empty();
  for (const DiskSeen& t : targets) {
    if (!t.error.empty()) {
      seen.push_back(fmt::format("{}: {}", t.node, t.error));
      all = false;
      continue;
    }
    switch (kind) {
      case DiskProbeKind::kFsyncError:
        all = all && t.fsync_errors > 0;
        seen.push_back(fmt::format("{}: {} of {} fsyncs EIO", t.node, t.fsync_errors, t.fsyncs));
        break;
      case DiskProbeKind::kSlowDisk:
        all = all && t.slowest_ms >= delay_ms;
        seen.push_back(fmt::format("{}: slowest write+fsync {:.1f} ms", t.node, t.slowest_ms));
        break;
      case DiskProbeKind::kCrash:
        all = all && t.alive_after && t.pid_after != t.pid_before;
        seen.push_back(fmt::format("{}: pid {} -> {}{}", t.node, t.pid_before, t.pid_after,
                                   t.alive_after ? "" : " (not running)"));
        break;
    }
  }
  return ProbeFinding{.confirmed = all,
                      .evidence = fmt::format("disk probe: {}", fmt::join(seen, ", "))};
}

ProbeFinding JudgeManglingProbe(ManglingProbeKind kind, const ManglingSeen& s) {
  if (!s.error.empty()) {
    return ProbeFinding{.confirmed = std::nullopt,
                        .evidence = fmt::format("datagram probe {}->{}: {}", s.from, s.to, s.error),
                        .counts = {}};
  }
  auto get = [&](const char* key) {
    auto it = s.counts.find(key);
    return it == s.counts.end() ? std::int64_t{0} : it->second;
  };
  const char* key = kind == ManglingProbeKind::kDuplicate ? "probe_duplicates_seen"
                    : kind == ManglingProbeKind::kReorder ? "probe_out_of_order_seen"
                                                          : "probe_damaged_seen";
  const std::string evidence = fmt::format(
      "datagram probe {}->{}: {} sent, {} delivered, {} duplicates, {} out of order, {} damaged",
      s.from, s.to, get("probe_sent"), get("probe_delivered"), get("probe_duplicates_seen"),
      get("probe_out_of_order_seen"), get("probe_damaged_seen"));
  if (get("probe_delivered") == 0) {
    return ProbeFinding{.confirmed = std::nullopt,
                        .evidence = evidence + ": nothing arrived, inconclusive",
                        .counts = s.counts};
  }
  const bool seen = get(key) > 0;
  return ProbeFinding{
      .confirmed = seen,
      .evidence = seen ? evidence : evidence + fmt::format(" (expected {} > 0)", key),
      .counts = s.counts};
}

}  // namespace faultline::checker
