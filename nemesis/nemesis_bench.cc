// Apply and heal of each packet fault on all 5 nodes of a namespace cluster (each fault recorded
// in the ledger, with fsync, before it is applied), and the ledger's append+fsync alone. Needs
// root. Run from a Release build:
//   nemesis_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "nemesis/ledger.h"
#include "nemesis/nemesis.h"
#include "nemesis/testing/netns_cluster.h"

namespace faultline::nemesis {
namespace {

testing::NetnsCluster* Cluster() {
  static std::unique_ptr<testing::NetnsCluster> cluster = [] {
    auto c = testing::NetnsCluster::Create(5);
    if (!c) {
      std::fprintf(stderr, "nemesis bench: %s\n", c.error().message().c_str());
      return std::unique_ptr<testing::NetnsCluster>();
    }
    return std::move(c).value();
  }();
  return cluster.get();
}

// The benchmark's ledger directory, removed at exit.
const std::filesystem::path& BenchDir() {
  struct Dir {
    std::filesystem::path path = std::filesystem::temp_directory_path() /
                                 fmt::format("faultline-nemesis-bench-{}", ::getpid());
    Dir() { std::filesystem::create_directories(path); }
    ~Dir() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  };
  static const Dir dir;
  return dir.path;
}

std::string LedgerPath(const std::string& name) {
  const auto& dir = BenchDir();
  const auto path = dir / name;
  std::filesystem::remove(path);
  return path.string();
}

enum class Fault { kLoss, kDelay, kBandwidth };

void BM_PacketFaultApplyHeal(benchmark::State& state, Fault fault) {
  testing::NetnsCluster* cluster = Cluster();
  if (cluster == nullptr) {
    state.SkipWithError("cannot build the namespace cluster (needs root)");
    return;
  }
  NemesisOptions options;
  options.net = cluster->Config("bench");
  options.ledger_path = LedgerPath("packet.ledger");
  options.control_address = cluster->control_address();
  auto nemesis = Nemesis::Open(options);
  if (!nemesis) {
    state.SkipWithError(nemesis.error().message().c_str());
    return;
  }
  const auto nodes = cluster->NodeNames();
  double apply_s = 0;
  double heal_s = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    Result<FaultReport> applied = FaultReport{};
    switch (fault) {
      case Fault::kLoss:
        applied = (*nemesis)->Loss(nodes, {}, 0.2, false);
        break;
      case Fault::kDelay:
        applied = (*nemesis)->Delay(nodes, {}, std::chrono::milliseconds(20),
                                    std::chrono::milliseconds(5), false);
        break;
      case Fault::kBandwidth:
        applied = (*nemesis)->Bandwidth(nodes, 8000);
        break;
    }
    const auto t1 = std::chrono::steady_clock::now();
    const FaultReport healed = (*nemesis)->HealAll();
    const auto t2 = std::chrono::steady_clock::now();
    if (!applied || !applied->ok || !healed.ok) {
      state.SkipWithError(applied ? applied->Describe().c_str()
                                  : applied.error().message().c_str());
      break;
    }
    apply_s += std::chrono::duration<double>(t1 - t0).count();
    heal_s += std::chrono::duration<double>(t2 - t1).count();
  }
  const double n = static_cast<double>(state.iterations());
  if (n > 0) {
    state.counters["apply_ms"] = apply_s / n * 1e3;
    state.counters["heal_ms"] = heal_s / n * 1e3;
  }
}
BENCHMARK_CAPTURE(BM_PacketFaultApplyHeal, loss, Fault::kLoss)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(20);
BENCHMARK_CAPTURE(BM_PacketFaultApplyHeal, delay, Fault::kDelay)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(20);
BENCHMARK_CAPTURE(BM_PacketFaultApplyHeal, bandwidth, Fault::kBandwidth)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(20);

// One "open" record: write + fsync under flock (the file holds the earlier records, which each
// append reads to find the next id).
void BM_LedgerAppend(benchmark::State& state) {
  auto ledger = Ledger::Open(LedgerPath("append.ledger"));
  if (!ledger) {
    state.SkipWithError(ledger.error().message().c_str());
    return;
  }
  LedgerEntry entry;
  entry.kind = "loss";
  entry.description = "loss 20.0% from n1,n2,n3,n4,n5 to every other node";
  entry.nodes = {"n1", "n2", "n3", "n4", "n5"};
  for (const auto& n : entry.nodes) {
    LedgerObject o;
    o.type = "nft-table";
    o.node = n;
    o.netns = "fl-default-" + n;
    o.name = "faultline_bench_loss1";
    entry.objects.push_back(o);
  }
  for (auto _ : state) {
    auto appended = ledger->Append(entry);
    if (!appended) {
      state.SkipWithError(appended.error().message().c_str());
      break;
    }
  }
}
BENCHMARK(BM_LedgerAppend)->Unit(benchmark::kMicrosecond)->UseRealTime()->Iterations(200);

}  // namespace
}  // namespace faultline::nemesis
