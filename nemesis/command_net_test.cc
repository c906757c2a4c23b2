// Unprivileged tests of the command backend: the exact commands and iptables-restore input it
// sends through a fake NodeControl, and how it reads what comes back.
#include "nemesis/command_net.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <set>

#include "nemesis/internal/iptables_rules.h"

namespace faultline::nemesis {
namespace {

using ::testing::HasSubstr;

struct Call {
  std::string node;
  std::string command;
  std::string input;
};

// Records every Run and answers with a scripted reply (by node, first match of a command prefix).
class FakeControl final : public NodeControl {
 public:
  explicit FakeControl(std::vector<std::string> nodes) : nodes_(std::move(nodes)) {}
  std::string_view Name() const override { return "fake"; }
  std::vector<std::string> Nodes() const override { return nodes_; }
  std::vector<ProcessReport> Process(const std::vector<std::string>&, ProcessAction) override {
    return {};
  }
  Result<std::vector<DbProcess>> Databases() override { return std::vector<DbProcess>{}; }
  Result<CommandOutput> Run(std::string_view node, std::string_view command,
                            std::string_view input) override {
    std::lock_guard lock(mu_);
    calls_.push_back({std::string(node), std::string(command), std::string(input)});
    if (unreachable_.count(std::string(node)) != 0) {
      return MakeError(ErrorCode::kUnavailable, "ssh: connect to host: no route");
    }
    for (const auto& [key, reply] : replies_) {
      if (key.first == node && command.rfind(key.second, 0) == 0) return reply;
    }
    // By default the restore succeeds, and the apply script's marker is echoed.
    CommandOutput ok;
    if (command.find("echo faultline-restored") != std::string_view::npos) {
      ok.out = "faultline-restored\n";
    }
    return ok;
  }

  void Reply(const std::string& node, const std::string& prefix, CommandOutput out) {
    replies_[{node, prefix}] = std::move(out);
  }
  void Unreachable(const std::string& node) { unreachable_.insert(node); }
  std::vector<Call> CallsTo(const std::string& node) {
    std::lock_guard lock(mu_);
    std::vector<Call> out;
    for (const auto& c : calls_) {
      if (c.node == node) out.push_back(c);
    }
    return out;
  }
  void Clear() {
    std::lock_guard lock(mu_);
    calls_.clear();
  }

 private:
  std::vector<std::string> nodes_;
  std::mutex mu_;
  std::vector<Call> calls_;
  std::map<std::pair<std::string, std::string>, CommandOutput> replies_;
  std::set<std::string> unreachable_;
};

NetConfig Config() {
  NetConfig c;
  c.run_id = "r1";
  for (int k = 1; k <= 3; ++k) {
    c.nodes.push_back(
        {.name = "n" + std::to_string(k), .netns = "", .address = "198.18.9." + std::to_string(k)});
  }
  return c;
}

TEST(CommandNet, ApplySendsOneRestorePerNodeWithTheSharedRuleset) {
  FakeControl control({"n1", "n2", "n3"});
  auto net = MakeCommandNet(Config(), control);
  ASSERT_TRUE(net) << net.error().message();
  EXPECT_EQ((*net)->Name(), "iptables-over-fake");
  // n1 drops n2 and n3; n2 drops n1; n3 drops nothing.
  auto applied = (*net)->Apply({{"n1", {"n2", "n3"}}, {"n2", {"n1"}}}, PartitionMode::kDrop);
  ASSERT_TRUE(applied) << applied.error().message();
  ASSERT_TRUE(applied->ok()) << applied->Describe();
  EXPECT_EQ(applied->backend, "iptables-over-fake");

  const auto n1 = control.CallsTo("n1");
  ASSERT_EQ(n1.size(), 1u);
  EXPECT_THAT(n1[0].command, HasSubstr("iptables-restore --noflush"));
  EXPECT_EQ(n1[0].input,
            "*filter\n"
            ":faultline_r1 - [0:0]\n"
            "-A faultline_r1 -s 198.18.9.2/32 -j DROP\n"
            "-A faultline_r1 -s 198.18.9.3/32 -j DROP\n"
            "-I INPUT 1 -j faultline_r1\n"
            "COMMIT\n");
  EXPECT_EQ(n1[0].input, internal::IptablesApplyInput(PartitionMode::kDrop, "faultline_r1",
                                                      {"198.18.9.2", "198.18.9.3"}, false));
  EXPECT_THAT(applied->nodes[0].mechanism, HasSubstr("iptables-restore over fake"));
  EXPECT_TRUE(applied->nodes[0].needs_heal);
  // A node that drops nothing gets its leftovers healed: it reads the table first.
  const auto n3 = control.CallsTo("n3");
  ASSERT_EQ(n3.size(), 1u);
  EXPECT_EQ(n3[0].command, "iptables-save -t filter");
  EXPECT_FALSE(applied->nodes[2].needs_heal);

  // A second apply replaces the rules and does not add a second jump.
  control.Clear();
  auto again = (*net)->Apply({{"n1", {"n3"}}}, PartitionMode::kReject);
  ASSERT_TRUE(again && again->ok());
  const auto n1b = control.CallsTo("n1");
  ASSERT_EQ(n1b.size(), 1u);
  EXPECT_EQ(n1b[0].input,
            "*filter\n"
            ":faultline_r1 - [0:0]\n"
            "-A faultline_r1 -s 198.18.9.3/32 -p tcp -j REJECT --reject-with tcp-reset\n"
            "-A faultline_r1 -s 198.18.9.3/32 -j REJECT --reject-with icmp-admin-prohibited\n"
            "COMMIT\n");
  // n2 drops nothing now: its known chain is removed in one round trip.
  const auto n2 = control.CallsTo("n2");
  ASSERT_EQ(n2.size(), 1u);
  EXPECT_EQ(n2[0].input,
            "*filter\n-D INPUT -j faultline_r1\n-F faultline_r1\n-X faultline_r1\n"
            "COMMIT\n");

  control.Clear();
  const NetReport healed = (*net)->Heal();
  ASSERT_TRUE(healed.ok()) << healed.Describe();
  const auto n1c = control.CallsTo("n1");
  ASSERT_EQ(n1c.size(), 1u);
  EXPECT_EQ(n1c[0].command, "iptables-restore --noflush");
  EXPECT_EQ(n1c[0].input,
            "*filter\n-D INPUT -j faultline_r1\n-F faultline_r1\n-X faultline_r1\n"
            "COMMIT\n");
  for (const auto& n : healed.nodes) EXPECT_FALSE(n.needs_heal) << n.node;
}

TEST(CommandNet, HealOfUnknownStateReadsTheTableAndRemovesOnlyOurs) {
  FakeControl control({"n1", "n2", "n3"});
  // Left by an earlier process: two jumps and the chain on n1, next to someone else's rules.
  control.Reply("n1", "iptables-save",
                {.exit_code = 0,
                 .out = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT "
                        "[0:0]\n:faultline_r1 - [0:0]\n:other - [0:0]\n-A INPUT -j faultline_r1\n"
                        "-A INPUT -j other\n-A INPUT -j faultline_r1\n-A faultline_r1 -s "
                        "198.18.9.2/32 -j DROP\nCOMMIT\n",
                 .err = ""});
  auto net = MakeCommandNet(Config(), control);
  ASSERT_TRUE(net);
  const NetReport healed = (*net)->Heal();
  ASSERT_TRUE(healed.ok()) << healed.Describe();
  const auto n1 = control.CallsTo("n1");
  ASSERT_EQ(n1.size(), 2u);
  EXPECT_EQ(n1[0].command, "iptables-save -t filter");
  EXPECT_EQ(n1[1].command, "iptables-restore --noflush");
  EXPECT_EQ(n1[1].input,
            "*filter\n-D INPUT -j faultline_r1\n-D INPUT -j faultline_r1\n-F faultline_r1\n"
            "-X faultline_r1\nCOMMIT\n");
  // Nothing of ours on n2: no restore at all.
  EXPECT_EQ(control.CallsTo("n2").size(), 1u);
}

TEST(CommandNet, FailuresNameTheNodeAndKeepNeedsHeal) {
  FakeControl control({"n1", "n2", "n3"});
  control.Unreachable("n2");
  control.Reply("n3", "iptables-restore",
                {.exit_code = 2, .out = "", .err = "iptables-restore: line 3 failed\n"});
  auto net = MakeCommandNet(Config(), control);
  ASSERT_TRUE(net);
  auto applied =
      (*net)->Apply({{"n1", {"n2"}}, {"n2", {"n1"}}, {"n3", {"n1"}}}, PartitionMode::kDrop);
  ASSERT_TRUE(applied);
  EXPECT_FALSE(applied->ok());
  EXPECT_THAT(applied->Succeeded(), ::testing::ElementsAre("n1"));
  EXPECT_THAT(applied->Failed(), ::testing::ElementsAre("n2", "n3"));
  ASSERT_TRUE(applied->nodes[1].error.has_value());
  EXPECT_EQ(applied->nodes[1].error->code(), ErrorCode::kUnavailable);
  EXPECT_THAT(applied->nodes[1].error->message(), HasSubstr("on n2"));
  EXPECT_THAT(applied->nodes[2].error->message(),
              HasSubstr("iptables-restore --noflush: exit 2: iptables-restore: line 3 failed"));
  EXPECT_TRUE(applied->nodes[1].needs_heal);
  EXPECT_TRUE(applied->nodes[2].needs_heal);
}

TEST(CommandNet, NewOnlyDeletesConntrackEntriesInTheSameCommand) {
  FakeControl control({"n1", "n2", "n3"});
  control.Reply(
      "n1", "iptables-restore",
      {.exit_code = 0,
       .out = "faultline-restored\n"
              "faultline-conntrack 198.18.9.2 0 conntrack v1.4.7 (conntrack-tools): 2 flow "
              "entries have been deleted.\n"
              "faultline-conntrack 198.18.9.3 1 conntrack v1.4.7 (conntrack-tools): 0 flow "
              "entries have been deleted.\n",
       .err = ""});
  control.Reply("n2", "iptables-restore",
                {.exit_code = 0,
                 .out = "faultline-restored\nfaultline-conntrack 198.18.9.1 127 sh: 1: "
                        "conntrack: not found\n",
                 .err = ""});
  auto net = MakeCommandNet(Config(), control);
  ASSERT_TRUE(net);
  auto applied = (*net)->Apply({{"n1", {"n2", "n3"}}, {"n2", {"n1"}}}, PartitionMode::kNewOnly);
  ASSERT_TRUE(applied);
  ASSERT_TRUE(applied->ok()) << applied->Describe();
  const auto n1 = control.CallsTo("n1");
  ASSERT_EQ(n1.size(), 1u);
  EXPECT_THAT(n1[0].command, HasSubstr("for a in 198.18.9.2 198.18.9.3; do"));
  EXPECT_THAT(n1[0].command, HasSubstr("conntrack -D -s \"$a\""));
  EXPECT_THAT(n1[0].input, HasSubstr("-m conntrack --ctstate NEW -j DROP"));
  ASSERT_EQ(applied->notes.size(), 1u);
  EXPECT_THAT(applied->notes[0], HasSubstr("deleted: n1 2)"));
  EXPECT_THAT(applied->notes[0], HasSubstr("NOT deleted"));
  EXPECT_THAT(applied->notes[0], HasSubstr("n2: conntrack -D -s 198.18.9.1: exit 127"));

  FakeControl quiet({"n1", "n2", "n3"});
  auto off = MakeCommandNet(Config(), quiet, {.delete_conntrack = false});
  ASSERT_TRUE(off);
  auto applied_off = (*off)->Apply({{"n1", {"n2"}}}, PartitionMode::kNewOnly);
  ASSERT_TRUE(applied_off && applied_off->ok());
  EXPECT_THAT(quiet.CallsTo("n1")[0].command, ::testing::Not(HasSubstr("conntrack -D")));
  EXPECT_THAT(applied_off->notes[0], HasSubstr("were not deleted"));
}

TEST(CommandNet, RejectsNodesTheControlDoesNotKnow) {
  FakeControl control({"n1", "n2"});
  auto net = MakeCommandNet(Config(), control);
  ASSERT_FALSE(net);
  EXPECT_EQ(net.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(net.error().message(), HasSubstr("node n3: not a node of the fake control"));
}

}  // namespace
}  // namespace faultline::nemesis
