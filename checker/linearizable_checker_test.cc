// The checkers built on the search, on small keyed histories: the register's per-key verdict with
// etcd's revisions (who served the failing op, stale reads by node), and the mutex's overlapping
// holds.
#include "checker/linearizable_checker.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "checker/testing/script.h"
#include "history/fields.h"

namespace faultline::checker {
namespace {

using history::Op;
using history::OpType;
using history::Process;
using history::Value;

class Script : public testing::ScriptBase<Script> {
 public:
  Verdict Check(std::unique_ptr<Checker> checker) {
    Result<history::History> h = Build();
    Result<Verdict> v = checker->Check(*h);
    EXPECT_TRUE(v) << v.error().message();
    return *v;
  }
};

TEST(LinearizableCheckerTest, SequentialRegisterIsValid) {
  Verdict v = Script()
                  .Invoke(0, "write", Value::Int(1))
                  .Ok(0, Value::Int(1), "n1", 5)
                  .Invoke(1, "read", Value::Nil())
                  .Ok(1, Value::Int(1), "n2", 5)
                  .Check(MakeLinearizableChecker({.time_limit_s = 10}));
  EXPECT_EQ(v.name, "linearizable");
  EXPECT_EQ(v.validity, Validity::kValid) << v.detail;
  EXPECT_TRUE(v.anomalies.empty());
  EXPECT_NE(v.json.find("\"stale_reads_by_node\":{}"), std::string::npos) << v.json;
}

TEST(LinearizableCheckerTest, StaleReadNamesItsNodeAndRevision) {
  Verdict v = Script()
                  .Invoke(0, "write", Value::Int(1))
                  .Ok(0, Value::Int(1), "n1", 5)
                  .Invoke(1, "read", Value::Nil())
                  .Ok(1, Value::Nil(), "n3", 3)
                  .Check(MakeLinearizableChecker({.time_limit_s = 10}));
  EXPECT_EQ(v.validity, Validity::kInvalid);
  EXPECT_EQ(v.anomalies.at("nonlinearizable"), 1);
  EXPECT_EQ(v.anomalies.at("stale-read"), 1);
  EXPECT_NE(v.detail.find("was served by n3 at revision 3"), std::string::npos) << v.detail;
  EXPECT_NE(v.detail.find("(op 1) was at revision 5"), std::string::npos) << v.detail;
  EXPECT_NE(v.detail.find("stale reads by revision, per serving node: n3 1"), std::string::npos)
      << v.detail;
  EXPECT_NE(v.json.find("\"served_by\""), std::string::npos) << v.json;
}

TEST(MutexCheckerTest, OverlappingHoldsAreInvalidAndNamed) {
  Verdict v = Script()
                  .Invoke(0, "acquire", Value::Nil())
                  .Ok(0, Value::Nil(), "n1")
                  .Invoke(1, "acquire", Value::Nil())
                  .Ok(1, Value::Nil(), "n2")
                  .Invoke(0, "release", Value::Nil())
                  .Ok(0, Value::Nil())
                  .Invoke(1, "release", Value::Nil())
                  .Ok(1, Value::Nil())
                  .Check(MakeMutexChecker({.time_limit_s = 10}));
  EXPECT_EQ(v.name, "mutex");
  EXPECT_EQ(v.validity, Validity::kInvalid);
  EXPECT_EQ(v.anomalies.at("overlapping-holds"), 1);
  EXPECT_NE(v.detail.find("via n2) while 0 still held it"), std::string::npos) << v.detail;
  EXPECT_NE(v.json.find("\"overlapping_holds\":1"), std::string::npos) << v.json;
}

TEST(MutexCheckerTest, HoldOpsAreLeftOutOfTheSearch) {
  Verdict v = Script()
                  .Invoke(0, "acquire", Value::Nil())
                  .Ok(0, Value::Nil(), "n1")
                  .Invoke(0, "hold", Value::Int(500))
                  .Ok(0, Value::Nil())
                  .Invoke(0, "release", Value::Nil())
                  .Ok(0, Value::Nil())
                  .Invoke(1, "acquire", Value::Nil())
                  .Ok(1, Value::Nil(), "n2")
                  .Invoke(1, "release", Value::Nil())
                  .Ok(1, Value::Nil())
                  .Check(MakeMutexChecker({.time_limit_s = 10}));
  EXPECT_EQ(v.validity, Validity::kValid) << v.detail;
  EXPECT_NE(v.summary.find("4 ops, 1 locks, 0 overlapping holds"), std::string::npos) << v.summary;
}

}  // namespace
}  // namespace faultline::checker
