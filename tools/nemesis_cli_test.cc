// Privileged and slow: `faultline nemesis` on local clusters of systems other than etcd, brought
// up with `faultline cluster up --system` from the built binary (own name and state dir, torn
// down also when a test fails). The leader comes from the system's own query (ZooKeeper's srvr,
// Redis's Sentinels), process faults go through its commands, and a system without a leader or
// membership refuses those faults naming itself. Run under the cluster lock (RESOURCE_LOCK
// etcd_cluster).
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cluster/cluster.h"
#include "common/process.h"
#include "systems/registry.h"

namespace faultline::tools {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

class NemesisCli : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "needs root (network namespaces, the cluster's supervisor)";
    root_ = fs::temp_directory_path() / fmt::format("nemesis_cli_{}", getpid());
    fs::remove_all(root_);
    fs::create_directories(root_);
    name_ = fmt::format("nc{}", getpid() % 100000);
    state_ = (root_ / "state").string();
  }
  void TearDown() override {
    // `cluster down` stops the system's servers first; the library call is the guard for when
    // the binary could not (what is left in the nodes' control groups is killed with them).
    if (cluster::Load(name_, state_)) {
      (void)Faultline({"cluster", "down", "--name", name_, "--state-dir", state_});
      (void)cluster::Down(name_, state_);
    }
    fs::remove_all(root_);
  }

  ProcessOutput Faultline(std::vector<std::string> args,
                          std::chrono::seconds timeout = std::chrono::seconds(60)) {
    args.insert(args.begin(), FAULTLINE_BIN);
    Result<ProcessOutput> run = RunProcess(args, {.timeout = timeout});
    if (!run) return ProcessOutput{.exit_code = -1, .out = "", .err = run.error().message()};
    return *std::move(run);
  }
  // `faultline nemesis ARGS` on this test's cluster: by its name, or `via_` (--cluster ssh:FILE).
  ProcessOutput Nemesis(std::vector<std::string> args) {
    args.insert(args.begin(), "nemesis");
    const std::vector<std::string> where =
        via_.empty() ? std::vector<std::string>{"--name", name_, "--state-dir", state_} : via_;
    args.insert(args.end(), where.begin(), where.end());
    return Faultline(std::move(args));
  }
  // `faultline cluster up --system SYSTEM --nodes 3 [--ssh]` on this test's name and state dir.
  void Up(const std::string& system, bool ssh = false) {
    std::vector<std::string> args = {"cluster", "up",     "--system", system,        "--nodes",
                                     "3",       "--name", name_,      "--state-dir", state_};
    if (ssh) args.push_back("--ssh");
    const ProcessOutput up = Faultline(args, std::chrono::seconds(120));
    ASSERT_EQ(up.exit_code, 0) << up.out << up.err;
    Result<cluster::ClusterState> state = cluster::Load(name_, state_);
    ASSERT_TRUE(state) << state.error().message();
    state_record_ = std::make_unique<cluster::ClusterState>(*std::move(state));
    Result<std::unique_ptr<systems::System>> opened = systems::OpenSystem(system);
    ASSERT_TRUE(opened) << opened.error().message();
    system_ = *std::move(opened);
    Result<systems::SystemCluster> nodes = systems::LocalNodes(*state_record_, system_->Info());
    ASSERT_TRUE(nodes) << nodes.error().message();
    nodes_ = *std::move(nodes);
  }
  // Polls the system (a System of this process, which formed nothing) until `done` holds for its
  // leader, up to `limit`; the last leader seen.
  template <typename Done>
  std::optional<std::string> AwaitLeader(Done done, std::chrono::seconds limit) {
    const auto deadline = Clock::now() + limit;
    std::optional<std::string> leader = system_->Leader(nodes_);
    while (!done(leader) && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      leader = system_->Leader(nodes_);
    }
    return leader;
  }

  // isolate-leader cuts off the node the system names as leader; the others elect a new one,
  // which the same query then names; heal closes the fault.
  void IsolateLeaderThenHeal() {
    const std::optional<std::string> before =
        AwaitLeader([](const auto& l) { return l.has_value(); }, std::chrono::seconds(15));
    ASSERT_TRUE(before) << "no leader after cluster up";
    const ProcessOutput cut = Nemesis({"isolate-leader", "--seed", "1"});
    ASSERT_EQ(cut.exit_code, 0) << cut.out << cut.err;
    EXPECT_THAT(cut.out, HasSubstr("partition ok"));
    EXPECT_THAT(cut.out, HasSubstr(Cut(*before)));
    const std::optional<std::string> after = AwaitLeader(
        [&](const auto& l) { return l.has_value() && *l != *before; }, std::chrono::seconds(20));
    EXPECT_TRUE(after && *after != *before)
        << "the cluster elected no new leader without " << *before;
    const ProcessOutput healed = Nemesis({"heal"});
    EXPECT_EQ(healed.exit_code, 0) << healed.out << healed.err;
  }
  // kill NODE stops its server (the system no longer ready, naming it); heal starts it again.
  void KillThenHeal(const std::string& node) {
    Result<std::unique_ptr<nemesis::NodeControl>> made = cluster::MakeLocalControl(*state_record_);
    ASSERT_TRUE(made) << made.error().message();
    nemesis::NodeControl& shell = **made;
    ASSERT_TRUE(AwaitReady(shell, std::chrono::seconds(20)));
    const ProcessOutput kill = Nemesis({"kill", node});
    ASSERT_EQ(kill.exit_code, 0) << kill.out << kill.err;
    const Status killed = system_->Ready(nodes_, shell);
    ASSERT_FALSE(killed) << node << " still serves after kill";
    EXPECT_THAT(killed.error().message(), HasSubstr(node));
    const ProcessOutput healed = Nemesis({"heal"});
    EXPECT_EQ(healed.exit_code, 0) << healed.out << healed.err;
    const Status ready = AwaitReady(shell, std::chrono::seconds(30));
    EXPECT_TRUE(ready) << ready.error().message();
  }
  // Polls the system until it is ready, up to `limit`; the last answer.
  Status AwaitReady(nemesis::NodeControl& shell, std::chrono::seconds limit) {
    const auto deadline = Clock::now() + limit;
    Status ready = system_->Ready(nodes_, shell);
    while (!ready && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      ready = system_->Ready(nodes_, shell);
    }
    return ready;
  }
  // How the report of a cut of `node` begins: "n3 drops {n1 n2}" (the others in order).
  std::string Cut(const std::string& node) const {
    std::vector<std::string> others;
    for (const systems::SystemNode& n : nodes_.nodes) {
      if (n.name != node) others.push_back(n.name);
    }
    return fmt::format("{} drops {{{}}}", node, fmt::join(others, " "));
  }

  fs::path root_;
  std::string name_;
  std::string state_;
  std::vector<std::string> via_;  // empty: the cluster by --name and --state-dir
  std::unique_ptr<cluster::ClusterState> state_record_;
  std::unique_ptr<systems::System> system_;
  systems::SystemCluster nodes_;
};

// isolate-leader cuts off the server ZooKeeper's srvr names as leader; the other two elect a new
// one, which the same query then names; heal and cluster down leave nothing.
TEST_F(NemesisCli, ZooKeeperIsolateLeaderCutsOffTheLeaderItsServersName) {
  ASSERT_NO_FATAL_FAILURE(Up("zookeeper"));
  ASSERT_NO_FATAL_FAILURE(IsolateLeaderThenHeal());
  const ProcessOutput down = Faultline({"cluster", "down", "--name", name_, "--state-dir", state_});
  EXPECT_EQ(down.exit_code, 0) << down.out << down.err;
  EXPECT_FALSE(cluster::Load(name_, state_));
}

// Over ssh (the nodes file of `cluster up --ssh --system` names the system and the nodes'
// directories): isolate-leader asks ZooKeeper at each node's client endpoint and cuts the leader
// off with iptables over ssh; member-remove is refused with the system's reason; kill and heal run
// ZooKeeper's own commands over ssh.
TEST_F(NemesisCli, ZooKeeperOverSshThroughTheNodesFilesSystem) {
  ASSERT_NO_FATAL_FAILURE(Up("zookeeper", true));
  via_ = {"--cluster", "ssh:" + state_record_->ssh_nodes_file};
  ASSERT_NO_FATAL_FAILURE(IsolateLeaderThenHeal());

  const ProcessOutput member = Nemesis({"member-remove", "n2"});
  EXPECT_EQ(member.exit_code, 3) << member.out << member.err;
  EXPECT_THAT(member.err, HasSubstr("system zookeeper: membership changes need a local cluster"));

  ASSERT_NO_FATAL_FAILURE(KillThenHeal("n3"));
}

// A cluster Redis's Sentinels run, formed by another process: the leader is the primary a
// majority of the Sentinels name (n1, the first primary).
TEST_F(NemesisCli, RedisIsolateLeaderCutsOffThePrimaryTheSentinelsName) {
  ASSERT_NO_FATAL_FAILURE(Up("redis"));
  const std::optional<std::string> primary =
      AwaitLeader([](const auto& l) { return l.has_value(); }, std::chrono::seconds(10));
  ASSERT_EQ(primary, "n1");

  const ProcessOutput cut = Nemesis({"isolate-leader", "--seed", "1", "--for", "0.5"});
  EXPECT_EQ(cut.exit_code, 0) << cut.out << cut.err;
  EXPECT_THAT(cut.out, HasSubstr("partition ok"));
  EXPECT_THAT(cut.out, HasSubstr(Cut("n1")));
  const ProcessOutput status = Nemesis({"status"});
  EXPECT_EQ(status.exit_code, 0) << status.out << status.err;
  EXPECT_THAT(status.out, HasSubstr("no open faults"));
}

// A system file without a leader or membership (examples/kv): isolate-leader and member-remove are
// refused naming the system; kill goes through its own kill command, and heal starts the server
// again with its start command.
TEST_F(NemesisCli, ASystemFileWithoutALeaderRefusesAndKillsByItsCommands) {
  ASSERT_NO_FATAL_FAILURE(Up(std::string(FAULTLINE_SOURCE_DIR) + "/examples/kv/kv.json"));

  const ProcessOutput leader = Nemesis({"isolate-leader"});
  EXPECT_EQ(leader.exit_code, 3) << leader.out << leader.err;
  EXPECT_THAT(leader.err, HasSubstr("system kv: has no leader"));
  const ProcessOutput member = Nemesis({"member-remove", "n2"});
  EXPECT_EQ(member.exit_code, 3) << member.out << member.err;
  EXPECT_THAT(member.err, HasSubstr("system kv: cannot change its cluster's membership"));

  ASSERT_NO_FATAL_FAILURE(KillThenHeal("n2"));
}

}  // namespace
}  // namespace faultline::tools
