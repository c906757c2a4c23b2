#include "common/result.h"

#include <cerrno>

namespace faultline {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "invalid argument";
    case ErrorCode::kNotFound:
      return "not found";
    case ErrorCode::kPermissionDenied:
      return "permission denied";
    case ErrorCode::kUnavailable:
      return "unavailable";
    case ErrorCode::kDeadlineExceeded:
      return "deadline exceeded";
    case ErrorCode::kInternal:
      return "internal";
  }
  return "unknown";
}

ErrorCode ErrorCodeFromErrno(int err) {
  switch (err) {
    case EPERM:
    case EACCES:
      return ErrorCode::kPermissionDenied;
    case ENOENT:
    case ENOTDIR:
    case ESRCH:
      return ErrorCode::kNotFound;
    case EAGAIN:
    case EBUSY:
    case ECONNREFUSED:
    case ENOBUFS:
    case ENOMEM:
    case EOPNOTSUPP:
    case EAFNOSUPPORT:
    case EPROTONOSUPPORT:
      return ErrorCode::kUnavailable;
    case ETIMEDOUT:
      return ErrorCode::kDeadlineExceeded;
    case EINVAL:
    case EEXIST:
    case EISDIR:
      return ErrorCode::kInvalidArgument;
    default:
      return ErrorCode::kInternal;
  }
}

}  // namespace faultline
