// Transactional campaigns (append, rw-register) against the in-memory fake database: the
// generator's transactions, the run loop and the txn checker end to end, no root, no cluster.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "history/txn.h"
#include "runner/campaign.h"
#include "runner/testing/fake_db.h"

namespace faultline::runner {
namespace {

namespace fs = std::filesystem;
using checker::Validity;
using testing::FakeClientFactory;
using testing::FakeDb;
using testing::FakeDbOptions;
using testing::FakeInjector;

class TxnCampaignTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           fmt::format("faultline-txn-runner-{}-{}", ::getpid(),
                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  CampaignConfig Config(Workload workload) {
    CampaignConfig c;
    c.workload = workload;
    c.nemesis = {FaultKind::kPartition};
    c.time_limit_s = 2.5;
    c.concurrency = 6;
    c.ops_per_key = 30;
    c.fault_s = 0.6;
    c.heal_s = 0.4;
    c.final_phase_s = 5;
    c.seed = 11;
    c.out = dir_.string();
    return c;
  }

  Result<RunReport> Run(const CampaignConfig& c, FakeDb& db) {
    factory_ = std::make_unique<FakeClientFactory>(db);
    injector_ = std::make_unique<FakeInjector>(db, db.options().nodes);
    Result<RunFiles> files = MakeRunDir(c);
    if (!files) return std::move(files).error();
    CampaignDeps deps;
    deps.clients = factory_.get();
    deps.nemesis = injector_.get();
    return ExecuteCampaign(c, deps, *files);
  }

  static const CheckerVerdict* Find(const RunReport& r, std::string_view name) {
    for (const CheckerVerdict& v : r.verdict.checkers) {
      if (v.name == name) return &v;
    }
    return nullptr;
  }

  fs::path dir_;
  std::unique_ptr<FakeClientFactory> factory_;
  std::unique_ptr<FakeInjector> injector_;
};

TEST(TxnGeneratorTest, TransactionsUseLiveKeysWithUniqueValuesAndFinalReadsReadThemAll) {
  Generator g(GeneratorOptions{.workload = Workload::kAppend,
                               .concurrency = 3,
                               .ops_per_key = 5,
                               .txn_keys = 4,
                               .txn_max_ops = 4,
                               .seed = 3});
  std::set<std::pair<int64_t, int64_t>> written;
  int64_t max_key = 0;
  for (int i = 0; i < 300; ++i) {
    history::Op op = g.Next(i % 3, history::Process::Client(i % 3));
    EXPECT_EQ(op.f, "txn");
    EXPECT_FALSE(op.key.has_value());
    Result<std::vector<history::MicroOp>> ops = history::DecodeMicroOps(op.value, false);
    ASSERT_TRUE(ops) << ops.error().message();
    ASSERT_GE(ops->size(), 1u);
    ASSERT_LE(ops->size(), 4u);
    for (const auto& m : *ops) {
      max_key = std::max(max_key, m.key);
      if (m.kind == history::MicroOpKind::kRead) continue;
      EXPECT_EQ(m.kind, history::MicroOpKind::kAppend);
      EXPECT_TRUE(written.insert({m.key, m.value}).second) << m.key << " " << m.value;
      EXPECT_LE(m.value, 5);  // a key retires after ops_per_key writes
    }
  }
  EXPECT_GT(max_key, 4);  // keys retired and fresh ones came in
  std::optional<history::Op> final_read = g.FinalRead(0, history::Process::Client(0));
  ASSERT_TRUE(final_read);
  Result<std::vector<history::MicroOp>> reads = history::DecodeMicroOps(final_read->value, false);
  ASSERT_TRUE(reads);
  EXPECT_EQ(reads->size(), 4u);
  for (const auto& m : *reads) EXPECT_EQ(m.kind, history::MicroOpKind::kRead);
}

TEST_F(TxnCampaignTest, AppendAgainstASerialDatabaseIsStrictSerializable) {
  FakeDb db(FakeDbOptions{.info_probability = 0.03, .workload = Workload::kAppend});
  Result<RunReport> r = Run(Config(Workload::kAppend), db);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->verdict.validity, Validity::kValid) << r->text;
  const CheckerVerdict* v = Find(*r, "list-append");
  ASSERT_NE(v, nullptr) << r->text;
  const nlohmann::json j = nlohmann::json::parse(v->json);
  EXPECT_EQ(j["consistency"], "strict-serializable");
  EXPECT_GT(j["committed"].get<int64_t>(), 100) << v->json;
  EXPECT_GT(j["edges"].get<int64_t>(), 100) << v->json;
  EXPECT_TRUE(j.contains("unobserved_writes")) << v->json;
  // results.json carries the checker's figures for people and tools.
  std::ifstream in(r->files.results);
  const nlohmann::json results = nlohmann::json::parse(in);
  EXPECT_NE(results.dump().find("unobserved_writes"), std::string::npos);
}

TEST_F(TxnCampaignTest, RwRegisterAgainstASerialDatabaseIsStrictSerializable) {
  FakeDb db(FakeDbOptions{.info_probability = 0.03, .workload = Workload::kRwRegister});
  Result<RunReport> r = Run(Config(Workload::kRwRegister), db);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->verdict.validity, Validity::kValid) << r->text;
  const CheckerVerdict* v = Find(*r, "rw-register");
  ASSERT_NE(v, nullptr) << r->text;
  const nlohmann::json j = nlohmann::json::parse(v->json);
  EXPECT_GT(j["committed"].get<int64_t>(), 100) << v->json;
  // The fake stamps each committed write with a revision: the versions are ordered by them.
  EXPECT_GT(j["revision_ordered_writes"].get<int64_t>(), 50) << v->json;
}

// An isolated member that serves read-only transactions from an old snapshot: a read that misses
// a write completed before it began is a real-time violation strict serializability forbids.
TEST_F(TxnCampaignTest, StaleReadOnlyTransactionsAreNotStrictSerializable) {
  // Two nodes and six workers: the even processes stay on the isolated node 0 (an info moves a
  // worker on by 6), so its stale reads keep coming while node 1 commits appends.
  FakeDb db(
      FakeDbOptions{.nodes = 2, .stale_when_partitioned = true, .workload = Workload::kAppend});
  CampaignConfig c = Config(Workload::kAppend);
  c.time_limit_s = 3;
  Result<RunReport> r = Run(c, db);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->verdict.validity, Validity::kInvalid) << r->text;
  const CheckerVerdict* v = Find(*r, "list-append");
  ASSERT_NE(v, nullptr);
  bool realtime = false;
  for (const auto& [kind, n] : v->anomalies) realtime |= kind.ends_with("-realtime") && n > 0;
  EXPECT_TRUE(realtime) << v->detail;
}

}  // namespace
}  // namespace faultline::runner
