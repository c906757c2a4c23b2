// Campaigns against Redis with Sentinel built in (--system redis: Debian's redis-server and
// redis-sentinel in the node namespaces, clients that find the primary through the Sentinels).
// Without faults the register, set and append (MULTI/EXEC) workloads are valid; with the primary
// cut off from the Sentinels' majority, the set workload loses acknowledged writes and the summary
// says which failover cost them. Root only; each test brings up its own cluster under its own state
// root, and every server it started is stopped whether the test passes or fails.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "runner/local.h"
#include "runner/testing/local_campaign.h"

namespace faultline::runner {
namespace {

namespace fs = std::filesystem;
using checker::Validity;
using ::testing::HasSubstr;

class RedisCampaignTest : public testing::LocalCampaignFixture {
 protected:
  // redis-server and redis-sentinel work in their node's data directory, under the test's root.
  RedisCampaignTest() : LocalCampaignFixture("faultline-redistest", "rdtst", {"redis-"}) {}

  void SetUp() override {
    LocalCampaignFixture::SetUp();
    ASSERT_TRUE(fs::exists("/usr/bin/redis-sentinel")) << "needs redis (tools/setup.sh)";
  }

  CampaignConfig Config(std::string name, Workload workload) {
    name_ = std::move(name);
    CampaignConfig c;
    c.system = "redis";
    c.name = name_;
    c.nodes = 3;
    c.workload = workload;
    c.out = (root_ / "runs").string();
    c.concurrency = 10;
    c.time_limit_s = 5;
    c.nemesis = {};
    c.final_phase_s = 30;
    c.check_time_limit_s = 30;
    c.seed = 1;
    return c;
  }

  RunReport Run(const CampaignConfig& c) {
    RunReport r = LocalCampaignFixture::Run(c);
    EXPECT_EQ(KillStrayServers(), 0) << "servers left running after the campaign";
    return r;
  }
};

TEST_F(RedisCampaignTest, RegisterSetAndAppendWithoutFaultsAreValid) {
  RunReport reg = Run(Config("rdreg", Workload::kRegister));
  EXPECT_EQ(reg.verdict.validity, Validity::kValid) << reg.text;
  EXPECT_GT(reg.verdict.figures.client_ops, 500);
  EXPECT_TRUE(fs::exists(fs::path(reg.files.nodes) / "n1" / "redis.log"));
  EXPECT_TRUE(fs::exists(fs::path(reg.files.nodes) / "n2" / "sentinel.log"));
  RunReport set = Run(Config("rdset", Workload::kSet));
  EXPECT_EQ(set.verdict.validity, Validity::kValid) << set.text;
  EXPECT_GT(set.verdict.figures.client_ops, 500);
  EXPECT_THAT(set.text, HasSubstr("redis: no acknowledged write was lost"));
  // MULTI/EXEC transactions on one primary, held to strict serializability (issue 16 §2).
  RunReport app = Run(Config("rdapp", Workload::kAppend));
  EXPECT_EQ(app.verdict.validity, Validity::kValid) << app.text;
  bool checked = false;
  for (const CheckerVerdict& v : app.verdict.checkers) {
    if (v.name != "list-append") continue;
    checked = true;
    const nlohmann::json j = nlohmann::json::parse(v.json);
    EXPECT_EQ(j["consistency"], "strict-serializable");
    EXPECT_GT(j["committed"].get<int64_t>(), 500) << v.json;
    EXPECT_GT(j["edges"].get<int64_t>(), 500) << v.json;
  }
  EXPECT_TRUE(checked) << app.text;
  EXPECT_THAT(app.text, HasSubstr("redis: no acknowledged write was lost"));
}

// The primary cut off (isolate-leader: the node the Sentinels name as primary) keeps
// acknowledging the adds of the clients connected to it while the majority's Sentinels promote a
// replica; when the cut heals it rejoins as a replica and drops them.
TEST_F(RedisCampaignTest, IsolatedPrimaryLosesAcknowledgedWrites) {
  CampaignConfig c = Config("rdlost", Workload::kSet);
  // A Sentinel that finds no replica with fresh INFO (refreshed every 10 s until the primary is
  // down) aborts the failover and retries after twice the failover timeout: with 2 s it retries
  // 4 s later, inside the 14 s cut (a 10 s cut saw no failover in 1 of 4 runs on a loaded
  // machine).
  c.system_options = {"failover-timeout-ms=2000"};
  c.time_limit_s = 20;
  c.nemesis = {FaultKind::kIsolateLeader};
  c.fault_s = 14;
  c.heal_s = 3;
  // Whether the Sentinels fail over inside the cut is a race on a busy machine (the release CI
  // run saw a cut primary with no failover once, every add acknowledged and kept): up to three
  // seeds, as issue 14's own criterion counts seeds; the first with a failover is examined.
  RunReport r = RunSeedsUntil(c, 3, [](const RunReport& run) {
    return run.text.find("redis: Sentinel failover at") != std::string::npos;
  });
  EXPECT_EQ(r.verdict.validity, Validity::kInvalid) << r.text;
  EXPECT_THAT(r.text, HasSubstr("redis: Sentinel failover at"));
  EXPECT_THAT(r.text, HasSubstr("acknowledged writes lost"));
  EXPECT_THAT(r.text, HasSubstr("primary n1 acknowledged them"));
  std::ifstream in(r.files.results);
  const nlohmann::json j = nlohmann::json::parse(in);
  ASSERT_TRUE(j.contains("system")) << j.dump(2);
  EXPECT_GT(j["system"]["lost_acknowledged_writes"].get<int64_t>(), 0);
  EXPECT_EQ(j["system"]["lost_acknowledged_writes"], j["checkers"]["set"]["lost_count"]);
  ASSERT_TRUE(j["system"].contains("failovers") && !j["system"]["failovers"].empty())
      << j["system"].dump(2);
  EXPECT_EQ(j["system"]["failovers"][0]["from"], "n1");
}

}  // namespace
}  // namespace faultline::runner
