// A campaign over ssh:FILE against a system other than etcd: the example key-value server of
// examples/kv/ (its system file's commands run on the nodes over ssh, its Python exec client on
// this machine). The nodes are network namespaces running sshd (cluster/ssh_test_cluster.h); the
// nodes file names the system and gives every node a client port of its own (7101, 7102, ...,
// not the system file's 7001), so the servers listen, and the clients connect, where the nodes
// file says. The campaign must start the servers over ssh, kill them with the system's commands,
// be valid, fetch the servers' logs, and stop the servers and wipe their data at the end. Root
// only; every server this test started is stopped (by pid) and the namespaces removed also when
// it fails.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "cluster/ssh_test_cluster.h"
#include "runner/ssh.h"

#ifndef FAULTLINE_SOURCE_DIR
#error "FAULTLINE_SOURCE_DIR (for examples/kv/) is required"
#endif

namespace faultline::runner {
namespace {

namespace fs = std::filesystem;
using checker::Validity;

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The example's servers still running whose command line names `dir` (their data dir is under
// it): killed by pid; how many there were.
int KillServersUnder(const std::string& dir) {
  int found = 0;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string pid = entry.path().filename().string();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string cmdline = ReadAll(entry.path() / "cmdline");
    if (cmdline.find(dir) == std::string::npos || cmdline.find("server.py") == std::string::npos) {
      continue;
    }
    ++found;
    ::kill(std::stoi(pid), SIGKILL);
  }
  return found;
}

class SshSystemCampaignTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "needs root (network namespaces, sshd)";
    Result<std::unique_ptr<cluster::testing::SshTestCluster>> c =
        cluster::testing::SshTestCluster::Create(3, [](const std::string&) {
          return cluster::DbCommands{};  // no etcd: the system's own commands
        });
    ASSERT_TRUE(c) << c.error().message();
    cluster_ = std::move(*c);
    file_ = cluster_->nodes_file();
    file_.system = std::string(FAULTLINE_SOURCE_DIR) + "/examples/kv/kv.json";
    for (size_t i = 0; i < file_.nodes.size(); ++i) {
      cluster::SshNode& n = file_.nodes[i];
      n.client_port = 7101 + static_cast<int>(i);
      n.data_dir = fmt::format("{}/kv/{}/data", cluster_->dir(), n.name);
      n.log_dir = fmt::format("{}/kv/{}/logs", cluster_->dir(), n.name);
    }
    nodes_path_ = cluster_->dir() + "/nodes.json";
    std::ofstream(nodes_path_) << cluster::FormatNodesFile(file_);
  }

  void TearDown() override {
    // The campaign stops its servers; this is the guard for when it could not.
    if (cluster_) KillServersUnder(cluster_->dir());
    cluster_.reset();  // sshd, files and namespaces
  }

  CampaignConfig Config() const {
    CampaignConfig c;
    c.cluster = "ssh:" + nodes_path_;
    c.system = file_.system;
    c.nodes = 3;
    c.nemesis = {FaultKind::kPartition, FaultKind::kKill};
    c.out = cluster_->dir() + "/runs";
    c.concurrency = 4;
    c.time_limit_s = 10;
    c.fault_s = 2;
    c.heal_s = 2;
    c.final_phase_s = 10;
    c.check_time_limit_s = 20;
    c.seed = 1;
    return c;
  }

  std::unique_ptr<cluster::testing::SshTestCluster> cluster_;
  cluster::NodesFile file_;
  std::string nodes_path_;
};

TEST_F(SshSystemCampaignTest, ExampleKvOverSshUsesTheNodesFilesClientPortsAndIsValid) {
  std::vector<std::string> notes;
  SshCampaignOptions options;
  options.note = [&notes](std::string_view line) { notes.emplace_back(line); };
  Result<RunReport> r = RunSshCampaign(Config(), std::stop_token(), {}, options);
  for (const std::string& n : notes) std::printf("note: %s\n", n.c_str());
  ASSERT_TRUE(r) << r.error().message();
  std::printf("%s", r->text.c_str());
  EXPECT_EQ(r->verdict.validity, Validity::kValid) << r->text;
  EXPECT_GT(r->verdict.figures.client_ops, 100) << r->text;

  // The clients went to the nodes file's ports.
  bool endpoints = false;
  for (const std::string& n : notes) {
    endpoints = endpoints || n.find(fmt::format("clients at {}:7101,{}:7102,{}:7103",
                                                file_.nodes[0].address, file_.nodes[1].address,
                                                file_.nodes[2].address)) != std::string::npos;
  }
  EXPECT_TRUE(endpoints);
  // Partitions over ssh; kills by the system file's commands, run over ssh.
  int kills = 0;
  for (const FaultInterval& f : r->stats.faults) {
    const std::string all = f.description + " | " + fmt::format("{}", fmt::join(f.details, " | "));
    EXPECT_TRUE(f.ok) << f.plan() << ": " << all;
    if (f.f() == "partition") {
      EXPECT_NE(all.find("iptables-restore over ssh"), std::string::npos) << all;
    } else if (f.f() == "kill") {
      ++kills;
      EXPECT_NE(all.find("commands.kill"), std::string::npos) << all;
    }
  }
  EXPECT_GE(kills, 1) << r->text;

  // This run's part of each server's log, fetched over ssh: n2 listened on its own port.
  const std::string log = ReadAll(fs::path(r->files.nodes) / "n2" / "server.log");
  EXPECT_NE(log.find(fmt::format("listening on {}:7102", file_.nodes[1].address)),
            std::string::npos)
      << log;
  EXPECT_TRUE(fs::exists(fs::path(r->files.nodes) / "nodes.json"));

  // The servers the campaign started are stopped, their data wiped.
  EXPECT_EQ(KillServersUnder(cluster_->dir()), 0) << "servers left running after the campaign";
  for (const cluster::SshNode& n : file_.nodes) {
    EXPECT_FALSE(fs::exists(fs::path(n.data_dir) / "kv.json")) << n.name;
  }
}

// --system naming another system than the nodes file is refused before anything starts.
TEST_F(SshSystemCampaignTest, ConflictingSystemIsRefusedNamingBoth) {
  CampaignConfig c = Config();
  c.system = "zookeeper";
  Result<RunReport> r = RunSshCampaign(c, std::stop_token());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message().find("--system zookeeper conflicts with the nodes file"),
            std::string::npos)
      << r.error().message();
  EXPECT_NE(r.error().message().find(file_.system), std::string::npos) << r.error().message();
  EXPECT_EQ(KillServersUnder(cluster_->dir()), 0);
}

}  // namespace
}  // namespace faultline::runner
