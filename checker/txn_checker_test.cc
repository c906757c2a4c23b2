#include "checker/txn_checker.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "checker/report.h"
#include "checker/txn_generate.h"
#include "history/edn.h"
#include "history/io.h"
#include "history/jsonl.h"
#include "history/stats.h"
#include "history/txn.h"

namespace faultline::checker {
namespace {

using history::MicroOp, history::MicroOpKind, history::OpType, history::Txn;

TxnCheckOptions Opts(TxnModel model, Consistency c) {
  TxnCheckOptions o;
  o.model = model;
  o.consistency = c;
  return o;
}

Verdict CheckText(const std::string& edn, TxnModel model, Consistency c) {
  auto h = history::ReadHistory(edn, "t.edn");
  EXPECT_TRUE(h) << h.error().message();
  TxnChecker checker(Opts(model, c));
  auto v = checker.Check(*h);
  EXPECT_TRUE(v) << v.error().message();
  return *v;
}

// Write skew: each transaction reads the key the other appends to. Two adjacent rw edges: allowed
// by snapshot isolation, forbidden by serializability.
const char kWriteSkew[] =
    "{:index 0, :type :invoke, :process 0, :f :txn, :value [[:r 1 nil] [:append 2 1]]}\n"
    "{:index 1, :type :invoke, :process 1, :f :txn, :value [[:r 2 nil] [:append 1 1]]}\n"
    "{:index 2, :type :ok, :process 0, :f :txn, :value [[:r 1 []] [:append 2 1]]}\n"
    "{:index 3, :type :ok, :process 1, :f :txn, :value [[:r 2 []] [:append 1 1]]}\n"
    "{:index 4, :type :invoke, :process 0, :f :txn, :value [[:r 1 nil] [:r 2 nil]]}\n"
    "{:index 5, :type :ok, :process 0, :f :txn, :value [[:r 1 [1]] [:r 2 [1]]]}\n";

TEST(TxnCheckerTest, WriteSkewIsG2ItemAllowedBySnapshotIsolation) {
  Verdict si = CheckText(kWriteSkew, TxnModel::kListAppend, Consistency::kSnapshotIsolation);
  EXPECT_EQ(si.validity, Validity::kValid) << si.summary;
  EXPECT_EQ(si.anomalies["G2-item"], 1);
  EXPECT_NE(si.detail.find("found, allowed under snapshot-isolation: G2-item"), std::string::npos);
  Verdict ser = CheckText(kWriteSkew, TxnModel::kListAppend, Consistency::kSerializable);
  EXPECT_EQ(ser.validity, Validity::kInvalid);
  EXPECT_EQ(ser.summary, "not serializable: G2-item");
  ASSERT_EQ(ser.examples.size(), 1u);
  EXPECT_EQ(ser.examples[0],
            "G2-item: T2 read key 1 as [] and T3 appended 1 right after that, so T2 < T3 (rw); "
            "T3 read key 2 as [] and T2 appended 1 right after that, so T3 < T2 (rw); hence T2 < "
            "T3 < T2");
}

// Read skew: T2 sees T3's append to key 2 but not its append to key 1. One rw edge: G-single,
// allowed by read committed, forbidden by snapshot isolation.
TEST(TxnCheckerTest, ReadSkewIsGSingleAllowedByReadCommitted) {
  const char edn[] =
      "{:index 0, :type :invoke, :process 0, :f :txn, :value [[:r 1 nil] [:r 2 nil]]}\n"
      "{:index 1, :type :invoke, :process 1, :f :txn, :value [[:append 1 1] [:append 2 1]]}\n"
      "{:index 2, :type :ok, :process 0, :f :txn, :value [[:r 1 []] [:r 2 [1]]]}\n"
      "{:index 3, :type :ok, :process 1, :f :txn, :value [[:append 1 1] [:append 2 1]]}\n"
      "{:index 4, :type :invoke, :process 0, :f :txn, :value [[:r 1 nil]]}\n"
      "{:index 5, :type :ok, :process 0, :f :txn, :value [[:r 1 [1]]]}\n";
  EXPECT_EQ(CheckText(edn, TxnModel::kListAppend, Consistency::kReadCommitted).validity,
            Validity::kValid);
  Verdict si = CheckText(edn, TxnModel::kListAppend, Consistency::kSnapshotIsolation);
  EXPECT_EQ(si.validity, Validity::kInvalid);
  EXPECT_EQ(si.anomalies["G-single"], 1);
  ASSERT_FALSE(si.examples.empty());
  EXPECT_NE(si.examples[0].find("T2 read key 2 ending in 1, which T3 appended, so T3 < T2 (wr)"),
            std::string::npos)
      << si.examples[0];
}

TEST(TxnCheckerTest, TheTableFollowsTheModels) {
  const auto& rc = ForbiddenAnomalies(Consistency::kReadCommitted);
  const auto& si = ForbiddenAnomalies(Consistency::kSnapshotIsolation);
  const auto& ser = ForbiddenAnomalies(Consistency::kSerializable);
  const auto& strict = ForbiddenAnomalies(Consistency::kStrictSerializable);
  EXPECT_TRUE(rc.count("G1c") && rc.count("G1a") && rc.count("G1b") && rc.count("G0"));
  EXPECT_FALSE(rc.count("G-single"));
  EXPECT_TRUE(si.count("G-single") && si.count("lost-update"));
  EXPECT_FALSE(si.count("G2-item"));
  EXPECT_TRUE(ser.count("G2-item"));
  EXPECT_FALSE(ser.count("G2-item-realtime"));
  EXPECT_TRUE(strict.count("G2-item-realtime") && strict.count("G-single-realtime") &&
              strict.count("G0-process"));
  // Each model forbids everything the weaker ones do.
  for (const auto& k : rc) EXPECT_TRUE(si.count(k)) << k;
  for (const auto& k : si) EXPECT_TRUE(ser.count(k)) << k;
  for (const auto& k : ser) EXPECT_TRUE(strict.count(k)) << k;
  const std::string table = ConsistencyTable();
  EXPECT_NE(table.find("snapshot-isolation                 forbids read-committed + G-nonadjacent "
                       "G-single lost-update\n"),
            std::string::npos)
      << table;
}

// Every kind the generator plants is found and named, the rest of the history being valid.
TEST(TxnCheckerTest, PlantedAnomaliesAreFoundAndNamed) {
  for (TxnModel model : {TxnModel::kListAppend, TxnModel::kRwRegister}) {
    for (const std::string& kind : PlantedAnomalies(model)) {
      for (uint64_t seed = 0; seed < 5; ++seed) {
        SCOPED_TRACE(fmt::format("{} {} seed {}", TxnModelName(model), kind, seed));
        auto h = GenerateTxnHistory({.model = model,
                                     .txns = 40,
                                     .processes = 4,
                                     .keys = 3,
                                     .info_rate = 0.05,
                                     .fail_rate = 0.05,
                                     .seed = seed,
                                     .anomaly = kind});
        ASSERT_TRUE(h) << h.error().message();
        TxnChecker checker(Opts(model, Consistency::kStrictSerializable));
        auto v = checker.Check(*h);
        ASSERT_TRUE(v) << v.error().message();
        EXPECT_EQ(v->validity, Validity::kInvalid) << v->summary;
        EXPECT_GE(v->anomalies[kind], 1) << v->summary << "\n" << v->detail;
      }
    }
  }
}

// Property: a history from a strict serializable execution (with info and failed transactions)
// is valid under every model.
TEST(TxnCheckerTest, SerialExecutionsAreValid) {
  for (TxnModel model : {TxnModel::kListAppend, TxnModel::kRwRegister}) {
    for (uint64_t seed = 0; seed < 200; ++seed) {
      auto h = GenerateTxnHistory({.model = model,
                                   .txns = 60,
                                   .processes = 5,
                                   .keys = 4,
                                   .rotate_every = seed % 2 ? size_t{10} : size_t{0},
                                   .max_ops = 5,
                                   .info_rate = 0.1,
                                   .fail_rate = 0.05,
                                   .seed = seed,
                                   .anomaly = {}});
      ASSERT_TRUE(h) << h.error().message();
      for (Consistency c : AllConsistencies()) {
        TxnChecker checker(Opts(model, c));
        auto v = checker.Check(*h);
        ASSERT_TRUE(v) << v.error().message();
        ASSERT_EQ(v->validity, Validity::kValid) << TxnModelName(model) << " seed " << seed << " "
                                                 << ConsistencyName(c) << ": " << v->summary << "\n"
                                                 << v->detail;
        ASSERT_TRUE(v->anomalies.empty()) << v->detail;
      }
    }
  }
}

// The brute-force oracle: is there a serial order of the committed transactions, plus any subset
// of the indeterminate ones, in which every read of a committed transaction returns the state
// (and, when strict, in which a transaction completed before another's invocation comes first;
// and transactions stamped with the database's revisions come in revision order)?
bool OracleSerializable(const std::vector<Txn>& txns, TxnModel model, bool strict) {
  std::vector<size_t> ok, info;
  for (size_t i = 0; i < txns.size(); ++i) {
    if (txns[i].type == OpType::kOk) ok.push_back(i);
    if (txns[i].type == OpType::kInfo) info.push_back(i);
  }
  for (uint32_t subset = 0; subset < (1u << info.size()); ++subset) {
    std::vector<size_t> chosen = ok;
    for (size_t j = 0; j < info.size(); ++j) {
      if (subset & (1u << j)) chosen.push_back(info[j]);
    }
    const size_t n = chosen.size();
    std::map<int64_t, std::vector<int64_t>> state;
    std::map<int64_t, std::optional<int64_t>> regs;
    std::vector<bool> placed(n, false);
    std::function<bool(size_t)> place = [&](size_t depth) -> bool {
      if (depth == n) return true;
      for (size_t a = 0; a < n; ++a) {
        if (placed[a]) continue;
        const Txn& t = txns[chosen[a]];
        bool allowed = true;
        if (strict) {
          for (size_t b = 0; b < n && allowed; ++b) {
            const Txn& u = txns[chosen[b]];
            if (!placed[b] && b != a && u.type == OpType::kOk && u.complete < t.invoke) {
              allowed = false;
            }
          }
        }
        // The database's revisions are its commit order: a stamped transaction comes after every
        // one stamped lower.
        for (size_t b = 0; b < n && allowed && t.revision; ++b) {
          const Txn& u = txns[chosen[b]];
          if (!placed[b] && b != a && u.revision && *u.revision < *t.revision) allowed = false;
        }
        if (!allowed) continue;
        auto saved = state;
        auto saved_regs = regs;
        bool reads_ok = true;
        for (const MicroOp& m : t.ops) {
          if (m.kind == MicroOpKind::kAppend) {
            state[m.key].push_back(m.value);
          } else if (m.kind == MicroOpKind::kWrite) {
            regs[m.key] = m.value;
          } else if (m.known) {
            if (model == TxnModel::kListAppend) {
              reads_ok &= state[m.key] == m.list;
            } else {
              const auto& r = regs[m.key];
              reads_ok &= m.nil ? !r.has_value() : (r.has_value() && *r == m.value);
            }
          }
        }
        if (reads_ok) {
          placed[a] = true;
          if (place(depth + 1)) return true;
          placed[a] = false;
        }
        state = std::move(saved);
        regs = std::move(saved_regs);
      }
      return false;
    };
    if (place(0)) return true;
  }
  return false;
}

// A small history for the oracle: 5 transactions and the final read, on 2 keys, with stale reads
// and snapshot-style transactions as noise, so that many are invalid.
history::History SmallHistory(TxnModel model, uint64_t seed, bool revisions = false) {
  TxnGenerateOptions o;
  o.model = model;
  o.txns = 5;
  o.processes = 3;
  o.keys = 2;
  o.max_ops = 3;
  o.info_rate = 0.1;
  o.fail_rate = 0.05;
  o.stale_rate = 0.15;
  o.snapshot_rate = 0.2;
  o.seed = seed;
  o.revisions = revisions;
  auto h = GenerateTxnHistory(o);
  EXPECT_TRUE(h) << h.error().message();
  return h ? *std::move(h) : history::History();
}

struct OracleTally {
  int valid = 0;
  int invalid = 0;
};

// list-append with every committed append observed (the final read): the checker is sound and
// complete, so it agrees with the oracle on every history, under both models the oracle knows.
TEST(TxnCheckerTest, AgreesWithTheOracleOnListAppend) {
  std::map<bool, OracleTally> tally;
  for (uint64_t seed = 0; seed < 3000; ++seed) {
    history::History h = SmallHistory(TxnModel::kListAppend, seed);
    auto txns = history::DecodeTxns(h);
    ASSERT_TRUE(txns) << txns.error().message();
    for (bool strict : {false, true}) {
      const bool oracle = OracleSerializable(*txns, TxnModel::kListAppend, strict);
      Verdict v =
          CheckTxns(*txns, Opts(TxnModel::kListAppend, strict ? Consistency::kStrictSerializable
                                                              : Consistency::kSerializable));
      ASSERT_EQ(v.validity == Validity::kValid, oracle)
          << "seed " << seed << (strict ? " strict" : "") << ": " << v.summary << "\n"
          << v.detail << history::WriteEdnHistory(h);
      ++(oracle ? tally[strict].valid : tally[strict].invalid);
    }
  }
  // The generated histories exercise both outcomes, or the agreement would prove little.
  for (bool strict : {false, true}) {
    EXPECT_GT(tally[strict].valid, 300) << strict;
    EXPECT_GT(tally[strict].invalid, 300) << strict;
  }
}

// rw-register: writes are not all observed, so the checker may miss anomalies, but whatever it
// reports is real: invalid implies the oracle finds no order. With the database's revisions too.
TEST(TxnCheckerTest, IsSoundAgainstTheOracleOnRwRegister) {
  int invalid = 0;
  for (uint64_t seed = 0; seed < 3000; ++seed) {
    history::History h = SmallHistory(TxnModel::kRwRegister, seed / 2, seed % 2 == 1);
    auto txns = history::DecodeTxns(h);
    ASSERT_TRUE(txns) << txns.error().message();
    for (bool strict : {false, true}) {
      Verdict v =
          CheckTxns(*txns, Opts(TxnModel::kRwRegister, strict ? Consistency::kStrictSerializable
                                                              : Consistency::kSerializable));
      if (v.validity != Validity::kInvalid) continue;
      ++invalid;
      ASSERT_FALSE(OracleSerializable(*txns, TxnModel::kRwRegister, strict))
          << "seed " << seed << (strict ? " strict" : "") << ": " << v.summary << "\n"
          << v.detail << history::WriteEdnHistory(h);
    }
  }
  EXPECT_GT(invalid, 300);
}

// Without versions from the database, two blind writes of a register are unordered, so a later
// read of the first one proves nothing. etcd's revisions order them: the read is stale, a
// G-single-realtime cycle (T5 read 1, which T2 overwrote with 2 at revision 11; T4 < T5 in real
// time).
TEST(TxnCheckerTest, RevisionsOrderRegisterVersions) {
  const std::string base =
      "{:index 0, :type :invoke, :process 0, :f :txn, :value [[:w 1 1]]}\n"
      "{:index 1, :type :ok, :process 0, :f :txn, :value [[:w 1 1]]REV1}\n"
      "{:index 2, :type :invoke, :process 1, :f :txn, :value [[:w 1 2]]}\n"
      "{:index 3, :type :ok, :process 1, :f :txn, :value [[:w 1 2]]REV2}\n"
      "{:index 4, :type :invoke, :process 2, :f :txn, :value [[:r 1 nil]]}\n"
      "{:index 5, :type :ok, :process 2, :f :txn, :value [[:r 1 1]]}\n";
  auto with = [&](const std::string& r1, const std::string& r2) {
    std::string s = base;
    s.replace(s.find("REV1"), 4, r1);
    s.replace(s.find("REV2"), 4, r2);
    return s;
  };
  Verdict blind = CheckText(with("", ""), TxnModel::kRwRegister, Consistency::kStrictSerializable);
  EXPECT_EQ(blind.validity, Validity::kValid) << blind.detail;
  Verdict ordered = CheckText(with(", :revision 10", ", :revision 11"), TxnModel::kRwRegister,
                              Consistency::kStrictSerializable);
  EXPECT_EQ(ordered.validity, Validity::kInvalid);
  EXPECT_EQ(ordered.anomalies["G-single-realtime"], 1) << ordered.detail;
  EXPECT_NE(ordered.json.find("\"revision_ordered_writes\":2"), std::string::npos);
  // Serializable alone allows it: the stale read is ordered before both writes.
  EXPECT_EQ(CheckText(with(", :revision 10", ", :revision 11"), TxnModel::kRwRegister,
                      Consistency::kSerializable)
                .validity,
            Validity::kValid);
}

// A writer that ended info has no revision of its own; a read carrying the mod_revision it saw
// (:mod_revisions, as the etcd client records them) names that value's revision all the same.
TEST(TxnCheckerTest, ReadModRevisionsOrderTheWritesOfIndeterminateWriters) {
  const std::string base =
      "{:index 0, :type :invoke, :process 0, :f :txn, :value [[:w 1 1]]}\n"
      "{:index 1, :type :invoke, :process 1, :f :txn, :value [[:w 1 2]]}\n"
      "{:index 2, :type :ok, :process 1, :f :txn, :value [[:w 1 2]], :revision 11}\n"
      "{:index 3, :type :invoke, :process 2, :f :txn, :value [[:r 1 nil]]}\n"
      "{:index 4, :type :ok, :process 2, :f :txn, :value [[:r 1 1]]REVS}\n";
  auto with = [&](const std::string& revs) {
    std::string s = base;
    s.replace(s.find("REVS"), 4, revs);
    return s;
  };
  Verdict unordered = CheckText(with(""), TxnModel::kRwRegister, Consistency::kStrictSerializable);
  EXPECT_EQ(unordered.validity, Validity::kValid) << unordered.detail;
  Verdict ordered = CheckText(with(", :mod_revisions [[1 10]]"), TxnModel::kRwRegister,
                              Consistency::kStrictSerializable);
  EXPECT_EQ(ordered.validity, Validity::kInvalid) << ordered.detail;
  EXPECT_EQ(ordered.anomalies["G-single-realtime"], 1) << ordered.detail;
}

// `check --html` for a transactional verdict draws each cycle: its transactions and its edges.
TEST(TxnCheckerTest, HtmlDrawsTheCycle) {
  Verdict ser = CheckText(kWriteSkew, TxnModel::kListAppend, Consistency::kSerializable);
  const std::string page = RenderTxnHtml(ser, {.title = "t"});
  EXPECT_NE(page.find("<svg class=\"cycle\""), std::string::npos) << page;
  EXPECT_NE(page.find("data-txn=\"T2\""), std::string::npos);
  EXPECT_NE(page.find("data-txn=\"T3\""), std::string::npos);
  size_t rw = 0;
  for (size_t at = 0; (at = page.find("data-kind=\"rw\"", at)) != std::string::npos; ++at) ++rw;
  EXPECT_EQ(rw, 2u);
  EXPECT_NE(page.find("<h2>G2-item</h2>"), std::string::npos);
  // A valid verdict has no cycle to draw, and says so.
  Verdict si = CheckText(kWriteSkew, TxnModel::kListAppend, Consistency::kSnapshotIsolation);
  EXPECT_NE(RenderTxnHtml(si).find("<b>valid</b>"), std::string::npos);
}

TEST(TxnCheckerTest, UnobservedWritesAreSaidNotGuessed) {
  const char edn[] =
      "{:index 0, :type :invoke, :process 0, :f :txn, :value [[:append 1 1]]}\n"
      "{:index 1, :type :ok, :process 0, :f :txn, :value [[:append 1 1]]}\n";
  Verdict v = CheckText(edn, TxnModel::kListAppend, Consistency::kStrictSerializable);
  EXPECT_EQ(v.validity, Validity::kValid);
  EXPECT_NE(v.detail.find("1 committed write no read observed"), std::string::npos) << v.detail;
}

// The streaming path `faultline check` takes for transactional models (ForEachOp into a
// TxnDecoder, never building a History) gives exactly what DecodeTxns gives on the built History,
// and `history stats`'s (into a StatsBuilder) what ComputeStats gives:
// in each format, with nemesis ops between, invocations left open at the end, and histories
// without processes (paired by file order).
TEST(TxnDecoderTest, StreamingAgreesWithDecodeTxnsOnTheBuiltHistory) {
  int compared = 0, open_at_end = 0;
  size_t stats_open = 0;
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    for (TxnModel model : {TxnModel::kListAppend, TxnModel::kRwRegister}) {
      TxnGenerateOptions o;
      o.model = model;
      o.txns = 60;
      o.processes = 4;
      o.keys = 3;
      o.info_rate = 0.2;
      o.fail_rate = 0.1;
      o.revisions = seed % 2 == 0;
      o.seed = seed;
      auto g = GenerateTxnHistory(o);
      ASSERT_TRUE(g) << g.error().message();
      std::vector<history::Op> ops(g->ops().begin(), g->ops().end());
      std::mt19937_64 rng(seed);
      // Leave the last op of some processes' out when it is a completion: open at the end.
      std::map<int64_t, size_t> last;
      for (size_t i = 0; i < ops.size(); ++i) {
        if (ops[i].is_client()) last[ops[i].process.number] = i;
      }
      std::vector<bool> drop(ops.size(), false);
      for (const auto& [process, i] : last) {
        if (!ops[i].is_invoke() && rng() % 2 == 0) drop[i] = true;
      }
      std::vector<history::Op> mixed;
      for (size_t i = 0; i < ops.size(); ++i) {
        if (i % 17 == 5) {  // a fault opened or closed by the nemesis between the clients' ops
          history::Op fault;
          fault.type = OpType::kInfo;
          fault.process = history::Process::Nemesis();
          fault.f = "start-partition";
          fault.value = history::Value::Keyword("majority");
          mixed.push_back(std::move(fault));
        }
        if (!drop[i]) mixed.push_back(ops[i]);
      }
      const bool minimal = seed % 3 == 0;
      for (history::Op& op : mixed) {
        op.index = -1;  // renumbered by position
        if (minimal && op.is_client()) op.process = history::Process::None();
      }
      auto built = history::History::Build(mixed);
      ASSERT_TRUE(built) << built.error().message();
      const std::vector<std::pair<history::Format, std::string>> texts = {
          {history::Format::kJsonl, history::WriteJsonlHistory(*built)},
          {history::Format::kEdn, history::WriteEdnHistory(*built)},
          {history::Format::kJson, history::WriteJsonArrayHistory(*built)}};
      for (const auto& [format, text] : texts) {
        SCOPED_TRACE(fmt::format("seed {} model {} format {}", seed, TxnModelName(model),
                                 history::FormatName(format)));
        auto whole = history::ReadHistory(text, "t", {.format = format});
        ASSERT_TRUE(whole) << whole.error().message();
        auto expected = history::DecodeTxns(*whole);
        ASSERT_TRUE(expected) << expected.error().message();
        history::TxnDecoder decoder("t");
        Status read = history::ForEachOp(text, "t", {.format = format},
                                         [&decoder](history::Op&& op, int64_t line, const char*) {
                                           return decoder.Add(std::move(op), line);
                                         });
        ASSERT_TRUE(read) << read.error().message();
        auto got = decoder.Finish();
        ASSERT_TRUE(got) << got.error().message();
        EXPECT_EQ(decoder.ops(), whole->size());
        ASSERT_EQ(got->size(), expected->size());
        for (size_t i = 0; i < got->size(); ++i) {
          EXPECT_EQ((*got)[i], (*expected)[i]) << "transaction " << i;
          open_at_end += (*got)[i].complete == history::History::kNone;
        }
        // `history stats` streams the same way: its counts are those of the built History.
        history::StatsBuilder stats("t");
        Status counted = history::ForEachOp(text, "t", {.format = format},
                                            [&stats](history::Op&& op, int64_t line, const char*) {
                                              return stats.Add(std::move(op), line);
                                            });
        ASSERT_TRUE(counted) << counted.error().message();
        const history::HistoryStats streamed = stats.Finish();
        const history::HistoryStats reference = history::ComputeStats(*whole);
        EXPECT_TRUE(streamed == reference) << history::StatsToJson(streamed) << "\n"
                                           << history::StatsToJson(reference);
        stats_open += streamed.open_ops.size();
        ++compared;
      }
    }
  }
  EXPECT_EQ(compared, 360);
  EXPECT_GT(open_at_end, 30);  // the open invocations were exercised
  EXPECT_GT(stats_open, 30u);  // and counted as open by both
}

// Bad input gives the same error, naming the same line, on both paths.
TEST(TxnDecoderTest, ErrorsAreThoseOfTheHistoryPath) {
  const std::vector<std::string> bad = {
      // a completion with no invocation
      "{:index 0, :type :ok, :process 3, :f :txn, :value [[:r 1 [1]]]}\n",
      // not a transaction
      "{:index 0, :type :invoke, :process 0, :f :txn, :value [[:r 1 nil]]}\n"
      "{:index 1, :type :ok, :process 0, :f :txn, :value [[:r 1 [1]]]}\n"
      "{:index 2, :type :invoke, :process 0, :f :read, :value nil}\n",
      // a micro-op it cannot decode, in an invocation never completed
      "{:index 0, :type :invoke, :process 0, :f :txn, :value [[:incr 1 1]]}\n",
      // a second invocation while one is open
      "{:index 0, :type :invoke, :process 0, :f :txn, :value [[:r 1 nil]]}\n"
      "{:index 1, :type :invoke, :process 0, :f :txn, :value [[:r 1 nil]]}\n"};
  for (const std::string& text : bad) {
    SCOPED_TRACE(text);
    std::string expected;
    if (auto h = history::ReadHistory(text, "bad.edn"); !h) {
      expected = h.error().message();
    } else {
      auto t = history::DecodeTxns(*h);
      ASSERT_FALSE(t);
      expected = t.error().message();
    }
    history::TxnDecoder decoder("bad.edn");
    Status read = history::ForEachOp(text, "bad.edn", {},
                                     [&decoder](history::Op&& op, int64_t line, const char*) {
                                       return decoder.Add(std::move(op), line);
                                     });
    std::string got;
    if (!read) {
      got = read.error().message();
    } else {
      auto t = decoder.Finish();
      ASSERT_FALSE(t);
      got = t.error().message();
    }
    EXPECT_EQ(got, expected);
    EXPECT_NE(got.find("bad.edn: line "), std::string::npos) << got;
  }
}

}  // namespace
}  // namespace faultline::checker
