// Parsing speed of the JSON Lines reader and the etcd log reader, on generated histories (fixed
// seeds, no corpus needed). Run from a Release build:
//   history_parse_bench --benchmark_filter='Jsonl|Etcd'
#include <benchmark/benchmark.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "history/fields.h"
#include "history/history.h"
#include "history/jsonl.h"
#include "history/porcupine.h"

namespace faultline::history {
namespace {

constexpr uint64_t kSeed = 42;
constexpr int kOps = 100000;

// A register campaign like the ones faultline records: 10 clients doing read/write/cas, about
// one op in 500 a nemesis partition with its grudge, a few timeouts with retirement, and an
// occasional extra field.
std::string GenerateJsonl(uint64_t seed, int count) {
  std::mt19937_64 rng(seed);
  auto pick = [&rng](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
  constexpr int kClients = 10;
  std::vector<int64_t> pid(kClients);
  std::vector<std::optional<Op>> open(kClients);
  for (int i = 0; i < kClients; ++i) pid[i] = i;
  bool partitioned = false;
  std::vector<Op> ops;
  ops.reserve(static_cast<size_t>(count));
  int64_t time = 1'000'000;
  auto push = [&ops, &time](Op op) {
    op.index = static_cast<int64_t>(ops.size());
    op.time_ns = time;
    ops.push_back(std::move(op));
  };
  while (static_cast<int>(ops.size()) < count) {
    time += 1000 + pick(2'000'000);
    if (pick(500) == 0) {
      // Jepsen's nemesis: :info on both halves.
      Op inv{.index = -1,
             .time_ns = -1,
             .type = OpType::kInfo,
             .process = Process::Nemesis(),
             .f = partitioned ? "stop-partition" : "start-partition",
             .key = std::nullopt,
             .value = partitioned ? Value() : Value::Keyword("majority"),
             .error = std::nullopt,
             .extras = {}};
      Value result =
          partitioned ? Value::Keyword("network-healed")
                      : Value::Vector(
                            {Value::Keyword("isolated"),
                             Value::Map({Value::String("n1"),
                                         Value::Set({Value::String("n4"), Value::String("n5")}),
                                         Value::String("n4"), Value::Set({Value::String("n1")})})});
      Op done = inv.Complete(OpType::kInfo, std::move(result));
      push(std::move(inv));
      time += 1000;
      push(std::move(done));
      partitioned = !partitioned;
      continue;
    }
    Op op;
    {
      const int slot = pick(kClients);
      if (!open[slot]) {
        Op inv{.index = -1,
               .time_ns = -1,
               .type = OpType::kInvoke,
               .process = Process::Client(pid[slot]),
               .f = {},
               .key = std::nullopt,
               .value = Value(),
               .error = std::nullopt,
               .extras = {}};
        switch (pick(3)) {
          case 0:
            inv.f = "read";
            break;
          case 1:
            inv.f = "write";
            inv.value = Value::Int(pick(5));
            break;
          default:
            inv.f = "cas";
            inv.value = Value::Vector({Value::Int(pick(5)), Value::Int(pick(5))});
            break;
        }
        open[slot] = inv;
        op = std::move(inv);
      } else {
        const Op& inv = *open[slot];
        const int outcome = pick(100);
        if (outcome < 3) {
          op = inv.Complete(OpType::kInfo, inv.value);
          op.error = Value::Keyword("timeout");
          pid[slot] += kClients;
        } else if (outcome < 20 && inv.f == "cas") {
          op = inv.Complete(OpType::kFail, inv.value);
          op.error = Value::String("etcdserver: compare failed");
        } else {
          op = inv.Complete(OpType::kOk, inv.f == "read" ? Value::Int(pick(5)) : inv.value);
          if (outcome == 99)
            op.extras.push_back(
                Field{Value::Keyword(std::string(field::kNode)), Value::String("n3")});
        }
        open[slot].reset();
      }
    }
    push(std::move(op));
  }
  auto h = History::Build(std::move(ops));
  if (!h) return {};
  return WriteJsonlHistory(*h);
}

// An etcd Jepsen log in Porcupine's shape: 5 client slots, processes retired after :info.
std::string GenerateEtcdLog(uint64_t seed, int lines) {
  std::mt19937_64 rng(seed);
  auto pick = [&rng](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
  // Values come from fixed tables: GCC 12 warns falsely (-Wrestrict) on small string assignments.
  static constexpr std::string_view kInts[] = {"0", "1", "2", "3", "4"};
  static constexpr std::string_view kPairs[] = {
      "[0 0]", "[0 1]", "[0 2]", "[0 3]", "[0 4]", "[1 0]", "[1 1]", "[1 2]", "[1 3]",
      "[1 4]", "[2 0]", "[2 1]", "[2 2]", "[2 3]", "[2 4]", "[3 0]", "[3 1]", "[3 2]",
      "[3 3]", "[3 4]", "[4 0]", "[4 1]", "[4 2]", "[4 3]", "[4 4]"};
  constexpr int kSlots = 5;
  int64_t pid[kSlots] = {0, 1, 2, 3, 4};
  std::string_view open_f[kSlots];
  std::string_view open_value[kSlots];
  std::string out;
  for (int n = 0; n < lines; ++n) {
    const int slot = pick(kSlots);
    std::string_view type;
    std::string_view f;
    std::string_view value;
    if (open_f[slot].empty()) {
      type = ":invoke";
      switch (pick(3)) {
        case 0:
          f = ":read";
          value = "nil";
          break;
        case 1:
          f = ":write";
          value = kInts[pick(5)];
          break;
        default:
          f = ":cas";
          value = kPairs[pick(25)];
          break;
      }
      open_f[slot] = f;
      open_value[slot] = value;
    } else {
      f = open_f[slot];
      const int outcome = pick(100);
      if (outcome < 8 && f != ":read") {
        type = ":info";
        value = ":timed-out";
      } else if (outcome < 2) {
        type = ":fail";
        value = ":timed-out";
      } else if (f == ":cas" && outcome < 60) {
        type = ":fail";
        value = open_value[slot];
      } else {
        type = ":ok";
        value = f == ":read" ? (pick(10) == 0 ? "nil" : kInts[pick(5)]) : open_value[slot];
      }
      open_f[slot] = {};
    }
    out.append("INFO  jepsen.util - ");
    out.append(std::to_string(pid[slot]));
    if (type == ":info") pid[slot] += kSlots;
    out.push_back('\t');
    out.append(type);
    out.push_back('\t');
    out.append(f);
    out.push_back('\t');
    out.append(value);
    out.push_back('\n');
  }
  return out;
}

const std::string& JsonlText() {
  static const std::string text = GenerateJsonl(kSeed, kOps);
  return text;
}

const std::string& EtcdText() {
  static const std::string text = GenerateEtcdLog(kSeed, kOps);
  return text;
}

// Scanning, op decoding, pairing and validation: everything `faultline check` pays for.
void BM_ParseJsonlHistory(benchmark::State& state) {
  const std::string& text = JsonlText();
  size_t ops = 0;
  for (auto _ : state) {
    auto h = ReadJsonlHistory(text, "bench.jsonl");
    if (!h) {
      state.SkipWithError(h.error().message().c_str());
      return;
    }
    ops = h->size();
    benchmark::DoNotOptimize(h);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * ops));
}
BENCHMARK(BM_ParseJsonlHistory)->Unit(benchmark::kMillisecond);

// Baseline in the same process: nlohmann_json's DOM parse of every line, with no conversion to ops
// at all. The ratio against BM_ParseJsonlOps is the figure to quote on a noisy machine.
void BM_BaselineNlohmannDomLines(benchmark::State& state) {
  const std::string& text = JsonlText();
  size_t lines = 0;
  for (auto _ : state) {
    lines = 0;
    size_t start = 0;
    while (start < text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      nlohmann::json j = nlohmann::json::parse(std::string_view(text).substr(start, end - start));
      benchmark::DoNotOptimize(j);
      ++lines;
      start = end + 1;
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * lines));
}
BENCHMARK(BM_BaselineNlohmannDomLines)->Unit(benchmark::kMillisecond);

// The scanner alone: one ParseJsonOp per line, no History::Build.
void BM_ParseJsonlOps(benchmark::State& state) {
  const std::string& text = JsonlText();
  std::vector<std::string_view> lines;
  for (size_t pos = 0; pos < text.size();) {
    const size_t nl = text.find('\n', pos);
    lines.push_back(std::string_view(text).substr(pos, nl - pos));
    pos = nl + 1;
  }
  for (auto _ : state) {
    for (std::string_view line : lines) {
      auto op = ParseJsonOp(line);
      if (!op) {
        state.SkipWithError(op.error().message().c_str());
        return;
      }
      benchmark::DoNotOptimize(op);
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * lines.size()));
}
BENCHMARK(BM_ParseJsonlOps)->Unit(benchmark::kMillisecond);

void BM_WriteJsonlHistory(benchmark::State& state) {
  auto h = ReadJsonlHistory(JsonlText(), "bench.jsonl");
  if (!h) {
    state.SkipWithError(h.error().message().c_str());
    return;
  }
  size_t bytes = 0;
  for (auto _ : state) {
    std::string out = WriteJsonlHistory(*h);
    bytes = out.size();
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * h->size()));
}
BENCHMARK(BM_WriteJsonlHistory)->Unit(benchmark::kMillisecond);

void BM_ParseEtcdLog(benchmark::State& state) {
  const std::string& text = EtcdText();
  size_t ops = 0;
  for (auto _ : state) {
    auto h = ReadEtcdLog(text, "bench.log");
    if (!h) {
      state.SkipWithError(h.error().message().c_str());
      return;
    }
    ops = h->size();
    benchmark::DoNotOptimize(h);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * ops));
}
BENCHMARK(BM_ParseEtcdLog)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace faultline::history
