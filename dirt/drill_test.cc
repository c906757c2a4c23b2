// Privileged and slow: brings up its own 3-node etcd cluster (own name and state dir, torn down
// even on failure) and runs short drills against it. Fails (does not skip) when it cannot.
#include "dirt/drill.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "cluster/cluster.h"
#include "dirt/scenario.h"
#include "history/audit.h"
#include "history/history.h"
#include "history/log.h"

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

  DrillResult Drill(const Scenario& s, std::optional<std::chrono::milliseconds> limit = {},
                    const std::string& history_dir = {}) {
    auto control = cluster::MakeLocalControl(state_);
    EXPECT_TRUE(control) << control.error().message();
    if (!control) return {};
    DrillOptions o;
    o.max_recovery_override = limit;
    o.history_dir = history_dir;
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

// The drill's history log read back (the chain is verified by ReadLogHistory too).
history::History ReadBack(const DrillResult& r) {
  EXPECT_TRUE(r.history_log.has_value());
  if (!r.history_log) return {};
  EXPECT_EQ(r.history_log->error, "");
  history::AuditReport audit = history::VerifyLogFile(r.history_log->path);
  EXPECT_EQ(audit.status, history::AuditStatus::kIntact) << audit.message;
  EXPECT_TRUE(audit.sealed);
  EXPECT_EQ(audit.head, r.history_log->head);
  EXPECT_EQ(audit.records, r.history_log->records);
  std::ifstream in(r.history_log->path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string note;
  auto h = history::ReadLogHistory(ss.str(), r.history_log->path, &note);
  EXPECT_TRUE(h) << h.error().message();
  EXPECT_EQ(note, "");
  return h ? *h : history::History{};
}

// Completions of process `actor` and f in the history.
std::vector<history::Op> Completions(const history::History& h, const history::Process& actor,
                                     const std::string& f) {
  std::vector<history::Op> out;
  for (size_t i = 0; i < h.size(); ++i) {
    const history::Op& op = h[i];
    if (op.process == actor && op.f == f && h.partner(i) != history::History::kNone &&
        h.partner(i) < i) {
      out.push_back(op);
    }
  }
  return out;
}

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

  char logs[] = "/tmp/faultline-dirt-logs-XXXXXX";
  ASSERT_NE(mkdtemp(logs), nullptr);
  DrillResult pass = Drill(*s, std::nullopt, logs);
  EXPECT_EQ(pass.verdict, Verdict::kPass) << pass.reason;
  {
    // The history log verifies and records the crash step and the supervisor's restart with
    // their outcomes.
    history::History h = ReadBack(pass);
    auto crash = Completions(h, history::Process::Nemesis(), "crash");
    ASSERT_EQ(crash.size(), 1u);
    ASSERT_NE(crash[0].FindExtra("ok"), nullptr);
    EXPECT_TRUE(crash[0].FindExtra("ok")->as_bool()) << history::Describe(crash[0]);
    auto restarts = Completions(h, history::Process::Named("safeguard"), "restarted");
    ASSERT_FALSE(restarts.empty());
    const history::Op& r = restarts[0];
    EXPECT_EQ(r.type, history::OpType::kOk);
    ASSERT_NE(r.FindExtra("node"), nullptr);
    EXPECT_EQ(r.FindExtra("node")->text(), "n1");
    ASSERT_NE(r.FindExtra("pid"), nullptr);
    EXPECT_GT(r.FindExtra("pid")->as_int(), 0);
    ASSERT_NE(r.FindExtra("ok"), nullptr);
    EXPECT_TRUE(r.FindExtra("ok")->as_bool());
    EXPECT_NE(r.FindExtra("wall_ns"), nullptr);
    // The process exit the supervisor saw, and the rollback and checks, are there too.
    EXPECT_FALSE(Completions(h, history::Process::Named("supervisor"), "exited").empty());
    EXPECT_FALSE(Completions(h, history::Process::Named("rollback"), "done").empty());
    EXPECT_FALSE(Completions(h, history::Process::Named("check"), "verdict").empty());
  }
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

  DrillResult fail = Drill(*s, std::chrono::milliseconds(1), logs);
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
  // The second drill of the same scenario got a log of its own: logs are never overwritten.
  ASSERT_TRUE(fail.history_log);
  EXPECT_NE(fail.history_log->path, pass.history_log->path);
  std::filesystem::remove_all(logs);
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
  "log_pattern_max": {"panic": 4},
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
  // etcd refused its corrupted data with a panic, counted on that member only, within the
  // scenario's allowance (its first start and up to 3 restarts).
  ASSERT_TRUE(r.log_patterns.has_value());
  for (const checker::LogPatternCount& c : r.log_patterns->patterns) {
    if (c.pattern.name != "panic") continue;
    std::printf("panics: %lld (n2 %lld)\n", static_cast<long long>(c.count),
                static_cast<long long>(c.by_node.at("n2")));
    EXPECT_GE(c.by_node.at("n2"), 1);
    EXPECT_EQ(c.count, c.by_node.at("n2"));
    EXPECT_FALSE(c.exceeded());
  }
}

// The combined wave in miniature: a crash and a pause under the register workload, whose ops
// land in the drill's history log between the drill's own events and are checked.
constexpr const char* kWave = R"({
  "id": "TWAVE", "title": "crash and pause under the register workload", "category": "combined",
  "nodes": 3,
  "db_flags": {"pre_vote": true, "heartbeat_ms": 100, "election_ms": 1000, "snapshot_count": 10000},
  "steady_state": {"baseline_ms": 1000},
  "max_recovery_time_ms": 30000, "settle_window_ms": 1000, "observe_ms": 20000,
  "safeguards": {"restart": {"enabled": true, "initial_backoff_ms": 100}},
  "expected_safeguards": ["restart"],
  "workload": {"kind": "register", "concurrency": 3},
  "steps": [{"at_ms": 0, "fault": "crash", "targets": "n1"},
            {"at_ms": 2500, "fault": "pause", "targets": "n2", "duration_ms": 1000}]
})";

TEST_F(DrillTest, CombinedWaveChecksConsistencyInTheSameLog) {
  auto s = ParseScenario(kWave, "wave");
  ASSERT_TRUE(s) << s.error().message();
  ASSERT_NO_FATAL_FAILURE(Cluster(*s));
  char logs[] = "/tmp/faultline-dirt-wave-XXXXXX";
  ASSERT_NE(mkdtemp(logs), nullptr);
  DrillResult r = Drill(*s, std::nullopt, logs);
  for (const auto& e : r.events) {
    if (e.source == "check" || e.ok) continue;
    std::printf("  +%lld [%s] %s %s: %s\n", static_cast<long long>(e.offset_ms), e.source.c_str(),
                e.kind.c_str(), e.node.c_str(), e.detail.substr(0, 300).c_str());
  }
  ASSERT_TRUE(r.consistency.has_value()) << r.reason;
  std::printf("consistency: %s: %lld ops, %lld keys: %s\n%s\n",
              std::string(checker::ValidityName(r.consistency->validity)).c_str(),
              static_cast<long long>(r.consistency->ops),
              static_cast<long long>(r.consistency->keys), r.consistency->summary.c_str(),
              r.consistency->detail.c_str());
  EXPECT_EQ(r.consistency->validity, checker::Validity::kValid) << r.consistency->summary;
  EXPECT_GT(r.consistency->ops, 50);
  EXPECT_GT(r.consistency->keys, 0);
  EXPECT_EQ(r.verdict, Verdict::kPass) << r.reason;

  history::History h = ReadBack(r);
  // One log: client ops both before and after the first fault step's invocation.
  size_t step = history::History::kNone;
  size_t client_before = 0;
  size_t client_after = 0;
  for (size_t i = 0; i < h.size(); ++i) {
    if (step == history::History::kNone && h[i].process == history::Process::Nemesis() &&
        h[i].f == "crash") {
      step = i;
    }
    if (h[i].is_client()) ++(step == history::History::kNone ? client_before : client_after);
  }
  ASSERT_NE(step, history::History::kNone);
  EXPECT_GT(client_before, 0u);
  EXPECT_GT(client_after, 0u);
  EXPECT_FALSE(Completions(h, history::Process::Named("check"), "consistency").empty());

  // The artifacts carry the verdict and the log reference.
  Status st = WriteArtifacts(logs, "test", {r});
  ASSERT_TRUE(st) << st.error().message();
  std::ifstream in(std::filesystem::path(logs) / "incident-TWAVE.json");
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_NE(ss.str().find("\"consistency\""), std::string::npos);
  EXPECT_NE(ss.str().find(r.history_log->head), std::string::npos);
  std::filesystem::remove_all(logs);
}

}  // namespace
}  // namespace faultline::dirt
