// OS helpers particular to cluster/: process identity, cgroup control files, listing namespaces and
// links. The general ones (fd, clocks, files, running programs) are in common/. Not part of the
// public API.
//
// Thread-safety: all functions are safe to call from several threads at once.
#ifndef FAULTLINE_CLUSTER_INTERNAL_UTIL_H_
#define FAULTLINE_CLUSTER_INTERNAL_UTIL_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace faultline::cluster::internal {

// /proc/PID/stat field 22 (start time in clock ticks after boot), or nullopt if there is no such
// process. A zombie still has its start time; see ProcessState.
std::optional<std::uint64_t> ProcessStartTime(int pid);
// /proc/PID/stat field 3 ('R', 'S', 'T', 'Z', ...), or 0 if there is no such process.
char ProcessState(int pid);
// True if PID exists, is not a zombie, and started at start_time.
bool ProcessAlive(int pid, std::uint64_t start_time);

// Writes `content` to an existing file (cgroup control files); no truncation or creation.
[[nodiscard]] Status WriteExisting(const std::string& path, std::string_view content);

// Names in `ip netns list`, and link names of the root namespace.
std::vector<std::string> ListNetns();
std::vector<std::string> ListRootLinks();

// "cluster-up:after-netns": SIGKILLs this process if FAULTLINE_CRASH_AT names that point (crash
// tests of Down()).
void MaybeCrashAt(std::string_view point);

}  // namespace faultline::cluster::internal

#endif  // FAULTLINE_CLUSTER_INTERNAL_UTIL_H_
