// A counter checker for the `counter` workload: ops `add` (invocation value: a positive delta) and
// `read` (ok completion value: the counter), on one or more counters named by Op::key; every
// counter starts at 0. Final reads are reads whose invocation carries :final true; they are checked
// like any other read and counted apart.
//
// Bounds, per key, for an ok read (positions are history order, which is real-time order):
// - lower: the sum of the deltas of the ok adds that completed before the read was invoked (those
//   certainly took effect before the read began);
// - upper: the sum of the deltas of every add invoked before the read completed, except adds that
//   failed (a fail means it certainly did not happen): ok, info and never-completed adds may all
//   have taken effect by then.
// A read outside [lower, upper], or whose value is not an integer, is an error. Verdict: invalid
// with any error, valid otherwise (sanity checks elsewhere make sure reads happened at all).
//
// Thread-safety: a pure function.
#ifndef FAULTLINE_CHECKER_COUNTER_CHECKER_H_
#define FAULTLINE_CHECKER_COUNTER_CHECKER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "checker/checker.h"
#include "checker/verdict.h"
#include "history/history.h"

namespace faultline::checker {

struct CounterCheckOptions {
  size_t max_examples = 10;
};

// A read outside its bounds.
struct CounterReadError {
  int64_t index = 0;  // the read's invocation index
  std::string key;    // EDN of the key ("-" when the op has none)
  std::string value;  // EDN of the value read
  int64_t lower = 0;
  int64_t upper = 0;
  bool final = false;
};

struct CounterCheckResult {
  checker::Validity validity = checker::Validity::kValid;
  int64_t keys = 0;
  int64_t attempted = 0;                   // add invocations
  int64_t acknowledged = 0;                // ok adds
  int64_t failed = 0;                      // failed adds
  int64_t indeterminate = 0;               // info adds or never completed
  int64_t reads = 0;                       // ok reads checked, final ones included
  int64_t final_reads = 0;                 // ok final reads
  int64_t errors = 0;                      // reads outside their bounds
  std::vector<CounterReadError> examples;  // the first max_examples errors, in history order
  // One sentence: "2 reads out of bounds, e.g. op 17 read "k" -> 3, expected 4..9".
  std::string explanation;
};

// An error (InvalidArgument) only for an add whose invocation value is not an integer.
[[nodiscard]] Result<CounterCheckResult> CheckCounter(const history::History& history,
                                                      const CounterCheckOptions& options = {});

// The result as one JSON object.
std::string CounterCheckResultToJson(const CounterCheckResult& result);

// CheckCounter as a Checker: verdict "counter"; anomaly "out-of-bounds".
std::unique_ptr<Checker> MakeCounterChecker(CounterCheckOptions options = {});

}  // namespace faultline::checker

#endif  // FAULTLINE_CHECKER_COUNTER_CHECKER_H_
