#include "nemesis/packet_mangle.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace faultline::nemesis::packet {
namespace {

// An IPv4 packet 198.18.0.1 -> 198.18.0.2 of `protocol` with a transport header of
// `header` bytes and `payload`, its checksums filled in.
std::vector<std::uint8_t> Packet(std::uint8_t protocol, std::size_t header,
                                 const std::string& payload, std::uint16_t frag = 0) {
  const std::size_t total = 20 + header + payload.size();
  std::vector<std::uint8_t> p(total, 0);
  p[0] = 0x45;
  p[2] = static_cast<std::uint8_t>(total >> 8);
  p[3] = static_cast<std::uint8_t>(total & 0xFF);
  p[6] = static_cast<std::uint8_t>(frag >> 8);
  p[7] = static_cast<std::uint8_t>(frag & 0xFF);
  p[8] = 64;
  p[9] = protocol;
  const std::uint8_t addresses[8] = {198, 18, 0, 1, 198, 18, 0, 2};
  std::copy(addresses, addresses + 8, p.begin() + 12);
  if (protocol == 6) p[20 + 12] = static_cast<std::uint8_t>((header / 4) << 4);
  if (protocol == 17) {
    const std::size_t len = header + payload.size();
    p[24] = static_cast<std::uint8_t>(len >> 8);
    p[25] = static_cast<std::uint8_t>(len & 0xFF);
  }
  std::copy(payload.begin(), payload.end(), p.begin() + 20 + static_cast<long>(header));
  const std::size_t field = protocol == 6 ? 16 : protocol == 17 ? 6 : 2;
  if (auto sum = TransportChecksum(p)) {
    p[20 + field] = static_cast<std::uint8_t>(*sum >> 8);
    p[20 + field + 1] = static_cast<std::uint8_t>(*sum & 0xFF);
  }
  return p;
}

int DifferentBits(const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b,
                  std::size_t from, std::size_t to) {
  int bits = 0;
  for (std::size_t i = from; i < to; ++i) bits += __builtin_popcount(a[i] ^ b[i]);
  return bits;
}

TEST(PacketMangleTest, FindsThePayloadOfTcpUdpAndIcmp) {
  auto tcp = FindPayload(Packet(6, 32, "hello"));
  ASSERT_TRUE(tcp);
  EXPECT_EQ(tcp->offset, 52u);
  EXPECT_EQ(tcp->length, 5u);
  auto udp = FindPayload(Packet(17, 8, "datagram"));
  ASSERT_TRUE(udp);
  EXPECT_EQ(udp->offset, 28u);
  EXPECT_EQ(udp->length, 8u);
  auto icmp = FindPayload(Packet(1, 8, "ping"));
  ASSERT_TRUE(icmp);
  EXPECT_EQ(icmp->length, 4u);
}

TEST(PacketMangleTest, RefusesFragmentsOtherProtocolsAndTruncatedPackets) {
  EXPECT_FALSE(FindPayload(Packet(17, 8, "x", 0x2000)));  // more fragments
  EXPECT_FALSE(FindPayload(Packet(17, 8, "x", 0x0010)));  // a later fragment
  EXPECT_FALSE(FindPayload(Packet(47, 8, "gre")));
  auto p = Packet(6, 20, "");
  p.resize(30);  // shorter than the TCP header the IP header promises
  p[3] = 30;
  EXPECT_FALSE(FindPayload(p));
  std::vector<std::uint8_t> v6(40, 0);
  v6[0] = 0x60;
  EXPECT_FALSE(FindPayload(v6));
}

TEST(PacketMangleTest, ChecksumsBuiltHereAreValidAndABitFlipBreaksThem) {
  for (std::uint8_t protocol : {6, 17, 1}) {
    auto p = Packet(protocol, protocol == 6 ? 20 : 8, "some payload bytes");
    EXPECT_TRUE(TransportChecksumValid(p)) << int(protocol);
    p.back() ^= 0x04;
    EXPECT_FALSE(TransportChecksumValid(p)) << int(protocol);
  }
}

// A known UDP datagram: 198.18.0.1:1000 -> 198.18.0.2:2000, payload "abc".
TEST(PacketMangleTest, UdpChecksumMatchesAHandComputedValue) {
  auto p = Packet(17, 8, "abc");
  p[20] = 0x03;
  p[21] = 0xE8;
  p[22] = 0x07;
  p[23] = 0xD0;
  // Pseudo header: c612 0001 c612 0002 0011 000b; UDP: 03e8 07d0 000b; data 6162 6300.
  std::uint32_t sum = 0xc612 + 0x0001 + 0xc612 + 0x0002 + 0x0011 + 0x000b + 0x03e8 + 0x07d0 +
                      0x000b + 0x6162 + 0x6300;
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  EXPECT_EQ(TransportChecksum(p), static_cast<std::uint16_t>(~sum & 0xFFFF));
}

TEST(PacketMangleTest, CorruptFlipsOnePayloadBitAndKeepsTheChecksumValid) {
  for (std::uint8_t protocol : {6, 17, 1}) {
    const std::size_t header = protocol == 6 ? 20 : 8;
    const auto before = Packet(protocol, header, "0123456789abcdef");
    for (std::uint64_t random : {0ULL, 7ULL, 127ULL, 12345678901ULL}) {
      auto after = before;
      ASSERT_TRUE(CorruptPayload(after, random)) << int(protocol);
      const std::size_t payload = 20 + header;
      EXPECT_EQ(DifferentBits(before, after, payload, before.size()), 1) << int(protocol);
      // Headers untouched except the transport checksum.
      const std::size_t field = 20 + (protocol == 6 ? 16 : protocol == 17 ? 6 : 2);
      for (std::size_t i = 0; i < payload; ++i) {
        if (i == field || i == field + 1) continue;
        EXPECT_EQ(before[i], after[i]) << "byte " << i;
      }
      EXPECT_TRUE(TransportChecksumValid(after)) << int(protocol) << " random " << random;
    }
  }
}

TEST(PacketMangleTest, CorruptLeavesPacketsWithoutPayloadAlone) {
  auto ack = Packet(6, 20, "");
  const auto before = ack;
  EXPECT_FALSE(CorruptPayload(ack, 3));
  EXPECT_EQ(ack, before);
  auto fragment = Packet(17, 8, "abc", 0x2000);
  EXPECT_FALSE(CorruptPayload(fragment, 3));
}

TEST(PacketMangleTest, UdpWithoutChecksumStaysWithout) {
  auto p = Packet(17, 8, "no checksum");
  p[26] = 0;
  p[27] = 0;
  ASSERT_TRUE(CorruptPayload(p, 5));
  EXPECT_EQ(p[26], 0);
  EXPECT_EQ(p[27], 0);
}

TEST(PacketMangleTest, CountsRoundTripAndSkipBrokenLines) {
  const PacketCounts counts = {{"packets_duplicated", 12}, {"packets_seen", 40}};
  EXPECT_EQ(FormatPacketCounts(counts), "packets_duplicated 12\npackets_seen 40\n");
  EXPECT_EQ(ParsePacketCounts(FormatPacketCounts(counts)), counts);
  EXPECT_EQ(ParsePacketCounts("packets_seen 4\nbroken\n x\npackets_reordered 2x\npackets_re"),
            (PacketCounts{{"packets_seen", 4}}));
}

// The probe's tally: a copy, a late datagram and a flipped bit are each told apart; hellos (another
// size) are not counted.
TEST(PacketMangleTest, ProbeTallyCountsDuplicatesLateAndDamagedDatagrams) {
  EXPECT_EQ(ProbeDatagram(7).size(), kProbeDatagramSize);
  std::vector<std::string> got = {"hello",          ProbeDatagram(0), ProbeDatagram(2),
                                  ProbeDatagram(2), ProbeDatagram(1), ProbeDatagram(3)};
  got[5][20] ^= 0x04;  // a bit of its derived bytes
  std::string digit = ProbeDatagram(4);
  digit[6] ^= 0x40;  // a digit made a letter: its number no longer parses
  got.push_back(digit);
  EXPECT_EQ(TallyProbe(got, 5), (PacketCounts{{"probe_delivered", 6},
                                              {"probe_distinct", 3},
                                              {"probe_duplicates_seen", 1},
                                              {"probe_out_of_order_seen", 1},
                                              {"probe_damaged_seen", 2}}));
  std::vector<std::string> clean;
  for (int i = 0; i < 100; ++i) clean.push_back(ProbeDatagram(i));
  const PacketCounts c = TallyProbe(clean, 100);
  EXPECT_EQ(c.at("probe_distinct"), 100);
  EXPECT_EQ(
      c.at("probe_duplicates_seen") + c.at("probe_out_of_order_seen") + c.at("probe_damaged_seen"),
      0);
  // A number past the count is damage (a flipped digit that still parses).
  EXPECT_EQ(TallyProbe({ProbeDatagram(150)}, 100).at("probe_damaged_seen"), 1);
}

}  // namespace
}  // namespace faultline::nemesis::packet
