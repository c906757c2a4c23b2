#include "checker/fault_probe.h"

#include <fmt/format.h>

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

}  // namespace faultline::checker
