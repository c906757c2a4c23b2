// Membership faults without a system: the guard (CheckShrink), member-remove / member-add through
// the Nemesis and its ledger, heals, and a child process killed at each named kill point, after
// which a fresh Nemesis must restore the original membership. The fake Membership keeps its
// members in a file, so what a killed child did survives it.
#include "nemesis/membership.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include "nemesis/ledger.h"
#include "nemesis/nemesis.h"

namespace faultline::nemesis {
namespace {

using ::testing::HasSubstr;

const std::vector<std::string> kFive = {"n1", "n2", "n3", "n4", "n5"};

struct ShrinkCase {
  std::vector<std::string> original;
  std::vector<std::string> members;
  std::vector<std::string> removing;
  bool ok;
  std::string error;  // a part of the message when refused
  size_t max_out = static_cast<size_t>(-1);
};

class CheckShrinkTest : public ::testing::TestWithParam<ShrinkCase> {};

TEST_P(CheckShrinkTest, KeepsAMajorityOfTheOriginal) {
  const ShrinkCase& c = GetParam();
  const Status s = CheckShrink(c.original, c.members, c.removing, c.max_out);
  EXPECT_EQ(s.has_value(), c.ok) << (s ? std::string("ok") : s.error().message());
  if (!s) {
    EXPECT_EQ(s.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(s.error().message(), HasSubstr(c.error));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, CheckShrinkTest,
    ::testing::Values(
        ShrinkCase{kFive, kFive, {"n1"}, true, ""},
        ShrinkCase{kFive, kFive, {"n1", "n2"}, true, ""},
        ShrinkCase{kFive,
                   kFive,
                   {"n1", "n2", "n3"},
                   false,
                   "would leave 2 of the 5 original members, fewer than a majority (3); at most 2 "
                   "may be removed now"},
        // Two gone already: none more may go.
        ShrinkCase{kFive, {"n1", "n2", "n3"}, {"n3"}, false, "at most 0 may be removed now"},
        ShrinkCase{kFive, {"n1", "n3", "n4", "n5"}, {"n3"}, true, ""},
        ShrinkCase{kFive, {"n1", "n3", "n4", "n5"}, {"n2"}, false, "n2 is not a member now"},
        ShrinkCase{{"n1", "n2", "n3"}, {"n1", "n2", "n3"}, {"n2"}, true, ""},
        ShrinkCase{{"n1", "n2", "n3"}, {"n1", "n2", "n3"}, {"n1", "n2"}, false, "majority (2)"},
        ShrinkCase{{"n1"}, {"n1"}, {"n1"}, false, "fewer than a majority (1)"},
        // A system's own limit (etcd: one out at a time).
        ShrinkCase{kFive, kFive, {"n1"}, true, "", 1},
        ShrinkCase{kFive, kFive, {"n1", "n2"}, false, "takes at most 1 out at once", 1},
        ShrinkCase{kFive, {"n1", "n3", "n4", "n5"}, {"n3"}, false, "would leave 2 of the 5", 1}));

// Members in a file, one per line; every change rewrites it (the child's changes outlive it).
class FileMembership final : public Membership {
 public:
  explicit FileMembership(std::string path) : path_(std::move(path)) {}
  std::string_view Name() const override { return "file"; }
  Result<std::vector<std::string>> Members() override { return Read(); }
  Result<std::string> Remove(const std::string& node, const MemberStep& step) override {
    std::set<std::string> now = ReadSet();
    const bool was = now.erase(node) > 0;
    Write(now);
    step("removed");
    step("stopped");
    step("wiped");
    return std::string(was ? "removed" : "not a member");
  }
  Result<std::string> Add(const std::string& node, const MemberStep& step) override {
    std::set<std::string> now = ReadSet();
    const bool had = !now.insert(node).second;
    Write(now);
    step("added");
    step("started");
    ++adds_;
    return std::string(had ? "a member already" : "added");
  }
  int adds() const { return adds_; }

  std::vector<std::string> Read() const {
    std::vector<std::string> out;
    std::ifstream in(path_);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) out.push_back(line);
    }
    return out;
  }

 private:
  std::set<std::string> ReadSet() const {
    const auto v = Read();
    return {v.begin(), v.end()};
  }
  void Write(const std::set<std::string>& members) const {
    std::ofstream out(path_, std::ios::trunc);
    for (const auto& m : members) out << m << "\n";
  }
  std::string path_;
  int adds_ = 0;
};

class MembershipFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           fmt::format("faultline-membership-test-{}-{}", ::getpid(),
                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    std::ofstream out(dir_ / "members");
    for (const auto& n : kFive) out << n << "\n";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  NemesisOptions Options(Membership* membership) const {
    NemesisOptions o;
    o.net.run_id = "mt";
    for (size_t i = 0; i < kFive.size(); ++i) {
      o.net.nodes.push_back(NetNode{.name = kFive[i],
                                    .netns = "fl-none-" + kFive[i],
                                    .address = fmt::format("198.19.99.{}", i + 1)});
    }
    o.ledger_path = (dir_ / "nemesis.ledger").string();
    o.membership = membership;
    return o;
  }

  size_t OpenEntries() const {
    auto ledger = Ledger::Open((dir_ / "nemesis.ledger").string());
    if (!ledger) return 999;
    auto state = ledger->Read();
    return state ? state->open.size() : 999;
  }

  static FaultSpec Spec(FaultKind kind, std::string targets) {
    FaultSpec s;
    s.kind = kind;
    s.targets = std::move(targets);
    return s;
  }

  std::string MembersPath() const { return (dir_ / "members").string(); }

  std::filesystem::path dir_;
};

TEST_F(MembershipFaultTest, RemoveThenHealRestoresTheOriginalMembers) {
  FileMembership m(MembersPath());
  auto nemesis = Nemesis::Open(Options(&m));
  ASSERT_TRUE(nemesis) << nemesis.error().message();
  auto removed = ApplyFault(**nemesis, Spec(FaultKind::kMemberRemove, "n4,n2"), kFive, {});
  ASSERT_TRUE(removed) << removed.error().message();
  EXPECT_TRUE(removed->ok) << removed->Describe();
  EXPECT_EQ(removed->kind, FaultKind::kMemberRemove);
  EXPECT_EQ(removed->nodes, (std::vector<std::string>{"n2", "n4"}));
  EXPECT_NE(removed->ledger_id, 0u);
  EXPECT_EQ(m.Read(), (std::vector<std::string>{"n1", "n3", "n5"}));
  EXPECT_EQ(OpenEntries(), 1u);
  auto open = (*nemesis)->OpenFaults();
  ASSERT_TRUE(open);
  ASSERT_EQ(open->size(), 1u);
  EXPECT_THAT(open->front(), HasSubstr("n2: removed from the membership"));

  // A third removal would leave 2 of 5: refused before the ledger or the membership is touched.
  auto third = ApplyFault(**nemesis, Spec(FaultKind::kMemberRemove, "n1"), kFive, {});
  ASSERT_FALSE(third);
  EXPECT_THAT(third.error().message(), HasSubstr("fewer than a majority (3)"));
  EXPECT_EQ(m.Read().size(), 3u);
  EXPECT_EQ(OpenEntries(), 1u);

  const FaultReport healed = (*nemesis)->HealAll();
  EXPECT_TRUE(healed.ok) << healed.Describe();
  EXPECT_EQ(m.Read(), kFive);
  EXPECT_EQ(OpenEntries(), 0u);
}

TEST_F(MembershipFaultTest, MemberAddClosesTheRemovalItUndid) {
  FileMembership m(MembersPath());
  auto nemesis = Nemesis::Open(Options(&m));
  ASSERT_TRUE(nemesis) << nemesis.error().message();
  ASSERT_TRUE(ApplyFault(**nemesis, Spec(FaultKind::kMemberRemove, "n3"), kFive, {}));
  EXPECT_EQ(OpenEntries(), 1u);
  auto added = ApplyFault(**nemesis, Spec(FaultKind::kMemberAdd, "all"), kFive, {});
  ASSERT_TRUE(added) << added.error().message();
  EXPECT_TRUE(added->ok) << added->Describe();
  EXPECT_EQ(m.Read(), kFive);
  EXPECT_EQ(OpenEntries(), 0u);
  EXPECT_THAT(added->Describe(), HasSubstr("n3: added"));
  EXPECT_THAT(added->Describe(), HasSubstr("n1: a member already"));
}

TEST_F(MembershipFaultTest, WithoutMembershipTheFaultIsRefusedAndTheHealStaysOpen) {
  FileMembership m(MembersPath());
  {
    auto nemesis = Nemesis::Open(Options(nullptr));
    ASSERT_TRUE(nemesis) << nemesis.error().message();
    auto refused = ApplyFault(**nemesis, Spec(FaultKind::kMemberRemove, "n1"), kFive, {});
    ASSERT_FALSE(refused);
    EXPECT_THAT(refused.error().message(), HasSubstr("cannot change its membership"));
  }
  {
    auto nemesis = Nemesis::Open(Options(&m));
    ASSERT_TRUE(nemesis);
    ASSERT_TRUE(ApplyFault(**nemesis, Spec(FaultKind::kMemberRemove, "n1"), kFive, {}));
  }
  // A heal without the system's membership (the deadline watchdog's) cannot add n1 back: it says
  // so and leaves the entry open for one that can.
  auto blind = Nemesis::Open(Options(nullptr));
  ASSERT_TRUE(blind);
  const FaultReport failed = (*blind)->HealAll();
  EXPECT_FALSE(failed.ok);
  EXPECT_THAT(failed.Describe(), HasSubstr("only the system's membership can add it back"));
  EXPECT_EQ(OpenEntries(), 1u);
  auto seeing = Nemesis::Open(Options(&m));
  ASSERT_TRUE(seeing);
  EXPECT_TRUE((*seeing)->HealAll().ok);
  EXPECT_EQ(m.Read(), kFive);
  EXPECT_EQ(OpenEntries(), 0u);
}

// A child applies member-remove n2,n4 with FAULTLINE_CRASH_AT set and is SIGKILLed there; a fresh
// Nemesis (Open heals what a dead owner left) must bring back all five members.
class MembershipCrashTest : public MembershipFaultTest,
                            public ::testing::WithParamInterface<std::string> {};

TEST_P(MembershipCrashTest, FreshNemesisRestoresTheOriginalMembership) {
  const std::string point = GetParam();
  const bool in_heal = point.starts_with("heal-");
  if (in_heal) {
    // The removal completes; the owner is gone before any heal (as after a SIGKILL).
    const pid_t first = ::fork();
    ASSERT_GE(first, 0);
    if (first == 0) {
      FileMembership m(MembersPath());
      auto nemesis = Nemesis::Open(Options(&m));
      const bool ok =
          nemesis &&
          ApplyFault(**nemesis, Spec(FaultKind::kMemberRemove, "n2,n4"), kFive, {}).has_value();
      std::_Exit(ok ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(first, &status, 0), first);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  // The child that dies at the kill point: applying, or healing the dead owner's removal.
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::setenv("FAULTLINE_CRASH_AT", point.c_str(), 1);
    FileMembership m(MembersPath());
    auto nemesis = Nemesis::Open(Options(&m));
    if (nemesis && !in_heal) {
      (void)ApplyFault(**nemesis, Spec(FaultKind::kMemberRemove, "n2,n4"), kFive, {});
    }
    std::_Exit(3);  // not killed: the kill point was never reached
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "kill point " << point << " not reached (status " << status << ")";
  FileMembership m(MembersPath());
  EXPECT_NE(m.Read(), kFive) << "the child died before changing anything at " << point;
  EXPECT_EQ(OpenEntries(), 1u);

  auto fresh = Nemesis::Open(Options(&m));
  ASSERT_TRUE(fresh) << fresh.error().message();
  ASSERT_TRUE((*fresh)->recovered());
  EXPECT_TRUE((*fresh)->recovered()->ok) << (*fresh)->recovered()->Describe();
  EXPECT_EQ(m.Read(), kFive);
  EXPECT_EQ(OpenEntries(), 0u);
  EXPECT_GE(m.adds(), 2);
}

INSTANTIATE_TEST_SUITE_P(KillPoints, MembershipCrashTest,
                         ::testing::Values("member-removed", "member-stopped", "member-wiped",
                                           "between-nodes", "heal-member-added",
                                           "heal-member-started"),
                         [](const ::testing::TestParamInfo<std::string>& p) {
                           std::string name;
                           for (char c : p.param) {
                             if (c != '-') name += c;
                           }
                           return name;
                         });

}  // namespace
}  // namespace faultline::nemesis
