#include "dirt/internal/verdict.h"

#include <fmt/format.h>

#include <algorithm>

#include "dirt/internal/consistency.h"

namespace faultline::dirt::internal {

void Judge(const Scenario& s, const JudgeInput& in, DrillResult& res) {
  const std::chrono::milliseconds limit = in.limit;
  if (in.fault) {
    std::optional<std::int64_t> repair;
    if (in.last_repair) repair = NsOf(*in.last_repair);
    res.recovery = ComputeRecovery(in.samples, NsOf(*in.fault), s.settle_window, limit, repair);
  } else {
    res.recovery.limit = limit;
  }
  for (const auto& e : s.expected_safeguards) {
    if (std::find(res.safeguards_fired.begin(), res.safeguards_fired.end(), e) ==
        res.safeguards_fired.end()) {
      res.safeguards_missing.push_back(e);
    }
  }
  bool corrupt_step = std::any_of(s.steps.begin(), s.steps.end(), [](const Step& st) {
    return st.spec.kind == FaultKind::kCorrupt;
  });
  // Invalid (not linearizable) fails the drill; unknown makes a drill that otherwise passed
  // INVALID.
  const auto consistency = res.consistency ? ConsistencyVerdict(*res.consistency) : std::nullopt;
  if (in.aborted) {
    res.verdict = Verdict::kAborted;
    res.improvements.push_back("the drill aborted: " + res.reason);
    return;
  }
  if (in.step_failed) {
    res.verdict = Verdict::kInvalid;
    res.reason = "a fault was not applied as the scenario says (see the fault events)";
  } else if (!res.siege_valid) {
    res.verdict = Verdict::kInvalid;
    res.reason =
        "a siege missed its target by more than 5 points: the drill did not happen "
        "as specified";
  } else if (corrupt_step && res.corrupted_bytes == 0) {
    res.verdict = Verdict::kInvalid;
    res.reason = "the corruption altered no byte";
  } else if (consistency && consistency->first == Verdict::kFail) {
    res.verdict = consistency->first;
    res.reason = consistency->second;
  } else if (res.recovery.verdict != Verdict::kPass) {
    res.verdict = Verdict::kFail;
    res.reason = res.recovery.explanation;
  } else if (!res.safeguards_missing.empty()) {
    res.verdict = Verdict::kFail;
    res.reason = "expected safeguard(s) did not fire: " +
                 fmt::format("{}", fmt::join(res.safeguards_missing, ","));
  } else if (corrupt_step && res.hashes_equal != std::optional<bool>(true)) {
    res.verdict = Verdict::kFail;
    res.reason = "after repair the members' HashKV differ (or could not be read)";
  } else if (!res.serves_after) {
    res.verdict = Verdict::kFail;
    res.reason = "the cluster did not serve a write then a read after rollback";
  } else if (consistency) {
    // Unknown consistency: everything else held, but the drill did not show what it set out to
    // (a recovery failure above is not hidden behind it).
    res.verdict = consistency->first;
    res.reason = consistency->second;
  } else {
    res.verdict = Verdict::kPass;
    res.reason = res.recovery.explanation;
  }
  // What to improve, from the evidence.
  if (res.recovery.recovery && res.recovery.margin && res.recovery.margin->count() < 0) {
    res.improvements.push_back(fmt::format(
        "recovery took {} ms against a {} ms limit: shorten detection (probe and restart "
        "backoff) or restart in parallel",
        res.recovery.recovery->count(), limit.count()));
  }
  for (const auto& m : res.safeguards_missing) {
    res.improvements.push_back("wire the \"" + m +
                               "\" safeguard: it was expected but did not "
                               "fire");
  }
  if (corrupt_step && !res.detection_signal) {
    res.improvements.push_back(
        "no independent signal saw the corruption: enable etcd's "
        "corruption checks (corrupt_check) or compare HashKV");
  }
  if (std::find(res.safeguards_fired.begin(), res.safeguards_fired.end(), "escalation") !=
      res.safeguards_fired.end()) {
    res.improvements.push_back(
        "a node exceeded its restart limit and was escalated: page "
        "someone or run the repair playbook automatically");
  }
}

}  // namespace faultline::dirt::internal
