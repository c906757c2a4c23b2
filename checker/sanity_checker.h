// The sanity checks of a run, as a checker: an empty or broken run, or faults that did not take
// effect, must not look valid. Unknown (never invalid) when
// - an expected f has no ok completion, or no client op was recorded at all;
// - the share of info completions is above the ceiling;
// - a fault's completion says it did not take effect (:ok false), or an independent probe found
//   it without effect (:confirmed false, with :probe the evidence);
// - faults were scheduled but none was recorded.
// Faults confirmed by a probe and faults only the nemesis's own report vouches for are counted.
//
// Verdict "sanity"; anomalies "problems", "faults-without-effect".
//
// Thread-safety: as Checker (verdict.h); CountByF is a pure function.
#ifndef FAULTLINE_CHECKER_SANITY_CHECKER_H_
#define FAULTLINE_CHECKER_SANITY_CHECKER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "checker/verdict.h"
#include "history/history.h"

namespace faultline::checker {

struct FCounts {
  int64_t ok = 0;
  int64_t fail = 0;
  int64_t info = 0;  // info completions and invocations that never completed
};

// Client invocations by f, by how they completed.
std::map<std::string, FCounts> CountByF(const history::History& history);

struct SanityOptions {
  std::vector<std::string> expected_f;  // each must have an ok completion ("read", "write")
  double info_ceiling = 0.5;            // share of info completions above which it is unknown
  bool faults_scheduled = false;        // a run with faults planned must record some
};

std::unique_ptr<Checker> MakeSanityChecker(SanityOptions options);

}  // namespace faultline::checker

#endif  // FAULTLINE_CHECKER_SANITY_CHECKER_H_
