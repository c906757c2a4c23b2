// RESP2, the Redis protocol (https://redis.io/docs/reference/protocol-spec/): commands encoded as
// arrays of bulk strings, and an incremental parser for replies (simple strings, errors,
// integers, bulk strings, arrays; nil bulk strings and nil arrays).
//
// Thread-safety: pure functions and value types.
#ifndef FAULTLINE_CLIENT_INTERNAL_RESP_H_
#define FAULTLINE_CLIENT_INTERNAL_RESP_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace faultline::client::internal {

struct RespValue {
  enum class Kind { kSimple, kError, kInteger, kBulk, kArray, kNil };
  Kind kind = Kind::kNil;
  std::string text;  // kSimple, kError (without the '-'), kBulk
  std::int64_t integer = 0;
  std::vector<RespValue> items;  // kArray

  bool is_error() const { return kind == Kind::kError; }
  bool is_nil() const { return kind == Kind::kNil; }
  // The reply as redis-cli would print it on one line ("OK", "(error) READONLY ...", "(nil)",
  // "[1, \"a\"]"), for error messages.
  std::string Describe() const;
  // The first word of an error reply ("READONLY", "NOREPLICAS", "ERR"), "" for other kinds.
  std::string_view ErrorCode() const;

  bool operator==(const RespValue&) const = default;
};

// "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n" for {"GET", "k"}.
std::string EncodeCommand(const std::vector<std::string>& args);

// One reply parsed from the front of `buffer`: nullopt when the buffer holds only part of a reply
// (read more); an error for bytes that are not RESP (the connection cannot be trusted after it).
struct RespParse {
  RespValue value;
  std::size_t consumed = 0;
};
[[nodiscard]] Result<std::optional<RespParse>> ParseResp(std::string_view buffer);

}  // namespace faultline::client::internal

#endif  // FAULTLINE_CLIENT_INTERNAL_RESP_H_
