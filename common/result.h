// faultline::Result<T>: a value or an Error, the return type of every fallible call that crosses a
// module boundary. A small subset of C++23 std::expected<T, Error>, so that moving to C++23 makes
// it an alias.
//
// Thread-safety: plain values; the usual rules for const and non-const access apply.
#ifndef FAULTLINE_COMMON_RESULT_H_
#define FAULTLINE_COMMON_RESULT_H_

#include <cassert>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace faultline {

// The six canonical codes. Return the most specific one.
enum class ErrorCode {
  kInvalidArgument,   // bad input: a malformed line, an unknown flag value
  kNotFound,          // a file, a node, a key that is not there
  kPermissionDenied,  // EPERM / EACCES
  kUnavailable,       // a peer or a resource that may come back
  kDeadlineExceeded,  // a time limit ran out
  kInternal,          // a broken invariant or an unexpected failure of a library
};

std::string_view ErrorCodeName(ErrorCode code);
// The canonical code for an errno value (EPERM/EACCES: permission denied, ENOENT/ESRCH: not found,
// EAGAIN/EBUSY/ENOMEM/EOPNOTSUPP...: unavailable, ETIMEDOUT: deadline, EINVAL/EEXIST: invalid
// argument, anything else: internal). Every module maps errno through this one table.
ErrorCode ErrorCodeFromErrno(int err);

// An error: a code and a message in the house form "what: on what: why (hint)", lowercase, no
// final period. Each layer may prefix context with WithContext.
class Error {
 public:
  Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Returns a copy whose message reads "context: <old message>".
  [[nodiscard]] Error WithContext(std::string_view context) const {
    std::string m;
    m.reserve(context.size() + 2 + message_.size());
    m.append(context).append(": ").append(message_);
    return Error(code_, std::move(m));
  }

  bool operator==(const Error&) const = default;

 private:
  ErrorCode code_;
  std::string message_;
};

// Tag for constructing a Result from an Error, as std::unexpected does.
class Unexpected {
 public:
  explicit Unexpected(Error e) : error_(std::move(e)) {}
  Error& error() & { return error_; }
  Error&& error() && { return std::move(error_); }

 private:
  Error error_;
};

inline Unexpected MakeError(ErrorCode code, std::string message) {
  return Unexpected(Error(code, std::move(message)));
}

template <typename T>
class [[nodiscard]] Result {
 public:
  using value_type = T;

  template <typename U = T, typename = std::enable_if_t<std::is_constructible_v<T, U&&>>>
  Result(U&& v)
      : data_(std::in_place_index<0>, std::forward<U>(v)) {}  // NOLINT: implicit by design
  Result(Unexpected u) : data_(std::in_place_index<1>, std::move(u).error()) {}  // NOLINT
  Result(Error e) : data_(std::in_place_index<1>, std::move(e)) {}               // NOLINT

  bool has_value() const { return data_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  // REQUIRES: has_value().
  T& value() & {
    assert(has_value());
    return std::get<0>(data_);
  }
  const T& value() const& {
    assert(has_value());
    return std::get<0>(data_);
  }
  T&& value() && {
    assert(has_value());
    return std::get<0>(std::move(data_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // REQUIRES: !has_value().
  const Error& error() const& {
    assert(!has_value());
    return std::get<1>(data_);
  }
  Error&& error() && {
    assert(!has_value());
    return std::get<1>(std::move(data_));
  }

  template <typename U>
  T value_or(U&& fallback) const& {
    return has_value() ? value() : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  std::variant<T, Error> data_;
};

// Result<void>: success carries nothing.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Unexpected u) : error_(std::move(u).error()), ok_(false) {}  // NOLINT
  Result(Error e) : error_(std::move(e)), ok_(false) {}               // NOLINT

  bool has_value() const { return ok_; }
  explicit operator bool() const { return ok_; }
  void value() const { assert(ok_); }
  // REQUIRES: !has_value().
  const Error& error() const& {
    assert(!ok_);
    return error_;
  }
  Error&& error() && {
    assert(!ok_);
    return std::move(error_);
  }

 private:
  Error error_{ErrorCode::kInternal, ""};
  bool ok_ = true;
};

using Status = Result<void>;

inline Status OkStatus() { return Status(); }

}  // namespace faultline

// Propagates an error from an expression yielding a Result; optional context prefix.
#define FAULTLINE_RETURN_IF_ERROR(expr)                                  \
  do {                                                                   \
    auto faultline_status_ = (expr);                                     \
    if (!faultline_status_) return std::move(faultline_status_).error(); \
  } while (false)

#define FAULTLINE_CONCAT_INNER_(a, b) a##b
#define FAULTLINE_CONCAT_(a, b) FAULTLINE_CONCAT_INNER_(a, b)
// FAULTLINE_ASSIGN_OR_RETURN(auto x, Expr()); declares x from a Result's value or returns its
// error.
#define FAULTLINE_ASSIGN_OR_RETURN(lhs, expr) \
  FAULTLINE_ASSIGN_OR_RETURN_IMPL_(FAULTLINE_CONCAT_(faultline_result_, __LINE__), lhs, expr)
#define FAULTLINE_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                     \
  if (!tmp) return std::move(tmp).error();               \
  lhs = std::move(tmp).value()

#endif  // FAULTLINE_COMMON_RESULT_H_
