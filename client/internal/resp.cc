#include "client/internal/resp.h"

#include <fmt/format.h>

#include <charconv>

namespace faultline::client::internal {
namespace {

// Replies larger than this are not ours (a set read of a long run stays far below).
constexpr std::int64_t kMaxBulk = 512LL << 20;
constexpr std::int64_t kMaxItems = 16LL << 20;
constexpr int kMaxDepth = 16;

Error Garbage(std::string_view why) {
  return Error(ErrorCode::kUnavailable, fmt::format("resp: {}", why));
}

// Parses one value at `pos`; nullopt when incomplete.
Result<std::optional<RespValue>> ParseAt(std::string_view b, std::size_t& pos, int depth) {
  if (depth > kMaxDepth) return Garbage("arrays nested too deeply");
  if (pos >= b.size()) return std::optional<RespValue>();
  const std::size_t eol = b.find("\r\n", pos);
  if (eol == std::string_view::npos) {
    if (b.size() - pos > 64 * 1024) return Garbage("line without CRLF");
    return std::optional<RespValue>();
  }
  const char type = b[pos];
  const std::string_view line = b.substr(pos + 1, eol - pos - 1);
  auto integer = [&]() -> Result<std::int64_t> {
    std::int64_t n = 0;
    auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), n);
    if (ec != std::errc() || end != line.data() + line.size() || line.empty()) {
      return Garbage(fmt::format("'{}' is not an integer", line.substr(0, 32)));
    }
    return n;
  };
  RespValue v;
  switch (type) {
    case '+':
    case '-':
      v.kind = type == '+' ? RespValue::Kind::kSimple : RespValue::Kind::kError;
      v.text = std::string(line);
      pos = eol + 2;
      return std::optional<RespValue>(std::move(v));
    case ':': {
      FAULTLINE_ASSIGN_OR_RETURN(v.integer, integer());
      v.kind = RespValue::Kind::kInteger;
      pos = eol + 2;
      return std::optional<RespValue>(std::move(v));
    }
    case '$': {
      FAULTLINE_ASSIGN_OR_RETURN(std::int64_t n, integer());
      if (n == -1) {
        pos = eol + 2;
        return std::optional<RespValue>(RespValue{});
      }
      if (n < 0 || n > kMaxBulk) return Garbage(fmt::format("bulk length {}", n));
      const std::size_t start = eol + 2;
      if (b.size() < start + static_cast<std::size_t>(n) + 2) return std::optional<RespValue>();
      if (b.substr(start + static_cast<std::size_t>(n), 2) != "\r\n") {
        return Garbage("bulk string not followed by CRLF");
      }
      v.kind = RespValue::Kind::kBulk;
      v.text = std::string(b.substr(start, static_cast<std::size_t>(n)));
      pos = start + static_cast<std::size_t>(n) + 2;
      return std::optional<RespValue>(std::move(v));
    }
    case '*': {
      FAULTLINE_ASSIGN_OR_RETURN(std::int64_t n, integer());
      if (n == -1) {
        pos = eol + 2;
        return std::optional<RespValue>(RespValue{});
      }
      if (n < 0 || n > kMaxItems) return Garbage(fmt::format("array length {}", n));
      std::size_t at = eol + 2;
      v.kind = RespValue::Kind::kArray;
      for (std::int64_t i = 0; i < n; ++i) {
        FAULTLINE_ASSIGN_OR_RETURN(std::optional<RespValue> item, ParseAt(b, at, depth + 1));
        if (!item) return std::optional<RespValue>();
        v.items.push_back(std::move(*item));
      }
      pos = at;
      return std::optional<RespValue>(std::move(v));
    }
    default:
      return Garbage(fmt::format("unknown type byte 0x{:02x}", static_cast<unsigned char>(type)));
  }
}

}  // namespace

std::string RespValue::Describe() const {
  switch (kind) {
    case Kind::kSimple:
      return text;
    case Kind::kError:
      return "(error) " + text;
    case Kind::kInteger:
      return std::to_string(integer);
    case Kind::kBulk:
      return fmt::format("{:?}", text.substr(0, 64));
    case Kind::kNil:
      return "(nil)";
    case Kind::kArray: {
      std::string out = "[";
      for (std::size_t i = 0; i < items.size() && i < 8; ++i) {
        out += (i ? ", " : "") + items[i].Describe();
      }
      if (items.size() > 8) out += fmt::format(", ... {} items", items.size());
      return out + "]";
    }
  }
  return "?";
}

std::string_view RespValue::ErrorCode() const {
  if (kind != Kind::kError) return {};
  const std::string_view t = text;
  return t.substr(0, t.find(' '));
}

std::string EncodeCommand(const std::vector<std::string>& args) {
  std::string out = fmt::format("*{}\r\n", args.size());
  for (const std::string& a : args) out += fmt::format("${}\r\n{}\r\n", a.size(), a);
  return out;
}

Result<std::optional<RespParse>> ParseResp(std::string_view buffer) {
  std::size_t pos = 0;
  FAULTLINE_ASSIGN_OR_RETURN(std::optional<RespValue> v, ParseAt(buffer, pos, 0));
  if (!v) return std::optional<RespParse>();
  return std::optional<RespParse>(RespParse{.value = std::move(*v), .consumed = pos});
}

}  // namespace faultline::client::internal
