// Privileged crash tests: a child process (nemesis_crash_child) applies a 5-node partition, loss,
// delay, duplicate, reorder, packet-corrupt, bandwidth and a pause of dummy database processes
// (`sleep`s of this test, through a fake NodeControl), and dies — at each FAULTLINE_CRASH_AT point,
// and at 50 random moments (SIGKILL 0-20 ms after it starts applying). Each time, HealAll from a
// fresh Nemesis must leave nothing: no faultline table, chain, proto-250 route, fa17: qdisc or
// helper process, no stopped process, and no open ledger entry.
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "nemesis/internal/proc.h"
#include "nemesis/nemesis.h"
#include "nemesis/testing/fake_node_control.h"
#include "nemesis/testing/leftovers.h"
#include "nemesis/testing/netns_cluster.h"
#include "nemesis/testing/run_crash_child.h"

#ifndef FAULTLINE_CRASH_CHILD
#error "FAULTLINE_CRASH_CHILD must name the nemesis_crash_child executable"
#endif

namespace faultline::nemesis {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

class CrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Orphans of a killed child (an iptables-restore in flight, a helper mid-spawn) become ours,
    // so the test can wait for them before it heals and inspects.
    ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    auto cluster = testing::NetnsCluster::Create(5);
    ASSERT_TRUE(cluster) << cluster.error().message();
    cluster_ = std::move(*cluster);
    dir_ =
        std::filesystem::temp_directory_path() / fmt::format("faultline-crash-test-{}", ::getpid());
    std::filesystem::create_directories(dir_);
    ledger_ = (dir_ / "nemesis.ledger").string();
    for (size_t i = 0; i < cluster_->nodes().size(); ++i) {
      const pid_t pid = testing::SpawnSleep();
      ASSERT_GT(pid, 0);
      sleeps_.push_back(pid);
    }
  }

  void TearDown() override {
    if (cluster_) {
      auto nemesis = FreshNemesis();
      if (nemesis) (void)(*nemesis)->HealAll();
    }
    for (pid_t pid : sleeps_) {
      ::kill(pid, SIGKILL);
      int status = 0;
      ::waitpid(pid, &status, 0);
    }
    ReapOrphans(milliseconds(2000));
    cluster_.reset();
    std::filesystem::remove_all(dir_);
    ::prctl(PR_SET_CHILD_SUBREAPER, 0);
  }

  std::string RunId() const { return fmt::format("cr{}", ::getpid()); }

  Result<std::unique_ptr<Nemesis>> FreshNemesis() {
    control_ = std::make_unique<testing::FakeNodeControl>(
        cluster_->nodes(), std::vector<int>(sleeps_.begin(), sleeps_.end()));
    NemesisOptions options;
    options.net = cluster_->Config(RunId());
    options.ledger_path = ledger_;
    options.control = control_.get();
    options.control_address = cluster_->control_address();
    options.heal_on_open = false;  // the test calls HealAll itself, to check its report
    return Nemesis::Open(options);
  }

  // Runs the crash child; with kill_after, SIGKILLs it that long after it printed "go".
  // Returns its wait status.
  int RunChild(const std::string& faults, const std::string& backend, const std::string& crash_at,
               std::optional<std::chrono::microseconds> kill_after) {
    std::vector<std::string> argv = {FAULTLINE_CRASH_CHILD,
                                     "--ledger",
                                     ledger_,
                                     "--run",
                                     RunId(),
                                     "--backend",
                                     backend,
                                     "--control",
                                     cluster_->control_address(),
                                     "--faults",
                                     faults};
    for (size_t i = 0; i < cluster_->nodes().size(); ++i) {
      const auto& n = cluster_->nodes()[i];
      argv.push_back("--node");
      argv.push_back(fmt::format("{}:{}:{}:{}", n.name, n.netns, n.address, sleeps_[i]));
    }
    const int status = testing::RunCrashChild(std::move(argv), crash_at, kill_after);
    ReapOrphans(milliseconds(5000));
    return status;
  }

  // Waits for (and reaps) our children other than the sleeps and helper processes: commands the
  // killed child had started (iptables-restore) finish on their own.
  void ReapOrphans(milliseconds limit) {
    const auto until = Clock::now() + limit;
    const std::set<int> sleeps(sleeps_.begin(), sleeps_.end());
    while (Clock::now() < until) {
      int status = 0;
      while (::waitpid(-1, &status, WNOHANG) > 0) {
      }
      bool waiting = false;
      for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
        const std::string name = entry.path().filename();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        const int pid = std::stoi(name);
        if (sleeps.contains(pid)) continue;
        std::ifstream stat(entry.path() / "stat");
        std::string line;
        std::getline(stat, line);
        const auto close = line.rfind(')');
        if (close == std::string::npos) continue;
        std::istringstream in(line.substr(close + 2));
        char state = 0;
        int ppid = 0;
        in >> state >> ppid;
        if (ppid != ::getpid()) continue;
        std::ifstream cmd(entry.path() / "cmdline");
        std::string cmdline((std::istreambuf_iterator<char>(cmd)), {});
        if (cmdline.find("faultline-nemesis-helper") != std::string::npos && state != 'Z') {
          continue;
        }
        waiting = true;
      }
      if (!waiting) return;
      std::this_thread::sleep_for(milliseconds(2));
    }
    ADD_FAILURE() << "orphans of the crash child still run after " << limit.count() << " ms";
  }

  // Heals from a fresh Nemesis and checks that nothing is left. `what` names the case.
  void HealAndCheck(const std::string& what) {
    auto nemesis = FreshNemesis();
    ASSERT_TRUE(nemesis) << what << ": " << nemesis.error().message();
    const FaultReport healed = (*nemesis)->HealAll();
    if (healed.description != "heal: nothing open") ++heals_with_work_;
    EXPECT_TRUE(healed.ok) << what << ": " << healed.Describe();
    EXPECT_EQ(testing::Leftovers(cluster_->nodes()), std::vector<std::string>{}) << what;
    auto open = (*nemesis)->OpenFaults();
    ASSERT_TRUE(open);
    for (const auto& line : *open) {
      // A torn tail from a kill mid-write is fine; an open fault is not.
      EXPECT_EQ(line.rfind("#", 0), std::string::npos) << what << ": still open: " << line;
    }
    // A helper spawned but not yet exec'd when its spawner died ends itself on finding no reader.
    const auto until = Clock::now() + milliseconds(2000);
    while (!testing::HelperProcesses(ledger_).empty() && Clock::now() < until) {
      std::this_thread::sleep_for(milliseconds(10));
      (void)(*nemesis)->HealAll();
    }
    EXPECT_TRUE(testing::HelperProcesses(ledger_).empty()) << what;
    for (pid_t pid : sleeps_) {
      const auto st = internal::ReadProcStat(pid);
      ASSERT_TRUE(st.has_value()) << what << ": sleep " << pid << " is gone";
      EXPECT_NE(st->state, 'T') << what << ": sleep " << pid << " is still stopped";
    }
  }

  std::unique_ptr<testing::NetnsCluster> cluster_;
  std::unique_ptr<testing::FakeNodeControl> control_;
  std::filesystem::path dir_;
  std::string ledger_;
  std::vector<pid_t> sleeps_;
  int heals_with_work_ = 0;  // heals that found open faults
};

TEST_F(CrashTest, EveryNamedCrashPointIsHealedByAFreshNemesis) {
  const auto started = Clock::now();
  for (const std::string point : {"after-ledger-fsync", "between-nodes", "during-heal"}) {
    for (const std::string fault :
         {"partition/nft", "partition/netlink", "loss", "delay", "bandwidth", "pause"}) {
      const auto slash = fault.find('/');
      const std::string kind = fault.substr(0, slash);
      const std::string backend = slash == std::string::npos ? "nft" : fault.substr(slash + 1);
      const std::string faults = point == "during-heal" ? kind + ",heal" : kind;
      const std::string what = fmt::format("{} at {}", fault, point);
      const int status = RunChild(faults, backend, point, std::nullopt);
      EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
          << what << ": the child did not die at the crash point (status " << status << ")";
      HealAndCheck(what);
      if (HasFatalFailure()) return;
    }
  }
  RecordProperty(
      "named_ms",
      static_cast<int>(std::chrono::duration_cast<milliseconds>(Clock::now() - started).count()));
}

// Duplicate, reorder and packet-corrupt (issue 17 §3) at each named point: their chains and
// helpers go, also when the kill came between the ledger record and the helper's amend.
TEST_F(CrashTest, PacketManglingsAtEveryNamedCrashPointAreHealedByAFreshNemesis) {
  for (const std::string point : {"after-ledger-fsync", "between-nodes", "during-heal"}) {
    for (const std::string kind : {"duplicate", "reorder", "packet-corrupt"}) {
      const std::string faults = point == "during-heal" ? kind + ",heal" : kind;
      const std::string what = fmt::format("{} at {}", kind, point);
      const int status = RunChild(faults, "nft", point, std::nullopt);
      EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
          << what << ": the child did not die at the crash point (status " << status << ")";
      HealAndCheck(what);
      if (HasFatalFailure()) return;
    }
  }
  // A kill while the three run one after another, at random moments.
  std::mt19937_64 rng(20261207);
  std::uniform_int_distribution<long> us(0, 60000);
  for (int i = 0; i < 10; ++i) {
    const long at = us(rng);
    (void)RunChild("duplicate,reorder,packet-corrupt,heal", "nft", "",
                   std::chrono::microseconds(at));
    HealAndCheck(fmt::format("random kill {} after {} us", i, at));
    if (HasFatalFailure()) return;
  }
}

// Half the kills come 0-20 ms after the child starts applying. On this machine one ledger fsync
// alone can take that long, so those mostly hit the first fault; the other half are spread over
// the whole run of an unkilled child (measured first), so every fault and the heal get hit.
TEST_F(CrashTest, FiftyRandomKillsAreHealedByAFreshNemesis) {
  const std::string faults = "partition,loss,delay,bandwidth,pause,heal";
  const auto t0 = Clock::now();
  const int calibration = RunChild(faults, "nft", "", std::nullopt);
  const auto full_us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0);
  ASSERT_TRUE(WIFEXITED(calibration) && WEXITSTATUS(calibration) == 0)
      << "an unkilled child failed (status " << calibration << ")";
  HealAndCheck("calibration run");
  heals_with_work_ = 0;
  const std::uint64_t seed = 20261128;
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<long> early_us(0, 20000);
  std::uniform_int_distribution<long> spread_us(0, full_us.count());
  std::printf("seed %llu, unkilled run %lld us\n", static_cast<unsigned long long>(seed),
              static_cast<long long>(full_us.count()));
  int killed = 0;
  for (int i = 0; i < 50; ++i) {
    const long us = i % 2 == 0 ? early_us(rng) : spread_us(rng);
    const std::string backend = i % 4 < 2 ? "nft" : "netlink";
    const std::string what = fmt::format("run {} ({} after {} us)", i, backend, us);
    const int status = RunChild(faults, backend, "", std::chrono::microseconds(us));
    if (testing::WasKilled(status, what)) ++killed;
    HealAndCheck(what);
    if (HasFatalFailure()) return;
  }
  std::printf("%d of 50 children were killed before they finished; %d heals found open faults\n",
              killed, heals_with_work_);
  // Most kills must land while faults are being applied, or the test proves little.
  EXPECT_GT(killed, 25);
  EXPECT_GT(heals_with_work_, 20);
}

}  // namespace
}  // namespace faultline::nemesis
