// Tests of the run report (report/run_report.h). Three builds of this file:
// - plain: pages rendered from run directories this test writes (campaign-shaped, old-format,
//   drill-shaped, FIT / wave-shaped), a history file, the summary page, errors;
// - FAULTLINE_REPORT_BROWSER_TEST: the pages opened in headless Chromium (label `browser`);
// - FAULTLINE_REPORT_RUN_TEST: a real short campaign with faults and a real drill, each run by the
//   faultline binary, whose report.html is opened in Chromium (labels privileged slow browser).
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "checker/testing/chromium.h"
#include "report/run_report.h"
#include "report/testing/synthetic_run.h"

namespace faultline::report {
namespace {

namespace fs = std::filesystem;
using checker::browser::BodyTag;
using checker::browser::ConsoleErrors;
using checker::browser::Count;
using checker::browser::ReadAll;
using Json = nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

class RunReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "faultline-run-report-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (!dir_.empty() && !HasFailure()) fs::remove_all(dir_);
  }

  // A campaign-shaped run directory (testing/synthetic_run.h): `ops` client ops by 5 processes,
  // 2 ms apart, the faults given as (start_s, end_s), and results.json with a linearizable checker
  // naming op `stale_op` and 2 counted stale reads.
  fs::path WriteCampaignDir(const std::string& name, int ops,
                            const std::vector<std::pair<double, double>>& faults,
                            bool with_anomaly_fields, int64_t stale_op = 40) {
    fs::path d = dir_ / name;
    testing::WriteSyntheticRun(d, {.ops = ops, .processes = 5, .keys = 4, .faults = faults});
    Json lin = {
        {"verdict", "invalid"},
        {"summary", "invalid (test)"},
        {"counterexample",
         {{"key", "\"k1\""},
          {"failing_op", {{"index", stale_op}, {"op", "read"}, {"completion", "ok read 1"}}},
          {"prefixes", Json::array({Json::array({stale_op - 4, stale_op - 2})})},
          {"explanation", "read() -> 1, but the register holds 0"}}},
        {"stale_reads_by_node",
         {{"n1", {{"count", 2}, {"example", fmt::format("op {} read k1 -> 1", stale_op)}}}}}};
    Json sanity = {{"valid", "valid"}, {"summary", "valid (test)"}, {"problems", Json::array()}};
    if (with_anomaly_fields) {
      lin["anomalies"] = {{"nonlinearizable", 1}, {"stale-read", 2}};
      sanity["anomalies"] = Json::object();
    }
    Json results = {{"valid", "invalid"},
                    {"seed", 7},
                    {"checkers", {{"linearizable", lin}, {"sanity", sanity}}},
                    {"config", {{"workload", "register"}, {"nemesis", "partition"}, {"seed", 7}}}};
    if (with_anomaly_fields) results["anomaly_count"] = 3;
    std::ofstream(d / "results.json") << results.dump(2);
    std::ofstream(d / "config.json") << results["config"].dump(2);
    return d;
  }

  fs::path dir_;
};

#if !defined(FAULTLINE_REPORT_BROWSER_TEST) && !defined(FAULTLINE_REPORT_RUN_TEST)

TEST_F(RunReportTest, CampaignPageHasOneCheckableElementPerFaultAndLinkPerAnomaly) {
  fs::path d = WriteCampaignDir("run", 2000, {{0.5, 1.2}, {2.0, 2.5}, {3.1, 3.3}}, true);
  ReportFigures fig;
  Result<std::string> html = RenderReport(d.string(), {}, &fig);
  ASSERT_TRUE(html) << html.error().message();
  EXPECT_EQ(fig.kind, "campaign");
  EXPECT_EQ(Count(*html, "data-fault=\""), 3u);
  EXPECT_THAT(*html,
              HasSubstr("data-fault=\"partition\" data-start-s=\"2.000\" data-end-s=\"2.500\""));
  EXPECT_EQ(Count(*html, "data-anomaly=\""), 3u);
  EXPECT_EQ(fig.anomaly_count, 3);
  EXPECT_EQ(fig.ops, 2000u);
  EXPECT_EQ(fig.points_drawn, 2000u + 1u) << "every op, plus the anomaly's ring";
  // The anomaly's own card with its op on a timeline, linked from the verdict.
  EXPECT_THAT(*html, HasSubstr("href=\"#anomaly-linearizable-nonlinearizable-1\""));
  EXPECT_THAT(*html, HasSubstr("id=\"anomaly-linearizable-nonlinearizable-1\""));
  EXPECT_THAT(*html, HasSubstr("<g class=\"op k focus\" data-op-index=\"40\""));
  EXPECT_THAT(*html, HasSubstr("read() -&gt; 1, but the register holds 0"));
  // Axes are labelled with units.
  EXPECT_THAT(*html, HasSubstr("time since the run started (s)"));
  EXPECT_THAT(*html, HasSubstr("latency (ms, log scale)"));
  EXPECT_THAT(*html, HasSubstr("completions per second"));
  // Nothing is fetched: no URL but the SVG namespace.
  EXPECT_EQ(Count(*html, "://"), Count(*html, "http://www.w3.org/2000/svg"));
  EXPECT_THAT(*html, HasSubstr("Content-Security-Policy"));
}

TEST_F(RunReportTest, OldRunDirectoryWithoutAnomalyFieldsCountsFromTheCheckersJson) {
  fs::path d = WriteCampaignDir("old", 300, {{0.1, 0.2}}, false);
  ReportFigures fig;
  Result<std::string> html = RenderReport(d.string(), {}, &fig);
  ASSERT_TRUE(html) << html.error().message();
  EXPECT_EQ(fig.anomaly_count, 3) << "1 counterexample + 2 stale reads by node";
  EXPECT_EQ(Count(*html, "data-anomaly=\""), 3u);
  Result<int64_t> n = AnomalyCountOf(ReadAll(d / "results.json"));
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 3);
}

TEST_F(RunReportTest, LargeHistoryIsThinnedButKeepsTheAnomalyOps) {
  fs::path d = WriteCampaignDir("large", 100000, {{10, 20}, {50, 60}}, true, 150000);
  ReportFigures fig;
  ReportOptions options;
  options.max_points = 5000;
  Result<std::string> html = RenderReport(d.string(), options, &fig);
  ASSERT_TRUE(html) << html.error().message();
  EXPECT_LT(fig.points_drawn, 100000u);
  EXPECT_GT(fig.points_drawn, 100u);
  EXPECT_EQ(Count(*html, "class=\"anomaly-op\""), 1u) << "op 150000 is always drawn";
  EXPECT_THAT(*html, HasSubstr("points drawn (one per pixel and outcome"));
  EXPECT_EQ(Count(*html, "data-fault=\""), 2u);
}

TEST_F(RunReportTest, KnownInvalidHistoryFileGetsItsCounterexample) {
  ReportFigures fig;
  Result<std::string> html =
      RenderReport(std::string(FAULTLINE_SOURCE_DIR) + "/examples/stale-read.edn", {}, &fig);
  ASSERT_TRUE(html) << html.error().message();
  EXPECT_EQ(fig.kind, "history");
  EXPECT_EQ(fig.anomaly_count, 1);
  EXPECT_EQ(Count(*html, "data-anomaly=\""), 1u);
  EXPECT_EQ(Count(*html, "data-fault=\""), 0u);
  EXPECT_THAT(*html, HasSubstr("cannot be linearized"));
  EXPECT_THAT(*html, HasSubstr("class=\"op k focus\""));
}

TEST_F(RunReportTest, DrillFitAndWaveSectionsComeFromTheirFiles) {
  fs::path d = dir_ / "wave";
  fs::create_directories(d);
  Json incident = {
      {"scenario", "DIRT01"},
      {"title", "kill"},
      {"verdict", "pass"},
      {"times_ms", {{"detection", 400}, {"repair", 1000}, {"recovery", 2500}, {"limit", 30000}}},
      {"faults",
       Json::array({{{"offset_ms", 3000}, {"kind", "kill"}, {"node", "n1"}, {"ok", true}}})},
      {"events", Json::array({{{"offset_ms", 3000},
                               {"source", "fault"},
                               {"kind", "kill"},
                               {"node", "n1"},
                               {"detail", "SIGKILL"},
                               {"ok", true}},
                              {{"offset_ms", 4000},
                               {"source", "safeguard"},
                               {"kind", "restart"},
                               {"node", "n1"},
                               {"detail", "restarted"},
                               {"ok", true}}})},
      {"probes",
       Json::array({{{"offset_ms", 0}, {"steady", true}, {"throughput_percent", 100}},
                    {{"offset_ms", 500}, {"steady", false}, {"throughput_percent", 20}}})},
      {"siege", Json::array({"cpu: target 80% achieved 78.5%"})}};
  std::ofstream(d / "incident-DIRT01.json") << incident.dump();
  std::ofstream(d / "test_summary.json")
      << Json{{"scenarios", Json::array({{{"verdict", "pass"}}})}}.dump();
  // fit/'s kpi-timeline.jsonl: one line per second and group.
  std::ofstream(d / "kpi-timeline.jsonl")
      << R"({"second":0,"group":"control","success_rate":1,"p50_ms":2,"p99_ms":5,"rps":50})"
      << "\n"
      << R"({"second":0,"group":"experiment","success_rate":0.8,"p50_ms":2,"p99_ms":9,"rps":50})"
      << "\n"
      << R"({"second":1,"group":"control","success_rate":1,"p50_ms":2,"p99_ms":5,"rps":50})"
      << "\n"
      << R"({"second":1,"group":"experiment","success_rate":0.7,"p50_ms":2,"p99_ms":9,"rps":50})"
      << "\n";
  Json fit = {
      {"hypothesis", "aborted"},
      {"kpis", {{"control", {{"success_rate", 1.0}}}, {"experiment", {{"success_rate", 0.75}}}}},
      {"abort", {{"tripped_at_ms", 1500}, {"kpi", "success_rate"}, {"faults_removed_ms", 12}}},
      {"timeline", "kpi-timeline.jsonl"}};
  Json results = {
      {"verdict", "invalid"},
      {"parts",
       {{"campaign", {{"valid", "valid"}, {"checkers", Json::object()}}},
        {"drill", {{"passed", true}, {"recovery_ms", 2500}, {"limit_ms", 30000}}},
        {"fit", fit}}},
      // Where the parts touched, on the wave's time axis: its fault windows.
      {"touch",
       {{"recovery",
         {{"recovery", {{"start_s", 3.0}, {"end_s", 5.5}, {"what", "drill fault"}}},
          {"fit_faults",
           Json::array({{{"start_s", 1.0}, {"end_s", 2.5}, {"what", "fit toxic http_status"}}})},
          {"campaign_faults",
           Json::array({{{"start_s", 4.0}, {"end_s", 6.0}, {"what", "partition halves"}},
                        {{"start_s", 8.0}, {"end_s", 9.0}, {"what", "kill n2"}}})}}}}}};
  std::ofstream(d / "results.json") << results.dump();
  ReportFigures fig;
  Result<std::string> html = RenderReport(d.string(), {}, &fig);
  ASSERT_TRUE(html) << html.error().message();
  EXPECT_EQ(fig.kind, "wave");
  EXPECT_THAT(*html, HasSubstr("id=\"wave\""));
  EXPECT_THAT(*html, HasSubstr("id=\"drill-DIRT01\""));
  EXPECT_THAT(*html, HasSubstr("recovered +2.5 s"));
  EXPECT_THAT(*html, HasSubstr("cpu: target 80% achieved 78.5%"));
  EXPECT_THAT(*html, HasSubstr("id=\"fit\""));
  EXPECT_THAT(*html, HasSubstr("Aborted</b> at 1.50 s on success_rate"));
  EXPECT_THAT(*html, HasSubstr("throughput (% of baseline)"));
  EXPECT_EQ(fig.anomaly_count, 0);
  // Two campaign faults, one FIT toxic and the drill's fault, each shaded once.
  EXPECT_EQ(fig.fault_windows, 4u);
  EXPECT_THAT(*html, HasSubstr("data-fault=\"partition\""));
  EXPECT_THAT(*html, HasSubstr("data-fault=\"fit-toxic\""));
  EXPECT_THAT(*html, HasSubstr("data-fault=\"drill\""));
  // The drill's plots are on the wave's axis too.
  EXPECT_THAT(*html, HasSubstr("time since the wave started (s)"));
  EXPECT_THAT(*html, Not(HasSubstr("time since the drill started (s)")));
}

TEST_F(RunReportTest, FitRunShadesItsToxicsAndDrawsBothGroups) {
  fs::path d = dir_ / "fit";
  fs::create_directories(d);
  std::ofstream(d / "kpi-timeline.jsonl")
      << R"({"second":0,"group":"control","success_rate":1,"p99_ms":5,"rps":50})"
      << "\n"
      << R"({"second":0,"group":"experiment","success_rate":0.8,"p99_ms":6,"rps":50})"
      << "\n";
  Json results = {
      {"scenario", "FIT02"},
      {"source", "scenarios/FIT02.json"},
      {"hypothesis", "refuted"},
      {"kpis", {{"control", {{"success_rate", 1.0}}}, {"experiment", {{"success_rate", 0.8}}}}},
      {"load", {{"measured_s", 6}}},
      {"faults", Json::array({{{"type", "http_status"},
                               {"share", 0.2},
                               {"group", "experiment"},
                               {"start_ms", 1000},
                               {"end_ms", nullptr}}})},
      {"abort", nullptr},
      {"timeline", "kpi-timeline.jsonl"}};
  std::ofstream(d / "results.json") << results.dump();
  ReportFigures fig;
  Result<std::string> html = RenderReport(d.string(), {}, &fig);
  ASSERT_TRUE(html) << html.error().message();
  EXPECT_EQ(fig.kind, "fit");
  EXPECT_EQ(Count(*html, "data-fault=\""), 1u);
  EXPECT_THAT(*html,
              HasSubstr("data-fault=\"http_status\" data-start-s=\"1.000\" data-end-s=\"6.000\""));
  EXPECT_THAT(*html, HasSubstr("http_status 20% of experiment"));
  EXPECT_THAT(*html, HasSubstr("faultline fit run scenarios/FIT02.json"));
  EXPECT_EQ(Count(*html, "stroke:#c62828\" points=\""), 3u) << "the experiment on each KPI plot";
}

TEST_F(RunReportTest, SummaryPageCountsRunsAndGivesRerunCommands) {
  fs::path a = WriteCampaignDir("a", 50, {}, true);
  fs::path b = dir_ / "b";
  fs::create_directories(b);
  std::ofstream(b / "results.json")
      << R"({"valid":"valid","seed":8,"checkers":{"linearizable":{"verdict":"valid","summary":"valid"}}})";
  Result<std::string> page =
      RenderSummaryPage({a.string(), b.string()}, "faultline campaign --test-count 2");
  ASSERT_TRUE(page) << page.error().message();
  EXPECT_THAT(*page, HasSubstr("found in 1 of 2"));
  EXPECT_THAT(*page, HasSubstr("invalid in 1 of 2"));
  EXPECT_EQ(Count(*page, "class=\"rerun\""), 1u);
  EXPECT_THAT(*page, HasSubstr("faultline campaign --config " + (a / "config.json").string() +
                               " --test-count 1"));
  Result<std::string> text = RenderSummaryText({a.string(), b.string()});
  ASSERT_TRUE(text);
  EXPECT_THAT(*text, HasSubstr("anomalies found in 1 of 2 runs"));
}

TEST_F(RunReportTest, ErrorsNameWhatWasExpected) {
  Result<std::string> none = RenderReport((dir_ / "missing").string(), {});
  ASSERT_FALSE(none);
  EXPECT_THAT(none.error().message(), HasSubstr("no such run directory or history file"));
  fs::create_directories(dir_ / "empty");
  Result<std::string> empty = RenderReport((dir_ / "empty").string(), {});
  ASSERT_FALSE(empty);
  EXPECT_THAT(empty.error().message(), HasSubstr("expected a run directory"));
}

#endif

#if defined(FAULTLINE_REPORT_BROWSER_TEST) || defined(FAULTLINE_REPORT_RUN_TEST)

// Opens `page` in Chromium: the DOM after load, then a screenshot. Checks what every report must
// satisfy and returns the DOM.
std::string OpenInChromium(const fs::path& dir, const fs::path& page, const std::string& name,
                           int64_t want_faults, int64_t want_anomalies) {
  using checker::browser::RunChromium;
  EXPECT_TRUE(fs::exists(checker::browser::kChromium)) << "apt-get install chromium";
  EXPECT_EQ(RunChromium(dir, page, "--dump-dom --virtual-time-budget=3000", name + "-dom"), 0)
      << ReadAll(dir / (name + "-dom.err"));
  const std::string dom = ReadAll(dir / (name + "-dom.out"));
  const std::string body = BodyTag(dom);
  EXPECT_THAT(body, HasSubstr("data-ready=\"true\"")) << "the page's script did not run: " << body;
  EXPECT_THAT(body, Not(HasSubstr("data-js-error"))) << body;
  EXPECT_EQ(ConsoleErrors(ReadAll(dir / (name + "-dom.err"))), "") << "console errors or requests";
  EXPECT_EQ(static_cast<int64_t>(Count(dom, "data-fault=\"")), want_faults)
      << "one shaded window per fault interval";
  EXPECT_EQ(static_cast<int64_t>(Count(dom, "data-anomaly=\"")), want_anomalies)
      << "one link per anomaly";
  // The load event: at most 5 s after navigation.
  const size_t at = body.find("data-load-ms=\"");
  EXPECT_NE(at, std::string::npos) << body;
  if (at != std::string::npos) {
    EXPECT_LE(std::stol(body.substr(at + 14)), 5000) << body;
  }
  // No request leaves the page: nothing but the SVG namespace names a URL.
  const std::string html = ReadAll(page);
  EXPECT_EQ(Count(html, "://"), Count(html, "http://www.w3.org/2000/svg"));

  const fs::path shot = dir / (name + ".png");
  EXPECT_EQ(RunChromium(dir, page,
                        fmt::format("--screenshot='{}' --window-size=1240,1400 --hide-scrollbars",
                                    shot.string()),
                        name + "-shot"),
            0);
  const std::string png = ReadAll(shot);
  EXPECT_GE(png.size(), 24u);
  if (png.size() >= 24) {
    EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
    EXPECT_EQ(checker::browser::BigEndian32(png, 16), 1240u);
  }
  EXPECT_GT(png.size(), 40000u) << "a blank page compresses to far less";
  checker::browser::KeepScreenshot(shot);
  return dom;
}

#endif

#ifdef FAULTLINE_REPORT_BROWSER_TEST

TEST_F(RunReportTest, StaleReadHistoryPageInChromium) {
  const fs::path page = dir_ / "stale-read.html";
  Result<ReportFigures> fig =
      WriteReport(std::string(FAULTLINE_SOURCE_DIR) + "/examples/stale-read.edn", page.string());
  ASSERT_TRUE(fig) << fig.error().message();
  const std::string dom = OpenInChromium(dir_, page, "stale-read", 0, fig->anomaly_count);
  EXPECT_EQ(fig->anomaly_count, 1);
  EXPECT_THAT(dom, HasSubstr("cannot be linearized"));
}

TEST_F(RunReportTest, LargeCampaignPageLoadsInChromium) {
  fs::path d = WriteCampaignDir("large", 200000, {{10, 20}, {50, 60}, {100, 130}}, true, 250000);
  Result<ReportFigures> fig = WriteReport(d.string(), "");
  ASSERT_TRUE(fig) << fig.error().message();
  OpenInChromium(dir_, d / "report.html", "large", 3, 3);
}

#endif

#ifdef FAULTLINE_REPORT_RUN_TEST

// Runs the faultline binary; returns its exit status.
int Faultline(const std::string& args, const fs::path& log) {
  return WEXITSTATUS(
      std::system(fmt::format("{} {} >'{}' 2>&1", FAULTLINE_BINARY, args, log.string()).c_str()));
}

// A real short campaign with faults (serializable reads under isolation: stale reads, exit 1).
TEST_F(RunReportTest, RealCampaignReportInChromium) {
  ASSERT_EQ(geteuid(), 0u) << "needs root (network namespaces)";
  const int code =
      Faultline(fmt::format("campaign --read-mode serializable --nemesis isolate --isolate-node n3 "
                            "--fault-s 3 --heal-s 2 --time-limit 12 --seed 1 --quiet --out '{}'",
                            (dir_ / "runs").string()),
                dir_ / "campaign.log");
  ASSERT_TRUE(code == 0 || code == 1 || code == 2) << ReadAll(dir_ / "campaign.log");
  fs::path run;
  for (const auto& e : fs::directory_iterator(dir_ / "runs")) run = e.path();
  ASSERT_TRUE(fs::exists(run / "report.html")) << "written at the end of the run";
  const Json nemesis = Json::parse(ReadAll(run / "nemesis.json"));
  const Json results = Json::parse(ReadAll(run / "results.json"));
  ASSERT_TRUE(results.contains("anomaly_count"));
  const auto faults = static_cast<int64_t>(nemesis["faults"].size());
  EXPECT_GE(faults, 1);
  const std::string dom = OpenInChromium(dir_, run / "report.html", "campaign", faults,
                                         results["anomaly_count"].get<int64_t>());
  if (code == 1) {
    EXPECT_GT(results["anomaly_count"].get<int64_t>(), 0);
  }
  EXPECT_THAT(dom, HasSubstr("id=\"plot-latency\""));
  EXPECT_THAT(dom, HasSubstr("audit verify <span class=\"v-valid\">passed</span>"));
}

// A real drill: DIRT01 (process kill).
TEST_F(RunReportTest, RealDrillReportInChromium) {
  ASSERT_EQ(geteuid(), 0u) << "needs root (network namespaces)";
  const fs::path out = dir_ / "drill";
  const int code =
      Faultline(fmt::format("dirt run '{}/scenarios/DIRT01-process-kill.json' --out '{}'",
                            FAULTLINE_SOURCE_DIR, out.string()),
                dir_ / "drill.log");
  ASSERT_NE(code, 3) << ReadAll(dir_ / "drill.log");
  ASSERT_TRUE(fs::exists(out / "report.html")) << ReadAll(dir_ / "drill.log");
  int64_t faults = 0;
  for (const auto& e : fs::directory_iterator(out)) {
    const std::string name = e.path().filename().string();
    if (!name.starts_with("incident-")) continue;
    // One window per fault; the events that only end one (siege-stop, resume) are not windows.
    const Json incident = Json::parse(ReadAll(e.path()));
    for (const Json& f : incident["faults"]) {
      const std::string kind = f["kind"].get<std::string>();
      if (!kind.ends_with("-stop") && kind != "resume") ++faults;
    }
  }
  EXPECT_GE(faults, 1);
  const std::string dom = OpenInChromium(dir_, out / "report.html", "drill", faults, 0);
  EXPECT_THAT(dom, HasSubstr("id=\"drill-DIRT01\""));
  EXPECT_THAT(dom, HasSubstr("throughput (% of baseline)"));
}

#endif

}  // namespace
}  // namespace faultline::report
