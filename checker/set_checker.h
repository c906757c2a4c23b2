// A set checker in the style of Jepsen's set-full, for the `set` workload: ops `add` (value: the
// element) and `read` (completion value: a vector or set of the elements present), on one or more
// sets named by Op::key. Final reads are reads whose invocation carries :final true.
//
// Outcomes per element (positions are history order, which is real-time order):
// - lost: its add was acknowledged (ok), yet no ok final read of its set contains it;
// - unexpected: a read contains it, but no add of it was ever invoked, or its add failed (a fail
//   means it certainly did not happen);
// - stale: its add was acknowledged, a read of its set that began after the add completed lacks
//   it, and a read that began later contains it (invalid only under linearizable reads);
// - recovered: its add ended info (or never completed), and a read contains it — not an error;
// - never-read: acknowledged, but no read began after the add completed.
// Verdict: invalid with any lost or unexpected element (or stale, when stale_is_invalid); unknown
// when acknowledged adds exist but no ok final read of their set does (lost cannot be decided);
// valid otherwise.
//
// Thread-safety: a pure function.
#ifndef FAULTLINE_CHECKER_SET_CHECKER_H_
#define FAULTLINE_CHECKER_SET_CHECKER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "checker/checker.h"
#include "checker/verdict.h"
#include "history/history.h"

namespace faultline::checker {

struct SetCheckOptions {
  bool stale_is_invalid = true;  // false under serializable reads, where stale reads are allowed
  size_t max_examples = 10;
};

struct SetCheckResult {
  checker::Validity validity = checker::Validity::kValid;
  int64_t attempted = 0;  // add invocations
  int64_t acknowledged = 0;
  int64_t failed = 0;
  int64_t indeterminate = 0;  // info or never completed
  int64_t reads = 0;          // ok reads, final ones included
  int64_t final_reads = 0;    // ok final reads
  int64_t lost = 0;
  int64_t unexpected = 0;
  int64_t stale = 0;
  int64_t recovered = 0;
  int64_t never_read = 0;
  // Up to max_examples each, in element order, written "7" (one set) or "\"s\" 7" (several sets).
  std::vector<std::string> lost_examples;
  std::vector<std::string> unexpected_examples;
  std::vector<std::string> stale_examples;
  std::vector<std::string> recovered_examples;
  // One sentence: "2 acknowledged adds lost: 17, 42 (absent from all 10 final reads)".
  std::string explanation;
};

[[nodiscard]] Result<SetCheckResult> CheckSet(const history::History& history,
                                              const SetCheckOptions& options = {});

// The result as one JSON object.
std::string SetCheckResultToJson(const SetCheckResult& result);

// CheckSet as a Checker: verdict "set"; anomalies "lost", "unexpected", "stale".
std::unique_ptr<Checker> MakeSetChecker(SetCheckOptions options = {});

}  // namespace faultline::checker

#endif  // FAULTLINE_CHECKER_SET_CHECKER_H_
