// Benchmarks of the immutable log: append throughput and caller latency with 1, 4 and 16 writer
// threads under each fsync policy, and verification throughput on a large generated log.
//
// Run from a Release build, e.g.:
//   cmake --build build/release --target history_log_bench
//   build/release/history/history_log_bench
// FAULTLINE_BENCH_LOG_MB=1024 adds a verification of a 1 GB log (written to the temp dir first).
#include <benchmark/benchmark.h>
#include <stdlib.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "history/audit.h"
#include "history/crypto.h"
#include "history/log.h"

namespace faultline::history {
namespace {

class BenchDir {
 public:
  BenchDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "faultline-log-bench-XXXXXX");
    if (mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~BenchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

const PrivateKey& BenchKey() {
  // Benchmarks use a fresh key each run: signatures cost the same whatever the key.
  static const PrivateKey key = *PrivateKey::Generate();
  return key;
}

// A typical completed cas op of a register workload.
Op BenchOp(int64_t process, int64_t i) {
  return Op{.index = -1,
            .time_ns = -1,
            .type = i % 2 == 0 ? OpType::kInvoke : OpType::kOk,
            .process = Process::Client(process),
            .f = "cas",
            .key = std::nullopt,
            .value = Value::Vector({Value::Int(i % 5), Value::Int((i + 1) % 5)}),
            .error = std::nullopt,
            .extras = {}};
}

int64_t CpuNs(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

double Percentile(std::vector<int64_t>& v, double p) {
  if (v.empty()) return 0;
  size_t k = static_cast<size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return static_cast<double>(v[k]);
}

// Args: threads, fsync policy (0 every record, 1 every 10 ms, 2 never), ops per thread.
// Time: from the first Append to the end of Close (seal written and fsynced), so the writer
// thread has to keep up; latency: each Append call as its caller sees it, serialization included.
void BM_LogAppend(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  const auto policy = static_cast<FsyncPolicy>(state.range(1));
  const int64_t per_thread = state.range(2);
  std::vector<int64_t> all_latencies;
  int64_t total_ops = 0;
  int64_t bytes = 0;
  int64_t callers_cpu_ns = 0;
  int64_t writer_cpu_ns = 0;
  for (auto _ : state) {
    BenchDir dir;
    LogOptions options;
    options.fsync = policy;
    options.fsync_interval = std::chrono::milliseconds(10);
    options.signing_key = BenchKey();
    options.meta = R"({"faultline":{"bench":"append"}})";
    auto writer = LogWriter::Create(dir.File("bench.log"), options);
    if (!writer) {
      state.SkipWithError(writer.error().message().c_str());
      return;
    }
    std::vector<std::vector<int64_t>> latencies(static_cast<size_t>(threads));
    std::vector<int64_t> caller_cpu(static_cast<size_t>(threads), 0);
    std::vector<std::thread> workers;
    int64_t cpu_before = CpuNs(CLOCK_PROCESS_CPUTIME_ID);
    auto start = std::chrono::steady_clock::now();
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        int64_t my_cpu = CpuNs(CLOCK_THREAD_CPUTIME_ID);
        std::vector<int64_t>& lat = latencies[static_cast<size_t>(t)];
        lat.reserve(static_cast<size_t>(per_thread));
        for (int64_t i = 0; i < per_thread; ++i) {
          Op op = BenchOp(t, i);
          int64_t before = MonotonicNowNs();
          Status s = (*writer)->Append(op);
          lat.push_back(MonotonicNowNs() - before);
          if (!s) std::abort();
        }
        caller_cpu[static_cast<size_t>(t)] = CpuNs(CLOCK_THREAD_CPUTIME_ID) - my_cpu;
      });
    }
    for (auto& w : workers) w.join();
    auto summary = (*writer)->Close();
    auto end = std::chrono::steady_clock::now();
    int64_t cpu = CpuNs(CLOCK_PROCESS_CPUTIME_ID) - cpu_before;
    for (int64_t c : caller_cpu) {
      callers_cpu_ns += c;
      cpu -= c;
    }
    writer_cpu_ns += cpu;
    if (!summary) {
      state.SkipWithError(summary.error().message().c_str());
      return;
    }
    state.SetIterationTime(std::chrono::duration<double>(end - start).count());
    bytes += static_cast<int64_t>(std::filesystem::file_size(dir.File("bench.log")));
    for (auto& l : latencies) all_latencies.insert(all_latencies.end(), l.begin(), l.end());
    total_ops += threads * per_thread;
  }
  state.SetItemsProcessed(total_ops);
  state.SetBytesProcessed(bytes);
  state.counters["p50_us"] = Percentile(all_latencies, 0.50) / 1000.0;
  state.counters["p99_us"] = Percentile(all_latencies, 0.99) / 1000.0;
  state.counters["p999_us"] = Percentile(all_latencies, 0.999) / 1000.0;
  // CPU per op, independent of how busy the machine is: in the calling threads (serialization and
  // enqueue) and in the rest of the process (the writer thread: hashing, framing, write, fsync).
  state.counters["caller_cpu_ns_per_op"] =
      static_cast<double>(callers_cpu_ns) / static_cast<double>(total_ops);
  state.counters["writer_cpu_ns_per_op"] =
      static_cast<double>(writer_cpu_ns) / static_cast<double>(total_ops);
  state.SetLabel(std::string(FsyncPolicyName(policy)) + ", " + std::to_string(threads) +
                 " threads");
}

void AppendArgs(benchmark::internal::Benchmark* b) {
  for (int threads : {1, 4, 16}) {
    b->Args({threads, static_cast<int>(FsyncPolicy::kNever), 2'000'000 / threads});
    b->Args({threads, static_cast<int>(FsyncPolicy::kInterval), 2'000'000 / threads});
    b->Args({threads, static_cast<int>(FsyncPolicy::kEveryRecord), 4'000 / threads});
  }
}
BENCHMARK(BM_LogAppend)
    ->Apply(AppendArgs)
    ->UseManualTime()
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond);

// A signed, sealed log of about `mb` megabytes in the temp dir, made once per size.
struct GeneratedLog {
  std::unique_ptr<BenchDir> dir;
  std::string path;
  int64_t records = 0;
};

const GeneratedLog& LogOfSize(int64_t mb) {
  // Destroyed at exit, which removes the files.
  static std::map<int64_t, GeneratedLog> logs;
  auto it = logs.find(mb);
  if (it != logs.end()) return it->second;
  GeneratedLog g;
  g.dir = std::make_unique<BenchDir>();
  g.path = g.dir->File("verify.log");
  LogOptions options;
  options.fsync = FsyncPolicy::kNever;
  options.signing_key = BenchKey();
  options.meta = R"({"faultline":{"bench":"verify"}})";
  auto writer = LogWriter::Create(g.path, options);
  if (!writer) std::abort();
  // ~165 bytes per record.
  const int64_t ops = mb * 1'000'000 / 165;
  for (int64_t i = 0; i < ops; ++i) {
    if (!(*writer)->Append(BenchOp(i % 16, i))) std::abort();
  }
  auto summary = (*writer)->Close();
  if (!summary) std::abort();
  g.records = summary->records;
  return logs.emplace(mb, std::move(g)).first->second;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Verification of a log already in memory, with the public key (every signature checked).
void BM_VerifyLogInMemory(benchmark::State& state) {
  const GeneratedLog& log = LogOfSize(state.range(0));
  std::string content = ReadAll(log.path);
  VerifyOptions options;
  options.key = BenchKey().public_key();
  for (auto _ : state) {
    AuditReport r = VerifyLog(content, options);
    if (r.status != AuditStatus::kIntact) state.SkipWithError(r.message.c_str());
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(content.size()));
  state.SetItemsProcessed(state.iterations() * log.records);
  state.counters["MB_per_s"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * static_cast<double>(content.size()) / 1e6,
      benchmark::Counter::kIsRate);
}
BENCHMARK(BM_VerifyLogInMemory)->Arg(200)->Unit(benchmark::kMillisecond)->MinTime(2.0);

// `faultline audit verify LOG --key KEY`: the file mapped from the (warm) page cache.
void BM_VerifyLogFile(benchmark::State& state) {
  const GeneratedLog& log = LogOfSize(state.range(0));
  auto size = static_cast<int64_t>(std::filesystem::file_size(log.path));
  VerifyOptions options;
  options.key = BenchKey().public_key();
  for (auto _ : state) {
    AuditReport r = VerifyLogFile(log.path, options);
    if (r.status != AuditStatus::kIntact) state.SkipWithError(r.message.c_str());
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(state.iterations() * size);
  state.SetItemsProcessed(state.iterations() * log.records);
  state.counters["MB_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * static_cast<double>(size) / 1e6,
                         benchmark::Counter::kIsRate);
}
BENCHMARK(BM_VerifyLogFile)->Arg(200)->Unit(benchmark::kMillisecond)->MinTime(2.0);

// The 1 GB case from the issue, only on request (it writes 1 GB to the temp dir first).
const int kRegisterLarge = [] {
  const char* mb = std::getenv("FAULTLINE_BENCH_LOG_MB");
  if (mb != nullptr && std::atoi(mb) > 0) {
    benchmark::RegisterBenchmark("BM_VerifyLogFileLarge", BM_VerifyLogFile)
        ->Arg(std::atoi(mb))
        ->Unit(benchmark::kMillisecond)
        ->Iterations(3);
  }
  return 0;
}();

}  // namespace
}  // namespace faultline::history
