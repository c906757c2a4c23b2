// faultline-nemesis-helper: the nemesis's out-of-process helpers.
//
//   delay     --delay-ms D --jitter-ms J --queue Q --seed S --tag T --netns PATH...
//             Binds NFQUEUE queue Q in each namespace (one socket per namespace, opened after
//             setns, so one process serves every node), holds each packet D ± J ms, then accepts
//             it. Queues are fail-open (a full queue passes packets) and the rules that feed them
//             use --queue-bypass (no listener = packets pass), so ending this process heals the
//             delay even if the rules stay. On SIGTERM it accepts what it holds, then exits.
//   disk      --dir DIR --socket SOCK
//             The faulty filesystem (nemesis/disk.h) mounted over DIR, controlled through SOCK
//             (nemesis/disk_server.cc). Exits when the mount goes.
//   watchdog  --ledger PATH --id N --at-unix-ms T
//             Waits until T, then heals every open ledger entry whose deadline has passed, even if
//             the process that applied it hangs or died. Exits early once entry N is closed.
//
// All write "ready" on stdout once started (SpawnHelper waits for it), or an error line.
// The tag only makes the command line unique, so a heal can find a helper the ledger has no PID
// for (a crash between spawn and the ledger amend).
#include <arpa/inet.h>  // must precede <linux/netfilter.h> (PLATFORM.md §6)
#include <fcntl.h>
#include <linux/netfilter.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <queue>
#include <random>
#include <string>
#include <thread>
#include <vector>

extern "C" {
#include <libnetfilter_queue/libnetfilter_queue.h>
}

#include "nemesis/internal/disk_server.h"
#include "nemesis/internal/heal.h"
#include "nemesis/ledger.h"

namespace {

volatile std::sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

void Say(const std::string& line) {
  std::string l = line + "\n";
  (void)!::write(1, l.data(), l.size());
}

// Tells the spawner we are up. If it is gone (killed before reading), nobody may have recorded
// our PID, so we end rather than linger.
void SayReady() {
  const std::string line = "ready\n";
  if (::write(1, line.data(), line.size()) != static_cast<ssize_t>(line.size())) std::_Exit(1);
}

// After "ready", stdout is the spawner's pipe: close it so the spawner's read ends.
void DetachStdout() {
  const int fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (fd >= 0) {
    ::dup2(fd, 1);
    ::close(fd);
  }
}

using Clock = std::chrono::steady_clock;

struct Held {
  Clock::time_point release;
  nfq_q_handle* queue;
  std::uint32_t id;
  bool operator>(const Held& o) const { return release > o.release; }
};

struct DelayState {
  std::priority_queue<Held, std::vector<Held>, std::greater<>> held;
  std::mt19937_64 rng;
  long delay_ms = 0;
  long jitter_ms = 0;
};

int OnPacket(nfq_q_handle* qh, nfgenmsg*, nfq_data* nfa, void* data) {
  auto* state = static_cast<DelayState*>(data);
  const nfqnl_msg_packet_hdr* ph = nfq_get_msg_packet_hdr(nfa);
  if (ph == nullptr) return 0;
  long ms = state->delay_ms;
  if (state->jitter_ms > 0) {
    std::uniform_int_distribution<long> d(-state->jitter_ms * 1000, state->jitter_ms * 1000);
    const long us = std::max(0L, ms * 1000 + d(state->rng));
    state->held.push({Clock::now() + std::chrono::microseconds(us), qh, ntohl(ph->packet_id)});
    return 0;
  }
  state->held.push({Clock::now() + std::chrono::milliseconds(ms), qh, ntohl(ph->packet_id)});
  return 0;
}

std::string Arg(const std::vector<std::string>& args, const std::string& name,
                const std::string& fallback = "") {
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == name) return args[i + 1];
  }
  return fallback;
}

int RunDelay(const std::vector<std::string>& args) {
  DelayState state;
  state.delay_ms = std::atol(Arg(args, "--delay-ms", "0").c_str());
  state.jitter_ms = std::atol(Arg(args, "--jitter-ms", "0").c_str());
  state.rng.seed(std::strtoull(Arg(args, "--seed", "1").c_str(), nullptr, 10));
  const int queue_num = std::atoi(Arg(args, "--queue", "0").c_str());
  std::vector<std::string> netns;
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == "--netns") netns.push_back(args[i + 1]);
  }
  if (netns.empty()) {
    Say("delay helper: no --netns given");
    return 2;
  }
  const int home = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  struct Bound {
    nfq_handle* h;
    nfq_q_handle* q;
    int fd;
  };
  std::vector<Bound> bound;
  for (const auto& path : netns) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) {
      Say("delay helper: enter " + path + ": " + std::strerror(errno));
      return 1;
    }
    ::close(fd);
    nfq_handle* h = nfq_open();
    if (h == nullptr) {
      Say("delay helper: nfq_open in " + path + ": " + std::strerror(errno));
      return 1;
    }
    nfq_q_handle* q = nfq_create_queue(h, static_cast<std::uint16_t>(queue_num), &OnPacket, &state);
    if (q == nullptr) {
      Say("delay helper: bind NFQUEUE " + std::to_string(queue_num) + " in " + path + ": " +
          std::strerror(errno) + " (another listener holds it?)");
      return 1;
    }
    nfq_set_mode(q, NFQNL_COPY_META, 0);
    nfq_set_queue_maxlen(q, 65536);
    // A full queue passes packets instead of dropping them: a delay fault must not become loss.
    nfq_set_queue_flags(q, NFQA_CFG_F_FAIL_OPEN, NFQA_CFG_F_FAIL_OPEN);
    nfnl_rcvbufsiz(nfq_nfnlh(h), 8 << 20);
    const int one = 1;
    ::setsockopt(nfq_fd(h), SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof(one));
    ::fcntl(nfq_fd(h), F_SETFL, ::fcntl(nfq_fd(h), F_GETFL) | O_NONBLOCK);
    bound.push_back({h, q, nfq_fd(h)});
  }
  if (home >= 0) {
    (void)::setns(home, CLONE_NEWNET);
    ::close(home);
  }
  SayReady();
  DetachStdout();
  std::vector<char> buf(256 * 1024);
  while (g_stop == 0) {
    int timeout = 1000;
    if (!state.held.empty()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          state.held.top().release - Clock::now());
      timeout = static_cast<int>(std::max<long>(0, left.count()));
    }
    std::vector<pollfd> fds;
    for (const auto& b : bound) fds.push_back({b.fd, POLLIN, 0});
    const int rc = ::poll(fds.data(), fds.size(), timeout);
    if (rc > 0) {
      for (size_t i = 0; i < bound.size(); ++i) {
        if (fds[i].revents == 0) continue;
        while (true) {
          const ssize_t n = ::recv(bound[i].fd, buf.data(), buf.size(), MSG_DONTWAIT);
          if (n <= 0) break;
          nfq_handle_packet(bound[i].h, buf.data(), static_cast<int>(n));
        }
      }
    }
    const auto now = Clock::now();
    while (!state.held.empty() && state.held.top().release <= now) {
      const Held h = state.held.top();
      state.held.pop();
      nfq_set_verdict(h.queue, h.id, NF_ACCEPT, 0, nullptr);
    }
  }
  // Let go of what we hold rather than have the kernel drop it with the queue.
  while (!state.held.empty()) {
    const Held h = state.held.top();
    state.held.pop();
    nfq_set_verdict(h.queue, h.id, NF_ACCEPT, 0, nullptr);
  }
  for (auto& b : bound) {
    nfq_destroy_queue(b.q);
    nfq_close(b.h);
  }
  return 0;
}

int RunWatchdog(const std::vector<std::string>& args) {
  using faultline::nemesis::Ledger;
  using faultline::nemesis::LedgerEntry;
  const std::string path = Arg(args, "--ledger");
  const std::uint64_t id = std::strtoull(Arg(args, "--id", "0").c_str(), nullptr, 10);
  const std::int64_t at = std::strtoll(Arg(args, "--at-unix-ms", "0").c_str(), nullptr, 10);
  auto ledger = Ledger::Open(path);
  if (!ledger) {
    Say("watchdog: " + ledger.error().message());
    return 1;
  }
  SayReady();
  DetachStdout();
  auto still_open = [&]() {
    auto state = ledger->Read();
    if (!state) return true;  // cannot tell: keep guarding
    for (const auto& e : state->open) {
      if (e.id == id) return true;
    }
    return false;
  };
  while (g_stop == 0 && faultline::nemesis::UnixMillis() < at) {
    if (!still_open()) return 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  if (g_stop != 0 || !still_open()) return 0;
  std::vector<std::unique_ptr<faultline::nemesis::Net>> keep;
  const auto now = faultline::nemesis::UnixMillis();
  const auto report = faultline::nemesis::internal::HealEntries(
      *ledger, nullptr, faultline::nemesis::internal::FreshNets(keep),
      [now](const LedgerEntry& e) { return e.deadline_unix_ms != 0 && e.deadline_unix_ms <= now; });
  std::fprintf(stderr, "%s\n", report.Describe().c_str());
  return report.ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  if (!args.empty() && args[0] == "delay") return RunDelay(args);
  if (!args.empty() && args[0] == "watchdog") return RunWatchdog(args);
  if (!args.empty() && args[0] == "disk") {
    // libfuse installs its own SIGTERM/SIGINT handlers (which end its loop) only over SIG_DFL.
    ::signal(SIGTERM, SIG_DFL);
    ::signal(SIGINT, SIG_DFL);
    return faultline::nemesis::internal::RunDiskServer(args, [] {
      SayReady();
      DetachStdout();
    });
  }
  Say("usage: faultline-nemesis-helper delay|watchdog|disk ... (started by the nemesis, not by "
      "hand)");
  return 2;
}
