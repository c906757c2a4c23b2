// Small OS helpers for cluster/: file descriptors, process identity, running programs (optionally
// inside a network namespace), atomic file writes. Not part of the public API.
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

// A move-only owned file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { Reset(); }
  Fd(Fd&& o) noexcept : fd_(o.Release()) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      Reset();
      fd_ = o.Release();
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int Release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }
  void Reset(int fd = -1);

 private:
  int fd_ = -1;
};

// An Error for errno `err`: EPERM/EACCES -> kPermissionDenied, ENOENT -> kNotFound, ...
Error ErrnoError(int err, std::string_view context);

// /proc/PID/stat field 22 (start time in clock ticks after boot), or nullopt if there is no such
// process. A zombie still has its start time; see ProcessState.
std::optional<std::uint64_t> ProcessStartTime(int pid);
// /proc/PID/stat field 3 ('R', 'S', 'T', 'Z', ...), or 0 if there is no such process.
char ProcessState(int pid);
// True if PID exists, is not a zombie, and started at start_time.
bool ProcessAlive(int pid, std::uint64_t start_time);

std::int64_t MonoNs();
std::int64_t WallNs();

struct ExecResult {
  int exit_code = -1;  // 128+N if killed by signal N
  std::string out;
  std::string err;
};

// Runs argv (argv[0] searched in /usr/sbin, /sbin, /usr/bin, /bin unless absolute) with `input` on
// stdin, inside the network namespace named `netns` ("" = the caller's), and collects its output.
// Error only if it could not be started.
[[nodiscard]] Result<ExecResult> Exec(const std::vector<std::string>& argv, std::string_view input,
                                      std::string_view netns = {});
// Exec, then an error naming the command and its stderr unless it exited 0.
[[nodiscard]] Result<std::string> ExecOk(const std::vector<std::string>& argv,
                                         std::string_view input = {}, std::string_view netns = {});
// Absolute path of a program in the system directories, or "" if none.
std::string ResolveProgram(const std::string& name);

// Writes `content` to path via path.tmp, fsync, rename (and fsyncs the directory).
[[nodiscard]] Status WriteFileAtomic(const std::string& path, std::string_view content);
[[nodiscard]] Result<std::string> ReadFile(const std::string& path);
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
