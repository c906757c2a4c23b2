// ZooKeeper's membership through reconfig (issue 17 §4), against a fake ensemble: the order of
// reconfig, kill, wipe, configuration and start; idempotent removals and adds (a heal repeated
// after a SIGKILL of faultline at any step); retries of refusals that may pass.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "systems/internal/zookeeper.h"

namespace faultline::systems::internal {
namespace {

namespace fs = std::filesystem;

// An ensemble as the membership sees it: the committed configuration, which servers run, and
// everything done to them, in order.
struct Ensemble {
  ZkServers servers;
  uint64_t version = 0x100000000;
  std::set<std::string> running;
  std::vector<std::string> log;
  int refuse_reconfigs = 0;  // the next N reconfigs answer "no quorum of the new config"
  bool serve = true;         // srvr says follower for a running member
};

std::string Render(const ZkServers& servers, uint64_t version) {
  return ZkDynamicConfig(servers) + fmt::format("version={:x}", version);
}

class FakeAdmin final : public ZkAdmin {
 public:
  explicit FakeAdmin(Ensemble& e) : e_(e) {}
  Result<std::string> GetConfig(const SystemNode& node) override {
    if (!e_.running.contains(node.name)) {
      return MakeError(ErrorCode::kUnavailable, fmt::format("{}: connection refused", node.name));
    }
    return Render(e_.servers, e_.version);
  }
  Result<std::string> Reconfig(const std::vector<SystemNode>& via, std::string_view joining,
                               std::string_view leaving) override {
    std::vector<std::string> names;
    for (const SystemNode& n : via) names.push_back(n.name);
    e_.log.push_back(
        fmt::format("reconfig +[{}] -[{}] via {}", joining, leaving, fmt::join(names, ",")));
    if (e_.refuse_reconfigs > 0) {
      --e_.refuse_reconfigs;
      return MakeError(ErrorCode::kUnavailable, "reconfig: ZNEWCONFIGNOQUORUM");
    }
    if (!leaving.empty()) e_.servers.erase(std::stoi(std::string(leaving)));
    if (!joining.empty()) {
      const std::string j(joining);  // server.N=spec
      const size_t eq = j.find('=');
      e_.servers[std::stoi(j.substr(7, eq - 7))] = j.substr(eq + 1);
    }
    ++e_.version;
    return Render(e_.servers, e_.version);
  }
  Result<std::string> Srvr(const SystemNode& node) override {
    if (!e_.running.contains(node.name)) return MakeError(ErrorCode::kUnavailable, "refused");
    const bool member = e_.servers.contains(std::stoi(node.name.substr(1)));
    return std::string(member && e_.serve ? "Mode: follower\n" : "not serving\n");
  }

 private:
  Ensemble& e_;
};

class FakeControl final : public nemesis::NodeControl {
 public:
  explicit FakeControl(Ensemble& e) : e_(e) {}
  std::string_view Name() const override { return "fake"; }
  std::vector<std::string> Nodes() const override { return {}; }
  std::vector<nemesis::ProcessReport> Process(const std::vector<std::string>& nodes,
                                              nemesis::ProcessAction action) override {
    std::vector<nemesis::ProcessReport> out;
    for (const std::string& n : nodes) {
      e_.log.push_back(fmt::format("{} {}", nemesis::ProcessActionName(action), n));
      if (action == nemesis::ProcessAction::kKill) e_.running.erase(n);
      if (action == nemesis::ProcessAction::kStart) e_.running.insert(n);
      nemesis::ProcessReport r;
      r.node = n;
      r.action = action;
      r.ok = true;
      out.push_back(std::move(r));
    }
    return out;
  }
  Result<std::vector<nemesis::DbProcess>> Databases() override {
    return std::vector<nemesis::DbProcess>{};
  }
  Result<nemesis::CommandOutput> Run(std::string_view node, std::string_view command,
                                     std::string_view) override {
    e_.log.push_back(fmt::format("run {}: {}", node, command));
    return nemesis::CommandOutput{};
  }

 private:
  Ensemble& e_;
};

class ZkMembershipTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / fmt::format("zk-member-{}", ::getpid());
    fs::remove_all(root_);
    for (int i = 1; i <= 3; ++i) {
      cluster_.nodes.push_back(SystemNode{.name = fmt::format("n{}", i),
                                          .address = fmt::format("198.18.0.{}", i),
                                          .port = kZkClientPort,
                                          .data_dir = (root_ / fmt::format("n{}", i)).string(),
                                          .log_dir = ""});
      e_.running.insert(fmt::format("n{}", i));
    }
    e_.servers = ZkAllServers(cluster_);
  }
  void TearDown() override { fs::remove_all(root_); }

  std::unique_ptr<nemesis::Membership> Make() {
    return MakeZkMembership(cluster_, control_, admin_, ZkTuning{},
                            {.change_timeout = std::chrono::milliseconds(2000),
                             .start_timeout = std::chrono::milliseconds(300),
                             .poll = std::chrono::milliseconds(1)});
  }
  std::vector<std::string> Members(nemesis::Membership& m) {
    auto r = m.Members();
    EXPECT_TRUE(r) << r.error().message();
    return r ? *r : std::vector<std::string>{};
  }
  std::string File(const std::string& node, const std::string& name) {
    std::stringstream s;
    s << std::ifstream(root_ / node / name).rdbuf();
    return s.str();
  }

  fs::path root_;
  SystemCluster cluster_;
  Ensemble e_;
  FakeAdmin admin_{e_};
  FakeControl control_{e_};
};

TEST_F(ZkMembershipTest, RemoveThenAddRestoresTheEnsemble) {
  auto m = Make();
  EXPECT_EQ(m->Name(), "zookeeper reconfig");
  EXPECT_EQ(Members(*m), (std::vector<std::string>{"n1", "n2", "n3"}));
  std::vector<std::string> steps;
  auto step = [&](std::string_view s) { steps.emplace_back(s); };

  auto removed = m->Remove("n2", step);
  ASSERT_TRUE(removed) << removed.error().message();
  EXPECT_NE(removed->find("reconfig -remove 2 through n1,n3"), std::string::npos) << *removed;
  EXPECT_EQ(steps, (std::vector<std::string>{"removed", "stopped", "wiped"}));
  ASSERT_EQ(e_.log.size(), 3u);
  EXPECT_EQ(e_.log[0], "reconfig +[] -[2] via n1,n3");  // out of the ensemble first,
  EXPECT_EQ(e_.log[1], "kill n2");                      // then stopped
  EXPECT_NE(e_.log[2].find("rm -rf -- "), std::string::npos);
  EXPECT_NE(e_.log[2].find("/n2'/version-2 "), std::string::npos) << e_.log[2];
  EXPECT_NE(e_.log[2].find("/n2'/zoo.cfg.dynamic*"), std::string::npos) << e_.log[2];
  EXPECT_EQ(Members(*m), (std::vector<std::string>{"n1", "n3"}));

  e_.log.clear();
  steps.clear();
  auto added = m->Add("n2", step);
  ASSERT_TRUE(added) << added.error().message();
  EXPECT_EQ(steps, (std::vector<std::string>{"started", "added"}));
  ASSERT_GE(e_.log.size(), 4u);
  EXPECT_EQ(e_.log[0], "kill n2");
  EXPECT_NE(e_.log[1].find("rm -rf"), std::string::npos);
  EXPECT_EQ(e_.log[2], "start n2");  // started before the add: it syncs as a non-voting follower
  EXPECT_EQ(e_.log[3],
            "reconfig +[server.2=198.18.0.2:2888:3888:participant;198.18.0.2:2181] -[] via n1,n3");
  // Its configuration names the current ensemble and itself.
  EXPECT_EQ(File("n2", "zoo.cfg.dynamic"), ZkDynamicConfig(ZkAllServers(cluster_)));
  EXPECT_NE(File("n2", "zoo.cfg").find("reconfigEnabled=true"), std::string::npos);
  EXPECT_EQ(File("n2", "myid"), "2\n");
  EXPECT_EQ(Members(*m), (std::vector<std::string>{"n1", "n2", "n3"}));
  EXPECT_EQ(e_.servers, ZkAllServers(cluster_));
}

// A heal repeats what a SIGKILLed faultline may have done already: a second remove only stops and
// wipes, a second add only makes sure the server runs; neither reconfigures again.
TEST_F(ZkMembershipTest, RemoveAndAddAreIdempotent) {
  auto m = Make();
  ASSERT_TRUE(m->Remove("n3", {}));
  auto again = m->Remove("n3", {});
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_NE(again->find("no member any more"), std::string::npos) << *again;
  ASSERT_TRUE(m->Add("n3", {}));
  e_.log.clear();
  auto twice = m->Add("n3", {});
  ASSERT_TRUE(twice) << twice.error().message();
  EXPECT_NE(twice->find("n3 a member already"), std::string::npos) << *twice;
  EXPECT_EQ(e_.log, (std::vector<std::string>{"start n3"}));
  EXPECT_EQ(e_.servers, ZkAllServers(cluster_));
  EXPECT_EQ(e_.version, 0x100000002u);  // one remove, one add
}

// Killed between the start and the reconfig: the node runs, syncing, but is no member. The heal
// stops and wipes it before configuring and starting it again.
TEST_F(ZkMembershipTest, AddAfterAStartWithoutReconfigBeginsAfresh) {
  auto m = Make();
  ASSERT_TRUE(m->Remove("n1", {}));
  e_.running.insert("n1");
  e_.log.clear();
  auto added = m->Add("n1", {});
  ASSERT_TRUE(added) << added.error().message();
  ASSERT_GE(e_.log.size(), 4u);
  EXPECT_EQ(e_.log[0], "kill n1");
  EXPECT_NE(e_.log[1].find("/n1'/version-2"), std::string::npos);
  EXPECT_EQ(e_.log[2], "start n1");
  EXPECT_EQ(e_.log[3].rfind("reconfig +[server.1=", 0), 0u) << e_.log[3];
  EXPECT_EQ(Members(*m), (std::vector<std::string>{"n1", "n2", "n3"}));
}

TEST_F(ZkMembershipTest, RefusalsThatMayPassAreRetried) {
  auto m = Make();
  e_.refuse_reconfigs = 2;
  ASSERT_TRUE(m->Remove("n2", {}));
  EXPECT_EQ(std::count_if(e_.log.begin(), e_.log.end(),
                          [](const std::string& l) { return l.starts_with("reconfig"); }),
            3);
  EXPECT_EQ(Members(*m), (std::vector<std::string>{"n1", "n3"}));
}

TEST_F(ZkMembershipTest, AnAddedServerThatNeverServesTimesOut) {
  auto m = Make();
  ASSERT_TRUE(m->Remove("n2", {}));
  e_.serve = false;
  auto added = m->Add("n2", {});
  ASSERT_FALSE(added);
  EXPECT_EQ(added.error().code(), ErrorCode::kDeadlineExceeded);
  EXPECT_NE(added.error().message().find("n2 not serving yet"), std::string::npos)
      << added.error().message();
}

TEST_F(ZkMembershipTest, NoMemberAnsweringIsUnavailable) {
  auto m = Make();
  e_.running.clear();
  auto members = m->Members();
  ASSERT_FALSE(members);
  EXPECT_EQ(members.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(members.error().message().find("n1: n1: connection refused"), std::string::npos)
      << members.error().message();
}

TEST(ParseZkConfigTest, ServersAndHexVersion) {
  auto c = ParseZkConfig(
      "server.1=198.18.0.1:2888:3888:participant;198.18.0.1:2181\n"
      "server.3=198.18.0.3:2888:3888:participant;0.0.0.0:2181\nversion=10000000a");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->version, 0x10000000au);
  ASSERT_EQ(c->servers.size(), 2u);
  EXPECT_EQ(c->servers.at(3), "198.18.0.3:2888:3888:participant;0.0.0.0:2181");
  EXPECT_FALSE(c->servers.contains(2));
}

TEST(ParseZkConfigTest, RefusesWhatIsNoConfiguration) {
  EXPECT_FALSE(ParseZkConfig(""));
  EXPECT_FALSE(ParseZkConfig("version=1"));  // no server
  EXPECT_FALSE(ParseZkConfig("server.x=a:1:2\nversion=1"));
  EXPECT_FALSE(ParseZkConfig("server.1=a:1:2\nversion=zz"));
  EXPECT_FALSE(ParseZkConfig("not a config"));
}

}  // namespace
}  // namespace faultline::systems::internal
