// The fixture of the tests that run whole campaigns on a local cluster (root): a state root of the
// test's own under /tmp, the cluster torn down even when a test fails (servers the test's programs
// left running under that root included), and Run(), which runs a campaign there and expects
// nothing of the cluster left afterwards.
#ifndef FAULTLINE_RUNNER_TESTING_LOCAL_CAMPAIGN_H_
#define FAULTLINE_RUNNER_TESTING_LOCAL_CAMPAIGN_H_

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stop_token>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "cluster/cluster.h"
#include "runner/local.h"

namespace faultline::runner::testing {

// Kills, by pid, the processes still running that belong to a test under `dir`: their command line
// names `dir` or their working directory is below it, and their command line names one of
// `programs` (e.g. "server.py", "QuorumPeerMain", "redis-"). Returns how many there were.
inline int KillServersUnder(const std::string& dir, const std::vector<std::string>& programs) {
  namespace fs = std::filesystem;
  int found = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string pid = entry.path().filename().string();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "cmdline", std::ios::binary);
    const std::string cmdline((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
    bool named = false;
    for (const std::string& program : programs)
      named = named || cmdline.find(program) != std::string::npos;
    if (!named) continue;
    std::error_code cwd_ec;
    const fs::path cwd = fs::read_symlink(entry.path() / "cwd", cwd_ec);
    if (cmdline.find(dir) == std::string::npos && (cwd_ec || cwd.string().rfind(dir, 0) != 0)) {
      continue;
    }
    ++found;
    ::kill(std::stoi(pid), SIGKILL);
  }
  return found;
}

class LocalCampaignFixture : public ::testing::Test {
 protected:
  // `prefix` names the state root (/tmp/<prefix>-<pid>); `name` is the default cluster name;
  // `programs` name the servers the tests start (see KillServersUnder), killed on tear-down if a
  // run could not stop them.
  LocalCampaignFixture(std::string_view prefix, std::string name,
                       std::vector<std::string> programs = {})
      : prefix_(prefix), name_(std::move(name)), programs_(std::move(programs)) {}

  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "needs root (network namespaces, the cluster's supervisor)";
    root_ = std::filesystem::temp_directory_path() / fmt::format("{}-{}", prefix_, ::getpid());
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
  }
  void TearDown() override {
    // RunLocalCampaign tears its cluster down; this is the guard for when it could not.
    if (!programs_.empty()) KillStrayServers();
    (void)cluster::Down(name_, (root_ / "state").string());
    std::filesystem::remove_all(root_);
  }

  // Runs the campaign on a cluster of its own under the test's state root; the cluster is gone
  // again afterwards, and nothing of its namespaces remains.
  RunReport Run(const CampaignConfig& c) {
    LocalCampaignOptions options;
    options.state_root = (root_ / "state").string();
    Result<RunReport> r = RunLocalCampaign(c, std::stop_token(), {}, options);
    EXPECT_TRUE(r) << r.error().message();
    if (!r) return RunReport();
    std::printf("%s", r->text.c_str());
    EXPECT_TRUE(cluster::List(options.state_root).empty());
    return *r;
  }

  // For findings that a busy machine can miss in one run (issue 14 counts seeds): runs the
  // campaign with seeds 1..`seeds` until `found` holds for a report (or a run fails the test),
  // printing each seed's verdict; returns the last report.
  template <typename Found>
  RunReport RunSeedsUntil(CampaignConfig c, std::uint64_t seeds, Found found) {
    RunReport r;
    for (std::uint64_t seed = 1; seed <= seeds; ++seed) {
      c.seed = seed;
      r = Run(c);
      const bool hit = found(r);
      std::printf("seed %llu: %s%s\n", static_cast<unsigned long long>(seed),
                  std::string(checker::ValidityName(r.verdict.validity)).c_str(),
                  hit ? ", found" : ", not found");
      if (hit || ::testing::Test::HasFailure()) break;
    }
    return r;
  }

  // The test's servers still running under its root, killed by pid; how many there were.
  int KillStrayServers() const { return KillServersUnder(root_.string(), programs_); }

  std::string prefix_;
  std::filesystem::path root_;
  std::string name_;
  std::vector<std::string> programs_;
};

}  // namespace faultline::runner::testing

#endif  // FAULTLINE_RUNNER_TESTING_LOCAL_CAMPAIGN_H_
