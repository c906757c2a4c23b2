// The revision-order checker: one small history per violation kind, then a cross-check against
// the linearizability search (checker::Check, model cas-register) on hundreds of simulated etcd
// register histories, honest and mutated.
#include "checker/revision_checker.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "checker/checker.h"
#include "checker/testing/revision_sim.h"

namespace faultline::checker {
namespace {

using history::History;
using history::Op;
using history::OpType;
using history::Value;
using testing::Extra;

// Builds a register history from a small script; completions carry etcd's numbers.
class Script {
 public:
  Script& Invoke(int p, std::string f, Value v, std::optional<Value> key = std::nullopt) {
    Op op{.index = -1,
          .time_ns = -1,
          .type = OpType::kInvoke,
          .process = history::Process::Client(p),
          .f = std::move(f),
          .key = std::move(key),
          .value = std::move(v),
          .error = std::nullopt,
          .extras = {}};
    open_[p] = op;
    ops_.push_back(std::move(op));
    return *this;
  }
  // An ok write or cas, with the revision it created.
  Script& Wrote(int p, int64_t revision) {
    Op done = open_[p].Complete(OpType::kOk, open_[p].value);
    done.extras.push_back(Extra("revision", revision));
    ops_.push_back(std::move(done));
    return *this;
  }
  // An ok read of the version created at mod_revision.
  Script& Read(int p, Value v, int64_t mod_revision) {
    Op done = open_[p].Complete(OpType::kOk, std::move(v));
    done.extras.push_back(Extra("mod_revision", mod_revision));
    ops_.push_back(std::move(done));
    return *this;
  }
  Script& Done(int p, OpType type, Value v = Value::Nil()) {
    ops_.push_back(open_[p].Complete(type, std::move(v)));
    return *this;
  }
  Script& Write(int p, int64_t v, int64_t revision) {
    return Invoke(p, "write", Value::Int(v)).Wrote(p, revision);
  }
  Script& ReadNow(int p, Value v, int64_t mod_revision) {
    return Invoke(p, "read", Value::Nil()).Read(p, std::move(v), mod_revision);
  }
  Result<History> Build() const { return History::Build(ops_); }
  RevisionCheckResult Check() {
    Result<History> h = History::Build(ops_);
    EXPECT_TRUE(h) << h.error().message();
    Result<RevisionCheckResult> r = CheckRevisionOrder(*h);
    EXPECT_TRUE(r) << r.error().message();
    return r ? *r : RevisionCheckResult{};
  }

 private:
  std::vector<Op> ops_;
  std::map<int, Op> open_;
};

Value Pair(std::optional<int64_t> a, int64_t b) {
  return Value::Vector({a ? Value::Int(*a) : Value::Nil(), Value::Int(b)});
}

int64_t Count(const RevisionCheckResult& r, std::string_view kind) {
  for (const RevisionViolation& v : r.violations) {
    if (v.kind == kind) return v.count;
  }
  return 0;
}

std::string Kinds(const RevisionCheckResult& r) {
  std::string out;
  for (const RevisionViolation& v : r.violations) out += fmt::format("{}={} ", v.kind, v.count);
  return out + r.explanation;
}

TEST(RevisionCheckerTest, SequentialHistoryIsValid) {
  Script s;
  s.ReadNow(1, Value::Nil(), 0).Write(1, 1, 2).ReadNow(2, Value::Int(1), 2);
  s.Invoke(1, "cas", Pair(1, 2)).Wrote(1, 5).ReadNow(2, Value::Int(2), 5);
  s.Invoke(2, "cas", Pair(1, 3)).Done(2, OpType::kFail, Pair(1, 3));
  const RevisionCheckResult r = s.Check();
  EXPECT_EQ(r.validity, Validity::kValid) << Kinds(r);
  EXPECT_EQ(r.writes, 2);
  EXPECT_EQ(r.reads, 3);
  EXPECT_EQ(r.versions, 2);
}

TEST(RevisionCheckerTest, StaleReadIsFoundWithTheWriteItMissed) {
  Script s;
  s.Write(1, 1, 2).Write(1, 2, 3).ReadNow(2, Value::Int(1), 2);
  const RevisionCheckResult r = s.Check();
  EXPECT_EQ(r.validity, Validity::kInvalid);
  EXPECT_EQ(Count(r, "stale-read"), 1) << Kinds(r);
  ASSERT_FALSE(r.violations.empty());
  EXPECT_NE(r.violations[0].examples[0].find("op 4 read -> 1 (mod_revision 2)"), std::string::npos)
      << r.violations[0].examples[0];
  EXPECT_NE(r.violations[0].examples[0].find("op 2 write 2 (revision 3)"), std::string::npos)
      << r.violations[0].examples[0];
}

TEST(RevisionCheckerTest, ReadOfTheInitialVersionAfterAnAcknowledgedWriteIsStale) {
  Script s;
  s.Write(1, 1, 2).ReadNow(2, Value::Nil(), 0);
  EXPECT_EQ(Count(s.Check(), "stale-read"), 1);
}

TEST(RevisionCheckerTest, WrongValueForTheRevision) {
  Script s;
  s.Write(1, 1, 2).ReadNow(2, Value::Int(5), 2);
  const RevisionCheckResult r = s.Check();
  EXPECT_EQ(r.validity, Validity::kInvalid);
  EXPECT_EQ(Count(r, "wrong-value"), 1) << Kinds(r);
}

TEST(RevisionCheckerTest, UnknownRevisionNeedsAnInfoWriteOfThatValue) {
  Script bad;
  bad.Write(1, 1, 2).ReadNow(2, Value::Int(7), 9);
  EXPECT_EQ(Count(bad.Check(), "value-never-written"), 1);

  Script good;
  good.Write(1, 1, 2).Invoke(3, "write", Value::Int(7)).Done(3, OpType::kInfo, Value::Int(7));
  good.ReadNow(2, Value::Int(7), 9);
  const RevisionCheckResult r = good.Check();
  EXPECT_EQ(r.validity, Validity::kValid) << Kinds(r);
  EXPECT_EQ(r.attributed, 1);

  // The info write was invoked only after the read completed: it cannot be the source.
  Script late;
  late.Write(1, 1, 2).ReadNow(2, Value::Int(7), 9);
  late.Invoke(3, "write", Value::Int(7)).Done(3, OpType::kInfo, Value::Int(7));
  EXPECT_EQ(Count(late.Check(), "value-never-written"), 1);

  // One info write cannot create two revisions.
  Script twice;
  twice.Invoke(3, "write", Value::Int(7)).Done(3, OpType::kInfo, Value::Int(7));
  twice.ReadNow(2, Value::Int(7), 9).ReadNow(2, Value::Int(7), 11);
  EXPECT_EQ(Count(twice.Check(), "value-never-written"), 1);
}

TEST(RevisionCheckerTest, ReadFromTheFuture) {
  Script s;
  s.ReadNow(2, Value::Int(1), 2).Write(1, 1, 2);
  const RevisionCheckResult r = s.Check();
  EXPECT_EQ(Count(r, "future-read"), 1) << Kinds(r);
}

TEST(RevisionCheckerTest, NonMonotonicReadsBetweenConcurrentWrites) {
  Script s;
  s.Invoke(1, "write", Value::Int(1)).Invoke(3, "write", Value::Int(2));
  s.ReadNow(2, Value::Int(2), 3).ReadNow(4, Value::Int(1), 2);
  s.Wrote(1, 2).Wrote(3, 3);
  const RevisionCheckResult r = s.Check();
  EXPECT_EQ(r.validity, Validity::kInvalid);
  EXPECT_EQ(Count(r, "non-monotonic-reads"), 1) << Kinds(r);
  EXPECT_EQ(Count(r, "stale-read"), 0) << Kinds(r);
}

TEST(RevisionCheckerTest, WritesOutOfRealTimeOrder) {
  Script s;
  s.Write(1, 1, 5).Write(2, 2, 4);
  const RevisionCheckResult r = s.Check();
  EXPECT_EQ(Count(r, "write-order"), 1) << Kinds(r);
}

TEST(RevisionCheckerTest, DuplicateRevision) {
  Script s;
  s.Invoke(1, "write", Value::Int(1)).Invoke(2, "write", Value::Int(2)).Wrote(1, 4).Wrote(2, 4);
  EXPECT_EQ(Count(s.Check(), "duplicate-revision"), 1);
}

TEST(RevisionCheckerTest, CasPrecondition) {
  Script bad;
  bad.Write(1, 1, 2).Invoke(2, "cas", Pair(3, 4)).Wrote(2, 3);
  EXPECT_EQ(Count(bad.Check(), "cas-precondition"), 1);

  // An info write of 3 may have taken effect unread between revisions 2 and 5: valid.
  Script unread;
  unread.Write(1, 1, 2).Invoke(3, "write", Value::Int(3)).Done(3, OpType::kInfo, Value::Int(3));
  unread.Invoke(2, "cas", Pair(3, 4)).Wrote(2, 5);
  const RevisionCheckResult r = unread.Check();
  EXPECT_EQ(r.validity, Validity::kValid) << Kinds(r);
  EXPECT_EQ(r.inserted, 1);

  // ...but not between revisions 2 and 3: no revision lies between them.
  Script no_room;
  no_room.Write(1, 1, 2).Invoke(3, "write", Value::Int(3)).Done(3, OpType::kInfo, Value::Int(3));
  no_room.Invoke(2, "cas", Pair(3, 4)).Wrote(2, 3);
  EXPECT_EQ(Count(no_room.Check(), "cas-precondition"), 1);

  // The only info write of 3 is the source of revision 4 (read): it cannot also lie between 6
  // and 8. Another assignment might exist in general, so unknown, not invalid.
  Script taken;
  taken.Invoke(3, "write", Value::Int(3)).Done(3, OpType::kInfo, Value::Int(3));
  taken.ReadNow(1, Value::Int(3), 4).Write(1, 1, 6).Invoke(2, "cas", Pair(3, 4)).Wrote(2, 8);
  const RevisionCheckResult t = taken.Check();
  EXPECT_EQ(t.validity, Validity::kUnknown) << Kinds(t);

  Script create;
  create.Invoke(2, "cas", Pair(std::nullopt, 4)).Wrote(2, 3).ReadNow(1, Value::Int(4), 3);
  EXPECT_EQ(create.Check().validity, Validity::kValid);
}

TEST(RevisionCheckerTest, MissingNumbersGiveUnknownNotValid) {
  Script no_rev;
  no_rev.Invoke(1, "write", Value::Int(1)).Done(1, OpType::kOk, Value::Int(1));
  no_rev.ReadNow(2, Value::Int(1), 2);
  const RevisionCheckResult a = no_rev.Check();
  EXPECT_EQ(a.validity, Validity::kUnknown) << Kinds(a);
  EXPECT_EQ(a.keys_checked, 0);

  Script no_mod;
  no_mod.Write(1, 1, 2).Invoke(2, "read", Value::Nil()).Done(2, OpType::kOk, Value::Int(1));
  EXPECT_EQ(no_mod.Check().validity, Validity::kUnknown);

  // A certain violation elsewhere still makes it invalid.
  no_mod.Write(1, 2, 3).ReadNow(2, Value::Int(1), 2);
  EXPECT_EQ(no_mod.Check().validity, Validity::kInvalid);
}

TEST(RevisionCheckerTest, KeysAreCheckedApartAndNamed) {
  Script s;
  s.Invoke(1, "write", Value::Int(1), Value::Int(10)).Wrote(1, 2);
  s.Invoke(1, "write", Value::Int(1), Value::Int(11)).Wrote(1, 3);
  // Key 11's revision 3 is not key 10's: a read of key 10 at revision 3 is unexplained.
  s.Invoke(2, "read", Value::Nil(), Value::Int(10)).Read(2, Value::Int(1), 3);
  s.Invoke(2, "read", Value::Nil(), Value::Int(11)).Read(2, Value::Int(1), 3);
  const RevisionCheckResult r = s.Check();
  EXPECT_EQ(r.keys, 2);
  EXPECT_EQ(Count(r, "value-never-written"), 1) << Kinds(r);
  ASSERT_FALSE(r.violations.empty());
  EXPECT_EQ(r.violations[0].examples[0].rfind("key 10: ", 0), 0u) << r.violations[0].examples[0];
}

TEST(RevisionCheckerTest, HasRevisions) {
  Result<History> without = History::Build({});
  ASSERT_TRUE(without);
  EXPECT_FALSE(HasRevisions(*without));
  Script writes_only;  // header revisions on writes, none on reads: an older run
  writes_only.Write(1, 1, 2).Invoke(2, "read", Value::Nil()).Done(2, OpType::kOk, Value::Int(1));
  Result<History> older = writes_only.Build();
  ASSERT_TRUE(older) << older.error().message();
  EXPECT_FALSE(HasRevisions(*older));
  Result<History> with = testing::Simulate(testing::SimOptions{.seed = 1});
  ASSERT_TRUE(with) << with.error().message();
  EXPECT_TRUE(HasRevisions(*with));
}

// ---- cross-check against the search ----

struct Tally {
  int histories = 0;
  int both_valid = 0;
  int both_invalid = 0;
  int revision_only_invalid = 0;  // values explainable by another order; revisions are not
  int revision_unknown = 0;
  int search_unknown = 0;
  int exact_decided = 0;  // histories where the revision-forced search decided
};

Validity Search(const History& h, std::optional<Value> initial = std::nullopt) {
  checker::CheckOptions options;
  options.model = "cas-register";
  options.initial = std::move(initial);
  options.time_limit_s = 10;
  options.threads = 1;
  Result<checker::CheckResult> r = checker::Check(h, options);
  EXPECT_TRUE(r) << r.error().message();
  return r ? r->validity : Validity::kUnknown;
}

void CrossCheck(const testing::SimOptions& options, Tally& tally) {
  SCOPED_TRACE(fmt::format("seed {} mutation {} info_writes {}", options.seed,
                           testing::MutationName(options.mutation), options.info_writes));
  Result<History> h = testing::Simulate(options);
  ASSERT_TRUE(h) << h.error().message();
  Result<RevisionCheckResult> rev = CheckRevisionOrder(*h);
  ASSERT_TRUE(rev) << rev.error().message();
  const Validity search = Search(*h);
  ++tally.histories;
  if (rev->validity == Validity::kUnknown) ++tally.revision_unknown;
  if (search == Validity::kUnknown) ++tally.search_unknown;
  // Soundness: a valid revision verdict is a linearization, which the search must accept.
  if (rev->validity == Validity::kValid) {
    EXPECT_NE(search, Validity::kInvalid) << Kinds(*rev);
    if (search == Validity::kValid) ++tally.both_valid;
  }
  // Not linearizable at all means not linearizable in revision order either.
  if (search == Validity::kInvalid) {
    EXPECT_NE(rev->validity, Validity::kValid);
    if (rev->validity == Validity::kInvalid) ++tally.both_invalid;
  }
  if (rev->validity == Validity::kInvalid && search == Validity::kValid) {
    ++tally.revision_only_invalid;
  }
  // An honest etcd's history is linearizable in revision order.
  if (options.mutation == testing::Mutation::kNone) {
    EXPECT_NE(rev->validity, Validity::kInvalid) << Kinds(*rev);
    EXPECT_EQ(search, Validity::kValid);
  }
  // Without info writes, the search over the history with the revision order forced into the
  // values decides exactly what the revision checker decides.
  if (!options.info_writes) {
    Result<History> forced = testing::ForceRevisionOrder(*h);
    ASSERT_TRUE(forced) << forced.error().message();
    const Validity exact = Search(*forced, Value::Vector({Value::Nil(), Value::Int(0)}));
    if (exact != Validity::kUnknown) {
      ++tally.exact_decided;
      EXPECT_EQ(rev->validity, exact) << Kinds(*rev);
    }
  }
}

TEST(RevisionCheckerCrossCheckTest, AgreesWithTheSearchOnSimulatedEtcdHistories) {
  Tally tally;
  const testing::Mutation mutations[] = {
      testing::Mutation::kNone, testing::Mutation::kStaleRead, testing::Mutation::kFutureRead,
      testing::Mutation::kWrongValue, testing::Mutation::kSwapRevisions};
  uint64_t seed = 1;
  for (bool info_writes : {false, true}) {
    for (testing::Mutation m : mutations) {
      for (int i = 0; i < 60; ++i) {
        CrossCheck(testing::SimOptions{.seed = seed++,
                                       .processes = 4 + i % 3,
                                       .ops = 16 + (i % 5) * 6,
                                       .values = 3 + i % 3,
                                       .info_writes = info_writes,
                                       .mutation = m},
                   tally);
        if (HasFatalFailure()) return;
      }
    }
  }
  std::printf(
      "%d histories: %d both valid, %d both invalid, %d invalid by revisions only, revision "
      "unknown %d, search unknown %d, exact cross-checks %d\n",
      tally.histories, tally.both_valid, tally.both_invalid, tally.revision_only_invalid,
      tally.revision_unknown, tally.search_unknown, tally.exact_decided);
  // Not vacuous: both verdicts occur often, and the exact cross-check ran.
  EXPECT_GE(tally.histories, 600);
  EXPECT_GE(tally.both_valid, 100);
  EXPECT_GE(tally.both_invalid, 100);
  EXPECT_GE(tally.exact_decided, 250);
  EXPECT_LE(tally.revision_unknown, tally.histories / 5);
}

// Larger honest histories over several keys, as the benchmark uses: never invalid, and valid
// for the search too (ops carry Op::key; the search reads [key value]).
TEST(RevisionCheckerCrossCheckTest, HonestMultiKeyHistoriesAreNeverInvalid) {
  int valid = 0;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    SCOPED_TRACE(fmt::format("seed {}", seed));
    Result<History> h = testing::Simulate(testing::SimOptions{.seed = seed,
                                                              .processes = 10,
                                                              .ops = 2000,
                                                              .values = 5,
                                                              .info_writes = true,
                                                              .mutation = testing::Mutation::kNone,
                                                              .keys = 5,
                                                              .info_share = 0.05});
    ASSERT_TRUE(h) << h.error().message();
    Result<RevisionCheckResult> rev = CheckRevisionOrder(*h);
    ASSERT_TRUE(rev) << rev.error().message();
    EXPECT_NE(rev->validity, Validity::kInvalid) << Kinds(*rev);
    if (rev->validity == Validity::kValid) ++valid;
    std::vector<Op> ops(h->ops().begin(), h->ops().end());
    for (Op& op : ops) op.value = Value::Vector({*op.key, std::move(op.value)});
    Result<History> independent = History::Build(std::move(ops));
    ASSERT_TRUE(independent) << independent.error().message();
    checker::CheckOptions options;
    options.model = "independent/cas-register";
    options.time_limit_s = 20;
    Result<checker::CheckResult> search = checker::Check(*independent, options);
    ASSERT_TRUE(search) << search.error().message();
    EXPECT_NE(search->validity, Validity::kInvalid);
  }
  // Unknown (an unseen info write may explain a cas) is allowed, but must stay the exception.
  std::printf("%d of 20 honest multi-key histories valid by revisions, the rest unknown\n", valid);
  EXPECT_GE(valid, 15);
}

}  // namespace
}  // namespace faultline::checker
