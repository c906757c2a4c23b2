// JUnit XML for CI (`--junit FILE` on campaign, check, dirt run, audit verify, fit run, wave): the
// Ant/Surefire shape that Jenkins, GitLab, GitHub Actions reporters, Azure Pipelines and CircleCI
// read. One <testsuite> per run, one <testcase> per checker / drill / hypothesis / log:
//   passed   -> <testcase/>
//   failure  -> <failure message="one line" type="invalid">the counterexample summary</failure>
//   skipped  -> <skipped message="why it is unknown"/>
//   error    -> <error message="...">what stopped it</error>
// Counts (tests, failures, errors, skipped) and times (seconds, 3 decimals) are computed here, on
// every <testsuite> and on the <testsuites> root. Text is escaped for XML 1.0: & < > " ' become
// entities, control characters XML cannot carry (and bytes that are not UTF-8) become U+FFFD, so
// any history or log line may appear in a message.
//
// Thread-safety: pure functions.
#ifndef FAULTLINE_COMMON_JUNIT_H_
#define FAULTLINE_COMMON_JUNIT_H_

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace faultline {

enum class JUnitOutcome { kPassed, kFailure, kSkipped, kError };

struct JUnitCase {
  std::string name;       // "linearizable", "DIRT01", "history.edn"
  std::string classname;  // "faultline.campaign.register", "faultline.dirt", ...
  double time_s = 0;
  JUnitOutcome outcome = JUnitOutcome::kPassed;
  std::string type;     // failure/error type attribute ("invalid", "tampered"); may be empty
  std::string message;  // one line: the summary, or the reason it is unknown
  std::string detail;   // the element's text: the counterexample, the explanation; may be empty
};

struct JUnitSuite {
  std::string name;       // "faultline campaign register seed 1"
  std::string timestamp;  // ISO 8601 without zone, UTC ("2026-12-07T00:15:02"); empty: left out
  double time_s = 0;      // the whole run; 0: the sum of the cases' times
  std::vector<std::pair<std::string, std::string>> properties;  // seed, command, run dir, ...
  std::vector<JUnitCase> cases;
};

// Text with XML's five special characters as entities and what XML 1.0 cannot hold replaced.
// HTML pages escape through it too (checker/html.h).
std::string XmlEscape(std::string_view text);
void AppendXmlEscaped(std::string& out, std::string_view text);

// The whole document, XML declaration first.
std::string RenderJUnit(std::span<const JUnitSuite> suites);

// Writes RenderJUnit to `path` atomically; the error names the path.
[[nodiscard]] Status WriteJUnit(const std::string& path, std::span<const JUnitSuite> suites);

// The current UTC time as JUnitSuite::timestamp wants it.
std::string JUnitTimestampNow();

// A run that could not finish: a suite stamped now with one <error> case `case_name` whose
// message is `error`.
JUnitSuite ErrorJUnitSuite(std::string suite_name, std::string classname, std::string case_name,
                           std::string error,
                           std::vector<std::pair<std::string, std::string>> properties);

}  // namespace faultline

#endif  // FAULTLINE_COMMON_JUNIT_H_
