// UniqueFd: a move-only owner of a file descriptor that closes it on destruction. The one fd
// wrapper of the project; every module holds descriptors through it.
//
// Thread-safety: a UniqueFd is a plain value; use one from one thread at a time.
#ifndef FAULTLINE_COMMON_FD_H_
#define FAULTLINE_COMMON_FD_H_

#include <string_view>
#include <utility>

#include "common/result.h"

namespace faultline {

class UniqueFd {
 public:
  UniqueFd() = default;
  // Takes ownership of fd (-1 or any negative value: holds nothing).
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { Reset(); }
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.Release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) Reset(o.Release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Gives up ownership without closing; the caller now owns the returned descriptor.
  [[nodiscard]] int Release() { return std::exchange(fd_, -1); }
  // Closes the held descriptor (if any) and takes ownership of fd.
  void Reset(int fd = -1);

 private:
  int fd_ = -1;
};

// An Error for errno value `err` with the message "<context>: <strerror(err)>", its code from
// ErrorCodeFromErrno.
Error ErrnoError(int err, std::string_view context);

}  // namespace faultline

#endif  // FAULTLINE_COMMON_FD_H_
