// Unprivileged unit tests: the state file, names, subnet allocation, etcd flags.
#include "cluster/internal/state.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "cluster/cluster.h"
#include "cluster/internal/supervisor.h"

namespace faultline::cluster {
namespace {

ClusterState Sample() {
  ClusterState s;
  s.name = "abc1";
  s.run_dir = "/tmp/x/clusters/abc1";
  s.subnet = "198.18.3.0/24";
  s.control_address = "198.18.3.254";
  s.bridge_netns = "fl-abc1-br";
  s.host_link = "fl-abc1";
  s.db = Db::kEtcd;
  s.etcd.heartbeat_ms = 20;
  s.etcd.election_ms = 200;
  s.etcd.pre_vote = false;
  s.etcd.snapshot_count = 77;
  s.etcd.corrupt_check = true;
  s.etcd.extra_flags = {"--quota-backend-bytes=1000000"};
  s.ssh = true;
  s.ssh_private_key = "/k";
  s.ssh_nodes_file = "/n.json";
  for (int k = 1; k <= 2; ++k) {
    NodeState n;
    n.name = "n" + std::to_string(k);
    n.netns = "fl-abc1-" + n.name;
    n.address = "198.18.3." + std::to_string(k);
    n.data_dir = s.run_dir + "/" + n.name + "/data";
    n.log_path = s.run_dir + "/" + n.name + "/etcd.log";
    n.db_pid = 100 + k;
    n.db_start_time = 18446744073709551000ULL + static_cast<unsigned>(k);  // above 2^53
    n.cgroups = {{"memory", "/sys/fs/cgroup/memory/faultline/abc1/" + n.name}};
    n.sshd_pid = 200 + k;
    n.sshd_start_time = 5;
    s.nodes.push_back(n);
  }
  s.supervisor_pid = 42;
  s.supervisor_start_time = 43;
  s.socket_path = s.run_dir + "/supervisor.sock";
  s.created_unix_ms = 1700000000123;
  return s;
}

TEST(ClusterStateTest, JsonRoundTripKeepsEveryField) {
  const ClusterState s = Sample();
  auto back = internal::StateFromJson(internal::StateToJson(s));
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(internal::StateToJson(*back), internal::StateToJson(s));
  EXPECT_EQ(back->nodes.at(1).db_start_time, s.nodes.at(1).db_start_time);
  EXPECT_EQ(back->etcd.pre_vote, false);
  EXPECT_EQ(back->etcd.extra_flags, s.etcd.extra_flags);
  EXPECT_EQ(back->nodes.at(0).cgroups, s.nodes.at(0).cgroups);
  EXPECT_EQ(back->created_unix_ms, 1700000000123);
}

TEST(ClusterStateTest, MalformedJsonIsAnError) {
  EXPECT_FALSE(internal::StateFromJson("{"));
  EXPECT_FALSE(internal::StateFromJson("{\"name\":\"x\"}"));  // required fields missing
  auto bad_db = internal::StateToJson(Sample());
  bad_db.replace(bad_db.find("\"etcd\""), 6, "\"zk\"");  // the "db" value comes first
  EXPECT_FALSE(internal::StateFromJson(bad_db));
}

TEST(ClusterStateTest, AccessorsDeriveFromNodes) {
  const ClusterState s = Sample();
  EXPECT_EQ(s.NodeNames(), (std::vector<std::string>{"n1", "n2"}));
  EXPECT_EQ(s.ClientUrls(),
            (std::vector<std::string>{"http://198.18.3.1:2379", "http://198.18.3.2:2379"}));
  EXPECT_EQ(s.nodes[0].PeerUrl(), "http://198.18.3.1:2380");
  const auto net = s.NetConfig();
  EXPECT_EQ(net.run_id, "flabc1");
  ASSERT_EQ(net.nodes.size(), 2u);
  EXPECT_EQ(net.nodes[1].netns, "fl-abc1-n2");
}

TEST(ClusterNameTest, Validation) {
  EXPECT_TRUE(internal::ValidateName("default"));
  EXPECT_TRUE(internal::ValidateName("a"));
  EXPECT_TRUE(internal::ValidateName("abcd1234"));
  EXPECT_FALSE(internal::ValidateName(""));
  EXPECT_FALSE(internal::ValidateName("abcd12345"));
  EXPECT_FALSE(internal::ValidateName("Ab"));
  EXPECT_FALSE(internal::ValidateName("a-b"));
  EXPECT_FALSE(internal::ValidateName("a/b"));
  EXPECT_FALSE(Load("../x", "/nonexistent"));
}

TEST(ClusterSubnetTest, DefaultGetsZeroOthersLowestFree) {
  EXPECT_EQ(*internal::AllocateSubnet("default", {}), 0);
  EXPECT_FALSE(internal::AllocateSubnet("default", {0}));
  EXPECT_EQ(*internal::AllocateSubnet("b", {}), 1);
  EXPECT_EQ(*internal::AllocateSubnet("b", {0, 1, 2, 4}), 3);
  std::set<int> all;
  for (int i = 0; i <= 255; ++i) all.insert(i);
  EXPECT_FALSE(internal::AllocateSubnet("b", all));
}

TEST(ClusterSubnetTest, OctetsFoundInIpOutput) {
  const std::string addr =
      "1: lo    inet 127.0.0.1/8 scope host lo\n"
      "4: eth0    inet 192.0.2.2/24 brd 192.0.2.255 scope global eth0\n"
      "9: fl-b    inet 198.18.7.254/24 scope global fl-b\n"
      "10: x    inet 10.198.18.9/24 scope global x\n";
  EXPECT_EQ(internal::OctetsInText(addr), (std::set<int>{7}));
  EXPECT_EQ(internal::OctetsInText("198.18.0.0/15 via 192.0.2.1 dev eth0"), (std::set<int>{0}));
}

TEST(ClusterEtcdFlagsTest, FlagsFollowSettings) {
  const ClusterState s = Sample();
  const auto argv = internal::EtcdArgv(s, s.nodes[1], /*existing=*/false);
  auto has = [&](const std::string& a) {
    return std::find(argv.begin(), argv.end(), a) != argv.end();
  };
  auto after = [&](const std::string& a) {
    auto it = std::find(argv.begin(), argv.end(), a);
    return it == argv.end() || it + 1 == argv.end() ? std::string() : *(it + 1);
  };
  EXPECT_EQ(argv[0], "etcd");
  EXPECT_TRUE(has("--pre-vote=false"));
  EXPECT_EQ(after("--heartbeat-interval"), "20");
  EXPECT_EQ(after("--election-timeout"), "200");
  EXPECT_EQ(after("--snapshot-count"), "77");
  EXPECT_EQ(after("--initial-cluster-state"), "new");
  EXPECT_EQ(after("--initial-cluster"), "n1=http://198.18.3.1:2380,n2=http://198.18.3.2:2380");
  EXPECT_EQ(after("--listen-client-urls"), "http://198.18.3.2:2379,http://127.0.0.1:2379");
  EXPECT_EQ(after("--data-dir"), s.nodes[1].data_dir);
  EXPECT_TRUE(has("--experimental-initial-corrupt-check=true"));
  EXPECT_TRUE(has("--quota-backend-bytes=1000000"));
  const auto again = internal::EtcdArgv(s, s.nodes[1], /*existing=*/true);
  EXPECT_NE(std::find(again.begin(), again.end(), "existing"), again.end());
}

TEST(ClusterDbTest, ParseAndName) {
  EXPECT_EQ(*ParseDb("etcd"), Db::kEtcd);
  EXPECT_EQ(*ParseDb("none"), Db::kNone);
  EXPECT_FALSE(ParseDb("zookeeper"));
  EXPECT_EQ(DbName(Db::kEtcd), "etcd");
}

TEST(ClusterListTest, MissingRootListsNothingAndLoadIsNotFound) {
  EXPECT_TRUE(List("/nonexistent-faultline-root").empty());
  auto s = Load("nope", "/nonexistent-faultline-root");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), ErrorCode::kNotFound);
}

}  // namespace
}  // namespace faultline::cluster
