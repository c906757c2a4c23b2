// Privileged tests of the Net backends on a 5-node namespace cluster that each test builds and
// tears down. They need root and FAIL (never skip) when they cannot build namespaces.
//
// For every backend and mode, every kind of grudge must block exactly the right ordered pairs:
//   UDP  A->B arrives            iff B accepts A (the grudge's direction, for every backend)
//   TCP/ICMP A->B succeeds       iff B accepts A and A accepts B (drop, reject: the reply of a
//                                handshake or echo is dropped too), or iff B accepts A (new-only:
//                                replies belong to an established flow)
// the control host reaches every node throughout, and heal restores everything and leaves the
// nodes' rulesets and routes exactly as they were.
#include "nemesis/net.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "common/process.h"
#include "nemesis/grudge.h"
#include "nemesis/internal/netns.h"
#include "nemesis/internal/nft.h"
#include "nemesis/testing/netns_cluster.h"

namespace faultline::nemesis {

// Found by ADL, so test names print "nft" rather than bytes.
void PrintTo(BackendKind kind, std::ostream* os) { *os << BackendName(kind); }

namespace {

using std::chrono::milliseconds;
using testing::NetnsCluster;

constexpr uint16_t kTcpPort = 7411;
constexpr uint16_t kUdpPort = 7412;
// A blocked probe waits this long; a probe expected to pass that fails is retried with kSlow, so a
// busy machine cannot turn "reachable" into a false failure.
constexpr milliseconds kFast{400};
constexpr milliseconds kSlow{3000};

class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

sockaddr_in Endpoint(const std::string& address, uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  ::inet_pton(AF_INET, address.c_str(), &sa.sin_addr);
  return sa;
}

// Runs fn on a new thread inside netns, or in the caller's (root) namespace if netns is empty.
bool RunProbe(const std::string& netns, const std::function<bool()>& fn) {
  bool ok = false;
  if (netns.empty()) {
    std::thread t([&] { ok = fn(); });
    t.join();
    return ok;
  }
  Status s = internal::RunInNetns(netns, [&] {
    ok = fn();
    return OkStatus();
  });
  return s && ok;
}

bool TcpConnects(const std::string& address, milliseconds timeout) {
  Socket s(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (s.get() < 0) return false;
  const sockaddr_in sa = Endpoint(address, kTcpPort);
  if (::connect(s.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof(sa)) == 0) return true;
  if (errno != EINPROGRESS) return false;
  pollfd p{.fd = s.get(), .events = POLLOUT, .revents = 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return false;
  int err = 0;
  socklen_t len = sizeof(err);
  ::getsockopt(s.get(), SOL_SOCKET, SO_ERROR, &err, &len);
  return err == 0;
}

uint16_t Checksum(const void* data, size_t len) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < len; i += 2) sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  if (len % 2 == 1) sum += static_cast<uint32_t>(p[len - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return htons(static_cast<uint16_t>(~sum));
}

std::atomic<uint16_t> next_ping_id{1};

bool Pings(const std::string& address, milliseconds timeout) {
  Socket s(::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP));
  if (s.get() < 0) return false;
  const uint16_t id = next_ping_id.fetch_add(1);
  icmphdr req{};
  req.type = ICMP_ECHO;
  req.un.echo.id = htons(id);
  req.un.echo.sequence = htons(1);
  req.checksum = Checksum(&req, sizeof(req));
  const sockaddr_in sa = Endpoint(address, 0);
  if (::sendto(s.get(), &req, sizeof(req), 0, reinterpret_cast<const sockaddr*>(&sa), sizeof(sa)) <
      0) {
    return false;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    const auto left =
        std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{.fd = s.get(), .events = POLLIN, .revents = 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) != 1) return false;
    uint8_t buf[1500];
    const ssize_t n = ::recv(s.get(), buf, sizeof(buf), 0);
    if (n < static_cast<ssize_t>(sizeof(iphdr))) continue;
    iphdr ip{};
    std::memcpy(&ip, buf, sizeof(ip));
    const size_t ihl = static_cast<size_t>(ip.ihl) * 4;
    if (static_cast<size_t>(n) < ihl + sizeof(icmphdr)) continue;
    icmphdr reply{};
    std::memcpy(&reply, buf + ihl, sizeof(reply));
    if (reply.type == ICMP_ECHOREPLY && ntohs(reply.un.echo.id) == id &&
        ip.saddr == sa.sin_addr.s_addr) {
      return true;
    }
  }
}

bool SendUdp(const std::string& address, const std::string& token) {
  Socket s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (s.get() < 0) return false;
  const sockaddr_in sa = Endpoint(address, kUdpPort);
  for (int i = 0; i < 3; ++i) {
    ::sendto(s.get(), token.data(), token.size(), 0, reinterpret_cast<const sockaddr*>(&sa),
             sizeof(sa));
  }
  return true;
}

// A TCP listener (accepts and closes) and a UDP receiver (records payloads) on every node, each
// on a thread that lives inside the node's namespace.
class NodeServers {
 public:
  explicit NodeServers(const std::vector<NetNode>& nodes) {
    for (const auto& n : nodes) {
      threads_.emplace_back([this, n] {
        Status s = internal::RunInNetns(n.netns, [&]() -> Status { return Serve(n.name); });
        if (!s) {
          std::lock_guard lock(mu_);
          errors_.push_back(s.error().message());
        }
      });
    }
    // Wait until every node listens.
    while (true) {
      std::lock_guard lock(mu_);
      if (ready_ + errors_.size() == nodes.size()) break;
      mu_.unlock();
      std::this_thread::sleep_for(milliseconds(5));
      mu_.lock();
    }
  }
  ~NodeServers() {
    stop_ = true;
    for (auto& t : threads_) t.join();
  }

  std::vector<std::string> errors() {
    std::lock_guard lock(mu_);
    return errors_;
  }
  bool Received(const std::string& token) {
    std::lock_guard lock(mu_);
    return received_.count(token) != 0;
  }

 private:
  Status Serve(const std::string& name) {
    Socket tcp(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    Socket udp(::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    const int one = 1;
    ::setsockopt(tcp.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    const sockaddr_in t = Endpoint("0.0.0.0", kTcpPort);
    const sockaddr_in u = Endpoint("0.0.0.0", kUdpPort);
    if (::bind(tcp.get(), reinterpret_cast<const sockaddr*>(&t), sizeof(t)) != 0 ||
        ::listen(tcp.get(), 128) != 0 ||
        ::bind(udp.get(), reinterpret_cast<const sockaddr*>(&u), sizeof(u)) != 0) {
      return internal::ErrnoError(errno, "listen on " + name);
    }
    {
      std::lock_guard lock(mu_);
      ++ready_;
    }
    while (!stop_) {
      pollfd fds[2] = {{.fd = tcp.get(), .events = POLLIN, .revents = 0},
                       {.fd = udp.get(), .events = POLLIN, .revents = 0}};
      if (::poll(fds, 2, 50) <= 0) continue;
      if (fds[0].revents != 0) {
        const int c = ::accept4(tcp.get(), nullptr, nullptr, SOCK_CLOEXEC);
        if (c >= 0) ::close(c);
      }
      if (fds[1].revents != 0) {
        char buf[256];
        const ssize_t n = ::recv(udp.get(), buf, sizeof(buf), 0);
        if (n > 0) {
          std::lock_guard lock(mu_);
          received_.insert(std::string(buf, static_cast<size_t>(n)));
        }
      }
    }
    return OkStatus();
  }

  std::mutex mu_;
  size_t ready_ = 0;
  std::vector<std::string> errors_;
  std::set<std::string> received_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

// What the ruleset and routes of each node look like, to prove a heal leaves nothing behind.
std::map<std::string, std::string> Snapshot(const NetnsCluster& cluster) {
  std::map<std::string, std::string> out;
  for (const auto& n : cluster.nodes()) {
    std::string ruleset;
    Status s = internal::RunInNetns(n.netns, [&]() -> Status {
      FAULTLINE_ASSIGN_OR_RETURN(auto ctx, internal::NftContext::Create());
      FAULTLINE_ASSIGN_OR_RETURN(ruleset, ctx.Run("list ruleset"));
      return OkStatus();
    });
    auto routes = RunProcessOk({"ip", "-n", n.netns, "-4", "route", "show", "table", "all"});
    out[n.name] = fmt::format("ruleset:\n{}{}\nroutes:\n{}", ruleset, s ? "" : s.error().message(),
                              routes ? *routes : routes.error().message());
  }
  return out;
}

struct Expectation {
  std::string what;
  bool expect;
  std::function<bool(milliseconds)> probe;
};

// Checks every ordered pair of nodes and the control host against the grudge.
void ExpectConnectivity(const NetnsCluster& cluster, NodeServers& servers, const Grudge& grudge,
                        PartitionMode mode, const std::string& round) {
  std::vector<Expectation> checks;
  for (const auto& a : cluster.nodes()) {
    for (const auto& b : cluster.nodes()) {
      if (a.name == b.name) continue;
      const bool forward = Accepts(grudge, b.name, a.name);
      const bool both = forward && Accepts(grudge, a.name, b.name);
      const bool handshake = mode == PartitionMode::kNewOnly ? forward : both;
      const std::string pair = a.name + "->" + b.name;
      checks.push_back({"tcp " + pair, handshake, [a, b](milliseconds t) {
                          return RunProbe(a.netns, [&] { return TcpConnects(b.address, t); });
                        }});
      checks.push_back({"icmp " + pair, handshake, [a, b](milliseconds t) {
                          return RunProbe(a.netns, [&] { return Pings(b.address, t); });
                        }});
      checks.push_back({"udp " + pair, forward, [a, b, &servers, round, pair](milliseconds t) {
                          const std::string token = fmt::format("{}:{}:{}", round, pair, t.count());
                          RunProbe(a.netns, [&] { return SendUdp(b.address, token); });
                          std::this_thread::sleep_for(t / 2);
                          return servers.Received(token);
                        }});
    }
    checks.push_back({"tcp control->" + a.name, true, [a](milliseconds t) {
                        return RunProbe("", [&] { return TcpConnects(a.address, t); });
                      }});
    checks.push_back({"icmp control->" + a.name, true, [a](milliseconds t) {
                        return RunProbe("", [&] { return Pings(a.address, t); });
                      }});
  }
  std::vector<char> got(checks.size(), 0);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < checks.size(); ++i) {
    threads.emplace_back([&, i] { got[i] = checks[i].probe(kFast) ? 1 : 0; });
  }
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < checks.size(); ++i) {
    // Only a pass can be slow; retry expected passes once with a long timeout.
    if (checks[i].expect && got[i] == 0) got[i] = checks[i].probe(kSlow) ? 1 : 0;
    EXPECT_EQ(got[i] != 0, checks[i].expect)
        << round << ": " << checks[i].what << (checks[i].expect ? " is blocked" : " gets through");
  }
}

struct BackendMode {
  BackendKind backend;
  PartitionMode mode;
};

void PrintTo(const BackendMode& p, std::ostream* os) {
  *os << BackendName(p.backend) << "/" << PartitionModeName(p.mode);
}

class NetPartition : public ::testing::TestWithParam<BackendMode> {};

std::string RunId() { return fmt::format("t{}", ::getpid()); }

TEST_P(NetPartition, EveryGrudgeCutsExactlyTheRightPairsAndHealRestoresAll) {
  const auto [backend, mode] = GetParam();
  auto cluster = NetnsCluster::Create(5);
  ASSERT_TRUE(cluster) << cluster.error().message();
  NodeServers servers((*cluster)->nodes());
  ASSERT_THAT(servers.errors(), ::testing::IsEmpty());
  auto net = MakeNet(backend, (*cluster)->Config(RunId()));
  ASSERT_TRUE(net) << net.error().message();
  ASSERT_EQ((*net)->Name(), BackendName(backend));

  const auto before = Snapshot(**cluster);
  ExpectConnectivity(**cluster, servers, {}, mode, "before");
  const uint64_t seed = 7;
  for (const auto* text : {"isolate:n3", "halves", "majority", "majorities-ring", "bridge",
                           "minority-third", "oneway:n1>n2"}) {
    auto spec = ParseGrudgeSpec(text);
    ASSERT_TRUE(spec);
    auto grudge = MakeGrudge(*spec, (*cluster)->NodeNames(), seed);
    ASSERT_TRUE(grudge) << grudge.error().message();
    SCOPED_TRACE(fmt::format("grudge {} seed {}: {}", text, seed, DescribeGrudge(*grudge)));

    auto applied = (*net)->Apply(*grudge, mode);
    ASSERT_TRUE(applied) << applied.error().message();
    ASSERT_TRUE(applied->ok()) << applied->Describe();
    for (const auto& n : applied->nodes) {
      const NodeSet expect =
          backend == BackendKind::kNetlink ? Invert(*grudge)[n.node] : Normalize(*grudge)[n.node];
      EXPECT_EQ(n.peers, expect) << n.node;
      EXPECT_EQ(n.needs_heal, !expect.empty()) << n.node;
      EXPECT_FALSE(n.mechanism.empty());
    }
    ExpectConnectivity(**cluster, servers, *grudge, mode, std::string(text) + " applied");

    const NetReport healed = (*net)->Heal();
    ASSERT_TRUE(healed.ok()) << healed.Describe();
    ExpectConnectivity(**cluster, servers, {}, mode, std::string(text) + " healed");
    EXPECT_EQ(Snapshot(**cluster), before) << "heal left something behind";
  }

  // A second apply replaces the first: after halves, a one-way cut is all that remains.
  auto halves = RandomHalves((*cluster)->NodeNames(), seed);
  ASSERT_TRUE(halves);
  ASSERT_TRUE((*net)->Apply(*halves, mode)->ok());
  auto oneway = OneWay((*cluster)->NodeNames(), "n4", "n5");
  ASSERT_TRUE(oneway);
  auto replaced = (*net)->Apply(*oneway, mode);
  ASSERT_TRUE(replaced && replaced->ok());
  ExpectConnectivity(**cluster, servers, *oneway, mode, "halves replaced by oneway:n4>n5");
  ASSERT_TRUE((*net)->Heal().ok());
  // Healing twice is harmless.
  ASSERT_TRUE((*net)->Heal().ok());
  EXPECT_EQ(Snapshot(**cluster), before);
}

TEST_P(NetPartition, PartialFailureSaysWhereRulesAreInPlace) {
  const auto [backend, mode] = GetParam();
  auto cluster = NetnsCluster::Create(5);
  ASSERT_TRUE(cluster) << cluster.error().message();
  const auto before = Snapshot(**cluster);
  NetConfig config = (*cluster)->Config(RunId());
  // n4 and n5 point at namespaces that do not exist.
  config.nodes[3].netns = (*cluster)->prefix() + "missing4";
  config.nodes[4].netns = (*cluster)->prefix() + "missing5";
  auto net = MakeNet(backend, config);
  ASSERT_TRUE(net) << net.error().message();
  auto grudge = RandomHalves((*cluster)->NodeNames(), 3);
  ASSERT_TRUE(grudge);
  auto applied = (*net)->Apply(*grudge, mode);
  ASSERT_TRUE(applied) << applied.error().message();
  EXPECT_FALSE(applied->ok());
  EXPECT_THAT(applied->Succeeded(), ::testing::ElementsAre("n1", "n2", "n3"));
  EXPECT_THAT(applied->Failed(), ::testing::ElementsAre("n4", "n5"));
  for (const auto& n : applied->nodes) {
    if (n.ok) continue;
    ASSERT_TRUE(n.error.has_value());
    EXPECT_EQ(n.error->code(), ErrorCode::kNotFound) << n.error->message();
    EXPECT_THAT(n.error->message(), ::testing::HasSubstr("on " + n.node));
    EXPECT_TRUE(n.needs_heal);
  }
  EXPECT_THAT(applied->Describe(), ::testing::HasSubstr("3 of 5 nodes ok"));
  const NetReport healed = (*net)->Heal();
  EXPECT_THAT(healed.Succeeded(), ::testing::ElementsAre("n1", "n2", "n3"));
  EXPECT_EQ(Snapshot(**cluster), before);
}

std::vector<BackendMode> AllBackendModes() {
  std::vector<BackendMode> out;
  for (auto b : {BackendKind::kNft, BackendKind::kIptables, BackendKind::kNetlink}) {
    for (auto m : {PartitionMode::kDrop, PartitionMode::kReject, PartitionMode::kNewOnly}) {
      if (b == BackendKind::kNetlink && m == PartitionMode::kNewOnly) continue;
      out.push_back({b, m});
    }
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Backends, NetPartition, ::testing::ValuesIn(AllBackendModes()),
                         [](const ::testing::TestParamInfo<BackendMode>& p) {
                           std::string name = fmt::format("{}-{}", BackendName(p.param.backend),
                                                          PartitionModeName(p.param.mode));
                           std::string out;
                           bool upper = true;
                           for (char c : name) {
                             if (c == '-') {
                               upper = true;
                               continue;
                             }
                             out += upper ? static_cast<char>(std::toupper(c)) : c;
                             upper = false;
                           }
                           return out;
                         });

// Creates a socket inside netns and returns its fd (sockets stay in the namespace they were made
// in, so the caller may use them from any thread).
int SocketIn(const std::string& netns, const std::function<int()>& make) {
  int fd = -1;
  Status s = internal::RunInNetns(netns, [&] {
    fd = make();
    return OkStatus();
  });
  return s ? fd : -1;
}

// True if `count` bytes arrive on fd within the timeout.
bool Arrives(int fd, milliseconds timeout) {
  pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return false;
  char c = 0;
  return ::recv(fd, &c, 1, 0) == 1;
}

class NewOnlyFlows : public ::testing::TestWithParam<BackendKind> {};

// New-only must cut flows the filtered peer opened before the partition (etcd keeps its peer
// connections open), by deleting their conntrack entries.
TEST_P(NewOnlyFlows, CutsFlowsThePeerOpenedBefore) {
  auto cluster = NetnsCluster::Create(3);
  ASSERT_TRUE(cluster) << cluster.error().message();
  const auto& nodes = (*cluster)->nodes();
  auto net = MakeNet(GetParam(), (*cluster)->Config(RunId()));
  ASSERT_TRUE(net) << net.error().message();
  // Conntrack only tracks a namespace once a rule needs it: a first new-only partition on n1
  // (against n3) makes n1 track the flow opened next, as a busy host would.
  auto first = (*net)->Apply({{"n1", {"n3"}}}, PartitionMode::kNewOnly);
  ASSERT_TRUE(first && first->ok());

  constexpr uint16_t kPort = 7413;
  Socket listener(SocketIn(nodes[0].netns, [] {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const sockaddr_in sa = Endpoint("0.0.0.0", kPort);
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof(sa)) != 0 ||
        ::listen(fd, 4) != 0) {
      ::close(fd);
      return -1;
    }
    return fd;
  }));
  ASSERT_GE(listener.get(), 0);
  const std::string n1_address = nodes[0].address;
  Socket client(SocketIn(nodes[1].netns, [&] {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const sockaddr_in sa = Endpoint(n1_address, kPort);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof(sa)) != 0) {
      ::close(fd);
      return -1;
    }
    return fd;
  }));
  ASSERT_GE(client.get(), 0);
  Socket server(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_GE(server.get(), 0);
  ASSERT_EQ(::send(client.get(), "a", 1, MSG_NOSIGNAL), 1);
  ASSERT_TRUE(Arrives(server.get(), kSlow)) << "the flow does not work before the partition";

  // n1 now drops new connections from n2; the flow n2 opened must stop too.
  auto applied = (*net)->Apply({{"n1", {"n2"}}}, PartitionMode::kNewOnly);
  ASSERT_TRUE(applied && applied->ok()) << (applied ? applied->Describe() : "");
  ASSERT_EQ(applied->notes.size(), 1u);
  EXPECT_THAT(applied->notes[0], ::testing::HasSubstr("deleted: n1 1)")) << applied->Describe();
  ASSERT_EQ(::send(client.get(), "b", 1, MSG_NOSIGNAL), 1);
  EXPECT_FALSE(Arrives(server.get(), kFast)) << "an established flow survived new-only";
  ASSERT_TRUE((*net)->Heal().ok());
}

INSTANTIATE_TEST_SUITE_P(Backends, NewOnlyFlows,
                         ::testing::Values(BackendKind::kNft, BackendKind::kIptables),
                         [](const ::testing::TestParamInfo<BackendKind>& p) {
                           return p.param == BackendKind::kNft ? "Nft" : "Iptables";
                         });

// A backend that touches nothing and either refuses every apply or accepts it.
class FakeNet final : public Net {
 public:
  FakeNet(std::string name, bool refuses, std::set<PartitionMode> modes, NetConfig config)
      : name_(std::move(name)),
        refuses_(refuses),
        modes_(std::move(modes)),
        config_(std::move(config)) {}
  std::string_view Name() const override { return name_; }
  bool Supports(PartitionMode mode) const override { return modes_.count(mode) != 0; }
  Result<NetReport> Apply(const Grudge&, PartitionMode mode) override {
    NetReport r = Report("apply");
    r.mode = mode;
    for (auto& n : r.nodes) {
      n.ok = !refuses_;
      if (refuses_) n.error = Error(ErrorCode::kUnavailable, "fake: refused on " + n.node);
    }
    return r;
  }
  NetReport Heal() override { return Report("heal"); }

 private:
  NetReport Report(std::string action) const {
    NetReport r;
    r.backend = name_;
    r.action = std::move(action);
    for (const auto& n : config_.nodes) {
      NodeReport node;
      node.node = n.name;
      node.ok = true;
      r.nodes.push_back(std::move(node));
    }
    return r;
  }
  std::string name_;
  bool refuses_;
  std::set<PartitionMode> modes_;
  NetConfig config_;
};

TEST(NetProbe, AutoFallsBackWhenAFakeBackendFails) {
  const std::vector<ProbeCandidate> candidates = {
      {BackendKind::kNetlink,
       [](const NetConfig& c) -> Result<std::unique_ptr<Net>> {
         return std::unique_ptr<Net>(std::make_unique<FakeNet>(
             "fake-netlink", true, std::set{PartitionMode::kDrop, PartitionMode::kReject}, c));
       }},
      {BackendKind::kNft,
       [](const NetConfig& c) -> Result<std::unique_ptr<Net>> {
         return std::unique_ptr<Net>(
             std::make_unique<FakeNet>("fake-nft", false, std::set{PartitionMode::kDrop}, c));
       }},
      {BackendKind::kIptables, [](const NetConfig&) -> Result<std::unique_ptr<Net>> {
         return MakeError(ErrorCode::kNotFound, "fake iptables: not installed");
       }}};
  const auto probes = ProbeBackends(candidates);
  ASSERT_EQ(probes.size(), 3u);
  EXPECT_FALSE(probes[0].works);
  ASSERT_TRUE(probes[0].error.has_value());
  EXPECT_THAT(probes[0].error->message(), ::testing::HasSubstr("fake: refused on p1"));
  EXPECT_TRUE(probes[1].works) << (probes[1].error ? probes[1].error->message() : "");
  EXPECT_EQ(probes[1].modes, std::set{PartitionMode::kDrop});
  EXPECT_FALSE(probes[2].works);
  EXPECT_THAT(probes[2].error->message(), ::testing::HasSubstr("not installed"));

  const NetConfig config{.run_id = "fake",
                         .nodes = {{.name = "n1", .netns = "none", .address = "198.19.1.1"}}};
  auto picked = MakeAutoNet(candidates, config, PartitionMode::kDrop);
  ASSERT_TRUE(picked) << picked.error().message();
  EXPECT_EQ((*picked)->Name(), "fake-nft");
  auto none = MakeAutoNet(candidates, config, PartitionMode::kNewOnly);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), ErrorCode::kUnavailable);
  EXPECT_THAT(none.error().message(), ::testing::HasSubstr("fake: refused"));
  EXPECT_THAT(none.error().message(), ::testing::HasSubstr("not installed"));
}

TEST(NetProbe, EveryBackendWorksHereAndAutoPicksOne) {
  const auto probes = ProbeBackends();
  ASSERT_EQ(probes.size(), 3u);
  for (const auto& p : probes) {
    EXPECT_TRUE(p.works) << BackendName(p.backend) << ": "
                         << (p.error ? p.error->message() : "no error");
    EXPECT_GT(p.cost.count(), 0) << BackendName(p.backend);
    const size_t modes = p.backend == BackendKind::kNetlink ? 2 : 3;
    EXPECT_EQ(p.modes.size(), modes) << BackendName(p.backend);
  }
  auto newonly = PickBackend(probes, PartitionMode::kNewOnly);
  ASSERT_TRUE(newonly) << newonly.error().message();
  EXPECT_NE(*newonly, BackendKind::kNetlink);

  auto cluster = NetnsCluster::Create(3);
  ASSERT_TRUE(cluster) << cluster.error().message();
  const auto before = Snapshot(**cluster);
  auto net = MakeNet(BackendKind::kAuto, (*cluster)->Config(RunId()), PartitionMode::kNewOnly);
  ASSERT_TRUE(net) << net.error().message();
  EXPECT_NE((*net)->Name(), "netlink");
  auto grudge = IsolateOne((*cluster)->NodeNames(), "n1");
  ASSERT_TRUE(grudge);
  auto applied = (*net)->Apply(*grudge, PartitionMode::kNewOnly);
  ASSERT_TRUE(applied && applied->ok());
  EXPECT_EQ(applied->backend, (*net)->Name());
  ASSERT_TRUE((*net)->Heal().ok());
  EXPECT_EQ(Snapshot(**cluster), before);
}

TEST(NetnsClusterFixture, TeardownRemovesEverything) {
  std::string prefix;
  {
    auto cluster = NetnsCluster::Create(2);
    ASSERT_TRUE(cluster) << cluster.error().message();
    prefix = (*cluster)->prefix();
    auto listed = RunProcessOk({"ip", "netns", "list"});
    ASSERT_TRUE(listed);
    EXPECT_THAT(*listed, ::testing::HasSubstr(prefix + "n1"));
  }
  auto listed = RunProcessOk({"ip", "netns", "list"});
  ASSERT_TRUE(listed);
  EXPECT_THAT(*listed, ::testing::Not(::testing::HasSubstr(prefix)));
  auto links = RunProcessOk({"ip", "-o", "link", "show"});
  ASSERT_TRUE(links);
  EXPECT_THAT(*links, ::testing::Not(::testing::HasSubstr(prefix)));
}

}  // namespace
}  // namespace faultline::nemesis
