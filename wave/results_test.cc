#include "wave/results.h"

#include <gtest/gtest.h>

#include <vector>

#include "history/fields.h"
#include "history/history.h"
#include "wave/wave.h"

namespace faultline::wave {
namespace {

using history::Op;
using history::OpType;
using history::Process;
using history::Value;

// ---- exit-code ranking ----

struct RankCase {
  std::vector<int> codes;
  int worst;
};

void PrintTo(const RankCase& c, std::ostream* os) {
  *os << "codes";
  for (int code : c.codes) *os << "_" << code;
  *os << "_worst_" << c.worst;
}

class WorstExitCodeTest : public testing::TestWithParam<RankCase> {};

TEST_P(WorstExitCodeTest, RanksErrorThenInvalidThenUnknownThenValid) {
  EXPECT_EQ(WorstExitCode(GetParam().codes), GetParam().worst);
}

INSTANTIATE_TEST_SUITE_P(Table, WorstExitCodeTest,
                         testing::Values(RankCase{{}, 0}, RankCase{{0, 0, 0}, 0},
                                         RankCase{{0, 2, 0}, 2}, RankCase{{2, 1, 0}, 1},
                                         RankCase{{1, 2}, 1}, RankCase{{2, 2, 1}, 1},
                                         RankCase{{1, 3, 2}, 3}, RankCase{{3, 0}, 3},
                                         RankCase{{0, 7}, 3}, RankCase{{-1, 1}, 3}));

TEST(PartExitCodeTest, MapsEachPartsOutcome) {
  EXPECT_EQ(CampaignExitCode(checker::Validity::kValid), 0);
  EXPECT_EQ(CampaignExitCode(checker::Validity::kInvalid), 1);
  EXPECT_EQ(CampaignExitCode(checker::Validity::kUnknown), 2);
  EXPECT_EQ(DrillExitCode(dirt::Verdict::kPass), 0);
  EXPECT_EQ(DrillExitCode(dirt::Verdict::kFail), 1);     // limit missed
  EXPECT_EQ(DrillExitCode(dirt::Verdict::kInvalid), 1);  // "invalid"
  EXPECT_EQ(DrillExitCode(dirt::Verdict::kAborted), 1);  // "aborted"
  EXPECT_EQ(DrillExitCode(dirt::Verdict::kError), 3);
  EXPECT_EQ(FitExitCode(0), 0);  // held
  EXPECT_EQ(FitExitCode(1), 1);  // refuted or aborted
  EXPECT_EQ(FitExitCode(2), 2);  // inconclusive
  EXPECT_EQ(FitExitCode(3), 3);
  EXPECT_EQ(FitExitCode(-4), 3);
  EXPECT_EQ(VerdictName(0), "valid");
  EXPECT_EQ(VerdictName(1), "invalid");
  EXPECT_EQ(VerdictName(2), "unknown");
  EXPECT_EQ(VerdictName(3), "error");
}

// ---- results assembly ----

dirt::DrillResult Drill(dirt::Verdict verdict, std::optional<std::chrono::milliseconds> recovery) {
  dirt::DrillResult d;
  d.scenario_id = "DIRT01";
  d.verdict = verdict;
  d.reason = verdict == dirt::Verdict::kPass ? "recovered" : "late";
  d.recovery.recovery = recovery;
  d.recovery.limit = std::chrono::milliseconds(180000);
  d.safeguards_fired = {"restart"};
  return d;
}

Json CampaignResults(std::string_view valid) {
  return Json{{"valid", std::string(valid)},
              {"checkers", Json{{"linearizable",
                                 Json{{"valid", std::string(valid)}, {"summary", "12 keys"}}}}}};
}

TEST(AssembleResultsTest, AllValidIsValidWithEveryPart) {
  std::vector<PartResult> parts = {
      CampaignPart(CampaignResults("valid"), checker::Validity::kValid),
      DrillPart(Drill(dirt::Verdict::kPass, std::chrono::milliseconds(4200)),
                "drill/incident-DIRT01.json"),
      FitPart(Json{{"hypothesis", "held"}}, "held", 0)};
  const Json r =
      AssembleResults("WAVE01", "t", "s.json", parts, Json::object(), Json{{"duration_s", 12.5}});
  EXPECT_EQ(r["verdict"], "valid");
  EXPECT_EQ(r["exit_code"], 0);
  EXPECT_EQ(r["parts"]["campaign"]["valid"], "valid");
  EXPECT_TRUE(r["parts"]["campaign"]["checkers"].contains("linearizable"));
  EXPECT_EQ(r["parts"]["drill"]["passed"], true);
  EXPECT_EQ(r["parts"]["drill"]["recovery_ms"], 4200);
  EXPECT_EQ(r["parts"]["drill"]["limit_ms"], 180000);
  EXPECT_EQ(r["parts"]["fit"]["hypothesis"], "held");
  EXPECT_EQ(r["duration_s"], 12.5);
  ASSERT_EQ(r["reasons"].size(), 3u);
}

TEST(AssembleResultsTest, WorstPartDecidesAndLeadsTheReasons) {
  std::vector<PartResult> parts = {
      CampaignPart(CampaignResults("unknown"), checker::Validity::kUnknown),
      DrillPart(Drill(dirt::Verdict::kFail, std::nullopt), "drill/incident-DIRT01.json"),
      FitPart(Json{{"hypothesis", "inconclusive"}}, "inconclusive", 2)};
  const Json r = AssembleResults("WAVE01", "t", "s.json", parts, Json::object(), Json::object());
  EXPECT_EQ(r["verdict"], "invalid");
  EXPECT_EQ(r["exit_code"], 1);
  EXPECT_EQ(r["parts"]["drill"]["passed"], false);
  EXPECT_TRUE(r["parts"]["drill"]["recovery_ms"].is_null());
  EXPECT_EQ(r["reasons"][0].get<std::string>().rfind("drill (invalid)", 0), 0u)
      << r["reasons"].dump();
}

TEST(AssembleResultsTest, APartThatCouldNotRunIsAnErrorOverEverything) {
  std::vector<PartResult> parts = {
      CampaignPart(CampaignResults("invalid"), checker::Validity::kInvalid),
      DrillPart(Drill(dirt::Verdict::kPass, std::chrono::milliseconds(10)), "x"),
      ErrorPart("fit", "fit: proxies cannot listen")};
  const Json r = AssembleResults("W", "t", "s", parts, Json::object(), Json::object());
  EXPECT_EQ(r["verdict"], "error");
  EXPECT_EQ(r["exit_code"], 3);
  EXPECT_EQ(r["parts"]["fit"]["error"], "fit: proxies cannot listen");
  EXPECT_EQ(r["parts"]["campaign"]["valid"], "invalid");
}

checker::LogPatternReport NodeLogs(int panics, bool unread) {
  checker::LogPatternScanner scanner(checker::BuiltinLogPatterns());
  for (const char* n : {"n1", "n2", "n3"}) scanner.AddNode(n);
  for (int i = 0; i < panics; ++i) scanner.Feed("n3", "panic: runtime error");
  if (unread) scanner.Unread("n2", "no such file");
  return scanner.Report();
}

TEST(AssembleResultsTest, AnExceededLogPatternMakesAnAllValidWaveInvalid) {
  std::vector<PartResult> parts = {
      CampaignPart(CampaignResults("valid"), checker::Validity::kValid),
      DrillPart(Drill(dirt::Verdict::kPass, std::chrono::milliseconds(10)), "x"),
      FitPart(Json{{"hypothesis", "held"}}, "held", 0), LogPatternsPart(NodeLogs(0, false))};
  Json r = AssembleResults("W", "t", "s", parts, Json::object(), Json::object());
  EXPECT_EQ(r["verdict"], "valid");
  EXPECT_EQ(r["parts"]["log_patterns"]["validity"], "valid");

  parts.back() = LogPatternsPart(NodeLogs(2, false));
  r = AssembleResults("W", "t", "s", parts, Json::object(), Json::object());
  EXPECT_EQ(r["verdict"], "invalid");
  EXPECT_EQ(r["exit_code"], 1);
  EXPECT_EQ(r["parts"]["log_patterns"]["exceeded"], "log pattern panic: 2 > max 0");
  EXPECT_EQ(r["reasons"][0].get<std::string>().rfind("log_patterns (invalid)", 0), 0u)
      << r["reasons"].dump();

  parts.back() = LogPatternsPart(NodeLogs(0, true));
  r = AssembleResults("W", "t", "s", parts, Json::object(), Json::object());
  EXPECT_EQ(r["verdict"], "unknown");
  EXPECT_EQ(r["parts"]["log_patterns"]["unread"].size(), 1u);
}

TEST(WaveJUnitTest, LogPatternsAndErrorPartsAreSuites) {
  const JUnitSuite logs = LogPatternsSuite("WAVE01", NodeLogs(1, false));
  ASSERT_EQ(logs.cases.size(), 1u);
  EXPECT_EQ(logs.cases[0].name, "log-patterns");
  EXPECT_EQ(logs.cases[0].outcome, JUnitOutcome::kFailure);
  EXPECT_EQ(LogPatternsSuite("WAVE01", NodeLogs(0, false)).cases[0].outcome, JUnitOutcome::kPassed);
  const JUnitSuite error = ErrorPartSuite("WAVE01", ErrorPart("fit", "proxies cannot listen"));
  ASSERT_EQ(error.cases.size(), 1u);
  EXPECT_EQ(error.cases[0].outcome, JUnitOutcome::kError);
  EXPECT_EQ(error.cases[0].message, "error: proxies cannot listen");
}

TEST(AssembleResultsTest, RefutedFitWithValidOthersIsInvalid) {
  std::vector<PartResult> parts = {
      CampaignPart(CampaignResults("valid"), checker::Validity::kValid),
      DrillPart(Drill(dirt::Verdict::kPass, std::chrono::milliseconds(10)), "x"),
      FitPart(Json{{"hypothesis", "refuted"}}, "refuted", 1)};
  const Json r = AssembleResults("W", "t", "s", parts, Json::object(), Json::object());
  EXPECT_EQ(r["exit_code"], 1);
  EXPECT_NE(RenderText(r, "dir").find("verdict: INVALID"), std::string::npos);
}

// ---- where the parts touched ----

Op ClientOp(std::int64_t index, std::int64_t time_ms, OpType type, int process,
            std::string node = "") {
  Op op{.index = index,
        .time_ns = time_ms * 1000000,
        .type = type,
        .process = Process::Client(process),
        .f = "write",
        .key = Value::Int(1),
        .value = Value::Int(3),
        .error = std::nullopt,
        .extras = {}};
  if (!node.empty()) op.AddExtra(history::field::kNode, Value::String(node));
  return op;
}

Op NemesisOp(std::int64_t index, std::int64_t time_ms, std::string f) {
  return Op{.index = index,
            .time_ns = time_ms * 1000000,
            .type = OpType::kInfo,
            .process = Process::Nemesis(),
            .f = std::move(f),
            .key = std::nullopt,
            .value = Value::String("x"),
            .error = std::nullopt,
            .extras = {}};
}

history::History Build(std::vector<Op> ops) {
  auto h = history::History::Build(std::move(ops), history::Source{.name = "test", .lines = {}});
  EXPECT_TRUE(h.has_value());
  return std::move(*h);
}

TEST(OpsInFlightTest, CountsOpsSpanningTheKillByOutcomeAndNode) {
  // Kill window: 100..110 ms.
  const history::History h = Build({
      ClientOp(0, 10, OpType::kInvoke, 0),       // p0: done before the kill
      ClientOp(1, 20, OpType::kOk, 0, "n1"),     //
      ClientOp(2, 90, OpType::kInvoke, 1),       // p1: spans the kill, info from n1
      ClientOp(3, 95, OpType::kInvoke, 2),       // p2: spans, ok from n5
      ClientOp(4, 105, OpType::kInvoke, 3),      // p3: invoked during, never completed
      ClientOp(5, 300, OpType::kInfo, 1, "n1"),  //
      ClientOp(6, 120, OpType::kOk, 2, "n5"),    //
      ClientOp(7, 200, OpType::kInvoke, 0),      // p0: after the kill
      ClientOp(8, 210, OpType::kOk, 0, "n2"),    //
  });
  const Json j =
      OpsInFlight(h, Window{.start_s = 0.100, .end_s = 0.110, .what = "crash"}, {"n1", "n2", "n3"});
  EXPECT_EQ(j["count"], 3);
  EXPECT_EQ(j["by_completion"]["info"], 1);
  EXPECT_EQ(j["by_completion"]["ok"], 1);
  EXPECT_EQ(j["by_completion"]["open"], 1);
  EXPECT_EQ(j["by_completion"]["fail"], 0);
  EXPECT_EQ(j["on_killed_nodes"], 1);
  EXPECT_EQ(j["examples"].size(), 3u);
}

TEST(OverlapTest, RecoveryAgainstFitAndCampaignWindows) {
  EXPECT_DOUBLE_EQ(
      OverlapMs({.start_s = 1, .end_s = 3, .what = ""}, {.start_s = 2, .end_s = 5, .what = ""}),
      1000.0);
  EXPECT_DOUBLE_EQ(
      OverlapMs({.start_s = 1, .end_s = 2, .what = ""}, {.start_s = 2, .end_s = 5, .what = ""}),
      0.0);
  const std::vector<Window> fit = {{.start_s = 0.5, .end_s = 20, .what = "latency"}};
  const std::vector<Window> campaign = {{.start_s = 6, .end_s = 9, .what = "partition"},
                                        {.start_s = 15, .end_s = 18, .what = "partition"}};
  const Json j = RecoveryTouch({.start_s = 3, .end_s = 10, .what = "r"}, true, fit, campaign);
  EXPECT_DOUBLE_EQ(j["fit_overlap_ms"].get<double>(), 7000.0);
  EXPECT_DOUBLE_EQ(j["campaign_overlap_ms"].get<double>(), 3000.0);
  EXPECT_EQ(j["measured_while_fit_faults_active"], true);
  const Json none = RecoveryTouch({.start_s = 30, .end_s = 31, .what = "r"}, true, fit, campaign);
  EXPECT_EQ(none["measured_while_fit_faults_active"], false);
}

Op ToxicOp(std::int64_t index, std::int64_t time_ms, std::string f, bool completion,
           std::string name) {
  Op op = NemesisOp(index, time_ms, std::move(f));
  if (completion) {
    op.value = Value::String("{\"name\":\"" + name + "\",\"type\":\"http_delay\"}");
    op.AddExtra(history::field::kSource, Value::String("schedule"));
  }
  return op;
}

TEST(FitFaultWindowsTest, FromFirstAddToLastRemovalPerToxic) {
  const history::History h = Build({
      ToxicOp(0, 1000, "toxic-add", false, "lat"),
      ToxicOp(1, 1001, "toxic-add", true, "lat"),
      ToxicOp(2, 1002, "toxic-add", false, "lat"),
      ToxicOp(3, 1003, "toxic-add", true, "lat"),
      ToxicOp(4, 9000, "toxic-remove", false, "lat"),
      ToxicOp(5, 9001, "toxic-remove", true, "lat"),
      ToxicOp(6, 9002, "toxic-remove", false, "lat"),
      ToxicOp(7, 9004, "toxic-remove", true, "lat"),
  });
  const std::vector<Window> w = FitFaultWindows(h);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_DOUBLE_EQ(w[0].start_s, 1.0);
  EXPECT_DOUBLE_EQ(w[0].end_s, 9.004);
}

TEST(CampaignHistoryTest, KeepsClientOpsAndTheCampaignsFaultsNotTheDrills) {
  Op drill_step = NemesisOp(2, 30, "crash");
  drill_step.AddExtra(history::field::kStep, Value::Int(0));
  Op drill_done = NemesisOp(3, 31, "crash");
  drill_done.AddExtra(history::field::kStep, Value::Int(0));
  drill_done.AddExtra(history::field::kSource, Value::String("fault"));
  Op drill_resume = NemesisOp(6, 60, "resume");
  Op drill_resume_done = NemesisOp(7, 61, "resume");
  drill_resume_done.AddExtra(history::field::kSource, Value::String("fault"));
  Op check = NemesisOp(8, 62, "baseline");
  check.process = Process::Named("check");
  Op check_done = check;
  check_done.index = 9;
  check_done.type = OpType::kOk;
  Op partition_done = NemesisOp(5, 41, "partition");
  partition_done.AddExtra(history::field::kOk, Value::Bool(true));
  const history::History all = Build({
      ClientOp(0, 10, OpType::kInvoke, 0),
      ClientOp(1, 20, OpType::kOk, 0, "n1"),
      drill_step,
      drill_done,
      NemesisOp(4, 40, "partition"),
      partition_done,
      drill_resume,
      drill_resume_done,
      check,
      check_done,
  });
  Result<history::History> c = CampaignHistory(all);
  ASSERT_TRUE(c.has_value()) << c.error().message();
  ASSERT_EQ(c->size(), 4u);
  EXPECT_EQ((*c)[0].index, 0);
  EXPECT_EQ((*c)[1].index, 1);
  EXPECT_EQ((*c)[2].f, "partition");
  EXPECT_EQ((*c)[3].f, "partition");
}

}  // namespace
}  // namespace faultline::wave
