// Campaigns against systems other than etcd. The example key-value server of examples/kv/ (a
// system file, its commands run in the node namespaces, a Python exec client): with its planted
// bug (--unsafe-cas) the campaign must find a linearizability violation; without it the same
// campaign must be valid. ZooKeeper built in (--system zookeeper: Debian's zookeeper in the node
// namespaces, the C client on one server per worker): sync reads without faults stale only on the
// leader (where ZooKeeper's sync does not wait), plain reads under isolation stale. Root only; each
// test brings up its own cluster under its own state root, and every server it started is stopped
// whether the test passes or fails.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cluster/cluster.h"
#include "runner/local.h"
#include "runner/testing/local_campaign.h"

namespace faultline::runner {
namespace {

namespace fs = std::filesystem;
using checker::Validity;

class SystemCampaignTest : public testing::LocalCampaignFixture {
 protected:
  // The example's server.py and ZooKeeper's JVM name their directory under the root.
  SystemCampaignTest()
      : LocalCampaignFixture("faultline-systest", "systx", {"server.py", "QuorumPeerMain"}) {}

  CampaignConfig Config(std::string name, std::string system_file) {
    name_ = std::move(name);
    CampaignConfig c;
    c.system = std::string(FAULTLINE_SOURCE_DIR) + "/examples/kv/" + system_file;
    c.name = name_;
    c.nodes = 3;
    c.out = (root_ / "runs").string();
    c.concurrency = 10;
    c.time_limit_s = 15;
    c.nemesis = {FaultKind::kKill, FaultKind::kPause};
    c.fault_s = 3;
    c.heal_s = 3;
    c.final_phase_s = 20;
    c.check_time_limit_s = 30;
    c.seed = 1;
    return c;
  }

  CampaignConfig ZooKeeper(std::string name, std::string read_mode) {
    CampaignConfig c = Config(std::move(name), "");
    c.system = "zookeeper";
    c.time_limit_s = 10;
    c.read_mode = std::move(read_mode);
    c.nemesis = {};
    c.final_phase_s = 10;
    return c;
  }

  RunReport Run(const CampaignConfig& c) {
    RunReport r = LocalCampaignFixture::Run(c);
    EXPECT_EQ(KillStrayServers(), 0) << "servers left running after the campaign";
    return r;
  }
};

TEST_F(SystemCampaignTest, ExampleKvWithUnsafeCasIsInvalid) {
  RunReport r = Run(Config("sysbug", "kv-unsafe-cas.json"));
  EXPECT_EQ(r.verdict.validity, Validity::kInvalid) << r.text;
  EXPECT_NE(r.text.find("linearizable: invalid"), std::string::npos) << r.text;
  // The servers' logs and the clients' stderr are kept.
  EXPECT_TRUE(fs::exists(fs::path(r.files.nodes) / "n1" / "server.log"));
  EXPECT_TRUE(fs::exists(fs::path(r.files.dir) / "clients"));
}

TEST_F(SystemCampaignTest, ExampleKvIsValid) {
  RunReport r = Run(Config("sysok", "kv.json"));
  EXPECT_EQ(r.verdict.validity, Validity::kValid) << r.text;
  EXPECT_GE(r.verdict.figures.faults, 1);
  EXPECT_GT(r.verdict.figures.client_ops, 500);
}

// The nodes whose ZooKeeper log says they led at some point of the run.
std::vector<std::string> ZooKeeperLeaders(const fs::path& nodes_dir) {
  std::vector<std::string> leaders;
  for (const auto& node : fs::directory_iterator(nodes_dir)) {
    std::ifstream log(node.path() / "zookeeper.log");
    for (std::string line; std::getline(log, line);) {
      if (line.find("Peer state changed: leading") != std::string::npos) {
        leaders.push_back(node.path().filename().string());
        break;
      }
    }
  }
  return leaders;
}

// Sync before each read makes a follower's read see every write acknowledged before it began: the
// follower's sync goes through the leader and waits for the commits ahead of it. On the leader
// itself sync is not matched against commits (CommitProcessor's matchSyncs is false there): a read
// served by the leader may miss, by a millisecond, a write a follower has already acknowledged,
// before the leader applied it. The CI run and a loaded dev run found exactly that, once each
// (op 409 read 2 on n3, the leader, 0.6 ms after write 4 was acknowledged). So: every stale read
// must be the leader's, and without one the run is valid by every checker.
TEST_F(SystemCampaignTest, ZooKeeperSyncReadsAreStaleOnlyOnTheLeader) {
  ASSERT_TRUE(fs::exists("/usr/share/java/zookeeper.jar")) << "needs zookeeper (tools/setup.sh)";
  RunReport r = Run(ZooKeeper("zksync", "sync"));
  EXPECT_GT(r.verdict.figures.client_ops, 500);
  EXPECT_NE(r.text.find("sync reads"), std::string::npos) << r.text;
  EXPECT_TRUE(fs::exists(fs::path(r.files.nodes) / "n1" / "zookeeper.log"));
  const std::vector<std::string> leaders = ZooKeeperLeaders(r.files.nodes);
  ASSERT_FALSE(leaders.empty()) << "no node's log says it led";
  // The client records zxids, so the stale-read finder (which needs them) names the node of
  // each stale read, and the revision-order checker (which needs them too) runs.
  ASSERT_FALSE(r.verdict.checkers.empty());
  const nlohmann::json lin = nlohmann::json::parse(r.verdict.checkers[0].json);
  const std::int64_t stale = lin["stale_reads"]["count"].get<std::int64_t>();
  for (const auto& [node, causes] : lin["stale_reads"]["by_node"].items()) {
    EXPECT_NE(std::find(leaders.begin(), leaders.end(), node), leaders.end())
        << "a sync read on " << node << ", not a leader, was stale: " << lin["stale_reads"].dump();
  }
  bool revision_order = false;
  for (const CheckerVerdict& v : r.verdict.checkers) {
    if (v.name != "revision-order") continue;
    revision_order = true;
    if (stale == 0) {
      EXPECT_EQ(v.validity, Validity::kValid) << v.summary << "\n" << v.detail;
    } else {
      // Nothing but the leader's stale reads.
      for (const auto& [kind, count] : v.anomalies) {
        EXPECT_EQ(kind, "stale-read") << v.summary << "\n" << v.detail;
      }
    }
  }
  EXPECT_TRUE(revision_order) << r.text;
  if (stale == 0) {
    EXPECT_EQ(r.verdict.validity, Validity::kValid) << r.text;
  }
  std::printf("leaders: %s; stale reads on the leader: %lld\n",
              fmt::format("{}", fmt::join(leaders, ",")).c_str(), static_cast<long long>(stale));
}

// Issue 14's criterion: plain reads under isolation find a stale read in at least one of 3
// seeds. A stale read is a chance event here (a few per run at most: the isolated server answers
// for about a second before it gives up on the leader, and a server that rejoins lags briefly),
// so the seeds are tried in turn until one is invalid, and that run is examined.
TEST_F(SystemCampaignTest, ZooKeeperPlainReadsUnderIsolationAreStale) {
  ASSERT_TRUE(fs::exists("/usr/share/java/zookeeper.jar")) << "needs zookeeper (tools/setup.sh)";
  CampaignConfig c = ZooKeeper("zkplain", "plain");
  c.time_limit_s = 15;
  c.nemesis = {FaultKind::kIsolate};
  // Short cycles: each cut and heal is a chance of a stale read.
  c.fault_s = 2;
  c.heal_s = 1.5;
  c.concurrency = 30;
  RunReport r = RunSeedsUntil(
      c, 3, [](const RunReport& run) { return run.verdict.validity != Validity::kValid; });
  ASSERT_EQ(r.verdict.validity, Validity::kInvalid) << r.text;
  // The stale read is found by zxid (the revision-order checker, and the linearizable checker's
  // stale-read count; the search alone misses it when the stale value equals the newer one).
  EXPECT_NE(r.text.find("; stale reads: "), std::string::npos) << r.text;
  // Stale reads by zxid, each told apart: cut off (the isolated server, which answers for about
  // a second before it gives up on the leader) or lag (a server in the majority). Every
  // partition recorded whom it cut off, so none is unknown.
  ASSERT_FALSE(r.verdict.checkers.empty());
  const nlohmann::json lin = nlohmann::json::parse(r.verdict.checkers[0].json);
  const nlohmann::json& stale = lin["stale_reads"];
  EXPECT_GE(stale["partitions"].get<int>(), 1) << stale.dump();
  EXPECT_EQ(stale["unknown"], 0) << stale.dump();
  EXPECT_GE(stale["count"].get<int>(), 1) << stale.dump();
  // The report names the server that answered each stale read.
  ASSERT_TRUE(stale["by_node"].is_object()) << stale.dump();
  EXPECT_FALSE(stale["by_node"].empty()) << stale.dump();
  EXPECT_EQ(stale["count"].get<int>(), stale["cut_off"].get<int>() + stale["lag"].get<int>());
  for (const char* cause : {"cut_off", "lag"}) {
    for (const nlohmann::json& e : stale["examples"][cause]) {
      EXPECT_GE(e["missed_op"].get<int64_t>(), 0) << e.dump();
      EXPECT_GE(e["missed_by_ms"].get<double>(), 0.0) << e.dump();
    }
  }
  if (stale["count"].get<int>() > 0) {
    EXPECT_NE(r.text.find("; stale reads: "), std::string::npos) << r.text;
  }
  // The same in results.json, and the nemesis' record of the cut.
  std::ifstream results(r.files.results);
  const nlohmann::json rj = nlohmann::json::parse(results);
  EXPECT_NE(rj.dump().find("\"stale_reads\""), std::string::npos);
  std::ifstream nemesis_json(r.files.nemesis);
  const nlohmann::json nj = nlohmann::json::parse(nemesis_json);
  ASSERT_FALSE(nj["faults"].empty());
  // An isolation cuts exactly one server off.
  EXPECT_EQ(nj["faults"][0]["cut_off"].size(), 1u) << nj.dump();
}

TEST_F(SystemCampaignTest, UnsupportedWorkloadIsRefusedBeforeAnythingStarts) {
  CampaignConfig c = Config("sysno", "kv.json");
  c.workload = Workload::kLock;
  LocalCampaignOptions options;
  options.state_root = (root_ / "state").string();
  Result<RunReport> r = RunLocalCampaign(c, std::stop_token(), {}, options);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("workload 'lock' is not supported (it supports: register, "
                                     "set)"),
            std::string::npos)
      << r.error().message();
  EXPECT_FALSE(fs::exists(root_ / "runs"));
  EXPECT_TRUE(cluster::List(options.state_root).empty());
}

}  // namespace
}  // namespace faultline::runner
