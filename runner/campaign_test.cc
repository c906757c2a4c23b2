// The whole campaign (generator, run loop, log, checkers, run directory) against an in-memory fake
// database: no root, no cluster.
#include "runner/campaign.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "history/audit.h"
#include "history/io.h"
#include "history/txn.h"
#include "runner/testing/fake_db.h"

namespace faultline::runner {
namespace {

namespace fs = std::filesystem;
using checker::Validity;
using history::History;
using history::Op;
using history::OpType;
using testing::FakeClientFactory;
using testing::FakeDb;
using testing::FakeDbOptions;
using testing::FakeInjector;

class CampaignTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           fmt::format("faultline-runner-{}-{}", ::getpid(),
                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  CampaignConfig Config(Workload workload = Workload::kRegister) {
    CampaignConfig c;
    c.workload = workload;
    c.nemesis = {FaultKind::kPartition};
    c.time_limit_s = 2.5;
    c.concurrency = 6;
    c.per_key_limit = 2;
    c.ops_per_key = 60;
    c.fault_s = 0.6;
    c.heal_s = 0.4;
    c.final_phase_s = 5;
    c.check_time_limit_s = 60;
    c.seed = 7;
    c.out = dir_.string();
    return c;
  }

  Result<RunReport> Run(const CampaignConfig& c, FakeDb& db, std::stop_token stop = {}) {
    factory_ = std::make_unique<FakeClientFactory>(db);
    injector_ = std::make_unique<FakeInjector>(db, db.options().nodes);
    Result<RunFiles> files = MakeRunDir(c);
    if (!files) return std::move(files).error();
    CampaignDeps deps;
    deps.clients = factory_.get();
    deps.nemesis = injector_.get();
    deps.stop = stop;
    return ExecuteCampaign(c, deps, *files,
                           [this](const ProgressInfo& p) { progress_.push_back(p); });
  }

  static History ReadBack(const RunReport& r) {
    std::ifstream in(r.files.log);
    std::stringstream s;
    s << in.rdbuf();
    std::string note;
    Result<History> h = history::ReadLogHistory(s.str(), r.files.log, &note);
    EXPECT_TRUE(h) << h.error().message();
    return h ? *h : History();
  }

  fs::path dir_;
  std::unique_ptr<FakeClientFactory> factory_;
  std::unique_ptr<FakeInjector> injector_;
  std::vector<ProgressInfo> progress_;
};

TEST_F(CampaignTest, ConfigRoundTrips) {
  CampaignConfig c = Config(Workload::kSet);
  c.nemesis = {FaultKind::kIsolate, FaultKind::kKill};
  c.isolate_node = "n3";
  c.read_mode = "serializable";
  c.seed = 1234567890123ULL;
  Result<CampaignConfig> back = ConfigFromJson(ConfigToJson(c));
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(*back, c);
  EXPECT_FALSE(ConfigFromJson(R"({"time_limit": 5, "concurrenc": 3})"));
  EXPECT_FALSE(ConfigFromJson(R"({"read_mode": "sometimes"})"));
  Result<CampaignConfig> partial = ConfigFromJson(R"({"nemesis": "none", "seed": 3})");
  ASSERT_TRUE(partial);
  EXPECT_TRUE(partial->nemesis.empty());
  EXPECT_EQ(partial->concurrency, CampaignConfig().concurrency);
}

// A correct (linearizable) fake under fake partitions: valid, and the log holds every op in order
// and verifies.
TEST_F(CampaignTest, CorrectRegisterIsValidAndFullyRecorded) {
  FakeDb db(FakeDbOptions{.info_probability = 0.02});
  Result<RunReport> r = Run(Config(), db);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->verdict.validity, Validity::kValid) << r->text;
  EXPECT_GT(db.partitions(), 0);
  EXPECT_GE(injector_->heals_.load(), 2);  // one per fault, and the final heal
  EXPECT_GE(r->verdict.figures.faults, 1);
  EXPECT_GT(r->stats.invocations, 200);

  history::AuditReport audit = history::VerifyLogFile(r->files.log);
  EXPECT_EQ(audit.status, history::AuditStatus::kIntact) << audit.message;
  EXPECT_TRUE(audit.sealed);
  const History h = ReadBack(*r);
  int64_t client = 0;
  int64_t nemesis = 0;
  for (size_t i = 0; i < h.size(); ++i) {
    EXPECT_EQ(h[i].index, static_cast<int64_t>(i));
    if (i > 0) {
      EXPECT_GE(h[i].time_ns, h[i - 1].time_ns);
    }
    (h[i].is_client() ? client : nemesis) += 1;
  }
  EXPECT_EQ(client, 2 * r->stats.invocations);  // every invocation and its completion
  EXPECT_EQ(h.open_count(), 0u);
  EXPECT_GE(nemesis, 4);
  EXPECT_EQ(audit.ops, static_cast<int64_t>(h.size()));

  for (const std::string& path :
       {r->files.jsonl, r->files.results, r->files.config, r->files.nemesis}) {
    EXPECT_TRUE(fs::exists(path)) << path;
  }
  EXPECT_NE(r->text.find("verdict: VALID"), std::string::npos) << r->text;
  EXPECT_FALSE(progress_.empty());

  // Offline analysis agrees.
  Result<RunReport> again = AnalyzeRunDir(r->files.dir);
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(again->verdict.validity, Validity::kValid);
  EXPECT_EQ(again->verdict.figures.client_ops, r->verdict.figures.client_ops);
}

// The same fake, but its isolated node serves reads from a snapshot while partitioned (what
// serializable reads do on an isolated etcd member): invalid, and the counterexample names it.
TEST_F(CampaignTest, StaleReadsUnderPartitionAreInvalid) {
  FakeDb db(FakeDbOptions{.stale_when_partitioned = true, .isolated = 0});
  CampaignConfig c = Config();
  c.nemesis = {FaultKind::kIsolate};
  c.isolate_node = "n1";
  // A multiple of the node count: a worker's new process after an info lands on the same node (as
  // with the etcd factory's process mod nodes), so the isolated node keeps its clients.
  c.concurrency = 10;
  Result<RunReport> r = Run(c, db);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->verdict.validity, Validity::kInvalid) << r->text;
  ASSERT_FALSE(r->verdict.checkers.empty());
  // The search reports the op where it got stuck, which can be a later read on another node whose
  // value only looks wrong after n1's stale reads; the per-node line of the revision-order check
  // names the node that served them.
  const std::string& detail = r->verdict.checkers[0].detail;
  EXPECT_TRUE(detail.find("served by n1") != std::string::npos ||
              detail.find("per serving node: n1 ") != std::string::npos)
      << detail;
  EXPECT_NE(r->text.find("verdict: INVALID"), std::string::npos);
}

// Info completions retire the process: the worker continues as p + concurrency, and the retired
// process never invokes again.
TEST_F(CampaignTest, InfoStartsANewProcess) {
  FakeDb db(FakeDbOptions{.info_probability = 0.1});
  CampaignConfig c = Config();
  c.nemesis = {};
  c.time_limit_s = 1;
  c.info_ceiling = 0.5;
  Result<RunReport> r = Run(c, db);
  ASSERT_TRUE(r) << r.error().message();
  const History h = ReadBack(*r);
  std::set<int64_t> retired;
  std::set<int64_t> processes;
  for (const Op& op : h.ops()) {
    if (!op.is_client()) continue;
    processes.insert(op.process.number);
    EXPECT_FALSE(retired.count(op.process.number)) << "process " << op.process.number;
    if (op.type == OpType::kInfo) retired.insert(op.process.number);
  }
  EXPECT_GT(retired.size(), 5u);
  EXPECT_GT(processes.size(), static_cast<size_t>(c.concurrency));
  std::map<int64_t, int> workers;
  for (int64_t p : processes) ++workers[p % c.concurrency];
  EXPECT_EQ(workers.size(), static_cast<size_t>(c.concurrency));
  EXPECT_EQ(factory_->processes(), processes);  // a new client for every new process
}

// At most per_key_limit requests are in flight on any key.
TEST_F(CampaignTest, PerKeyConcurrencyBound) {
  FakeDb db(FakeDbOptions{});
  CampaignConfig c = Config();
  c.nemesis = {};
  c.time_limit_s = 1;
  c.concurrency = 9;
  c.per_key_limit = 3;
  c.ops_per_key = 20;
  Result<RunReport> r = Run(c, db);
  ASSERT_TRUE(r) << r.error().message();
  const History h = ReadBack(*r);
  std::map<std::string, int> in_flight;
  int max_seen = 0;
  for (const Op& op : h.ops()) {
    if (!op.is_client()) continue;
    int& n = in_flight[op.key->ToEdn()];
    n += op.is_invoke() ? 1 : -1;
    max_seen = std::max(max_seen, n);
  }
  EXPECT_LE(max_seen, 3);
  EXPECT_GE(max_seen, 2);
  EXPECT_GT(in_flight.size(), 10u);
}

TEST_F(CampaignTest, SetWorkloadValidAndLostAddsInvalid) {
  CampaignConfig c = Config(Workload::kSet);
  c.rate = 1000;  // the fake is fast: keep the history (and the debug-build check) small
  {
    FakeDb db(FakeDbOptions{});
    Result<RunReport> r = Run(c, db);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->verdict.validity, Validity::kValid) << r->text;
    EXPECT_NE(r->verdict.checkers[0].summary.find("0 lost"), std::string::npos);
  }
  {
    FakeDb db(FakeDbOptions{.lose_adds_on_heal = true});
    Result<RunReport> r = Run(c, db);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->verdict.validity, Validity::kInvalid) << r->text;
    EXPECT_EQ(r->verdict.checkers[0].name, "set");
    EXPECT_EQ(r->verdict.checkers[0].summary.find(" 0 lost"), std::string::npos)
        << r->verdict.checkers[0].summary;
  }
}

// A run whose ops all end info must not look valid.
TEST_F(CampaignTest, AllInfoIsUnknown) {
  FakeDb db(FakeDbOptions{.always_info = true});
  CampaignConfig c = Config();
  c.nemesis = {};
  c.time_limit_s = 0.5;
  Result<RunReport> r = Run(c, db);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->verdict.validity, Validity::kUnknown) << r->text;
  EXPECT_NE(r->text.find("ended info"), std::string::npos) << r->text;
}

TEST_F(CampaignTest, FaultThatDidNotTakeEffectIsUnknown) {
  FakeDb db(FakeDbOptions{});
  factory_ = std::make_unique<FakeClientFactory>(db);
  FakeInjector injector(db, 5);
  injector.fail_faults_ = true;
  CampaignConfig c = Config();
  Result<RunFiles> files = MakeRunDir(c);
  ASSERT_TRUE(files);
  CampaignDeps deps;
  deps.clients = factory_.get();
  deps.nemesis = &injector;
  Result<RunReport> r = ExecuteCampaign(c, deps, *files);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->verdict.validity, Validity::kUnknown) << r->text;
  EXPECT_NE(r->text.find("did not take effect"), std::string::npos) << r->text;
}

// A fault the nemesis reported applied but an independent probe found without effect makes the
// run unknown; a confirmed one is counted in the sanity summary.
TEST_F(CampaignTest, ProbeDecidesWhetherAFaultTookEffect) {
  for (bool says : {false, true}) {
    SCOPED_TRACE(says ? "probe confirms" : "probe denies");
    FakeDb db(FakeDbOptions{});
    factory_ = std::make_unique<FakeClientFactory>(db);
    FakeInjector injector(db, 5);
    injector.probe_says_ = says;
    CampaignConfig c = Config();
    c.nemesis = {FaultKind::kKill};
    Result<RunFiles> files = MakeRunDir(c);
    ASSERT_TRUE(files);
    CampaignDeps deps;
    deps.clients = factory_.get();
    deps.nemesis = &injector;
    Result<RunReport> r = ExecuteCampaign(c, deps, *files);
    ASSERT_TRUE(r) << r.error().message();
    ASSERT_GT(injector.applied_.load(), 0);
    if (says) {
      EXPECT_EQ(r->verdict.validity, Validity::kValid) << r->text;
      EXPECT_NE(r->text.find("confirmed by a probe, 0 by the nemesis report only"),
                std::string::npos)
          << r->text;
    } else {
      EXPECT_EQ(r->verdict.validity, Validity::kUnknown) << r->text;
      EXPECT_NE(r->text.find("a probe saw no effect: fake probe: no cut"), std::string::npos)
          << r->text;
    }
  }
}

// Ctrl-C: the run stops early, heals, and what was recorded is checked.
TEST_F(CampaignTest, StopHealsAndChecksWhatWasRecorded) {
  FakeDb db(FakeDbOptions{});
  CampaignConfig c = Config();
  c.time_limit_s = 60;
  std::stop_source stop;
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    stop.request_stop();
  });
  const auto start = std::chrono::steady_clock::now();
  Result<RunReport> r = Run(c, db, stop.get_token());
  stopper.join();
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_TRUE(r->stats.interrupted);
  EXPECT_GE(injector_->heals_.load(), 1);
  EXPECT_GT(r->stats.invocations, 50);
  EXPECT_NE(r->verdict.validity, Validity::kInvalid) << r->text;
  EXPECT_EQ(history::VerifyLogFile(r->files.log).status, history::AuditStatus::kIntact);
}

// ---- counter, lock, register final reads (issue 5 §3) ----

// The position of the last heal's completion, and the client invocations after it.
std::vector<Op> InvocationsAfterLastHeal(const History& h) {
  size_t last_heal = 0;
  for (size_t i = 0; i < h.size(); ++i) {
    if (!h[i].is_client() && h[i].f == "heal") last_heal = i;
  }
  std::vector<Op> out;
  for (size_t i = last_heal; i < h.size(); ++i) {
    if (h[i].is_client() && h[i].is_invoke()) out.push_back(h[i]);
  }
  return out;
}

bool IsFinalRead(const Op& op) {
  const history::Value* v = op.FindExtra(kFinalField);
  return op.f == "read" && v != nullptr && v->as_bool();
}

const CheckerVerdict* FindChecker(const RunReport& r, std::string_view name) {
  for (const CheckerVerdict& c : r.verdict.checkers) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

// A register run ends with a final read of every key in use, after the last heal, checked with
// the rest for linearizability.
TEST_F(CampaignTest, RegisterRunEndsWithFinalReadsOfTheKeysInUse) {
  FakeDb db(FakeDbOptions{});
  CampaignConfig c = Config();
  c.time_limit_s = 1.5;
  Result<RunReport> r = Run(c, db);
  ASSERT_TRUE(r) << r.error().message();
  const CheckerVerdict* linearizable = FindChecker(*r, "linearizable");
  ASSERT_NE(linearizable, nullptr) << r->text;
  EXPECT_EQ(linearizable->validity, Validity::kValid) << r->text;
  const History h = ReadBack(*r);
  const std::vector<Op> after = InvocationsAfterLastHeal(h);
  ASSERT_EQ(after.size(), static_cast<size_t>(c.concurrency)) << "one final read per worker";
  std::set<std::string> keys;
  for (const Op& op : after) {
    EXPECT_TRUE(IsFinalRead(op)) << op.f;
    keys.insert(op.key->text());
  }
  EXPECT_EQ(keys.size(), 3u);  // 6 workers in groups of 2
}

TEST_F(CampaignTest, CounterCampaignIsValidWithFinalReads) {
  FakeDb db(FakeDbOptions{.info_probability = 0.02, .workload = Workload::kCounter});
  CampaignConfig c = Config(Workload::kCounter);
  Result<RunReport> r = Run(c, db);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->verdict.validity, Validity::kValid) << r->text;
  const CheckerVerdict* counter = FindChecker(*r, "counter");
  ASSERT_NE(counter, nullptr) << r->text;
  EXPECT_EQ(counter->validity, Validity::kValid);
  EXPECT_NE(counter->summary.find("3 keys"), std::string::npos) << counter->summary;
  EXPECT_NE(counter->summary.find("6 final"), std::string::npos) << counter->summary;
  EXPECT_NE(counter->summary.find("0 out of bounds"), std::string::npos) << counter->summary;
  const CheckerVerdict* sanity = FindChecker(*r, "sanity");
  ASSERT_NE(sanity, nullptr);
  EXPECT_EQ(sanity->validity, Validity::kValid) << sanity->summary;
  const History h = ReadBack(*r);
  for (const Op& op : InvocationsAfterLastHeal(h)) EXPECT_TRUE(IsFinalRead(op));
}

// A lock campaign against a correct lock: acquire / hold / release cycles, holds recorded, the
// mutex check valid.
TEST_F(CampaignTest, LockCampaignIsValidWhenLocksAreExclusive) {
  FakeDb db(FakeDbOptions{.workload = Workload::kLock});
  CampaignConfig c = Config(Workload::kLock);
  c.lock_ttl_s = 1;
  Result<RunReport> r = Run(c, db);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->verdict.validity, Validity::kValid) << r->text;
  const CheckerVerdict* mutex = FindChecker(*r, "mutex");
  ASSERT_NE(mutex, nullptr) << r->text;
  EXPECT_EQ(mutex->validity, Validity::kValid) << mutex->detail;
  EXPECT_NE(mutex->summary.find("3 locks, 0 overlapping holds"), std::string::npos)
      << mutex->summary;
  const History h = ReadBack(*r);
  std::map<std::string, int> fs;
  for (const Op& op : h.ops()) {
    if (!op.is_client() || !op.is_invoke()) continue;
    ++fs[op.f];
    if (op.f == "hold") {
      ASSERT_TRUE(op.value.is_int());
      EXPECT_GE(op.value.as_int(), 500);
      EXPECT_LE(op.value.as_int(), 2500);
    }
  }
  EXPECT_GT(fs["acquire"], 10);
  EXPECT_GT(fs["hold"], 10);
  EXPECT_GT(fs["release"], 10);
  EXPECT_EQ(fs["read"], 0);  // no final reads for locks
  // Holders finish their cycle after the time limit: no process ends holding a lock.
  std::map<int64_t, bool> holding;
  for (const Op& op : h.ops()) {
    if (!op.is_client()) continue;
    if (op.f == "acquire" && op.type == OpType::kOk) holding[op.process.number] = true;
    if (op.f == "release" && op.is_invoke()) holding[op.process.number] = false;
  }
  for (const auto& [process, held] : holding) EXPECT_FALSE(held) << "process " << process;
}

// While partitioned, the fake grants a held lock again (a lease lost behind the holder's back):
// the mutex check is invalid and names the overlapping holds.
TEST_F(CampaignTest, LockCampaignFindsOverlappingHolds) {
  FakeDb db(FakeDbOptions{.workload = Workload::kLock, .lock_lost_when_partitioned = true});
  CampaignConfig c = Config(Workload::kLock);
  c.lock_ttl_s = 1;
  Result<RunReport> r = Run(c, db);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->verdict.validity, Validity::kInvalid) << r->text;
  const CheckerVerdict* mutex = FindChecker(*r, "mutex");
  ASSERT_NE(mutex, nullptr) << r->text;
  EXPECT_EQ(mutex->validity, Validity::kInvalid);
  EXPECT_NE(mutex->detail.find("while"), std::string::npos) << mutex->detail;
  EXPECT_NE(mutex->detail.find("still held it"), std::string::npos) << mutex->detail;
  EXPECT_NE(mutex->json.find("\"overlapping_holds\""), std::string::npos) << mutex->json;
  EXPECT_EQ(mutex->summary.find(" 0 overlapping holds"), std::string::npos) << mutex->summary;
}

TEST_F(CampaignTest, LockConfigFieldsRoundTripAndAreValidated) {
  CampaignConfig c = Config(Workload::kLock);
  c.lock_ttl_s = 3;
  c.lock_acquire_timeout_ms = 7000;
  Result<CampaignConfig> back = ConfigFromJson(ConfigToJson(c));
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(*back, c);
  EXPECT_FALSE(ConfigFromJson(R"({"workload": "lock", "lock_ttl_s": 0.5})"));
  EXPECT_FALSE(ConfigFromJson(R"({"workload": "queue"})"));
  Result<CampaignConfig> counter = ConfigFromJson(R"({"workload": "counter"})");
  ASSERT_TRUE(counter);
  EXPECT_EQ(counter->workload, Workload::kCounter);
}

// ---- transactions: append and rw-register (issue 16 §2) ----

// The fixture's config with keys that retire after 30 writes, so a short run still moves through
// several.
CampaignConfig TxnConfig(CampaignConfig c) {
  c.ops_per_key = 30;
  c.seed = 11;
  return c;
}

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

TEST_F(CampaignTest, AppendAgainstASerialDatabaseIsStrictSerializable) {
  FakeDb db(FakeDbOptions{.info_probability = 0.03, .workload = Workload::kAppend});
  Result<RunReport> r = Run(TxnConfig(Config(Workload::kAppend)), db);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->verdict.validity, Validity::kValid) << r->text;
  const CheckerVerdict* v = FindChecker(*r, "list-append");
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

TEST_F(CampaignTest, RwRegisterAgainstASerialDatabaseIsStrictSerializable) {
  FakeDb db(FakeDbOptions{.info_probability = 0.03, .workload = Workload::kRwRegister});
  Result<RunReport> r = Run(TxnConfig(Config(Workload::kRwRegister)), db);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->verdict.validity, Validity::kValid) << r->text;
  const CheckerVerdict* v = FindChecker(*r, "rw-register");
  ASSERT_NE(v, nullptr) << r->text;
  const nlohmann::json j = nlohmann::json::parse(v->json);
  EXPECT_GT(j["committed"].get<int64_t>(), 100) << v->json;
  // The fake stamps each committed write with a revision: the versions are ordered by them.
  EXPECT_GT(j["revision_ordered_writes"].get<int64_t>(), 50) << v->json;
  // The run's log and its JSON Lines copy say what the run is judged by, so an offline
  // `faultline check` of either defaults to the same model and consistency.
  for (const std::string& file : {r->files.log, r->files.jsonl}) {
    history::ReadReport report;
    Result<history::History> h = history::ReadHistoryFile(file, {}, &report);
    ASSERT_TRUE(h) << h.error().message();
    ASSERT_EQ(report.metadata.size(), 1u) << file;
    const nlohmann::json meta = nlohmann::json::parse(report.metadata[0]);
    EXPECT_EQ(meta["claims"]["model"], "rw-register") << meta.dump();
    EXPECT_EQ(meta["claims"]["consistency"], "strict-serializable") << meta.dump();
  }
  CampaignConfig serializable = TxnConfig(Config(Workload::kRwRegister));
  serializable.read_mode = "serializable";
  ASSERT_TRUE(TxnClaim(serializable));
  EXPECT_EQ(TxnClaim(serializable)->consistency, checker::Consistency::kSerializable);
  EXPECT_FALSE(TxnClaim(Config(Workload::kRegister)));
}

// An isolated member that serves read-only transactions from an old snapshot: a read that misses
// a write completed before it began is a real-time violation strict serializability forbids.
TEST_F(CampaignTest, StaleReadOnlyTransactionsAreNotStrictSerializable) {
  // Two nodes and six workers: the even processes stay on the isolated node 0 (an info moves a
  // worker on by 6), so its stale reads keep coming while node 1 commits appends.
  FakeDb db(
      FakeDbOptions{.nodes = 2, .stale_when_partitioned = true, .workload = Workload::kAppend});
  CampaignConfig c = TxnConfig(Config(Workload::kAppend));
  c.time_limit_s = 3;
  Result<RunReport> r = Run(c, db);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->verdict.validity, Validity::kInvalid) << r->text;
  const CheckerVerdict* v = FindChecker(*r, "list-append");
  ASSERT_NE(v, nullptr);
  bool realtime = false;
  for (const auto& [kind, n] : v->anomalies) realtime |= kind.ends_with("-realtime") && n > 0;
  EXPECT_TRUE(realtime) << v->detail;
}

// The node logs after a run: a panic in this run's part of a log makes the run invalid, names the
// pattern in the verdict line and results.json, and `analyze` finds it again; a panic before the
// run's offset (an earlier run on the same cluster) does not count.
TEST_F(CampaignTest, LogPatternOverItsMaximumMakesTheRunInvalid) {
  FakeDb db(FakeDbOptions{});
  CampaignConfig c = Config();
  c.nemesis = {};
  c.time_limit_s = 0.5;
  c.log_patterns = {"slow=took too long"};
  c.log_pattern_max = {"slow=1"};
  Result<RunReport> r = Run(c, db);
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->verdict.validity, Validity::kValid) << r->text;

  const std::string earlier = "panic: from an earlier run\n";
  auto write = [&](const std::string& node, const std::string& text) {
    fs::create_directories(fs::path(r->files.nodes) / node);
    std::ofstream(fs::path(r->files.nodes) / node / "etcd.log") << text;
  };
  write("n1", earlier + "{\"level\":\"info\",\"msg\":\"apply request took too long\"}\n");
  write("n2", earlier + "panic: failed to open database\ngoroutine 1 [running]:\n");
  const std::map<std::string, uint64_t> offsets = {{"n1", earlier.size()}, {"n2", earlier.size()}};
  ASSERT_TRUE(ApplyLogPatterns(*r, c, RunDirNodeLogs(r->files, {"n1", "n2"}, offsets)));
  EXPECT_EQ(r->verdict.validity, Validity::kInvalid);
  EXPECT_NE(r->text.find("verdict: INVALID (log pattern panic: 1 > max 0)"), std::string::npos)
      << r->text;
  EXPECT_NE(r->text.find("log-patterns:"), std::string::npos) << r->text;

  std::ifstream in(r->files.results);
  const nlohmann::json j = nlohmann::json::parse(in);
  EXPECT_EQ(j["valid"], "invalid");
  EXPECT_EQ(j["log_patterns"]["panic"]["count"], 1);
  EXPECT_EQ(j["log_patterns"]["panic"]["max"], 0);
  EXPECT_EQ(j["log_patterns"]["panic"]["by_node"]["n1"], 0);
  EXPECT_EQ(j["log_patterns"]["panic"]["by_node"]["n2"], 1);
  EXPECT_EQ(j["log_patterns"]["panic"]["examples"][0]["line"], "panic: failed to open database");
  EXPECT_EQ(j["log_patterns"]["slow"]["count"], 1);
  EXPECT_EQ(j["log_patterns"]["slow"]["max"], 1);
  EXPECT_EQ(j["log_patterns"]["permission-denied"]["max"], nullptr);
  EXPECT_EQ(j["log_scan"]["n2"]["offset"], earlier.size());
  EXPECT_EQ(j["checkers"]["log-patterns"]["panic"]["count"], 1);

  // For CI: a test case per checker, the log patterns' one a <failure> naming the pattern.
  const std::vector<JUnitSuite> suites = {CampaignJUnitSuite(*r, c)};
  const std::string xml = RenderJUnit(suites);
  EXPECT_NE(xml.find("<testcase name=\"linearizable\" classname=\"faultline.campaign.register\""),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("<testcase name=\"log-patterns\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("<failure message=\"invalid: panic 1 &gt; max 0 (n2 1)\" type=\"invalid\">"),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("failures=\"1\" errors=\"0\" skipped=\"0\""), std::string::npos) << xml;

  Result<RunReport> again = AnalyzeRunDir(r->files.dir);
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(again->verdict.validity, Validity::kInvalid);
  EXPECT_NE(again->text.find("(log pattern panic: 1 > max 0)"), std::string::npos) << again->text;
}

}  // namespace
}  // namespace faultline::runner
