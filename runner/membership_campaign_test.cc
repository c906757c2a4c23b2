// A campaign that grows and shrinks an etcd cluster (issue 17 §4): register workload, the
// member-remove fault (one member or a minority removed, stopped and wiped; the heal after each
// fault adds them back on an empty data dir). The verdict must be valid, the faults recorded in
// nemesis.json and the history, and afterwards the cluster must have its original five members,
// all started, at least one of them with a new member id (it really left and came back). Root
// only; the cluster is brought up by the test (no owner) so it can be inspected after the run, and
// torn down whether the test passes or fails.
//
// ZooKeeper (reconfig): a 3-node ensemble under member-remove (reconfig -remove, killed, wiped;
// the heal starts it on a configuration naming the ensemble and itself, then reconfig -add), sync
// reads: valid, the removal and the add in nemesis.json, the original three servers in the
// ensemble's configuration afterwards.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stop_token>

#include "cluster/cluster.h"
#include "cluster/http.h"
#include "common/ports.h"
#include "runner/local.h"
#include "systems/registry.h"

namespace faultline::runner {
namespace {

namespace fs = std::filesystem;
using checker::Validity;

class MembershipCampaignTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "needs root (network namespaces, the cluster's supervisor)";
    root_ = fs::temp_directory_path() / fmt::format("faultline-membertest-{}", ::getpid());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override {
    (void)cluster::Down(kName, State());
    (void)cluster::Down(kZkName, State());
    fs::remove_all(root_);
  }

  std::string State() const { return (root_ / "state").string(); }

  struct Member {
    std::string id;
    std::string name;  // empty while not started
  };
  // Peer URL -> member, as the first node that answers lists them.
  static std::map<std::string, Member> Members(const cluster::ClusterState& state) {
    for (const cluster::NodeState& n : state.nodes) {
      cluster::HttpClient http(n.address, kEtcdClientPort);
      auto r = http.Request("POST", "/v3/cluster/member/list", "{}", std::chrono::seconds(2));
      if (!r || r->status != 200) continue;
      const auto j = nlohmann::json::parse(r->body, nullptr, false);
      if (j.is_discarded() || !j.contains("members")) continue;
      std::map<std::string, Member> out;
      for (const auto& m : j["members"]) {
        for (const auto& url : m.value("peerURLs", nlohmann::json::array())) {
          out[url.get<std::string>()] =
              Member{.id = m.value("ID", std::string()), .name = m.value("name", std::string())};
        }
      }
      return out;
    }
    return {};
  }

  static constexpr const char* kName = "memb";
  static constexpr const char* kZkName = "membzk";
  fs::path root_;
};

TEST_F(MembershipCampaignTest, EtcdRegisterWithMemberRemoveIsValidAndEndsWithTheOriginalMembers) {
  cluster::ClusterSpec spec;
  spec.name = kName;
  spec.nodes = 5;
  spec.state_root = State();
  Result<cluster::ClusterState> state = cluster::Up(spec);
  ASSERT_TRUE(state) << state.error().message();
  const auto before = Members(*state);
  ASSERT_EQ(before.size(), 5u);

  CampaignConfig c;
  c.system = "etcd";
  c.name = kName;
  c.nodes = 5;
  c.out = (root_ / "runs").string();
  c.concurrency = 10;
  c.time_limit_s = 20;
  c.nemesis = {FaultKind::kMemberRemove};
  c.fault_s = 4;
  c.heal_s = 2;
  c.final_phase_s = 30;
  c.check_time_limit_s = 30;
  c.seed = 3;
  LocalCampaignOptions options;
  options.state_root = State();
  Result<RunReport> r = RunLocalCampaign(c, std::stop_token(), {}, options);
  ASSERT_TRUE(r) << r.error().message();
  std::printf("%s", r->text.c_str());
  EXPECT_EQ(r->verdict.validity, Validity::kValid) << r->text;
  EXPECT_GE(r->verdict.figures.faults, 2);

  // Recorded as faults are: in nemesis.json and the history, with what the member API did.
  std::stringstream nemesis_json;
  nemesis_json << std::ifstream(r->files.nemesis).rdbuf();
  EXPECT_NE(nemesis_json.str().find("member-remove"), std::string::npos) << nemesis_json.str();
  EXPECT_NE(nemesis_json.str().find("removed through"), std::string::npos) << nemesis_json.str();
  // Every heal added the removed members back and closed their ledger entries.
  EXPECT_EQ(nemesis_json.str().find("heal: incomplete"), std::string::npos) << nemesis_json.str();
  std::stringstream history;
  history << std::ifstream(r->files.jsonl).rdbuf();
  EXPECT_NE(history.str().find("\"member-remove\""), std::string::npos);

  // The original membership: the same five peer URLs, every member started (named after its
  // node), and at least one new member id (a member left and came back).
  const auto after = Members(*state);
  ASSERT_EQ(after.size(), 5u);
  int new_ids = 0;
  for (const cluster::NodeState& n : state->nodes) {
    auto it = after.find(n.PeerUrl());
    ASSERT_NE(it, after.end()) << n.name << " is no member after the campaign";
    EXPECT_EQ(it->second.name, n.name);
    if (before.at(n.PeerUrl()).id != it->second.id) ++new_ids;
  }
  EXPECT_GE(new_ids, 1);
  // And the system's own view agrees.
  auto system = systems::OpenSystem("etcd");
  ASSERT_TRUE(system);
  auto nodes = systems::LocalNodes(*state, (*system)->Info());
  ASSERT_TRUE(nodes);
  auto control = cluster::MakeLocalControl(*state);
  ASSERT_TRUE(control);
  auto membership = (*system)->Membership(*nodes, **control);
  ASSERT_TRUE(membership) << membership.error().message();
  auto members = (*membership)->Members();
  ASSERT_TRUE(members) << members.error().message();
  EXPECT_EQ(*members, state->NodeNames());
}

TEST_F(MembershipCampaignTest, ZooKeeperRegisterWithMemberRemoveIsValidAndHealsTheEnsemble) {
  ASSERT_TRUE(fs::exists("/usr/share/java/zookeeper.jar")) << "needs zookeeper (tools/setup.sh)";
  CampaignConfig c;
  c.system = "zookeeper";
  c.name = kZkName;
  c.nodes = 3;
  c.out = (root_ / "runs").string();
  c.concurrency = 6;
  c.time_limit_s = 12;
  c.read_mode = "sync";
  c.nemesis = {FaultKind::kMemberRemove};
  c.fault_s = 4;
  c.heal_s = 2;
  c.final_phase_s = 20;
  c.check_time_limit_s = 30;
  c.seed = 5;
  c.leave_db_running = true;  // inspected below, then torn down by TearDown
  LocalCampaignOptions options;
  options.state_root = State();
  Result<RunReport> r = RunLocalCampaign(c, std::stop_token(), {}, options);
  ASSERT_TRUE(r) << r.error().message();
  std::printf("%s", r->text.c_str());
  EXPECT_EQ(r->verdict.validity, Validity::kValid) << r->text;
  EXPECT_GE(r->verdict.figures.faults, 1);

  // The ensemble shrank (reconfig -remove, the server stopped and wiped) and every heal added the
  // server back and closed its ledger entry.
  std::stringstream nemesis_json;
  nemesis_json << std::ifstream(r->files.nemesis).rdbuf();
  const std::string nj = nemesis_json.str();
  EXPECT_NE(nj.find("reconfig -remove"), std::string::npos) << nj;
  EXPECT_NE(nj.find("wiped version-2"), std::string::npos) << nj;
  EXPECT_EQ(nj.find("heal: incomplete"), std::string::npos) << nj;
  std::stringstream history;
  history << std::ifstream(r->files.jsonl).rdbuf();
  EXPECT_NE(history.str().find("\"member-remove\""), std::string::npos);

  // The ensemble's own configuration: the original three servers (the removed one added back by
  // reconfig -add), each serving.
  Result<cluster::ClusterState> state = cluster::Load(kZkName, State());
  ASSERT_TRUE(state) << state.error().message();
  auto system = systems::OpenSystem("zookeeper");
  ASSERT_TRUE(system);
  auto nodes = systems::LocalNodes(*state, (*system)->Info());
  ASSERT_TRUE(nodes);
  auto control = cluster::MakeLocalControl(*state);
  ASSERT_TRUE(control);
  auto membership = (*system)->Membership(*nodes, **control);
  ASSERT_TRUE(membership) << membership.error().message();
  auto members = (*membership)->Members();
  ASSERT_TRUE(members) << members.error().message();
  EXPECT_EQ(*members, state->NodeNames());
  EXPECT_TRUE((*system)->Ready(*nodes, **control)) << "not every server serves after the heal";
  EXPECT_TRUE((*system)->Teardown(*nodes, **control));
}

}  // namespace
}  // namespace faultline::runner
