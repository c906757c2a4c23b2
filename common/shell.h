// Quoting for /bin/sh command lines (ssh runs its remote command through the user's shell).
//
// Thread-safety: pure functions.
#ifndef FAULTLINE_COMMON_SHELL_H_
#define FAULTLINE_COMMON_SHELL_H_

#include <string>
#include <string_view>

namespace faultline {

// s as one single-quoted shell word: 'it'\''s' for it's. Any byte is safe inside.
std::string ShellQuote(std::string_view s);

}  // namespace faultline

#endif  // FAULTLINE_COMMON_SHELL_H_
