// What a proxy with no toxic costs: keep-alive HTTP requests to a loopback server, direct and
// through one proxy, side by side in the same process (issue 13 §1: added p50 <= 50 µs,
// throughput through the proxy >= 70% of direct). Run from the release preset:
//   build/release/nemesis/nemesis_proxy_bench --benchmark_min_time=1
// BM_SideBySide alternates a direct and a proxied request on two open connections and reports
// p50 of each, the added p50 and the throughput ratio (direct time / proxied time; one request
// at a time, so really a latency ratio) as counters; BM_Direct / BM_Proxied give
// items_per_second per client thread count (run one after the other, not side by side: on a
// loaded machine their ratio says little). BM_ConcurrentSideBySide
// is the throughput under concurrent load: N keep-alive connections, each driven by its own
// thread, in rotating 25 ms phases direct, through the proxy and through a bare relay (40 of
// each, so load from elsewhere on the machine falls on all alike; the threads are started
// before a phase's clock starts). throughput_ratio = proxied / direct requests/s.
//
// Client, server and proxy share this machine's cores, so when they saturate them the throughput
// ratio is the ratio of CPU spent per request: cpu_ratio = direct / proxied CPU µs per request
// (the whole process: client threads, server and proxy; less sensitive to other processes than
// the wall-clock ratio). The bare relay (one epoll thread, one recv and one send per chunk and
// nothing else: the fewest system calls an event-loop TCP relay makes) shows the floor:
// relay_ratio = relay / direct requests/s, relay_cpu_ratio alike. No proxy that copies
// the bytes through user space can do much better; against a server that does almost nothing
// per request it sits near 1/2 because each request then crosses loopback TCP twice as often
// (4 sends and 4 receives instead of 2 and 2, and twice the wake-ups): the default server here
// costs, with its client, about as much CPU per request as any relay does. Against a server that
// works for its replies (FAULTLINE_PROXY_BENCH_UPSTREAM below, e.g. a local etcd) the ratios are
// those a campaign or FIT run sees.
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <latch>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "nemesis/proxy.h"
#include "nemesis/testing/loopback_http.h"

namespace faultline::nemesis {
namespace {

namespace asio = boost::asio;
using testing::BlockingClient;
using testing::LoopbackServer;

// The floor of a user-space relay: one thread, a level-triggered epoll set, and per readable
// socket one recv and one blocking send of what came to its peer. No parsing, no toxics, no
// buffering, no timers: the fewest system calls and wake-ups an event-loop relay can make.
class BareRelay {
 public:
  explicit BareRelay(std::uint16_t upstream) : upstream_(upstream) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address = Loopback(0);
    socklen_t length = sizeof address;
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listener_, 128) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      return;
    }
    port_ = ntohs(address.sin_port);
    epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
    stop_ = ::eventfd(0, EFD_CLOEXEC);
    Watch(listener_);
    Watch(stop_);
    thread_ = std::thread([this] { Loop(); });
  }
  ~BareRelay() {
    if (thread_.joinable()) {
      const std::uint64_t one = 1;
      [[maybe_unused]] ssize_t n = ::write(stop_, &one, sizeof one);
      thread_.join();
    }
    for (const auto& [fd, peer] : peers_) ::close(fd);
    for (int fd : {listener_, epoll_, stop_}) {
      if (fd >= 0) ::close(fd);
    }
  }
  BareRelay(const BareRelay&) = delete;
  BareRelay& operator=(const BareRelay&) = delete;

  std::uint16_t port() const { return port_; }

 private:
  static sockaddr_in Loopback(std::uint16_t port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return address;
  }
  void Watch(int fd) {
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.fd = fd;
    ::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &event);
  }
  void Drop(int fd) {
    auto it = peers_.find(fd);
    if (it == peers_.end()) return;
    const int peer = it->second;
    for (int s : {fd, peer}) {
      ::epoll_ctl(epoll_, EPOLL_CTL_DEL, s, nullptr);
      ::close(s);
      peers_.erase(s);
    }
  }
  void Accept() {
    const int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) return;
    const int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address = Loopback(upstream_);
    if (::connect(server, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      ::close(client);
      ::close(server);
      return;
    }
    const int one = 1;
    ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    peers_[client] = server;
    peers_[server] = client;
    Watch(client);
    Watch(server);
  }
  void Loop() {
    std::array<char, 16384> buffer;
    std::array<epoll_event, 64> events;
    for (;;) {
      const int n = ::epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), -1);
      for (int i = 0; i < n; ++i) {
        const int fd = events[static_cast<std::size_t>(i)].data.fd;
        if (fd == stop_) return;
        if (fd == listener_) {
          Accept();
          continue;
        }
        auto it = peers_.find(fd);
        if (it == peers_.end()) continue;
        const ssize_t got = ::recv(fd, buffer.data(), buffer.size(), MSG_DONTWAIT);
        if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
          Drop(fd);
          continue;
        }
        // The peer is blocking: the send returns once all is queued (replies here are small).
        if (got > 0 &&
            ::send(it->second, buffer.data(), static_cast<std::size_t>(got), MSG_NOSIGNAL) != got) {
          Drop(fd);
        }
      }
    }
  }

  std::uint16_t upstream_;
  int listener_ = -1;
  int epoll_ = -1;
  int stop_ = -1;
  std::uint16_t port_ = 0;
  std::map<int, int> peers_;  // socket -> the other end of its connection
  std::thread thread_;
};

// The server: the loopback one in this process, or another HTTP server on 127.0.0.1 named by
// FAULTLINE_PROXY_BENCH_UPSTREAM=PORT (e.g. an etcd, to weigh the proxy against a real one),
// asked FAULTLINE_PROXY_BENCH_PATH (GET; default /bench). FAULTLINE_PROXY_BENCH_UPSTREAM_PID
// names that server's process, so its CPU time counts in the CPU per request.
const char* Env(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

struct Fixture {
  LoopbackServer server{LoopbackServer::Mode::kHttp};
  std::uint16_t upstream_port = static_cast<std::uint16_t>(
      std::atoi(Env("FAULTLINE_PROXY_BENCH_UPSTREAM", std::to_string(server.port()).c_str())));
  std::string path = Env("FAULTLINE_PROXY_BENCH_PATH", "/bench");
  int upstream_pid = std::atoi(Env("FAULTLINE_PROXY_BENCH_UPSTREAM_PID", "0"));
  ProxyServer proxies{ProxyServer::Options{.seed = 1}};
  BareRelay relay{upstream_port};
  std::uint16_t proxy_port = 0;

  Fixture() {
    auto info =
        proxies.CreateProxy(ProxyConfig{.name = "bench",
                                        .listen = "127.0.0.1:0",
                                        .upstream = "127.0.0.1:" + std::to_string(upstream_port)});
    if (info) {
      const std::string& listen = info->config.listen;
      proxy_port = static_cast<std::uint16_t>(std::stoi(listen.substr(listen.rfind(':') + 1)));
    }
  }
};

Fixture& Shared() {
  static Fixture fixture;
  return fixture;
}

double Percentile(std::vector<double>& values, double q) {
  if (values.empty()) return 0;
  auto at =
      values.begin() + static_cast<std::ptrdiff_t>(q * static_cast<double>(values.size() - 1));
  std::nth_element(values.begin(), at, values.end());
  return *at;
}

// One request; its latency in µs, or a skipped run on failure.
bool Timed(benchmark::State& state, BlockingClient& client, std::vector<double>& latencies_us) {
  const auto start = std::chrono::steady_clock::now();
  auto reply = client.Request("GET", Shared().path);
  const auto took = std::chrono::steady_clock::now() - start;
  if (reply.status != 200) {
    state.SkipWithError(("request failed: " + reply.error).c_str());
    return false;
  }
  latencies_us.push_back(std::chrono::duration<double, std::micro>(took).count());
  return true;
}

void BM_SideBySide(benchmark::State& state) {
  Fixture& f = Shared();
  if (f.proxy_port == 0) {
    state.SkipWithError("proxy did not start");
    return;
  }
  BlockingClient direct(f.upstream_port);
  BlockingClient proxied(f.proxy_port);
  std::vector<double> direct_us, proxied_us;
  for (auto _ : state) {
    if (!Timed(state, direct, direct_us) || !Timed(state, proxied, proxied_us)) break;
  }
  double direct_total = 0, proxied_total = 0;
  for (double v : direct_us) direct_total += v;
  for (double v : proxied_us) proxied_total += v;
  const double direct_p50 = Percentile(direct_us, 0.5);
  const double proxied_p50 = Percentile(proxied_us, 0.5);
  state.counters["direct_p50_us"] = direct_p50;
  state.counters["proxied_p50_us"] = proxied_p50;
  state.counters["added_p50_us"] = proxied_p50 - direct_p50;
  state.counters["direct_p99_us"] = Percentile(direct_us, 0.99);
  state.counters["proxied_p99_us"] = Percentile(proxied_us, 0.99);
  state.counters["throughput_ratio"] = proxied_total > 0 ? direct_total / proxied_total : 0;
  state.SetItemsProcessed(static_cast<std::int64_t>(direct_us.size() + proxied_us.size()));
}
BENCHMARK(BM_SideBySide)->UseRealTime();

// CPU time (user + system) of the whole process so far, in seconds.
double ProcessCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) * 1e-6;
  };
  double total = seconds(usage.ru_utime) + seconds(usage.ru_stime);
  // And the external server's (fields 14 and 15 of /proc/PID/stat: utime, stime in ticks).
  if (const int pid = Shared().upstream_pid; pid > 0) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::istringstream fields(stat.substr(stat.rfind(')') + 2));
    std::string field;
    double ticks = 0;
    for (int i = 3; i <= 15 && fields >> field; ++i) {
      if (i >= 14) ticks += std::stod(field);
    }
    total += ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
  }
  return total;
}

void BM_ConcurrentSideBySide(benchmark::State& state) {
  Fixture& f = Shared();
  if (f.proxy_port == 0) {
    state.SkipWithError("proxy did not start");
    return;
  }
  constexpr int kWays = 3;  // direct, through the proxy, through the bare relay
  const std::uint16_t ports[kWays] = {f.upstream_port, f.proxy_port, f.relay.port()};
  const auto connections = static_cast<std::size_t>(state.range(0));
  std::vector<std::unique_ptr<BlockingClient>> clients[kWays];
  for (int way = 0; way < kWays; ++way) {
    for (std::size_t i = 0; i < connections; ++i) {
      clients[way].push_back(std::make_unique<BlockingClient>(ports[way]));
    }
  }
  double seconds[kWays] = {0, 0, 0};
  double cpu[kWays] = {0, 0, 0};
  std::int64_t requests[kWays] = {0, 0, 0};
  bool failed = false;
  for (auto _ : state) {
    for (int round = 0; round < 40 && !failed; ++round) {
      for (int way = 0; way < kWays; ++way) {
        std::atomic<bool> stop{false};
        std::atomic<std::int64_t> done{0};
        std::atomic<bool> error{false};
        std::latch ready(static_cast<std::ptrdiff_t>(connections));
        std::latch go(1);
        std::vector<std::thread> threads;
        for (std::size_t i = 0; i < connections; ++i) {
          threads.emplace_back([&, i] {
            ready.count_down();
            go.wait();
            while (!stop.load(std::memory_order_relaxed)) {
              if (clients[way][i]->Request("GET", f.path).status != 200) {
                error = true;
                return;
              }
              done.fetch_add(1, std::memory_order_relaxed);
            }
          });
        }
        ready.wait();
        const double cpu_start = ProcessCpuSeconds();
        const auto start = std::chrono::steady_clock::now();
        go.count_down();
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
        stop = true;
        const std::int64_t phase_done = done.load();
        const auto end = std::chrono::steady_clock::now();
        const double cpu_end = ProcessCpuSeconds();
        for (auto& t : threads) t.join();
        seconds[way] += std::chrono::duration<double>(end - start).count();
        cpu[way] += cpu_end - cpu_start;
        requests[way] += phase_done;
        failed = failed || error.load();
      }
    }
  }
  if (failed) {
    state.SkipWithError("a request failed");
    return;
  }
  auto rps = [&](int way) { return static_cast<double>(requests[way]) / seconds[way]; };
  auto cpu_us = [&](int way) { return cpu[way] * 1e6 / static_cast<double>(requests[way]); };
  state.counters["direct_rps"] = rps(0);
  state.counters["proxied_rps"] = rps(1);
  state.counters["throughput_ratio"] = rps(1) / rps(0);
  state.counters["direct_cpu_us"] = cpu_us(0);
  state.counters["proxied_cpu_us"] = cpu_us(1);
  state.counters["cpu_ratio"] = cpu_us(0) / cpu_us(1);
  state.counters["relay_ratio"] = rps(2) / rps(0);
  state.counters["relay_cpu_ratio"] = cpu_us(0) / cpu_us(2);
}
BENCHMARK(BM_ConcurrentSideBySide)->Arg(1)->Arg(4)->Arg(16)->Iterations(1)->UseRealTime();

void Run(benchmark::State& state, bool through_proxy) {
  Fixture& f = Shared();
  BlockingClient client(through_proxy ? f.proxy_port : f.upstream_port);
  std::vector<double> latencies_us;
  for (auto _ : state) {
    if (!Timed(state, client, latencies_us)) break;
  }
  state.counters["p50_us"] =
      benchmark::Counter(Percentile(latencies_us, 0.5), benchmark::Counter::kAvgThreads);
  state.SetItemsProcessed(static_cast<std::int64_t>(latencies_us.size()));
}

void BM_Direct(benchmark::State& state) { Run(state, false); }
void BM_Proxied(benchmark::State& state) { Run(state, true); }
BENCHMARK(BM_Direct)->UseRealTime()->Threads(1)->Threads(4);
BENCHMARK(BM_Proxied)->UseRealTime()->Threads(1)->Threads(4);

}  // namespace
}  // namespace faultline::nemesis
