// Privileged and slow: the shipped scenarios FIT01/02/03 run from the built faultline binary on a
// local etcd cluster each run brings up and tears down (own name and state dir), and their
// hypotheses come out as the issue states; each also counts the node-log patterns into
// results.json and writes a JUnit file that parses. Run under the cluster lock (RESOURCE_LOCK
// etcd_cluster).
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "cluster/cluster.h"
#include "common/file.h"
#include "common/process.h"

namespace faultline::fit {
namespace {

struct Case {
  std::string file;
  std::string hypothesis;
  int exit_code;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.file; }

class FitCli : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() / fmt::format("fit_cli_{}", getpid());
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
    name_ = fmt::format("ft{}", getpid() % 100000);
  }
  void TearDown() override {
    // The run tears its cluster down; one left behind (a crash) is removed here and fails.
    if (cluster::Load(name_, (root_ / "state").string())) {
      ADD_FAILURE() << "cluster " << name_ << " was left up";
      (void)cluster::Down(name_, (root_ / "state").string());
    }
    std::filesystem::remove_all(root_);
  }

  std::filesystem::path root_;
  std::string name_;
};

TEST_P(FitCli, HypothesisAsStated) {
  const Case& c = GetParam();
  const std::string out = (root_ / "out").string();
  const std::string junit = (root_ / "fit.xml").string();
  // A pattern every etcd start logs, allowed without a maximum: it must be counted, and the run
  // must not fail over it.
  auto run = RunProcess(
      {FAULTLINE_BIN, "fit", "run", std::string(FAULTLINE_SOURCE_DIR) + "/scenarios/" + c.file,
       "--out", out, "--name", name_, "--nodes", "3", "--state-dir", (root_ / "state").string(),
       "--junit", junit, "--log-pattern", "any-line=.", "--log-pattern-max", "data-race=0"},
      {.timeout = std::chrono::seconds(90)});
  ASSERT_TRUE(run) << run.error().message();
  EXPECT_EQ(run->exit_code, c.exit_code) << run->out << run->err;
  auto text = ReadFile(out + "/results.json");
  ASSERT_TRUE(text) << run->err;
  const auto r = nlohmann::json::parse(*text);
  EXPECT_EQ(r["hypothesis"], c.hypothesis) << r.dump(2);
  // Every node's log was scanned over the run: "any-line" has an entry (maybe 0) per node, and no
  // built-in with a maximum was crossed.
  ASSERT_TRUE(r.contains("log_patterns")) << r.dump(2);
  EXPECT_EQ(r["log_patterns_exceeded"], false) << r["log_patterns"].dump(2);
  EXPECT_EQ(r["log_patterns"]["any-line"]["by_node"].size(), 3u) << r["log_patterns"].dump(2);
  EXPECT_EQ(r["log_patterns"]["panic"]["count"], 0);
  // The JUnit file parses; one case per hypothesis KPI, the abort rule and the log patterns.
  boost::property_tree::ptree xml;
  ASSERT_NO_THROW(boost::property_tree::read_xml(junit, xml)) << ReadFile(junit).value_or("");
  const auto& suite = xml.get_child("testsuites.testsuite");
  EXPECT_EQ(suite.get<size_t>("<xmlattr>.tests"), r["tests"].size() + 2);
  EXPECT_EQ(suite.get<int>("<xmlattr>.failures") > 0, c.exit_code == 1)
      << ReadFile(junit).value_or("");
  const auto& control = r["kpis"]["control"];
  const auto& experiment = r["kpis"]["experiment"];
  for (const char* k : {"success_rate", "p50_ms", "p99_ms", "rps"}) {
    EXPECT_TRUE(control.contains(k) && experiment.contains(k)) << k;
  }
  // Equal groups: the same requests were due for both.
  EXPECT_EQ(control["requests"], experiment["requests"]);
  // The control never sees a toxic: etcd answers it.
  EXPECT_GE(control["success_rate"].get<double>(), 0.99) << r.dump(2);
  EXPECT_EQ(r["toxics_left"].get<int>(), 0);
  const double drop = -r["deltas"]["success_rate_points"].get<double>();
  if (c.hypothesis == "held") {
    EXPECT_LT(drop, 1);
    EXPECT_TRUE(r["faults"].empty());
  }
  if (c.hypothesis == "refuted") {
    // 503 on 0.2 of the reads, reads 19 of 20 requests: about 19 points.
    EXPECT_NEAR(drop, 19, 5) << r.dump(2);
    EXPECT_EQ(r["tests"][0]["kpi"], "success_rate");
    EXPECT_EQ(r["tests"][0]["decision"], "beyond");
  }
  if (c.hypothesis == "aborted") {
    const auto& a = r["abort"];
    ASSERT_TRUE(a.is_object()) << r.dump(2);
    EXPECT_EQ(a["kpi"], "success_rate");
    EXPECT_LE(a["faults_removed_ms"].get<double>(), 100);
    EXPECT_GE(a["tripped_at_ms"].get<std::int64_t>() - a["beyond_since_ms"].get<std::int64_t>(),
              1000);
    EXPECT_GE(a["tripped_at_ms"].get<std::int64_t>(), 2000);  // the fault starts at 2 s
    EXPECT_EQ(r["faults"][0]["removed_by"], "abort");
    EXPECT_EQ(r["faults"][0]["end_ms"], a["tripped_at_ms"]);
  }
  // The timeline and the event log beside results.json.
  auto timeline = ReadFile(out + "/kpi-timeline.jsonl");
  ASSERT_TRUE(timeline);
  EXPECT_GE(std::count(timeline->begin(), timeline->end(), '\n'), 4);
  auto verify =
      RunProcess({FAULTLINE_BIN, "audit", "verify",
                  fmt::format("{}/history-{}.log", out, r["scenario"].get<std::string>())});
  ASSERT_TRUE(verify);
  EXPECT_EQ(verify->exit_code, 0) << verify->out << verify->err;
}

INSTANTIATE_TEST_SUITE_P(Shipped, FitCli,
                         ::testing::Values(Case{"FIT01-no-fault.json", "held", 0},
                                           Case{"FIT02-read-errors.json", "refuted", 1},
                                           Case{"FIT03-abort.json", "aborted", 1}),
                         [](const ::testing::TestParamInfo<Case>& p) {
                           return p.param.file.substr(0, 5);
                         });

}  // namespace
}  // namespace faultline::fit
