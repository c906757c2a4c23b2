#include "checker/junit_case.h"

#include <fmt/format.h>

#include <utility>

namespace faultline::checker {

JUnitCase VerdictJUnitCase(const Verdict& v, std::string classname, double time_s) {
  JUnitCase c{.name = v.name,
              .classname = std::move(classname),
              .time_s = time_s,
              .outcome = JUnitOutcome::kPassed,
              .type = "",
              .message = v.summary,
              .detail = ""};
  switch (v.validity) {
    case Validity::kValid:
      c.message.clear();
      return c;
    case Validity::kUnknown:
      c.outcome = JUnitOutcome::kSkipped;
      return c;
    case Validity::kInvalid:
      break;
  }
  c.outcome = JUnitOutcome::kFailure;
  c.type = "invalid";
  c.detail = v.detail;
  if (!v.examples.empty()) {
    if (!c.detail.empty() && c.detail.back() != '\n') c.detail += '\n';
    c.detail += fmt::format("examples:\n  {}\n", fmt::join(v.examples, "\n  "));
  }
  return c;
}

}  // namespace faultline::checker
