// The recording of drill events in the immutable log: no cluster, no root.
#include "dirt/internal/event_log.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "history/audit.h"
#include "history/history.h"
#include "history/log.h"

namespace faultline::dirt {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class EventLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/faultline-dirt-log-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/history-T.log";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  DrillEvent Event(std::string source, std::string kind, std::string node, std::string detail,
                   bool ok, int pid = 0) {
    DrillEvent e;
    e.wall_ns = 1700000000000000000 + static_cast<std::int64_t>(++n_);
    e.offset_ms = n_ * 10;
    e.source = std::move(source);
    e.kind = std::move(kind);
    e.node = std::move(node);
    e.detail = std::move(detail);
    e.ok = ok;
    e.pid = pid;
    return e;
  }

  std::string dir_;
  std::string path_;
  int n_ = 0;
};

TEST_F(EventLogTest, ActionsBecomePairedOpsOfTheActorWithOutcomes) {
  Scenario s;
  s.id = "T";
  s.title = "test";
  history::LogOptions lo;
  lo.meta = internal::DrillLogMeta(s, "hD0", {"n1", "n2", "n3"});
  auto w = history::LogWriter::Create(path_, lo);
  ASSERT_TRUE(w) << w.error().message();
  {
    internal::EventLog log(**w);
    ASSERT_TRUE(log.BeginStep(0, "crash", "n1", "crash n1 (step 0)"));
    ASSERT_TRUE(log.EndStep(0, "crash", true, {"n1"}, {"crash n1: SIGKILL sent"}));
    ASSERT_TRUE(log.Record(Event("supervisor", "exited", "n1", "signal 9 (pid 41)", true, 41)));
    ASSERT_TRUE(log.Record(Event("safeguard", "restarted", "n1", "attempt 1 (pid 77)", true, 77)));
    ASSERT_TRUE(log.Record(Event("playbook", "member-add", "n3", "unhealthy cluster", false)));
    ASSERT_TRUE(log.Record(Event("fault", "heal", "n4", "healed", true)));
    ASSERT_TRUE(log.Record(Event("rollback", "start", "n2", "started", true)));
  }
  auto sum = (*w)->Close();
  ASSERT_TRUE(sum) << sum.error().message();
  EXPECT_EQ(sum->ops, 12);

  history::AuditReport r = history::VerifyLogFile(path_);
  EXPECT_EQ(r.status, history::AuditStatus::kIntact) << r.message;
  EXPECT_EQ(r.head, sum->head);
  EXPECT_EQ(r.ops, 12);

  std::string note;
  auto h = history::ReadLogHistory(Slurp(path_), path_, &note);
  ASSERT_TRUE(h) << h.error().message();
  ASSERT_EQ(h->size(), 12u);
  // Every op is paired: invocations with their completions.
  for (size_t i = 0; i < h->size(); ++i) EXPECT_NE(h->partner(i), history::History::kNone) << i;

  // The fault step: nemesis, :info on both halves, completion with :ok, :nodes, :details.
  const history::Op& step = (*h)[1];
  EXPECT_EQ(step.process, history::Process::Nemesis());
  EXPECT_EQ(step.f, "crash");
  EXPECT_EQ(step.type, history::OpType::kInfo);
  ASSERT_NE(step.FindExtra("ok"), nullptr);
  EXPECT_TRUE(step.FindExtra("ok")->as_bool());
  ASSERT_NE(step.FindExtra("details"), nullptr);
  EXPECT_EQ(h->partner(1), 0u);

  // The supervisor's restart: process "safeguard", :invoke then :ok, with node, pid and times.
  const history::Op& restart = (*h)[5];
  EXPECT_EQ(restart.process, history::Process::Named("safeguard"));
  EXPECT_EQ(restart.f, "restarted");
  EXPECT_EQ((*h)[4].type, history::OpType::kInvoke);
  EXPECT_EQ(restart.type, history::OpType::kOk);
  ASSERT_NE(restart.FindExtra("pid"), nullptr);
  EXPECT_EQ(restart.FindExtra("pid")->as_int(), 77);
  ASSERT_NE(restart.FindExtra("node"), nullptr);
  EXPECT_EQ(restart.FindExtra("node")->text(), "n1");
  ASSERT_NE(restart.FindExtra("wall_ns"), nullptr);
  ASSERT_NE(restart.FindExtra("offset_ms"), nullptr);

  // A failed playbook step is a :fail completion with the reason as its error.
  const history::Op& add = (*h)[7];
  EXPECT_EQ(add.process, history::Process::Named("playbook"));
  EXPECT_EQ(add.type, history::OpType::kFail);
  EXPECT_EQ(add.ErrorText(), "unhealthy cluster");
  EXPECT_FALSE(add.FindExtra("ok")->as_bool());

  // A fault that ends on its schedule is a nemesis pair; rollback acts as itself.
  EXPECT_EQ((*h)[9].process, history::Process::Nemesis());
  EXPECT_EQ((*h)[11].process, history::Process::Named("rollback"));

  // Tamper-evident: one byte flipped in a record is found.
  std::string content = Slurp(path_);
  size_t at = content.find("attempt 1");
  ASSERT_NE(at, std::string::npos);
  content[at] = 'A';
  history::AuditReport bad = history::VerifyLog(content);
  EXPECT_EQ(bad.status, history::AuditStatus::kTampered) << bad.message;
}

TEST_F(EventLogTest, ActorNamesWhoActed) {
  EXPECT_EQ(internal::ActorOf("fault"), history::Process::Nemesis());
  EXPECT_EQ(internal::ActorOf("safeguard"), history::Process::Named("safeguard"));
  EXPECT_EQ(internal::ActorOf("detection"), history::Process::Named("detection"));
  EXPECT_FALSE(internal::ActorOf("playbook").is_client());
}

}  // namespace
}  // namespace faultline::dirt
