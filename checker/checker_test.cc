#include "checker/checker.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "checker/brute_force.h"
#include "history/history.h"

namespace faultline::checker {
namespace {

using history::History;
using history::Op;
using history::OpType;
using history::Process;
using history::Value;

Value I(int64_t i) { return Value::Int(i); }
Value S(std::string s) { return Value::String(std::move(s)); }
Value V(std::vector<Value> items) { return Value::Vector(std::move(items)); }
Value Nil() { return Value::Nil(); }

// One event: process, type, f, value, and an optional :key (kv).
struct Ev {
  int64_t process;
  OpType type;
  std::string f;
  Value value;
  std::optional<Value> key = std::nullopt;
};

Ev Inv(int64_t p, std::string f, Value v = Nil()) {
  return Ev{.process = p, .type = OpType::kInvoke, .f = std::move(f), .value = std::move(v)};
}
Ev Ok(int64_t p, std::string f, Value v = Nil()) {
  return Ev{.process = p, .type = OpType::kOk, .f = std::move(f), .value = std::move(v)};
}
Ev Fail(int64_t p, std::string f, Value v = Nil()) {
  return Ev{.process = p, .type = OpType::kFail, .f = std::move(f), .value = std::move(v)};
}
Ev Info(int64_t p, std::string f, Value v = Nil()) {
  return Ev{.process = p, .type = OpType::kInfo, .f = std::move(f), .value = std::move(v)};
}
Ev Keyed(Ev e, std::string key) {
  e.key = Value::String(std::move(key));
  return e;
}

History Build(const std::vector<Ev>& events) {
  std::vector<Op> ops;
  for (size_t i = 0; i < events.size(); ++i) {
    const Ev& e = events[i];
    ops.push_back(Op{.index = static_cast<int64_t>(i),
                     .time_ns = static_cast<int64_t>(i),
                     .type = e.type,
                     .process = e.process < 0 ? Process::Nemesis() : Process::Client(e.process),
                     .f = e.f,
                     .key = e.key,
                     .value = e.value,
                     .error = std::nullopt,
                     .extras = {}});
  }
  auto h = History::Build(std::move(ops));
  EXPECT_TRUE(h.has_value()) << h.error().message();
  return h ? std::move(*h) : History();
}

CheckOptions Model(std::string name, std::optional<Value> initial = std::nullopt) {
  return CheckOptions{.model = std::move(name),
                      .initial = std::move(initial),
                      .time_limit_s = 0,
                      .memory_limit_mb = 0,
                      .threads = 0};
}

struct Case {
  std::string name;
  std::string model;
  std::optional<Value> initial;
  std::vector<Ev> events;
  Validity expected;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

std::vector<Case> Cases() {
  const Validity ok = Validity::kValid;
  const Validity bad = Validity::kInvalid;
  return {
      // register
      {"RegisterEmpty", "register", std::nullopt, {}, ok},
      {"RegisterReadsNilFirst", "register", std::nullopt, {Inv(0, "read"), Ok(0, "read")}, ok},
      {"RegisterWriteThenRead",
       "register",
       std::nullopt,
       {Inv(0, "write", I(1)), Ok(0, "write", I(1)), Inv(1, "read"), Ok(1, "read", I(1))},
       ok},
      {"RegisterStaleRead",
       "register",
       std::nullopt,
       {Inv(0, "write", I(1)), Ok(0, "write", I(1)), Inv(0, "write", I(2)), Ok(0, "write", I(2)),
        Inv(1, "read"), Ok(1, "read", I(1))},
       bad},
      {"RegisterConcurrentReadMaySeeEither",
       "register",
       std::nullopt,
       {Inv(0, "write", I(1)), Inv(1, "read"), Ok(1, "read", I(1)), Inv(1, "read"),
        Ok(1, "read", Nil()), Ok(0, "write", I(1))},
       bad},
      {"RegisterConcurrentReadBeforeWrite",
       "register",
       std::nullopt,
       {Inv(0, "write", I(1)), Inv(1, "read"), Ok(1, "read", Nil()), Ok(0, "write", I(1))},
       ok},
      {"RegisterNilZeroAndEmptyStringDiffer",
       "register",
       std::nullopt,
       {Inv(0, "read"), Ok(0, "read", I(0))},
       bad},
      {"RegisterEmptyStringIsNotNil",
       "register",
       std::nullopt,
       {Inv(0, "read"), Ok(0, "read", S(""))},
       bad},
      {"RegisterInitialZero", "register", I(0), {Inv(0, "read"), Ok(0, "read", I(0))}, ok},
      {"RegisterInitialZeroIsNotNil", "register", I(0), {Inv(0, "read"), Ok(0, "read")}, bad},
      {"RegisterNemesisSkipped",
       "register",
       std::nullopt,
       {Info(-1, "start-partition", Value::Keyword("majority")), Inv(0, "read"), Ok(0, "read"),
        Info(-1, "start-partition", Nil())},
       ok},
      // info and fail semantics
      {"InfoWriteMayTakeEffectLate",
       "cas-register",
       std::nullopt,
       {Inv(0, "write", I(1)), Info(0, "write", I(1)), Inv(1, "read"), Ok(1, "read"),
        Inv(1, "read"), Ok(1, "read", I(1))},
       ok},
      {"InfoWriteTakesEffectOnce",
       "cas-register",
       std::nullopt,
       {Inv(0, "write", I(1)), Ok(0, "write", I(1)), Inv(1, "write", I(2)), Info(1, "write", I(2)),
        Inv(2, "read"), Ok(2, "read", I(2)), Inv(2, "read"), Ok(2, "read", I(1))},
       bad},
      {"InfoWriteMayNeverTakeEffect",
       "cas-register",
       std::nullopt,
       {Inv(0, "write", I(1)), Info(0, "write", I(1)), Inv(1, "read"), Ok(1, "read")},
       ok},
      {"OpenInvocationIsInfo",
       "cas-register",
       std::nullopt,
       {Inv(0, "write", I(3)), Inv(1, "read"), Ok(1, "read", I(3))},
       ok},
      {"InfoReadConstrainsNothing",
       "cas-register",
       std::nullopt,
       {Inv(0, "read"), Info(0, "read", I(4))},
       ok},
      {"FailedReadConstrainsNothing",
       "cas-register",
       std::nullopt,
       {Inv(0, "read"), Fail(0, "read", Value::Keyword("timed-out"))},
       ok},
      {"FailedWriteNeverTookEffect",
       "cas-register",
       std::nullopt,
       {Inv(0, "write", I(1)), Fail(0, "write", I(1)), Inv(1, "read"), Ok(1, "read", I(1))},
       bad},
      {"CasFromNilFails",
       "cas-register",
       std::nullopt,
       {Inv(0, "cas", V({I(0), I(1)})), Ok(0, "cas", V({I(0), I(1)}))},
       bad},
      {"CasWithInitialZero",
       "cas-register",
       I(0),
       {Inv(0, "cas", V({I(0), I(1)})), Ok(0, "cas", V({I(0), I(1)})), Inv(0, "read"),
        Ok(0, "read", I(1))},
       ok},
      {"CasChainContradiction",
       "cas-register",
       std::nullopt,
       {Inv(0, "write", I(1)), Ok(0, "write", I(1)), Inv(0, "cas", V({I(1), I(2)})),
        Ok(0, "cas", V({I(1), I(2)})), Inv(1, "cas", V({I(1), I(3)})),
        Ok(1, "cas", V({I(1), I(3)}))},
       bad},
      {"InfoCasAppliesOnlyWhenCompareHolds",
       "cas-register",
       std::nullopt,
       {Inv(0, "write", I(1)), Ok(0, "write", I(1)), Inv(1, "cas", V({I(2), I(3)})),
        Info(1, "cas", V({I(2), I(3)})), Inv(2, "read"), Ok(2, "read", I(3))},
       bad},
      // independent keys: [key value]
      {"IndependentKeysAreSeparateRegisters",
       "cas-register",
       std::nullopt,
       {Inv(0, "write", V({I(1), I(5)})), Ok(0, "write", V({I(1), I(5)})),
        Inv(1, "read", V({I(2), Nil()})), Ok(1, "read", V({I(2), Nil()})),
        Inv(1, "read", V({I(1), Nil()})), Ok(1, "read", V({I(1), I(5)}))},
       ok},
      {"IndependentKeyStaleRead",
       "independent/cas-register",
       std::nullopt,
       {Inv(0, "write", V({I(1), I(5)})), Ok(0, "write", V({I(1), I(5)})),
        Inv(1, "read", V({I(1), Nil()})), Ok(1, "read", V({I(1), Nil()}))},
       bad},
      // kv
      {"KvPutAppendGet",
       "kv",
       std::nullopt,
       {Keyed(Inv(0, "put", S("a")), "k"), Keyed(Ok(0, "put", S("a")), "k"),
        Keyed(Inv(0, "append", S("b")), "k"), Keyed(Ok(0, "append", S("b")), "k"),
        Keyed(Inv(1, "get"), "k"), Keyed(Ok(1, "get", S("ab")), "k"), Keyed(Inv(1, "get"), "j"),
        Keyed(Ok(1, "get", S("")), "j")},
       ok},
      {"KvLostAppend",
       "kv",
       std::nullopt,
       {Keyed(Inv(0, "append", S("a")), "k"), Keyed(Ok(0, "append", S("a")), "k"),
        Keyed(Inv(0, "append", S("b")), "k"), Keyed(Ok(0, "append", S("b")), "k"),
        Keyed(Inv(1, "get"), "k"), Keyed(Ok(1, "get", S("b")), "k")},
       bad},
      {"KvGetNilIsNotEmpty",
       "kv",
       std::nullopt,
       {Keyed(Inv(1, "get"), "k"), Keyed(Ok(1, "get", Nil()), "k")},
       bad},
      {"KvInitial",
       "kv",
       S("x"),
       {Keyed(Inv(1, "get"), "k"), Keyed(Ok(1, "get", S("x")), "k")},
       ok},
      {"KvUnpartitioned",
       "kv-unpartitioned",
       std::nullopt,
       {Keyed(Inv(0, "put", S("a")), "k"), Keyed(Inv(1, "put", S("b")), "j"),
        Keyed(Ok(0, "put", S("a")), "k"), Keyed(Ok(1, "put", S("b")), "j"),
        Keyed(Inv(1, "get"), "k"), Keyed(Ok(1, "get", S("a")), "k")},
       ok},
      // multi-register
      {"MultiRegisterReadsWrites",
       "multi-register",
       std::nullopt,
       {Inv(0, "write", Value::Map({Value::Keyword("x"), I(1), Value::Keyword("y"), I(2)})),
        Ok(0, "write", Value::Map({Value::Keyword("x"), I(1), Value::Keyword("y"), I(2)})),
        Inv(1, "read", Value::Map({Value::Keyword("x"), Nil()})),
        Ok(1, "read", Value::Map({Value::Keyword("x"), I(1), Value::Keyword("z"), Nil()}))},
       ok},
      {"MultiRegisterTornWrite",
       "multi-register",
       std::nullopt,
       {Inv(0, "write", Value::Map({Value::Keyword("x"), I(1), Value::Keyword("y"), I(2)})),
        Ok(0, "write", Value::Map({Value::Keyword("x"), I(1), Value::Keyword("y"), I(2)})),
        Inv(1, "read", Nil()),
        Ok(1, "read", Value::Map({Value::Keyword("x"), I(1), Value::Keyword("y"), Nil()}))},
       bad},
      // set
      {"SetAddRead",
       "set",
       std::nullopt,
       {Inv(0, "add", I(1)), Ok(0, "add", I(1)), Inv(1, "add", I(2)), Info(1, "add", I(2)),
        Inv(2, "read"), Ok(2, "read", Value::Set({I(1)})), Inv(2, "read"),
        Ok(2, "read", Value::Set({I(2), I(1)}))},
       ok},
      {"SetLostAdd",
       "set",
       std::nullopt,
       {Inv(0, "add", I(1)), Ok(0, "add", I(1)), Inv(2, "read"), Ok(2, "read", Value::Set({}))},
       bad},
      {"SetInitial", "set", Value::Set({I(7)}), {Inv(2, "read"), Ok(2, "read", V({I(7)}))}, ok},
      // mutex
      {"MutexAlternates",
       "mutex",
       std::nullopt,
       {Inv(0, "acquire"), Ok(0, "acquire"), Inv(1, "acquire"), Inv(0, "release"), Ok(0, "release"),
        Ok(1, "acquire")},
       ok},
      {"MutexDoubleAcquire",
       "mutex",
       std::nullopt,
       {Inv(0, "acquire"), Ok(0, "acquire"), Inv(1, "acquire"), Ok(1, "acquire")},
       bad},
      {"MutexInitiallyHeld",
       "mutex",
       Value::Bool(true),
       {Inv(0, "acquire"), Ok(0, "acquire")},
       bad},
      // queues
      {"FifoOrder",
       "fifo-queue",
       std::nullopt,
       {Inv(0, "enqueue", I(1)), Ok(0, "enqueue", I(1)), Inv(0, "enqueue", I(2)),
        Ok(0, "enqueue", I(2)), Inv(1, "dequeue"), Ok(1, "dequeue", I(1))},
       ok},
      {"FifoOutOfOrder",
       "fifo-queue",
       std::nullopt,
       {Inv(0, "enqueue", I(1)), Ok(0, "enqueue", I(1)), Inv(0, "enqueue", I(2)),
        Ok(0, "enqueue", I(2)), Inv(1, "dequeue"), Ok(1, "dequeue", I(2))},
       bad},
      {"FifoInfoDequeueRemovesHead",
       "fifo-queue",
       std::nullopt,
       {Inv(0, "enqueue", I(1)), Ok(0, "enqueue", I(1)), Inv(0, "enqueue", I(2)),
        Ok(0, "enqueue", I(2)), Inv(2, "dequeue"), Info(2, "dequeue"), Inv(1, "dequeue"),
        Ok(1, "dequeue", I(2))},
       ok},
      {"FifoEmptyDequeue",
       "fifo-queue",
       std::nullopt,
       {Inv(0, "enqueue", I(1)), Ok(0, "enqueue", I(1)), Inv(1, "dequeue"), Ok(1, "dequeue")},
       bad},
      {"UnorderedAnyOrder",
       "unordered-queue",
       std::nullopt,
       {Inv(0, "enqueue", I(1)), Ok(0, "enqueue", I(1)), Inv(0, "enqueue", I(2)),
        Ok(0, "enqueue", I(2)), Inv(1, "dequeue"), Ok(1, "dequeue", I(2))},
       ok},
      {"UnorderedDuplicateDequeue",
       "unordered-queue",
       std::nullopt,
       {Inv(0, "enqueue", I(1)), Ok(0, "enqueue", I(1)), Inv(1, "dequeue"), Ok(1, "dequeue", I(1)),
        Inv(1, "dequeue"), Ok(1, "dequeue", I(1))},
       bad},
      {"UnorderedInfoDequeueMayEmpty",
       "unordered-queue",
       std::nullopt,
       {Inv(0, "enqueue", I(1)), Ok(0, "enqueue", I(1)), Inv(0, "enqueue", I(2)),
        Ok(0, "enqueue", I(2)), Inv(2, "dequeue"), Info(2, "dequeue"), Inv(1, "dequeue"),
        Ok(1, "dequeue", I(1)), Inv(1, "dequeue"), Ok(1, "dequeue")},
       ok},
      {"UnorderedInfoDequeueRemovesOnlyOne",
       "unordered-queue",
       std::nullopt,
       {Inv(0, "enqueue", I(1)), Ok(0, "enqueue", I(1)), Inv(0, "enqueue", I(2)),
        Ok(0, "enqueue", I(2)), Inv(2, "dequeue"), Info(2, "dequeue"), Inv(1, "dequeue"),
        Ok(1, "dequeue")},
       bad},
  };
}

class ModelCases : public testing::TestWithParam<Case> {};

TEST_P(ModelCases, GivesExpectedVerdict) {
  const Case& c = GetParam();
  const History h = Build(c.events);
  auto result = Check(h, Model(c.model, c.initial));
  ASSERT_TRUE(result.has_value()) << result.error().message();
  EXPECT_EQ(ValidityName(result->validity), ValidityName(c.expected));
  EXPECT_EQ(result->counterexample.has_value(), c.expected == Validity::kInvalid);
  if (result->counterexample) {
    const Counterexample& cx = *result->counterexample;
    ASSERT_LT(cx.failing_op, h.size());
    EXPECT_TRUE(h[cx.failing_op].is_invoke());
    EXPECT_FALSE(cx.prefixes.empty());
    EXPECT_FALSE(cx.explanation.empty());
  }
}

INSTANTIATE_TEST_SUITE_P(Models, ModelCases, testing::ValuesIn(Cases()),
                         [](const testing::TestParamInfo<Case>& p) { return p.param.name; });

TEST(Check, ExplainsStaleRead) {
  const History h = Build({Inv(0, "write", I(1)), Ok(0, "write", I(1)), Inv(0, "write", I(2)),
                           Ok(0, "write", I(2)), Inv(1, "read"), Ok(1, "read", I(1))});
  auto r = Check(h, Model("register"));
  ASSERT_TRUE(r.has_value());
  ASSERT_TRUE(r->counterexample.has_value());
  const Counterexample& cx = *r->counterexample;
  EXPECT_EQ(cx.failing_op, 4u);
  EXPECT_EQ(cx.key, "");
  ASSERT_EQ(cx.prefixes.size(), 1u);
  EXPECT_EQ(cx.prefixes[0], (std::vector<size_t>{0, 2}));
  EXPECT_EQ(cx.states, (std::vector<std::string>{"2"}));
  EXPECT_EQ(cx.explanation,
            "read() -> 1, but the register holds 2: write(2) overwrote every write of 1 before the "
            "read began");
}

// The same stale read, but an info op (invoked too late to help) also writes 1: the detector must
// not fire, since an info write may take effect at any time; the search explains from states.
TEST(Check, SearchExplainsWhatTheDetectorCannot) {
  // (No later read of 2 here: the detector would blame it, since the read of 1 ran after every
  // write of 2.)
  const History h =
      Build({Inv(0, "write", I(1)), Ok(0, "write", I(1)), Inv(0, "write", I(2)),
             Ok(0, "write", I(2)), Inv(1, "read"), Ok(1, "read", I(1)), Inv(2, "write", I(1))});
  auto r = Check(h, Model("register"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->validity, Validity::kInvalid);
  ASSERT_TRUE(r->counterexample.has_value());
  EXPECT_EQ(r->counterexample->failing_op, 4u);
  EXPECT_EQ(r->counterexample->explanation, "read() -> 1, but the register holds 2");
}

TEST(Check, DetectsReadOfValueNeverWritten) {
  const History h =
      Build({Inv(0, "write", I(1)), Ok(0, "write", I(1)), Inv(1, "read"), Ok(1, "read", I(7))});
  auto r = Check(h, Model("cas-register"));
  ASSERT_TRUE(r.has_value());
  ASSERT_TRUE(r->counterexample.has_value());
  EXPECT_EQ(r->counterexample->failing_op, 2u);
  EXPECT_EQ(r->counterexample->explanation, "read() -> 7 cannot be linearized: no op writes 7");
}

TEST(Check, CountsOpsAndPartitions) {
  const History h = Build({Keyed(Inv(0, "put", S("a")), "k"), Keyed(Ok(0, "put", S("a")), "k"),
                           Info(-1, "start-partition", Nil()), Keyed(Inv(1, "get"), "j"),
                           Keyed(Ok(1, "get", S("")), "j"), Info(-1, "start-partition", Nil())});
  auto r = Check(h, Model("kv"));
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->ops, 2u);
  EXPECT_EQ(r->partitions, 2u);
  EXPECT_EQ(r->validity, Validity::kValid);
}

// Keys 1..6, with violations on keys 3 and 5: key 3 is reported, every time, on any thread count.
TEST(Check, ReportsSmallestInvalidKeyDeterministically) {
  std::vector<Ev> events;
  for (int64_t k = 1; k <= 6; ++k) {
    events.push_back(Inv(0, "write", V({I(k), I(1)})));
    events.push_back(Ok(0, "write", V({I(k), I(1)})));
    events.push_back(Inv(1, "read", V({I(k), Nil()})));
    const int64_t seen = k == 3 || k == 5 ? 2 : 1;
    events.push_back(Ok(1, "read", V({I(k), I(seen)})));
  }
  const History h = Build(events);
  std::optional<Counterexample> first;
  for (int threads : {1, 2, 4, 1, 2, 4}) {
    CheckOptions o = Model("cas-register");
    o.threads = threads;
    auto r = Check(h, o);
    ASSERT_TRUE(r.has_value()) << r.error().message();
    ASSERT_EQ(r->validity, Validity::kInvalid);
    ASSERT_TRUE(r->counterexample.has_value());
    EXPECT_EQ(r->counterexample->key, "3");
    EXPECT_EQ(r->counterexample->failing_op, 10u);
    if (!first) first = r->counterexample;
    EXPECT_EQ(r->counterexample->prefixes, first->prefixes);
    EXPECT_EQ(r->counterexample->states, first->states);
    EXPECT_EQ(r->counterexample->explanation, first->explanation);
  }
}

// Many concurrent processes writing and reading a few values, plus info writes that stay open: a
// large search space, linearizable by construction (every read returns the value of the write
// immediately before it in a sequential order that respects real time).
History HardLinearizable(size_t rounds) {
  std::vector<Ev> events;
  const int64_t procs = 8;
  int64_t value = 0;
  for (size_t r = 0; r < rounds; ++r) {
    for (int64_t p = 0; p < procs; ++p) events.push_back(Inv(p, "write", I((value + p) % 3)));
    for (int64_t p = 0; p < procs; ++p) events.push_back(Ok(p, "write", I((value + p) % 3)));
    events.push_back(Inv(0, "read"));
    events.push_back(Ok(0, "read", I((value + procs - 1) % 3)));
    ++value;
  }
  for (int64_t p = 0; p < 12; ++p) events.push_back(Inv(100 + p, "write", I(p % 3)));
  return Build(events);
}

// A long cas-register history shaped like tools/generate.cc's (checker/ may not depend on tools/):
// `procs` processes run reads, writes and cas of the values 0..4 back to back; `info_rate` of the
// ops time out (info: they take effect later or never, and a fifth never complete). At 70% of the
// ops one violation is planted with fresh values, as sequential ok ops: "lost-write" (write a,
// write b, cas a->c, read c) or "cas-chain" (write a, cas a->b, cas b->c, cas a->d). Every other
// op is consistent with a sequential run in the order of points inside the ops' intervals.
History PlantedViolation(size_t ops, int procs, double info_rate, const std::string& shape,
                         uint64_t seed) {
  enum class Kind { kRead, kWrite, kCas };
  struct GenOp {
    int64_t process = 0;
    Kind kind = Kind::kRead;
    int64_t a = 0;
    int64_t b = 0;
    int64_t invoke = 0;
    int64_t complete = 0;
    std::optional<double> point;
    OpType outcome = OpType::kOk;
    bool open = false;
    bool planted = false;
    std::optional<int64_t> forced;  // a planted read's result
    Value result;
  };
  std::mt19937_64 rng(seed);
  auto uniform = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  auto chance = [&](double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; };
  std::vector<int64_t> free_at(static_cast<size_t>(procs));
  std::vector<int64_t> process(static_cast<size_t>(procs));
  for (size_t s = 0; s < free_at.size(); ++s) {
    free_at[s] = uniform(0, 1000);
    process[s] = static_cast<int64_t>(s);
  }
  std::vector<GenOp> gen;
  int64_t last_planted = 0;
  auto schedule = [&](Kind kind, int64_t not_before) -> GenOp& {
    const size_t s =
        static_cast<size_t>(std::min_element(free_at.begin(), free_at.end()) - free_at.begin());
    GenOp op;
    op.process = process[s];
    op.kind = kind;
    op.invoke = std::max(free_at[s], not_before) + uniform(1, 50) * 1000;
    op.complete = op.invoke + uniform(1, 200) * 1000;
    free_at[s] = op.complete;
    const double span = static_cast<double>(op.complete - op.invoke);
    op.point = static_cast<double>(op.invoke) +
               (0.05 + 0.9 * std::uniform_real_distribution<double>(0, 1)(rng)) * span;
    if (!chance(info_rate) || not_before > 0) {
      gen.push_back(op);
      return gen.back();
    }
    op.outcome = OpType::kInfo;
    op.open = chance(0.2);
    process[s] += procs;  // a process whose op timed out is replaced by a new one
    op.point.reset();
    if (chance(0.5)) {
      op.point = static_cast<double>(op.invoke) +
                 std::uniform_real_distribution<double>(0, 1)(rng) * 4.0 * span + 1.0;
    }
    gen.push_back(op);
    return gen.back();
  };
  auto plant = [&](Kind kind, int64_t a, int64_t b = 0) -> GenOp& {
    GenOp& op = schedule(kind, std::max<int64_t>(last_planted, 1));
    op.a = a;
    op.b = b;
    op.planted = true;
    last_planted = op.complete;
    return op;
  };
  const size_t regular = ops - 4;
  for (size_t i = 0; i <= regular; ++i) {
    if (i == regular * 7 / 10) {
      const int64_t a = 105;
      const int64_t b = 106;
      const int64_t c = 107;
      if (shape == "lost-write") {
        plant(Kind::kWrite, a);
        plant(Kind::kWrite, b);
        plant(Kind::kCas, a, c);
        plant(Kind::kRead, 0).forced = c;
      } else {
        plant(Kind::kWrite, a);
        plant(Kind::kCas, a, b);
        plant(Kind::kCas, b, c);
        plant(Kind::kCas, a, 108);
      }
    }
    if (i == regular) break;
    const int64_t r = uniform(0, 9);
    GenOp& op = schedule(r < 4 ? Kind::kRead : r < 7 ? Kind::kWrite : Kind::kCas, 0);
    op.a = uniform(0, 4);
    op.b = uniform(0, 4);
  }
  // Apply the ops that take effect in point order; a cas whose compare is false fails.
  std::vector<size_t> order;
  for (size_t i = 0; i < gen.size(); ++i) {
    if (gen[i].point) order.push_back(i);
  }
  std::sort(order.begin(), order.end(),
            [&](size_t x, size_t y) { return *gen[x].point < *gen[y].point; });
  Value cur = Nil();
  for (size_t i : order) {
    GenOp& op = gen[i];
    if (op.kind == Kind::kRead) {
      op.result = op.forced ? I(*op.forced) : cur;
    } else if (op.kind == Kind::kWrite) {
      cur = I(op.a);
    } else if (cur == I(op.a) || op.planted) {
      cur = I(op.b);
    } else if (op.outcome == OpType::kOk) {
      op.outcome = OpType::kFail;
    }
  }
  struct Event {
    int64_t time;
    size_t op;
    bool completion;
  };
  std::vector<Event> events;
  for (size_t i = 0; i < gen.size(); ++i) {
    events.push_back({gen[i].invoke, i, false});
    if (!gen[i].open) events.push_back({gen[i].complete, i, true});
  }
  std::sort(events.begin(), events.end(), [](const Event& x, const Event& y) {
    if (x.time != y.time) return x.time < y.time;
    if (x.op != y.op) return x.op < y.op;
    return x.completion < y.completion;
  });
  std::vector<Ev> evs;
  for (const Event& e : events) {
    const GenOp& g = gen[e.op];
    const std::string f = g.kind == Kind::kRead ? "read" : g.kind == Kind::kWrite ? "write" : "cas";
    const Value arg = g.kind == Kind::kRead    ? Nil()
                      : g.kind == Kind::kWrite ? I(g.a)
                                               : V({I(g.a), I(g.b)});
    if (!e.completion) {
      evs.push_back(Inv(g.process, f, arg));
      continue;
    }
    const bool ok_read = g.kind == Kind::kRead && g.outcome == OpType::kOk;
    evs.push_back(
        Ev{.process = g.process, .type = g.outcome, .f = f, .value = ok_read ? g.result : arg});
  }
  return Build(evs);
}

// Issue 3: a violation planted late in a long history with 20 processes and 5% info ops. The
// depth-first search alone must exhaust every configuration before the violation, which it does not
// within minutes; the cas detector decides it at once.
TEST(Check, DetectorBlamesReadAfterAReadOfAnotherValue) {
  // write 1; write 2 (info, may take effect late); read 2; read 1: after the read of 2, nothing can
  // set 1 again (its only write completed before), so the read of 1 is stale.
  const History h = Build({Inv(0, "write", I(1)), Ok(0, "write", I(1)), Inv(1, "write", I(2)),
                           Info(1, "write", I(2)), Inv(2, "read"), Ok(2, "read", I(2)),
                           Inv(2, "read"), Ok(2, "read", I(1))});
  auto r = Check(h, Model("cas-register"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->validity, Validity::kInvalid);
  ASSERT_TRUE(r->counterexample.has_value());
  EXPECT_EQ(r->counterexample->failing_op, 6u);
  EXPECT_EQ(r->counterexample->explanation,
            "read() -> 1, but the register holds 2: read() -> 2 ran after every write of 1 before "
            "the read began");
}

TEST(Check, DetectorBlamesCasFromAnOverwrittenValue) {
  // write 1; write 2; cas 1->3 ok: the cas compared 1, but 2 overwrote every write of 1.
  const History h =
      Build({Inv(0, "write", I(1)), Ok(0, "write", I(1)), Inv(0, "write", I(2)),
             Ok(0, "write", I(2)), Inv(1, "cas", V({I(1), I(3)})), Ok(1, "cas", V({I(1), I(3)}))});
  auto r = Check(h, Model("cas-register"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->validity, Validity::kInvalid);
  ASSERT_TRUE(r->counterexample.has_value());
  EXPECT_EQ(r->counterexample->failing_op, 4u);
  EXPECT_EQ(r->counterexample->explanation,
            "cas(1, 3), but the register holds 2: write(2) overwrote every write of 1 before the "
            "cas began");
}

// Issue 16: reader 2 sees 1 then 2, reader 3 sees 2 then 1, while both writes (and an info write
// of 9) are open over the whole window: every read has a concurrent writer of its value, so the
// stale-read detector cannot fire; the write-order detector finds the cycle.
History ContradictoryReaders(bool contradict) {
  return Build({Inv(0, "write", I(1)), Inv(1, "write", I(2)), Inv(4, "write", I(9)), Inv(2, "read"),
                Ok(2, "read", I(1)), Inv(3, "read"), Ok(3, "read", I(contradict ? 2 : 1)),
                Inv(2, "read"), Ok(2, "read", I(2)), Inv(3, "read"),
                Ok(3, "read", I(contradict ? 1 : 2)), Ok(0, "write", I(1)), Ok(1, "write", I(2)),
                Info(4, "write", I(9))});
}

TEST(Check, WriteOrderCycleDecidesContradictoryReaders) {
  for (const char* model : {"register", "cas-register"}) {
    auto r = Check(ContradictoryReaders(true), Model(model));
    ASSERT_TRUE(r.has_value()) << r.error().message();
    EXPECT_EQ(r->validity, Validity::kInvalid) << model;
    EXPECT_EQ(r->configurations, 0u) << model << ": the detector, not the search, decides";
    ASSERT_TRUE(r->counterexample.has_value());
    EXPECT_NE(r->counterexample->explanation.find("admit no order"), std::string::npos)
        << r->counterexample->explanation;
    auto brute =
        BruteForceCheck(ContradictoryReaders(true), {.model = model, .initial = {}, .max_ops = 16});
    ASSERT_TRUE(brute.has_value());
    EXPECT_EQ(*brute, Validity::kInvalid);
  }
}

TEST(Check, WriteOrderDetectorSparesReadersThatAgree) {
  auto r = Check(ContradictoryReaders(false), Model("cas-register"));
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->validity, Validity::kValid);
}

// A value written twice says nothing about which write a read saw: no cycle may be inferred.
TEST(Check, WriteOrderDetectorIgnoresValuesWrittenTwice) {
  History h = Build({Inv(0, "write", I(1)), Inv(1, "write", I(2)), Inv(5, "write", I(1)),
                     Inv(2, "read"), Ok(2, "read", I(1)), Inv(3, "read"), Ok(3, "read", I(2)),
                     Inv(2, "read"), Ok(2, "read", I(2)), Inv(3, "read"), Ok(3, "read", I(1)),
                     Ok(0, "write", I(1)), Ok(1, "write", I(2)), Ok(5, "write", I(1))});
  auto r = Check(h, Model("register"));
  ASSERT_TRUE(r.has_value()) << r.error().message();
  auto brute = BruteForceCheck(h, {.model = "register", .initial = {}, .max_ops = 16});
  ASSERT_TRUE(brute.has_value());
  EXPECT_EQ(r->validity, *brute);
  EXPECT_EQ(r->validity, Validity::kValid);
}

TEST(Check, DecidesLateViolationsInLongHistories) {
  for (const std::string shape : {"lost-write", "cas-chain"}) {
    const History h = PlantedViolation(2000, 20, 0.05, shape, 11);
    CheckOptions o = Model("cas-register");
    o.time_limit_s = 30;
    auto r = Check(h, o);
    ASSERT_TRUE(r.has_value()) << r.error().message();
    EXPECT_EQ(ValidityName(r->validity), "invalid") << shape << ": " << r->unknown_reason;
    ASSERT_TRUE(r->counterexample.has_value()) << shape;
    const Op& failing = h[r->counterexample->failing_op];
    EXPECT_TRUE(failing.is_invoke()) << shape;
    EXPECT_EQ(failing.f, "cas") << shape;
  }
}

// The frontier search alone (no detector) decides such a history and explains it: it stops at the
// first op (by return) that cannot be linearized, with the linearization before it. Fewer
// processes and info ops keep the frontier narrow (with 20 processes and 5% info ops it is too
// wide; there the detector decides).
TEST(Check, FrontierSearchDecidesLateViolation) {
  for (const std::string shape : {"lost-write", "cas-chain"}) {
    const History h = PlantedViolation(2000, 5, 0.01, shape, 11);
    CheckOptions o = Model("cas-register");
    o.time_limit_s = 60;
    o.search = SearchMode::kFrontier;
    auto r = Check(h, o);
    ASSERT_TRUE(r.has_value()) << r.error().message();
    EXPECT_EQ(ValidityName(r->validity), "invalid") << shape << ": " << r->unknown_reason;
    ASSERT_TRUE(r->counterexample.has_value()) << shape;
    const Counterexample& cx = *r->counterexample;
    EXPECT_EQ(h[cx.failing_op].f, "cas") << shape;
    ASSERT_FALSE(cx.prefixes.empty());
    // The prefix linearizes every ok op that completed before the failing op was invoked.
    EXPECT_GT(cx.prefixes[0].size(), 1000u) << shape;
    EXPECT_FALSE(cx.states.empty()) << shape;
  }
}

TEST(Check, TimeLimitGivesUnknownNeverValid) {
  const History h = HardLinearizable(3000);
  CheckOptions o = Model("cas-register");
  auto full = Check(h, o);
  ASSERT_TRUE(full.has_value());
  ASSERT_EQ(full->validity, Validity::kValid);
  o.time_limit_s = 0.001;
  auto r = Check(h, o);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->validity, Validity::kUnknown);
  EXPECT_FALSE(r->counterexample.has_value());
  EXPECT_NE(r->unknown_reason.find("time limit"), std::string::npos) << r->unknown_reason;
  EXPECT_EQ(r->unknown_keys.size(), 1u);
}

TEST(Check, MemoryLimitGivesUnknown) {
  const History h = HardLinearizable(3000);
  CheckOptions o = Model("cas-register");
  o.memory_limit_mb = 1;
  auto r = Check(h, o);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->validity, Validity::kUnknown);
  EXPECT_NE(r->unknown_reason.find("memory limit of 1 MB"), std::string::npos) << r->unknown_reason;
  EXPECT_LE(r->peak_memory_bytes, size_t{1} << 20);
}

TEST(Check, UnknownModelIsAnError) {
  auto r = Check(History(), Model("queue"));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message().find("unknown model"), std::string::npos);
}

TEST(Check, MalformedCasIsAnErrorNamingTheOp) {
  const History h = Build({Inv(0, "read"), Ok(0, "read"), Inv(0, "cas", I(3)), Ok(0, "cas", I(3))});
  auto r = Check(h, Model("cas-register"));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message().find("op 2"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("[old new]"), std::string::npos) << r.error().message();
}

TEST(Check, ModelNamesAreSorted) {
  const std::vector<std::string> names = ModelNames();
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  EXPECT_NE(std::find(names.begin(), names.end(), "cas-register"), names.end());
}

TEST(Validity, MergeTakesTheWorst) {
  EXPECT_EQ(Merge(Validity::kValid, Validity::kUnknown), Validity::kUnknown);
  EXPECT_EQ(Merge(Validity::kInvalid, Validity::kUnknown), Validity::kInvalid);
  EXPECT_EQ(Merge(Validity::kValid, Validity::kValid), Validity::kValid);
  EXPECT_EQ(ValidityName(Validity::kInvalid), "invalid");
}

}  // namespace
}  // namespace faultline::checker
