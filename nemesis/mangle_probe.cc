#include "nemesis/mangle_probe.h"

#include <fmt/format.h>

#include <optional>
#include <thread>
#include <utility>

#include "nemesis/internal/proc.h"

namespace faultline::nemesis {

Result<packet::PacketCounts> ProbeDatagrams(NodeControl& control, const DatagramProbe& probe) {
  FAULTLINE_ASSIGN_OR_RETURN(std::string helper, internal::HelperPath());
  const std::string common =
      fmt::format("--address {} --port {} --count {} --wait-ms {}", probe.to_address, probe.port,
                  probe.count, probe.wait.count());
  std::optional<Result<CommandOutput>> received;
  std::thread receiver([&] {
    received.emplace(
        control.Run(probe.to, fmt::format("exec {} udp-probe recv {}", helper, common)));
  });
  Result<CommandOutput> sent =
      control.Run(probe.from, fmt::format("exec {} udp-probe send {} --spacing-us {}", helper,
                                          common, probe.spacing.count()));
  receiver.join();
  auto failed = [](const std::string& side, const Result<CommandOutput>& r) {
    return MakeError(ErrorCode::kUnavailable,
                     fmt::format("datagram probe: {}: {}", side,
                                 r ? fmt::format("exit {}: {}{}", r->exit_code, r->out, r->err)
                                   : r.error().message()));
  };
  if (!sent || sent->exit_code != 0) return failed("sender in " + probe.from, sent);
  if (!*received || (*received)->exit_code != 0) {
    return failed("receiver in " + probe.to, *received);
  }
  packet::PacketCounts counts = packet::ParsePacketCounts((*received)->out);
  if (!counts.contains("probe_delivered")) return failed("receiver in " + probe.to, *received);
  counts["probe_sent"] = probe.count;
  return counts;
}

}  // namespace faultline::nemesis
