// A checker's Verdict as a JUnit test case (common/junit.h): valid passes, invalid is a <failure>
// whose message is the summary and whose text is the counterexample (detail and examples),
// unknown is <skipped> with the summary as the reason.
//
// Thread-safety: a pure function.
#ifndef FAULTLINE_CHECKER_JUNIT_CASE_H_
#define FAULTLINE_CHECKER_JUNIT_CASE_H_

#include <string>

#include "checker/verdict.h"
#include "common/junit.h"

namespace faultline::checker {

JUnitCase VerdictJUnitCase(const Verdict& verdict, std::string classname, double time_s = 0);

}  // namespace faultline::checker

#endif  // FAULTLINE_CHECKER_JUNIT_CASE_H_
