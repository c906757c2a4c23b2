// The fixture of the tests that run whole campaigns on a local cluster (root): a state root of the
// test's own under /tmp, the cluster torn down even when a test fails, and Run(), which runs a
// campaign there and expects nothing of the cluster left afterwards.
#ifndef FAULTLINE_RUNNER_TESTING_LOCAL_CAMPAIGN_H_
#define FAULTLINE_RUNNER_TESTING_LOCAL_CAMPAIGN_H_

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <stop_token>
#include <string>
#include <string_view>

#include "cluster/cluster.h"
#include "runner/local.h"

namespace faultline::runner::testing {

class LocalCampaignFixture : public ::testing::Test {
 protected:
  // `prefix` names the state root (/tmp/<prefix>-<pid>); `name` is the default cluster name.
  LocalCampaignFixture(std::string_view prefix, std::string name)
      : prefix_(prefix), name_(std::move(name)) {}

  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "needs root (network namespaces, the cluster's supervisor)";
    root_ = std::filesystem::temp_directory_path() / fmt::format("{}-{}", prefix_, ::getpid());
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
  }
  void TearDown() override {
    // RunLocalCampaign tears its cluster down; this is the guard for when it could not.
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

  std::string prefix_;
  std::filesystem::path root_;
  std::string name_;
};

}  // namespace faultline::runner::testing

#endif  // FAULTLINE_RUNNER_TESTING_LOCAL_CAMPAIGN_H_
