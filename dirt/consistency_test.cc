// The consistency part of a drill's verdict, from a history log written here: no cluster, no root.
#include "dirt/internal/consistency.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "dirt/internal/event_log.h"
#include "history/log.h"

namespace faultline::dirt {
namespace {

using history::Op;
using history::OpType;
using history::Process;
using history::Value;

Op Client(OpType type, int process, std::string f, Value value) {
  return Op{.index = -1,
            .time_ns = -1,
            .type = type,
            .process = Process::Client(process),
            .f = std::move(f),
            .key = Value::Int(7),
            .value = std::move(value),
            .error = std::nullopt,
            .extras = {}};
}

class ConsistencyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/faultline-dirt-cons-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    config_.workload = runner::Workload::kRegister;
    config_.nemesis = {};  // the drill's steps are the faults
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // A drill log: a crash step and a supervisor restart interleaved with a write of 1, a cas from 1
  // to 2 and a read that returns `read`.
  std::string WriteLog(const std::string& name, std::int64_t read) {
    const std::string path = dir_ + "/" + name;
    auto w = history::LogWriter::Create(path, {});
    EXPECT_TRUE(w) << w.error().message();
    if (!w) return path;
    history::LogWriter& log = **w;
    internal::EventLog events(log);
    EXPECT_TRUE(log.Append(Client(OpType::kInvoke, 0, "write", Value::Int(1))));
    EXPECT_TRUE(events.BeginStep(0, "crash", "n1", "crash n1"));
    EXPECT_TRUE(log.Append(Client(OpType::kOk, 0, "write", Value::Int(1))));
    EXPECT_TRUE(events.EndStep(0, "crash", true, {"n1"}, {"crash n1: SIGKILL"}));
    DrillEvent restart;
    restart.source = "safeguard";
    restart.kind = "restarted";
    restart.node = "n1";
    restart.detail = "attempt 1";
    restart.pid = 42;
    EXPECT_TRUE(events.Record(restart));
    const Value cas = Value::Vector({Value::Int(1), Value::Int(2)});
    EXPECT_TRUE(log.Append(Client(OpType::kInvoke, 2, "cas", cas)));
    EXPECT_TRUE(log.Append(Client(OpType::kOk, 2, "cas", cas)));
    EXPECT_TRUE(log.Append(Client(OpType::kInvoke, 1, "read", Value::Nil())));
    EXPECT_TRUE(log.Append(Client(OpType::kOk, 1, "read", Value::Int(read))));
    // Left open on purpose: the drill checks before it seals (the verdict goes in afterwards).
    EXPECT_TRUE(log.Sync());
    logs_.push_back(std::move(*w));
    return path;
  }

  std::string dir_;
  runner::CampaignConfig config_;
  std::vector<std::unique_ptr<history::LogWriter>> logs_;
};

TEST_F(ConsistencyTest, LinearizableHistoryLeavesTheVerdictAlone) {
  ConsistencyResult c = internal::CheckLoggedConsistency(WriteLog("good.log", 2), config_);
  EXPECT_EQ(c.validity, checker::Validity::kValid) << c.summary << "\n" << c.detail;
  EXPECT_EQ(c.ops, 3);
  EXPECT_EQ(c.keys, 1);
  EXPECT_EQ(c.ok, 3);
  EXPECT_FALSE(internal::ConsistencyVerdict(c).has_value());
}

TEST_F(ConsistencyTest, NonLinearizableHistoryFailsTheDrill) {
  // Read 3 after 1 was written and swapped for 2: no order explains it.
  ConsistencyResult c = internal::CheckLoggedConsistency(WriteLog("bad.log", 3), config_);
  EXPECT_EQ(c.validity, checker::Validity::kInvalid) << c.summary;
  auto v = internal::ConsistencyVerdict(c);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->first, Verdict::kFail);
  EXPECT_NE(v->second.find("not linearizable"), std::string::npos) << v->second;
}

TEST_F(ConsistencyTest, UnreadableLogMakesTheDrillInvalid) {
  ConsistencyResult c = internal::CheckLoggedConsistency(dir_ + "/missing.log", config_);
  EXPECT_EQ(c.validity, checker::Validity::kUnknown);
  auto v = internal::ConsistencyVerdict(c);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->first, Verdict::kInvalid);
}

}  // namespace
}  // namespace faultline::dirt
