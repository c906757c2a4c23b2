// Privileged and slow: brings up its own 3-node etcd cluster (own name and state dir, torn down
// even on failure) and runs short drills against it. Fails (does not skip) when it cannot.
#include "dirt/drill.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>

#include "cluster/cluster.h"
#include "dirt/scenario.h"

namespace faultline::dirt {
namespace {

// One cluster for the whole suite: bringing etcd up costs seconds.
class DrillTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/var/tmp/faultline-dirt-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = new std::string(tmpl);
    name_ = new std::string(fmt::format("dt{}", getpid() % 100000));
  }
  static void TearDownTestSuite() {
    if (root_ != nullptr) {
      auto d = cluster::Down(*name_, *root_);
      EXPECT_TRUE(d) << d.error().message();
      std::filesystem::remove_all(*root_);
    }
    delete root_;
    delete name_;
    root_ = nullptr;
    name_ = nullptr;
  }

  // Brings the suite's cluster up with the scenario's flags (re-creating it when they differ).
  void Cluster(const Scenario& s) {
    auto have = cluster::Load(*name_, *root_);
    if (have) {
      const auto& e = have->etcd;
      if (e.snapshot_count == s.db.snapshot_count && e.corrupt_check == s.db.corrupt_check &&
          e.pre_vote == s.db.pre_vote && e.heartbeat_ms == s.db.heartbeat_ms &&
          e.election_ms == s.db.election_ms) {
        state_ = *have;
        return;
      }
      auto d = cluster::Down(*name_, *root_);
      ASSERT_TRUE(d) << d.error().message();
    }
    cluster::ClusterSpec spec;
    spec.name = *name_;
    spec.nodes = s.nodes;
    spec.state_root = *root_;
    spec.etcd.pre_vote = s.db.pre_vote;
    spec.etcd.heartbeat_ms = s.db.heartbeat_ms;
    spec.etcd.election_ms = s.db.election_ms;
    spec.etcd.snapshot_count = s.db.snapshot_count;
    spec.etcd.corrupt_check = s.db.corrupt_check;
    auto up = cluster::Up(spec);
    ASSERT_TRUE(up) << up.error().message();
    state_ = *up;
  }

  DrillResult Drill(const Scenario& s, std::optional<std::chrono::milliseconds> limit = {}) {
    auto control = cluster::MakeLocalControl(state_);
    EXPECT_TRUE(control) << control.error().message();
    if (!control) return {};
    DrillOptions o;
    o.max_recovery_override = limit;
    o.progress = [](std::string_view l) {
      if (l.find(" healthy, ") == std::string_view::npos)
        std::printf("  %s\n", std::string(l).c_str());
    };
    auto r = RunDrill(state_, **control, s, o);
    EXPECT_TRUE(r) << r.error().message();
    if (!r) return {};
    std::printf("%s: %s: %s (detection %lld ms, repair %lld ms, recovery %lld ms)\n", s.id.c_str(),
                std::string(VerdictName(r->verdict)).c_str(), r->reason.c_str(),
                r->recovery.detection ? static_cast<long long>(r->recovery.detection->count()) : -1,
                r->recovery.repair ? static_cast<long long>(r->recovery.repair->count()) : -1,
                r->recovery.recovery ? static_cast<long long>(r->recovery.recovery->count()) : -1);
    return *r;
  }

  static std::string* root_;
  static std::string* name_;
  cluster::ClusterState state_;
};
std::string* DrillTest::root_ = nullptr;
std::string* DrillTest::name_ = nullptr;

constexpr const char* kKill = R"({
  "id": "TKILL", "title": "crash one member", "category": "process", "nodes": 3,
  "db_flags": {"pre_vote": true, "heartbeat_ms": 100, "election_ms": 1000, "snapshot_count": 10000},
  "steady_state": {"min_throughput_percent": 30, "baseline_ms": 1000},
  "max_recovery_time_ms": 30000, "settle_window_ms": 1000, "observe_ms": 20000,
  "safeguards": {"restart": {"enabled": true, "initial_backoff_ms": 100}},
  "expected_safeguards": ["restart"],
  "steps": [{"at_ms": 0, "fault": "crash", "targets": "n1"}]
})";

TEST_F(DrillTest, KillPassesUnderGenerousLimitAndFailsUnderOneMillisecond) {
  auto s = ParseScenario(kKill, "kill");
  ASSERT_TRUE(s) << s.error().message();
  ASSERT_NO_FATAL_FAILURE(Cluster(*s));

  DrillResult pass = Drill(*s);
  EXPECT_EQ(pass.verdict, Verdict::kPass) << pass.reason;
  ASSERT_TRUE(pass.recovery.recovery);
  // A kill cannot recover faster than a restart physically takes (backoff 100 ms + start).
  EXPECT_GE(pass.recovery.recovery->count(), 100);
  EXPECT_LE(pass.recovery.recovery->count(), 30000);
  ASSERT_TRUE(pass.recovery.detection);
  EXPECT_LE(*pass.recovery.detection, *pass.recovery.recovery);
  EXPECT_NE(std::find(pass.safeguards_fired.begin(), pass.safeguards_fired.end(), "restart"),
            pass.safeguards_fired.end());
  EXPECT_TRUE(pass.serves_after);
  EXPECT_FALSE(pass.control_plane_dumps.empty());
  EXPECT_FALSE(pass.resource_metrics.empty());

  DrillResult fail = Drill(*s, std::chrono::milliseconds(1));
  EXPECT_EQ(fail.verdict, Verdict::kFail) << fail.reason;
  ASSERT_TRUE(fail.recovery.margin);
  EXPECT_LT(fail.recovery.margin->count(), 0);

  char out[] = "/tmp/faultline-dirt-out-XXXXXX";
  ASSERT_NE(mkdtemp(out), nullptr);
  Status st = WriteArtifacts(out, "test", {pass, fail});
  EXPECT_TRUE(st) << st.error().message();
  for (const char* f : {"report.md", "test_summary.json", "incident-TKILL.json",
                        "control_plane_dumps.json", "resource_metrics_timeline.json"}) {
    EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(out) / f)) << f;
  }
  std::filesystem::remove_all(out);
}

constexpr const char* kCorrupt = R"({
  "id": "TCORRUPT", "title": "corrupt one member", "category": "data", "nodes": 3,
  "db_flags": {"pre_vote": true, "heartbeat_ms": 100, "election_ms": 1000, "snapshot_count": 100,
               "corrupt_check": true},
  "steady_state": {"baseline_ms": 2000},
  "max_recovery_time_ms": 60000, "settle_window_ms": 1000, "observe_ms": 40000,
  "safeguards": {"restart": {"enabled": true, "initial_backoff_ms": 100, "max_backoff_ms": 400,
                             "max_restarts": 3},
                 "repair_playbook": true},
  "expected_safeguards": ["repair"],
  "steps": [{"at_ms": 0, "fault": "corrupt", "targets": "n2",
             "files": ["member/snap/*.snap", "member/snap/db"], "mode": "overwrite"}]
})";

TEST_F(DrillTest, CorruptionIsDetectedAndRepaired) {
  auto s = ParseScenario(kCorrupt, "corrupt");
  ASSERT_TRUE(s) << s.error().message();
  ASSERT_NO_FATAL_FAILURE(Cluster(*s));
  DrillResult r = Drill(*s);
  for (const auto& e : r.events) {
    std::printf("  +%lld [%s] %s %s: %s\n", static_cast<long long>(e.offset_ms), e.source.c_str(),
                e.kind.c_str(), e.node.c_str(), e.detail.substr(0, 200).c_str());
  }
  EXPECT_GT(r.corrupted_bytes, 0);
  EXPECT_TRUE(r.detection_signal.has_value());
  EXPECT_NE(std::find(r.safeguards_fired.begin(), r.safeguards_fired.end(), "repair"),
            r.safeguards_fired.end());
  EXPECT_EQ(r.hashes_equal, std::optional<bool>(true));
  EXPECT_TRUE(r.serves_after);
  EXPECT_EQ(r.verdict, Verdict::kPass) << r.reason;
}

}  // namespace
}  // namespace faultline::dirt
