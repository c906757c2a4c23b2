// The revision-order checker against the linearizability search (checker::Check, model
// independent/cas-register) on the same simulated etcd register history: ops in total, keys,
// processes.
// Run from the release preset:
//   build/release/checker/checker_revision_checker_bench
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "checker/checker.h"
#include "checker/revision_checker.h"
#include "checker/testing/revision_sim.h"

namespace faultline::checker {
namespace {

using history::History;
using history::Op;
using history::Value;

constexpr uint64_t kSeed = 42;

struct Input {
  History keyed;        // ops carry Op::key (the revision checker's input)
  History independent;  // values [key value] (the search's input)
};

const Input& Get(const benchmark::State& state) {
  const auto ops = static_cast<int>(state.range(0));
  const auto keys = static_cast<int>(state.range(1));
  const auto processes = static_cast<int>(state.range(2));
  const auto info_permille = static_cast<int>(state.range(3));
  static std::map<std::tuple<int, int, int, int>, Input> cache;
  auto it = cache.find({ops, keys, processes, info_permille});
  if (it != cache.end()) return it->second;
  Result<History> keyed =
      testing::Simulate(testing::SimOptions{.seed = kSeed,
                                            .processes = 10,
                                            .ops = ops,
                                            .values = 5,
                                            .info_writes = true,
                                            .mutation = testing::Mutation::kNone,
                                            .keys = keys,
                                            .info_share = 0.02});
  if (!keyed) {
    fmt::print(stderr, "simulate: {}\n", keyed.error().message());
    std::abort();
  }
  std::vector<Op> ops_out(keyed->ops().begin(), keyed->ops().end());
  for (Op& op : ops_out) {
    op.value = Value::Vector({op.key.value_or(Value::Int(0)), std::move(op.value)});
  }
  Result<History> independent = History::Build(std::move(ops_out));
  if (!independent) {
    fmt::print(stderr, "independent: {}\n", independent.error().message());
    std::abort();
  }
  return cache
      .emplace(std::tuple{ops, keys, processes, info_permille},
               Input{std::move(*keyed), std::move(*independent)})
      .first->second;
}

void BM_RevisionOrder(benchmark::State& state) {
  const Input& in = Get(state);
  for (auto _ : state) {
    Result<RevisionCheckResult> r = CheckRevisionOrder(in.keyed);
    // An honest history: valid, or unknown where an unread info write may explain a cas.
    if (!r || r->validity == checker::Validity::kInvalid) {
      state.SkipWithError(r ? r->explanation.c_str() : "error");
      return;
    }
    state.SetLabel(std::string(checker::ValidityName(r->validity)));
    benchmark::DoNotOptimize(r->versions);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(in.keyed.size()));
}

void BM_Search(benchmark::State& state) {
  const Input& in = Get(state);
  checker::CheckOptions options;
  options.model = "independent/cas-register";
  options.threads = 1;  // the revision checker uses one thread too
  options.time_limit_s = 60;
  for (auto _ : state) {
    Result<checker::CheckResult> r = checker::Check(in.independent, options);
    if (!r || r->validity == checker::Validity::kInvalid) {
      state.SkipWithError(r ? "search said invalid" : "error");
      return;
    }
    state.SetLabel(std::string(checker::ValidityName(r->validity)));
    benchmark::DoNotOptimize(r->configurations);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(in.independent.size()));
}

// {ops, keys, processes, info per mille}: 10 processes over many keys (a campaign's shape: a few
// ops at once per key), then 30 processes on one key (many concurrent ops), then many info ops
// (each stays concurrent with everything after it: the hard case for the search).
#define FAULTLINE_SIZES             \
  Args({10000, 10, 10, 20})         \
      ->Args({10000, 100, 10, 20})  \
      ->Args({100000, 10, 10, 20})  \
      ->Args({100000, 100, 10, 20}) \
      ->Args({10000, 1, 30, 20})    \
      ->Args({2000, 1, 10, 200})    \
      ->Args({10000, 10, 10, 200})
BENCHMARK(BM_RevisionOrder)->FAULTLINE_SIZES->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Search)->FAULTLINE_SIZES->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace faultline::checker
