// etcd's member list replies as the JSON gateway writes them (uint64s as strings), and the
// refusal of a system without membership changes, without a cluster.
#include "systems/internal/etcd_membership.h"

#include <gtest/gtest.h>

#include "systems/registry.h"

namespace faultline::systems::internal {
namespace {

TEST(EtcdMembersTest, ParsesAListWithAnUnstartedMember) {
  const auto list = ParseEtcdMembers(
      R"({"header":{"cluster_id":"1","member_id":"12916103059400352701","raft_term":"4"},)"
      R"("members":[{"ID":"12916103059400352701","name":"n1",)"
      R"("peerURLs":["http://198.18.0.1:2380"],"clientURLs":["http://198.18.0.1:2379"]},)"
      R"({"ID":"18446744073709551615","peerURLs":["http://198.18.0.2:2380"]}]})");
  ASSERT_TRUE(list) << list.error().message();
  EXPECT_EQ(list->asked_id, "12916103059400352701");
  ASSERT_EQ(list->members.size(), 2u);
  EXPECT_EQ(list->members[0], (EtcdMember{.id = "12916103059400352701",
                                          .name = "n1",
                                          .peer_urls = {"http://198.18.0.1:2380"}}));
  // Above 2^53: kept exact, as a string.
  EXPECT_EQ(list->members[1].id, "18446744073709551615");
  EXPECT_EQ(list->members[1].name, "");
}

TEST(EtcdMembersTest, NumericIdsAreTakenToo) {
  const auto list = ParseEtcdMembers(
      R"({"header":{"member_id":7},"members":[{"ID":7,"name":"n3","peerURLs":[]}]})");
  ASSERT_TRUE(list) << list.error().message();
  EXPECT_EQ(list->asked_id, "7");
  EXPECT_EQ(list->members.at(0).id, "7");
}

TEST(EtcdMembersTest, RefusesWhatIsNotAList) {
  EXPECT_FALSE(ParseEtcdMembers("not json"));
  EXPECT_FALSE(ParseEtcdMembers(R"({"members":[]})"));                               // no header
  EXPECT_FALSE(ParseEtcdMembers(R"({"header":{"member_id":"1"}})"));                 // no members
  EXPECT_FALSE(ParseEtcdMembers(R"({"header":{"member_id":"1"},"members":[{}]})"));  // no ID
}

TEST(EtcdMembersTest, PeerUrlIsTheRaftPort) {
  EXPECT_EQ(
      EtcdPeerUrl(SystemNode{
          .name = "n2", .address = "198.18.0.2", .port = 2379, .data_dir = "", .log_dir = ""}),
      "http://198.18.0.2:2380");
}

// A system without membership changes refuses the fault before any cluster work, with its reason:
// ZooKeeper's reconfig needs a local cluster (it writes the joining server's configuration).
TEST(MembershipRefusalTest, ZooKeeperOverSshSaysWhatReconfigNeeds) {
  auto system = OpenSystem("zookeeper");
  ASSERT_TRUE(system);
  class NoControl final : public nemesis::NodeControl {
   public:
    std::string_view Name() const override { return "none"; }
    std::vector<std::string> Nodes() const override { return {}; }
    std::vector<nemesis::ProcessReport> Process(const std::vector<std::string>&,
                                                nemesis::ProcessAction) override {
      return {};
    }
    Result<std::vector<nemesis::DbProcess>> Databases() override {
      return std::vector<nemesis::DbProcess>{};
    }
    Result<nemesis::CommandOutput> Run(std::string_view, std::string_view,
                                       std::string_view) override {
      return nemesis::CommandOutput{};
    }
  } control;
  auto membership = (*system)->Membership(SystemCluster{}, control);
  ASSERT_FALSE(membership);
  EXPECT_NE(membership.error().message().find("need a local cluster"), std::string::npos)
      << membership.error().message();
}

}  // namespace
}  // namespace faultline::systems::internal
