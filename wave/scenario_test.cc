#include "wave/scenario.h"

#include <gtest/gtest.h>

#include <string>

namespace faultline::wave {
namespace {

const std::string kScenarios = std::string(FAULTLINE_SOURCE_DIR) + "/scenarios";

TEST(WaveScenarioTest, ShippedWave01ParsesWithItsThreeParts) {
  Result<Scenario> s = LoadScenario(kScenarios + "/WAVE01-register-kill-latency.json");
  ASSERT_TRUE(s.has_value()) << s.error().message();
  EXPECT_EQ(s->id, "WAVE01");
  EXPECT_EQ(s->drill.id, "DIRT01");
  EXPECT_EQ(s->drill.nodes, 5);
  EXPECT_EQ(s->campaign.nodes, 5);
  EXPECT_EQ(s->campaign.workload, runner::Workload::kRegister);
  ASSERT_EQ(s->campaign.nemesis.size(), 1u);
  EXPECT_EQ(s->campaign.nemesis[0], nemesis::FaultKind::kPartition);
  ASSERT_EQ(s->fit.faults.size(), 1u);
  EXPECT_DOUBLE_EQ(s->fit.faults[0].toxic.toxicity, 0.3);
  EXPECT_EQ(s->start.fit, std::chrono::milliseconds(1000));
  // The shipped wave fits CI: every part's own time well under the 180 s bound.
  EXPECT_LE(s->campaign.time_limit_s, 60);
  EXPECT_LE(s->fit.duration, std::chrono::seconds(60));
}

nlohmann::json Minimal() {
  return nlohmann::json::parse(R"({
    "id": "W", "title": "t", "drill": "DIRT01-process-kill.json",
    "campaign": {"nemesis": ["partition"], "time_limit": 5},
    "fit": {"id": "F", "title": "f", "rate": 10, "duration_s": 2,
            "requests": [{"name": "r", "method": "GET", "path": "/health"}],
            "hypothesis": {"success_rate": {"max_drop_points": 1}}}})");
}

std::string ErrorOf(const nlohmann::json& j) {
  Result<Scenario> s = ParseScenario(j, "w.json", kScenarios);
  return s ? std::string("(parsed)") : s.error().message();
}

TEST(WaveScenarioTest, MinimalParses) {
  Result<Scenario> s = ParseScenario(Minimal(), "w.json", kScenarios);
  ASSERT_TRUE(s.has_value()) << s.error().message();
  EXPECT_EQ(s->start.drill.count(), 0);
}

TEST(WaveScenarioTest, ErrorsNameTheField) {
  nlohmann::json j = Minimal();
  j["colour"] = 1;
  EXPECT_NE(ErrorOf(j).find("w.json: colour: unknown key"), std::string::npos) << ErrorOf(j);

  j = Minimal();
  j.erase("fit");
  EXPECT_NE(ErrorOf(j).find("w.json: fit: missing"), std::string::npos) << ErrorOf(j);

  j = Minimal();
  j["campaign"]["nodes"] = 3;
  EXPECT_NE(ErrorOf(j).find("w.json: campaign.nodes: set by the wave"), std::string::npos)
      << ErrorOf(j);

  j = Minimal();
  j["campaign"]["workload"] = "set";
  EXPECT_NE(ErrorOf(j).find("campaign.workload"), std::string::npos) << ErrorOf(j);

  j = Minimal();
  j["campaign"]["time_limt"] = 5;
  EXPECT_NE(ErrorOf(j).find("w.json: campaign:"), std::string::npos) << ErrorOf(j);

  j = Minimal();
  j["drill"] = "no-such-file.json";
  EXPECT_NE(ErrorOf(j).find("w.json: drill:"), std::string::npos) << ErrorOf(j);

  j = Minimal();
  j["start_ms"] = {{"fit", -1}};
  EXPECT_NE(ErrorOf(j).find("w.json: start_ms.fit: expected an integer"), std::string::npos)
      << ErrorOf(j);

  j = Minimal();
  j["start_ms"] = {{"proxy", 1}};
  EXPECT_NE(ErrorOf(j).find("start_ms.proxy: unknown part"), std::string::npos) << ErrorOf(j);
}

TEST(WaveScenarioTest, ADrillWithItsOwnWorkloadIsRejected) {
  nlohmann::json j = Minimal();
  j["drill"] = "DIRT04-combined-wave.json";  // runs the register workload itself
  EXPECT_NE(ErrorOf(j).find("in a wave the campaign is the workload"), std::string::npos)
      << ErrorOf(j);
}

TEST(WaveScenarioTest, AFitPartWithABadFieldSaysWhere) {
  nlohmann::json j = Minimal();
  j["fit"]["rate"] = "fast";
  const std::string e = ErrorOf(j);
  EXPECT_NE(e.find("w.json: fit"), std::string::npos) << e;
  EXPECT_NE(e.find("rate"), std::string::npos) << e;
}

}  // namespace
}  // namespace faultline::wave
