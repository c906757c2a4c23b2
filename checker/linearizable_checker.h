// The checkers built on the linearizability search (checker/checker.h), one history split by key.
//
// MakeLinearizableChecker, the register workload's: linearizability per key (the search of
// checker/checker.h with the independent cas-register model), with what etcd's own numbers add:
// which member served the failing op at which revision, and stale reads by revision counted per
// serving node (evidence independent of the search).
//
// Verdict "linearizable"; anomalies "nonlinearizable" (1 when invalid) and "stale-read" (reads
// below the revision of an acknowledged write that completed before they began).
//
// MakeMutexChecker, the lock workload's: acquire / release checked per lock with the independent
// mutex model (checker/models.h). Hold ops (the holder keeping its lease alive) are recorded for
// the reader but are not mutex ops: they are left out of the checked history. Beside the search,
// the holds that overlap in real time are counted from the history alone (process B's acquire
// completed ok while process A still held the same lock, A's release invoked only later): each is
// a mutual-exclusion violation whatever the linearization, named with the nodes that granted it.
// Verdict "mutex"; anomaly "overlapping-holds".
//
// Thread-safety: as Checker (verdict.h).
#ifndef FAULTLINE_CHECKER_LINEARIZABLE_CHECKER_H_
#define FAULTLINE_CHECKER_LINEARIZABLE_CHECKER_H_

#include <memory>

#include "checker/verdict.h"

namespace faultline::checker {

struct SearchCheckerOptions {
  double time_limit_s = 0;  // 0 = none; past it the verdict is unknown
};

std::unique_ptr<Checker> MakeLinearizableChecker(SearchCheckerOptions options);
std::unique_ptr<Checker> MakeMutexChecker(SearchCheckerOptions options);

}  // namespace faultline::checker

#endif  // FAULTLINE_CHECKER_LINEARIZABLE_CHECKER_H_
