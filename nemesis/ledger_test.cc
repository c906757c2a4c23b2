// Unprivileged tests of the nemesis ledger: append/amend/close/reopen, torn tails, concurrent
// appenders in several processes.
#include "nemesis/ledger.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace faultline::nemesis {
namespace {

class LedgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("faultline-ledger-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "nemesis.ledger").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static LedgerEntry Entry(const std::string& kind) {
    LedgerEntry e;
    e.kind = kind;
    e.description = kind + " n1";
    e.nodes = {"n1", "n2"};
    e.run_id = "r1";
    e.net = {NetNode{.name = "n1", .netns = "ns1", .address = "198.19.64.1"}};
    LedgerObject o;
    o.type = "nft-table";
    o.node = "n1";
    o.netns = "ns1";
    o.name = "faultline_r1_loss1";
    e.objects = {o};
    e.owner_pid = 42;
    e.owner_start_time = 4242;
    e.opened_unix_ms = 1000;
    e.deadline_unix_ms = 2000;
    return e;
  }

  std::string Content() const {
    std::ifstream in(path_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(LedgerTest, AppendAmendCloseAndReopen) {
  {
    auto ledger = Ledger::Open(path_);
    ASSERT_TRUE(ledger) << ledger.error().message();
    auto a = ledger->Append(Entry("loss"));
    ASSERT_TRUE(a);
    EXPECT_EQ(a->id, 1u);
    auto b = ledger->Append(Entry("delay"), [](LedgerEntry& e) {
      e.description = "named after id " + std::to_string(e.id);
    });
    ASSERT_TRUE(b);
    EXPECT_EQ(b->id, 2u);
    EXPECT_EQ(b->description, "named after id 2");
    LedgerObject helper;
    helper.type = "helper";
    helper.pid = 77;
    helper.start_time = 99;
    ASSERT_TRUE(ledger->Amend(2, {helper}));
    ASSERT_TRUE(ledger->Close(1, "healed"));
  }
  auto reopened = Ledger::Open(path_);
  ASSERT_TRUE(reopened);
  auto state = reopened->Read();
  ASSERT_TRUE(state) << state.error().message();
  EXPECT_FALSE(state->torn_tail.has_value());
  EXPECT_TRUE(state->warnings.empty());
  EXPECT_EQ(state->records, 4u);
  EXPECT_EQ(state->last_id, 2u);
  ASSERT_EQ(state->open.size(), 1u);
  const LedgerEntry& open = state->open[0];
  EXPECT_EQ(open.id, 2u);
  EXPECT_EQ(open.kind, "delay");
  ASSERT_EQ(open.objects.size(), 2u);
  EXPECT_EQ(open.objects[1].type, "helper");
  EXPECT_EQ(open.objects[1].pid, 77);
  EXPECT_EQ(open.objects[1].start_time, 99u);
  LedgerEntry expected = Entry("delay");
  expected.id = 2;
  expected.description = "named after id 2";
  expected.objects.push_back(open.objects[1]);
  EXPECT_EQ(open, expected);
  // Ids keep growing after a reopen, never reusing a closed one.
  auto c = reopened->Append(Entry("bandwidth"));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->id, 3u);
}

// A siege's setting keeps the value to restore; a reader sees it exactly as written.
TEST_F(LedgerTest, ASettingKeepsItsOldValue) {
  auto ledger = Ledger::Open(path_);
  ASSERT_TRUE(ledger);
  LedgerEntry e = Entry("siege");
  LedgerObject setting;
  setting.type = "setting";
  setting.name = "/sys/fs/cgroup/cpu/faultline/x/n1/cpu.shares";
  setting.value = "1024";
  setting.set_to = "8192";
  e.objects = {setting};
  auto a = ledger->Append(e);
  ASSERT_TRUE(a);
  LedgerObject burner;
  burner.type = "burner";
  burner.pid = 123;
  burner.start_time = 456;
  ASSERT_TRUE(ledger->Amend(a->id, {burner}));
  auto state = ledger->Read();
  ASSERT_TRUE(state) << state.error().message();
  ASSERT_EQ(state->open.size(), 1u);
  ASSERT_EQ(state->open[0].objects.size(), 2u);
  EXPECT_EQ(state->open[0].objects[0], setting);
  EXPECT_EQ(state->open[0].objects[1], burner);
}

TEST_F(LedgerTest, AnAmendFillsInItsPlaceholder) {
  auto ledger = Ledger::Open(path_);
  ASSERT_TRUE(ledger);
  LedgerEntry e = Entry("delay");
  LedgerObject placeholder;
  placeholder.type = "helper";
  placeholder.name = "tag#1";
  e.objects.push_back(placeholder);
  ASSERT_TRUE(ledger->Append(e));
  LedgerObject real = placeholder;
  real.pid = 1234;
  real.start_time = 5678;
  ASSERT_TRUE(ledger->Amend(1, {real}));
  auto state = ledger->Read();
  ASSERT_TRUE(state);
  ASSERT_EQ(state->open.size(), 1u);
  ASSERT_EQ(state->open[0].objects.size(), 2u);
  EXPECT_EQ(state->open[0].objects[1], real);
}

TEST_F(LedgerTest, TornTailIsReportedAndTheNextAppendStartsAFreshLine) {
  auto ledger = Ledger::Open(path_);
  ASSERT_TRUE(ledger);
  ASSERT_TRUE(ledger->Append(Entry("loss")));
  ASSERT_TRUE(ledger->Append(Entry("delay")));
  // A crash in the middle of writing a "closed" record for entry 1.
  {
    std::ofstream out(path_, std::ios::app);
    out << R"({"type":"closed","id":1,"how":"hea)";
  }
  auto state = ledger->Read();
  ASSERT_TRUE(state);
  ASSERT_TRUE(state->torn_tail.has_value());
  EXPECT_NE(state->torn_tail->find("line 3"), std::string::npos) << *state->torn_tail;
  EXPECT_EQ(state->open.size(), 2u);  // the torn close did not count

  // Also a complete-looking record without its newline is torn (the write may have been cut
  // right before the newline; only a newline makes a record durable-complete).
  ASSERT_TRUE(ledger->Close(2, "healed"));
  state = ledger->Read();
  ASSERT_TRUE(state);
  EXPECT_FALSE(state->torn_tail.has_value());
  ASSERT_EQ(state->warnings.size(), 1u);  // the old torn line, now in the middle
  ASSERT_EQ(state->open.size(), 1u);
  EXPECT_EQ(state->open[0].id, 1u);
  const std::string content = Content();
  EXPECT_EQ(content.back(), '\n');
  EXPECT_NE(content.find("\"hea\n{"), std::string::npos);
}

TEST_F(LedgerTest, GarbageInTheMiddleIsSkippedWithAWarning) {
  auto ledger = Ledger::Open(path_);
  ASSERT_TRUE(ledger);
  ASSERT_TRUE(ledger->Append(Entry("loss")));
  {
    std::ofstream out(path_, std::ios::app);
    out << "not json\n"
        << R"({"type":"weird","id":9})"
        << "\n";
  }
  ASSERT_TRUE(ledger->Append(Entry("delay")));
  auto state = ledger->Read();
  ASSERT_TRUE(state);
  EXPECT_EQ(state->warnings.size(), 2u);
  EXPECT_EQ(state->open.size(), 2u);
  // The "weird" record is rejected before its id counts.
  EXPECT_EQ(state->last_id, 2u);
}

TEST_F(LedgerTest, ConcurrentAppendersInSeveralProcessesGetUniqueIds) {
  auto ledger = Ledger::Open(path_);
  ASSERT_TRUE(ledger);
  constexpr int kProcesses = 4;
  constexpr int kEach = 25;
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto mine = Ledger::Open(path_);
      if (!mine) ::_exit(1);
      for (int i = 0; i < kEach; ++i) {
        auto e = mine->Append(Entry("loss"));
        if (!e) ::_exit(2);
        if (i % 2 == 0 && !mine->Close(e->id, "healed")) ::_exit(3);
      }
      ::_exit(0);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  }
  auto state = ledger->Read();
  ASSERT_TRUE(state);
  EXPECT_FALSE(state->torn_tail.has_value());
  EXPECT_TRUE(state->warnings.empty());
  EXPECT_EQ(state->last_id, static_cast<std::uint64_t>(kProcesses * kEach));
  EXPECT_EQ(state->records, static_cast<std::uint64_t>(kProcesses * (kEach + (kEach + 1) / 2)));
  std::set<std::uint64_t> ids;
  for (const auto& e : state->open) ids.insert(e.id);
  EXPECT_EQ(ids.size(), state->open.size());
  EXPECT_EQ(state->open.size(), static_cast<size_t>(kProcesses * (kEach - (kEach + 1) / 2)));
}

TEST_F(LedgerTest, OpenFailsClearlyWhenTheDirectoryIsMissing) {
  auto ledger = Ledger::Open((dir_ / "missing" / "nemesis.ledger").string());
  ASSERT_FALSE(ledger);
  EXPECT_EQ(ledger.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(ledger.error().message().find("nemesis ledger: create"), std::string::npos)
      << ledger.error().message();
}

}  // namespace
}  // namespace faultline::nemesis
