// Whole FIT experiments against a loopback HTTP server (no root): the measured drop follows the
// configured share, a tiny share holds, an abort removes every toxic within 100 ms.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "fit/fit.h"
#include "history/audit.h"
#include "nemesis/ledger.h"
#include "nemesis/testing/loopback_http.h"

namespace faultline::fit {
namespace {

class FitExperiment : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("fit_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // GET /r/{key} 4 of 5, POST /echo 1 of 5; faults on the GETs.
  Scenario Make(double share, double seconds) {
    auto s = ParseScenario(nlohmann::json::parse(R"({
      "id": "T", "rate": 600, "duration_s": 2, "timeout_ms": 500, "seed": 5,
      "requests": [{"name": "get", "path": "/r/{key}", "weight": 4},
                   {"name": "put", "method": "POST", "path": "/echo", "body": "{value}"}],
      "faults": [{"type": "http_status", "share": 0.1,
                  "attributes": {"status": 503, "method": "GET", "path": "/r/*"}}],
      "hypothesis": {"success_rate": {"max_drop_points": 1}, "p99_ms": {"max_ratio": 5}}})"),
                           "test");
    EXPECT_TRUE(s) << s.error().message();
    s->faults[0].toxic.toxicity = share;
    s->duration = std::chrono::milliseconds(static_cast<int>(seconds * 1000));
    return *s;
  }

  Outcome Run(const Scenario& s, const std::string& sub, const Hooks& hooks = {}) {
    Target target{.upstreams = {server_.address()}, .base_path = "", .clients = {}};
    auto out = RunExperiment(s, target, dir_ / sub, hooks, std::stop_token{});
    EXPECT_TRUE(out) << out.error().message();
    return out ? *out : Outcome{};
  }

  nemesis::testing::LoopbackServer server_{nemesis::testing::LoopbackServer::Mode::kHttp};
  std::filesystem::path dir_;
};

double DropPoints(const Outcome& o) {
  return o.results["deltas"]["success_rate_points"].get<double>() * -1;
}

TEST_F(FitExperiment, MeasuredDropFollowsTheShare) {
  // GETs are ~80% of requests: a share s of them failing drops the success rate ~80*s points.
  Outcome low = Run(Make(0.1, 2.5), "low");
  Outcome high = Run(Make(0.4, 2.5), "high");
  EXPECT_NEAR(DropPoints(low), 8, 3.5);
  EXPECT_NEAR(DropPoints(high), 32, 5);
  EXPECT_EQ(low.hypothesis, "refuted");
  EXPECT_EQ(high.hypothesis, "refuted");
  EXPECT_EQ(high.exit_code, 1);
  // The control is untouched.
  EXPECT_EQ(high.results["kpis"]["control"]["success_rate"].get<double>(), 1.0);
  EXPECT_EQ(high.results["toxics_left"].get<int>(), 0);
  ASSERT_EQ(high.results["faults"].size(), 1u);
  EXPECT_EQ(high.results["faults"][0]["share"].get<double>(), 0.4);
  EXPECT_EQ(high.results["faults"][0]["removed_by"], "end");
}

TEST_F(FitExperiment, ToxicsGoThroughTheLedgerAndAreClosedAtTheEnd) {
  std::filesystem::create_directories(dir_);
  auto ledger = nemesis::Ledger::Open((dir_ / "nemesis.ledger").string());
  ASSERT_TRUE(ledger) << ledger.error().message();
  Outcome o =
      Run(Make(0.4, 1), "ledger", Hooks{.ledger = &*ledger, .log = nullptr, .progress = {}});
  EXPECT_EQ(o.hypothesis, "refuted") << o.results.dump(2);
  auto state = ledger->Read();
  ASSERT_TRUE(state) << state.error().message();
  EXPECT_TRUE(state->open.empty()) << state->open.size() << " toxic(s) left open";
  EXPECT_GE(state->records, 2u);  // the toxic's entry and its close
  std::ifstream file(dir_ / "nemesis.ledger");
  std::string text((std::istreambuf_iterator<char>(file)), {});
  EXPECT_NE(text.find("\"type\":\"toxic\""), std::string::npos) << text;
  EXPECT_NE(text.find("fit-experiment-n1"), std::string::npos) << text;
}

TEST_F(FitExperiment, TinyShareHolds) {
  Scenario s = Make(0.0005, 3);
  s.margins[0].limit = 2;
  Outcome o = Run(s, "tiny");
  EXPECT_EQ(o.hypothesis, "held") << o.results.dump(2);
  EXPECT_EQ(o.exit_code, 0);
  EXPECT_LT(DropPoints(o), 1);
}

TEST_F(FitExperiment, TooFewRequestsIsInconclusiveAndSaysHowManyMore) {
  // 1% of GETs failing against a 1-point margin with a few hundred requests: cannot tell.
  Scenario s = Make(0.012, 1);
  s.rate = 200;
  s.margins.resize(1);
  Outcome o = Run(s, "few");
  EXPECT_EQ(o.hypothesis, "inconclusive") << o.results.dump(2);
  EXPECT_EQ(o.exit_code, 2);
  ASSERT_TRUE(o.results.contains("more_requests_needed"));
  if (!o.results["more_requests_needed"].is_null()) {
    EXPECT_GT(o.results["more_requests_needed"].get<std::int64_t>(), 0);
  }
}

TEST_F(FitExperiment, AbortRemovesEveryToxicFast) {
  Scenario s = Make(0.6, 6);
  s.abort.push_back(
      {.bound = {.kpi = Kpi::kSuccessRate, .limit = 20}, .hold = std::chrono::milliseconds(300)});
  Outcome o = Run(s, "abort");
  ASSERT_EQ(o.hypothesis, "aborted") << o.results.dump(2);
  EXPECT_EQ(o.exit_code, 1);
  const auto& a = o.results["abort"];
  EXPECT_EQ(a["kpi"], "success_rate");
  EXPECT_LE(a["faults_removed_ms"].get<double>(), 100);
  EXPECT_GE(a["tripped_at_ms"].get<std::int64_t>() - a["beyond_since_ms"].get<std::int64_t>(), 300);
  // The load stopped early: far fewer than 6 s of requests.
  EXPECT_LT(o.results["kpis"]["control"]["requests"].get<std::int64_t>(), 6 * 300 / 2);
  EXPECT_EQ(o.results["faults"][0]["removed_by"], "abort");
  EXPECT_EQ(o.results["toxics_left"].get<int>(), 0);
  // Artifacts: the timeline and a sealed, intact event log.
  std::ifstream timeline(dir_ / "abort" / "kpi-timeline.jsonl");
  std::string line;
  ASSERT_TRUE(std::getline(timeline, line));
  auto first = nlohmann::json::parse(line);
  EXPECT_TRUE(first.contains("success_rate") && first.contains("p99_ms") && first.contains("rps"));
  std::ifstream log_file(dir_ / "abort" / "history-T.log");
  std::string log((std::istreambuf_iterator<char>(log_file)), {});
  EXPECT_NE(log.find("\"abort\""), std::string::npos);
  EXPECT_NE(log.find("toxic-remove"), std::string::npos);
}

TEST_F(FitExperiment, FaultWindowStartsAndEnds) {
  Scenario s = Make(1.0, 3);
  s.faults[0].start = std::chrono::milliseconds(1000);
  s.faults[0].duration = std::chrono::milliseconds(1000);
  Outcome o = Run(s, "window");
  const auto& f = o.results["faults"][0];
  EXPECT_NEAR(f["start_ms"].get<double>(), 1000, 60);
  EXPECT_NEAR(f["end_ms"].get<double>(), 2000, 60);
  EXPECT_EQ(f["removed_by"], "window");
  // About a third of the time every GET failed: ~80/3 points.
  EXPECT_NEAR(DropPoints(o), 80.0 / 3, 6);
}

}  // namespace
}  // namespace faultline::fit
