// The shipped WAVE01 from the built `faultline` binary, as root, on a cluster of its own (own name
// and state root): the drill, the campaign and the FIT experiment run together, and results.json
// must say so honestly, its verdict following from its parts.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/file.h"
#include "common/process.h"
#include "wave/results.h"

namespace faultline::wave {
namespace {

namespace fs = std::filesystem;

class WaveCliTest : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "needs root (network namespaces, the cluster supervisor)";
    root_ = fs::temp_directory_path() / fmt::format("faultline-wave-{}", ::getpid());
    fs::remove_all(root_);
    fs::create_directories(root_);
    name_ = fmt::format("wv{}", ::getpid() % 100000);
  }
  void TearDown() override {
    // The wave tears its cluster down itself; this only makes sure on a failed run.
    (void)RunProcess({FAULTLINE_BINARY, "cluster", "down", "--name", name_, "--state-dir",
                      (root_ / "state").string()},
                     {.timeout = std::chrono::seconds(60)});
    fs::remove_all(root_);
  }

  fs::path root_;
  std::string name_;
};

int CodeOf(const nlohmann::json& part, std::string_view name) {
  if (part.contains("error")) return kExitError;
  if (name == "campaign") {
    const std::string v = part["valid"].get<std::string>();
    return v == "valid" ? 0 : v == "invalid" ? 1 : 2;
  }
  if (name == "log_patterns") {
    const std::string v = part["validity"].get<std::string>();
    return v == "valid" ? 0 : v == "invalid" ? 1 : 2;
  }
  if (name == "drill") {
    const std::string v = part["verdict"].get<std::string>();
    return v == "PASS" ? 0 : v == "ERROR" ? 3 : 1;
  }
  return FitExitCode(part["exit_code"].get<int>());
}

TEST_F(WaveCliTest, Wave01RunsAllThreePartsOnOneClusterAndJudgesThemHonestly) {
  const fs::path out = root_ / "run";
  Result<ProcessOutput> run = RunProcess(
      {FAULTLINE_BINARY, "wave",
       std::string(FAULTLINE_SOURCE_DIR) + "/scenarios/WAVE01-register-kill-latency.json", "--out",
       out.string(), "--name", name_, "--state-dir", (root_ / "state").string(), "--junit",
       (root_ / "wave.xml").string()},
      {.timeout = std::chrono::seconds(200)});
  ASSERT_TRUE(run.has_value()) << run.error().message();
  Result<std::string> text = ReadFile((out / "results.json").string());
  ASSERT_TRUE(text.has_value()) << "no results.json; stdout:\n"
                                << run->out << "\nstderr:\n"
                                << run->err;
  const auto r = nlohmann::json::parse(*text);
  SCOPED_TRACE(run->out);

  // The verdict and the exit code follow from the parts, by the wave's ranking.
  const nlohmann::json& parts = r["parts"];
  ASSERT_TRUE(parts.contains("campaign") && parts.contains("drill") && parts.contains("fit") &&
              parts.contains("log_patterns"));
  const std::vector<int> codes = {CodeOf(parts["campaign"], "campaign"),
                                  CodeOf(parts["drill"], "drill"), CodeOf(parts["fit"], "fit"),
                                  CodeOf(parts["log_patterns"], "log_patterns")};
  EXPECT_EQ(r["exit_code"].get<int>(), WorstExitCode(codes));
  EXPECT_EQ(run->exit_code, r["exit_code"].get<int>());
  EXPECT_EQ(r["verdict"].get<std::string>(), VerdictName(WorstExitCode(codes)));

  // Campaign: the campaign's results.json, checked for linearizability, its partitions applied.
  const nlohmann::json& c = parts["campaign"];
  EXPECT_EQ(c["valid"], "valid") << c.dump(2).substr(0, 4000);
  EXPECT_TRUE(c["checkers"].contains("linearizable"));
  EXPECT_TRUE(c["checkers"].contains("sanity"));
  EXPECT_GT(c["client_ops"].get<int>(), 100);
  EXPECT_GE(c["faults"].get<int>(), 1);

  // Drill: DIRT01's kill, recovered within its limit while the rest of the wave ran.
  const nlohmann::json& d = parts["drill"];
  EXPECT_EQ(d["passed"], true) << d.dump(2);
  EXPECT_EQ(d["limit_ms"], 180000);
  ASSERT_TRUE(d["recovery_ms"].is_number()) << d.dump(2);
  EXPECT_LE(d["recovery_ms"].get<int>(), d["limit_ms"].get<int>());

  // FIT: latency on a 0.3 share of the experiment's reads costs no success rate: held.
  const nlohmann::json& f = parts["fit"];
  EXPECT_EQ(f["hypothesis"], "held") << f.dump(2).substr(0, 4000);
  ASSERT_EQ(f["faults"].size(), 1u);
  EXPECT_EQ(f["faults"][0]["type"], "http_delay");
  EXPECT_DOUBLE_EQ(f["faults"][0]["share"].get<double>(), 0.3);
  EXPECT_EQ(f["toxics_left"], 0);

  // Where they touched: the recovery was measured while the FIT latency was in place, and the ops
  // in flight during the kill are counted consistently.
  const nlohmann::json& t = r["touch"];
  ASSERT_TRUE(t["recovery"].is_object()) << t.dump(2);
  EXPECT_EQ(t["recovery"]["measured_while_fit_faults_active"], true);
  EXPECT_GT(t["recovery"]["fit_overlap_ms"].get<double>(), 0);
  const nlohmann::json& k = t["ops_in_flight_at_kill"];
  ASSERT_TRUE(k.is_object()) << t.dump(2);
  EXPECT_EQ(k["killed_nodes"], nlohmann::json({"n1", "n2", "n3"}));
  std::int64_t sum = 0;
  for (const auto& [type, n] : k["by_completion"].items()) sum += n.get<std::int64_t>();
  EXPECT_EQ(sum, k["count"].get<std::int64_t>());
  // Until the safeguard restarted the killed members, client ops kept coming (and some failed).
  const nlohmann::json& outage = t["ops_during_kill_outage"];
  ASSERT_TRUE(outage.is_object()) << t.dump(2);
  EXPECT_GE(outage["count"].get<std::int64_t>(), k["count"].get<std::int64_t>());
  EXPECT_GT(outage["count"].get<std::int64_t>(), 0);

  // One log, sealed and intact; one ledger, nothing left open; within the wave's time bound.
  Result<ProcessOutput> verify =
      RunProcess({FAULTLINE_BINARY, "audit", "verify", (out / "history.log").string()});
  ASSERT_TRUE(verify.has_value());
  EXPECT_EQ(verify->exit_code, 0) << verify->out << verify->err;
  EXPECT_GT(r["log"]["ops"].get<int>(), c["client_ops"].get<int>());
  EXPECT_EQ(r["ledger"]["open_after_parts"].size(), 0u) << r["ledger"].dump();
  EXPECT_TRUE(fs::exists(out / "nemesis.ledger"));
  EXPECT_TRUE(fs::exists(out / "campaign" / "results.json"));
  EXPECT_TRUE(fs::exists(out / "drill" / "incident-DIRT01.json"));
  EXPECT_TRUE(fs::exists(out / "fit" / "kpi-timeline.jsonl"));
  EXPECT_LE(r["duration_s"].get<double>(), 180.0);

  // The node logs over the whole wave: every node counted, nothing a built-in forbids (the drill
  // kills with SIGKILL, which makes etcd print no panic); JUnit: one suite per part.
  ASSERT_TRUE(r.contains("log_patterns")) << r.dump(2).substr(0, 4000);
  EXPECT_EQ(r["log_patterns"]["panic"]["by_node"].size(), r["cluster"]["nodes"].size());
  EXPECT_EQ(parts["log_patterns"]["validity"], "valid") << r["log_patterns"].dump(2);
  Result<ProcessOutput> xml =
      RunProcess({"python3", "-c",
                  "import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot(); "
                  "print(len(r.findall('testsuite')), r.get('failures'), r.get('errors'))",
                  (root_ / "wave.xml").string()});
  ASSERT_TRUE(xml.has_value());
  EXPECT_EQ(xml->exit_code, 0) << xml->err;
  EXPECT_EQ(xml->out, r["exit_code"] == 0 ? "4 0 0\n" : xml->out) << xml->out;

  // The cluster the wave brought up is gone.
  Result<ProcessOutput> status = RunProcess({FAULTLINE_BINARY, "cluster", "status", "--name", name_,
                                             "--state-dir", (root_ / "state").string()});
  ASSERT_TRUE(status.has_value());
  EXPECT_NE(status->exit_code, 0) << status->out;
}

}  // namespace
}  // namespace faultline::wave
