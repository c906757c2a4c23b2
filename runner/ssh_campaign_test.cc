// A whole campaign over ssh:FILE against a real local etcd cluster whose nodes run sshd
// (`cluster up --ssh`): the faults must go through ssh, the run must be valid, and the cluster
// must be healed afterwards. Root only; the cluster is this test's own (name "hS1", its own state
// root) and is torn down even when the test fails.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "cluster/cluster.h"
#include "cluster/ssh_control.h"
#include "cluster/sshd.h"
#include "runner/ssh.h"

#ifndef FAULTLINE_BINARY
#error "FAULTLINE_BINARY (the faultline executable, for the nodes file's db commands) is required"
#endif

namespace faultline::runner {
namespace {

namespace fs = std::filesystem;
using checker::Validity;

constexpr char kName[] = "hs1";

// One cluster for the suite (bringing one up costs seconds); each test leaves it healed, and
// checks that.
class SshCampaignTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0) return;  // SetUp fails each test with the reason
    root_ = fs::temp_directory_path() / fmt::format("faultline-stest-{}", ::getpid());
    fs::remove_all(root_);
    fs::create_directories(root_);
    cluster::ClusterSpec spec;
    spec.name = kName;
    spec.nodes = 3;
    spec.ssh = true;
    spec.state_root = (root_ / "state").string();
    Result<cluster::ClusterState> state = cluster::Up(spec);
    if (!state) {
      setup_error_ = state.error().message();
      return;
    }
    state_ = *state;
    // Up wrote the nodes file for the running binary (this test); its db commands must call
    // `faultline cluster ctl`, so write it again for the real binary.
    Result<cluster::SshClientKey> key = cluster::EnsureClientKey(state_.run_dir + "/ssh");
    if (!key) {
      setup_error_ = key.error().message();
      return;
    }
    Status written = cluster::WriteNodesFile(state_, *key, FAULTLINE_BINARY);
    if (!written) setup_error_ = written.error().message();
  }
  static void TearDownTestSuite() {
    if (root_.empty()) return;
    Result<cluster::DownReport> down = cluster::Down(kName, (root_ / "state").string());
    if (!down) std::fprintf(stderr, "cluster down: %s\n", down.error().message().c_str());
    fs::remove_all(root_);
  }
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "needs root (network namespaces, sshd, etcd supervisor)";
    ASSERT_TRUE(setup_error_.empty()) << setup_error_;
  }

  static CampaignConfig Config(std::vector<FaultKind> nemesis) {
    CampaignConfig c;
    c.cluster = "ssh:" + state_.ssh_nodes_file;
    c.nodes = 3;
    c.nemesis = std::move(nemesis);
    c.out = (root_ / "runs").string();
    c.concurrency = 10;
    c.time_limit_s = 14;
    c.fault_s = 3;
    c.heal_s = 2;
    c.final_phase_s = 20;
    c.check_time_limit_s = 30;
    c.seed = 1;
    return c;
  }

  // Healed: every member answers and agrees on a leader, every etcd runs, no chain of ours left.
  static void ExpectHealed() {
    Result<cluster::ClusterStatus> status = cluster::ProbeStatus(state_);
    ASSERT_TRUE(status) << status.error().message();
    EXPECT_TRUE(status->leader.has_value()) << status->disagreement.value_or("no leader");
    for (const cluster::NodeStatus& n : status->nodes) {
      EXPECT_TRUE(n.healthy) << n.name << ": " << n.probe_error.value_or("");
      EXPECT_TRUE(n.db.alive && !n.db.paused) << n.name << ": " << n.db.state;
    }
    Result<std::unique_ptr<cluster::SshControl>> ssh =
        cluster::MakeSshControl(state_.ssh_nodes_file);
    ASSERT_TRUE(ssh) << ssh.error().message();
    for (const std::string& node : (*ssh)->Nodes()) {
      Result<nemesis::CommandOutput> rules = (*ssh)->Run(node, "iptables-save -t filter");
      ASSERT_TRUE(rules) << node << ": " << rules.error().message();
      EXPECT_EQ(rules->out.find("faultline_"), std::string::npos) << node << ":\n" << rules->out;
    }
  }

  // The linearizability checker (the full search) and the sanity checks must say valid, and no
  // checker invalid. A supplementary checker may still say unknown (the revision-order checker
  // gives up on some ambiguous info ops), which is no failure of the ssh path.
  static void ExpectValid(const RunReport& r) {
    EXPECT_NE(r.verdict.validity, Validity::kInvalid) << r.text;
    int required = 0;
    for (const CheckerVerdict& v : r.verdict.checkers) {
      if (v.name == "linearizable" || v.name == "sanity") {
        ++required;
        EXPECT_EQ(v.validity, Validity::kValid) << v.name << ": " << v.summary << "\n" << v.detail;
      }
    }
    EXPECT_EQ(required, 2) << r.text;
  }

  static void Print(const RunReport& r) {
    std::printf("%s", r.text.c_str());
    for (const FaultInterval& f : r.stats.faults) {
      std::printf("fault %s: %s\n  %s\n", f.plan().c_str(), f.description.c_str(),
                  fmt::format("{}", fmt::join(f.details, "\n  ")).c_str());
    }
  }

  static inline fs::path root_;
  static inline cluster::ClusterState state_;
  static inline std::string setup_error_;
};

TEST_F(SshCampaignTest, RegisterUnderPartitionsAndKillsOverSshIsValidAndHealed) {
  CampaignConfig c = Config({FaultKind::kPartition, FaultKind::kKill});
  std::vector<std::string> notes;
  SshCampaignOptions options;
  options.note = [&notes](std::string_view line) { notes.emplace_back(line); };
  Result<RunReport> r = RunSshCampaign(c, std::stop_token(), {}, options);
  for (const std::string& n : notes) std::printf("note: %s\n", n.c_str());
  ASSERT_TRUE(r) << r.error().message();
  Print(*r);
  ExpectValid(*r);
  EXPECT_GT(r->verdict.figures.client_ops, 200) << r->text;

  // Every fault was applied over ssh and took effect.
  int partitions = 0;
  int kills = 0;
  for (const FaultInterval& f : r->stats.faults) {
    const std::string all = f.description + " | " + fmt::format("{}", fmt::join(f.details, " | "));
    EXPECT_TRUE(f.ok) << f.plan() << ": " << all;
    if (f.f() == "partition") {
      ++partitions;
      EXPECT_NE(all.find("iptables-restore over ssh"), std::string::npos) << all;
    } else if (f.f() == "kill") {
      ++kills;
      EXPECT_NE(all.find("db.kill over ssh"), std::string::npos) << all;
    }
  }
  // Seed 1's schedule holds both kinds.
  EXPECT_GE(partitions, 1) << r->text;
  EXPECT_GE(kills, 1) << r->text;
  ExpectHealed();

  // The run directory has the nodes file and each node's etcd log, fetched over ssh.
  EXPECT_TRUE(fs::exists(fs::path(r->files.nodes) / "nodes.json"));
  EXPECT_GT(fs::file_size(fs::path(r->files.nodes) / "n1" / "etcd.log"), 0u);
  bool ssh_note = false;
  for (const std::string& n : notes) ssh_note = ssh_note || n.starts_with("ssh: 3 nodes answer");
  EXPECT_TRUE(ssh_note);
}

// isolate-leader over ssh: the leader is found from the members' status replies, and the
// partition cuts exactly that node off.
TEST_F(SshCampaignTest, IsolateLeaderCutsOffTheLeaderTheMembersName) {
  CampaignConfig c = Config({FaultKind::kIsolateLeader});
  c.time_limit_s = 8;
  // Nothing disturbs the cluster before the first fault, so its leader is the one now.
  Result<cluster::ClusterStatus> before = cluster::ProbeStatus(state_);
  ASSERT_TRUE(before && before->leader) << "no leader before the run";
  const std::string leader = *before->leader;
  std::vector<std::string> others;
  for (const std::string& n : state_.NodeNames()) {
    if (n != leader) others.push_back(n);
  }
  Result<RunReport> r = RunSshCampaign(c, std::stop_token());
  ASSERT_TRUE(r) << r.error().message();
  Print(*r);
  ExpectValid(*r);
  ASSERT_FALSE(r->stats.faults.empty()) << r->text;
  for (const FaultInterval& f : r->stats.faults) {
    EXPECT_TRUE(f.ok) << f.plan() << ": " << f.description;
    EXPECT_EQ(f.f(), "partition");
    EXPECT_NE(
        f.details.empty() ? std::string::npos : f.details[0].find("iptables-restore over ssh"),
        std::string::npos);
  }
  const FaultInterval& first = r->stats.faults.front();
  const std::string cut = fmt::format("{} drops {{{}}}", leader, fmt::join(others, " "));
  EXPECT_NE(first.description.find(cut), std::string::npos)
      << "expected " << cut << " in " << first.description;
  ExpectHealed();
}

}  // namespace
}  // namespace faultline::runner
