// Clocks as std::chrono types. MonotonicNow() is CLOCK_MONOTONIC (steady_clock on Linux) as a
// duration since its arbitrary epoch, for intervals and deadlines; WallNow() is CLOCK_REALTIME as a
// duration since the Unix epoch, for timestamps a user reads or another host compares. Code that
// stores integer nanoseconds (history ops, JSON fields) calls .count() at that edge.
//
// Thread-safety: all functions are safe to call from several threads at once.
#ifndef FAULTLINE_COMMON_CLOCK_H_
#define FAULTLINE_COMMON_CLOCK_H_

#include <chrono>

namespace faultline {

inline std::chrono::nanoseconds MonotonicNow() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::steady_clock::now().time_since_epoch());
}

inline std::chrono::nanoseconds WallNow() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::system_clock::now().time_since_epoch());
}

// CPU time consumed by the calling thread (CLOCK_THREAD_CPUTIME_ID).
std::chrono::nanoseconds ThreadCpuNow();

// Sleeps until MonotonicNow() >= deadline (returns at once if it already is).
void SleepUntilMonotonic(std::chrono::nanoseconds deadline);

}  // namespace faultline

#endif  // FAULTLINE_COMMON_CLOCK_H_
