// kv histories whose gets return real concatenations of concurrent appends (sometimes altered by
// one character), checked with `kv` and `kv-unpartitioned` and compared with the brute-force
// checker. The random histories of property_test.cc rarely build long strings, so they exercise
// little of the kv model's early "appends alone cannot produce this get" prune; these do.
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "checker/brute_force.h"
#include "checker/checker.h"
#include "history/history.h"

namespace faultline::checker {
namespace {

using history::History;
using history::Op;
using history::OpType;
using history::Process;
using history::Value;

constexpr uint64_t kSeed = 20261128;
constexpr int kHistories = 3000;

class Generator {
 public:
  explicit Generator(uint64_t seed, int min_keys = 1, int max_keys = 2)
      : rng_(seed), min_keys_(min_keys), max_keys_(max_keys) {}

  // One history of up to 12 ops by 2-5 processes on 1-2 keys (or as constructed): puts, appends
  // of fresh (or repeated) one-letter strings and gets; ops take effect at a random moment inside
  // their interval or, for some info ops, never.
  std::vector<Op> Next() {
    const int procs = Uniform(2, 5);
    const int nops = Uniform(2, 12);
    const int nkeys = Uniform(min_keys_, max_keys_);
    const double put_p = Uniform(0, 3) * 0.1;
    std::map<std::string, std::string> kv;
    struct Open {
      Op inv;
      bool applied = false;
      std::string result;
    };
    std::vector<std::optional<Open>> open(static_cast<size_t>(procs));
    std::vector<Op> ops;
    int invoked = 0;
    char next_char = 'a';
    auto apply = [&kv](Open& o) {
      const std::string& key = o.inv.key->text();
      if (o.inv.f == "put") kv[key] = o.inv.value.text();
      if (o.inv.f == "append") kv[key] += o.inv.value.text();
      if (o.inv.f == "get") o.result = kv[key];
      o.applied = true;
    };
    while (true) {
      std::vector<size_t> idle, busy;
      for (size_t p = 0; p < open.size(); ++p) (open[p] ? busy : idle).push_back(p);
      const bool can_invoke = invoked < nops && !idle.empty();
      if (!can_invoke && busy.empty()) break;
      const int action = Uniform(0, 2);  // 0 invoke, 1 take effect, 2 complete
      if (can_invoke && (busy.empty() || action == 0)) {
        const size_t p = idle[static_cast<size_t>(Uniform(0, static_cast<int>(idle.size()) - 1))];
        Op op{.index = -1,
              .time_ns = -1,
              .type = OpType::kInvoke,
              .process = Process::Client(static_cast<int64_t>(p)),
              .f = "get",
              .key = Value::String(std::to_string(Uniform(0, nkeys - 1))),
              .value = Value(),
              .error = std::nullopt,
              .extras = {}};
        const double r = std::uniform_real_distribution<double>(0, 1)(rng_);
        if (r < put_p) {
          op.f = "put";
          op.value = Value::String(std::string(1, next_char++));
        } else if (r < 0.6) {
          op.f = "append";
          op.value = Value::String(Uniform(0, 5) == 0
                                       ? std::string(1, static_cast<char>('a' + Uniform(0, 2)))
                                       : std::string(1, next_char++));
        }
        if (next_char > 'z') next_char = 'a';
        ops.push_back(op);
        open[p] = Open{.inv = std::move(op), .applied = false, .result = {}};
        ++invoked;
        continue;
      }
      if (busy.empty()) continue;
      const size_t p = busy[static_cast<size_t>(Uniform(0, static_cast<int>(busy.size()) - 1))];
      Open& o = *open[p];
      if (action == 1) {
        if (!o.applied) apply(o);
        continue;
      }
      const int kind = Uniform(0, 19);
      Op done = o.inv.Complete(OpType::kOk, o.inv.value);
      if (!o.applied && kind == 0) {  // info, and it never takes effect
        done.type = OpType::kInfo;
        ops.push_back(std::move(done));
        open[p].reset();
        continue;
      }
      if (!o.applied) apply(o);
      if (kind == 1 && o.inv.f != "get") done.type = OpType::kInfo;
      if (o.inv.f == "get") {
        std::string v = o.result;
        const int alter = Uniform(0, 9);
        if (alter == 0 && v.size() >= 2) {
          std::swap(v[0], v[v.size() - 1]);
        } else if (alter == 1 && !v.empty()) {
          v.pop_back();
        } else if (alter == 2) {
          v += 'q';
        }
        done.value = Value::String(std::move(v));
      }
      ops.push_back(std::move(done));
      open[p].reset();
    }
    return ops;
  }

 private:
  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  std::mt19937_64 rng_;
  int min_keys_;
  int max_keys_;
};

TEST(KvPropertyTest, CheckAgreesWithBruteForceOnConcatenatedAppends) {
  Generator gen(kSeed);
  int valid = 0;
  int invalid = 0;
  for (int i = 0; i < kHistories; ++i) {
    auto h = History::Build(gen.Next());
    ASSERT_TRUE(h) << "seed " << kSeed << " history " << i << ": " << h.error().message();
    auto expected = BruteForceCheck(
        *h, BruteForceOptions{.model = "kv", .initial = std::nullopt, .max_ops = 16});
    ASSERT_TRUE(expected) << "seed " << kSeed << " history " << i << ": "
                          << expected.error().message();
    (*expected == Validity::kValid ? valid : invalid)++;
    for (const char* model : {"kv", "kv-unpartitioned"}) {
      // Both searches: the depth-first one, and the frontier one forced.
      for (SearchMode search : {SearchMode::kAuto, SearchMode::kFrontier}) {
        auto got = Check(*h, CheckOptions{.model = model,
                                          .initial = std::nullopt,
                                          .time_limit_s = 0,
                                          .memory_limit_mb = 0,
                                          .threads = 1,
                                          .search = search});
        ASSERT_TRUE(got) << got.error().message();
        if (got->validity != *expected) {
          std::string ops;
          for (const Op& op : h->ops()) ops += "  " + history::Describe(op) + "\n";
          FAIL() << "seed " << kSeed << " history " << i << ", model " << model
                 << (search == SearchMode::kFrontier ? " (frontier search)" : "") << ": check says "
                 << ValidityName(got->validity) << ", brute force says " << ValidityName(*expected)
                 << "\n"
                 << ops;
        }
      }
    }
  }
  // Both verdicts must be common, or the comparison proves little.
  EXPECT_GT(valid, kHistories / 10);
  EXPECT_GT(invalid, kHistories / 10);
}

// Issue 16: the whole-map search learns failures per key and backjumps over other keys' ops; with
// 3-5 keys per history those paths (and failures explained by several keys) are common. Its
// verdict must be the brute force's, and that of the search split by key.
TEST(KvPropertyTest, WholeMapSearchLearningAgreesWithBruteForce) {
  Generator gen(kSeed + 1, 3, 5);
  int valid = 0;
  int invalid = 0;
  for (int i = 0; i < kHistories; ++i) {
    auto h = History::Build(gen.Next());
    ASSERT_TRUE(h) << "history " << i << ": " << h.error().message();
    auto expected = BruteForceCheck(
        *h, BruteForceOptions{.model = "kv", .initial = std::nullopt, .max_ops = 16});
    ASSERT_TRUE(expected) << "history " << i << ": " << expected.error().message();
    (*expected == Validity::kValid ? valid : invalid)++;
    for (const char* model : {"kv", "kv-unpartitioned"}) {
      auto got = Check(*h, CheckOptions{.model = model,
                                        .initial = std::nullopt,
                                        .time_limit_s = 0,
                                        .memory_limit_mb = 0,
                                        .threads = 1,
                                        .search = SearchMode::kDepthFirst});
      ASSERT_TRUE(got) << got.error().message();
      if (got->validity != *expected) {
        std::string ops;
        for (const Op& op : h->ops()) ops += "  " + history::Describe(op) + "\n";
        FAIL() << "history " << i << ", model " << model << ": check says "
               << ValidityName(got->validity) << ", brute force says " << ValidityName(*expected)
               << "\n"
               << ops;
      }
    }
  }
  EXPECT_GT(valid, kHistories / 10);
  EXPECT_GT(invalid, kHistories / 10);
}

// Issue 16: the write-order detector (internal/write_order.h) on kv keys with appends, and per key
// in the whole-map model. Whenever it decides (a cycle, before any search), the brute force must
// find the history invalid; and it must decide a fair share of the invalid histories, or the
// comparison proves little. Values appended twice (the generator repeats a, b and c) and gets that
// parse more than one way add no constraint.
TEST(KvPropertyTest, WriteOrderDetectorOnAppendsIsSound) {
  Generator gen(kSeed + 2, 1, 3);
  int invalid = 0;
  int decided = 0;
  for (int i = 0; i < kHistories; ++i) {
    auto h = History::Build(gen.Next());
    ASSERT_TRUE(h) << "history " << i << ": " << h.error().message();
    auto expected = BruteForceCheck(
        *h, BruteForceOptions{.model = "kv", .initial = std::nullopt, .max_ops = 16});
    ASSERT_TRUE(expected) << "history " << i << ": " << expected.error().message();
    if (*expected == Validity::kInvalid) ++invalid;
    bool by_detector = false;
    for (const char* model : {"kv", "kv-unpartitioned"}) {
      auto got = Check(*h, CheckOptions{.model = model,
                                        .initial = std::nullopt,
                                        .time_limit_s = 0,
                                        .memory_limit_mb = 0,
                                        .threads = 1,
                                        .search = SearchMode::kDepthFirst});
      ASSERT_TRUE(got) << got.error().message();
      const bool detected =
          got->counterexample.has_value() &&
          got->counterexample->explanation.find("admit no order") != std::string::npos;
      if (detected && model == std::string("kv-unpartitioned")) {
        EXPECT_EQ(got->configurations, 0u) << "history " << i << ": the detector decides";
      }
      if (got->validity != *expected) {
        std::string ops;
        for (const Op& op : h->ops()) ops += "  " + history::Describe(op) + "\n";
        FAIL() << "history " << i << ", model " << model << ": check says "
               << ValidityName(got->validity) << (detected ? " (write-order detector)" : "")
               << ", brute force says " << ValidityName(*expected) << "\n"
               << ops;
      }
      by_detector |= detected;
    }
    if (by_detector) ++decided;
  }
  RecordProperty("invalid", invalid);
  RecordProperty("decided_by_detector", decided);
  EXPECT_GT(invalid, kHistories / 10);
  EXPECT_GT(decided, invalid / 5) << decided << " of " << invalid << " invalid histories";
}

}  // namespace
}  // namespace faultline::checker
