#include "nemesis/packet_mangle.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <set>

namespace faultline::nemesis::packet {
namespace {

constexpr std::uint8_t kIcmp = 1;
constexpr std::uint8_t kTcp = 6;
constexpr std::uint8_t kUdp = 17;

std::uint16_t Be16(std::span<const std::uint8_t> p, std::size_t at) {
  return static_cast<std::uint16_t>((p[at] << 8) | p[at + 1]);
}

// Where the transport checksum sits, relative to the transport header.
std::size_t ChecksumField(std::uint8_t protocol) {
  switch (protocol) {
    case kTcp:
      return 16;
    case kUdp:
      return 6;
    default:
      return 2;  // ICMP
  }
}

// The one's-complement sum of big-endian 16-bit words, odd bytes padded with zero.
std::uint32_t Sum(std::span<const std::uint8_t> bytes, std::uint32_t sum = 0) {
  std::size_t i = 0;
  for (; i + 1 < bytes.size(); i += 2)
    sum += static_cast<std::uint32_t>((bytes[i] << 8) | bytes[i + 1]);
  if (i < bytes.size()) sum += static_cast<std::uint32_t>(bytes[i] << 8);
  return sum;
}

std::uint16_t Fold(std::uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum & 0xFFFF);
}

// The transport segment as the IP header bounds it.
std::span<const std::uint8_t> Segment(std::span<const std::uint8_t> packet, const Payload& p) {
  const std::size_t total = std::min<std::size_t>(Be16(packet, 2), packet.size());
  return packet.subspan(p.l4_offset, total - p.l4_offset);
}

}  // namespace

std::optional<Payload> FindPayload(std::span<const std::uint8_t> packet) {
  if (packet.size() < 20 || (packet[0] >> 4) != 4) return std::nullopt;
  const std::size_t ihl = static_cast<std::size_t>(packet[0] & 0x0F) * 4;
  const std::size_t total = std::min<std::size_t>(Be16(packet, 2), packet.size());
  if (ihl < 20 || total < ihl) return std::nullopt;
  // A fragment's checksum covers bytes this packet does not hold.
  const std::uint16_t frag = Be16(packet, 6);
  if ((frag & 0x2000) != 0 || (frag & 0x1FFF) != 0) return std::nullopt;
  Payload p;
  p.protocol = packet[9];
  p.l4_offset = ihl;
  std::size_t header = 0;
  switch (p.protocol) {
    case kTcp:
      if (total < ihl + 20) return std::nullopt;
      header = static_cast<std::size_t>(packet[ihl + 12] >> 4) * 4;
      if (header < 20) return std::nullopt;
      break;
    case kUdp:
    case kIcmp:
      header = 8;
      break;
    default:
      return std::nullopt;
  }
  if (total < ihl + header) return std::nullopt;
  p.offset = ihl + header;
  p.length = total - p.offset;
  return p;
}

std::optional<std::uint16_t> TransportChecksum(std::span<const std::uint8_t> packet) {
  const std::optional<Payload> p = FindPayload(packet);
  if (!p) return std::nullopt;
  const std::span<const std::uint8_t> segment = Segment(packet, *p);
  const std::size_t field = ChecksumField(p->protocol);
  std::uint32_t sum = 0;
  if (p->protocol != kIcmp) {
    sum = Sum(packet.subspan(12, 8));  // source and destination addresses
    sum += p->protocol;
    sum += static_cast<std::uint32_t>(segment.size());
  }
  sum = Sum(segment.first(field), sum);
  sum = Sum(segment.subspan(field + 2), sum);
  std::uint16_t folded = Fold(sum);
  // In UDP, 0 means "no checksum": a computed 0 is sent as all ones (RFC 768).
  if (p->protocol == kUdp && folded == 0) folded = 0xFFFF;
  return folded;
}

bool TransportChecksumValid(std::span<const std::uint8_t> packet) {
  const std::optional<Payload> p = FindPayload(packet);
  if (!p) return false;
  const std::uint16_t stored = Be16(packet, p->l4_offset + ChecksumField(p->protocol));
  if (p->protocol == kUdp && stored == 0) return true;
  return TransportChecksum(packet) == stored;
}

bool CorruptPayload(std::span<std::uint8_t> packet, std::uint64_t random) {
  const std::optional<Payload> p = FindPayload(packet);
  if (!p || p->length == 0) return false;
  const std::uint64_t bit = random % (static_cast<std::uint64_t>(p->length) * 8);
  packet[p->offset + bit / 8] ^= static_cast<std::uint8_t>(1U << (bit % 8));
  const std::size_t at = p->l4_offset + ChecksumField(p->protocol);
  // A UDP datagram sent without a checksum stays without one.
  if (p->protocol == kUdp && packet[at] == 0 && packet[at + 1] == 0) return true;
  const std::optional<std::uint16_t> sum = TransportChecksum(packet);
  packet[at] = static_cast<std::uint8_t>(*sum >> 8);
  packet[at + 1] = static_cast<std::uint8_t>(*sum & 0xFF);
  return true;
}

std::string FormatPacketCounts(const PacketCounts& counts) {
  std::string out;
  for (const auto& [key, value] : counts) out += fmt::format("{} {}\n", key, value);
  return out;
}

PacketCounts ParsePacketCounts(std::string_view text) {
  PacketCounts out;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    const std::size_t space = line.find(' ');
    if (space == std::string_view::npos || space == 0) continue;
    std::int64_t value = 0;
    const std::string_view number = line.substr(space + 1);
    const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
    if (ec != std::errc() || end != number.data() + number.size()) continue;
    out[std::string(line.substr(0, space))] = value;
  }
  return out;
}

std::string ProbeDatagram(int seq) {
  std::string s = fmt::format("seq {:06d} ", seq);
  for (int i = 0; i < 48; ++i) s.push_back(static_cast<char>('a' + (seq * 7 + i) % 26));
  return s;
}

PacketCounts TallyProbe(const std::vector<std::string>& payloads, int count) {
  std::int64_t delivered = 0;
  std::int64_t duplicates = 0;
  std::int64_t out_of_order = 0;
  std::int64_t damaged = 0;
  std::set<int> numbers;
  int highest = -1;
  for (const std::string& payload : payloads) {
    if (payload.size() != kProbeDatagramSize) continue;
    ++delivered;
    int seq = -1;
    if (payload.rfind("seq ", 0) == 0) {
      const char* begin = payload.data() + 4;
      const auto [end, ec] = std::from_chars(begin, begin + 6, seq);
      if (ec != std::errc() || end != begin + 6) seq = -1;
    }
    if (seq < 0 || seq >= count || payload != ProbeDatagram(seq)) {
      ++damaged;
      continue;
    }
    if (!numbers.insert(seq).second) ++duplicates;
    if (seq < highest) ++out_of_order;
    highest = std::max(highest, seq);
  }
  return PacketCounts{{"probe_delivered", delivered},
                      {"probe_distinct", static_cast<std::int64_t>(numbers.size())},
                      {"probe_duplicates_seen", duplicates},
                      {"probe_out_of_order_seen", out_of_order},
                      {"probe_damaged_seen", damaged}};
}

}  // namespace faultline::nemesis::packet
