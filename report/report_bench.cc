// The report of a large run (issue 15: a 1M-op history's report in <= 10 s and <= 500 MB).
// BM_ReadHistory is the baseline in the same process: reading the run's history.jsonl alone.
// BM_WriteReport reads the whole run directory and writes report.html. Counters: ops, the page's
// size, and the process's peak RSS so far (ru_maxrss; run each benchmark alone with
// --benchmark_filter to attribute it).
//   build/release/report/report_bench --benchmark_filter=WriteReport/1000000
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "history/io.h"
#include "report/run_report.h"
#include "report/testing/synthetic_run.h"

namespace {

namespace fs = std::filesystem;

double PeakRssMiB() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

// A campaign-shaped run directory (testing/synthetic_run.h) with `ops` client ops (10 processes,
// 2000 ops/s), 10 faults and one anomaly, made once per size.
// The directories made, removed when the benchmark exits.
struct Dirs {
  std::map<int, fs::path> by_ops;
  ~Dirs() {
    std::error_code ec;
    for (const auto& [ops, dir] : by_ops) fs::remove_all(dir, ec);
  }
};

const fs::path& RunDir(int ops) {
  static Dirs made;
  std::map<int, fs::path>& dirs = made.by_ops;
  auto it = dirs.find(ops);
  if (it != dirs.end()) return it->second;
  fs::path d =
      fs::temp_directory_path() / fmt::format("faultline-report-bench-{}-{}", getpid(), ops);
  const double span_s = static_cast<double>(ops) * 0.0005;
  faultline::report::testing::SyntheticRun run{
      .ops = ops, .processes = 10, .keys = 100, .spacing_ns = 500000, .faults = {}};
  for (int k = 0; k < 10; ++k) {
    run.faults.emplace_back(span_s * k / 10 + 1, span_s * k / 10 + span_s / 20);
  }
  faultline::report::testing::WriteSyntheticRun(d, run);
  const int64_t failing_op = static_cast<int64_t>(ops);  // an invocation in the middle
  std::ofstream(d / "results.json") << fmt::format(
      "{{\"valid\":\"invalid\",\"seed\":1,\"anomaly_count\":1,\"checkers\":{{\"linearizable\":{{"
      "\"summary\":\"invalid\",\"anomalies\":{{\"nonlinearizable\":1}},\"counterexample\":{{"
      "\"failing_op\":{{\"index\":{}}},\"explanation\":\"read() -> 2, but the register holds "
      "1\",\"prefixes\":[]}}}}}}}}",
      failing_op);
  return dirs.emplace(ops, d).first->second;
}

void BM_ReadHistory(benchmark::State& state) {
  const fs::path& d = RunDir(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    auto h = faultline::history::ReadHistoryFile((d / "history.jsonl").string());
    if (!h) state.SkipWithError(h.error().message().c_str());
    benchmark::DoNotOptimize(h);
  }
  state.counters["ops"] = static_cast<double>(state.range(0));
  state.counters["peak_rss_MiB"] = PeakRssMiB();
}

void BM_WriteReport(benchmark::State& state) {
  const fs::path& d = RunDir(static_cast<int>(state.range(0)));
  faultline::report::ReportFigures fig;
  for (auto _ : state) {
    auto r = faultline::report::WriteReport(d.string(), (d / "report.html").string());
    if (!r) {
      state.SkipWithError(r.error().message().c_str());
      break;
    }
    fig = *r;
  }
  state.counters["ops"] = static_cast<double>(fig.ops);
  state.counters["points_drawn"] = static_cast<double>(fig.points_drawn);
  state.counters["html_KiB"] = static_cast<double>(fig.html_bytes) / 1024.0;
  state.counters["peak_rss_MiB"] = PeakRssMiB();
}

BENCHMARK(BM_ReadHistory)->Arg(100000)->Arg(1000000)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(BM_WriteReport)->Arg(100000)->Arg(1000000)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace
