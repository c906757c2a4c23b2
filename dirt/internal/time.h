// The drill's monotonic time points: steady_clock throughout, converted to the nanosecond integers
// of the public *_mono_ns fields only at the edge. Wall time and file reads come from common/.
// Not part of the public API.
//
// Thread-safety: every function is thread-safe.
#ifndef FAULTLINE_DIRT_INTERNAL_TIME_H_
#define FAULTLINE_DIRT_INTERNAL_TIME_H_

#include <chrono>
#include <cstdint>

namespace faultline::dirt::internal {

// steady_clock is CLOCK_MONOTONIC on Linux, the clock of the supervisor's events and of the
// public *_mono_ns fields.
using MonoClock = std::chrono::steady_clock;
using MonoTime = MonoClock::time_point;

inline MonoTime MonoNow() { return MonoClock::now(); }
// A monotonic time as nanoseconds (the public fields and the recovery computation).
inline std::int64_t NsOf(MonoTime t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}
inline MonoTime MonoOf(std::int64_t ns) { return MonoTime(std::chrono::nanoseconds(ns)); }
// Whole milliseconds of a duration, for reports.
template <typename Rep, typename Period>
std::int64_t Millis(std::chrono::duration<Rep, Period> d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

}  // namespace faultline::dirt::internal

#endif  // FAULTLINE_DIRT_INTERNAL_TIME_H_
