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

}  // namespace faultline::checker
