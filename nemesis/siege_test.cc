// Privileged: creates its own v1 groups under faultline/test-<pid> and removes them. Fails (does
// not skip) when it cannot.
#include "nemesis/siege.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

namespace faultline::nemesis {
namespace {

class SiegeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto mounts = DetectCgroups();
    ASSERT_TRUE(mounts) << mounts.error().message();
    mounts_ = *mounts;
    auto t = CreateTarget(mounts_, fmt::format("faultline/test-{}", getpid()));
    ASSERT_TRUE(t) << t.error().message() << " (mounts: " << mounts_.Describe() << ")";
    target_ = *t;
    created_ = true;
  }
  void TearDown() override {
    if (created_) {
      Status st = RemoveTarget(target_);
      EXPECT_TRUE(st) << st.error().message();
      // The shared "faultline" parents go too when nothing else (a cluster) is left in them.
      for (const std::string& d : {target_.cpu, target_.cpuacct, target_.memory, target_.blkio}) {
        if (!d.empty()) ::rmdir(std::filesystem::path(d).parent_path().c_str());
      }
    }
  }

  CgroupMounts mounts_;
  SiegeTarget target_;
  bool created_ = false;
};

TEST_F(SiegeTest, DetectsControllersAtRunTime) {
  EXPECT_FALSE(target_.cpuacct.empty()) << mounts_.Describe();
  EXPECT_FALSE(target_.memory.empty()) << mounts_.Describe();
  auto usage = ReadCpuUsageNs(target_);
  ASSERT_TRUE(usage) << usage.error().message();
  EXPECT_EQ(*usage, 0u);  // a new, empty group
}

class CpuSiegeTest : public SiegeTest, public ::testing::WithParamInterface<double> {};

TEST_P(CpuSiegeTest, HoldsTargetWithinFivePoints) {
  const double target = GetParam();
  SiegeSpec spec;
  spec.cpu.emplace();
  spec.cpu->target_percent = target;
  spec.cpu->shares = 8192;  // as drills do: hold the target on a busy shared host
  spec.warmup = std::chrono::milliseconds(1000);
  auto siege = Siege::Start(target_, spec);
  ASSERT_TRUE(siege) << siege.error().message();
  auto before = ReadCpuUsageNs(target_);
  ASSERT_TRUE(before);
  auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::milliseconds(4000));
  auto after = ReadCpuUsageNs(target_);
  auto t1 = std::chrono::steady_clock::now();
  SiegeReport report = (*siege)->Stop();
  ASSERT_TRUE(after);
  ASSERT_EQ(report.figures.size(), 1u);
  // Independent of the siege's own arithmetic: the group's cpuacct over the test's own window
  // (which includes the warm-up, so allow for convergence there).
  double wall_ns =
      static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
  double independent = static_cast<double>(*after - *before) / wall_ns * 100.0;
  std::printf("cpu target %.0f: achieved %.1f (siege window %lld ms), independent %.1f\n", target,
              report.figures[0].achieved, static_cast<long long>(report.measured.count()),
              independent);
  EXPECT_NEAR(report.figures[0].achieved, target, 5.0) << report.Describe();
  EXPECT_TRUE(report.valid) << report.Describe();
  EXPECT_NEAR(independent, target, 7.5) << report.Describe();
}

INSTANTIATE_TEST_SUITE_P(Targets, CpuSiegeTest, ::testing::Values(30.0, 60.0, 90.0),
                         [](const ::testing::TestParamInfo<double>& p) {
                           return fmt::format("Percent{}", static_cast<int>(p.param));
                         });

TEST_F(SiegeTest, MissedTargetIsFlaggedInvalid) {
  // A quota of 20% of one CPU makes 80% impossible: the report must say INVALID.
  ASSERT_FALSE(target_.cpu.empty());
  SiegeSpec spec;
  spec.cpu.emplace();
  spec.cpu->target_percent = 80;
  spec.cpu->quota_percent = 20.0;
  spec.warmup = std::chrono::milliseconds(500);
  auto siege = Siege::Start(target_, spec);
  ASSERT_TRUE(siege) << siege.error().message();
  std::this_thread::sleep_for(std::chrono::milliseconds(2000));
  SiegeReport report = (*siege)->Stop();
  ASSERT_EQ(report.figures.size(), 1u);
  EXPECT_LT(report.figures[0].achieved, 30.0) << report.Describe();
  EXPECT_FALSE(report.figures[0].within_tolerance);
  EXPECT_FALSE(report.valid);
}

TEST_F(SiegeTest, MemoryReachesTargetResidentSize) {
  const std::int64_t target = 128ll << 20;
  SiegeSpec spec;
  spec.memory.emplace();
  spec.memory->target_bytes = target;
  spec.warmup = std::chrono::milliseconds(2000);
  auto siege = Siege::Start(target_, spec);
  ASSERT_TRUE(siege) << siege.error().message();
  std::this_thread::sleep_for(std::chrono::milliseconds(3500));
  auto usage = ReadMemoryBytes(target_);
  SiegeReport report = (*siege)->Stop();
  ASSERT_TRUE(usage) << usage.error().message();
  std::printf("memory target 128 MiB: usage now %.1f MiB; %s\n",
              static_cast<double>(*usage) / 1048576.0, report.Describe().c_str());
  EXPECT_NEAR(static_cast<double>(*usage), static_cast<double>(target), 0.05 * target);
  EXPECT_TRUE(report.valid) << report.Describe();
}

TEST_F(SiegeTest, DiskReachesTargetOpsPerSecond) {
  char tmpl[] = "/var/tmp/faultline-siege-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  SiegeSpec spec;
  spec.disk.emplace();
  spec.disk->target_ops_per_s = 100;
  spec.disk->directory = tmpl;
  spec.warmup = std::chrono::milliseconds(500);
  auto siege = Siege::Start(target_, spec);
  ASSERT_TRUE(siege) << siege.error().message();
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  SiegeReport report = (*siege)->Stop();
  std::filesystem::remove_all(tmpl);
  ASSERT_EQ(report.figures.size(), 1u);
  std::printf("%s\n", report.Describe().c_str());
  EXPECT_TRUE(report.valid) << report.Describe();
}

}  // namespace
}  // namespace faultline::nemesis
