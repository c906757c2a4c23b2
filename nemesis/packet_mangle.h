// Packet mangling for the NFQUEUE packet faults (duplicate, reorder, packet-corrupt): what the
// faultline-nemesis-helper does to one IPv4 packet, and the counts it reports back. Pure
// functions over bytes, so they are tested without root; the helper (nemesis/helper_main.cc)
// does the queueing and sending.
//
// How the helper applies each kind to a share of the packets queued on a node:
//   duplicate       accepts the packet and sends a copy through a raw socket (IP_HDRINCL) in the
//                   node's namespace, with SO_MARK kDuplicateMark: the queue rule matches only
//                   packets without that mark, so the copy is not queued (and copied) again
//   reorder         holds the packet delay ± jitter while the rest pass at once, so later packets
//                   overtake it (a bounded delay, unlike delay, which holds every packet)
//   packet-corrupt  flips one bit of the transport PAYLOAD (never a header: the packet still
//                   reaches the same socket) and RECOMPUTES the TCP / UDP / ICMP checksum.
//                   Why: with a bad checksum the receiver drops the packet (measured on this
//                   kernel: a UDP datagram with a wrong checksum sent over a veth pair was
//                   dropped), which is loss, a kind faultline has already. With the fix-up the
//                   corruption reaches the application: it models damage the 16-bit Internet
//                   checksum misses or that happens where checksums are recomputed (a middlebox,
//                   NIC offload). netem and Jepsen leave the checksum bad.
//
// Thread-safety: plain values and pure functions.
#ifndef FAULTLINE_NEMESIS_PACKET_MANGLE_H_
#define FAULTLINE_NEMESIS_PACKET_MANGLE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace faultline::nemesis::packet {

// The skb mark of duplicates faultline sends; queue rules skip packets carrying it.
inline constexpr std::uint32_t kDuplicateMark = 0xFA17D0D0U;

// The transport payload of an IPv4 packet: offset and length in `packet`, and the protocol.
// nullopt for anything else (not IPv4, truncated, a fragment, an unknown protocol).
struct Payload {
  std::uint8_t protocol = 0;  // IPPROTO_TCP, IPPROTO_UDP or IPPROTO_ICMP
  std::size_t l4_offset = 0;  // where the transport header starts
  std::size_t offset = 0;     // where the payload starts
  std::size_t length = 0;
};
std::optional<Payload> FindPayload(std::span<const std::uint8_t> packet);

// The checksum the transport header of `packet` should carry (TCP / UDP with the IPv4 pseudo
// header, ICMP over its message), in network byte order as stored; nullopt when FindPayload is.
std::optional<std::uint16_t> TransportChecksum(std::span<const std::uint8_t> packet);
// Whether the stored transport checksum is right (a UDP checksum of 0 means "none": true).
bool TransportChecksumValid(std::span<const std::uint8_t> packet);

// Flips bit `random % (payload bits)` of the payload and rewrites the transport checksum.
// Returns false (and leaves the packet alone) when there is no payload to damage (pure ACKs,
// fragments, other protocols).
bool CorruptPayload(std::span<std::uint8_t> packet, std::uint64_t random);

// What a helper did, as it reports back in its counts file (one "key value" line each). Keys are
// those of nemesis.json: "packets_seen", "packets_duplicated", "packets_reordered",
// "packets_corrupted".
using PacketCounts = std::map<std::string, std::int64_t>;
std::string FormatPacketCounts(const PacketCounts& counts);
// Lines that do not parse are skipped (a file cut short by a crash still gives what it has).
PacketCounts ParsePacketCounts(std::string_view text);

// The datagram probe: an independent check that a mangling took effect, not the helper's word.
// A sender in the faulted node's namespace sends numbered datagrams to a peer (through the queue
// rule, so the helper mangles them like any other packet); the receiver tallies what arrived.
// Datagram `seq` is "seq NNNNNN " plus 48 bytes derived from its number, so a damaged one is told
// from a good one by its content alone (the application's own checksum: the transport checksum
// is recomputed by packet-corrupt, so the kernel delivers it).
inline constexpr std::size_t kProbeDatagramSize = 59;
std::string ProbeDatagram(int seq);
// What the receiver saw of `count` numbered datagrams, `payloads` in arrival order. Payloads of
// another size (the sender's hellos) are not counted. Keys, as they go into nemesis.json:
//   probe_delivered          datagrams of the probe's size received
//   probe_distinct           distinct intact numbers
//   probe_duplicates_seen    intact datagrams whose number came before
//   probe_out_of_order_seen  intact datagrams numbered below one received earlier
//   probe_damaged_seen       content not what its number says
PacketCounts TallyProbe(const std::vector<std::string>& payloads, int count);

}  // namespace faultline::nemesis::packet

#endif  // FAULTLINE_NEMESIS_PACKET_MANGLE_H_
