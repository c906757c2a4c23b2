// Check-time benchmarks (issue 3 §6). Parsing is done once, outside the timed loop.
//
// Corpus benchmarks need FAULTLINE_CORPUS_DIR (the directory holding porcupine/MANIFEST.tsv) and
// report, besides the time, the manifest's Porcupine median (`porcupine_ms`) and the ratio
// (`speedup` = Porcupine median / our time). Generated histories come from a small generator in
// this file (seeded; checker/ may not depend on tools/).
//
//   cmake --preset release && cmake --build build/release --target checker_bench
//   FAULTLINE_CORPUS_DIR=../shared/data build/release/checker/checker_bench
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "checker/checker.h"
#include "history/history.h"
#include "history/io.h"

namespace faultline::checker {
namespace {

using history::History;
using history::Op;
using history::OpType;
using history::Process;
using history::Value;

struct CorpusFile {
  std::string file;
  bool etcd = true;
  double porcupine_ms = 0;
};

std::string CorpusDir() {
  const char* dir = std::getenv("FAULTLINE_CORPUS_DIR");
  return dir == nullptr ? std::string() : std::string(dir) + "/porcupine";
}

std::vector<CorpusFile> Manifest() {
  std::vector<CorpusFile> files;
  if (CorpusDir().empty()) return files;
  std::ifstream in(CorpusDir() + "/MANIFEST.tsv");
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    std::vector<std::string> cols;
    std::stringstream ss(line);
    std::string col;
    while (std::getline(ss, col, '\t')) cols.push_back(col);
    if (cols.size() < 6) continue;
    files.push_back(CorpusFile{
        .file = cols[0], .etcd = cols[1] == "jepsen-etcd-log", .porcupine_ms = std::stod(cols[5])});
  }
  return files;
}

const History& Load(const CorpusFile& f) {
  static std::map<std::string, History> cache;
  auto it = cache.find(f.file);
  if (it != cache.end()) return it->second;
  auto h = history::ReadHistoryFile(
      CorpusDir() + "/" + f.file,
      history::ReadOptions{.format = f.etcd ? history::Format::kEtcdLog : history::Format::kEdn});
  if (!h) {
    std::fprintf(stderr, "%s\n", h.error().message().c_str());
    std::abort();
  }
  return cache.emplace(f.file, std::move(*h)).first->second;
}

CheckOptions Options(std::string model) {
  return CheckOptions{.model = std::move(model),
                      .initial = std::nullopt,
                      .time_limit_s = 0,
                      .memory_limit_mb = 0,
                      .threads = 0};
}

void Run(benchmark::State& state, const History& h, const CheckOptions& options,
         std::string_view expect) {
  Validity v = Validity::kUnknown;
  size_t peak = 0;
  uint64_t configurations = 0;
  for (auto _ : state) {
    auto r = Check(h, options);
    if (!r) {
      state.SkipWithError(r.error().message().c_str());
      return;
    }
    v = r->validity;
    peak = r->peak_memory_bytes;
    configurations = r->configurations;
  }
  if (!expect.empty() && ValidityName(v) != expect) {
    state.SkipWithError(("unexpected verdict " + std::string(ValidityName(v))).c_str());
    return;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * h.invocation_count()));
  state.counters["valid"] = v == Validity::kValid ? 1 : 0;
  state.counters["peak_MB"] = static_cast<double>(peak) / (1024.0 * 1024.0);
  state.counters["configurations"] = static_cast<double>(configurations);
}

// One benchmark per corpus file, plus the whole suite.
void BM_PorcupineFile(benchmark::State& state, const CorpusFile& f) {
  const History& h = Load(f);
  Run(state, h, Options(f.etcd ? "cas-register" : "kv"), "");
  state.counters["porcupine_ms"] = f.porcupine_ms;
  // Iteration time, in ms, is reported by the framework; speedup is computed from the mean.
  state.counters["speedup"] =
      benchmark::Counter(f.porcupine_ms / 1000.0 * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
}

void BM_PorcupineSuite(benchmark::State& state) {
  std::vector<CorpusFile> files = Manifest();
  if (files.empty()) {
    state.SkipWithError("FAULTLINE_CORPUS_DIR is not set");
    return;
  }
  double porcupine_total = 0;
  for (const CorpusFile& f : files) {
    Load(f);
    porcupine_total += f.porcupine_ms;
  }
  for (auto _ : state) {
    for (const CorpusFile& f : files) {
      auto r = Check(Load(f), Options(f.etcd ? "cas-register" : "kv"));
      benchmark::DoNotOptimize(r);
    }
  }
  state.counters["porcupine_ms"] = porcupine_total;
  state.counters["speedup"] =
      benchmark::Counter(porcupine_total / 1000.0 * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
}
BENCHMARK(BM_PorcupineSuite)->Unit(benchmark::kMillisecond)->UseRealTime();

// kv c10 files as one unpartitioned map state (Porcupine: about 2.5 s each).
void BM_KvUnpartitioned(benchmark::State& state, std::string file) {
  if (CorpusDir().empty()) {
    state.SkipWithError("FAULTLINE_CORPUS_DIR is not set");
    return;
  }
  const History& h = Load(CorpusFile{.file = file, .etcd = false, .porcupine_ms = 0});
  Run(state, h, Options("kv-unpartitioned"),
      file.find("ok") != std::string::npos ? "valid" : "invalid");
}
BENCHMARK_CAPTURE(BM_KvUnpartitioned, c10_ok, std::string("kv/c10-ok.txt"))
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_KvUnpartitioned, c10_bad, std::string("kv/c10-bad.txt"))
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Issue 16 §3: the kv c50 files as one unpartitioned map state, Porcupine's worst case (here it
// leaves both unknown after 120 s, using 7.7-8.4 GB). The baseline, in the same run, is the same
// file split by key (`kv`): `vs_split` is our time over the split check's, the cost of searching
// the whole map as one history.
void BM_KvUnpartitionedVsSplit(benchmark::State& state, std::string file) {
  if (CorpusDir().empty()) {
    state.SkipWithError("FAULTLINE_CORPUS_DIR is not set");
    return;
  }
  const History& h = Load(CorpusFile{.file = file, .etcd = false, .porcupine_ms = 0});
  const auto start = std::chrono::steady_clock::now();
  auto split = Check(h, Options("kv"));
  const double split_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (!split) {
    state.SkipWithError(split.error().message().c_str());
    return;
  }
  Run(state, h, Options("kv-unpartitioned"), ValidityName(split->validity));
  state.counters["split_ms"] = split_ms;
  // A rate of iterations x split seconds, inverted: our seconds per iteration / split seconds.
  state.counters["vs_split"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * split_ms / 1000.0,
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK_CAPTURE(BM_KvUnpartitionedVsSplit, c50_ok, std::string("kv/c50-ok.txt"))
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(1);
BENCHMARK_CAPTURE(BM_KvUnpartitionedVsSplit, c50_bad, std::string("kv/c50-bad.txt"))
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(1);

// The same c50 files with the detectors off (CheckOptions::detectors): the whole-map search alone,
// its time and peak memory (the write-order detector decides c50-bad before any search).
void BM_KvUnpartitionedSearchOnly(benchmark::State& state, std::string file) {
  if (CorpusDir().empty()) {
    state.SkipWithError("FAULTLINE_CORPUS_DIR is not set");
    return;
  }
  const History& h = Load(CorpusFile{.file = file, .etcd = false, .porcupine_ms = 0});
  CheckOptions options = Options("kv-unpartitioned");
  options.detectors = false;
  Run(state, h, options, file.find("ok") != std::string::npos ? "valid" : "invalid");
}
BENCHMARK_CAPTURE(BM_KvUnpartitionedSearchOnly, c50_ok, std::string("kv/c50-ok.txt"))
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(1);
BENCHMARK_CAPTURE(BM_KvUnpartitionedSearchOnly, c50_bad, std::string("kv/c50-bad.txt"))
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(1);

// ---- generated histories ----

struct GenSpec {
  bool kv = false;
  size_t ops = 0;
  size_t processes = 0;
  size_t keys = 1;
  double info_rate = 0;
  uint64_t seed = 1;
  bool stale_read = false;  // plant write x, write y, read -> x late in the history
};

// Processes advance through invoke -> take effect -> complete, one random step at a time, so each
// op takes effect inside its interval; an info op may or may not take effect, and retires its
// process (it continues as process + P, as in Jepsen).
History Generate(const GenSpec& spec) {
  std::mt19937_64 rng(spec.seed);
  auto uniform = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  auto chance = [&](double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; };
  std::vector<Op> ops;
  std::vector<Value> reg(spec.keys, Value::Nil());
  std::vector<std::string> kv(spec.keys);
  struct Slot {
    int64_t process = 0;
    int stage = 0;  // 0 idle, 1 invoked, 2 took effect
    Op invoke;
    Value result;
    bool info = false;
  };
  std::vector<Slot> slots(spec.processes);
  for (size_t p = 0; p < spec.processes; ++p) slots[p].process = static_cast<int64_t>(p);
  size_t invoked = 0;
  size_t seq = 0;
  const size_t plant_at = spec.stale_read ? spec.ops * 9 / 10 : spec.ops + 1;
  auto key_value = [&](size_t k) { return Value::Int(static_cast<int64_t>(k)); };
  // Applies an op to the model, returning its ok result.
  auto apply = [&](const Op& inv) -> std::optional<Value> {
    size_t k = 0;
    Value arg = inv.value;
    if (spec.kv) {
      k = static_cast<size_t>(std::stoll(inv.key->text()));
      if (inv.f == "get") return Value::String(kv[k]);
      if (inv.f == "put") kv[k] = arg.text();
      if (inv.f == "append") kv[k] += arg.text();
      return arg;
    }
    if (spec.keys > 1) {
      k = static_cast<size_t>(arg.items()[0].as_int());
      arg = arg.items()[1];
    }
    auto wrap = [&](Value v) {
      return spec.keys > 1 ? Value::Vector({key_value(k), std::move(v)}) : v;
    };
    if (inv.f == "read") return wrap(reg[k]);
    if (inv.f == "write") {
      reg[k] = arg;
      return inv.value;
    }
    if (reg[k] == arg.items()[0]) {
      reg[k] = arg.items()[1];
      return inv.value;
    }
    return std::nullopt;  // cas compare false: fail
  };
  auto new_invoke = [&](int64_t process) {
    Op op{.index = -1,
          .time_ns = -1,
          .type = OpType::kInvoke,
          .process = Process::Client(process),
          .f = {},
          .key = std::nullopt,
          .value = {},
          .error = std::nullopt,
          .extras = {}};
    const size_t k = uniform(spec.keys);
    const size_t r = uniform(100);
    if (spec.kv) {
      op.key = Value::String(std::to_string(k));
      if (r < 50) {
        op.f = "get";
      } else if (r < 90) {
        op.f = "put";
        op.value = Value::String("x" + std::to_string(seq++) + " ");
      } else {
        op.f = "append";
        op.value = Value::String("y" + std::to_string(seq++) + " ");
      }
      return op;
    }
    Value v;
    if (r < 50) {
      op.f = "read";
    } else if (r < 75) {
      op.f = "write";
      v = Value::Int(static_cast<int64_t>(uniform(5)));
    } else {
      op.f = "cas";
      v = Value::Vector({Value::Int(static_cast<int64_t>(uniform(5))),
                         Value::Int(static_cast<int64_t>(uniform(5)))});
    }
    op.value = spec.keys > 1 ? Value::Vector({key_value(k), v}) : v;
    return op;
  };
  auto complete = [&](Slot& s) {
    if (s.info) {
      ops.push_back(s.invoke.Complete(OpType::kInfo, s.invoke.value));
      s.process += static_cast<int64_t>(spec.processes);
    } else if (s.result.kind() == history::ValueKind::kKeyword && s.result.text() == "fail") {
      ops.push_back(s.invoke.Complete(OpType::kFail, s.invoke.value));
    } else {
      ops.push_back(s.invoke.Complete(OpType::kOk, s.result));
    }
    s.stage = 0;
  };
  auto take_effect = [&](Slot& s) {
    if (s.info && chance(0.5)) return;  // an info op that never took effect
    std::optional<Value> r = apply(s.invoke);
    s.result = r ? *r : Value::Keyword("fail");
  };
  while (invoked < spec.ops ||
         std::any_of(slots.begin(), slots.end(), [](const Slot& s) { return s.stage != 0; })) {
    if (invoked == plant_at) {
      // Quiesce, then plant the stale read on key 0 with values no other op writes.
      for (Slot& s : slots) {
        if (s.stage == 1) take_effect(s);
        if (s.stage != 0) complete(s);
      }
      for (int64_t v : {100, 101}) {
        Op w = new_invoke(slots[0].process);
        w.f = spec.kv ? "put" : "write";
        if (spec.kv) {
          w.key = Value::String("0");
          w.value = Value::String("stale" + std::to_string(v));
        } else {
          w.value = spec.keys > 1 ? Value::Vector({key_value(0), Value::Int(v)}) : Value::Int(v);
        }
        ops.push_back(w);
        ops.push_back(w.Complete(OpType::kOk, *apply(w)));
      }
      Op r = new_invoke(slots[0].process);
      r.f = spec.kv ? "get" : "read";
      if (spec.kv) {
        r.key = Value::String("0");
        ops.push_back(r);
        ops.push_back(r.Complete(OpType::kOk, Value::String("stale100")));
      } else {
        r.value = spec.keys > 1 ? Value::Vector({key_value(0), Value::Nil()}) : Value::Nil();
        ops.push_back(r);
        ops.push_back(r.Complete(OpType::kOk, spec.keys > 1
                                                  ? Value::Vector({key_value(0), Value::Int(100)})
                                                  : Value::Int(100)));
      }
      invoked += 3;
      continue;
    }
    Slot& s = slots[uniform(slots.size())];
    if (s.stage == 0) {
      if (invoked >= spec.ops) continue;
      s.invoke = new_invoke(s.process);
      s.info = chance(spec.info_rate);
      s.result = Value();
      ops.push_back(s.invoke);
      ++invoked;
      s.stage = 1;
    } else if (s.stage == 1) {
      take_effect(s);
      s.stage = 2;
    } else {
      complete(s);
    }
  }
  for (size_t i = 0; i < ops.size(); ++i) {
    ops[i].index = static_cast<int64_t>(i);
    ops[i].time_ns = static_cast<int64_t>(i);
  }
  auto h = History::Build(std::move(ops));
  if (!h) {
    std::fprintf(stderr, "generate: %s\n", h.error().message().c_str());
    std::abort();
  }
  return std::move(*h);
}

void BM_Generated(benchmark::State& state, GenSpec spec, std::string model) {
  const History h = Generate(spec);
  CheckOptions options = Options(std::move(model));
  options.time_limit_s = 30;  // the goal is 10 s; past 30 s the verdict is unknown
  Run(state, h, options, spec.stale_read ? "invalid" : "valid");
  state.counters["seed"] = static_cast<double>(spec.seed);
}

// Registered at start-up: the corpus files (when FAULTLINE_CORPUS_DIR is set) and the generated
// sets, whose names spell their parameters.
int RegisterAll() {
  for (const CorpusFile& f : Manifest()) {
    benchmark::RegisterBenchmark(("BM_PorcupineFile/" + f.file).c_str(), BM_PorcupineFile, f)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
  auto cas = [](size_t ops, size_t procs, double info, bool stale, uint64_t seed) {
    const GenSpec spec{.kv = false,
                       .ops = ops,
                       .processes = procs,
                       .keys = 1,
                       .info_rate = info,
                       .seed = seed,
                       .stale_read = stale};
    const std::string name = "BM_CasRegister/ops:" + std::to_string(ops) +
                             "/procs:" + std::to_string(procs) +
                             "/info_pct:" + std::to_string(info * 100).substr(0, 3) +
                             (stale ? "/stale_read" : "/linearizable");
    benchmark::RegisterBenchmark(name.c_str(), BM_Generated, spec, std::string("cas-register"))
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime()
        ->Iterations(1);
  };
  cas(10000, 10, 0.01, false, 1);
  for (bool stale : {false, true}) {
    cas(1000, 5, 0.05, stale, 2);
    cas(1000, 20, 0.05, stale, 3);
    cas(5000, 10, 0.02, stale, 4);
    cas(10000, 10, 0.01, stale, 5);
    cas(10000, 20, 0.005, stale, 6);
    cas(20000, 5, 0.05, stale, 7);
    cas(50000, 10, 0.01, stale, 8);
    cas(50000, 20, 0.005, stale, 9);
  }
  benchmark::RegisterBenchmark("BM_Kv/ops:1000000/keys:1000/procs:50/info_pct:5", BM_Generated,
                               GenSpec{.kv = true,
                                       .ops = 1000000,
                                       .processes = 50,
                                       .keys = 1000,
                                       .info_rate = 0.05,
                                       .seed = 10,
                                       .stale_read = false},
                               std::string("kv"))
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime()
      ->Iterations(1);
  return 0;
}
const int kRegistered = RegisterAll();

}  // namespace
}  // namespace faultline::checker
