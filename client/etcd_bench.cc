// The overhead the faultline etcd client adds (issue 5): writes through Client::Invoke against a
// plain Beast keep-alive request loop sending the same bodies to the same single-member etcd on
// 127.0.0.1, in the same process, at concurrency 1 and 10 (one connection per worker, all on one
// io_context thread, as the runner drives them).
//
// Run from the release preset:
//   build/release/client/client_etcd_bench --benchmark_min_time=3
// Counters: items_per_second (ops/s), p50_us and p99_us (per-op latency).
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/redirect_error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <vector>

#include "client/etcd.h"
#include "client/internal/etcd_json.h"
#include "client/testing/local_etcd.h"

namespace faultline::client {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using Clock = std::chrono::steady_clock;

constexpr int kOpsPerIteration = 200;

testing::LocalEtcd& Etcd() {
  static std::unique_ptr<testing::LocalEtcd> etcd = [] {
    auto started = testing::LocalEtcd::Start();
    if (!started) {
      fmt::print(stderr, "cannot start etcd: {}\n", started.error().message());
      std::exit(3);
    }
    return std::move(*started);
  }();
  return *etcd;
}

void Report(benchmark::State& state, std::vector<double>& latencies_us) {
  std::sort(latencies_us.begin(), latencies_us.end());
  auto at = [&](double q) {
    if (latencies_us.empty()) return 0.0;
    return latencies_us[static_cast<std::size_t>(q * static_cast<double>(latencies_us.size() - 1))];
  };
  state.counters["p50_us"] = at(0.50);
  state.counters["p99_us"] = at(0.99);
  state.SetItemsProcessed(static_cast<int64_t>(latencies_us.size()));
}

history::Op Write(int64_t process, int64_t v) {
  return history::Op{.index = -1,
                     .time_ns = -1,
                     .type = history::OpType::kInvoke,
                     .process = history::Process::Client(process),
                     .f = "write",
                     .key = std::nullopt,
                     .value = history::Value::Int(v),
                     .error = std::nullopt,
                     .extras = {}};
}

void BM_FaultlineClientWrite(benchmark::State& state) {
  const int concurrency = static_cast<int>(state.range(0));
  EtcdClientOptions options;
  options.endpoints.push_back(Etcd().endpoint());
  options.key_prefix = "bench/";
  auto factory = MakeEtcdClientFactory(options);
  if (!factory) {
    state.SkipWithError(factory.error().message().c_str());
    return;
  }
  asio::io_context io;
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < concurrency; ++i) {
    auto c = (*factory)->Open(history::Process::Client(i), io);
    if (!c) {
      state.SkipWithError(c.error().message().c_str());
      return;
    }
    clients.push_back(std::move(*c));
  }
  std::vector<double> latencies;
  int64_t failures = 0;
  int64_t value = 0;
  for (auto _ : state) {
    int remaining = kOpsPerIteration;
    for (int i = 0; i < concurrency; ++i) {
      asio::co_spawn(
          io,
          [&, i]() -> asio::awaitable<void> {
            while (remaining > 0) {
              --remaining;
              Completion c =
                  co_await clients[static_cast<std::size_t>(i)]->Invoke(Write(i, ++value));
              if (c.op.type != history::OpType::kOk) ++failures;
              latencies.push_back(std::chrono::duration<double, std::micro>(c.latency).count());
            }
          },
          asio::detached);
    }
    io.restart();
    io.run();
  }
  if (failures > 0) state.SkipWithError(fmt::format("{} writes not ok", failures).c_str());
  Report(state, latencies);
}

// The baseline: one kept-alive Beast connection per worker, the same PUT bodies, no deadline
// timer, no JSON parsing of the reply, no history op.
void BM_PlainBeastWrite(benchmark::State& state) {
  const int concurrency = static_cast<int>(state.range(0));
  const EtcdEndpoint endpoint = Etcd().endpoint();
  const asio::ip::tcp::endpoint target(asio::ip::make_address(endpoint.host), endpoint.port);
  const std::string host = fmt::format("{}:{}", endpoint.host, endpoint.port);
  asio::io_context io;
  struct Worker {
    explicit Worker(asio::io_context& io) : socket(io) {}
    asio::ip::tcp::socket socket;
    boost::beast::flat_buffer buffer;
  };
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < concurrency; ++i) {
    workers.push_back(std::make_unique<Worker>(io));
    boost::system::error_code ec;
    workers.back()->socket.connect(target, ec);
    if (ec) {
      state.SkipWithError(ec.message().c_str());
      return;
    }
    workers.back()->socket.set_option(asio::ip::tcp::no_delay(true));
  }
  std::vector<double> latencies;
  int64_t failures = 0;
  int64_t value = 0;
  for (auto _ : state) {
    int remaining = kOpsPerIteration;
    for (int i = 0; i < concurrency; ++i) {
      asio::co_spawn(
          io,
          [&, i]() -> asio::awaitable<void> {
            Worker& w = *workers[static_cast<std::size_t>(i)];
            while (remaining > 0) {
              --remaining;
              const auto start = Clock::now();
              http::request<http::string_body> req{http::verb::post, "/v3/kv/put", 11};
              req.set(http::field::host, host);
              req.set(http::field::content_type, "application/json");
              req.keep_alive(true);
              req.body() = internal::PutBody("bench/r/default", std::to_string(++value));
              req.prepare_payload();
              boost::system::error_code ec;
              co_await http::async_write(w.socket, req,
                                         asio::redirect_error(asio::use_awaitable, ec));
              http::response<http::string_body> res;
              if (!ec) {
                co_await http::async_read(w.socket, w.buffer, res,
                                          asio::redirect_error(asio::use_awaitable, ec));
              }
              if (ec || res.result_int() != 200) {
                ++failures;
                co_return;
              }
              latencies.push_back(
                  std::chrono::duration<double, std::micro>(Clock::now() - start).count());
            }
          },
          asio::detached);
    }
    io.restart();
    io.run();
  }
  if (failures > 0) state.SkipWithError(fmt::format("{} writes failed", failures).c_str());
  Report(state, latencies);
}

BENCHMARK(BM_FaultlineClientWrite)->Arg(1)->Arg(10)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PlainBeastWrite)->Arg(1)->Arg(10)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace faultline::client
