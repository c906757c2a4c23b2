#include "runner/generator.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

namespace faultline::runner {
namespace {

using history::Op;
using history::Process;

std::vector<Op> Draw(GeneratorOptions options, int rounds) {
  Generator gen(options);
  std::vector<Op> ops;
  for (int r = 0; r < rounds; ++r) {
    for (int w = 0; w < options.concurrency; ++w) ops.push_back(gen.Next(w, Process::Client(w)));
  }
  return ops;
}

TEST(GeneratorTest, SameSeedSameOps) {
  GeneratorOptions o{.concurrency = 6, .per_key_limit = 2, .ops_per_key = 7, .seed = 42};
  const std::vector<Op> a = Draw(o, 50);
  const std::vector<Op> b = Draw(o, 50);
  EXPECT_EQ(a, b);
  o.seed = 43;
  EXPECT_NE(a, Draw(o, 50));
}

TEST(GeneratorTest, RegisterOpsAreWellFormed) {
  GeneratorOptions o{.concurrency = 4, .value_domain = 5, .seed = 1};
  std::map<std::string, int> fs;
  for (const Op& op : Draw(o, 100)) {
    ++fs[op.f];
    ASSERT_TRUE(op.is_invoke());
    ASSERT_TRUE(op.key.has_value());
    if (op.f == "write") {
      ASSERT_TRUE(op.value.is_int());
      EXPECT_GE(op.value.as_int(), 0);
      EXPECT_LT(op.value.as_int(), 5);
    } else if (op.f == "cas") {
      ASSERT_TRUE(op.value.is_sequential());
      ASSERT_EQ(op.value.size(), 2u);
    } else {
      ASSERT_EQ(op.f, "read");
      EXPECT_TRUE(op.value.is_nil());
    }
  }
  EXPECT_EQ(fs.size(), 3u);
  for (const auto& [f, n] : fs) EXPECT_GT(n, 50) << f;
}

// No key is ever shared by more than per_key_limit workers, and each key gets at most ops_per_key
// invocations.
TEST(GeneratorTest, PerKeyBound) {
  GeneratorOptions o{.concurrency = 10, .per_key_limit = 3, .ops_per_key = 5, .seed = 9};
  Generator gen(o);
  std::map<std::string, std::set<int>> workers_of_key;
  std::map<std::string, int> ops_of_key;
  std::mt19937_64 order(3);
  for (int i = 0; i < 2000; ++i) {
    const int w = static_cast<int>(order() % 10);
    const Op op = gen.Next(w, Process::Client(w));
    workers_of_key[op.key->text()].insert(w);
    ++ops_of_key[op.key->text()];
  }
  EXPECT_GT(workers_of_key.size(), 100u);
  for (const auto& [key, workers] : workers_of_key) EXPECT_LE(workers.size(), 3u) << key;
  for (const auto& [key, n] : ops_of_key) EXPECT_LE(n, 5) << key;
}

TEST(GeneratorTest, SetAddsAreUniqueAndFinalReadsMarked) {
  GeneratorOptions o{.workload = Workload::kSet, .concurrency = 5, .seed = 2};
  Generator gen(o);
  std::set<int64_t> added;
  int reads = 0;
  for (int i = 0; i < 1000; ++i) {
    const int w = i % 5;
    const Op op = gen.Next(w, Process::Client(w));
    if (op.f == "add") {
      EXPECT_TRUE(added.insert(op.value.as_int()).second) << op.value.as_int();
    } else {
      ++reads;
    }
  }
  EXPECT_GT(reads, 20);
  EXPECT_LT(reads, 250);
  std::optional<Op> final_read = gen.FinalRead(0, Process::Client(0));
  ASSERT_TRUE(final_read.has_value());
  ASSERT_NE(final_read->FindExtra(kFinalField), nullptr);
  EXPECT_TRUE(final_read->FindExtra(kFinalField)->as_bool());
  GeneratorOptions r{.workload = Workload::kRegister};
  EXPECT_FALSE(Generator(r).FinalRead(0, Process::Client(0)).has_value());
}

TEST(GeneratorTest, DelayFollowsRateWithJitter) {
  GeneratorOptions o{.concurrency = 10, .rate = 100, .seed = 1};
  Generator gen(o);
  double sum = 0;
  for (int i = 0; i < 1000; ++i) {
    const double d = std::chrono::duration<double>(gen.Delay(i % 10)).count();
    EXPECT_GE(d, 0.05);
    EXPECT_LT(d, 0.15);
    sum += d;
  }
  EXPECT_NEAR(sum / 1000, 0.1, 0.01);
  GeneratorOptions unlimited{.concurrency = 10, .rate = 0};
  EXPECT_EQ(Generator(unlimited).Delay(0).count(), 0);
}

TEST(GeneratorTest, InfoMakesANewProcessOfTheSameWorker) {
  const Process p = NextProcess(Process::Client(3), 10);
  EXPECT_EQ(p, Process::Client(13));
  EXPECT_EQ(NextProcess(p, 10), Process::Client(23));
}

TEST(NemesisScheduleTest, SeededAndWithinKinds) {
  NemesisScheduleOptions o{.kinds = {FaultKind::kPartition, FaultKind::kKill, FaultKind::kLoss},
                           .nodes = {"n1", "n2", "n3", "n4", "n5"},
                           .isolate_node = "",
                           .seed = 5};
  NemesisSchedule a(o);
  NemesisSchedule b(o);
  std::set<FaultKind> seen;
  for (int i = 0; i < 50; ++i) {
    Result<FaultPlan> x = a.Next();
    Result<FaultPlan> y = b.Next();
    ASSERT_TRUE(x && y);
    EXPECT_EQ(x->Describe(), y->Describe());
    seen.insert(x->kind);
    if (x->kind == FaultKind::kKill || x->kind == FaultKind::kLoss) {
      EXPECT_GE(x->nodes.size(), 1u);
      EXPECT_LE(x->nodes.size(), 2u);
    } else {
      EXPECT_FALSE(x->grudge_spec.empty());
    }
  }
  EXPECT_EQ(seen.size(), 3u);
}

TEST(NemesisScheduleTest, TargetedIsolation) {
  NemesisSchedule s(NemesisScheduleOptions{.kinds = {FaultKind::kIsolate},
                                           .nodes = {"n1", "n2", "n3"},
                                           .isolate_node = "n2",
                                           .seed = 1});
  for (int i = 0; i < 5; ++i) EXPECT_EQ(s.Next()->grudge_spec, "isolate:n2");
  NemesisSchedule leader(NemesisScheduleOptions{
      .kinds = {FaultKind::kIsolateLeader}, .nodes = {"n1"}, .isolate_node = "", .seed = 1});
  EXPECT_EQ(leader.Next()->grudge_spec, "isolate:leader");
}

TEST(NemesisScheduleTest, ParseFaultKinds) {
  Result<std::vector<FaultKind>> k = ParseFaultKinds("partition,kill,partition,loss");
  ASSERT_TRUE(k);
  EXPECT_EQ(*k,
            (std::vector<FaultKind>{FaultKind::kPartition, FaultKind::kKill, FaultKind::kLoss}));
  EXPECT_TRUE(ParseFaultKinds("none")->empty());
  EXPECT_FALSE(ParseFaultKinds("partition,flood"));
  EXPECT_EQ(FaultF(FaultKind::kIsolateLeader), "partition");
}

}  // namespace
}  // namespace faultline::runner
