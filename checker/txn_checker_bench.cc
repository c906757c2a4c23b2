// The transactional checker on generated list-append histories, as issue 16 asks: 10 keys live
// at a time (a fresh key replaces the oldest every 10 transactions, so a key gets about 30 appends,
// as in Jepsen's append workload), 4-8 micro-ops per transaction, 5% info, 10 processes, checked
// for strict serializability. Reports transactions per second (items_per_second) and the peak
// resident memory of the process (peak_rss_mb; rss_before_check_mb is the peak before checking,
// reached while generating); check_peak_rss_mb is the resident peak of the check alone, input
// included (VmHWM reset after the generated history is freed), input_rss_mb the input's share.
// Run from the release preset:
//   build/release/checker/checker_txn_checker_bench --benchmark_filter=ListAppend
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <malloc.h>
#include <sys/resource.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "checker/txn_checker.h"
#include "checker/txn_generate.h"
#include "history/txn.h"

namespace faultline::checker {
namespace {

double PeakRssMb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;
}

// The peak resident set since the last ResetPeakRss (Linux: VmHWM, reset by writing 5 to
// /proc/self/clear_refs), in MB; -1 when unavailable.
double VmHwmMb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return -1;
}

void ResetPeakRss() {
  malloc_trim(0);  // give the freed history back first, or it stays resident and counted
  std::ofstream("/proc/self/clear_refs") << "5";
}

void BM_ListAppendStrictSerializable(benchmark::State& state) {
  TxnGenerateOptions g;
  g.model = TxnModel::kListAppend;
  g.txns = static_cast<size_t>(state.range(0));
  g.processes = 10;
  g.keys = 10;
  g.rotate_every = 10;
  g.min_ops = 4;
  g.max_ops = 8;
  g.info_rate = 0.05;
  g.seed = 42;
  // The generated History (EDN-like Values) is far larger than the decoded transactions; it is
  // dropped before checking, so the RSS reached during the check is mostly the checker's.
  Result<std::vector<history::Txn>> txns = MakeError(ErrorCode::kInternal, "not decoded");
  {
    auto h = GenerateTxnHistory(g);
    if (!h) {
      fmt::print(stderr, "generate: {}\n", h.error().message());
      std::abort();
    }
    txns = history::DecodeTxns(*h);
    if (!txns) std::abort();
  }
  // The decoded transactions' allocations are interleaved with the History's, so freeing the
  // History leaves them scattered over pages that stay resident. A reader that decodes as it
  // parses would not have that: copy them once into fresh memory (another thread allocates from
  // its own malloc arena), so that the RSS below counts the checker's input, not the holes.
  {
    std::vector<history::Txn> compact;
    std::thread copier([&] { compact = *txns; });
    copier.join();
    *txns = std::move(compact);
  }
  const double rss_before = PeakRssMb();
  ResetPeakRss();
  const double rss_decoded = VmHwmMb();  // the decoded transactions, the checker's input
  const double heap_decoded = static_cast<double>(mallinfo2().uordblks) / (1024.0 * 1024.0);
  TxnCheckOptions o;
  o.model = TxnModel::kListAppend;
  o.consistency = Consistency::kStrictSerializable;
  double edges = 0;
  for (auto _ : state) {
    Verdict v = CheckTxns(*txns, o);
    if (auto at = v.json.find("\"edges\":"); at != std::string::npos) {
      edges = std::strtod(v.json.c_str() + at + 8, nullptr);
    }
    // A generated history is strict serializable: anything else is a checker bug.
    if (v.validity != Validity::kValid) {
      fmt::print(stderr, "unexpected verdict: {}\n", v.summary);
      std::abort();
    }
    benchmark::DoNotOptimize(v);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
  state.counters["peak_rss_mb"] = PeakRssMb();
  state.counters["rss_before_check_mb"] = rss_before;
  // Resident peak from just before the check to its end: the input transactions plus the
  // checker's own tables.
  state.counters["check_peak_rss_mb"] = VmHwmMb();
  state.counters["input_rss_mb"] = rss_decoded;
  state.counters["input_heap_mb"] = heap_decoded;
  state.counters["edges"] = edges;
}
BENCHMARK(BM_ListAppendStrictSerializable)
    ->Arg(10'000)
    ->Arg(100'000)
    ->Arg(1'000'000)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);

}  // namespace
}  // namespace faultline::checker
