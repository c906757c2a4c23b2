// A remote shell kept open over ssh, for the SSH control path. One-shot programs (ssh, ssh-keygen)
// run through common/process.h. Not part of the public API.
#ifndef FAULTLINE_CLUSTER_INTERNAL_SSH_EXEC_H_
#define FAULTLINE_CLUSTER_INTERNAL_SSH_EXEC_H_

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/process.h"
#include "common/result.h"

namespace faultline::cluster::internal {

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
  bool alive() const { return child_.pid > 0 && child_.in.valid() && child_.out.valid(); }

 private:
  explicit Session(Child child) : child_(std::move(child)) {}
  Child child_;
  std::string buffer_;
};

}  // namespace faultline::cluster::internal

#endif  // FAULTLINE_CLUSTER_INTERNAL_SSH_EXEC_H_
