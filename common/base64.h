// Standard Base64 (RFC 4648 alphabet, '=' padding), as etcd's JSON gateway encodes keys and
// values.
//
// Thread-safety: pure functions.
#ifndef FAULTLINE_COMMON_BASE64_H_
#define FAULTLINE_COMMON_BASE64_H_

#include <optional>
#include <string>
#include <string_view>

namespace faultline {

std::string Base64Encode(std::string_view raw);
// nullopt on a character outside the standard alphabet, a length not a multiple of 4, or bad
// padding.
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace faultline

#endif  // FAULTLINE_COMMON_BASE64_H_
