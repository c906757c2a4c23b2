// The drill's private operating-system chores: clocks and whole-file reads. Kept in this one file
// so they can be replaced at once by the shared ones below everything. Not part of the public API.
//
// Thread-safety: every function is thread-safe.
#ifndef FAULTLINE_DIRT_INTERNAL_OS_H_
#define FAULTLINE_DIRT_INTERNAL_OS_H_

#include <chrono>
#include <cstdint>
#include <string>

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
// Wall-clock nanoseconds since the Unix epoch.
inline std::int64_t WallNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
// Whole milliseconds of a duration, for reports.
template <typename Rep, typename Period>
std::int64_t Millis(std::chrono::duration<Rep, Period> d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

// The whole file, or "" if it cannot be read.
std::string ReadFile(const std::string& path);

}  // namespace faultline::dirt::internal

#endif  // FAULTLINE_DIRT_INTERNAL_OS_H_
