// Crash tests for clock faults: a child (nemesis_crash_child --faketime-dir) applies a clock-bump
// or a clock-strobe to three dummy database processes (`sleep`s of this test started under
// libfaketime) and dies at each named kill point (after-ledger-fsync, between-nodes, during-heal)
// and at 20 random moments. Each time a fresh Nemesis's HealAll must give every node the true time
// back (+0 in its timestamp file, and a process with its clock environment reads the real time),
// leave no strobe helper running and no open ledger entry. Needs no root: only files and
// processes.
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <random>
#include <thread>

#include "common/file.h"
#include "nemesis/clock.h"
#include "nemesis/internal/proc.h"
#include "nemesis/nemesis.h"
#include "nemesis/testing/fake_node_control.h"
#include "nemesis/testing/run_crash_child.h"

#ifndef FAULTLINE_CRASH_CHILD
#error "FAULTLINE_CRASH_CHILD must name the nemesis_crash_child executable"
#endif

namespace faultline::nemesis {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

class ClockCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::setenv("FAULTLINE_NEMESIS_HELPER", FAULTLINE_NEMESIS_HELPER, 1);
    const std::optional<std::string> lib = FindLibfaketime();
    ASSERT_TRUE(lib) << "libfaketime is not installed (apt-get install libfaketime)";
    dir_ = std::filesystem::temp_directory_path() /
           fmt::format("faultline-clock-crash-{}", ::getpid());
    std::filesystem::create_directories(dir_);
    ledger_ = (dir_ / "nemesis.ledger").string();
    for (const char* n : {"n1", "n2", "n3"}) {
      nodes_.push_back(NetNode{.name = n, .netns = "none", .address = "198.19.0.1"});
      const std::string file = File(n);
      ASSERT_TRUE(WriteFaketimeFile(file, milliseconds(0)));
      const pid_t pid = ::fork();
      if (pid == 0) {
        for (const auto& [k, v] : FaketimeEnv(*lib, file)) ::setenv(k.c_str(), v.c_str(), 1);
        ::execl("/bin/sleep", "sleep", "600", nullptr);
        ::_exit(127);
      }
      sleeps_.push_back(pid);
      // Until it has exec'd, /proc/PID/environ shows ours.
      for (int i = 0; i < 400; ++i) {
        auto cmd = ReadFile(fmt::format("/proc/{}/cmdline", pid));
        if (cmd && cmd->starts_with("sleep")) break;
        std::this_thread::sleep_for(milliseconds(5));
      }
    }
  }

  void TearDown() override {
    if (auto n = Fresh()) (void)(*n)->HealAll();
    for (pid_t pid : sleeps_) {
      ::kill(pid, SIGKILL);
      int status = 0;
      ::waitpid(pid, &status, 0);
    }
    std::filesystem::remove_all(dir_);
  }

  std::string File(const std::string& node) const { return (dir_ / (node + ".rc")).string(); }

  Result<std::unique_ptr<Nemesis>> Fresh() {
    control_ = std::make_unique<testing::FakeNodeControl>(
        nodes_, std::vector<int>(sleeps_.begin(), sleeps_.end()));
    NemesisOptions o;
    o.net.run_id = "clkcr";
    o.net.nodes = nodes_;
    o.ledger_path = ledger_;
    o.control = control_.get();
    o.heal_on_open = false;
    for (const auto& n : nodes_) o.clock.faketime_files[n.name] = File(n.name);
    return Nemesis::Open(o);
  }

  int RunChild(const std::string& faults, const std::string& crash_at,
               std::optional<std::chrono::microseconds> kill_after) {
    std::vector<std::string> argv = {FAULTLINE_CRASH_CHILD,
                                     "--ledger",
                                     ledger_,
                                     "--run",
                                     "clkcr",
                                     "--backend",
                                     "nft",
                                     "--control",
                                     "198.19.0.254",
                                     "--faults",
                                     faults,
                                     "--faketime-dir",
                                     dir_.string()};
    for (size_t i = 0; i < nodes_.size(); ++i) {
      argv.push_back("--node");
      argv.push_back(fmt::format("{}:none:198.19.0.1:{}", nodes_[i].name, sleeps_[i]));
    }
    const int status = testing::RunCrashChild(std::move(argv), crash_at, kill_after);
    return status;
  }

  void HealAndCheck(const std::string& what) {
    auto nemesis = Fresh();
    ASSERT_TRUE(nemesis) << what << ": " << nemesis.error().message();
    const FaultReport healed = (*nemesis)->HealAll();
    EXPECT_TRUE(healed.ok) << what << ": " << healed.Describe();
    if (healed.description != "heal: nothing open") ++heals_with_work_;
    // A helper forked but not yet exec'd when its spawner was killed cannot be found by its tag:
    // it must end by itself without touching a file (it says "starting" before its first write,
    // which fails with no spawner to read it). Wait for that, without healing again.
    const auto until = Clock::now() + milliseconds(2000);
    while (
        !internal::FindProcesses({"faultline-nemesis-helper", "clock-strobe", ledger_}).empty() &&
        Clock::now() < until) {
      std::this_thread::sleep_for(milliseconds(10));
    }
    for (const auto& n : nodes_) {
      auto text = ReadFile(File(n.name));
      ASSERT_TRUE(text) << what;
      EXPECT_EQ(*text, "+0\n") << what << ": " << n.name;
    }
    EXPECT_TRUE(
        internal::FindProcesses({"faultline-nemesis-helper", "clock-strobe", ledger_}).empty())
        << what << ": a strobe helper still runs";
    // What the node's server reads is the true time again (files hold +0 and nothing rewrites
    // them).
    std::this_thread::sleep_for(milliseconds(50));
    auto seen = MeasureClockOffset(*control_, "n2");
    if (seen) {
      EXPECT_LT(std::abs(seen->offset.count()), 300) << what << ": " << seen->how;
    }
    auto open = (*nemesis)->OpenFaults();
    ASSERT_TRUE(open);
    for (const auto& line : *open) {
      EXPECT_EQ(line.rfind("#", 0), std::string::npos) << what << ": still open: " << line;
    }
  }

  std::filesystem::path dir_;
  std::string ledger_;
  std::vector<NetNode> nodes_;
  std::vector<pid_t> sleeps_;
  std::unique_ptr<testing::FakeNodeControl> control_;
  int heals_with_work_ = 0;
};

TEST_F(ClockCrashTest, EveryNamedCrashPointIsHealedByAFreshNemesis) {
  for (const std::string point : {"after-ledger-fsync", "between-nodes", "during-heal"}) {
    for (const std::string fault : {"clock-bump", "clock-strobe"}) {
      const std::string faults = point == "during-heal" ? fault + ",heal" : fault;
      const std::string what = fmt::format("{} at {}", fault, point);
      if (point == "between-nodes" && fault == "clock-strobe") continue;  // one helper, no loop
      const int status = RunChild(faults, point, std::nullopt);
      EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
          << what << ": the child did not die at the crash point (status " << status << ")";
      HealAndCheck(what);
      if (HasFatalFailure()) return;
    }
  }
  EXPECT_EQ(heals_with_work_, 5) << "every crash left a clock fault open for the heal";
}

TEST_F(ClockCrashTest, TwentyRandomKillsAreHealedByAFreshNemesis) {
  const std::uint64_t seed = 20261207;
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<long> us(0, 30000);
  int killed = 0;
  for (int i = 0; i < 20; ++i) {
    const std::string faults = i % 2 == 0 ? "clock-bump,clock-strobe,heal" : "clock-strobe";
    const long after = us(rng);
    const std::string what =
        fmt::format("run {} ({} after {} us, seed {})", i, faults, after, seed);
    const int status = RunChild(faults, "", std::chrono::microseconds(after));
    if (testing::WasKilled(status, what)) ++killed;
    HealAndCheck(what);
    if (HasFatalFailure()) return;
  }
  std::printf("%d of 20 children were killed before they finished; %d heals found open faults\n",
              killed, heals_with_work_);
  // Half the children strobe until killed or healed: those always leave a fault open.
  EXPECT_GE(heals_with_work_, 10);
}

}  // namespace
}  // namespace faultline::nemesis
