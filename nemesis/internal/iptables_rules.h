// The text the iptables backends feed to `iptables-restore --noflush`, shared by the in-process
// backend (iptables_net.cc, which execs it inside the node's namespace) and the command backend
// (command_net.cc, which sends it through NodeControl::Run, e.g. over SSH), so both install and
// remove exactly the same objects. Not part of the public API.
//
// Objects: a chain `faultline_<run>` in the filter table, jumped to from the first rule of INPUT.
// Heal deletes every jump to that chain, then flushes and deletes the chain, and nothing else.
//
// Thread-safety: pure functions.
#ifndef FAULTLINE_NEMESIS_INTERNAL_IPTABLES_RULES_H_
#define FAULTLINE_NEMESIS_INTERNAL_IPTABLES_RULES_H_

#include <string>
#include <string_view>
#include <vector>

#include "nemesis/net.h"

namespace faultline::nemesis::internal {

// "faultline_<run_id>".
std::string IptablesChain(const std::string& run_id);

// The rules (iptables-restore lines, without a newline) that filter packets from one address.
std::vector<std::string> IptablesRulesFor(PartitionMode mode, const std::string& chain,
                                          const std::string& address);

// The iptables-restore input that installs a partition: declares the chain (under --noflush,
// declaring an existing chain flushes it, so a re-apply replaces the rules), one set of rules per
// peer address, and the jump from INPUT unless `jump_exists`.
std::string IptablesApplyInput(PartitionMode mode, const std::string& chain,
                               const std::vector<std::string>& peer_addresses, bool jump_exists);

// What `iptables-save -t filter` says about our objects and everybody else's.
struct IptablesFilterTable {
  bool has_chain = false;
  int jumps = 0;         // "-A <hook> -j <chain>" lines
  bool foreign = false;  // any rule, user chain or non-ACCEPT policy that is not ours
};
// `hook` is the built-in chain ours is jumped to from: INPUT for partitions, OUTPUT for packet
// faults.
IptablesFilterTable ParseIptablesSave(const std::string& save, const std::string& chain,
                                      std::string_view hook = "INPUT");

// The iptables-restore input that removes what `table` shows of ours; empty if nothing is there.
std::string IptablesHealInput(const IptablesFilterTable& table, const std::string& chain);

}  // namespace faultline::nemesis::internal

#endif  // FAULTLINE_NEMESIS_INTERNAL_IPTABLES_RULES_H_
