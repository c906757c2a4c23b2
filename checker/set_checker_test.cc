#include "checker/set_checker.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
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

// Builds a set history from a small script.
class Script : public testing::ScriptBase<Script> {
 public:
  Script() : ScriptBase("s") {}
  Script& Add(int p, int64_t e, OpType type = OpType::kOk) {
    return Invoke(p, "add", Value::Int(e)).Done(p, type, Value::Int(e));
  }
  Script& Read(int p, std::vector<int64_t> elements, bool final = false) {
    std::vector<Value> items;
    for (int64_t e : elements) items.push_back(Value::Int(e));
    return Invoke(p, "read", Value::Nil(), std::nullopt, final)
        .Done(p, OpType::kOk, Value::Vector(items));
  }
  Result<SetCheckResult> TryCheck(bool stale_is_invalid = true) {
    Result<history::History> h = Build();
    return CheckSet(*h, SetCheckOptions{.stale_is_invalid = stale_is_invalid, .max_examples = 10});
  }
  SetCheckResult Check(bool stale_is_invalid = true) {
    Result<SetCheckResult> r = TryCheck(stale_is_invalid);
    EXPECT_TRUE(r) << r.error().message();
    return *r;
  }
};

TEST(SetCheckerTest, AllPresentIsValid) {
  SetCheckResult r = Script().Add(0, 1).Add(1, 2).Read(0, {1, 2}).Read(1, {1, 2}, true).Check();
  EXPECT_EQ(r.validity, Validity::kValid) << r.explanation;
  EXPECT_EQ(r.acknowledged, 2);
  EXPECT_EQ(r.final_reads, 1);
  EXPECT_EQ(r.lost, 0);
}

TEST(SetCheckerTest, AcknowledgedAddMissingFromFinalReadsIsLost) {
  SetCheckResult r = Script().Add(0, 1).Add(1, 2).Read(0, {1}, true).Read(1, {1}, true).Check();
  EXPECT_EQ(r.validity, Validity::kInvalid);
  EXPECT_EQ(r.lost, 1);
  EXPECT_EQ(r.lost_examples, std::vector<std::string>{"2"});
  EXPECT_NE(r.explanation.find("lost"), std::string::npos) << r.explanation;
}

TEST(SetCheckerTest, ElementNeverAddedIsUnexpected) {
  SetCheckResult r = Script().Add(0, 1).Add(0, 3, OpType::kFail).Read(1, {1, 3, 9}, true).Check();
  EXPECT_EQ(r.validity, Validity::kInvalid);
  EXPECT_EQ(r.unexpected, 2);
  EXPECT_EQ(r.unexpected_examples, (std::vector<std::string>{"3", "9"}));
}

TEST(SetCheckerTest, MissingThenPresentIsStale) {
  Script s;
  s.Add(0, 1).Read(1, {}).Read(1, {1}, true);
  SetCheckResult strict = s.Check(true);
  EXPECT_EQ(strict.validity, Validity::kInvalid);
  EXPECT_EQ(strict.stale, 1);
  SetCheckResult relaxed = s.Check(false);
  EXPECT_EQ(relaxed.validity, Validity::kValid) << relaxed.explanation;
  EXPECT_EQ(relaxed.stale, 1);
}

// A read that began before the add completed may miss it: concurrent, not stale.
TEST(SetCheckerTest, ConcurrentReadMayMissAnAdd) {
  SetCheckResult r = Script()
                         .Invoke(1, "read", Value::Nil())
                         .Add(0, 1)
                         .Done(1, OpType::kOk, Value::Vector({}))
                         .Read(1, {1}, true)
                         .Check();
  EXPECT_EQ(r.validity, Validity::kValid) << r.explanation;
  EXPECT_EQ(r.stale, 0);
}

TEST(SetCheckerTest, InfoAddThatAppearsIsRecovered) {
  SetCheckResult r =
      Script().Add(0, 1, OpType::kInfo).Add(1, 2, OpType::kInfo).Read(2, {1}, true).Check();
  EXPECT_EQ(r.validity, Validity::kValid) << r.explanation;
  EXPECT_EQ(r.recovered, 1);
  EXPECT_EQ(r.indeterminate, 2);
  EXPECT_EQ(r.recovered_examples, std::vector<std::string>{"1"});
}

TEST(SetCheckerTest, NoFinalReadIsUnknown) {
  SetCheckResult r = Script().Add(0, 1).Read(1, {1}).Check();
  EXPECT_EQ(r.validity, Validity::kUnknown);
}

TEST(SetCheckerTest, ReadThatIsNotACollectionIsAnError) {
  Script s;
  s.Invoke(0, "read", Value::Nil()).Done(0, OpType::kOk, Value::Int(3));
  Result<SetCheckResult> r = s.TryCheck();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("vector or set"), std::string::npos) << r.error().message();
}

// results.json's checkers.set holds these fields, in this order (readers key on the names).
TEST(SetCheckerTest, JsonKeepsItsFieldNamesInOrder) {
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(
      SetCheckResultToJson(Script().Add(0, 1).Read(1, {1}, true).Check()));
  std::vector<std::string> keys;
  for (const auto& [k, unused] : j.items()) keys.push_back(k);
  EXPECT_EQ(keys,
            (std::vector<std::string>{
                "valid", "attempted", "acknowledged", "failed", "indeterminate", "reads",
                "final_reads", "lost_count", "unexpected_count", "stale_count", "recovered_count",
                "never_read_count", "lost", "unexpected", "stale", "recovered", "explanation"}));
}

TEST(SetCheckerTest, CheckerVerdictNamesItsAnomalies) {
  Script s;
  s.Add(0, 1).Add(0, 2).Read(1, {1}, true);
  Result<history::History> h = history::History::Build(s.ops());
  ASSERT_TRUE(h) << h.error().message();
  Result<Verdict> v = MakeSetChecker()->Check(*h);
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_EQ(v->name, "set");
  EXPECT_EQ(v->validity, Validity::kInvalid);
  EXPECT_EQ(v->anomalies.at("lost"), 1);
  EXPECT_EQ(v->json, SetCheckResultToJson(*CheckSet(*h)));
}

}  // namespace
}  // namespace faultline::checker
