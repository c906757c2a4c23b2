// RunSshCampaign's refusals, which come before any node is contacted (no root needed).
#include "runner/ssh.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

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

// No member answers (nothing listens on port 1): no leader, rather than a guess.
TEST(SshCampaign, NoLeaderWhenNoMemberAnswers) {
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
                                        .db = {}});
  EXPECT_EQ(SshClusterLeader(file, 1), std::nullopt);
}

}  // namespace
}  // namespace faultline::runner
