// Privileged crash tests for drills: a child process (dirt_crash_child) runs a drill against a
// 3-node cluster brought up apart from it (as `faultline cluster up` does, so the cluster outlives
// the drill) and is SIGKILLed after a pause, during a siege, during an isolation (the drill's
// FAULTLINE_KILL_POINT hook) and at a random moment of a drill that pauses, sieges and isolates.
// Each time, a heal through the cluster's ledger — the call `faultline nemesis heal` makes — must
// leave nothing: no stopped etcd, no faultline nft table or iptables chain, no siege burner or
// raised cgroup setting, no open ledger entry; and every member answers its health check.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "cluster/cluster.h"
#include "nemesis/nemesis.h"
#include "nemesis/testing/leftovers.h"

#ifndef FAULTLINE_DIRT_CRASH_CHILD
#error "FAULTLINE_DIRT_CRASH_CHILD must name the dirt_crash_child executable"
#endif

namespace faultline::dirt {
namespace {

using std::chrono::milliseconds;

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// A short drill on the suite's 3-node cluster: the pre-check takes about 1.5 s, the steps hold
// their faults for 10 s, far longer than the child lives.
std::string ScenarioJson(const std::string& id, const std::string& steps) {
  return fmt::format(R"({{
  "id": "{}", "title": "crash test", "category": "process", "nodes": 3,
  "db_flags": {{"pre_vote": true, "heartbeat_ms": 100, "election_ms": 1000, "snapshot_count": 10000}},
  "steady_state": {{"min_throughput_percent": 0, "baseline_ms": 500}},
  "max_recovery_time_ms": 30000, "settle_window_ms": 500, "observe_ms": 5000,
  "blast_radius": {{"allow_below_quorum": true}},
  "steps": [{}]
}})",
                     id, steps);
}

constexpr const char* kPause =
    R"({"at_ms": 0, "fault": "pause", "targets": "n1", "duration_ms": 10000})";
constexpr const char* kSiege =
    R"({"at_ms": 0, "fault": "siege", "targets": "n2", "duration_ms": 10000, "cpu_percent": 40})";
constexpr const char* kIsolate =
    R"({"at_ms": 0, "fault": "isolate", "targets": "n3", "duration_ms": 10000})";

class DrillCrashTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/var/tmp/faultline-dirt-crash-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = new std::string(tmpl);
    name_ = new std::string(fmt::format("dc{}", getpid() % 100000));
    cluster::ClusterSpec spec;
    spec.name = *name_;
    spec.nodes = 3;
    spec.state_root = *root_;
    auto up = cluster::Up(spec);
    ASSERT_TRUE(up) << up.error().message();
    state_ = new cluster::ClusterState(*up);
  }
  static void TearDownTestSuite() {
    if (root_ != nullptr) {
      auto d = cluster::Down(*name_, *root_);
      EXPECT_TRUE(d) << d.error().message();
      std::filesystem::remove_all(*root_);
    }
    delete root_;
    delete name_;
    delete state_;
    root_ = nullptr;
    name_ = nullptr;
    state_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(state_, nullptr) << "the suite's cluster did not come up";
    // Grandchildren of a killed child (a siege's burners, the nemesis helper) become ours, so the
    // test can reap them.
    ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    for (const auto& n : state_->nodes) {
      auto it = n.cgroups.find("cpu");
      if (it != n.cgroups.end()) shares_[n.name] = Trimmed(Slurp(it->second + "/cpu.shares"));
    }
  }

  // Runs the child on `scenario`; with `kill_point` set the drill kills itself there, else the
  // test SIGKILLs it `random_delay` after the first fault step began. Returns how it ended.
  void RunAndKill(const std::string& id, const std::string& steps, const std::string& kill_point,
                  milliseconds random_delay = milliseconds(0)) {
    const std::string file = fmt::format("{}/{}.json", *root_, id);
    std::ofstream(file) << ScenarioJson(id, steps);
    int out[2];
    ASSERT_EQ(::pipe(out), 0);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::dup2(out[1], 1);
      ::close(out[0]);
      ::close(out[1]);
      if (!kill_point.empty()) ::setenv("FAULTLINE_KILL_POINT", kill_point.c_str(), 1);
      ::execl(FAULTLINE_DIRT_CRASH_CHILD, "dirt_crash_child", name_->c_str(), root_->c_str(),
              file.c_str(), nullptr);
      ::_exit(127);
    }
    ::close(out[1]);
    FILE* lines = ::fdopen(out[0], "r");
    std::string seen;
    char buf[4096];
    bool faulting = false;
    while (std::fgets(buf, sizeof buf, lines) != nullptr) {
      seen += buf;
      if (!faulting && std::string(buf).find(" ms: ") != std::string::npos) {
        faulting = true;
        if (kill_point.empty()) {
          std::this_thread::sleep_for(random_delay);
          ::kill(pid, SIGKILL);
        }
      }
    }
    std::fclose(lines);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "the drill was not killed (status " << status << "); its output:\n"
        << seen;
    EXPECT_TRUE(faulting) << "no fault step began; the drill's output:\n" << seen;
    // Reap whatever of the child's became ours.
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
  }

  // What `faultline nemesis heal` does for a local cluster, then the checks.
  // `expect_open`: the kill came after a fault was recorded, so the ledger must show it.
  void HealAndCheck(bool expect_open = true) {
    auto control = cluster::MakeLocalControl(*state_);
    ASSERT_TRUE(control) << control.error().message();
    nemesis::NemesisOptions o;
    o.heal_on_open = false;
    o.net = state_->NetConfig();
    o.control_address = state_->control_address;
    o.control = control->get();
    o.ledger_path = state_->run_dir + "/nemesis.ledger";
    auto nemesis = nemesis::Nemesis::Open(o);
    ASSERT_TRUE(nemesis) << nemesis.error().message();
    auto open = (*nemesis)->OpenFaults();
    ASSERT_TRUE(open) << open.error().message();
    if (expect_open) {
      EXPECT_FALSE(open->empty()) << "the killed drill left nothing in the ledger";
    }
    for (const auto& f : *open) std::printf("  open before heal: %s\n", f.c_str());
    const nemesis::FaultReport healed = (*nemesis)->HealAll();
    EXPECT_TRUE(healed.ok) << healed.Describe();
    open = (*nemesis)->OpenFaults();
    ASSERT_TRUE(open) << open.error().message();
    EXPECT_TRUE(open->empty()) << fmt::format("{}", fmt::join(*open, "\n"));
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }

    // No stopped etcd.
    auto dbs = (*control)->Databases();
    ASSERT_TRUE(dbs) << dbs.error().message();
    for (const auto& d : *dbs) {
      EXPECT_FALSE(d.paused) << d.node << " is paused";
      const std::string stat = Slurp(fmt::format("/proc/{}/stat", d.pid));
      const size_t rp = stat.rfind(')');
      ASSERT_NE(rp, std::string::npos) << d.node << ": no process " << d.pid;
      EXPECT_NE(stat[rp + 2], 'T') << d.node << " etcd pid " << d.pid << " is stopped";
    }
    // No rule, chain, route or qdisc of faultline's in any node.
    const auto left = nemesis::testing::Leftovers(state_->NetConfig().nodes);
    EXPECT_TRUE(left.empty()) << fmt::format("{}", fmt::join(left, "\n"));
    // No burner in any node's cgroup (only etcd), and every cpu.shares as before.
    for (const auto& n : state_->nodes) {
      auto it = n.cgroups.find("cpu");
      if (it == n.cgroups.end()) continue;
      std::istringstream procs(Slurp(it->second + "/cgroup.procs"));
      for (int pid = 0; procs >> pid;) {
        const std::string comm = Trimmed(Slurp(fmt::format("/proc/{}/comm", pid)));
        EXPECT_EQ(comm, "etcd") << n.name << ": pid " << pid << " left in " << it->second;
      }
      EXPECT_EQ(Trimmed(Slurp(it->second + "/cpu.shares")), shares_[n.name]) << n.name;
    }
    // Every member answers its health check (a resumed or rejoining member within seconds).
    std::string why;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    bool healthy = false;
    while (!healthy && std::chrono::steady_clock::now() < deadline) {
      auto status = cluster::ProbeStatus(*state_, milliseconds(1000));
      healthy = status.has_value();
      why = status ? "" : status.error().message();
      if (status) {
        for (const auto& n : status->nodes) {
          if (!n.healthy) {
            healthy = false;
            why = fmt::format("{} unhealthy{}", n.name, n.probe_error ? ": " + *n.probe_error : "");
          }
        }
      }
      if (!healthy) std::this_thread::sleep_for(milliseconds(200));
    }
    EXPECT_TRUE(healthy) << why;
  }

  static std::string* root_;
  static std::string* name_;
  static cluster::ClusterState* state_;
  std::map<std::string, std::string> shares_;
};
std::string* DrillCrashTest::root_ = nullptr;
std::string* DrillCrashTest::name_ = nullptr;
cluster::ClusterState* DrillCrashTest::state_ = nullptr;

TEST_F(DrillCrashTest, KilledAfterPause) {
  ASSERT_NO_FATAL_FAILURE(RunAndKill("CPAUSE", kPause, "after-pause"));
  HealAndCheck();
}

TEST_F(DrillCrashTest, KilledDuringSiege) {
  ASSERT_NO_FATAL_FAILURE(RunAndKill("CSIEGE", kSiege, "during-siege"));
  HealAndCheck();
}

TEST_F(DrillCrashTest, KilledDuringIsolate) {
  ASSERT_NO_FATAL_FAILURE(RunAndKill("CISOLATE", kIsolate, "during-isolate"));
  HealAndCheck();
}

TEST_F(DrillCrashTest, KilledAtRandom) {
  const std::uint64_t seed = std::random_device{}();
  std::mt19937_64 rng(seed);
  const milliseconds delay(std::uniform_int_distribution<int>(0, 300)(rng));
  SCOPED_TRACE(fmt::format("seed {}: SIGKILL {} ms after the first step", seed, delay.count()));
  const std::string steps = fmt::format("{}, {}, {}", kPause, kSiege, kIsolate);
  ASSERT_NO_FATAL_FAILURE(RunAndKill("CRANDOM", steps, "", delay));
  HealAndCheck(/*expect_open=*/false);
}

}  // namespace
}  // namespace faultline::dirt
