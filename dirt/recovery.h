// Recovery arithmetic over a probe timeline: when the fault was noticed (detection), when the
// repair finished (repair), and when the steady state came back to stay (recovery), judged
// against a limit. Pure functions, so the rules are tested on synthetic timelines.
//
// Definitions (issue 6 §3):
//  - detection: fault issued -> first probe at or after it that sees the steady state broken.
//  - repair: fault issued -> the last repair action (safeguard restart, playbook) finished.
//  - recovery: fault issued -> the first moment from which the steady state holds without a break
//    for the settle window. If the steady state never broke, that is the first steady probe at or
//    after the fault (about zero). A recovery whose settle window is not complete by the end of
//    the timeline is not a recovery.
//
// Thread-safety: pure; plain values.
#ifndef FAULTLINE_DIRT_RECOVERY_H_
#define FAULTLINE_DIRT_RECOVERY_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace faultline::dirt {

// One probe round (every 100 ms).
struct ProbeSample {
  std::int64_t mono_ns = 0;
  bool steady = false;
  int healthy = 0;  // members whose /health said true
  int members = 0;
  bool write_read = false;
  double throughput_percent = 0;  // of the baseline, over the last second
  std::string why;                // what broke the steady state, empty when steady
};

enum class Verdict { kPass, kFail, kInvalid, kAborted, kError };
std::string_view VerdictName(Verdict v);  // "PASS", "FAIL", "INVALID", "ABORTED", "ERROR"
// Exit code for a set of verdicts: 0 all pass, 1 any fail, 2 any invalid/aborted, 3 any error;
// the worst wins in the order error > fail > invalid/aborted > pass.
int VerdictExitCode(const std::vector<Verdict>& verdicts);

struct RecoveryResult {
  std::optional<std::chrono::milliseconds> detection;
  std::optional<std::chrono::milliseconds> repair;
  std::optional<std::chrono::milliseconds> recovery;
  std::optional<std::int64_t> recovered_at_ns;  // start of the settled steady run
  std::chrono::milliseconds limit{0};
  std::optional<std::chrono::milliseconds> margin;  // limit - recovery (negative: over)
  bool broke = false;                               // the steady state broke at or after the fault
  int breaks = 0;                                   // steady -> broken transitions after the fault
  Verdict verdict = Verdict::kFail;
  std::string explanation;  // "recovered in 1.3 s, 178.7 s inside the 180 s limit"
};

// REQUIRES: samples sorted by mono_ns. repair_done_ns: when the last repair action finished, if
// any did.
RecoveryResult ComputeRecovery(const std::vector<ProbeSample>& samples, std::int64_t fault_ns,
                               std::chrono::milliseconds settle_window,
                               std::chrono::milliseconds limit,
                               std::optional<std::int64_t> repair_done_ns = std::nullopt);

}  // namespace faultline::dirt

#endif  // FAULTLINE_DIRT_RECOVERY_H_
