#include "history/txn.h"

#include <gtest/gtest.h>

#include <string>

#include "history/edn.h"
#include "history/io.h"
#include "history/jsonl.h"
#include "history/stats.h"

namespace faultline::history {
namespace {

// The same two transactions in the three spellings: Jepsen EDN, faultline JSON Lines (keywords as
// {"~kw":...}) and the JSON that elle-cli reads (plain strings).
const char kEdn[] =
    "{:index 0, :type :invoke, :process 0, :f :txn, :value [[:append 3 1] [:r 4 nil] [:w 5 2]]}\n"
    "{:index 1, :type :invoke, :process 1, :f :txn, :value [[:r 3 nil]]}\n"
    "{:index 2, :type :ok, :process 0, :f :txn, :value [[:append 3 1] [:r 4 [1 2]] [:w 5 2]]}\n"
    "{:index 3, :type :info, :process 1, :f :txn, :value nil}\n";
const char kFaultlineJsonl[] =
    R"({"index":0,"type":"invoke","process":0,"f":"txn","value":[[{"~kw":"append"},3,1],[{"~kw":"r"},4,null],[{"~kw":"w"},5,2]]})"
    "\n"
    R"({"index":1,"type":"invoke","process":1,"f":"txn","value":[[{"~kw":"r"},3,null]]})"
    "\n"
    R"({"index":2,"type":"ok","process":0,"f":"txn","value":[[{"~kw":"append"},3,1],[{"~kw":"r"},4,[1,2]],[{"~kw":"w"},5,2]]})"
    "\n"
    R"({"index":3,"type":"info","process":1,"f":"txn","value":null})"
    "\n";
const char kElleCliJson[] =
    R"({"index":0,"type":"invoke","process":0,"f":"txn","value":[["append",3,1],["r",4,null],["w",5,2]]})"
    "\n"
    R"({"index":1,"type":"invoke","process":1,"f":"txn","value":[["r",3,null]]})"
    "\n"
    R"({"index":2,"type":"ok","process":0,"f":"txn","value":[["append",3,1],["r",4,[1,2]],["w",5,2]]})"
    "\n"
    R"({"index":3,"type":"info","process":1,"f":"txn","value":null})"
    "\n";

// elle-cli's own file form: one JSON array of the same ops.
const char kElleCliArray[] =
    R"([{"index":0,"type":"invoke","process":0,"f":"txn","value":[["append",3,1],["r",4,null],["w",5,2]]},
 {"index":1,"type":"invoke","process":1,"f":"txn","value":[["r",3,null]]},
 {"index":2,"type":"ok","process":0,"f":"txn","value":[["append",3,1],["r",4,[1,2]],["w",5,2]]},
 {"index":3,"type":"info","process":1,"f":"txn","value":null}]
)";

void ExpectTheTwoTxns(const History& h) {
  auto txns = DecodeTxns(h);
  ASSERT_TRUE(txns) << txns.error().message();
  ASSERT_EQ(txns->size(), 2u);
  const Txn& a = (*txns)[0];
  EXPECT_EQ(a.type, OpType::kOk);
  EXPECT_EQ(a.index, 2);
  EXPECT_EQ(a.invoke, 0u);
  EXPECT_EQ(a.complete, 2u);
  ASSERT_EQ(a.ops.size(), 3u);
  EXPECT_EQ(a.ops[0].kind, MicroOpKind::kAppend);
  EXPECT_EQ(a.ops[0].key, 3);
  EXPECT_EQ(a.ops[0].value, 1);
  EXPECT_EQ(a.ops[1].kind, MicroOpKind::kRead);
  EXPECT_TRUE(a.ops[1].known);
  EXPECT_TRUE(a.ops[1].is_list);
  EXPECT_EQ(a.ops[1].list, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(a.ops[2].kind, MicroOpKind::kWrite);
  EXPECT_EQ(a.ops[2].value, 2);
  // The info completion has no value: the invocation says what was attempted, reads unknown.
  const Txn& b = (*txns)[1];
  EXPECT_EQ(b.type, OpType::kInfo);
  EXPECT_EQ(b.index, 3);
  ASSERT_EQ(b.ops.size(), 1u);
  EXPECT_FALSE(b.ops[0].known);
}

TEST(TxnTest, DecodesEdnFaultlineJsonlAndElleCliJson) {
  for (const char* text : {kEdn, kFaultlineJsonl, kElleCliJson, kElleCliArray}) {
    SCOPED_TRACE(text);
    auto h = ReadHistory(text, "t");
    ASSERT_TRUE(h) << h.error().message();
    ExpectTheTwoTxns(*h);
  }
}

TEST(TxnTest, WritesBackAsJepsenWritesThem) {
  auto h = ReadHistory(kElleCliJson, "t");
  ASSERT_TRUE(h) << h.error().message();
  auto txns = DecodeTxns(*h);
  ASSERT_TRUE(txns) << txns.error().message();
  EXPECT_EQ(EncodeMicroOps((*txns)[0].ops).ToEdn(), "[[:append 3 1] [:r 4 [1 2]] [:w 5 2]]");
  EXPECT_EQ(EncodeMicroOps((*txns)[1].ops).ToEdn(), "[[:r 3 nil]]");
  // A whole history read from elle-cli's JSON and written as EDN reads back to the same ops.
  auto again = ReadHistory(WriteEdnHistory(*h), "again");
  ASSERT_TRUE(again) << again.error().message();
  ExpectTheTwoTxns(*again);
  auto jsonl = ReadHistory(WriteJsonlHistory(*h), "jsonl");
  ASSERT_TRUE(jsonl) << jsonl.error().message();
  ExpectTheTwoTxns(*jsonl);
}

TEST(TxnTest, RegisterReadsKeepIntegersAndNil) {
  auto ops = DecodeMicroOps(*ParseEdn("[[:r 1 nil] [:r 2 7] [:r 3 []]]", "v"), true);
  ASSERT_TRUE(ops) << ops.error().message();
  EXPECT_TRUE((*ops)[0].nil);
  EXPECT_FALSE((*ops)[1].is_list);
  EXPECT_EQ((*ops)[1].value, 7);
  EXPECT_TRUE((*ops)[2].is_list);
  EXPECT_EQ(EncodeMicroOps(*ops).ToEdn(), "[[:r 1 nil] [:r 2 7] [:r 3 []]]");
}

TEST(TxnTest, BadMicroOpsAreErrorsNamingTheLine) {
  auto h = ReadHistory(
      "{:index 0, :type :invoke, :process 0, :f :txn, :value [[:incr 3 1]]}\n"
      "{:index 1, :type :ok, :process 0, :f :txn, :value [[:incr 3 1]]}\n",
      "bad.edn");
  ASSERT_TRUE(h) << h.error().message();
  auto txns = DecodeTxns(*h);
  ASSERT_FALSE(txns);
  EXPECT_EQ(txns.error().message(),
            "bad.edn: line 2: 0 ok txn [[:incr 3 1]]: a micro-op's f is :append, :r or :w, got "
            ":incr");
  auto notxn = ReadHistory(
      "{:index 0, :type :invoke, :process 0, :f :read, :value nil}\n"
      "{:index 1, :type :ok, :process 0, :f :read, :value 1}\n",
      "reg.edn");
  ASSERT_TRUE(notxn);
  auto t2 = DecodeTxns(*notxn);
  ASSERT_FALSE(t2);
  EXPECT_NE(t2.error().message().find("is not a transaction"), std::string::npos);
}

// Minimal histories (papers, bug reports): :index, :type and :value only. No process: a completion
// closes the oldest open invocation without one, or stands alone; written back without :process.
TEST(TxnTest, MinimalHistoriesWithoutProcessTimeOrF) {
  const std::string edn =
      "{:index 0, :type :ok, :value [[:append 1 1]]}\n"
      "{:index 1, :type :invoke, :value [[:r 1 nil]]}\n"
      "{:index 2, :type :invoke, :value [[:append 1 2]]}\n"
      "{:index 3, :type :ok, :value [[:r 1 [1]]]}\n"
      "{:index 4, :type :info, :value [[:append 1 2]]}\n";
  const std::string json = R"({"index":0,"type":"ok","value":[["append",1,1]]})"
                           "\n"
                           R"({"index":1,"type":"invoke","value":[["r",1,null]]})"
                           "\n"
                           R"({"index":2,"type":"invoke","value":[["append",1,2]]})"
                           "\n"
                           R"({"index":3,"type":"ok","value":[["r",1,[1]]]})"
                           "\n"
                           R"({"index":4,"type":"info","value":[["append",1,2]]})"
                           "\n";
  for (const std::string* text : {&edn, &json}) {
    auto h = ReadHistory(*text, "minimal");
    ASSERT_TRUE(h) << h.error().message();
    EXPECT_TRUE((*h)[0].process.is_none());
    EXPECT_EQ(h->partner(0), History::kNone);  // a bare completion
    EXPECT_EQ(h->partner(3), 1u);              // file order: the oldest open invocation
    EXPECT_EQ(h->partner(4), 2u);
    EXPECT_EQ(h->open_count(), 0u);
    auto txns = DecodeTxns(*h);
    ASSERT_TRUE(txns) << txns.error().message();
    ASSERT_EQ(txns->size(), 3u);
    EXPECT_EQ((*txns)[0].invoke, History::kNone);
    EXPECT_EQ((*txns)[0].type, OpType::kOk);
    EXPECT_EQ((*txns)[1].ops[0].list, (std::vector<int64_t>{1}));
    EXPECT_EQ((*txns)[2].type, OpType::kInfo);
    HistoryStats s = ComputeStats(*h);
    EXPECT_EQ(s.txns, 3u);
    EXPECT_EQ(s.invocations, 2u);  // the bare completion has none
    EXPECT_TRUE(s.open_ops.empty());
    EXPECT_EQ(WriteEdnHistory(*h).find(":process"), std::string::npos);
    if (text == &edn) {
      EXPECT_EQ(WriteEdnHistory(*h), edn);
    }
    EXPECT_EQ(WriteJsonlHistory(*h).find("process"), std::string::npos);
  }
}

TEST(TxnTest, StatsCountTransactionsAndMicroOps) {
  auto h = ReadHistory(kEdn, "t");
  ASSERT_TRUE(h) << h.error().message();
  HistoryStats s = ComputeStats(*h);
  EXPECT_EQ(s.txns, 2u);
  EXPECT_EQ(s.micro_ops, 4u);  // 3 of the ok one, 1 of the info one (from its invocation)
  EXPECT_NE(FormatStats(s).find("txns         2 (4 micro-ops)\n"), std::string::npos);
  EXPECT_NE(StatsToJson(s).find("\"txns\":2,\"micro_ops\":4"), std::string::npos);
}

}  // namespace
}  // namespace faultline::history
