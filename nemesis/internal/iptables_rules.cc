#include "nemesis/internal/iptables_rules.h"

#include <fmt/format.h>

#include <sstream>

namespace faultline::nemesis::internal {

std::string IptablesChain(const std::string& run_id) { return "faultline_" + run_id; }

std::vector<std::string> IptablesRulesFor(PartitionMode mode, const std::string& chain,
                                          const std::string& address) {
  switch (mode) {
    case PartitionMode::kDrop:
      return {fmt::format("-A {} -s {}/32 -j DROP", chain, address)};
    case PartitionMode::kReject:
      return {
          fmt::format("-A {} -s {}/32 -p tcp -j REJECT --reject-with tcp-reset", chain, address),
          fmt::format("-A {} -s {}/32 -j REJECT --reject-with icmp-admin-prohibited", chain,
                      address)};
    case PartitionMode::kNewOnly:
      return {fmt::format("-A {} -s {}/32 -m conntrack --ctstate NEW -j DROP", chain, address)};
  }
  return {};
}

std::string IptablesApplyInput(PartitionMode mode, const std::string& chain,
                               const std::vector<std::string>& peer_addresses, bool jump_exists) {
  std::string input = fmt::format("*filter\n:{} - [0:0]\n", chain);
  for (const auto& address : peer_addresses) {
    for (const auto& rule : IptablesRulesFor(mode, chain, address)) input += rule + "\n";
  }
  if (!jump_exists) input += fmt::format("-I INPUT 1 -j {}\n", chain);
  input += "COMMIT\n";
  return input;
}

IptablesFilterTable ParseIptablesSave(const std::string& save, const std::string& chain,
                                      std::string_view hook) {
  IptablesFilterTable t;
  std::istringstream in(save);
  std::string line;
  const std::string jump = fmt::format("-A {} -j {}", hook, chain);
  const std::string own_rule = "-A " + chain + " ";
  while (std::getline(in, line)) {
    if (line.rfind(':', 0) == 0) {
      const std::string name = line.substr(1, line.find(' ') - 1);
      if (name == chain) {
        t.has_chain = true;
      } else if (name != "INPUT" && name != "FORWARD" && name != "OUTPUT") {
        t.foreign = true;
      } else if (line.find(" ACCEPT ") == std::string::npos) {
        t.foreign = true;
      }
    } else if (line == jump) {
      ++t.jumps;
    } else if (line.rfind("-A ", 0) == 0 && line.rfind(own_rule, 0) != 0) {
      t.foreign = true;
    }
  }
  return t;
}

std::string IptablesHealInput(const IptablesFilterTable& table, const std::string& chain) {
  if (!table.has_chain && table.jumps == 0) return {};
  std::string input = "*filter\n";
  for (int j = 0; j < table.jumps; ++j) input += fmt::format("-D INPUT -j {}\n", chain);
  if (table.has_chain) input += fmt::format("-F {0}\n-X {0}\n", chain);
  input += "COMMIT\n";
  return input;
}

}  // namespace faultline::nemesis::internal
