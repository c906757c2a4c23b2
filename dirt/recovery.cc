#include "dirt/recovery.h"

#include <fmt/format.h>

namespace faultline::dirt {
namespace {

std::chrono::milliseconds Ms(std::int64_t ns) {
  // Round to the nearest millisecond: probes are 100 ms apart, so this loses nothing.
  return std::chrono::milliseconds((ns + (ns >= 0 ? 500000 : -500000)) / 1000000);
}

std::string Secs(std::chrono::milliseconds ms) {
  return fmt::format("{:.1f} s", static_cast<double>(ms.count()) / 1000.0);
}

}  // namespace

std::string_view VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kPass:
      return "PASS";
    case Verdict::kFail:
      return "FAIL";
    case Verdict::kInvalid:
      return "INVALID";
    case Verdict::kAborted:
      return "ABORTED";
    case Verdict::kError:
      return "ERROR";
  }
  return "ERROR";
}

int VerdictExitCode(const std::vector<Verdict>& verdicts) {
  int code = 0;
  for (Verdict v : verdicts) {
    int c = v == Verdict::kPass                                ? 0
            : v == Verdict::kFail                              ? 1
            : v == Verdict::kInvalid || v == Verdict::kAborted ? 2
                                                               : 3;
    // Severity order error(3) > fail(1) > invalid/aborted(2) > pass(0).
    auto rank = [](int x) { return x == 3 ? 3 : x == 1 ? 2 : x == 2 ? 1 : 0; };
    if (rank(c) > rank(code)) code = c;
  }
  return code;
}

RecoveryResult ComputeRecovery(const std::vector<ProbeSample>& samples, std::int64_t fault_ns,
                               std::chrono::milliseconds settle_window,
                               std::chrono::milliseconds limit,
                               std::optional<std::int64_t> repair_done_ns) {
  RecoveryResult r;
  r.limit = limit;
  if (repair_done_ns) r.repair = Ms(*repair_done_ns - fault_ns);
  const std::int64_t settle_ns = std::chrono::nanoseconds(settle_window).count();
  std::optional<std::int64_t> run_start;  // first sample of the current steady run
  bool prev_steady = true;
  bool any_after = false;
  for (const ProbeSample& s : samples) {
    if (s.mono_ns < fault_ns) continue;
    any_after = true;
    if (!s.steady) {
      if (!r.detection) r.detection = Ms(s.mono_ns - fault_ns);
      r.broke = true;
      if (prev_steady) ++r.breaks;
      run_start.reset();
      r.recovered_at_ns.reset();
      prev_steady = false;
      continue;
    }
    prev_steady = true;
    if (!run_start) run_start = s.mono_ns;
    if (!r.recovered_at_ns && s.mono_ns - *run_start >= settle_ns) {
      r.recovered_at_ns = *run_start;
      // Keep scanning only to count later breaks; the first settled run is the recovery.
      break;
    }
  }
  if (r.recovered_at_ns) {
    r.recovery = Ms(std::max<std::int64_t>(0, *r.recovered_at_ns - fault_ns));
    r.margin = limit - *r.recovery;
    if (*r.recovery <= limit) {
      r.verdict = Verdict::kPass;
      r.explanation = fmt::format("recovered in {}, {} inside the {} limit", Secs(*r.recovery),
                                  Secs(*r.margin), Secs(limit));
    } else {
      r.verdict = Verdict::kFail;
      r.explanation = fmt::format("recovered in {}, {} over the {} limit", Secs(*r.recovery),
                                  Secs(-*r.margin), Secs(limit));
    }
  } else {
    r.verdict = Verdict::kFail;
    r.explanation = any_after ? fmt::format(
                                    "did not recover: the steady state did not hold for "
                                    "the {} settle window before observation ended",
                                    Secs(settle_window))
                              : "did not recover: no probe after the fault";
  }
  return r;
}

}  // namespace faultline::dirt
