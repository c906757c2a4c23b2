// EDN history parsing throughput. Run from a Release build, e.g.
//   history_parse_bench --benchmark_filter=BM_ParseEdn
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "history/edn.h"

namespace faultline::history {
namespace {

constexpr uint64_t kSeed = 20240607;
constexpr int kClients = 5;

// A Jepsen-style register history of about `lines` op lines: cas/read/write on five client
// threads, some cas failures with :error, rare :info timeouts that retire a process (the thread
// continues as process + 5), and the occasional nemesis partition.
std::string GenerateHistory(int lines, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string out;
  out.reserve(static_cast<size_t>(lines) * 90);
  struct Thread {
    int64_t process;
    bool open = false;
    std::string f;
    std::string value;
  };
  std::vector<Thread> threads;
  for (int i = 0; i < kClients; ++i)
    threads.push_back(Thread{.process = i, .open = false, .f = {}, .value = {}});
  int64_t time = 0;
  bool nemesis_open = false;
  bool partitioned = false;
  auto pick = [&rng](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
  for (int index = 0; index < lines; ++index) {
    time += 1000 + pick(2000000);
    const std::string head = ":index " + std::to_string(index) + ", :time " + std::to_string(time);
    if (pick(1000) == 0 || nemesis_open) {
      const char* f = partitioned ? "stop-partition" : "start-partition";
      std::string value = nemesis_open ? (partitioned ? ":network-healed"
                                                      : "[:isolated {\"n1\" #{\"n3\"}, \"n2\" "
                                                        "#{\"n3\"}, \"n3\" #{\"n1\" \"n2\"}}]")
                                       : (partitioned ? "nil" : ":majority");
      out +=
          "{" + head + ", :type :info, :process :nemesis, :f :" + f + ", :value " + value + "}\n";
      if (nemesis_open) partitioned = !partitioned;
      nemesis_open = !nemesis_open;
      continue;
    }
    Thread& t = threads[static_cast<size_t>(pick(kClients))];
    const std::string process = std::to_string(t.process);
    if (!t.open) {
      switch (pick(3)) {
        case 0:
          t.f = "read";
          t.value = "nil";
          break;
        case 1:
          t.f = "write";
          t.value = std::to_string(pick(5));
          break;
        default:
          t.f = "cas";
          t.value = "[" + std::to_string(pick(5)) + " " + std::to_string(pick(5)) + "]";
          break;
      }
      out += "{" + head + ", :type :invoke, :process " + process + ", :f :" + t.f + ", :value " +
             t.value + "}\n";
      t.open = true;
      continue;
    }
    t.open = false;
    const int roll = pick(100);
    if (roll < 2) {
      out += "{" + head + ", :type :info, :process " + process + ", :f :" + t.f + ", :value " +
             t.value + ", :error :timeout}\n";
      t.process += kClients;
    } else if (t.f == "cas" && roll < 40) {
      out += "{" + head + ", :type :fail, :process " + process + ", :f :cas, :value " + t.value +
             ", :error :mismatch}\n";
    } else {
      const std::string value = t.f == "read" ? std::to_string(pick(5)) : t.value;
      out += "{" + head + ", :type :ok, :process " + process + ", :f :" + t.f + ", :value " +
             value + "}\n";
    }
  }
  return out;
}

const std::string& History100k() {
  static const std::string* text = new std::string(GenerateHistory(100000, kSeed));
  return *text;
}

// The whole reader: EDN scanning, op conversion and History::Build (pairing and validation).
void BM_ParseEdnHistory(benchmark::State& state) {
  const std::string& text = History100k();
  size_t ops = 0;
  for (auto _ : state) {
    Result<History> h = ReadEdnHistory(text, "bench.edn");
    if (!h) {
      state.SkipWithError(h.error().message().c_str());
      return;
    }
    ops = h->size();
    benchmark::DoNotOptimize(h);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * ops));
  state.counters["ops"] = static_cast<double>(ops);
}
BENCHMARK(BM_ParseEdnHistory)->Unit(benchmark::kMillisecond);

// Generic value reading only (every op map as a Value), for comparison with the op fast path.
void BM_ParseEdnForms(benchmark::State& state) {
  const std::string& text = History100k();
  size_t forms = 0;
  for (auto _ : state) {
    Result<std::vector<EdnForm>> f = ParseEdnForms(text, "bench.edn");
    if (!f) {
      state.SkipWithError(f.error().message().c_str());
      return;
    }
    forms = f->size();
    benchmark::DoNotOptimize(f);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * forms));
}
BENCHMARK(BM_ParseEdnForms)->Unit(benchmark::kMillisecond);

void BM_WriteEdnHistory(benchmark::State& state) {
  const std::string& text = History100k();
  Result<History> h = ReadEdnHistory(text, "bench.edn");
  if (!h) {
    state.SkipWithError(h.error().message().c_str());
    return;
  }
  size_t bytes = 0;
  for (auto _ : state) {
    std::string out = WriteEdnHistory(*h);
    bytes = out.size();
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * h->size()));
}
BENCHMARK(BM_WriteEdnHistory)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace faultline::history
