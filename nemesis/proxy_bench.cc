// What a proxy with no toxic costs: keep-alive HTTP requests to a loopback server, direct and
// through one proxy, side by side in the same process (issue 13 §1: added p50 <= 50 µs,
// throughput through the proxy >= 70% of direct). Run from the release preset:
//   build/release/nemesis/nemesis_proxy_bench --benchmark_min_time=1
// BM_SideBySide alternates a direct and a proxied request on two open connections and reports
// p50 of each, the added p50 and the throughput ratio (direct time / proxied time) as counters;
// BM_Direct / BM_Proxied give items_per_second per client thread count. BM_ConcurrentSideBySide
// is the throughput under concurrent load: N keep-alive connections, each driven by its own
// thread, in alternating 25 ms phases direct and through the proxy (40 of each, so load from
// elsewhere on the machine falls on both alike); throughput_ratio = proxied / direct requests/s.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "nemesis/proxy.h"
#include "nemesis/testing/loopback_http.h"

namespace faultline::nemesis {
namespace {

using testing::BlockingClient;
using testing::LoopbackServer;

struct Fixture {
  LoopbackServer server{LoopbackServer::Mode::kHttp};
  ProxyServer proxies{ProxyServer::Options{.seed = 1}};
  std::uint16_t proxy_port = 0;

  Fixture() {
    auto info = proxies.CreateProxy(
        ProxyConfig{.name = "bench", .listen = "127.0.0.1:0", .upstream = server.address()});
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
  auto reply = client.Request("GET", "/bench");
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
  BlockingClient direct(f.server.port());
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

void BM_ConcurrentSideBySide(benchmark::State& state) {
  Fixture& f = Shared();
  if (f.proxy_port == 0) {
    state.SkipWithError("proxy did not start");
    return;
  }
  const auto connections = static_cast<std::size_t>(state.range(0));
  std::vector<std::unique_ptr<BlockingClient>> clients[2];
  for (std::size_t i = 0; i < connections; ++i) {
    clients[0].push_back(std::make_unique<BlockingClient>(f.server.port()));
    clients[1].push_back(std::make_unique<BlockingClient>(f.proxy_port));
  }
  double seconds[2] = {0, 0};
  std::int64_t requests[2] = {0, 0};
  bool failed = false;
  for (auto _ : state) {
    for (int round = 0; round < 40 && !failed; ++round) {
      for (int through = 0; through < 2; ++through) {
        std::atomic<bool> stop{false};
        std::atomic<std::int64_t> done{0};
        std::atomic<bool> error{false};
        const auto start = std::chrono::steady_clock::now();
        std::vector<std::thread> threads;
        for (std::size_t i = 0; i < connections; ++i) {
          threads.emplace_back([&, i] {
            while (!stop.load(std::memory_order_relaxed)) {
              if (clients[through][i]->Request("GET", "/bench").status != 200) {
                error = true;
                return;
              }
              done.fetch_add(1, std::memory_order_relaxed);
            }
          });
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
        stop = true;
        for (auto& t : threads) t.join();
        seconds[through] +=
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        requests[through] += done.load();
        failed = failed || error.load();
      }
    }
  }
  if (failed) {
    state.SkipWithError("a request failed");
    return;
  }
  const double direct_rps = static_cast<double>(requests[0]) / seconds[0];
  const double proxied_rps = static_cast<double>(requests[1]) / seconds[1];
  state.counters["direct_rps"] = direct_rps;
  state.counters["proxied_rps"] = proxied_rps;
  state.counters["throughput_ratio"] = direct_rps > 0 ? proxied_rps / direct_rps : 0;
}
BENCHMARK(BM_ConcurrentSideBySide)->Arg(1)->Arg(4)->Arg(16)->Iterations(1)->UseRealTime();

void Run(benchmark::State& state, bool through_proxy) {
  Fixture& f = Shared();
  BlockingClient client(through_proxy ? f.proxy_port : f.server.port());
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
