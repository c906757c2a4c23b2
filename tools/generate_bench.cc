// Issue 16 §3: the share of generated contradictory-readers histories (`faultline history
// generate --violate contradictory-readers`: two readers that see two writes in opposite orders,
// among many concurrent writers, some info) that Check decides within a budget of 10 s each. Every
// one is invalid by construction, so a decided one must be invalid (the benchmark fails
// otherwise). The argument is the number of processes; all but four are concurrent writers.
//
//   cmake --preset release && cmake --build build/release --target tools_generate_bench
//   build/release/tools/tools_generate_bench
//
// For the share before issue 16, generate the same histories (`faultline history generate
// --model M --ops 300 --processes P --info-rate 0.1 --seed S --violate contradictory-readers`)
// and check each with an older binary and `--time-limit 10`.
#include <benchmark/benchmark.h>

#include <string>

#include "checker/checker.h"
#include "tools/generate.h"

namespace faultline::tools {
namespace {

constexpr uint64_t kHistories = 10;
constexpr double kBudgetS = 10;

void BM_ContradictoryReadersDecided(benchmark::State& state, std::string model) {
  const auto processes = static_cast<size_t>(state.range(0));
  uint64_t decided = 0;
  for (auto _ : state) {
    decided = 0;
    for (uint64_t seed = 1; seed <= kHistories; ++seed) {
      Result<history::History> h = Generate(GenerateOptions{.model = model,
                                                            .ops = 300,
                                                            .processes = processes,
                                                            .info_rate = 0.1,
                                                            .keys = 1,
                                                            .values = 5,
                                                            .seed = seed,
                                                            .violate = "contradictory-readers"});
      if (!h) {
        state.SkipWithError(h.error().message().c_str());
        return;
      }
      checker::CheckOptions options;
      options.model = model;
      options.time_limit_s = kBudgetS;
      options.threads = 1;
      Result<checker::CheckResult> r = checker::Check(*h, options);
      if (!r) {
        state.SkipWithError(r.error().message().c_str());
        return;
      }
      if (r->validity == checker::Validity::kValid) {
        state.SkipWithError("a contradictory-readers history was found valid");
        return;
      }
      if (r->validity == checker::Validity::kInvalid) ++decided;
    }
  }
  state.counters["histories"] = static_cast<double>(kHistories);
  state.counters["decided_share"] = static_cast<double>(decided) / static_cast<double>(kHistories);
}
// One benchmark per model, with 12 and 24 processes.
const bool kRegistered = [] {
  for (const char* model : {"register", "cas-register", "kv"}) {
    benchmark::RegisterBenchmark(
        (std::string("BM_ContradictoryReadersDecided/") + model).c_str(),
        [model](benchmark::State& state) { BM_ContradictoryReadersDecided(state, model); })
        ->Arg(12)
        ->Arg(24)
        ->Iterations(1)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
  return true;
}();

}  // namespace
}  // namespace faultline::tools
