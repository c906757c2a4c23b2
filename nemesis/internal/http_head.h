// The little HTTP/1.1 the proxy's request-level toxics need: split a message head into its
// request (or status) line and headers, and match a path against a glob.
//
// Thread-safety: pure functions.
#ifndef FAULTLINE_NEMESIS_INTERNAL_HTTP_HEAD_H_
#define FAULTLINE_NEMESIS_INTERNAL_HTTP_HEAD_H_

#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace faultline::nemesis::internal {

// Views into the head passed to the parser.
struct HttpHead {
  std::string_view method;  // requests
  std::string_view path;    // requests: the target up to '?'
  int status = 0;           // responses
  std::vector<std::pair<std::string_view, std::string_view>> headers;
  std::int64_t content_length = 0;
  bool chunked = false;  // Transfer-Encoding: chunked (the proxy stops scanning such streams)

  // The value of a header (case-insensitive name), if present.
  std::optional<std::string_view> Header(std::string_view name) const;
};

// Where the head in `data` ends (one past "\r\n\r\n"), searching from `from`; nullopt if it does
// not yet. `from` lets a caller resume the search as data arrives.
std::optional<std::size_t> FindHeadEnd(std::string_view data, std::size_t from = 0);

// False when `data`, the start of a message still being received, cannot be the beginning of an
// HTTP/1.x request (the method must be capital letters and a space, the request line must end
// in " HTTP/1.x\r\n" within 8 KiB); true while it still may be.
bool MayStartRequest(std::string_view data);

// A request head ("GET /x HTTP/1.1\r\nHost: a\r\n\r\n"); nullopt when it is not HTTP/1.x.
std::optional<HttpHead> ParseRequestHead(std::string_view head);
// A response head ("HTTP/1.1 200 OK\r\n...\r\n\r\n").
std::optional<HttpHead> ParseResponseHead(std::string_view head);

// Glob with '*' (any run, '/' included) and '?' (one character); empty pattern matches all.
bool GlobMatch(std::string_view pattern, std::string_view text);

std::string_view ReasonPhrase(int status);

}  // namespace faultline::nemesis::internal

#endif  // FAULTLINE_NEMESIS_INTERNAL_HTTP_HEAD_H_
