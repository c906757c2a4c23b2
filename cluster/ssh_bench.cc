// Apply + heal of a 5-node halves partition (seed 1), through iptables-restore over ssh: with a
// persistent remote shell per node (over the ControlMaster), with ControlMaster multiplexing (a
// new ssh client per command), and with a fresh connection per command; next to the in-process nft
// and iptables backends on the same namespace cluster as a baseline. Needs root (namespaces, sshd).
// Run from the release preset:
//   build/release/cluster/cluster_ssh_bench
// Counters: apply_ms and heal_ms are the mean wall time of each step over the iterations.
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <memory>

#include "cluster/ssh_control.h"
#include "cluster/ssh_test_cluster.h"
#include "nemesis/command_net.h"
#include "nemesis/grudge.h"
#include "nemesis/net.h"

namespace faultline::cluster {
namespace {

constexpr std::uint64_t kSeed = 1;

// One cluster for the whole run; built on first use, removed at exit.
testing::SshTestCluster* Cluster() {
  static std::unique_ptr<testing::SshTestCluster> cluster = [] {
    auto c = testing::SshTestCluster::Create(5, [](const std::string&) {
      return DbCommands{.start = "true", .kill = "true", .pid = "true", .data_dir = std::nullopt};
    });
    if (!c) {
      fmt::print(stderr, "ssh bench: {}\n", c.error().message());
      return std::unique_ptr<testing::SshTestCluster>();
    }
    return std::move(*c);
  }();
  return cluster.get();
}

std::string RunId() { return fmt::format("b{}", ::getpid()); }

// Times apply and heal of the halves grudge on `net`, one pair per iteration.
void ApplyHeal(benchmark::State& state, nemesis::Net& net) {
  auto grudge = nemesis::RandomHalves(Cluster()->netns().NodeNames(), kSeed);
  if (!grudge) {
    state.SkipWithError(grudge.error().message().c_str());
    return;
  }
  // Warm-up (an SSH master per node, an nft context per worker thread): not timed.
  if (auto a = net.Apply(*grudge, nemesis::PartitionMode::kDrop); !a || !a->ok()) {
    state.SkipWithError(a ? a->Describe().c_str() : a.error().message().c_str());
    return;
  }
  (void)net.Heal();
  std::chrono::nanoseconds apply{0}, heal{0};
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    auto applied = net.Apply(*grudge, nemesis::PartitionMode::kDrop);
    const auto t1 = std::chrono::steady_clock::now();
    const nemesis::NetReport healed = net.Heal();
    const auto t2 = std::chrono::steady_clock::now();
    apply += t1 - t0;
    heal += t2 - t1;
    if (!applied || !applied->ok() || !healed.ok()) {
      state.SkipWithError(applied ? (applied->Describe() + healed.Describe()).c_str()
                                  : applied.error().message().c_str());
      break;
    }
  }
  const double n = static_cast<double>(std::max<std::int64_t>(state.iterations(), 1));
  state.counters["apply_ms"] = std::chrono::duration<double, std::milli>(apply).count() / n;
  state.counters["heal_ms"] = std::chrono::duration<double, std::milli>(heal).count() / n;
  state.SetItemsProcessed(state.iterations() * 5);  // nodes partitioned and healed
  state.SetLabel(std::string(net.Name()));
}

void BM_SshCommandNet(benchmark::State& state, SshControlOptions options) {
  if (Cluster() == nullptr) {
    state.SkipWithError("no cluster (needs root)");
    return;
  }
  auto control = MakeSshControl(Cluster()->nodes_file(), options);
  if (!control) {
    state.SkipWithError(control.error().message().c_str());
    return;
  }
  auto net = nemesis::MakeCommandNet(SshNetConfig(Cluster()->nodes_file(), RunId()), **control);
  if (!net) {
    state.SkipWithError(net.error().message().c_str());
    return;
  }
  ApplyHeal(state, **net);
}

void BM_InProcess(benchmark::State& state, nemesis::BackendKind kind) {
  if (Cluster() == nullptr) {
    state.SkipWithError("no cluster (needs root)");
    return;
  }
  auto net = nemesis::MakeNet(kind, Cluster()->netns().Config(RunId()));
  if (!net) {
    state.SkipWithError(net.error().message().c_str());
    return;
  }
  ApplyHeal(state, **net);
}

BENCHMARK_CAPTURE(BM_SshCommandNet, persistent_shell, SshControlOptions{.persistent_shell = true})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(40);
BENCHMARK_CAPTURE(BM_SshCommandNet, multiplexed, SshControlOptions{.persistent_shell = false})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(40);
BENCHMARK_CAPTURE(BM_SshCommandNet, fresh_connections,
                  SshControlOptions{.multiplex = false, .persistent_shell = false})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(5);
BENCHMARK_CAPTURE(BM_InProcess, nft, nemesis::BackendKind::kNft)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(200);
BENCHMARK_CAPTURE(BM_InProcess, iptables, nemesis::BackendKind::kIptables)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(40);

}  // namespace
}  // namespace faultline::cluster
