// Stale reads by version and their cause, on small hand-written histories: a stale read from a
// node cut off by an isolation, one from a lagging node in the majority, one read that is not
// stale, and a partition recorded without its cut.
#include "checker/stale_reads.h"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "history/fields.h"

namespace faultline::checker {
namespace {

using history::Op;
using history::OpType;
using history::Process;
using history::Value;

// Ops at 1 s steps (so times show in the report), built in the order written.
class Ops {
 public:
  Ops& Invoke(int p, std::string f, Value v) {
    Op op{.index = -1,
          .time_ns = Now(),
          .type = OpType::kInvoke,
          .process = Process::Client(p),
          .f = std::move(f),
          .key = Value::String("k"),
          .value = std::move(v),
          .error = std::nullopt,
          .extras = {}};
    open_[p] = op;
    ops_.push_back(std::move(op));
    return *this;
  }
  // A write's or cas's completion carries :revision, a read's :mod_revision (as ZooKeeper's do).
  Ops& Ok(int p, Value v, std::string node, int64_t version) {
    Op done = open_[p].Complete(OpType::kOk, std::move(v));
    done.time_ns = Now();
    done.AddExtra(history::field::kNode, Value::String(std::move(node)));
    done.AddExtra(done.f == "read" ? history::field::kModRevision : history::field::kRevision,
                  Value::Int(version));
    ops_.push_back(std::move(done));
    return *this;
  }
  // A nemesis pair; `cut_off` nullopt: the completion does not say (an older history).
  Ops& Nemesis(std::string f, std::string what,
               std::optional<std::vector<std::string>> cut_off = std::nullopt) {
    Op op{.index = -1,
          .time_ns = Now(),
          .type = OpType::kInfo,
          .process = Process::Nemesis(),
          .f = f,
          .key = std::nullopt,
          .value = Value::String(what),
          .error = std::nullopt,
          .extras = {}};
    ops_.push_back(op);
    op.time_ns = Now();
    if (cut_off) op.AddExtra(history::field::kCutOff, Value::Strings(*cut_off));
    ops_.push_back(std::move(op));
    return *this;
  }
  history::History Build() {
    Result<history::History> h = history::History::Build(ops_);
    EXPECT_TRUE(h) << h.error().message();
    return *h;
  }

 private:
  int64_t Now() { return ++clock_ * 1'000'000'000; }
  int64_t clock_ = 0;
  std::vector<Op> ops_;
  std::map<int, Op> open_;
};

// n1 and n2 are in the majority, n3 is isolated from 5 s until the heal at 12 s. Op indexes are
// positions: 0-1 write 1, 2-3 write 2 (revision 20), 4-5 isolate, 6-7 n3's stale read (during),
// 8-9 the heal, 10-11 n2's stale read (lag), 12-13 n1's fresh read.
history::History ThreeReads() {
  return Ops()
      .Invoke(0, "write", Value::Int(1))
      .Ok(0, Value::Int(1), "n1", 10)
      .Invoke(0, "write", Value::Int(2))
      .Ok(0, Value::Int(2), "n1", 20)
      .Nemesis("partition", "isolate n3", std::vector<std::string>{"n3"})
      .Invoke(3, "read", Value::Nil())
      .Ok(3, Value::Int(1), "n3", 10)
      .Nemesis("heal", "heal all")
      .Invoke(2, "read", Value::Nil())
      .Ok(2, Value::Int(1), "n2", 10)
      .Invoke(1, "read", Value::Nil())
      .Ok(1, Value::Int(2), "n1", 20)
      .Build();
}

TEST(StaleReadsTest, TellsIsolationFromLagAndLeavesFreshReadsAlone) {
  const StaleReadReport r = FindStaleReads(ThreeReads());
  ASSERT_EQ(r.reads.size(), 2u);
  EXPECT_EQ(r.cut_off, 1);
  EXPECT_EQ(r.lag, 1);
  EXPECT_EQ(r.unknown, 0);
  EXPECT_EQ(r.partitions, 1);

  const StaleRead& isolated = r.reads[0];
  EXPECT_EQ(isolated.index, 6);
  EXPECT_EQ(isolated.node, "n3");
  EXPECT_EQ(isolated.cause, StaleReadCause::kCutOff);
  EXPECT_EQ(isolated.fault, "isolate n3");
  EXPECT_EQ(isolated.revision, 10);
  EXPECT_EQ(isolated.floor, 20);
  // The write it missed, and how long before the read it was acknowledged: write 2 completed at
  // 4 s, the read was invoked at 7 s.
  EXPECT_EQ(isolated.missed_index, 2);
  EXPECT_EQ(isolated.missed_f, "write");
  EXPECT_EQ(isolated.missed_value, "2");
  EXPECT_EQ(isolated.missed_revision, 20);
  EXPECT_EQ(isolated.missed_writes, 1);
  ASSERT_TRUE(isolated.missed_by_s);
  EXPECT_DOUBLE_EQ(*isolated.missed_by_s, 3.0);
  EXPECT_NE(isolated.Describe().find("n3 was cut off from the majority (isolate n3)"),
            std::string::npos)
      << isolated.Describe();

  const StaleRead& lagging = r.reads[1];
  EXPECT_EQ(lagging.index, 10);
  EXPECT_EQ(lagging.node, "n2");
  EXPECT_EQ(lagging.cause, StaleReadCause::kLag);
  EXPECT_TRUE(lagging.fault.empty());
  EXPECT_EQ(lagging.missed_index, 2);
  EXPECT_NE(lagging.Describe().find("n2 was in the majority (lag)"), std::string::npos)
      << lagging.Describe();

  EXPECT_EQ(StaleReadSummary(r),
            "2 stale reads: 1 from a node cut off from the majority (n3 1); 1 from a node in the "
            "majority, lagging (n2 1)");
}

TEST(StaleReadsTest, JsonCountsByNodeAndGivesExamplesPerCause) {
  const auto j = nlohmann::json::parse(StaleReadReportToJson(FindStaleReads(ThreeReads()), 5));
  EXPECT_EQ(j["count"], 2);
  EXPECT_EQ(j["cut_off"], 1);
  EXPECT_EQ(j["lag"], 1);
  EXPECT_EQ(j["by_node"]["n3"]["cut_off"], 1);
  EXPECT_EQ(j["by_node"]["n3"]["lag"], 0);
  EXPECT_EQ(j["by_node"]["n2"]["lag"], 1);
  EXPECT_FALSE(j["by_node"].contains("n1"));
  ASSERT_EQ(j["examples"]["cut_off"].size(), 1u);
  const auto& e = j["examples"]["cut_off"][0];
  EXPECT_EQ(e["op"], 6);
  EXPECT_EQ(e["node"], "n3");
  EXPECT_EQ(e["missed_op"], 2);
  EXPECT_DOUBLE_EQ(e["missed_by_ms"].get<double>(), 3000.0);
  EXPECT_EQ(j["examples"]["lag"][0]["node"], "n2");
  EXPECT_TRUE(j["examples"]["unknown"].empty());
  // max_examples bounds each list.
  const auto none = nlohmann::json::parse(StaleReadReportToJson(FindStaleReads(ThreeReads()), 0));
  EXPECT_TRUE(none["examples"]["cut_off"].empty());
  EXPECT_EQ(none["cut_off"], 1);
}

// A stale read from a node in the majority while another node is isolated is lag; a read that
// overlaps the heal is still during the partition.
TEST(StaleReadsTest, OnlyTheCutOffNodeCountsAsCutOff) {
  const StaleReadReport r =
      FindStaleReads(Ops()
                         .Invoke(0, "write", Value::Int(1))
                         .Ok(0, Value::Int(1), "n1", 10)
                         .Nemesis("partition", "isolate n3", std::vector<std::string>{"n3"})
                         .Invoke(0, "write", Value::Int(2))
                         .Ok(0, Value::Int(2), "n1", 20)
                         .Invoke(2, "read", Value::Nil())
                         .Ok(2, Value::Int(1), "n2", 10)
                         .Invoke(3, "read", Value::Nil())
                         .Nemesis("heal", "heal all")
                         .Ok(3, Value::Int(1), "n3", 10)
                         .Build());
  ASSERT_EQ(r.reads.size(), 2u);
  EXPECT_EQ(r.reads[0].node, "n2");
  EXPECT_EQ(r.reads[0].cause, StaleReadCause::kLag);
  EXPECT_EQ(r.reads[1].node, "n3");
  EXPECT_EQ(r.reads[1].cause, StaleReadCause::kCutOff);
}

// A partition whose completion does not name whom it cut off: the cause is not guessed.
TEST(StaleReadsTest, PartitionWithoutItsCutIsUnknown) {
  const StaleReadReport r = FindStaleReads(Ops()
                                               .Invoke(0, "write", Value::Int(1))
                                               .Ok(0, Value::Int(1), "n1", 10)
                                               .Nemesis("partition", "partition halves")
                                               .Invoke(3, "read", Value::Nil())
                                               .Ok(3, Value::Nil(), "n3", 0)
                                               .Build());
  ASSERT_EQ(r.reads.size(), 1u);
  EXPECT_EQ(r.unknown, 1);
  EXPECT_EQ(r.reads[0].cause, StaleReadCause::kUnknown);
  EXPECT_EQ(r.reads[0].fault, "partition halves");
  EXPECT_EQ(r.reads[0].value, "nil");
  EXPECT_NE(StaleReadSummary(r).find("1 during a partition that did not record its cut (n3 1)"),
            std::string::npos)
      << StaleReadSummary(r);
}

// Without versions nothing is judged; without stale reads the summary is empty.
TEST(StaleReadsTest, NothingWithoutVersionsOrStaleness) {
  history::History h = *history::History::Build({Op{.index = -1,
                                                    .time_ns = -1,
                                                    .type = OpType::kInvoke,
                                                    .process = Process::Client(0),
                                                    .f = "read",
                                                    .key = Value::String("k"),
                                                    .value = Value::Nil(),
                                                    .error = std::nullopt,
                                                    .extras = {}}});
  EXPECT_TRUE(FindStaleReads(h).reads.empty());
  const StaleReadReport fresh = FindStaleReads(Ops()
                                                   .Invoke(0, "write", Value::Int(1))
                                                   .Ok(0, Value::Int(1), "n1", 10)
                                                   .Invoke(1, "read", Value::Nil())
                                                   .Ok(1, Value::Int(1), "n2", 10)
                                                   .Build());
  EXPECT_TRUE(fresh.reads.empty());
  EXPECT_EQ(StaleReadSummary(fresh), "");
}

}  // namespace
}  // namespace faultline::checker
