#include "dirt/scenario.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

namespace faultline::dirt {
namespace {

const char* kGood = R"({
  "id": "T1", "title": "t", "severity": "high", "category": "process",
  "db_flags": {"pre_vote": true, "heartbeat_ms": 100, "election_ms": 1000, "snapshot_count": 100},
  "steady_state": {"min_throughput_percent": 50},
  "max_recovery_time_ms": 10000, "settle_window_ms": 1500,
  "safeguards": {"restart": {"enabled": true, "max_restarts": 3}},
  "expected_safeguards": ["restart"],
  "steps": [
    {"at_ms": 500, "fault": "pause", "targets": "n4", "duration_ms": 1000},
    {"at_ms": 0, "fault": "crash", "targets": "n1,n2"}
  ]
})";

TEST(ScenarioTest, ParsesAndSortsSteps) {
  auto s = ParseScenario(kGood, "good.json");
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->id, "T1");
  EXPECT_EQ(s->db.snapshot_count, 100);
  EXPECT_EQ(s->settle_window.count(), 1500);
  EXPECT_EQ(s->restart.max_restarts, 3);
  ASSERT_EQ(s->steps.size(), 2u);
  EXPECT_EQ(s->steps[0].spec.kind, FaultKind::kCrash);
  EXPECT_EQ(s->steps[0].spec.targets, "n1,n2");
  EXPECT_EQ(s->steps[1].spec.duration.count(), 1000);
  EXPECT_DOUBLE_EQ(s->steady_state.min_throughput_percent, 50);
}

struct BadCase {
  std::string name;
  std::string from;  // text in kGood to replace
  std::string to;
  std::string expect;  // substring of the error
};

void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

class ScenarioErrorTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(ScenarioErrorTest, NamesTheField) {
  const BadCase& c = GetParam();
  std::string text = kGood;
  size_t at = text.find(c.from);
  ASSERT_NE(at, std::string::npos) << c.from;
  text.replace(at, c.from.size(), c.to);
  auto s = ParseScenario(text, "bad.json");
  ASSERT_FALSE(s) << "parsed: " << text;
  EXPECT_EQ(s.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(s.error().message().find(c.expect), std::string::npos) << s.error().message();
  EXPECT_NE(s.error().message().find("bad.json"), std::string::npos) << s.error().message();
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ScenarioErrorTest,
    ::testing::Values(
        BadCase{"NotJson", "\"id\": \"T1\",", "\"id\": \"T1\",,", "not JSON"},
        BadCase{"MissingId", "\"id\": \"T1\",", "", "field \"id\": missing"},
        BadCase{"UnknownField", "\"title\": \"t\"", "\"titel\": \"t\"", "field \"titel\": unknown"},
        BadCase{"FlagsNotPinned", ", \"snapshot_count\": 100", "",
                "db_flags.snapshot_count\": missing"},
        BadCase{"ElectionTooShort", "\"election_ms\": 1000", "\"election_ms\": 200",
                "at least 5 x heartbeat_ms"},
        BadCase{"UnknownFault", "\"fault\": \"crash\"", "\"fault\": \"explode\"",
                "steps[1].fault\": \"explode\" is not a fault"},
        BadCase{"NegativeAt", "\"at_ms\": 0", "\"at_ms\": -5",
                "steps[1].at_ms\": -5 is out of range"},
        BadCase{"ExpectedButOff", "\"enabled\": true", "\"enabled\": false",
                "\"restart\" is expected but safeguards.restart.enabled is false"},
        BadCase{"SiegeWithoutTargets", "\"fault\": \"pause\"", "\"fault\": \"siege\"",
                "needs cpu_percent, memory_mb or disk_ops"},
        BadCase{"WrongType", "\"max_recovery_time_ms\": 10000",
                "\"max_recovery_time_ms\": \"10 s\"",
                "max_recovery_time_ms\": expected an integer"},
        BadCase{"BadSeverity", "\"severity\": \"high\"", "\"severity\": \"huge\"",
                "is not critical, high, medium or low"},
        BadCase{"BadWorkloadKind", "\"title\": \"t\"",
                "\"title\": \"t\", \"workload\": {\"kind\": \"set\"}",
                "workload.kind\": \"set\" is not a drill workload"},
        BadCase{"WorkloadUnknownField", "\"title\": \"t\"",
                "\"title\": \"t\", \"workload\": {\"workers\": 3}", "workload.workers\": unknown"},
        BadCase{"LogPatternMaxNotACount", "\"title\": \"t\"",
                "\"title\": \"t\", \"log_pattern_max\": {\"panic\": -1}",
                "log_pattern_max.panic\": expected a count"},
        BadCase{"LogPatternMaxUnknownName", "\"title\": \"t\"",
                "\"title\": \"t\", \"log_pattern_max\": {\"oops\": 1}", "no pattern named oops"},
        BadCase{"LogPatternBadRegex", "\"title\": \"t\"",
                "\"title\": \"t\", \"log_patterns\": {\"x\": \"(\"}",
                "log pattern x: regex '(' does not compile"}),
    [](const ::testing::TestParamInfo<BadCase>& p) { return p.param.name; });

TEST(ScenarioTest, WorkloadAsFlagOrObject) {
  auto off = ParseScenario(kGood, "good.json");
  ASSERT_TRUE(off) << off.error().message();
  EXPECT_FALSE(off->workload.enabled);
  std::string text = kGood;
  text.replace(text.find("\"title\": \"t\""), 12, "\"title\": \"t\", \"workload\": true");
  auto flag = ParseScenario(text, "flag.json");
  ASSERT_TRUE(flag) << flag.error().message();
  EXPECT_TRUE(flag->workload.enabled);
  EXPECT_EQ(flag->workload.kind, "register");
  text = kGood;
  text.replace(text.find("\"title\": \"t\""), 12,
               "\"title\": \"t\", \"workload\": {\"kind\": \"register\", \"concurrency\": 3, "
               "\"rate\": 50}");
  auto obj = ParseScenario(text, "obj.json");
  ASSERT_TRUE(obj) << obj.error().message();
  EXPECT_TRUE(obj->workload.enabled);
  EXPECT_EQ(obj->workload.concurrency, 3);
  EXPECT_DOUBLE_EQ(obj->workload.rate, 50);
}

TEST(ScenarioTest, LogPatternsInTheFlagsForm) {
  std::string text = kGood;
  text.replace(text.find("\"title\": \"t\""), 12,
               "\"title\": \"t\", \"log_patterns\": {\"slow\": \"took too long\"}, "
               "\"log_pattern_max\": {\"panic\": 4, \"slow\": \"unlimited\"}");
  auto s = ParseScenario(text, "lp.json");
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->log_patterns, std::vector<std::string>{"slow=took too long"});
  EXPECT_EQ(s->log_pattern_max, (std::vector<std::string>{"panic=4", "slow=unlimited"}));
  // The shipped corruption drills allow the corrupted member's panics on its data.
  auto d2 = LoadScenario(std::string(FAULTLINE_SOURCE_DIR) +
                         "/scenarios/DIRT02-snapshot-corruption.json");
  ASSERT_TRUE(d2) << d2.error().message();
  EXPECT_EQ(d2->log_pattern_max, std::vector<std::string>{"panic=4"});
}

TEST(ScenarioTest, CombinedWaveRunsTheRegisterWorkload) {
  auto s = LoadScenario(std::string(FAULTLINE_SOURCE_DIR) + "/scenarios/DIRT04-combined-wave.json");
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_TRUE(s->workload.enabled);
  EXPECT_EQ(s->workload.kind, "register");
}

TEST(ScenarioTest, ShippedScenariosParse) {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(FAULTLINE_SOURCE_DIR) / "scenarios";
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    // scenarios/ also holds FIT and wave scenarios, in their own formats.
    if (e.path().extension() != ".json" || !e.path().filename().string().starts_with("DIRT")) {
      continue;
    }
    auto s = LoadScenario(e.path().string());
    ASSERT_TRUE(s) << s.error().message();
    // Each step is a fault of the one vocabulary: its spec string reads back as the same spec.
    for (const Step& step : s->steps) {
      const std::string text = nemesis::FormatFaultSpec(step.spec);
      auto back = nemesis::ParseFaultSpec(text);
      ASSERT_TRUE(back) << e.path() << ": " << text << ": " << back.error().message();
      EXPECT_EQ(*back, step.spec) << text;
    }
    ++n;
  }
  EXPECT_GE(n, 4);
}

// The scenario format's error for an unknown fault is the one it always gave.
TEST(ScenarioTest, UnknownFaultNamesTheScenarioKinds) {
  std::string text = kGood;
  text.replace(text.find("\"pause\""), 7, "\"loss\"");
  auto s = ParseScenario(text, "bad.json");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message(),
            "scenario: bad.json: field \"steps[0].fault\": \"loss\" is not a fault (use crash, "
            "kill, start, pause, isolate, corrupt or siege)");
}

}  // namespace
}  // namespace faultline::dirt
