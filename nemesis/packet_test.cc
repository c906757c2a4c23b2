// Privileged tests of packet faults on a throwaway namespace cluster: loss, bandwidth, delay,
// duplicate, reorder and packet-corrupt change what they should by about the amount asked, spare
// the control address, and heal back to a clean network with nothing of ours left. They need root
// and FAIL (never skip) without it.
#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <set>
#include <thread>

#include "common/process.h"
#include "nemesis/internal/netns.h"
#include "nemesis/internal/proc.h"
#include "nemesis/nemesis.h"
#include "nemesis/testing/leftovers.h"
#include "nemesis/testing/netns_cluster.h"

namespace faultline::nemesis {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

class Socket {
 public:
  Socket() = default;
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(Socket&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Socket& operator=(Socket&& o) noexcept {
    std::swap(fd_, o.fd_);
    return *this;
  }
  int get() const { return fd_; }

 private:
  int fd_ = -1;
};

sockaddr_in Endpoint(const std::string& address, uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  ::inet_pton(AF_INET, address.c_str(), &sa.sin_addr);
  return sa;
}

// A socket made inside `netns` (empty: the root namespace); it stays bound to that namespace.
Socket MakeSocket(const std::string& netns, int type) {
  int fd = -1;
  auto make = [&]() -> Status {
    fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
    return fd >= 0 ? OkStatus() : Status(internal::ErrnoError(errno, "socket"));
  };
  if (netns.empty()) {
    std::thread([&] { (void)make(); }).join();
  } else {
    EXPECT_TRUE(internal::RunInNetns(netns, make));
  }
  return Socket(fd);
}

Socket Bound(const std::string& netns, int type, const std::string& address, uint16_t port) {
  Socket s = MakeSocket(netns, type);
  const int one = 1;
  ::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  // Room for every probe datagram (at ~800 bytes of truesize each, the default holds 256).
  const int buffer = 8 << 20;
  ::setsockopt(s.get(), SOL_SOCKET, SO_RCVBUFFORCE, &buffer, sizeof(buffer));
  const sockaddr_in sa = Endpoint(address, port);
  EXPECT_EQ(::bind(s.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof(sa)), 0)
      << address << ":" << port << ": " << std::strerror(errno);
  return s;
}

// Sends `count` UDP datagrams from `from_netns` to address:port, received by `receiver` (a bound
// socket); returns how many arrived.
int UdpDelivered(const std::string& from_netns, const Socket& receiver, const std::string& address,
                 uint16_t port, int count) {
  Socket sender = MakeSocket(from_netns, SOCK_DGRAM);
  const sockaddr_in to = Endpoint(address, port);
  char payload[64] = "faultline loss probe";
  // Resolve the neighbour first: until ARP answers, the kernel queues only a few hundred
  // packets and drops the rest, which would look like loss.
  for (int i = 0; i < 3; ++i) {
    ::sendto(sender.get(), payload, sizeof(payload), 0, reinterpret_cast<const sockaddr*>(&to),
             sizeof(to));
    std::this_thread::sleep_for(milliseconds(20));
  }
  {
    char buf[128];
    while (::recv(receiver.get(), buf, sizeof(buf), MSG_DONTWAIT) > 0) {
    }
  }
  for (int i = 0; i < count; ++i) {
    ::sendto(sender.get(), payload, sizeof(payload), 0, reinterpret_cast<const sockaddr*>(&to),
             sizeof(to));
    if (i % 50 == 49) std::this_thread::sleep_for(milliseconds(1));
  }
  int got = 0;
  while (true) {
    pollfd p{.fd = receiver.get(), .events = POLLIN, .revents = 0};
    if (::poll(&p, 1, 300) <= 0) break;
    char buf[128];
    while (::recv(receiver.get(), buf, sizeof(buf), MSG_DONTWAIT) > 0) ++got;
  }
  return got;
}

// What a receiver saw of `count` numbered UDP datagrams: the probe for duplicate, reorder and
// packet-corrupt. Each datagram carries "seq NNNNNN " and 48 bytes derived from its number, so a
// damaged one is told from a good one by content alone (the app-level checksum).
struct UdpSeen {
  int delivered = 0;     // datagrams received
  int distinct = 0;      // distinct intact sequence numbers
  int duplicates = 0;    // intact datagrams whose number came before
  int out_of_order = 0;  // intact datagrams numbered below one received earlier
  int damaged = 0;       // content not what its number says
};

std::string Numbered(int seq) {
  std::string s = fmt::format("seq {:06d} ", seq);
  for (int i = 0; i < 48; ++i) s.push_back(static_cast<char>('a' + (seq * 7 + i) % 26));
  return s;
}

// Sends `count` numbered datagrams from `from_netns`, one every `spacing`, to a receiver bound
// at address:port; reads until 500 ms pass without one.
UdpSeen UdpSequence(const std::string& from_netns, const Socket& receiver,
                    const std::string& address, uint16_t port, int count,
                    std::chrono::microseconds spacing) {
  Socket sender = MakeSocket(from_netns, SOCK_DGRAM);
  const sockaddr_in to = Endpoint(address, port);
  // Resolve the neighbour first (see UdpDelivered), then drain what that sent.
  for (int i = 0; i < 3; ++i) {
    ::sendto(sender.get(), "warm", 4, 0, reinterpret_cast<const sockaddr*>(&to), sizeof(to));
    std::this_thread::sleep_for(milliseconds(20));
  }
  std::this_thread::sleep_for(milliseconds(200));
  {
    char buf[128];
    while (::recv(receiver.get(), buf, sizeof(buf), MSG_DONTWAIT) > 0) {
    }
  }
  std::vector<std::string> got;
  std::thread reader([&] {
    char buf[256];
    while (true) {
      pollfd p{.fd = receiver.get(), .events = POLLIN, .revents = 0};
      if (::poll(&p, 1, 500) <= 0) break;
      const ssize_t n = ::recv(receiver.get(), buf, sizeof(buf), MSG_DONTWAIT);
      if (n > 0) got.emplace_back(buf, static_cast<size_t>(n));
    }
  });
  for (int i = 0; i < count; ++i) {
    const std::string payload = Numbered(i);
    ::sendto(sender.get(), payload.data(), payload.size(), 0,
             reinterpret_cast<const sockaddr*>(&to), sizeof(to));
    std::this_thread::sleep_for(spacing);
  }
  reader.join();
  UdpSeen seen;
  std::set<int> numbers;
  // Printed for the test log: what the probe saw.
  std::printf("probe %s:%u: ", address.c_str(), port);
  int highest = -1;
  for (const auto& payload : got) {
    ++seen.delivered;
    int seq = -1;
    if (payload.size() > 11 && payload.rfind("seq ", 0) == 0) seq = std::atoi(payload.c_str() + 4);
    if (seq < 0 || seq >= count || payload != Numbered(seq)) {
      ++seen.damaged;
      continue;
    }
    if (!numbers.insert(seq).second) ++seen.duplicates;
    if (seq < highest) ++seen.out_of_order;
    highest = std::max(highest, seq);
  }
  seen.distinct = static_cast<int>(numbers.size());
  std::printf("%d sent, %d delivered, %d distinct, %d duplicates, %d out of order, %d damaged\n",
              count, seen.delivered, seen.distinct, seen.duplicates, seen.out_of_order,
              seen.damaged);
  return seen;
}

// TCP goodput in Mbit/s from `from_netns` to a listener in `to_netns` over `duration`.
double TcpGoodputMbit(const std::string& from_netns, const std::string& to_netns,
                      const std::string& to_address, uint16_t port, milliseconds duration) {
  Socket listener = Bound(to_netns, SOCK_STREAM, to_address, port);
  EXPECT_EQ(::listen(listener.get(), 1), 0);
  Socket client = MakeSocket(from_netns, SOCK_STREAM);
  const sockaddr_in to = Endpoint(to_address, port);
  if (::connect(client.get(), reinterpret_cast<const sockaddr*>(&to), sizeof(to)) != 0) {
    ADD_FAILURE() << "connect " << to_address << ": " << std::strerror(errno);
    return 0;
  }
  Socket server(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  std::atomic<bool> stop{false};
  std::atomic<long long> received{0};
  std::thread reader([&] {
    std::vector<char> buf(1 << 16);
    while (true) {
      const ssize_t n = ::recv(server.get(), buf.data(), buf.size(), 0);
      if (n <= 0) break;
      received += n;
    }
  });
  std::vector<char> chunk(1 << 16, 'x');
  const int flags = ::fcntl(client.get(), F_GETFL);
  ::fcntl(client.get(), F_SETFL, flags | O_NONBLOCK);
  // Count only after a short warm-up, so the initial burst (the bucket) does not inflate it.
  const auto warm = Clock::now() + milliseconds(300);
  long long at_warm = -1;
  Clock::time_point measured_from;
  const auto end = warm + duration;
  while (Clock::now() < end) {
    if (at_warm < 0 && Clock::now() >= warm) {
      at_warm = received.load();
      measured_from = Clock::now();
    }
    pollfd p{.fd = client.get(), .events = POLLOUT, .revents = 0};
    if (::poll(&p, 1, 20) > 0) (void)!::send(client.get(), chunk.data(), chunk.size(), 0);
  }
  const long long total = received.load() - std::max(at_warm, 0LL);
  const double seconds = std::chrono::duration<double>(Clock::now() - measured_from).count();
  ::shutdown(client.get(), SHUT_RDWR);
  ::shutdown(server.get(), SHUT_RDWR);
  stop = true;
  reader.join();
  return static_cast<double>(total) * 8 / seconds / 1e6;
}

// Median UDP round trip in ms from `from_netns` to an echo socket in `to_netns`.
double MedianRttMs(const std::string& from_netns, const std::string& to_netns,
                   const std::string& to_address, uint16_t port, int probes) {
  Socket echo = Bound(to_netns, SOCK_DGRAM, to_address, port);
  std::atomic<bool> stop{false};
  std::thread echoer([&] {
    char buf[128];
    while (!stop) {
      pollfd p{.fd = echo.get(), .events = POLLIN, .revents = 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      sockaddr_in from{};
      socklen_t len = sizeof(from);
      const ssize_t n =
          ::recvfrom(echo.get(), buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &len);
      if (n > 0) {
        ::sendto(echo.get(), buf, static_cast<size_t>(n), 0, reinterpret_cast<sockaddr*>(&from),
                 len);
      }
    }
  });
  Socket client = MakeSocket(from_netns, SOCK_DGRAM);
  const sockaddr_in to = Endpoint(to_address, port);
  std::vector<double> rtts;
  for (int i = 0; i < probes; ++i) {
    const auto sent = Clock::now();
    char msg[16] = "rtt";
    ::sendto(client.get(), msg, sizeof(msg), 0, reinterpret_cast<const sockaddr*>(&to), sizeof(to));
    pollfd p{.fd = client.get(), .events = POLLIN, .revents = 0};
    if (::poll(&p, 1, 1000) > 0) {
      char buf[16];
      ::recv(client.get(), buf, sizeof(buf), 0);
      rtts.push_back(std::chrono::duration<double, std::milli>(Clock::now() - sent).count());
    }
  }
  stop = true;
  echoer.join();
  if (rtts.empty()) return 1e9;
  std::sort(rtts.begin(), rtts.end());
  return rtts[rtts.size() / 2];
}

class PacketFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = testing::NetnsCluster::Create(3);
    ASSERT_TRUE(cluster) << cluster.error().message();
    cluster_ = std::move(*cluster);
    dir_ = std::filesystem::temp_directory_path() /
           fmt::format("faultline-packet-test-{}", ::getpid());
    std::filesystem::create_directories(dir_);
    NemesisOptions options;
    options.net = cluster_->Config(fmt::format("pk{}", ::getpid()));
    options.backend = BackendKind::kNft;
    options.ledger_path = (dir_ / "nemesis.ledger").string();
    options.control_address = cluster_->control_address();
    auto nemesis = Nemesis::Open(options);
    ASSERT_TRUE(nemesis) << nemesis.error().message();
    nemesis_ = std::move(*nemesis);
  }

  void TearDown() override {
    if (nemesis_) {
      const FaultReport healed = nemesis_->HealAll();
      EXPECT_TRUE(healed.ok) << healed.Describe();
      nemesis_.reset();
    }
    if (cluster_) {
      EXPECT_TRUE(testing::HelperProcesses((dir_ / "nemesis.ledger").string()).empty());
      EXPECT_EQ(testing::Leftovers(cluster_->nodes()), std::vector<std::string>{});
    }
    cluster_.reset();
    std::filesystem::remove_all(dir_);
  }

  const NetNode& Node(int i) const { return cluster_->nodes()[static_cast<size_t>(i)]; }

  static constexpr int kProbePackets = 300;
  struct Mangled {
    UdpSeen before;             // n1 -> n2 before the fault
    UdpSeen during;             // n1 -> n2 with the fault applied
    UdpSeen other;              // n1 -> n3 (not a peer of the fault) meanwhile
    UdpSeen after;              // n1 -> n2 after the heal
    std::int64_t counted = -1;  // the heal's count of `key`
  };
  // Applies `mangling` to n1's packets toward n2 and probes with kProbePackets numbered
  // datagrams, one every `spacing`, before, during and after the heal, which must end the helper
  // and report `key`.
  Mangled ProbeMangling(const Nemesis::Mangling& mangling, uint16_t port,
                        std::chrono::microseconds spacing, const char* key) {
    Mangled m;
    Socket at_n2 = Bound(Node(1).netns, SOCK_DGRAM, Node(1).address, port);
    Socket at_n3 = Bound(Node(2).netns, SOCK_DGRAM, Node(2).address, port);
    m.before = UdpSequence(Node(0).netns, at_n2, Node(1).address, port, kProbePackets, spacing);
    EXPECT_EQ(m.before.delivered, kProbePackets);
    auto applied = nemesis_->Mangle({"n1"}, {"n2"}, mangling, false);
    EXPECT_TRUE(applied) << applied.error().message();
    if (!applied) return m;
    EXPECT_TRUE(applied->ok) << applied->Describe();
    m.during = UdpSequence(Node(0).netns, at_n2, Node(1).address, port, kProbePackets, spacing);
    m.other = UdpSequence(Node(0).netns, at_n3, Node(2).address, port, kProbePackets, spacing);
    const FaultReport healed = nemesis_->HealAll();
    std::printf("%s\n", healed.Describe().c_str());
    EXPECT_TRUE(healed.ok) << healed.Describe();
    EXPECT_TRUE(healed.counts.contains(key)) << healed.Describe();
    if (healed.counts.contains(key)) m.counted = healed.counts.at(key);
    EXPECT_TRUE(testing::HelperProcesses((dir_ / "nemesis.ledger").string()).empty());
    m.after = UdpSequence(Node(0).netns, at_n2, Node(1).address, port, kProbePackets, spacing);
    return m;
  }

  std::unique_ptr<testing::NetnsCluster> cluster_;
  std::unique_ptr<Nemesis> nemesis_;
  std::filesystem::path dir_;
};

TEST_F(PacketFaultTest, LossOfThirtyPercentDropsAboutThatAndHealRestoresAll) {
  constexpr int kPackets = 400;
  Socket at_n2 = Bound(Node(1).netns, SOCK_DGRAM, Node(1).address, 7501);
  Socket at_host = Bound("", SOCK_DGRAM, cluster_->control_address(), 7502);
  ASSERT_EQ(UdpDelivered(Node(0).netns, at_n2, Node(1).address, 7501, kPackets), kPackets);

  auto applied = nemesis_->Loss({"n1"}, {}, 0.3, false);
  ASSERT_TRUE(applied) << applied.error().message();
  ASSERT_TRUE(applied->ok) << applied->Describe();
  const int got = UdpDelivered(Node(0).netns, at_n2, Node(1).address, 7501, kPackets);
  const double lost = 1.0 - static_cast<double>(got) / kPackets;
  // Binomial(400, 0.3): sd 2.3 points; 18..42% is over 5 sd either way.
  EXPECT_GT(lost, 0.18) << got << " of " << kPackets << " arrived";
  EXPECT_LT(lost, 0.42) << got << " of " << kPackets << " arrived";
  // The control address is spared.
  EXPECT_EQ(UdpDelivered(Node(0).netns, at_host, cluster_->control_address(), 7502, kPackets),
            kPackets);
  auto open = nemesis_->OpenFaults();
  ASSERT_TRUE(open);
  ASSERT_EQ(open->size(), 1u);
  EXPECT_NE((*open)[0].find("nft table inet faultline_"), std::string::npos) << (*open)[0];

  const FaultReport healed = nemesis_->HealAll();
  ASSERT_TRUE(healed.ok) << healed.Describe();
  EXPECT_EQ(UdpDelivered(Node(0).netns, at_n2, Node(1).address, 7501, kPackets), kPackets);
  EXPECT_TRUE(nemesis_->OpenFaults()->empty());
}

TEST_F(PacketFaultTest, LossIncludingControlDropsTowardTheControlAddressToo) {
  constexpr int kPackets = 300;
  Socket at_host = Bound("", SOCK_DGRAM, cluster_->control_address(), 7503);
  auto applied = nemesis_->Loss({"n1"}, {"n2"}, 1.0, true);
  ASSERT_TRUE(applied) << applied.error().message();
  ASSERT_TRUE(applied->ok) << applied->Describe();
  EXPECT_EQ(UdpDelivered(Node(0).netns, at_host, cluster_->control_address(), 7503, kPackets), 0);
  Socket at_n3 = Bound(Node(2).netns, SOCK_DGRAM, Node(2).address, 7504);
  // n3 is not among the peers: untouched.
  EXPECT_EQ(UdpDelivered(Node(0).netns, at_n3, Node(2).address, 7504, kPackets), kPackets);
}

TEST_F(PacketFaultTest, BandwidthCapsTcpGoodputAndHealRemovesTheQdisc) {
  const double before =
      TcpGoodputMbit(Node(0).netns, Node(1).netns, Node(1).address, 7511, milliseconds(400));
  EXPECT_GT(before, 40.0);
  auto applied = nemesis_->Bandwidth({"n1"}, 4000);
  ASSERT_TRUE(applied) << applied.error().message();
  ASSERT_TRUE(applied->ok) << applied->Describe();
  EXPECT_FALSE(testing::Leftovers({Node(0)}).empty());  // the qdisc is there
  const double capped =
      TcpGoodputMbit(Node(0).netns, Node(1).netns, Node(1).address, 7512, milliseconds(1500));
  // tbf at 4 Mbit/s: TCP goodput a little under the rate (PLATFORM.md §6: 6.25 of 8).
  EXPECT_LT(capped, 4.6);
  EXPECT_GT(capped, 2.0);
  const FaultReport healed = nemesis_->HealAll();
  ASSERT_TRUE(healed.ok) << healed.Describe();
  EXPECT_EQ(testing::Leftovers({Node(0)}), std::vector<std::string>{});
  const double after =
      TcpGoodputMbit(Node(0).netns, Node(1).netns, Node(1).address, 7513, milliseconds(400));
  EXPECT_GT(after, 40.0);
}

TEST_F(PacketFaultTest, BandwidthLeavesAForeignRootQdiscAlone) {
  ASSERT_TRUE(internal::RunInNetns(Node(2).netns, [] {
    return RunProcessOk({"tc", "qdisc", "add", "dev", "eth0", "root", "handle", "1:", "tbf", "rate",
                         "100mbit", "burst", "64kb", "latency", "50ms"})
                   .has_value()
               ? OkStatus()
               : Status(MakeError(ErrorCode::kInternal, "tc add failed"));
  }));
  auto applied = nemesis_->Bandwidth({"n2", "n3"}, 1000);
  ASSERT_TRUE(applied) << applied.error().message();
  EXPECT_FALSE(applied->ok);
  EXPECT_EQ(applied->failed, std::vector<std::string>{"n3"});
  const FaultReport healed = nemesis_->HealAll();
  EXPECT_TRUE(healed.ok) << healed.Describe();
  std::string qdiscs;
  ASSERT_TRUE(internal::RunInNetns(Node(2).netns, [&]() -> Status {
    FAULTLINE_ASSIGN_OR_RETURN(qdiscs, RunProcessOk({"tc", "qdisc", "show", "dev", "eth0"}));
    return OkStatus();
  }));
  EXPECT_NE(qdiscs.find("qdisc tbf 1: root"), std::string::npos) << qdiscs;
}

TEST_F(PacketFaultTest, DelayOfFiftyMillisecondsRaisesRoundTripAndHealRestores) {
  const double before = MedianRttMs(Node(0).netns, Node(1).netns, Node(1).address, 7521, 15);
  EXPECT_LT(before, 10.0);
  auto applied = nemesis_->Delay({"n1"}, {"n2"}, milliseconds(50), milliseconds(0), false);
  ASSERT_TRUE(applied) << applied.error().message();
  ASSERT_TRUE(applied->ok) << applied->Describe();
  EXPECT_EQ(testing::HelperProcesses((dir_ / "nemesis.ledger").string()).size(), 1u);
  const double delayed = MedianRttMs(Node(0).netns, Node(1).netns, Node(1).address, 7522, 15);
  EXPECT_GT(delayed, before + 45.0);
  EXPECT_LT(delayed, before + 90.0);
  // Toward n3 (not a peer of this fault) nothing changes.
  const double other = MedianRttMs(Node(0).netns, Node(2).netns, Node(2).address, 7523, 10);
  EXPECT_LT(other, 20.0);
  const FaultReport healed = nemesis_->HealAll();
  ASSERT_TRUE(healed.ok) << healed.Describe();
  EXPECT_TRUE(testing::HelperProcesses((dir_ / "nemesis.ledger").string()).empty());
  const double after = MedianRttMs(Node(0).netns, Node(1).netns, Node(1).address, 7524, 15);
  EXPECT_LT(after, 10.0);
}

// Each mangling: the UDP probe sees it while it is applied (and only toward its peer), the
// helper's counts agree with what the probe saw, and after the heal the probe sees none of it.
TEST_F(PacketFaultTest, DuplicateSendsAShareTwiceAndHealStopsIt) {
  const Mangled m =
      ProbeMangling({.kind = FaultKind::kDuplicate, .share = 0.5, .delay = {}, .jitter = {}}, 7531,
                    std::chrono::microseconds(200), "packets_duplicated");
  if (HasFatalFailure()) return;
  EXPECT_EQ(m.before.duplicates, 0);
  EXPECT_EQ(m.during.distinct, kProbePackets);
  EXPECT_EQ(m.during.damaged, 0);
  // Binomial(300, 0.5): sd 8.7; 100..200 is over 5 sd either way. A copy queued again would be
  // copied again: more than kProbePackets duplicates.
  EXPECT_GT(m.during.duplicates, 100);
  EXPECT_LT(m.during.duplicates, 200);
  // The warm-up datagrams may have been copied too.
  EXPECT_GE(m.counted, m.during.duplicates);
  EXPECT_LE(m.counted, m.during.duplicates + 3);
  EXPECT_EQ(m.after.delivered, kProbePackets);
  EXPECT_EQ(m.after.duplicates, 0);
  // n3 was not a peer of this fault.
  EXPECT_EQ(m.other.delivered, kProbePackets);
  EXPECT_EQ(m.other.duplicates, 0);
}

TEST_F(PacketFaultTest, ReorderHoldsAShareBehindLaterPacketsAndHealStopsIt) {
  // One datagram a millisecond: a packet held 30 ms is overtaken by about 30 later ones.
  const Mangled m = ProbeMangling(
      {.kind = FaultKind::kReorder, .share = 0.3, .delay = milliseconds(30), .jitter = {}}, 7541,
      std::chrono::microseconds(1000), "packets_reordered");
  if (HasFatalFailure()) return;
  EXPECT_EQ(m.before.out_of_order, 0);
  // Held, not lost: every datagram arrives once.
  EXPECT_EQ(m.during.distinct, kProbePackets);
  EXPECT_EQ(m.during.duplicates, 0);
  // Binomial(300, 0.3): sd 7.9; 40..140 leaves room for held packets released together.
  EXPECT_GT(m.during.out_of_order, 40);
  EXPECT_LT(m.during.out_of_order, 140);
  // Every datagram the probe saw late was held; a held one overtaken by nothing is not late.
  EXPECT_GE(m.counted, m.during.out_of_order);
  EXPECT_LE(m.counted, m.during.out_of_order + 10);
  EXPECT_EQ(m.after.delivered, kProbePackets);
  EXPECT_EQ(m.after.out_of_order, 0);
  EXPECT_EQ(m.other.out_of_order, 0);
}

TEST_F(PacketFaultTest, PacketCorruptDamagesAShareThatStillArrivesAndHealStopsIt) {
  const Mangled m =
      ProbeMangling({.kind = FaultKind::kPacketCorrupt, .share = 0.3, .delay = {}, .jitter = {}},
                    7551, std::chrono::microseconds(200), "packets_corrupted");
  if (HasFatalFailure()) return;
  EXPECT_EQ(m.before.damaged, 0);
  // The checksum is recomputed: damaged datagrams are delivered, not dropped.
  EXPECT_EQ(m.during.delivered, kProbePackets);
  // Binomial(300, 0.3): sd 7.9; 50..130 is over 5 sd either way.
  EXPECT_GT(m.during.damaged, 50);
  EXPECT_LT(m.during.damaged, 130);
  EXPECT_EQ(m.during.distinct + m.during.damaged, kProbePackets);
  EXPECT_GE(m.counted, m.during.damaged);
  EXPECT_LE(m.counted, m.during.damaged + 3);
  EXPECT_EQ(m.after.delivered, kProbePackets);
  EXPECT_EQ(m.after.damaged, 0);
  EXPECT_EQ(m.other.damaged, 0);
}

// The three at once, one per node (on one node the newest NFQUEUE fault takes the packets: an
// NFQUEUE verdict ends the OUTPUT hook), under TCP traffic n1 -> n2 -> n3 -> n1: TCP keeps flowing
// (it repairs duplicates and order), each helper counts its work, one heal ends all three.
TEST_F(PacketFaultTest, ManglingsOnThreeNodesHealTogether) {
  const std::array kinds = {FaultKind::kDuplicate, FaultKind::kReorder, FaultKind::kPacketCorrupt};
  for (size_t i = 0; i < kinds.size(); ++i) {
    auto applied = nemesis_->Mangle(
        {Node(static_cast<int>(i)).name}, {},
        {.kind = kinds[i], .share = 0.1, .delay = milliseconds(20), .jitter = milliseconds(5)},
        false);
    ASSERT_TRUE(applied) << applied.error().message();
    ASSERT_TRUE(applied->ok) << applied->Describe();
  }
  EXPECT_EQ(testing::HelperProcesses((dir_ / "nemesis.ledger").string()).size(), 3u);
  auto open = nemesis_->OpenFaults();
  ASSERT_TRUE(open);
  EXPECT_EQ(open->size(), 3u);
  for (int i = 0; i < 3; ++i) {
    const int to = (i + 1) % 3;
    const double mbit = TcpGoodputMbit(Node(i).netns, Node(to).netns, Node(to).address,
                                       static_cast<uint16_t>(7561 + i), milliseconds(300));
    EXPECT_GT(mbit, 0.1) << Node(i).name << " -> " << Node(to).name;
  }
  const FaultReport healed = nemesis_->HealAll();
  ASSERT_TRUE(healed.ok) << healed.Describe();
  for (const char* key : {"packets_duplicated", "packets_reordered", "packets_corrupted"}) {
    EXPECT_GT(healed.counts.contains(key) ? healed.counts.at(key) : 0, 0) << key << "\n"
                                                                          << healed.Describe();
  }
  EXPECT_TRUE(testing::HelperProcesses((dir_ / "nemesis.ledger").string()).empty());
  EXPECT_EQ(testing::Leftovers(cluster_->nodes()), std::vector<std::string>{});
}

TEST_F(PacketFaultTest, DeadlineWatchdogHealsWhenTheOwnerDoesNot) {
  NemesisOptions options;
  options.net = cluster_->Config(fmt::format("pw{}", ::getpid()));
  options.ledger_path = (dir_ / "deadline.ledger").string();
  options.deadline = milliseconds(600);
  auto nemesis = Nemesis::Open(options);
  ASSERT_TRUE(nemesis) << nemesis.error().message();
  auto applied = (*nemesis)->Loss({"n1", "n2"}, {}, 1.0, false);
  ASSERT_TRUE(applied) << applied.error().message();
  ASSERT_TRUE(applied->ok) << applied->Describe();
  EXPECT_EQ(testing::HelperProcesses(options.ledger_path).size(), 1u);  // the watchdog
  EXPECT_EQ(testing::Leftovers({Node(0), Node(1)}).size(), 2u);
  // Nobody heals here; the watchdog must, shortly after 600 ms.
  const auto until = Clock::now() + std::chrono::seconds(5);
  while (Clock::now() < until && !testing::Leftovers({Node(0), Node(1)}).empty()) {
    std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_EQ(testing::Leftovers({Node(0), Node(1)}), std::vector<std::string>{});
  auto open = (*nemesis)->OpenFaults();
  ASSERT_TRUE(open);
  EXPECT_TRUE(open->empty()) << fmt::format("{}", fmt::join(*open, "\n"));
  while (Clock::now() < until && !testing::HelperProcesses(options.ledger_path).empty()) {
    std::this_thread::sleep_for(milliseconds(50));
  }
  EXPECT_TRUE(testing::HelperProcesses(options.ledger_path).empty());
}

}  // namespace
}  // namespace faultline::nemesis
