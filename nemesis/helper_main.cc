// faultline-nemesis-helper: the nemesis's out-of-process helpers.
//
//   delay     --delay-ms D --jitter-ms J --queue Q --seed S --counts FILE --tag T --netns PATH...
//             Binds NFQUEUE queue Q in each namespace (one socket per namespace, opened after
//             setns, so one process serves every node), holds each packet D ± J ms, then accepts
//             it. Queues are fail-open (a full queue passes packets) and the rules that feed them
//             use --queue-bypass (no listener = packets pass), so ending this process heals the
//             delay even if the rules stay. On SIGTERM it accepts what it holds, then exits.
//   reorder | duplicate | packet-corrupt  --share P [--delay-ms D --jitter-ms J] and the above
//             The same queues; a share P of the packets is held D ± J ms while the rest pass
//             (reorder), sent twice (duplicate: the copy through a raw socket with SO_MARK
//             kDuplicateMark) or has a payload bit flipped (nemesis/packet_mangle.h).
//   Every queue mode writes its counts ("packets_seen", "packets_reordered", ...) to FILE at
//   most once a second and on exit (write + rename); the heal that ends it reads them.
//   disk      --dir DIR --socket SOCK
//             The faulty filesystem (nemesis/disk.h) mounted over DIR, controlled through SOCK
//             (nemesis/disk_server.cc). Exits when the mount goes.
//   watchdog  --ledger PATH --id N --at-unix-ms T
//             Waits until T, then heals every open ledger entry whose deadline has passed, even if
//             the process that applied it hangs or died. Exits early once entry N is closed.
//   clock-strobe --offset-ms D --period-ms P --tag T --file PATH...
//             Rewrites each libfaketime timestamp file (nemesis/clock.h) every P ms, alternating
//             between the offset D and +0, until SIGTERM; then writes +0 into every file.
//   udp-probe recv --address A --port P --count N --wait-ms W
//   udp-probe send --address A --port P --count N --spacing-us U --wait-ms W
//             The datagram probe for the packet manglings (nemesis/packet_mangle.h ProbeDatagram),
//             run in two nodes through their NodeControl (nemesis/mangle_probe.h). recv binds A:P,
//             answers each "hello" with "hello", and reads until 500 ms pass without a numbered
//             datagram (or W ms without the first), then prints TallyProbe's counts. send says
//             "hello" every 50 ms until one comes back (at most W ms: exit 1), then sends N
//             numbered datagrams U µs apart and prints "probe_sent N".
//
// All but udp-probe write "ready" on stdout once started (SpawnHelper waits for it), or an error
// line. The tag only makes the command line unique, so a heal can find a helper the ledger has no
// PID for (a crash between spawn and the ledger amend).
#include <arpa/inet.h>  // must precede <linux/netfilter.h> (PLATFORM.md §6)
#include <fcntl.h>
#include <fmt/format.h>
#include <linux/netfilter.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <queue>
#include <random>
#include <string>
#include <thread>
#include <vector>

extern "C" {
#include <libnetfilter_queue/libnetfilter_queue.h>
}

#include "nemesis/clock.h"
#include "nemesis/internal/disk_server.h"
#include "nemesis/internal/heal.h"
#include "nemesis/ledger.h"
#include "nemesis/packet_mangle.h"

namespace {

volatile std::sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

// Writes one line to the spawner; false if it is gone (SIGPIPE is ignored, so the write fails
// with EPIPE). "ready" says the helper is up (before it, "starting" says it runs, and nothing
// more: SpawnHelper skips it).
bool Say(const std::string& line) {
  const std::string l = line + "\n";
  return ::write(1, l.data(), l.size()) == static_cast<ssize_t>(l.size());
}

// Tells the spawner we are up. If it is gone (killed before reading: nobody may have recorded our
// PID), we end rather than linger.
void SayReady() {
  if (!Say("ready")) std::_Exit(1);
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

enum class Mode { kDelay, kReorder, kDuplicate, kCorrupt };

struct QueueState {
  Mode mode = Mode::kDelay;
  std::priority_queue<Held, std::vector<Held>, std::greater<>> held;
  std::mt19937_64 rng;
  long delay_ms = 0;
  long jitter_ms = 0;
  double share = 1.0;
  faultline::nemesis::packet::PacketCounts counts;
  bool counts_changed = false;
  std::vector<std::uint8_t> scratch;
};

// One namespace's queue: the state is shared, the raw socket (duplicates) is the namespace's.
struct NetnsQueue {
  QueueState* state = nullptr;
  int raw = -1;
};

void Count(QueueState& state, const char* key) {
  ++state.counts[key];
  state.counts_changed = true;
}

bool Chosen(QueueState& state) {
  return state.share >= 1.0 ||
         std::uniform_real_distribution<double>(0, 1)(state.rng) < state.share;
}

void Hold(QueueState& state, nfq_q_handle* qh, std::uint32_t id) {
  long us = state.delay_ms * 1000;
  if (state.jitter_ms > 0) {
    std::uniform_int_distribution<long> d(-state.jitter_ms * 1000, state.jitter_ms * 1000);
    us = std::max(0L, us + d(state.rng));
  }
  state.held.push({Clock::now() + std::chrono::microseconds(us), qh, id});
}

int OnPacket(nfq_q_handle* qh, nfgenmsg*, nfq_data* nfa, void* data) {
  auto* q = static_cast<NetnsQueue*>(data);
  QueueState& state = *q->state;
  const nfqnl_msg_packet_hdr* ph = nfq_get_msg_packet_hdr(nfa);
  if (ph == nullptr) return 0;
  const std::uint32_t id = ntohl(ph->packet_id);
  Count(state, "packets_seen");
  switch (state.mode) {
    case Mode::kDelay:
      Hold(state, qh, id);
      return 0;
    case Mode::kReorder:
      if (Chosen(state)) {
        Count(state, "packets_reordered");
        Hold(state, qh, id);
        return 0;
      }
      return nfq_set_verdict(qh, id, NF_ACCEPT, 0, nullptr);
    case Mode::kDuplicate: {
      unsigned char* bytes = nullptr;
      const int len = nfq_get_payload(nfa, &bytes);
      const int rc = nfq_set_verdict(qh, id, NF_ACCEPT, 0, nullptr);
      if (len >= 20 && Chosen(state)) {
        // The copy goes out through the raw socket, marked: the queue rule skips it.
        sockaddr_in to{};
        to.sin_family = AF_INET;
        std::memcpy(&to.sin_addr, bytes + 16, 4);
        if (::sendto(q->raw, bytes, static_cast<size_t>(len), 0, reinterpret_cast<sockaddr*>(&to),
                     sizeof(to)) == len) {
          Count(state, "packets_duplicated");
        } else {
          Count(state, "duplicate_send_errors");
        }
      }
      return rc;
    }
    case Mode::kCorrupt: {
      unsigned char* bytes = nullptr;
      const int len = nfq_get_payload(nfa, &bytes);
      if (len > 0 && Chosen(state)) {
        state.scratch.assign(bytes, bytes + len);
        if (faultline::nemesis::packet::CorruptPayload(state.scratch, state.rng())) {
          Count(state, "packets_corrupted");
          return nfq_set_verdict(qh, id, NF_ACCEPT, static_cast<std::uint32_t>(len),
                                 state.scratch.data());
        }
      }
      return nfq_set_verdict(qh, id, NF_ACCEPT, 0, nullptr);
    }
  }
  return nfq_set_verdict(qh, id, NF_ACCEPT, 0, nullptr);
}

std::string Arg(const std::vector<std::string>& args, const std::string& name,
                const std::string& fallback = "") {
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == name) return args[i + 1];
  }
  return fallback;
}

// Replaces the counts file whole (write, then rename), so a reader never sees half of it.
void WriteCounts(const std::string& path, QueueState& state) {
  if (path.empty()) return;
  const std::string text = faultline::nemesis::packet::FormatPacketCounts(state.counts);
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  if (written) ::rename(tmp.c_str(), path.c_str());
  state.counts_changed = false;
}

int RunQueue(const std::string& mode, const std::vector<std::string>& args) {
  QueueState state;
  state.mode = mode == "reorder"          ? Mode::kReorder
               : mode == "duplicate"      ? Mode::kDuplicate
               : mode == "packet-corrupt" ? Mode::kCorrupt
                                          : Mode::kDelay;
  state.delay_ms = std::atol(Arg(args, "--delay-ms", "0").c_str());
  state.jitter_ms = std::atol(Arg(args, "--jitter-ms", "0").c_str());
  state.share = std::strtod(Arg(args, "--share", "1").c_str(), nullptr);
  state.rng.seed(std::strtoull(Arg(args, "--seed", "1").c_str(), nullptr, 10));
  const std::string counts_path = Arg(args, "--counts");
  const int queue_num = std::atoi(Arg(args, "--queue", "0").c_str());
  // Delay needs only the verdict; the others read (and corrupt rewrites) the whole packet.
  const bool whole = state.mode != Mode::kDelay;
  std::vector<std::string> netns;
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == "--netns") netns.push_back(args[i + 1]);
  }
  if (netns.empty()) {
    Say(mode + " helper: no --netns given");
    return 2;
  }
  const int home = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  struct Bound {
    nfq_handle* h;
    nfq_q_handle* q;
    int fd;
  };
  std::vector<Bound> bound;
  std::vector<std::unique_ptr<NetnsQueue>> contexts;
  for (const auto& path : netns) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) {
      Say(mode + " helper: enter " + path + ": " + std::strerror(errno));
      return 1;
    }
    ::close(fd);
    auto context = std::make_unique<NetnsQueue>();
    context->state = &state;
    if (state.mode == Mode::kDuplicate) {
      // IPPROTO_RAW implies IP_HDRINCL: the copy goes out exactly as queued.
      context->raw = ::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
      const std::uint32_t mark = faultline::nemesis::packet::kDuplicateMark;
      if (context->raw < 0 ||
          ::setsockopt(context->raw, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) != 0) {
        Say(mode + " helper: raw socket with SO_MARK in " + path + ": " + std::strerror(errno) +
            " (needs CAP_NET_RAW and CAP_NET_ADMIN)");
        return 1;
      }
    }
    nfq_handle* h = nfq_open();
    if (h == nullptr) {
      Say(mode + " helper: nfq_open in " + path + ": " + std::strerror(errno));
      return 1;
    }
    nfq_q_handle* q =
        nfq_create_queue(h, static_cast<std::uint16_t>(queue_num), &OnPacket, context.get());
    if (q == nullptr) {
      Say(mode + " helper: bind NFQUEUE " + std::to_string(queue_num) + " in " + path + ": " +
          std::strerror(errno) + " (another listener holds it?)");
      return 1;
    }
    nfq_set_mode(q, whole ? NFQNL_COPY_PACKET : NFQNL_COPY_META, whole ? 0xFFFF : 0);
    nfq_set_queue_maxlen(q, 65536);
    // A full queue passes packets instead of dropping them: a packet fault must not become loss.
    nfq_set_queue_flags(q, NFQA_CFG_F_FAIL_OPEN, NFQA_CFG_F_FAIL_OPEN);
    nfnl_rcvbufsiz(nfq_nfnlh(h), 8 << 20);
    const int one = 1;
    ::setsockopt(nfq_fd(h), SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof(one));
    ::fcntl(nfq_fd(h), F_SETFL, ::fcntl(nfq_fd(h), F_GETFL) | O_NONBLOCK);
    bound.push_back({h, q, nfq_fd(h)});
    contexts.push_back(std::move(context));
  }
  if (home >= 0) {
    (void)::setns(home, CLONE_NEWNET);
    ::close(home);
  }
  WriteCounts(counts_path, state);
  SayReady();
  DetachStdout();
  std::vector<char> buf(256 * 1024);
  auto last_write = Clock::now();
  while (g_stop == 0) {
    int timeout = 1000;
    if (!state.held.empty()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          state.held.top().release - Clock::now());
      timeout = static_cast<int>(std::clamp<long>(left.count(), 0, 1000));
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
    // Counts on disk at most a second old: a SIGKILLed helper still leaves most of them.
    if (state.counts_changed && now - last_write >= std::chrono::seconds(1)) {
      WriteCounts(counts_path, state);
      last_write = now;
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
  for (auto& c : contexts) {
    if (c->raw >= 0) ::close(c->raw);
  }
  WriteCounts(counts_path, state);
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

int RunClockStrobe(const std::vector<std::string>& args) {
  using std::chrono::milliseconds;
  const milliseconds offset(std::strtoll(Arg(args, "--offset-ms", "0").c_str(), nullptr, 10));
  const milliseconds period(std::strtoll(Arg(args, "--period-ms", "0").c_str(), nullptr, 10));
  std::vector<std::string> files;
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == "--file") files.push_back(args[i + 1]);
  }
  if (files.empty() || period.count() <= 0) {
    Say("clock-strobe: needs --file and --period-ms > 0");
    return 1;
  }
  auto write_all = [&](milliseconds value) {
    for (const auto& f : files) (void)faultline::nemesis::WriteFaketimeFile(f, value);
  };
  // The first phase is written before the helper says it is ready, so the fault is in force
  // when ApplyFault returns (a reader right after it saw no file yet). But a heal after a crash
  // of the spawner may come before this process exec'd (it cannot be found by its tag then), so
  // nothing is written before the spawner is known to be there: "starting" fails when it died.
  // One that dies after "starting" is found by the heal, and every way out below writes +0.
  if (!Say("starting")) return 1;
  write_all(offset);
  if (!Say("ready")) {
    write_all(milliseconds(0));
    return 1;
  }
  DetachStdout();
  bool high = true;
  auto next = std::chrono::steady_clock::now() + period;
  while (g_stop == 0) {
    // In short steps, so SIGTERM ends a long period at once.
    while (g_stop == 0 && std::chrono::steady_clock::now() < next) {
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
          next - std::chrono::steady_clock::now(), milliseconds(20)));
    }
    if (g_stop != 0) break;
    next += period;
    high = !high;
    write_all(high ? offset : milliseconds(0));
  }
  write_all(milliseconds(0));
  return 0;
}

int RunUdpProbe(const std::vector<std::string>& args) {
  using std::chrono::milliseconds;
  namespace packet = faultline::nemesis::packet;
  const bool recv = args.size() > 1 && args[1] == "recv";
  const bool send = args.size() > 1 && args[1] == "send";
  const std::string address = Arg(args, "--address");
  const int port = std::atoi(Arg(args, "--port", "0").c_str());
  const int count = std::atoi(Arg(args, "--count", "0").c_str());
  const milliseconds wait(std::strtoll(Arg(args, "--wait-ms", "3000").c_str(), nullptr, 10));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<std::uint16_t>(port));
  if ((!recv && !send) || port <= 0 || port > 65535 || count <= 0 ||
      ::inet_pton(AF_INET, address.c_str(), &sa.sin_addr) != 1) {
    Say("udp-probe: recv|send --address A --port P --count N [--spacing-us U] [--wait-ms W]");
    return 2;
  }
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    Say(std::string("udp-probe: socket: ") + std::strerror(errno));
    return 1;
  }
  const auto* addr = reinterpret_cast<const sockaddr*>(&sa);
  const std::string hello = "hello";
  char buf[512];
  if (recv) {
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    // Room for every datagram even if this process is slow to read (the default holds ~256).
    const int buffer = 8 << 20;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buffer, sizeof(buffer));
    if (::bind(fd, addr, sizeof(sa)) != 0) {
      Say(std::string("udp-probe: bind: ") + std::strerror(errno));
      return 1;
    }
    std::vector<std::string> got;
    const auto give_up = Clock::now() + wait;
    while (g_stop == 0) {
      const bool started = !got.empty();
      const auto now = Clock::now();
      if (!started && now >= give_up) break;
      const int timeout_ms =
          started ? 500
                  : static_cast<int>(
                        std::chrono::duration_cast<milliseconds>(give_up - now).count() + 1);
      pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
      if (::poll(&p, 1, timeout_ms) <= 0) {
        if (started) break;
        continue;
      }
      sockaddr_in from{};
      socklen_t len = sizeof(from);
      const ssize_t n =
          ::recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &len);
      if (n <= 0) continue;
      std::string payload(buf, static_cast<size_t>(n));
      if (payload == hello) {
        (void)!::sendto(fd, hello.data(), hello.size(), 0, reinterpret_cast<sockaddr*>(&from), len);
        continue;
      }
      if (payload.size() == packet::kProbeDatagramSize) got.push_back(std::move(payload));
    }
    std::string out = packet::FormatPacketCounts(packet::TallyProbe(got, count));
    (void)!::write(1, out.data(), out.size());
    return 0;
  }
  if (::connect(fd, addr, sizeof(sa)) != 0) {
    Say(std::string("udp-probe: connect: ") + std::strerror(errno));
    return 1;
  }
  // The receiver runs in another node and may not be bound yet: hello until it answers.
  bool answered = false;
  for (const auto give_up = Clock::now() + wait; !answered && Clock::now() < give_up;) {
    (void)!::send(fd, hello.data(), hello.size(), 0);
    pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
    if (::poll(&p, 1, 50) > 0) {
      const ssize_t n = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
      answered = n == static_cast<ssize_t>(hello.size()) && hello.compare(0, 5, buf, 5) == 0;
    }
  }
  if (!answered) {
    Say(fmt::format("udp-probe: no answer from {}:{} within {} ms", address, port, wait.count()));
    return 1;
  }
  const std::chrono::microseconds spacing(
      std::strtoll(Arg(args, "--spacing-us", "1000").c_str(), nullptr, 10));
  for (int i = 0; i < count && g_stop == 0; ++i) {
    const std::string d = packet::ProbeDatagram(i);
    (void)!::send(fd, d.data(), d.size(), 0);
    std::this_thread::sleep_for(spacing);
  }
  Say(fmt::format("probe_sent {}", count));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  for (const char* mode : {"delay", "reorder", "duplicate", "packet-corrupt"}) {
    if (!args.empty() && args[0] == mode) return RunQueue(args[0], args);
  }
  if (!args.empty() && args[0] == "watchdog") return RunWatchdog(args);
  if (!args.empty() && args[0] == "clock-strobe") return RunClockStrobe(args);
  if (!args.empty() && args[0] == "udp-probe") return RunUdpProbe(args);
  if (!args.empty() && args[0] == "disk") {
    // libfuse installs its own SIGTERM/SIGINT handlers (which end its loop) only over SIG_DFL.
    ::signal(SIGTERM, SIG_DFL);
    ::signal(SIGINT, SIG_DFL);
    return faultline::nemesis::internal::RunDiskServer(args, [] {
      if (!Say("ready")) return false;
      DetachStdout();
      return true;
    });
  }
  Say("usage: faultline-nemesis-helper delay|reorder|duplicate|packet-corrupt|watchdog|"
      "clock-strobe|disk|udp-probe ... (started by the nemesis, not by hand)");
  return 2;
}
