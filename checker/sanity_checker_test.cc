// The sanity checker: an empty or broken run, or a fault without effect, is unknown, never valid;
// and its JSON keeps the field names results.json has always had.
#include "checker/sanity_checker.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "history/fields.h"

namespace faultline::checker {
namespace {

using history::Op;
using history::OpType;
using history::Process;
using history::Value;

Op Invoke(Process p, std::string f, Value v) {
  return Op{.index = -1,
            .time_ns = 1'000'000'000,
            .type = OpType::kInvoke,
            .process = p,
            .f = std::move(f),
            .key = std::nullopt,
            .value = std::move(v),
            .error = std::nullopt,
            .extras = {}};
}

class Script {
 public:
  Script& Client(int p, std::string f, OpType done) {
    Op inv = Invoke(Process::Client(p), std::move(f), Value::Nil());
    ops_.push_back(inv);
    ops_.push_back(inv.Complete(done, Value::Nil()));
    return *this;
  }
  // A fault and its completion with :ok, and :confirmed / :probe when a probe ran.
  Script& Fault(std::string f, bool ok, std::optional<bool> confirmed, std::string probe = "") {
    Op inv = Invoke(Process::Nemesis(), std::move(f), Value::String("plan"));
    inv.type = OpType::kInfo;
    Op done = inv;
    done.value = Value::String("applied");
    if (confirmed) done.AddExtra(history::field::kConfirmed, Value::Bool(*confirmed));
    if (!probe.empty()) done.AddExtra(history::field::kProbe, Value::String(probe));
    done.AddExtra(history::field::kOk, Value::Bool(ok));
    ops_.push_back(std::move(inv));
    ops_.push_back(std::move(done));
    return *this;
  }
  Verdict Check(SanityOptions options) {
    Result<history::History> h = history::History::Build(ops_);
    EXPECT_TRUE(h) << h.error().message();
    Result<Verdict> v = MakeSanityChecker(std::move(options))->Check(*h);
    EXPECT_TRUE(v) << v.error().message();
    return *v;
  }

 private:
  std::vector<Op> ops_;
};

SanityOptions Register(bool faults = true) {
  return SanityOptions{
      .expected_f = {"read", "write"}, .info_ceiling = 0.5, .faults_scheduled = faults};
}

TEST(SanityCheckerTest, HealthyRunWithConfirmedFaultsIsValid) {
  Verdict v = Script()
                  .Client(0, "read", OpType::kOk)
                  .Client(1, "write", OpType::kOk)
                  .Fault("partition", true, true, "connect n1->n2:2380 timeout")
                  .Fault("kill", true, std::nullopt, "not probed")
                  .Check(Register());
  EXPECT_EQ(v.name, "sanity");
  EXPECT_EQ(v.validity, Validity::kValid) << v.summary;
  EXPECT_NE(v.summary.find("2 faults, each took effect: 1 confirmed by a probe, 1 by the nemesis"),
            std::string::npos)
      << v.summary;
  EXPECT_TRUE(v.anomalies.empty());
}

TEST(SanityCheckerTest, JsonKeepsItsFieldNamesInOrder) {
  Verdict v = Script()
                  .Client(0, "read", OpType::kOk)
                  .Client(1, "write", OpType::kOk)
                  .Check(Register(false));
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(v.json);
  std::vector<std::string> keys;
  for (const auto& [k, unused] : j.items()) keys.push_back(k);
  EXPECT_EQ(keys,
            (std::vector<std::string>{"valid", "info_share", "faults", "faults_confirmed_by_probe",
                                      "faults_unprobed", "unprobed_examples", "problems"}));
}

TEST(SanityCheckerTest, MissingOkCompletionsAndTooManyInfosAreUnknown) {
  Verdict v = Script()
                  .Client(0, "read", OpType::kInfo)
                  .Client(1, "write", OpType::kOk)
                  .Client(2, "write", OpType::kInfo)
                  .Check(Register(false));
  EXPECT_EQ(v.validity, Validity::kUnknown);
  EXPECT_NE(v.summary.find("no read completed ok"), std::string::npos) << v.summary;
  EXPECT_NE(v.summary.find("66.7% of ops ended info (ceiling 50%)"), std::string::npos)
      << v.summary;
  EXPECT_EQ(v.anomalies.at("problems"), 2);
  EXPECT_EQ(Script().Check(Register(false)).validity, Validity::kUnknown);
}

TEST(SanityCheckerTest, FaultWithoutEffectIsUnknown) {
  Verdict not_ok = Script()
                       .Client(0, "read", OpType::kOk)
                       .Client(1, "write", OpType::kOk)
                       .Fault("pause", false, std::nullopt)
                       .Check(Register());
  EXPECT_EQ(not_ok.validity, Validity::kUnknown);
  EXPECT_NE(not_ok.summary.find("pause at 1.0 s did not take effect"), std::string::npos)
      << not_ok.summary;
  Verdict unconfirmed = Script()
                            .Client(0, "read", OpType::kOk)
                            .Client(1, "write", OpType::kOk)
                            .Fault("partition", true, false, "connect n1->n2:2380 connected")
                            .Check(Register());
  EXPECT_EQ(unconfirmed.validity, Validity::kUnknown);
  EXPECT_NE(unconfirmed.summary.find("a probe saw no effect: connect n1->n2:2380 connected"),
            std::string::npos)
      << unconfirmed.summary;
  EXPECT_EQ(unconfirmed.anomalies.at("faults-without-effect"), 1);
}

TEST(SanityCheckerTest, ScheduledFaultsThatNeverHappenedAreUnknown) {
  Verdict v =
      Script().Client(0, "read", OpType::kOk).Client(1, "write", OpType::kOk).Check(Register(true));
  EXPECT_EQ(v.validity, Validity::kUnknown);
  EXPECT_NE(v.summary.find("faults were scheduled but none was recorded"), std::string::npos);
}

TEST(SanityCheckerTest, CountByFCountsInvocationsByOutcome) {
  Op open = Invoke(Process::Client(3), "read", Value::Nil());
  std::vector<Op> ops = {Invoke(Process::Client(0), "read", Value::Nil())};
  ops.push_back(ops[0].Complete(OpType::kOk, Value::Nil()));
  ops.push_back(open);  // never completes: counted as info
  Result<history::History> h = history::History::Build(ops);
  ASSERT_TRUE(h) << h.error().message();
  std::map<std::string, FCounts> by_f = CountByF(*h);
  EXPECT_EQ(by_f["read"].ok, 1);
  EXPECT_EQ(by_f["read"].info, 1);
  EXPECT_EQ(by_f["read"].fail, 0);
}

}  // namespace
}  // namespace faultline::checker
