// Privileged tests of the SSH control path on a throwaway namespace cluster with sshd on every node
// (cluster/ssh_test_cluster.h): commands run inside the right node, process faults go through the
// nodes file's commands, masters are ended on Close, and partitions installed through
// iptables-restore over ssh (nemesis/command_net.h) cut exactly the right pairs and heal. They
// need root and FAIL (never skip) when they cannot build the cluster.
#include "cluster/ssh_control.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <thread>

#include "cluster/internal/util.h"
#include "cluster/ssh_nemesis.h"
#include "cluster/ssh_test_cluster.h"
#include "common/fd.h"
#include "nemesis/clock.h"
#include "nemesis/command_net.h"
#include "nemesis/grudge.h"

namespace faultline::cluster {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;
using testing::SshTestCluster;

constexpr uint16_t kTcpPort = 7421;
constexpr milliseconds kFast{400};
constexpr milliseconds kSlow{3000};

// The fake database of node nK: a `sleep` whose argument is unique to this test process and node,
// started detached, found by its exact command line.
std::string DbToken(const std::string& node) {
  return fmt::format("sleep 99{}{}", node.substr(1), ::getpid());
}
DbCommands FakeDb(const std::string& node) {
  const std::string token = DbToken(node);
  return {.start = fmt::format("setsid {} </dev/null >/dev/null 2>&1 &", token),
          .kill = fmt::format("kill -KILL $(pgrep -o -x -f '{}')", token),
          .pid = fmt::format("pgrep -o -x -f '{}'", token),
          .data_dir = std::nullopt};
}

// Kills any fake database process of this test left running, by PID checked against its command
// line.
void KillLeftoverDbs() {
  DIR* d = ::opendir("/proc");
  if (d == nullptr) return;
  while (dirent* e = ::readdir(d)) {
    const pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid <= 0) continue;
    std::ifstream in(fmt::format("/proc/{}/cmdline", pid));
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    for (int k = 1; k <= 9; ++k) {
      if (cmdline == DbToken(fmt::format("n{}", k)) + " ") ::kill(pid, SIGKILL);
    }
  }
  ::closedir(d);
}

// Processes whose command line mentions `text` (ssh masters name their ControlPath).
int ProcessesMentioning(const std::string& text) {
  int count = 0;
  DIR* d = ::opendir("/proc");
  if (d == nullptr) return -1;
  while (dirent* e = ::readdir(d)) {
    const pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid <= 0 || pid == ::getpid()) continue;
    std::ifstream in(fmt::format("/proc/{}/cmdline", pid));
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmdline.find(text) != std::string::npos) ++count;
  }
  ::closedir(d);
  return count;
}

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

std::string NetnsFile(const std::string& netns) { return "/var/run/netns/" + netns; }

// Runs fn on a thread of its own that has entered the namespace (setns acts on the calling
// thread only; the thread ends with fn, so nothing else runs in there by accident). An empty
// netns: the root namespace.
Status InNetns(const std::string& netns, const std::function<Status()>& fn) {
  Status result;
  std::thread t([&] {
    if (!netns.empty()) {
      const int fd = ::open(NetnsFile(netns).c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) {
        result = ErrnoError(errno, "enter network namespace " + netns);
        if (fd >= 0) ::close(fd);
        return;
      }
      ::close(fd);
    }
    result = fn();
  });
  t.join();
  return result;
}

bool RunProbe(const std::string& netns, const std::function<bool()>& fn) {
  bool ok = false;
  Status s = InNetns(netns, [&] {
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

// A TCP listener (accepts and closes) on every node, each on a thread inside the node's namespace.
class Listeners {
 public:
  explicit Listeners(const std::vector<nemesis::NetNode>& nodes) {
    for (const auto& n : nodes) {
      threads_.emplace_back([this, n] {
        Status s = InNetns(n.netns, [&]() -> Status { return Serve(n.name); });
        if (!s) {
          std::lock_guard lock(mu_);
          errors_.push_back(s.error().message());
        }
      });
    }
    while (true) {
      {
        std::lock_guard lock(mu_);
        if (ready_ + errors_.size() == nodes.size()) break;
      }
      std::this_thread::sleep_for(milliseconds(5));
    }
  }
  ~Listeners() {
    stop_ = true;
    for (auto& t : threads_) t.join();
  }
  std::vector<std::string> errors() {
    std::lock_guard lock(mu_);
    return errors_;
  }

 private:
  Status Serve(const std::string& name) {
    Socket tcp(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    const int one = 1;
    ::setsockopt(tcp.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    const sockaddr_in t = Endpoint("0.0.0.0", kTcpPort);
    if (::bind(tcp.get(), reinterpret_cast<const sockaddr*>(&t), sizeof(t)) != 0 ||
        ::listen(tcp.get(), 128) != 0) {
      return ErrnoError(errno, "listen on " + name);
    }
    {
      std::lock_guard lock(mu_);
      ++ready_;
    }
    while (!stop_) {
      pollfd p{.fd = tcp.get(), .events = POLLIN, .revents = 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int c = ::accept4(tcp.get(), nullptr, nullptr, SOCK_CLOEXEC);
      if (c >= 0) ::close(c);
    }
    return OkStatus();
  }

  std::mutex mu_;
  size_t ready_ = 0;
  std::vector<std::string> errors_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

struct Expectation {
  std::string what;
  bool expect;
  std::function<bool(milliseconds)> probe;
};

// TCP and ping for every ordered pair of nodes, and from the control host to every node.
void ExpectConnectivity(const SshTestCluster& cluster, const nemesis::Grudge& grudge,
                        nemesis::PartitionMode mode, const std::string& round) {
  std::vector<Expectation> checks;
  const auto& nodes = cluster.netns().nodes();
  for (const auto& a : nodes) {
    for (const auto& b : nodes) {
      if (a.name == b.name) continue;
      const bool forward = nemesis::Accepts(grudge, b.name, a.name);
      const bool both = forward && nemesis::Accepts(grudge, a.name, b.name);
      const bool handshake = mode == nemesis::PartitionMode::kNewOnly ? forward : both;
      const std::string pair = a.name + "->" + b.name;
      checks.push_back({"tcp " + pair, handshake, [a, b](milliseconds t) {
                          return RunProbe(a.netns, [&] { return TcpConnects(b.address, t); });
                        }});
      checks.push_back({"icmp " + pair, handshake, [a, b](milliseconds t) {
                          return RunProbe(a.netns, [&] { return Pings(b.address, t); });
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
    if (checks[i].expect && got[i] == 0) got[i] = checks[i].probe(kSlow) ? 1 : 0;
    EXPECT_EQ(got[i] != 0, checks[i].expect)
        << round << ": " << checks[i].what << (checks[i].expect ? " is blocked" : " gets through");
  }
}

std::string RunId() { return fmt::format("s{}", ::getpid()); }

TEST(SshControl, RunRunsInsideTheNodeAndCloseEndsTheMasters) {
  auto cluster = SshTestCluster::Create(3, FakeDb);
  ASSERT_TRUE(cluster) << cluster.error().message();
  // One multiplexed ssh client per command (the persistent shell has its own test).
  auto control = MakeSshControl((*cluster)->nodes_file(), {.persistent_shell = false});
  ASSERT_TRUE(control) << control.error().message();
  EXPECT_EQ((*control)->Name(), "ssh");
  EXPECT_THAT((*control)->Nodes(), ::testing::ElementsAre("n1", "n2", "n3"));
  for (const auto& n : (*cluster)->netns().nodes()) {
    auto out =
        (*control)->Run(n.name, "ip -4 -o addr show dev eth0; stat -L -c %i /proc/self/ns/net");
    ASSERT_TRUE(out) << out.error().message();
    EXPECT_EQ(out->exit_code, 0) << out->err;
    EXPECT_THAT(out->out, HasSubstr(" inet " + n.address + "/24 ")) << n.name;
    struct stat st {};
    ASSERT_EQ(::stat(NetnsFile(n.netns).c_str(), &st), 0);
    EXPECT_THAT(out->out, HasSubstr(fmt::format("\n{}\n", st.st_ino)))
        << n.name << ": the command did not run in the node's network namespace";
  }
  // Input on stdin, exit code and stderr come back.
  auto cat = (*control)->Run("n2", "cat; echo done", "a line\nanother\n");
  ASSERT_TRUE(cat) << cat.error().message();
  EXPECT_EQ(cat->out, "a line\nanother\ndone\n");
  auto fails = (*control)->Run("n3", "echo oops >&2; exit 7");
  ASSERT_TRUE(fails);
  EXPECT_EQ(fails->exit_code, 7);
  EXPECT_EQ(fails->err, "oops\n");
  // Quoting survives the remote shell.
  auto quoted = (*control)->Run("n1", "printf '%s|' \"it's\" '$HOME' \"a  b\"");
  ASSERT_TRUE(quoted);
  EXPECT_EQ(quoted->out, "it's|$HOME|a  b|");
  // The SHLVL fix (PLATFORM.md §9): sshd's SetEnv SHLVL=1 makes root's bash see level 2 and skip
  // ~/.bashrc; bash lowers it again as it execs `sh`, which then sees 1 (0 without the fix).
  auto shlvl = (*control)->Run("n1", "echo $SHLVL");
  ASSERT_TRUE(shlvl);
  EXPECT_EQ(shlvl->out, "1\n");

  auto missing = (*control)->Run("n9", "true");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);

  // One master per node, named by its control path; Close ends them all.
  auto argv = (*control)->SshArgv("n1", "true");
  ASSERT_TRUE(argv);
  std::string control_path;
  for (const auto& a : *argv) {
    if (a.rfind("ControlPath=", 0) == 0) control_path = a.substr(12);
  }
  ASSERT_FALSE(control_path.empty());
  const std::string dir = std::filesystem::path(control_path).parent_path().string();
  EXPECT_EQ(ProcessesMentioning(dir), 3) << "expected one ssh master per node";
  (*control)->Close();
  EXPECT_FALSE(std::filesystem::exists(dir));
  for (int i = 0; i < 100 && ProcessesMentioning(dir) > 0; ++i) {
    std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_EQ(ProcessesMentioning(dir), 0) << "ssh masters survived Close";
  // A closed control still works (it connects afresh).
  auto after = (*control)->Run("n1", "echo again");
  ASSERT_TRUE(after) << after.error().message();
  EXPECT_EQ(after->out, "again\n");
  control->reset();
}

TEST(SshControl, PersistentShellRunsCommandsLikeAFreshSsh) {
  auto cluster = SshTestCluster::Create(2, FakeDb);
  ASSERT_TRUE(cluster) << cluster.error().message();
  auto control = MakeSshControl((*cluster)->nodes_file(),
                                {.persistent_shell = true, .command_timeout = milliseconds(3000)});
  ASSERT_TRUE(control) << control.error().message();
  const auto& n2 = (*cluster)->netns().nodes()[1];
  auto where = (*control)->Run("n2", "ip -4 -o addr show dev eth0; echo $$");
  ASSERT_TRUE(where) << where.error().message();
  EXPECT_THAT(where->out, HasSubstr(" inet " + n2.address + "/24 "));
  // The same shell answers the next command (its $$ is the same), and `exit` ends only the
  // command's subshell.
  auto again = (*control)->Run("n2", "echo $$; exit 3");
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(again->exit_code, 3);
  EXPECT_EQ(where->out.substr(where->out.rfind('\n', where->out.size() - 2) + 1), again->out);
  auto cat = (*control)->Run("n2", "cat; echo done; echo warn >&2", "a line\nanother\n");
  ASSERT_TRUE(cat) << cat.error().message();
  EXPECT_EQ(cat->out, "a line\nanother\ndone\n");
  EXPECT_EQ(cat->err, "warn\n");
  auto bare = (*control)->Run("n2", "printf 'no newline'; printf 'err' >&2");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->out, "no newline");
  EXPECT_EQ(bare->err, "err");
  // Input without a final newline cannot be a here-document: it goes through a fresh ssh.
  auto partial = (*control)->Run("n2", "cat", "abc");
  ASSERT_TRUE(partial) << partial.error().message();
  EXPECT_EQ(partial->out, "abc");
  auto quoted = (*control)->Run("n1", "printf '%s|' \"it's\" '$HOME' \"a  b\"");
  ASSERT_TRUE(quoted);
  EXPECT_EQ(quoted->out, "it's|$HOME|a  b|");
  // A command past the deadline ends the shell; the next command gets a new one.
  auto slow = (*control)->Run("n1", "sleep 10");
  ASSERT_FALSE(slow);
  EXPECT_EQ(slow.error().code(), ErrorCode::kDeadlineExceeded);
  auto after = (*control)->Run("n1", "echo fine");
  ASSERT_TRUE(after) << after.error().message();
  EXPECT_EQ(after->out, "fine\n");
  control->reset();
}

TEST(SshControl, UnreachableNodeIsUnavailable) {
  NodesFile file{.cluster = "none",
                 .system = {},
                 .nodes = {{.name = "n1",
                            .host = "127.0.0.1",
                            .port = 1,
                            .user = "root",
                            .identity_file = "/nonexistent/id",
                            .known_hosts = "/dev/null",
                            .address = "127.0.0.1",
                            .ssh_options = {},
                            .client_address = {},
                            .client_port = 0,
                            .data_dir = {},
                            .log_dir = {},
                            .db = FakeDb("n1")}}};
  for (bool persistent : {true, false}) {
    auto control = MakeSshControl(file, {.multiplex = false, .persistent_shell = persistent});
    ASSERT_TRUE(control);
    auto out = (*control)->Run("n1", "true");
    ASSERT_FALSE(out);
    EXPECT_EQ(out.error().code(), ErrorCode::kUnavailable);
    EXPECT_THAT(out.error().message(), HasSubstr("run on n1 (root@127.0.0.1:1): ssh failed"));
    EXPECT_THAT(out.error().message(), HasSubstr("Connection refused"));
  }
}

// The local SSH test cluster's nodes are namespaces on this machine's kernel: a clock fault over
// ssh must be refused (its clock would be this machine's), and nothing may be recorded or run.
TEST(SshControl, ClockFaultOnThisMachinesKernelIsRefused) {
  auto cluster = SshTestCluster::Create(2, FakeDb);
  ASSERT_TRUE(cluster) << cluster.error().message();
  auto control = MakeSshControl((*cluster)->nodes_file());
  ASSERT_TRUE(control) << control.error().message();
  nemesis::NemesisOptions options;
  options.ledger_path = (*cluster)->dir() + "/clock.ledger";
  options.heal_on_open = false;
  auto ssh = OpenSshNemesis(std::move(*control), options);
  ASSERT_TRUE(ssh) << ssh.error().message();
  const auto before = std::chrono::system_clock::now();
  for (auto kind : {nemesis::FaultKind::kClockBump, nemesis::FaultKind::kClockStrobe}) {
    nemesis::FaultSpec spec;
    spec.kind = kind;
    spec.targets = "n2";
    spec.clock_offset = std::chrono::milliseconds(-3600000);
    if (kind == nemesis::FaultKind::kClockStrobe)
      spec.clock_period = std::chrono::milliseconds(100);
    auto r = nemesis::ApplyFault(*ssh->nemesis, spec, {"n1", "n2"}, {});
    ASSERT_FALSE(r) << r->Describe();
    EXPECT_NE(r.error().message().find("this machine's kernel (same boot_id"), std::string::npos)
        << r.error().message();
  }
  auto open = ssh->nemesis->OpenFaults();
  ASSERT_TRUE(open);
  EXPECT_TRUE(open->empty());
  // This machine's clock did not move by the hour asked for.
  const auto elapsed = std::chrono::system_clock::now() - before;
  EXPECT_LT(std::chrono::abs(elapsed), std::chrono::seconds(60));
}

TEST(SshControl, ProcessFaultsUseTheNodesFileCommands) {
  KillLeftoverDbs();
  auto cluster = SshTestCluster::Create(2, FakeDb);
  ASSERT_TRUE(cluster) << cluster.error().message();
  auto control = MakeSshControl((*cluster)->nodes_file());
  ASSERT_TRUE(control) << control.error().message();
  using nemesis::ProcessAction;
  const auto db = [&](const std::string& node) {
    auto all = (*control)->Databases();
    EXPECT_TRUE(all) << all.error().message();
    for (const auto& d : all.value_or(std::vector<nemesis::DbProcess>{})) {
      if (d.node == node) return d;
    }
    return nemesis::DbProcess{};
  };
  EXPECT_EQ(db("n2").pid, 0);
  EXPECT_EQ(db("n2").state, "not running");

  auto started = (*control)->Process({"n2"}, ProcessAction::kStart);
  ASSERT_EQ(started.size(), 1u);
  ASSERT_TRUE(started[0].ok) << started[0].error->message();
  EXPECT_GT(started[0].pid_after, 0);
  const int pid = started[0].pid_after;
  auto running = db("n2");
  EXPECT_EQ(running.pid, pid);
  EXPECT_TRUE(running.alive);
  EXPECT_FALSE(running.paused);
  EXPECT_GT(running.start_time, 0u);
  EXPECT_EQ(db("n1").pid, 0) << "n1's database is another process";

  auto paused = (*control)->Process({"n2"}, ProcessAction::kPause);
  ASSERT_TRUE(paused[0].ok) << paused[0].error->message();
  EXPECT_EQ(paused[0].pid_before, pid);
  EXPECT_THAT(paused[0].mechanism, HasSubstr("kill -STOP"));
  EXPECT_TRUE(db("n2").paused);
  EXPECT_EQ(db("n2").state, "paused");
  auto resumed = (*control)->Process({"n2"}, ProcessAction::kResume);
  ASSERT_TRUE(resumed[0].ok);
  EXPECT_FALSE(db("n2").paused);

  auto killed = (*control)->Process({"n2", "n1", "n7"}, ProcessAction::kKill);
  ASSERT_EQ(killed.size(), 3u);
  EXPECT_TRUE(killed[0].ok) << killed[0].error->message();
  EXPECT_EQ(killed[0].pid_before, pid);
  EXPECT_EQ(killed[0].pid_after, 0);
  // n1 runs nothing: its kill command fails, and the report says so.
  EXPECT_FALSE(killed[1].ok);
  ASSERT_TRUE(killed[1].error.has_value());
  EXPECT_THAT(killed[1].error->message(), HasSubstr("process kill on n1: exit"));
  EXPECT_FALSE(killed[2].ok);
  EXPECT_EQ(killed[2].error->code(), ErrorCode::kNotFound);
  EXPECT_EQ(db("n2").pid, 0);
  // Pausing nothing is an error, not a silent success.
  auto pause_none = (*control)->Process({"n2"}, ProcessAction::kPause);
  EXPECT_FALSE(pause_none[0].ok);
  EXPECT_THAT(pause_none[0].error->message(), HasSubstr("no database process is running"));
  control->reset();
  KillLeftoverDbs();
}

struct NetCase {
  nemesis::PartitionMode mode;
  bool persistent_shell;
};

class SshCommandNet : public ::testing::TestWithParam<NetCase> {};

TEST_P(SshCommandNet, HalvesAndIsolateCutExactlyTheRightPairsAndHeal) {
  const nemesis::PartitionMode mode = GetParam().mode;
  auto cluster = SshTestCluster::Create(5, FakeDb);
  ASSERT_TRUE(cluster) << cluster.error().message();
  Listeners listeners((*cluster)->netns().nodes());
  ASSERT_THAT(listeners.errors(), ::testing::IsEmpty());
  auto control =
      MakeSshControl((*cluster)->nodes_file(), {.persistent_shell = GetParam().persistent_shell});
  ASSERT_TRUE(control) << control.error().message();
  auto net = nemesis::MakeCommandNet(SshNetConfig((*cluster)->nodes_file(), RunId()), **control);
  ASSERT_TRUE(net) << net.error().message();
  EXPECT_EQ((*net)->Name(), "iptables-over-ssh");
  const std::string chain = "faultline_" + RunId();
  const auto ours_anywhere = [&]() {
    std::string found;
    for (const auto& n : (*control)->Nodes()) {
      auto save = (*control)->Run(n, "iptables-save -t filter");
      if (!save || save->exit_code != 0) return n + ": iptables-save failed";
      if (save->out.find(chain) != std::string::npos) found += n + " ";
    }
    return found;
  };

  ExpectConnectivity(**cluster, {}, mode, "before");
  const auto names = (*cluster)->netns().NodeNames();
  for (const auto* text : {"halves", "isolate:n3"}) {
    auto spec = nemesis::ParseGrudgeSpec(text);
    ASSERT_TRUE(spec);
    auto grudge = nemesis::MakeGrudge(*spec, names, 11);
    ASSERT_TRUE(grudge) << grudge.error().message();
    SCOPED_TRACE(fmt::format("grudge {}: {}", text, nemesis::DescribeGrudge(*grudge)));
    auto applied = (*net)->Apply(*grudge, mode);
    ASSERT_TRUE(applied) << applied.error().message();
    ASSERT_TRUE(applied->ok()) << applied->Describe();
    for (const auto& n : applied->nodes) {
      EXPECT_EQ(n.peers, nemesis::Normalize(*grudge)[n.node]) << n.node;
      if (!n.peers.empty()) {
        EXPECT_THAT(n.mechanism, HasSubstr("iptables-restore over ssh"));
      }
    }
    if (mode == nemesis::PartitionMode::kNewOnly) {
      ASSERT_EQ(applied->notes.size(), 1u);
      EXPECT_THAT(applied->notes[0], ::testing::Not(HasSubstr("NOT deleted"))) << applied->notes[0];
    }
    ExpectConnectivity(**cluster, *grudge, mode, std::string(text) + " applied");
    const nemesis::NetReport healed = (*net)->Heal();
    ASSERT_TRUE(healed.ok()) << healed.Describe();
    ExpectConnectivity(**cluster, {}, mode, std::string(text) + " healed");
    EXPECT_EQ(ours_anywhere(), "") << "heal left our chain behind";
  }
  // A fresh Net (another process, say) heals what this one applied, by reading the tables.
  auto halves = nemesis::RandomHalves(names, 5);
  ASSERT_TRUE(halves);
  ASSERT_TRUE((*net)->Apply(*halves, mode)->ok());
  EXPECT_NE(ours_anywhere(), "");
  auto fresh = nemesis::MakeCommandNet(SshNetConfig((*cluster)->nodes_file(), RunId()), **control);
  ASSERT_TRUE(fresh);
  ASSERT_TRUE((*fresh)->Heal().ok());
  EXPECT_EQ(ours_anywhere(), "");
  ExpectConnectivity(**cluster, {}, mode, "healed by a fresh net");
  net->reset();
  fresh->reset();
  control->reset();
}

INSTANTIATE_TEST_SUITE_P(Modes, SshCommandNet,
                         ::testing::Values(NetCase{nemesis::PartitionMode::kDrop, false},
                                           NetCase{nemesis::PartitionMode::kReject, false},
                                           NetCase{nemesis::PartitionMode::kNewOnly, false},
                                           NetCase{nemesis::PartitionMode::kDrop, true},
                                           NetCase{nemesis::PartitionMode::kNewOnly, true}),
                         [](const ::testing::TestParamInfo<NetCase>& p) {
                           std::string name = p.param.mode == nemesis::PartitionMode::kDrop ? "Drop"
                                              : p.param.mode == nemesis::PartitionMode::kReject
                                                  ? "Reject"
                                                  : "NewOnly";
                           return name +
                                  (p.param.persistent_shell ? "PersistentShell" : "Multiplexed");
                         });

}  // namespace
}  // namespace faultline::cluster
