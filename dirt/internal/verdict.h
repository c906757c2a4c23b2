// A drill's verdict from what it measured and did (see dirt/drill.h for what each verdict means),
// and the "what to improve" lines of its report. Not part of the public API.
//
// Thread-safety: a pure function.
#ifndef FAULTLINE_DIRT_INTERNAL_VERDICT_H_
#define FAULTLINE_DIRT_INTERNAL_VERDICT_H_

#include <chrono>
#include <optional>
#include <vector>

#include "dirt/drill.h"
#include "dirt/internal/time.h"
#include "dirt/recovery.h"
#include "dirt/scenario.h"

namespace faultline::dirt::internal {

struct JudgeInput {
  std::vector<ProbeSample> samples;  // up to the end of the observation, in time order
  std::optional<MonoTime> fault;     // the first fault, if any was issued
  std::optional<MonoTime> last_repair;
  std::chrono::milliseconds limit{0};  // the recovery limit
  bool aborted = false;
  bool step_failed = false;
};

// Sets res.recovery, safeguards_missing, verdict, reason and improvements.
void Judge(const Scenario& s, const JudgeInput& in, DrillResult& res);

}  // namespace faultline::dirt::internal

#endif  // FAULTLINE_DIRT_INTERNAL_VERDICT_H_
