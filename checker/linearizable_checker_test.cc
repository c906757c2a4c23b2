// The checkers built on the search, on small keyed histories: the register's per-key verdict with
// etcd's revisions (who served the failing op, stale reads by node), and the mutex's overlapping
// holds.
#include "checker/linearizable_checker.h"

#include <gtest/gtest.h>

#include <map>
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

class Script {
 public:
  Script& Invoke(int p, std::string f, Value v) {
    Op op{.index = -1,
          .time_ns = -1,
          .type = OpType::kInvoke,
          .process = Process::Client(p),
          .f = std::move(f),
          .key = Value::String("k"),
          .value = std::move(v),
          .error = std::nullopt,
          .extras = {}};
    open_[p] = op;
    ops_.push_back(std::move(op));
    return *this;
  }
  // An ok completion served by `node` at `revision`.
  Script& Ok(int p, Value v, std::string node = "", int64_t revision = 0) {
    Op done = open_[p].Complete(OpType::kOk, std::move(v));
    if (!node.empty()) done.AddExtra(history::field::kNode, Value::String(std::move(node)));
    if (revision != 0) done.AddExtra(history::field::kRevision, Value::Int(revision));
    ops_.push_back(std::move(done));
    return *this;
  }
  Verdict Check(std::unique_ptr<Checker> checker) {
    Result<history::History> h = history::History::Build(ops_);
    EXPECT_TRUE(h) << h.error().message();
    Result<Verdict> v = checker->Check(*h);
    EXPECT_TRUE(v) << v.error().message();
    return *v;
  }

 private:
  std::vector<Op> ops_;
  std::map<int, Op> open_;
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
