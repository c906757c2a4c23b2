// Privileged and slow: the DiRT drills, FIT experiments and crash cleanup on a system other than
// etcd (ZooKeeper), from the built faultline binary, each on a local cluster the run brings up and
// tears down (own name and state dir). Run under the cluster lock (RESOURCE_LOCK etcd_cluster).
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "cluster/cluster.h"
#include "common/file.h"
#include "common/process.h"

namespace faultline::systems {
namespace {

namespace fs = std::filesystem;

class ZooKeeperCli : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / fmt::format("zk_cli_{}", getpid());
    fs::remove_all(root_);
    fs::create_directories(root_);
    name_ = fmt::format("zc{}", getpid() % 100000);
    state_ = (root_ / "state").string();
  }
  void TearDown() override {
    // Every run tears its cluster down; one left behind is removed here and fails the test.
    if (cluster::Load(name_, state_)) {
      ADD_FAILURE() << "cluster " << name_ << " was left up";
      (void)cluster::Down(name_, state_);
    }
    fs::remove_all(root_);
  }

  // Pids of ZooKeeper servers whose command line names this test's state directory.
  std::vector<int> Servers() const {
    std::vector<int> out;
    for (const auto& e : fs::directory_iterator("/proc")) {
      const std::string pid = e.path().filename().string();
      if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
      std::string cmd = ReadFile(e.path().string() + "/cmdline").value_or("");
      // The JVM itself, not the shells and timeouts that started it.
      if (cmd.rfind("java", 0) != 0 && cmd.find("/java") == std::string::npos) continue;
      if (cmd.substr(0, cmd.find('\0')).find("java") == std::string::npos) continue;
      for (char& c : cmd) {
        if (c == '\0') c = ' ';
      }
      if (cmd.find("QuorumPeerMain") != std::string::npos && cmd.find(state_) != std::string::npos)
        out.push_back(std::stoi(pid));
    }
    return out;
  }

  fs::path root_;
  std::string name_;
  std::string state_;
};

// A server crashed and another isolated at once on a 3-node ensemble: quorum is lost until the
// drill's own restart safeguard starts the crashed server through the system's commands; the
// drill sees it (health through srvr, write+read through the ZooKeeper client), passes inside
// its limit, and the register workload beside it stays linearizable.
TEST_F(ZooKeeperCli, DrillCrashAndIsolateRecoversWithTheRestartSafeguard) {
  const std::string scenario = (root_ / "zk-drill.json").string();
  ASSERT_TRUE(WriteFileAtomic(scenario, R"({
  "id": "ZKDRILL", "title": "crash one, isolate another", "severity": "high",
  "category": "process", "description": "quorum lost until the safeguard restarts n1",
  "nodes": 3,
  "db_flags": {"pre_vote": true, "heartbeat_ms": 100, "election_ms": 1000,
               "snapshot_count": 10000, "corrupt_check": false},
  "steady_state": {"all_nodes_healthy": true, "write_read": true, "min_throughput_percent": 0,
                   "baseline_ms": 1000},
  "max_recovery_time_ms": 40000, "settle_window_ms": 1000, "observe_ms": 30000,
  "blast_radius": {"allow_below_quorum": true},
  "safeguards": {"restart": {"enabled": true, "initial_backoff_ms": 100, "max_backoff_ms": 2000,
                             "max_restarts": 5, "window_ms": 60000}},
  "expected_safeguards": ["restart"],
  "workload": {"kind": "register", "concurrency": 3, "rate": 30},
  "steps": [{"at_ms": 0, "fault": "crash", "targets": "n1"},
            {"at_ms": 500, "fault": "isolate", "targets": "n2", "duration_ms": 3000}]
})"));
  const std::string out = (root_ / "drill").string();
  auto run = RunProcess({FAULTLINE_BIN, "dirt", "run", "--system", "zookeeper", "--name", name_,
                         "--state-dir", state_, "--out", out, scenario},
                        {.timeout = std::chrono::seconds(150)});
  ASSERT_TRUE(run) << run.error().message();
  EXPECT_EQ(run->exit_code, 0) << run->out << run->err;
  EXPECT_NE(run->out.find("ZKDRILL PASS"), std::string::npos) << run->out << run->err;
  auto text = ReadFile(out + "/incident-ZKDRILL.json");
  ASSERT_TRUE(text) << run->err;
  const auto r = nlohmann::json::parse(*text);
  EXPECT_NE(r["safeguards_fired"].dump().find("restart"), std::string::npos) << r.dump(2);
  EXPECT_EQ(r["serves_after"], true) << r.dump(2);
  EXPECT_NE(r["consistency"].dump().find("valid"), std::string::npos) << r["consistency"].dump();
  EXPECT_TRUE(Servers().empty()) << "servers left running";
}

// FIT on ZooKeeper: its own client's ops through the proxies, a TCP-level latency toxic on the
// experiment refutes the p99 hypothesis; an HTTP-level toxic is refused before any cluster.
TEST_F(ZooKeeperCli, FitTcpToxicRefutesAndHttpToxicIsRefused) {
  const std::string src = FAULTLINE_SOURCE_DIR;
  auto refused = RunProcess(
      {FAULTLINE_BIN, "fit", "run", src + "/scenarios/FIT02-read-errors.json", "--system",
       "zookeeper", "--name", name_, "--state-dir", state_, "--out", (root_ / "fit02").string()},
      {.timeout = std::chrono::seconds(30)});
  ASSERT_TRUE(refused) << refused.error().message();
  EXPECT_EQ(refused->exit_code, 3) << refused->out << refused->err;
  EXPECT_NE(refused->err.find("HTTP-level toxic"), std::string::npos) << refused->err;
  EXPECT_FALSE(cluster::Load(name_, state_)) << "a cluster was brought up for a refused scenario";

  const std::string out = (root_ / "fit04").string();
  auto run = RunProcess(
      {FAULTLINE_BIN, "fit", "run", src + "/scenarios/FIT04-tcp-latency.json", "--system",
       "zookeeper", "--nodes", "3", "--name", name_, "--state-dir", state_, "--out", out},
      {.timeout = std::chrono::seconds(120)});
  ASSERT_TRUE(run) << run.error().message();
  EXPECT_EQ(run->exit_code, 1) << run->out << run->err;
  auto text = ReadFile(out + "/results.json");
  ASSERT_TRUE(text) << run->err;
  const auto r = nlohmann::json::parse(*text);
  EXPECT_EQ(r["hypothesis"], "refuted") << r.dump(2);
  // The requests went through (no HTTP involved): both groups served almost all of them.
  EXPECT_GT(r["kpis"]["control"]["success_rate"].get<double>(), 0.9) << r["kpis"].dump(2);
  EXPECT_TRUE(Servers().empty()) << "servers left running";
}

// faultline SIGKILLed while its campaign's servers run (setsid daemons started by commands): the
// cluster's supervisor tears the cluster down, killing what is left in each node's v2 control
// group, so no server survives.
TEST_F(ZooKeeperCli, KilledCampaignLeavesNoServer) {
  auto child = Spawn({FAULTLINE_BIN, "campaign", "--system", "zookeeper", "--name", name_,
                      "--state-dir", state_, "--nemesis", "none", "--time-limit", "60", "--quiet",
                      "--out", (root_ / "campaign").string()},
                     {.in = Stdio::kNull, .out = Stdio::kNull, .err = Stdio::kNull});
  ASSERT_TRUE(child) << child.error().message();
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  while (Servers().size() < 3 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  const std::vector<int> before = Servers();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  ::kill(child->pid, SIGKILL);
  WaitExit(child->pid);
  ASSERT_EQ(before.size(), 3u) << "the servers did not start";
  const auto gone = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while ((!Servers().empty() || cluster::Load(name_, state_)) &&
         std::chrono::steady_clock::now() < gone) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_TRUE(Servers().empty()) << "servers survived faultline's SIGKILL";
  for (int pid : Servers()) ::kill(pid, SIGKILL);  // never leave them
}

}  // namespace
}  // namespace faultline::systems
