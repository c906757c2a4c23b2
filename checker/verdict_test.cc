// ComposeChecker's merge rules, with fake checkers: invalid > unknown > valid over the members; a
// second opinion's invalid merges but its unknown does not; a second opinion runs only when it
// applies and its first checker ran; a disagreement is said in both details and the JSON.
#include "checker/verdict.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace faultline::checker {
namespace {

class FakeChecker final : public Checker {
 public:
  FakeChecker(std::string name, Validity validity, bool applies = true, bool fails = false)
      : name_(std::move(name)), validity_(validity), applies_(applies), fails_(fails) {}

  std::string_view name() const override { return name_; }
  bool Applies(const history::History& /*history*/) const override { return applies_; }
  Result<Verdict> Check(const history::History& /*history*/) override {
    if (fails_) return MakeError(ErrorCode::kInvalidArgument, "check: " + name_ + ": cannot");
    Verdict v;
    v.name = name_;
    v.validity = validity_;
    v.summary = std::string(ValidityName(validity_));
    v.json = R"({"valid":")" + std::string(ValidityName(validity_)) + R"("})";
    v.anomalies["x"] = validity_ == Validity::kInvalid ? 1 : 0;
    return v;
  }
  std::string Disagreement(const Verdict& first, const Verdict& mine) const override {
    if (first.validity == mine.validity || first.validity == Validity::kUnknown ||
        mine.validity == Validity::kUnknown) {
      return {};
    }
    return "!!! disagree\n";
  }

 private:
  std::string name_;
  Validity validity_;
  bool applies_;
  bool fails_;
};

std::unique_ptr<Checker> Fake(std::string name, Validity v, bool applies = true) {
  return std::make_unique<FakeChecker>(std::move(name), v, applies);
}

history::History Empty() {
  Result<history::History> h = history::History::Build({});
  EXPECT_TRUE(h);
  return std::move(*h);
}

struct MergeCase {
  std::vector<Validity> members;
  Validity merged;
};

class ComposeMergeTest : public ::testing::TestWithParam<MergeCase> {};

TEST_P(ComposeMergeTest, InvalidOverUnknownOverValid) {
  ComposeChecker compose;
  int n = 0;
  for (Validity v : GetParam().members) compose.Add(Fake("c" + std::to_string(n++), v));
  Result<Verdict> r = compose.Check(Empty());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->validity, GetParam().merged);
  EXPECT_EQ(compose.parts().size(), GetParam().members.size());
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ComposeMergeTest,
    ::testing::Values(MergeCase{{}, Validity::kValid},
                      MergeCase{{Validity::kValid, Validity::kValid}, Validity::kValid},
                      MergeCase{{Validity::kValid, Validity::kUnknown}, Validity::kUnknown},
                      MergeCase{{Validity::kUnknown, Validity::kInvalid}, Validity::kInvalid},
                      MergeCase{{Validity::kInvalid, Validity::kValid}, Validity::kInvalid}));

TEST(ComposeCheckerTest, SecondOpinionUnknownLeavesTheVerdictToTheFirst) {
  ComposeChecker compose;
  compose.Add(Fake("search", Validity::kValid));
  compose.AddSecondOpinion(Fake("second", Validity::kUnknown));
  Result<Verdict> r = compose.Check(Empty());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->validity, Validity::kValid);
  ASSERT_EQ(compose.parts().size(), 2u);
  EXPECT_NE(compose.parts()[1].summary.find("a second opinion"), std::string::npos);
}

TEST(ComposeCheckerTest, SecondOpinionInvalidMergesAndTheDisagreementShows) {
  ComposeChecker compose;
  compose.Add(Fake("search", Validity::kValid));
  compose.AddSecondOpinion(Fake("second", Validity::kInvalid));
  Result<Verdict> r = compose.Check(Empty());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->validity, Validity::kInvalid);
  ASSERT_EQ(compose.parts().size(), 2u);
  EXPECT_NE(compose.parts()[0].detail.find("!!! disagree"), std::string::npos);
  EXPECT_NE(compose.parts()[1].detail.find("!!! disagree"), std::string::npos);
  EXPECT_EQ(compose.parts()[1].json, R"({"valid":"invalid","checkers_disagree":true})");
  EXPECT_EQ(r->anomalies.at("x"), 1);
}

TEST(ComposeCheckerTest, AgreeingSecondOpinionSaysSoInItsJson) {
  ComposeChecker compose;
  compose.Add(Fake("search", Validity::kInvalid));
  compose.AddSecondOpinion(Fake("second", Validity::kInvalid));
  Result<Verdict> r = compose.Check(Empty());
  ASSERT_TRUE(r);
  EXPECT_EQ(compose.parts()[1].json, R"({"valid":"invalid","checkers_disagree":false})");
  EXPECT_EQ(compose.parts()[0].detail, "");
}

TEST(ComposeCheckerTest, SecondOpinionThatDoesNotApplyIsLeftOut) {
  ComposeChecker compose;
  compose.Add(Fake("search", Validity::kValid));
  compose.AddSecondOpinion(Fake("second", Validity::kInvalid, /*applies=*/false));
  compose.Add(Fake("sanity", Validity::kValid));
  Result<Verdict> r = compose.Check(Empty());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->validity, Validity::kValid);
  ASSERT_EQ(compose.parts().size(), 2u);
  EXPECT_EQ(compose.parts()[1].name, "sanity");
}

TEST(ComposeCheckerTest, AnErrorStopsTheComposition) {
  ComposeChecker compose;
  compose.Add(std::make_unique<FakeChecker>("broken", Validity::kValid, true, /*fails=*/true));
  compose.Add(Fake("sanity", Validity::kValid));
  Result<Verdict> r = compose.Check(Empty());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("check: broken"), std::string::npos);
}

}  // namespace
}  // namespace faultline::checker
