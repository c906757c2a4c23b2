// FIT scenarios: the shipped ones parse with the numbers in their files; bad input is an error
// naming the field and what was expected.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "fit/fit.h"

namespace faultline::fit {
namespace {

TEST(FitScenario, ShippedScenariosParse) {
  const std::string dir = std::string(FAULTLINE_SOURCE_DIR) + "/scenarios/";
  auto fit01 = LoadScenario(dir + "FIT01-no-fault.json");
  ASSERT_TRUE(fit01) << fit01.error().message();
  EXPECT_TRUE(fit01->faults.empty());
  auto fit02 = LoadScenario(dir + "FIT02-read-errors.json");
  ASSERT_TRUE(fit02) << fit02.error().message();
  ASSERT_EQ(fit02->faults.size(), 1u);
  EXPECT_EQ(fit02->faults[0].toxic.type, nemesis::ToxicType::kHttpStatus);
  EXPECT_DOUBLE_EQ(fit02->faults[0].toxic.toxicity, 0.2);
  EXPECT_EQ(nemesis::NumberAttribute(fit02->faults[0].toxic, "status"), 503);
  EXPECT_EQ(nemesis::StringAttribute(fit02->faults[0].toxic, "path"), "/v3/kv/range");
  ASSERT_EQ(fit02->margins.size(), 2u);
  EXPECT_EQ(fit02->margins[0].kpi, Kpi::kSuccessRate);
  EXPECT_DOUBLE_EQ(fit02->margins[0].limit, 1);
  EXPECT_EQ(fit02->margins[1].kpi, Kpi::kP99);
  EXPECT_DOUBLE_EQ(fit02->margins[1].limit, 2);
  auto fit03 = LoadScenario(dir + "FIT03-abort.json");
  ASSERT_TRUE(fit03) << fit03.error().message();
  ASSERT_EQ(fit03->abort.size(), 1u);
  EXPECT_DOUBLE_EQ(fit03->abort[0].bound.limit, 10);
  EXPECT_EQ(fit03->abort[0].hold, std::chrono::milliseconds(1000));
  EXPECT_EQ(fit03->faults[0].start, std::chrono::milliseconds(2000));
  for (const auto* s : {&*fit01, &*fit02, &*fit03}) {
    EXPECT_LE(s->duration, std::chrono::seconds(60)) << s->id;
  }
}

struct BadCase {
  std::string name;
  std::string patch;     // a JSON merge patch applied to a valid scenario
  std::string expected;  // a part of the error message
};

void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

class FitBadScenario : public ::testing::TestWithParam<BadCase> {};

nlohmann::json Valid() {
  return nlohmann::json::parse(R"({
    "id": "T", "rate": 100, "duration_s": 2,
    "requests": [{"name": "get", "path": "/x"}],
    "faults": [{"type": "http_status", "share": 0.1, "attributes": {"status": 503}}],
    "hypothesis": {"success_rate": {"max_drop_points": 1}}})");
}

TEST(FitScenario, ValidOneParses) {
  auto s = ParseScenario(Valid(), "t.json");
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->requests[0].method, "GET");
  EXPECT_DOUBLE_EQ(s->alpha, 0.05);
}

TEST_P(FitBadScenario, NamesTheField) {
  nlohmann::json j = Valid();
  j.merge_patch(nlohmann::json::parse(GetParam().patch));
  auto s = ParseScenario(j, "t.json");
  ASSERT_FALSE(s) << GetParam().patch;
  EXPECT_EQ(s.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(s.error().message().find("t.json: "), std::string::npos) << s.error().message();
  EXPECT_NE(s.error().message().find(GetParam().expected), std::string::npos)
      << s.error().message();
}

INSTANTIATE_TEST_SUITE_P(
    Errors, FitBadScenario,
    ::testing::Values(
        BadCase{"NoId", R"({"id": null})", "id: missing"},
        BadCase{"RateZero", R"({"rate": 0})", "rate: expected a number in [1, 100000], got 0"},
        BadCase{"RateString", R"({"rate": "fast"})", "rate: expected a number"},
        BadCase{"NoDuration", R"({"duration_s": null})", "duration_s: missing"},
        BadCase{"NoRequests", R"({"requests": []})", "requests: expected a non-empty array"},
        BadCase{"BadMethod", R"({"requests": [{"name": "g", "path": "/", "method": "FETCH"}]})",
                "requests[0].method: expected one of GET"},
        BadCase{"RelativePath", R"({"requests": [{"name": "g", "path": "x"}]})",
                "requests[0].path: expected a path starting with /"},
        BadCase{"ShareAboveOne", R"({"faults": [{"type": "http_status", "share": 1.5}]})",
                "faults[0].share: expected a number in [0, 1], got 1.5"},
        BadCase{"NoShare", R"({"faults": [{"type": "http_status"}]})", "faults[0].share: missing"},
        BadCase{"ToxicityIsNotAKey",
                R"({"faults": [{"type": "http_status", "share": 0.1, "toxicity": 0.1}]})",
                "faults[0].toxicity: unknown field"},
        BadCase{"UnknownToxic", R"({"faults": [{"type": "http_boom", "share": 0.1}]})",
                "faults[0].type"},
        BadCase{"BadAttribute",
                R"({"faults": [{"type": "http_status", "share": 0.1, "attributes": {"stat": 1}}]})",
                "faults[0]"},
        BadCase{"StartAfterEnd",
                R"({"faults": [{"type": "http_drop", "share": 0.1, "start_s": 5}]})",
                "faults[0].start_s: starts after the load ends"},
        BadCase{"NoMargin", R"({"hypothesis": {"alpha": 0.05, "success_rate": null}})",
                "hypothesis.success_rate: missing"},
        BadCase{"RatioBelowOne", R"({"hypothesis": {"p99_ms": {"max_ratio": 0.5}}})",
                "hypothesis.p99_ms.max_ratio: expected a number in [1, 1000]"},
        BadCase{"WrongMarginKey", R"({"hypothesis": {"p50_ms": {"max_drop_points": 1}}})",
                "hypothesis.p50_ms.max_ratio: missing"},
        BadCase{"AbortUnknownKpi", R"({"abort": [{"kpi": "errors", "for_s": 1}]})",
                "abort[0].kpi: unknown kpi \"errors\""},
        BadCase{"AbortNoHold", R"({"abort": [{"kpi": "success_rate", "max_drop_points": 5}]})",
                "abort[0].for_s: missing"},
        BadCase{"Typo", R"({"duraton_s": 3})", "duraton_s: unknown field"}),
    [](const ::testing::TestParamInfo<BadCase>& p) { return p.param.name; });

TEST(FitScenario, LoadNamesTheFile) {
  auto missing = LoadScenario("/nonexistent/FIT99.json");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message().find("/nonexistent/FIT99.json"), std::string::npos);
}

}  // namespace
}  // namespace faultline::fit
