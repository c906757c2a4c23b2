// What `faultline nemesis` asks of a cluster's system, without a cluster: which system a local
// cluster runs (its record), and the leader for the faults aimed at it.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "common/file.h"
#include "systems/registry.h"

namespace faultline::systems {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class LocalSystemRecord : public ::testing::Test {
 protected:
  void SetUp() override {
    state_.name = "t";
    state_.run_dir =
        (fs::temp_directory_path() / fmt::format("local_system_{}", getpid())).string();
    fs::remove_all(state_.run_dir);
    fs::create_directories(state_.run_dir);
  }
  void TearDown() override { fs::remove_all(state_.run_dir); }

  cluster::ClusterState state_;
};

TEST_F(LocalSystemRecord, EtcdWhenTheSupervisorRunsItAndNothingIsRecorded) {
  state_.db = cluster::Db::kEtcd;
  Result<std::string> name = LocalSystem(state_);
  ASSERT_TRUE(name) << name.error().message();
  EXPECT_EQ(*name, "etcd");
}

TEST_F(LocalSystemRecord, NotFoundForAClusterOfNoRecordedSystem) {
  state_.db = cluster::Db::kNone;
  Result<std::string> name = LocalSystem(state_);
  ASSERT_FALSE(name);
  EXPECT_EQ(name.error().code(), ErrorCode::kNotFound);
  EXPECT_THAT(name.error().message(), HasSubstr("cluster t"));
  EXPECT_THAT(name.error().message(), HasSubstr("--system"));
}

// A built-in name as it is; a system file by its absolute path, so a later command run from
// another directory finds it.
TEST_F(LocalSystemRecord, RecordsNamesAndAbsoluteSystemFiles) {
  state_.db = cluster::Db::kNone;
  ASSERT_TRUE(RecordLocalSystem(state_, "zookeeper"));
  EXPECT_EQ(LocalSystem(state_).value_or(""), "zookeeper");
  ASSERT_TRUE(RecordLocalSystem(state_, "examples/kv/kv.json"));
  Result<std::string> file = LocalSystem(state_);
  ASSERT_TRUE(file) << file.error().message();
  EXPECT_EQ(*file, (fs::current_path() / "examples/kv/kv.json").string());
}

TEST_F(LocalSystemRecord, AMalformedRecordIsNamed) {
  state_.db = cluster::Db::kNone;
  ASSERT_TRUE(WriteFileAtomic(LocalSystemRecordPath(state_), "{\"system\": 3}\n"));
  Result<std::string> name = LocalSystem(state_);
  ASSERT_FALSE(name);
  EXPECT_EQ(name.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(name.error().message(), HasSubstr("system.json"));
}

// A system without a leader refuses the faults aimed at one, naming itself; one with a leader
// whose nodes do not answer knows none.
TEST(LeaderForFaults, RefusedNamingASystemWithoutALeader) {
  Result<std::unique_ptr<System>> kv =
      OpenSystem(std::string(FAULTLINE_SOURCE_DIR) + "/examples/kv/kv.json");
  ASSERT_TRUE(kv) << kv.error().message();
  SystemCluster nodes;
  nodes.nodes.push_back(
      {.name = "n1", .address = "127.0.0.77", .port = 1, .data_dir = {}, .log_dir = {}});
  Result<std::optional<std::string>> leader = LeaderForFaults(**kv, nodes);
  ASSERT_FALSE(leader);
  EXPECT_EQ(leader.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(leader.error().message(), HasSubstr("system kv: has no leader"));

  Result<std::unique_ptr<System>> zk = OpenSystem("zookeeper");
  ASSERT_TRUE(zk) << zk.error().message();
  Result<std::optional<std::string>> none = LeaderForFaults(**zk, nodes);
  ASSERT_TRUE(none) << none.error().message();
  EXPECT_EQ(*none, std::nullopt);
}

}  // namespace
}  // namespace faultline::systems
