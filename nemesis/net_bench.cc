// Apply and heal of a 5-node halves partition per backend, on a namespace cluster the benchmark
// builds and tears down itself. Needs root. Run from a Release build:
//   nemesis_net_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>

#include "nemesis/grudge.h"
#include "nemesis/net.h"
#include "nemesis/testing/netns_cluster.h"

namespace faultline::nemesis {
namespace {

testing::NetnsCluster* Cluster() {
  static std::unique_ptr<testing::NetnsCluster> cluster = [] {
    auto c = testing::NetnsCluster::Create(5);
    if (!c) {
      std::fprintf(stderr, "net bench: %s\n", c.error().message().c_str());
      return std::unique_ptr<testing::NetnsCluster>();
    }
    return std::move(c).value();
  }();
  return cluster.get();
}

void BM_HalvesApplyHeal(benchmark::State& state, BackendKind backend, PartitionMode mode) {
  testing::NetnsCluster* cluster = Cluster();
  if (cluster == nullptr) {
    state.SkipWithError("cannot build the namespace cluster (needs root)");
    return;
  }
  auto net = MakeNet(backend, cluster->Config("bench"));
  if (!net) {
    state.SkipWithError(net.error().message().c_str());
    return;
  }
  // Fixed seed: the same halves every run.
  const Grudge grudge = *RandomHalves(cluster->NodeNames(), 1);
  double apply_s = 0;
  double heal_s = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    auto applied = (*net)->Apply(grudge, mode);
    const auto t1 = std::chrono::steady_clock::now();
    const NetReport healed = (*net)->Heal();
    const auto t2 = std::chrono::steady_clock::now();
    if (!applied || !applied->ok() || !healed.ok()) {
      state.SkipWithError(applied ? applied->Describe().c_str() : "apply failed");
      break;
    }
    apply_s += std::chrono::duration<double>(t1 - t0).count();
    heal_s += std::chrono::duration<double>(t2 - t1).count();
  }
  state.SetItemsProcessed(state.iterations());
  const double n = static_cast<double>(state.iterations());
  if (n > 0) {
    state.counters["apply_ms"] = apply_s / n * 1e3;
    state.counters["heal_ms"] = heal_s / n * 1e3;
  }
}

BENCHMARK_CAPTURE(BM_HalvesApplyHeal, nft_drop, BackendKind::kNft, PartitionMode::kDrop)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_HalvesApplyHeal, netlink_drop, BackendKind::kNetlink, PartitionMode::kDrop)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_HalvesApplyHeal, iptables_drop, BackendKind::kIptables, PartitionMode::kDrop)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_HalvesApplyHeal, nft_newonly, BackendKind::kNft, PartitionMode::kNewOnly)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_ProbeBackends(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(ProbeBackends());
}
BENCHMARK(BM_ProbeBackends)->Unit(benchmark::kMillisecond)->Iterations(5)->UseRealTime();

}  // namespace
}  // namespace faultline::nemesis
