// A FIT run for CI (issue 13 §4, issue 15 §2): the node-log patterns counted over the run, and the
// run as a JUnit test suite.
//
// results.json, beside the statistical verdict (which the log patterns never change):
//   "log_patterns": {NAME: {...}}      checker::LogPatternsJson over each node's log from where it
//                                      stood when the load began to the end of the run
//   "log_patterns_exceeded": bool      a pattern counted beyond its maximum: the run FAILED
//                                      (exit_code 1 whatever the hypothesis; "hypothesis" stays)
//   "log_patterns_failure": "log pattern panic: 2 > max 0"        only when exceeded
//   "log_patterns_unread": ["n2: why"]                            only when a log could not be read
// With no node logs of ours (--target URL, ssh:FILE) "log_patterns" is absent and
// "log_patterns_note" says why.
//
// JUnit: one suite per run ("faultline fit FIT02 seed 1"), one case per hypothesis KPI (its
// one-sided test: within passes, beyond is a <failure>, undecided is <skipped> with the requests
// still needed), one "abort" case (a <failure> when the abort rule tripped) and one "log-patterns"
// case (a <failure> naming each exceeded pattern; <skipped> with the note when there are no node
// logs or one could not be read). Built from results.json alone, so a wave can reuse it.
//
// Thread-safety: pure functions.
#ifndef FAULTLINE_FIT_CI_H_
#define FAULTLINE_FIT_CI_H_

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "checker/log_patterns.h"
#include "common/junit.h"

namespace faultline::fit {

// Records the scan in `results` (an Outcome::results) and, when a maximum is exceeded, sets its
// exit_code to 1. Returns the run's exit code.
int ApplyLogPatterns(nlohmann::json& results, const checker::LogPatternReport& scan);

// Records that no node logs were scanned, and why.
void NoNodeLogs(nlohmann::json& results, std::string_view why);

// The run's suite from its results.json; `out_dir` goes into the properties and the rerun line.
JUnitSuite FitJUnitSuite(const nlohmann::json& results, const std::string& out_dir);

// A run that ended in an error before it had results.
JUnitSuite FitErrorJUnitSuite(const std::string& scenario_id, const std::string& error);

}  // namespace faultline::fit

#endif  // FAULTLINE_FIT_CI_H_
