#include "tools/generate.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cctype>
#include <string>
#include <vector>

#include "checker/brute_force.h"
#include "checker/checker.h"
#include "history/history.h"

namespace faultline::tools {
namespace {

using checker::BruteForceCheck;
using checker::Validity;
using checker::ValidityName;
using history::History;
using history::Op;
using history::OpType;
using testing::HasSubstr;

std::string Dump(const History& h) {
  std::string out;
  for (const Op& op : h.ops()) out += history::Describe(op) + "\n";
  return out;
}

TEST(GenerateTest, SameSeedSameHistory) {
  GenerateOptions o{.model = "cas-register",
                    .ops = 300,
                    .processes = 5,
                    .info_rate = 0.1,
                    .keys = 3,
                    .values = 5,
                    .seed = 7,
                    .violate = "stale-read"};
  Result<History> a = Generate(o);
  Result<History> b = Generate(o);
  ASSERT_TRUE(a) << a.error().message();
  ASSERT_TRUE(b) << b.error().message();
  ASSERT_EQ(a->size(), b->size());
  for (size_t i = 0; i < a->size(); ++i) ASSERT_EQ((*a)[i], (*b)[i]) << "op " << i;
  o.seed = 8;
  Result<History> c = Generate(o);
  ASSERT_TRUE(c) << c.error().message();
  bool differs = c->size() != a->size();
  for (size_t i = 0; !differs && i < a->size(); ++i) differs = !((*a)[i] == (*c)[i]);
  EXPECT_TRUE(differs) << "another seed gives another history";
}

TEST(GenerateTest, HonoursCountsAndShapes) {
  Result<History> h = Generate({.model = "kv",
                                .ops = 2000,
                                .processes = 8,
                                .info_rate = 0.05,
                                .keys = 10,
                                .values = 5,
                                .seed = 1,
                                .violate = ""});
  ASSERT_TRUE(h) << h.error().message();
  EXPECT_EQ(h->invocation_count(), 2000u);
  size_t info = 0;
  size_t max_process = 0;
  for (const Op& op : h->ops()) {
    ASSERT_TRUE(op.key.has_value()) << "kv ops carry Op::key";
    ASSERT_TRUE(op.value.is_nil() || op.value.is_string()) << history::Describe(op);
    info += op.type == OpType::kInfo ? 1 : 0;
    max_process = std::max(max_process, static_cast<size_t>(op.process.number));
  }
  EXPECT_GT(info + h->open_count(), 40u);
  EXPECT_LT(info + h->open_count(), 180u);
  EXPECT_GT(max_process, 8u) << "processes retire after info ops";

  Result<History> reg = Generate({.model = "cas-register",
                                  .ops = 200,
                                  .processes = 4,
                                  .info_rate = 0,
                                  .keys = 3,
                                  .values = 5,
                                  .seed = 2,
                                  .violate = ""});
  ASSERT_TRUE(reg) << reg.error().message();
  for (const Op& op : reg->ops()) {
    ASSERT_TRUE(op.value.is_sequential() && op.value.size() == 2)
        << "independent [key value]: " << history::Describe(op);
  }
  auto split = reg->SplitIndependent();
  ASSERT_TRUE(split) << split.error().message();
  EXPECT_EQ(split->size(), 3u);
}

struct BadOptionsCase {
  std::string name;
  GenerateOptions options;
  std::string message;
};
void PrintTo(const BadOptionsCase& c, std::ostream* os) { *os << c.name; }

class GenerateErrorTest : public testing::TestWithParam<BadOptionsCase> {};

TEST_P(GenerateErrorTest, IsRefusedWithAMessage) {
  Result<History> h = Generate(GetParam().options);
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(h.error().message(), HasSubstr(GetParam().message));
}

GenerateOptions With(std::string model, std::string violate, size_t ops = 10) {
  return GenerateOptions{.model = std::move(model),
                         .ops = ops,
                         .processes = 3,
                         .info_rate = 0,
                         .keys = 1,
                         .values = 5,
                         .seed = 0,
                         .violate = std::move(violate)};
}

INSTANTIATE_TEST_SUITE_P(
    Options, GenerateErrorTest,
    testing::Values(
        BadOptionsCase{"UnknownModel", With("queue", ""), "model queue: not supported"},
        BadOptionsCase{"UnknownShape", With("kv", "dirty-read"), "unknown shape"},
        BadOptionsCase{"CasChainNeedsCas", With("kv", "cas-chain"), "use --model cas-register"},
        BadOptionsCase{"TooFewOps", With("register", "stale-read", 2), "needs at least 3 ops"},
        BadOptionsCase{"NoProcesses",
                       {.model = "register",
                        .ops = 5,
                        .processes = 0,
                        .info_rate = 0,
                        .keys = 1,
                        .values = 5,
                        .seed = 0,
                        .violate = ""},
                       "at least 1"},
        BadOptionsCase{"InfoRateAboveOne",
                       {.model = "register",
                        .ops = 5,
                        .processes = 2,
                        .info_rate = 1.5,
                        .keys = 1,
                        .values = 5,
                        .seed = 0,
                        .violate = ""},
                       "must be between 0 and 1"}),
    [](const testing::TestParamInfo<BadOptionsCase>& p) { return p.param.name; });

// The brute-force reference on small generated histories: linearizable ones are valid, every
// planted shape makes them invalid.
struct AgreeCase {
  std::string model;
  std::string violate;  // "" = linearizable
  size_t keys;
};
void PrintTo(const AgreeCase& c, std::ostream* os) {
  *os << c.model << "/" << (c.violate.empty() ? "none" : c.violate) << "/" << c.keys;
}

// "cas-register stale-read keys 1" -> "CasRegisterStaleReadKeys1".
std::string CamelName(const std::string& words) {
  std::string out;
  bool upper = true;
  for (char ch : words) {
    if (std::isalnum(static_cast<unsigned char>(ch)) == 0) {
      upper = true;
      continue;
    }
    out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(ch))) : ch;
    upper = false;
  }
  return out;
}

class GenerateBruteForceTest : public testing::TestWithParam<AgreeCase> {};

TEST_P(GenerateBruteForceTest, VerdictIsTheKnownOne) {
  const AgreeCase& c = GetParam();
  const Validity expected = c.violate.empty() ? Validity::kValid : Validity::kInvalid;
  for (uint64_t seed = 1; seed <= 150; ++seed) {
    // contradictory-readers needs two readers and two writers (plus one op per other process).
    const bool readers = c.violate == "contradictory-readers";
    GenerateOptions o{.model = c.model,
                      .ops = (readers ? 8 : 6) + seed % 5,
                      .processes = (readers ? 4 : 1) + seed % 3,
                      .info_rate = seed % 2 == 0 ? 0.25 : 0.0,
                      .keys = c.keys,
                      .values = 1 + seed % 4,
                      .seed = seed,
                      .violate = c.violate};
    Result<History> h = Generate(o);
    ASSERT_TRUE(h) << "seed " << seed << ": " << h.error().message();
    Result<Validity> v = BruteForceCheck(*h, {.model = c.model, .initial = {}, .max_ops = 16});
    ASSERT_TRUE(v) << "seed " << seed << ": " << v.error().message();
    ASSERT_EQ(ValidityName(*v), ValidityName(expected)) << "seed " << seed << ":\n" << Dump(*h);
  }
}

// The engine on mid-sized generated histories, beyond the brute force's reach.
class GenerateCheckTest : public testing::TestWithParam<AgreeCase> {};

TEST_P(GenerateCheckTest, VerdictIsTheKnownOne) {
  const AgreeCase& c = GetParam();
  const Validity expected = c.violate.empty() ? Validity::kValid : Validity::kInvalid;
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    GenerateOptions o{.model = c.model,
                      .ops = 300,
                      .processes = 5,
                      .info_rate = 0.03,
                      .keys = c.keys,
                      .values = 5,
                      .seed = seed,
                      .violate = c.violate};
    Result<History> h = Generate(o);
    ASSERT_TRUE(h) << "seed " << seed << ": " << h.error().message();
    checker::CheckOptions options;
    options.model = c.model;
    options.threads = 1;
    Result<checker::CheckResult> r = checker::Check(*h, options);
    ASSERT_TRUE(r) << "seed " << seed << ": " << r.error().message();
    ASSERT_EQ(ValidityName(r->validity), ValidityName(expected)) << "seed " << seed;
  }
}

std::vector<AgreeCase> AgreeCases() {
  std::vector<AgreeCase> cases;
  for (const std::string& model : GeneratorModels()) {
    for (size_t keys : {1, 2}) {
      cases.push_back({model, "", keys});
      for (const std::string& shape : ViolationShapes()) {
        if (shape == "cas-chain" && model != "cas-register") continue;
        cases.push_back({model, shape, keys});
      }
    }
  }
  return cases;
}

std::string CaseName(const testing::TestParamInfo<AgreeCase>& p) {
  return CamelName(fmt::format("{} {} keys {}", p.param.model,
                               p.param.violate.empty() ? "linearizable" : p.param.violate,
                               p.param.keys));
}

INSTANTIATE_TEST_SUITE_P(Shapes, GenerateBruteForceTest, testing::ValuesIn(AgreeCases()), CaseName);
INSTANTIATE_TEST_SUITE_P(Shapes, GenerateCheckTest, testing::ValuesIn(AgreeCases()), CaseName);

}  // namespace
}  // namespace faultline::tools
