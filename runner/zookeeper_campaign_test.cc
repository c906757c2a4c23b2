// Campaigns against ZooKeeper built in (--system zookeeper): a 3-server ensemble of Debian's
// zookeeper started in the node namespaces, the C client on one server per worker. With sync
// before each read and no faults the register history must be valid; with plain reads and
// isolated servers it must not be (a server answers from its own copy). Root only; each test
// brings up its own cluster under its own state root, and every server it started is stopped
// whether the test passes or fails.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "cluster/cluster.h"
#include "runner/local.h"

namespace faultline::runner {
namespace {

namespace fs = std::filesystem;
using checker::Validity;

class ZooKeeperCampaignTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "needs root (network namespaces, the cluster's supervisor)";
    ASSERT_TRUE(fs::exists("/usr/share/java/zookeeper.jar"))
        << "needs Debian's zookeeper package (tools/setup.sh)";
    root_ = fs::temp_directory_path() / fmt::format("faultline-zktest-{}", ::getpid());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override {
    // RunLocalCampaign stops its servers; this is the guard for when it could not: JVMs whose
    // command line names this test's state root, by pid.
    KillServersUnder(root_.string());
    (void)cluster::Down(name_, (root_ / "state").string());
    fs::remove_all(root_);
  }

  static int KillServersUnder(const std::string& dir) {
    int found = 0;
    for (const auto& entry : fs::directory_iterator("/proc")) {
      const std::string pid = entry.path().filename().string();
      if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
      std::ifstream in(entry.path() / "cmdline", std::ios::binary);
      std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (cmdline.find(dir) == std::string::npos ||
          cmdline.find("QuorumPeerMain") == std::string::npos) {
        continue;
      }
      ++found;
      ::kill(std::stoi(pid), SIGKILL);
    }
    return found;
  }

  CampaignConfig Config(std::string name, std::string read_mode) {
    name_ = std::move(name);
    CampaignConfig c;
    c.system = "zookeeper";
    c.name = name_;
    c.nodes = 3;
    c.out = (root_ / "runs").string();
    c.concurrency = 10;
    c.time_limit_s = 10;
    c.read_mode = std::move(read_mode);
    c.nemesis = {};
    c.fault_s = 3;
    c.heal_s = 3;
    c.final_phase_s = 10;
    c.check_time_limit_s = 30;
    c.seed = 1;
    return c;
  }

  RunReport Run(const CampaignConfig& c) {
    LocalCampaignOptions options;
    options.state_root = (root_ / "state").string();
    Result<RunReport> r = RunLocalCampaign(c, std::stop_token(), {}, options);
    EXPECT_TRUE(r) << r.error().message();
    if (!r) return RunReport();
    std::printf("%s", r->text.c_str());
    EXPECT_TRUE(cluster::List(options.state_root).empty());
    EXPECT_EQ(KillServersUnder(root_.string()), 0) << "servers left running after the campaign";
    return *r;
  }

  fs::path root_;
  std::string name_ = "zktx";
};

TEST_F(ZooKeeperCampaignTest, SyncReadsWithoutFaultsAreValid) {
  RunReport r = Run(Config("zksync", "sync"));
  EXPECT_EQ(r.verdict.validity, Validity::kValid) << r.text;
  EXPECT_GT(r.verdict.figures.client_ops, 500);
  EXPECT_NE(r.text.find("sync reads"), std::string::npos) << r.text;
  EXPECT_TRUE(fs::exists(fs::path(r.files.nodes) / "n1" / "zookeeper.log"));
}

TEST_F(ZooKeeperCampaignTest, PlainReadsUnderIsolationAreStale) {
  CampaignConfig c = Config("zkplain", "plain");
  c.time_limit_s = 15;
  c.nemesis = {FaultKind::kIsolate};
  RunReport r = Run(c);
  EXPECT_EQ(r.verdict.validity, Validity::kInvalid) << r.text;
  EXPECT_NE(r.text.find("linearizable: invalid"), std::string::npos) << r.text;
  // The counterexample names the server that answered the stale read.
  EXPECT_NE(r.text.find("was served by n"), std::string::npos) << r.text;
}

}  // namespace
}  // namespace faultline::runner
