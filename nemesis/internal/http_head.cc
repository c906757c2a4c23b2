#include "nemesis/internal/http_head.h"

#include <charconv>

namespace faultline::nemesis::internal {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Parses the header lines after the first line; false on a malformed line.
bool ParseHeaders(std::string_view rest, HttpHead& head) {
  while (!rest.empty()) {
    std::size_t eol = rest.find("\r\n");
    if (eol == std::string_view::npos) return false;
    std::string_view line = rest.substr(0, eol);
    rest.remove_prefix(eol + 2);
    if (line.empty()) break;
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return false;
    std::string_view name = line.substr(0, colon);
    std::string_view value = Trim(line.substr(colon + 1));
    head.headers.emplace_back(name, value);
    if (EqualsIgnoreCase(name, "content-length")) {
      std::int64_t n = 0;
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || ptr != value.data() + value.size() || n < 0) return false;
      head.content_length = n;
    } else if (EqualsIgnoreCase(name, "transfer-encoding")) {
      head.chunked = !EqualsIgnoreCase(value, "identity");
    }
  }
  return true;
}

}  // namespace

std::optional<std::string_view> HttpHead::Header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (EqualsIgnoreCase(n, name)) return v;
  }
  return std::nullopt;
}

std::optional<std::size_t> FindHeadEnd(std::string_view data, std::size_t from) {
  std::size_t at = data.find("\r\n\r\n", from);
  if (at == std::string_view::npos) return std::nullopt;
  return at + 4;
}

bool MayStartRequest(std::string_view data) {
  std::size_t i = 0;
  while (i < data.size() && data[i] >= 'A' && data[i] <= 'Z') ++i;
  if (i == data.size()) return i <= 16;
  if (data[i] != ' ' || i == 0 || i > 16) return false;
  std::size_t eol = data.find("\r\n");
  if (eol == std::string_view::npos) {
    for (char c : data) {
      if (static_cast<unsigned char>(c) < 0x20 && c != '\r') return false;
    }
    return data.size() <= 8192;
  }
  std::string_view line = data.substr(0, eol);
  std::size_t sp = line.rfind(' ');
  return sp != std::string_view::npos && line.substr(sp + 1).substr(0, 7) == "HTTP/1.";
}

std::optional<HttpHead> ParseRequestHead(std::string_view text) {
  HttpHead head;
  std::size_t eol = text.find("\r\n");
  if (eol == std::string_view::npos) return std::nullopt;
  std::string_view line = text.substr(0, eol);
  std::size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) return std::nullopt;
  std::size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return std::nullopt;
  head.method = line.substr(0, sp1);
  for (char c : head.method) {
    if (c < 'A' || c > 'Z') return std::nullopt;
  }
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (line.substr(sp2 + 1).substr(0, 7) != "HTTP/1.") return std::nullopt;
  head.path = target.substr(0, target.find('?'));
  if (!ParseHeaders(text.substr(eol + 2), head)) return std::nullopt;
  return head;
}

std::optional<HttpHead> ParseResponseHead(std::string_view text) {
  HttpHead head;
  std::size_t eol = text.find("\r\n");
  if (eol == std::string_view::npos || text.substr(0, 7) != "HTTP/1.") return std::nullopt;
  std::string_view line = text.substr(0, eol);
  std::size_t sp = line.find(' ');
  if (sp == std::string_view::npos || line.size() < sp + 4) return std::nullopt;
  std::string_view code = line.substr(sp + 1, 3);
  auto [ptr, ec] = std::from_chars(code.data(), code.data() + code.size(), head.status);
  if (ec != std::errc() || ptr != code.data() + code.size()) return std::nullopt;
  if (!ParseHeaders(text.substr(eol + 2), head)) return std::nullopt;
  return head;
}

bool GlobMatch(std::string_view pattern, std::string_view text) {
  if (pattern.empty()) return true;
  // Iterative matching with one backtrack point for the last '*'.
  std::size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Injected";
  }
}

}  // namespace faultline::nemesis::internal
