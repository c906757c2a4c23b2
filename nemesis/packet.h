// Packet faults on one node, without netem (PLATFORM.md §6): each function works in the network
// namespace of the CALLING THREAD (run it on a thread that entered the node's namespace), and each
// heal is idempotent (an object already gone counts as healed) and removes only objects it names.
//
//   loss       nft table `inet <table>` of our own, output hook:
//              `ip daddr @peers numgen random mod 10000 < N drop`
//   delay      iptables chain of our own in the filter table, jumped to from OUTPUT:
//              `-d PEER -m mark ! --mark 0xfa17d0d0 -j NFQUEUE --queue-num Q --queue-bypass` (no
//              listener = packets pass; marked packets are our own duplicates); the
//              faultline-nemesis-helper process holds each queued packet, then accepts it
//   duplicate, reorder, packet-corrupt
//              the same chain, with the helper in another mode (nemesis/packet_mangle.h)
//   bandwidth  tbf as the root qdisc of a device, with our reserved handle kQdiscHandle; refused
//              when the device already has a root qdisc we did not make
//
// Thread-safety: all functions are safe to call from several threads at once (each thread works
// in its own namespace).
#ifndef FAULTLINE_NEMESIS_PACKET_H_
#define FAULTLINE_NEMESIS_PACKET_H_

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"

namespace faultline::nemesis::packet {

// The root qdisc handle faultline reserves for tbf: "fa17:".
inline constexpr std::uint32_t kQdiscHandle = 0xFA170000U;

// Installs (or replaces) loss toward `peer_addresses` with `probability` (0..1).
[[nodiscard]] Status ApplyLoss(const std::string& table,
                               const std::vector<std::string>& peer_addresses, double probability);
// Removes the table. Returns whether it existed.
[[nodiscard]] Result<bool> HealLoss(const std::string& table);

// Whether the iptables filter table (nft `table ip filter`) exists here.
[[nodiscard]] Result<bool> FilterTableExists();
// Installs our chain with NFQUEUE rules toward `peer_addresses`, jumped to from OUTPUT.
[[nodiscard]] Status ApplyQueueChain(const std::string& chain,
                                     const std::vector<std::string>& peer_addresses, int queue_num);
// Removes the jump(s) and the chain; then, if `made_filter_table`, removes the filter table when
// nothing but empty built-in chains with policy ACCEPT is left in it. Returns whether the chain
// existed.
[[nodiscard]] Result<bool> HealQueueChain(const std::string& chain, bool made_filter_table);

// Adds tbf at `kbit_per_s` as the root qdisc of `device`.
[[nodiscard]] Status ApplyTbf(const std::string& device, std::int64_t kbit_per_s);
// Deletes the root qdisc of `device` if it is ours (handle kQdiscHandle). Returns whether it was.
[[nodiscard]] Result<bool> HealTbf(const std::string& device);

// Chain names: iptables allows 28 characters.
std::string QueueChainName(const std::string& run_id, std::uint64_t id);
std::string LossTableName(const std::string& run_id, std::uint64_t id);

}  // namespace faultline::nemesis::packet

#endif  // FAULTLINE_NEMESIS_PACKET_H_
