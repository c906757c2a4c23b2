#include "checker/counter_checker.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "checker/testing/script.h"
#include "history/fields.h"

namespace faultline::checker {
namespace {

using history::Op;
using history::OpType;
using history::Process;
using history::Value;

// Builds a counter history from a small script; every op is on key "k" unless given another.
class Script : public testing::ScriptBase<Script> {
 public:
  Script& Add(int p, int64_t d, OpType type = OpType::kOk, std::string key = "k") {
    return Invoke(p, "add", Value::Int(d), std::move(key)).Done(p, type, Value::Int(d));
  }
  Script& Read(int p, int64_t v, std::string key = "k", bool final = false) {
    return Invoke(p, "read", Value::Nil(), std::move(key), final)
        .Done(p, OpType::kOk, Value::Int(v));
  }
  Result<CounterCheckResult> TryCheck() {
    Result<history::History> h = Build();
    if (!h) return std::move(h).error();
    return CheckCounter(*h);
  }
  CounterCheckResult Check() {
    Result<CounterCheckResult> r = TryCheck();
    EXPECT_TRUE(r) << r.error().message();
    return r ? *r : CounterCheckResult{};
  }
};

TEST(CounterCheckerTest, SequentialAddsAndReadsAreValid) {
  CounterCheckResult r = Script().Read(0, 0).Add(0, 3).Read(1, 3).Add(1, 2).Read(0, 5).Check();
  EXPECT_EQ(r.validity, Validity::kValid) << r.explanation;
  EXPECT_EQ(r.reads, 3);
  EXPECT_EQ(r.attempted, 2);
  EXPECT_EQ(r.acknowledged, 2);
  EXPECT_EQ(r.errors, 0);
}

TEST(CounterCheckerTest, ReadBelowTheAcknowledgedSumIsInvalidWithItsBounds) {
  CounterCheckResult r = Script().Add(0, 3).Add(1, 4).Read(2, 3).Check();
  ASSERT_EQ(r.validity, Validity::kInvalid);
  ASSERT_EQ(r.examples.size(), 1u);
  EXPECT_EQ(r.examples[0].index, 4);
  EXPECT_EQ(r.examples[0].value, "3");
  EXPECT_EQ(r.examples[0].lower, 7);
  EXPECT_EQ(r.examples[0].upper, 7);
  EXPECT_EQ(r.examples[0].key, "\"k\"");
  EXPECT_NE(r.explanation.find("op 4 read \"k\" -> 3, expected 7..7"), std::string::npos)
      << r.explanation;
}

TEST(CounterCheckerTest, ReadAboveTheAttemptedSumIsInvalid) {
  CounterCheckResult r = Script().Add(0, 2).Read(1, 5).Check();
  ASSERT_EQ(r.validity, Validity::kInvalid);
  ASSERT_EQ(r.examples.size(), 1u);
  EXPECT_EQ(r.examples[0].lower, 2);
  EXPECT_EQ(r.examples[0].upper, 2);
}

// An add concurrent with a read may or may not be seen: both answers lie within the bounds.
TEST(CounterCheckerTest, ConcurrentAddWidensTheBounds) {
  for (int64_t seen : {1, 6}) {
    Script s;
    s.Add(0, 1).Invoke(1, "add", Value::Int(5)).Read(2, seen).Done(1, OpType::kOk, Value::Int(5));
    CounterCheckResult r = s.Check();
    EXPECT_EQ(r.validity, Validity::kValid) << seen << ": " << r.explanation;
  }
  Script s;
  s.Add(0, 1).Invoke(1, "add", Value::Int(5)).Read(2, 7).Done(1, OpType::kOk, Value::Int(5));
  CounterCheckResult r = s.Check();
  ASSERT_EQ(r.validity, Validity::kInvalid);
  EXPECT_EQ(r.examples[0].lower, 1);
  EXPECT_EQ(r.examples[0].upper, 6);
}

// The lower bound is taken when the read is invoked: an add that completes while the read runs
// does not raise it.
TEST(CounterCheckerTest, LowerBoundIsFixedAtTheReadsInvocation) {
  Script s;
  s.Invoke(2, "read", Value::Nil()).Add(0, 4).Done(2, OpType::kOk, Value::Int(0));
  EXPECT_EQ(s.Check().validity, Validity::kValid);
}

// Info and never-completed adds count in the upper bound only; failed adds in neither.
TEST(CounterCheckerTest, InfoAddsRaiseOnlyTheUpperBoundAndFailedAddsNeither) {
  CounterCheckResult ok = Script().Add(0, 2, OpType::kInfo).Read(1, 2).Read(1, 0).Check();
  EXPECT_EQ(ok.validity, Validity::kValid) << ok.explanation;
  EXPECT_EQ(ok.indeterminate, 1);

  CounterCheckResult failed = Script().Add(0, 2, OpType::kFail).Read(1, 2).Check();
  ASSERT_EQ(failed.validity, Validity::kInvalid);
  EXPECT_EQ(failed.failed, 1);
  EXPECT_EQ(failed.examples[0].lower, 0);
  EXPECT_EQ(failed.examples[0].upper, 0);

  Script open;
  open.Invoke(0, "add", Value::Int(3)).Read(1, 3);  // the add never completes
  CounterCheckResult r = open.Check();
  EXPECT_EQ(r.validity, Validity::kValid) << r.explanation;
  EXPECT_EQ(r.indeterminate, 1);
}

// A fail that arrives after the read completed still excludes the add from the read's bound.
TEST(CounterCheckerTest, FailedAddIsExcludedEvenWhenItFailsLater) {
  Script s;
  s.Invoke(0, "add", Value::Int(9)).Read(1, 9).Done(0, OpType::kFail, Value::Int(9));
  CounterCheckResult r = s.Check();
  ASSERT_EQ(r.validity, Validity::kInvalid);
  EXPECT_EQ(r.examples[0].upper, 0);
}

TEST(CounterCheckerTest, KeysAreIndependentAndFinalReadsCounted) {
  CounterCheckResult r = Script()
                             .Add(0, 5, OpType::kOk, "a")
                             .Add(1, 1, OpType::kOk, "b")
                             .Read(0, 5, "a", /*final=*/true)
                             .Read(1, 1, "b", /*final=*/true)
                             .Check();
  EXPECT_EQ(r.validity, Validity::kValid) << r.explanation;
  EXPECT_EQ(r.keys, 2);
  EXPECT_EQ(r.final_reads, 2);

  CounterCheckResult bad =
      Script().Add(0, 5, OpType::kOk, "a").Read(1, 5, "b", /*final=*/true).Check();
  ASSERT_EQ(bad.validity, Validity::kInvalid);
  EXPECT_TRUE(bad.examples[0].final);
  EXPECT_EQ(bad.examples[0].key, "\"b\"");
}

TEST(CounterCheckerTest, NonIntegerReadIsAnErrorAndNonIntegerAddIsRejected) {
  Script s;
  s.Invoke(0, "read", Value::Nil()).Done(0, OpType::kOk, Value::String("x"));
  EXPECT_EQ(s.Check().validity, Validity::kInvalid);

  Script bad;
  bad.Invoke(0, "add", Value::String("x")).Done(0, OpType::kOk, Value::String("x"));
  Result<CounterCheckResult> r = bad.TryCheck();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("op 0: add needs an integer delta"), std::string::npos)
      << r.error().message();
}

TEST(CounterCheckerTest, ExamplesAreCappedAndJsonHasTheCounts) {
  Script s;
  for (int i = 0; i < 20; ++i) s.Read(0, 100 + i);
  CounterCheckResult r = s.Check();
  EXPECT_EQ(r.errors, 20);
  EXPECT_EQ(r.examples.size(), 10u);
  const std::string json = CounterCheckResultToJson(r);
  EXPECT_NE(json.find("\"errors\":20"), std::string::npos) << json;
  EXPECT_NE(json.find("\"valid\":\"invalid\""), std::string::npos) << json;
}

}  // namespace
}  // namespace faultline::checker
