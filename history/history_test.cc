#include "history/history.h"

#include <gtest/gtest.h>

#include <ostream>

namespace faultline::history {
namespace {

Op Make(OpType type, Process p, std::string f, Value v = Value()) {
  return Op{.index = -1,
            .time_ns = -1,
            .type = type,
            .process = std::move(p),
            .f = std::move(f),
            .key = std::nullopt,
            .value = std::move(v),
            .error = std::nullopt,
            .extras = {}};
}
Op Inv(int64_t p, std::string f, Value v = Value()) {
  return Make(OpType::kInvoke, Process::Client(p), std::move(f), std::move(v));
}
Op Done(OpType t, int64_t p, std::string f, Value v = Value()) {
  return Make(t, Process::Client(p), std::move(f), std::move(v));
}
Op Nem(std::string f, Value v = Value()) {
  return Make(OpType::kInfo, Process::Nemesis(), std::move(f), std::move(v));
}

TEST(HistoryTest, PairsInvocationsWithCompletions) {
  auto h = History::Build({Inv(0, "write", Value::Int(3)), Inv(1, "read"),
                           Done(OpType::kOk, 0, "write", Value::Int(3)),
                           Done(OpType::kOk, 1, "read", Value::Int(3)), Inv(0, "read")});
  ASSERT_TRUE(h) << h.error().message();
  EXPECT_EQ(h->partner(0), 2u);
  EXPECT_EQ(h->partner(2), 0u);
  EXPECT_EQ(h->partner(1), 3u);
  EXPECT_EQ(h->partner(4), History::kNone);
  EXPECT_EQ(h->invocation_count(), 3u);
  EXPECT_EQ(h->open_count(), 1u);
  EXPECT_EQ((*h)[3].index, 3);  // positions become indices when absent
}

TEST(HistoryTest, NemesisInfoHalvesPairWithEachOther) {
  auto h = History::Build({Nem("start-partition", Value::Keyword("majority")), Inv(0, "read"),
                           Nem("start-partition", Value::Keyword("isolated")),
                           Done(OpType::kInfo, 0, "read"), Nem("stop-partition"),
                           Nem("stop-partition", Value::Keyword("network-healed"))});
  ASSERT_TRUE(h) << h.error().message();
  EXPECT_EQ(h->partner(0), 2u);
  EXPECT_EQ(h->partner(4), 5u);
  EXPECT_EQ(h->open_count(), 0u);
}

struct BadHistory {
  std::string name;
  std::vector<Op> ops;
  std::string message;
};

void PrintTo(const BadHistory& c, std::ostream* os) { *os << c.name; }

class HistoryErrorTest : public testing::TestWithParam<BadHistory> {};

TEST_P(HistoryErrorTest, NamesFileAndLines) {
  std::vector<int64_t> lines;
  for (size_t i = 0; i < GetParam().ops.size(); ++i) lines.push_back(static_cast<int64_t>(10 + i));
  auto h = History::Build(GetParam().ops, Source{.name = "h.edn", .lines = lines});
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error().message(), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, HistoryErrorTest,
    testing::Values(
        BadHistory{"CompletionWithoutInvoke",
                   {Inv(0, "read"), Done(OpType::kOk, 1, "read")},
                   "h.edn: line 11: completion of process 1 (ok read) with no open invocation"},
        BadHistory{"TwoOpenInvokes",
                   {Inv(0, "read"), Inv(0, "write", Value::Int(1))},
                   "h.edn: line 11: process 0 invokes write while its read from line 10 is still "
                   "open (a process runs one op at a time)"},
        BadHistory{"DifferentF",
                   {Inv(0, "read"), Done(OpType::kOk, 0, "write")},
                   "h.edn: line 11: completion of process 0 has f write but its invocation at "
                   "line 10 has f read"},
        BadHistory{"IndexGoesBack",
                   [] {
                     std::vector<Op> ops{Inv(0, "read"), Done(OpType::kOk, 0, "read")};
                     ops[0].index = 5;
                     ops[1].index = 5;
                     return ops;
                   }(),
                   "h.edn: line 11: :index 5 does not increase (the op before has 5)"}),
    [](const testing::TestParamInfo<BadHistory>& param) { return param.param.name; });

// Time going back is no longer an error (history.h): the op is kept in file order and counted.
TEST(HistoryTest, TimeGoingBackIsCountedNotRefused) {
  std::vector<Op> ops{Inv(0, "read"), Done(OpType::kOk, 0, "read")};
  ops[0].time_ns = 100;
  ops[1].time_ns = 50;
  auto h = History::Build(std::move(ops), Source{.name = "h.edn", .lines = {10, 11}});
  ASSERT_TRUE(h) << h.error().message();
  EXPECT_EQ(h->time_regressions(), 1u);
  EXPECT_EQ(h->first_time_regression(), 1u);
  EXPECT_EQ(h->partner(0), 1u);
  EXPECT_EQ(TimeRegressionNote(*h),
            "1 op has a :time before that of an op above (first: line 11); the file order is used "
            "for real-time precedence");
}

Value Pair(int64_t k, Value v) { return Value::Vector({Value::Int(k), std::move(v)}); }

TEST(HistoryTest, SplitIndependentGroupsByKeyInKeyOrder) {
  Value cas = Value::Vector({Value::Int(1), Value::Int(2)});
  auto h = History::Build(
      {Inv(0, "cas", Pair(7, cas)), Inv(1, "write", Pair(3, Value::Int(1))), Nem("start-partition"),
       Done(OpType::kOk, 1, "write", Pair(3, Value::Int(1))),
       Done(OpType::kFail, 0, "cas", Pair(7, cas)), Inv(1, "read", Pair(7, Value()))});
  ASSERT_TRUE(h) << h.error().message();
  auto parts = h->SplitIndependent();
  ASSERT_TRUE(parts) << parts.error().message();
  ASSERT_EQ(parts->size(), 2u);
  auto it = parts->begin();
  EXPECT_EQ(it->first, Value::Int(3));
  EXPECT_EQ(it->second.size(), 2u);
  ++it;
  EXPECT_EQ(it->first, Value::Int(7));
  ASSERT_EQ(it->second.size(), 3u);
  EXPECT_EQ(it->second[0].value, cas);
  EXPECT_EQ(it->second[0].key, Value::Int(7));
  EXPECT_EQ(it->second[2].value, Value());
  EXPECT_EQ(it->second.open_count(), 1u);
}

TEST(HistoryTest, SplitIndependentRejectsValuesThatAreNotPairs) {
  auto h = History::Build({Inv(0, "write", Value::Int(3))});
  ASSERT_TRUE(h);
  auto parts = h->SplitIndependent();
  ASSERT_FALSE(parts);
  EXPECT_NE(parts.error().message().find("expected an independent [key value] pair"),
            std::string::npos);
}

}  // namespace
}  // namespace faultline::history
