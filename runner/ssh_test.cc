// RunSshCampaign's refusals, which come before any node is contacted (no root needed).
#include "runner/ssh.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>

#include "systems/registry.h"

namespace faultline::runner {
namespace {

using ::testing::HasSubstr;

TEST(SshCampaign, NodesFilePathOfClusterSpec) {
  EXPECT_EQ(SshNodesFilePath("ssh:/etc/lab/nodes.json"), "/etc/lab/nodes.json");
  EXPECT_EQ(SshNodesFilePath("ssh:"), std::nullopt);
  EXPECT_EQ(SshNodesFilePath("local"), std::nullopt);
}

TEST(SshCampaign, RefusesLossNamingTheFlag) {
  CampaignConfig c;
  c.cluster = "ssh:/nonexistent/nodes.json";
  c.nemesis = {FaultKind::kPartition, FaultKind::kLoss};
  Result<RunReport> r = RunSshCampaign(c, std::stop_token());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(r.error().message(), HasSubstr("--nemesis loss"));
}

TEST(SshCampaign, RefusesALocalCluster) {
  CampaignConfig c;
  c.cluster = "local";
  Result<RunReport> r = RunSshCampaign(c, std::stop_token());
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("expected ssh:FILE"));
}

TEST(SshCampaign, AMissingNodesFileIsNotFound) {
  CampaignConfig c;
  c.cluster = "ssh:/nonexistent/nodes.json";
  c.nemesis = {FaultKind::kPartition};
  Result<RunReport> r = RunSshCampaign(c, std::stop_token());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound) << r.error().message();
  EXPECT_THAT(r.error().message(), HasSubstr("/nonexistent/nodes.json"));
}

// A nodes file's node with nothing listening where its clients would connect.
cluster::NodesFile OneSilentNode() {
  cluster::NodesFile file;
  file.cluster = "t";
  file.nodes.push_back(cluster::SshNode{.name = "n1",
                                        .host = "127.0.0.1",
                                        .port = 22,
                                        .user = "root",
                                        .identity_file = "",
                                        .known_hosts = "",
                                        .address = "127.0.0.1",
                                        .ssh_options = {},
                                        .client_address = "127.0.0.77",
                                        .client_port = 1,
                                        .data_dir = {},
                                        .log_dir = {},
                                        .db = {}});
  return file;
}

// The leader over ssh is the system's own query at each node's client endpoint
// (client_address:client_port); when no node answers there is no leader, rather than a guess.
TEST(SshCampaign, NoLeaderWhenNoNodeAnswersAtItsClientEndpoint) {
  const systems::SystemCluster nodes = SshSystemNodes(OneSilentNode(), "t", 2379);
  ASSERT_EQ(nodes.nodes.size(), 1u);
  EXPECT_EQ(nodes.nodes[0].address, "127.0.0.77");
  EXPECT_EQ(nodes.nodes[0].port, 1);
  for (const char* name : {"etcd", "zookeeper", "redis"}) {
    SCOPED_TRACE(name);
    Result<std::unique_ptr<systems::System>> system = systems::OpenSystem(name);
    ASSERT_TRUE(system) << system.error().message();
    Result<std::optional<std::string>> leader = systems::LeaderForFaults(**system, nodes);
    ASSERT_TRUE(leader) << leader.error().message();
    EXPECT_EQ(*leader, std::nullopt);
  }
}

// The nodes file's system is the default; --system agreeing with it is fine (a system file by its
// canonical path); naming another is an error naming both; an old file takes --system.
TEST(SshCampaign, SystemFromTheNodesFileOrTheFlag) {
  cluster::NodesFile file;
  file.cluster = "t";
  const auto system = [&file](std::string_view requested) {
    Result<std::string> named = SshSystem(file, "/n.json", requested);
    return named ? *named : "error: " + named.error().message();
  };
  EXPECT_EQ(system(""), "etcd");
  EXPECT_EQ(system("redis"), "redis");
  file.system = "/opt/kv/kv.json";
  EXPECT_EQ(system(""), "/opt/kv/kv.json");
  EXPECT_EQ(system("/opt/kv/../kv/kv.json"), "/opt/kv/kv.json");
  Result<std::string> conflict = SshSystem(file, "/n.json", "etcd");
  ASSERT_FALSE(conflict);
  EXPECT_EQ(conflict.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(conflict.error().message(),
              HasSubstr("--system etcd conflicts with the nodes file /n.json, whose \"system\" is "
                        "/opt/kv/kv.json"));
}

// Client endpoints and directories per node: the nodes file's, else the defaults.
TEST(SshCampaign, SystemNodesTakeClientEndpointsFromTheNodesFile) {
  cluster::NodesFile file;
  file.cluster = "lab";
  cluster::SshNode n1;
  n1.name = "n1";
  n1.address = "198.18.7.1";
  n1.client_address = "198.18.9.1";
  n1.client_port = 7101;
  n1.data_dir = "/srv/d";
  n1.log_dir = "/srv/l";
  cluster::SshNode n2;
  n2.name = "n2";
  n2.address = "198.18.7.2";
  file.nodes = {n1, n2};
  systems::SystemCluster nodes = SshSystemNodes(file, "nodes.json", 7001);
  ASSERT_EQ(nodes.nodes.size(), 2u);
  EXPECT_EQ(nodes.local, nullptr);
  EXPECT_EQ(nodes.nodes[0].address, "198.18.9.1");
  EXPECT_EQ(nodes.nodes[0].port, 7101);
  EXPECT_EQ(nodes.nodes[0].data_dir, "/srv/d");
  EXPECT_EQ(nodes.nodes[0].log_dir, "/srv/l");
  EXPECT_EQ(nodes.nodes[1].address, "198.18.7.2");
  EXPECT_EQ(nodes.nodes[1].port, 7001);
  EXPECT_EQ(nodes.nodes[1].data_dir, "/var/tmp/faultline/lab/n2/data");
  EXPECT_EQ(nodes.nodes[1].log_dir, "/var/tmp/faultline/lab/n2/logs");
  EXPECT_EQ(nodes.Peers(), "198.18.9.1:7101,198.18.7.2:7001");
}

}  // namespace
}  // namespace faultline::runner
