// Running a program with input and a deadline, for the SSH control path (ssh, ssh-keygen). Not
// part of the public API.
//
// Thread-safety: RunProgram may be called from several threads at once (every descriptor it makes
// is close-on-exec, so concurrent children do not hold each other's pipes open).
#ifndef FAULTLINE_CLUSTER_INTERNAL_SSH_EXEC_H_
#define FAULTLINE_CLUSTER_INTERNAL_SSH_EXEC_H_

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace faultline::cluster::internal {

struct ProgramOutput {
  int exit_code = -1;  // 128+N if killed by signal N
  std::string out;
  std::string err;
};

struct ProgramOptions {
  std::chrono::milliseconds timeout{30000};
  // Give the child /dev/null as stdout and stderr and wait only for its exit, not for end of
  // output: for programs that leave a daemon holding their stdio (ssh -f with ControlPersist).
  bool detach_output = false;
};

// Runs argv (argv[0] an absolute path, or searched in PATH) with `input` on its stdin. An error
// only if it cannot be started (NotFound, PermissionDenied) or runs past the timeout
// (DeadlineExceeded; it is then killed with SIGKILL and reaped).
[[nodiscard]] Result<ProgramOutput> RunProgram(const std::vector<std::string>& argv,
                                               std::string_view input,
                                               const ProgramOptions& options = {});

// A long-lived child with pipes on its stdin and stdout (stderr goes to /dev/null): a remote shell
// kept open over ssh, fed one framed command at a time. The destructor closes its stdin, gives it
// a second to exit, then kills it with SIGKILL, and reaps it.
// Thread-safety: not thread-safe (one user at a time).
class Session {
 public:
  [[nodiscard]] static Result<std::unique_ptr<Session>> Start(const std::vector<std::string>& argv);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Writes all of data to the child's stdin.
  [[nodiscard]] Status Write(std::string_view data, std::chrono::steady_clock::time_point deadline);
  // Reads until `terminator` has been seen; returns what came before it and keeps what came after
  // for the next read. Unavailable if the child closed its stdout first.
  [[nodiscard]] Result<std::string> ReadUntil(std::string_view terminator,
                                              std::chrono::steady_clock::time_point deadline);
  bool alive() const { return pid_ > 0 && in_ >= 0 && out_ >= 0; }

 private:
  Session() = default;
  int pid_ = -1;
  int in_ = -1;
  int out_ = -1;
  std::string buffer_;
};

// "'...'" with embedded single quotes escaped, for /bin/sh.
std::string ShellQuote(std::string_view s);

}  // namespace faultline::cluster::internal

#endif  // FAULTLINE_CLUSTER_INTERNAL_SSH_EXEC_H_
