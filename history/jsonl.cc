// JSON Lines reader and writer. The reader is a hand-written scanner for the JSON grammar that
// builds history values and ops directly: a DOM (nlohmann_json) would allocate every node twice and
// parse several times slower than the 200 MB/s this path is meant to reach.
#include "history/jsonl.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace faultline::history {
namespace {

// ---------------------------------------------------------------------------------------------
// Writing

constexpr char kHex[] = "0123456789abcdef";

// JSON's single-letter escapes (RFC 8259): kEscapeLetters[i] after a '\\' stands for
// kEscapedBytes[i]. Writing uses them for the bytes that must be escaped, reading for all of them.
constexpr std::string_view kEscapeLetters = "\"\\/bfnrt";
constexpr std::string_view kEscapedBytes = "\"\\/\b\f\n\r\t";

// Bytes that JSON requires to be escaped inside a string: '"', '\\' and the controls below 0x20.
constexpr std::array<bool, 256> kNeedsEscape = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 0x20; ++c) t[static_cast<size_t>(c)] = true;
  t['"'] = true;
  t['\\'] = true;
  return t;
}();
bool NeedsEscape(unsigned char c) { return kNeedsEscape[c]; }

void AppendJsonString(std::string& out, std::string_view s) {
  out.push_back('"');
  size_t run = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (!NeedsEscape(c)) continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    if (const size_t at = kEscapedBytes.find(static_cast<char>(c)); at != std::string_view::npos) {
      out.push_back('\\');
      out.push_back(kEscapeLetters[at]);
    } else {
      out.append("\\u00");
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
}

void AppendInt(std::string& out, int64_t i) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), i);
  out.append(buf, end);
}

// A name written as a plain JSON object key stands for a keyword; "~" starts the reserved keys.
bool IsPlainName(std::string_view name) { return !name.empty() && name.front() != '~'; }

// {"~tag":"text"}
void AppendTildeText(std::string& out, std::string_view tag, std::string_view text) {
  out.append("{\"").append(tag).append("\":");
  AppendJsonString(out, text);
  out.push_back('}');
}

void AppendDouble(std::string& out, double d) {
  if (std::isnan(d)) {
    out.append("{\"~double\":\"NaN\"}");
    return;
  }
  if (std::isinf(d)) {
    out.append(d > 0 ? "{\"~double\":\"Inf\"}" : "{\"~double\":\"-Inf\"}");
    return;
  }
  // fmt's "{}" is the shortest text that reads back as the same double. It omits ".0" for whole
  // numbers, which would read back as an integer, so add it.
  const size_t start = out.size();
  fmt::format_to(std::back_inserter(out), "{}", d);
  if (out.find_first_of(".eE", start) == std::string::npos) out.append(".0");
}

void AppendItems(std::string& out, const std::vector<Value>& items) {
  out.push_back('[');
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendJsonValue(out, items[i]);
  }
  out.push_back(']');
}

bool HasOnlyPlainKeywordKeys(const std::vector<Value>& kv) {
  for (size_t i = 0; i < kv.size(); i += 2) {
    if (!kv[i].is_keyword() || !IsPlainName(kv[i].text())) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Reading

constexpr int kMaxDepth = 512;

bool IsWs(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string DescribeByte(const char* p, const char* end) {
  if (p >= end) return "end of line";
  const auto c = static_cast<unsigned char>(*p);
  if (c >= 0x20 && c < 0x7f) return fmt::format("'{}'", static_cast<char>(c));
  return fmt::format("byte 0x{:02x}", c);
}

std::string DescribeValue(const Value& v) {
  switch (v.kind()) {
    case ValueKind::kNil:
      return "null";
    case ValueKind::kBool:
      return "a boolean";
    case ValueKind::kInt:
    case ValueKind::kBigInt:
      return "an integer";
    case ValueKind::kDouble:
      return "a number";
    case ValueKind::kString:
      return "a string";
    case ValueKind::kVector:
      return "an array";
    default:
      return "an object";
  }
}

// Appends code point `cp` (<= 0x10FFFF, not a surrogate) as UTF-8.
void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsBigIntText(std::string_view s) {
  if (!s.empty() && (s.front() == '+' || s.front() == '-')) s.remove_prefix(1);
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// The op fields with a meaning of their own; every other name is an extra.
enum class OpField { kIndex, kTime, kType, kProcess, kF, kKey, kValue, kError, kExtras, kOther };

template <size_t N>
bool Is(std::string_view key, const char (&name)[N]) {
  // A constant length lets the compiler inline the comparison: this runs for every field.
  return key.size() == N - 1 && std::memcmp(key.data(), name, N - 1) == 0;
}

// True when `p` starts with `word` in double quotes.
template <size_t N>
bool Quoted(const char* p, const char* end, const char (&word)[N]) {
  return end - p >= static_cast<ptrdiff_t>(N + 1) && p[0] == '"' &&
         std::memcmp(p + 1, word, N - 1) == 0 && p[N] == '"';
}

OpField ClassifyOpField(std::string_view key) {
  switch (key.size()) {
    case 1:
      if (Is(key, "f")) return OpField::kF;
      break;
    case 3:
      if (Is(key, "key")) return OpField::kKey;
      break;
    case 4:
      if (Is(key, "type")) return OpField::kType;
      if (Is(key, "time")) return OpField::kTime;
      break;
    case 5:
      if (Is(key, "value")) return OpField::kValue;
      if (Is(key, "index")) return OpField::kIndex;
      if (Is(key, "error")) return OpField::kError;
      break;
    case 7:
      if (Is(key, "process")) return OpField::kProcess;
      if (Is(key, "~extras")) return OpField::kExtras;
      break;
    default:
      break;
  }
  return OpField::kOther;
}

// What a parsed line turned out to be.
enum class LineKind { kOp, kMetadata };

// A recursive-descent scanner over one JSON text. Errors are recorded once (the first one wins)
// and every parse function returns false after an error.
class Parser {
 public:
  explicit Parser(std::string_view text)
      : begin_(text.data()), p_(text.data()), end_(text.data() + text.size()) {}

  // True when the failure is in the JSON syntax (a truncated line looks like this), false when
  // the JSON was well formed but did not describe a valid value or op.
  bool syntax_error() const { return syntax_error_; }
  const std::string& error() const { return error_; }

  bool ParseDocument(Value& out) {
    SkipWs();
    if (!ParseValue(out, 0)) return false;
    return ExpectEnd();
  }

  // Parses an op line. On kMetadata, `metadata` holds the value of the "faultline" field.
  bool ParseOpLine(Op& op, Value& metadata, LineKind& kind) {
    return ParseOpObject(op, metadata, kind, /*whole_line=*/true);
  }

  // A whole text that is one JSON array of op objects (elle-cli's form), objects spanning any
  // number of lines. `on_op(op, kind, metadata, at)` takes each object (`at`: where it began) and
  // returns false to stop the parse (with no error of the parser's).
  template <typename OnOp>
  bool ParseOpArray(OnOp&& on_op) {
    SkipWs();
    if (p_ >= end_ || *p_ != '[') return Expected("'[' to start a JSON array of ops");
    ++p_;
    auto expect_end = [this] {
      SkipWs();
      return p_ == end_ || Expected("nothing after the array's closing ']'");
    };
    if (Consume(']')) return expect_end();
    for (;;) {
      SkipWs();
      const char* at = p_;
      op_at_ = at;
      Op op;
      Value metadata;
      LineKind kind = LineKind::kOp;
      if (!ParseOpObject(op, metadata, kind, /*whole_line=*/false)) return false;
      if (!on_op(std::move(op), kind, std::move(metadata), at)) return false;
      if (Consume(',')) continue;
      if (Consume(']')) return expect_end();
      return Expected("',' or ']' after an op in the array");
    }
  }

  // 1-based line of `at` in the text (only for error messages: it counts newlines).
  int64_t LineOf(const char* at) const { return 1 + std::count(begin_, at, '\n'); }
  // The line of the first error: where it was found, else the start of the op it is about.
  int64_t ErrorLine() const {
    return LineOf(error_at_ != nullptr ? error_at_ : op_at_ != nullptr ? op_at_ : p_);
  }

 private:
  bool Fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
    return false;
  }
  // A syntax error at the current position.
  bool Expected(std::string_view what) {
    syntax_error_ = true;
    return Fail(
        fmt::format("expected {}, got {} at column {}", what, DescribeByte(p_, end_), Column(p_)));
  }
  // A well-formed value in the wrong place; `at` is where it started.
  bool WrongValue(std::string_view what, const Value& got, const char* at) {
    return Fail(
        fmt::format("expected {}, got {} at column {}", what, DescribeValue(got), Column(at)));
  }

  void SkipWs() {
    while (p_ < end_ && IsWs(*p_)) ++p_;
  }

  // The 1-based column of `at` within its line; notes `at` as the first error's position.
  int64_t Column(const char* at) {
    if (error_.empty()) error_at_ = at;
    const char* line = at;
    while (line > begin_ && line[-1] != '\n') --line;
    return at - line + 1;
  }

  bool ExpectEnd() {
    SkipWs();
    if (p_ != end_) return Expected("end of line after the value");
    return true;
  }

  bool Consume(char c) {
    SkipWs();
    if (p_ < end_ && *p_ == c) {
      ++p_;
      return true;
    }
    return false;
  }

  // Recognises the usual op field names, quotes included, without copying or unescaping:
  // consumes the name and returns its field, or returns kOther and consumes nothing.
  // REQUIRES: *p_ == '"'.
  OpField MatchOpField(std::string_view& key) {
    auto match = [&](auto& name, OpField field) {
      if (!Quoted(p_, end_, name)) return OpField::kOther;
      key = std::string_view(p_ + 1, sizeof(name) - 1);
      p_ += sizeof(name) + 1;
      return field;
    };
    if (end_ - p_ < 3) return OpField::kOther;
    switch (p_[1]) {
      case 'i':
        return match("index", OpField::kIndex);
      case 't':
        return p_[2] == 'y' ? match("type", OpField::kType) : match("time", OpField::kTime);
      case 'p':
        return match("process", OpField::kProcess);
      case 'f':
        return match("f", OpField::kF);
      case 'v':
        return match("value", OpField::kValue);
      case 'k':
        return match("key", OpField::kKey);
      case 'e':
        return match("error", OpField::kError);
      default:
        return OpField::kOther;
    }
  }

  bool ParseValue(Value& out, int depth);
  bool ParseNumber(Value& out);
  bool ScanNumber(int64_t& i, double& d, bool& is_double);
  bool ParseLiteral(std::string_view word, Value value, Value& out);
  bool ParseArrayItems(std::vector<Value>& items, int depth);
  bool ParseObject(Value& out, int depth);
  bool ParseTilde(std::string_view key, Value& out, int depth, const char* at);
  bool ParseStringTo(std::string& out);
  // A string that is usually a key: returns a view into the input when it has no escapes, else
  // into `scratch`. REQUIRES: *p_ == '"'.
  bool ParseKey(std::string_view& key, std::string& scratch);
  bool ParseStringValue(std::string& out, std::string_view what);
  bool ParsePairs(std::vector<Value>& out, int depth, std::string_view what);
  bool ParseEscape(std::string& out);

  const char* begin_;
  const char* p_;
  const char* end_;
  std::string error_;
  const char* error_at_ = nullptr;
  const char* op_at_ = nullptr;  // the op object being parsed by ParseOpArray
  bool syntax_error_ = false;
  // One op object; with `whole_line`, nothing but blanks may follow it.
  bool ParseOpObject(Op& op, Value& metadata, LineKind& kind, bool whole_line);
};

bool Parser::ParseValue(Value& out, int depth) {
  if (depth > kMaxDepth) return Fail(fmt::format("values nested deeper than {} levels", kMaxDepth));
  SkipWs();
  if (p_ >= end_) return Expected("a value");
  switch (*p_) {
    case '{':
      return ParseObject(out, depth);
    case '[': {
      ++p_;
      std::vector<Value> items;
      if (!ParseArrayItems(items, depth)) return false;
      out = Value::Vector(std::move(items));
      return true;
    }
    case '"': {
      std::string s;
      if (!ParseStringTo(s)) return false;
      out = Value::String(std::move(s));
      return true;
    }
    case 't':
      return ParseLiteral("true", Value::Bool(true), out);
    case 'f':
      return ParseLiteral("false", Value::Bool(false), out);
    case 'n':
      return ParseLiteral("null", Value::Nil(), out);
    default:
      if (*p_ == '-' || (*p_ >= '0' && *p_ <= '9')) return ParseNumber(out);
      return Expected("a value");
  }
}

bool Parser::ParseLiteral(std::string_view word, Value value, Value& out) {
  if (static_cast<size_t>(end_ - p_) < word.size() ||
      std::memcmp(p_, word.data(), word.size()) != 0)
    return Expected("a value");
  p_ += word.size();
  out = std::move(value);
  return true;
}

bool Parser::ParseNumber(Value& out) {
  int64_t i = 0;
  double d = 0;
  bool is_double = false;
  if (!ScanNumber(i, d, is_double)) return false;
  if (is_double) {
    out = Value::Double(d);
  } else {
    out = Value::Int(i);
  }
  return true;
}

bool Parser::ScanNumber(int64_t& i, double& d, bool& is_double) {
  const char* start = p_;
  bool negative = false;
  if (*p_ == '-') {
    negative = true;
    ++p_;
  }
  if (p_ >= end_ || *p_ < '0' || *p_ > '9') return Expected("a digit");
  // JSON forbids leading zeros, so "0" is alone or followed by '.', 'e' or the end of the number.
  uint64_t magnitude = 0;
  bool overflow = false;
  if (*p_ == '0') {
    ++p_;
  } else {
    const char* digits = p_;
    while (p_ < end_ && *p_ >= '0' && *p_ <= '9') {
      magnitude = magnitude * 10 + static_cast<uint64_t>(*p_ - '0');
      ++p_;
    }
    // Up to 19 digits fit in a uint64 (2^64 has 20), so only longer runs can have wrapped.
    overflow = p_ - digits > 19;
  }
  is_double = false;
  if (p_ < end_ && *p_ == '.') {
    is_double = true;
    ++p_;
    if (p_ >= end_ || *p_ < '0' || *p_ > '9') return Expected("a digit after '.'");
    while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
  }
  if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
    is_double = true;
    ++p_;
    if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
    if (p_ >= end_ || *p_ < '0' || *p_ > '9') return Expected("a digit in the exponent");
    while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
  }
  if (p_ < end_ && *p_ >= '0' && *p_ <= '9') return Expected("no leading zero");
  if (is_double) {
    auto [ptr, ec] = std::from_chars(start, p_, d);
    if (ec == std::errc::result_out_of_range) {
      // from_chars reports underflow the same way; only overflow is a real problem.
      const std::string copy(start, p_);
      d = std::strtod(copy.c_str(), nullptr);
      if (std::isinf(d)) {
        return Fail(
            fmt::format("number {} at column {} is out of the range of a double (write "
                        "infinities as {{\"~double\":\"Inf\"}})",
                        copy, Column(start)));
      }
    } else if (ec != std::errc() || ptr != p_) {
      return Fail(fmt::format("malformed number at column {}", Column(start)));
    }
    return true;
  }
  constexpr uint64_t kMaxPositive = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (overflow || magnitude > kMaxPositive + (negative ? 1 : 0)) {
    return Fail(
        fmt::format("integer {} at column {} does not fit in 64 bits (write big integers as "
                    "{{\"~big\":\"{}\"}})",
                    std::string_view(start, static_cast<size_t>(p_ - start)), Column(start),
                    std::string_view(start, static_cast<size_t>(p_ - start))));
  }
  // -(2^63) has no positive counterpart; negate in unsigned arithmetic.
  i = static_cast<int64_t>(negative ? 0 - magnitude : magnitude);
  return true;
}

bool Parser::ParseEscape(std::string& out) {
  // REQUIRES: *p_ == '\\'.
  ++p_;
  if (p_ >= end_) return Expected("an escape character");
  const char c = *p_++;
  if (const size_t at = kEscapeLetters.find(c); at != std::string_view::npos) {
    out.push_back(kEscapedBytes[at]);
    return true;
  }
  if (c != 'u') {
    --p_;
    return Expected("one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u after '\\'");
  }
  auto read4 = [this](uint32_t& cp) {
    cp = 0;
    for (int i = 0; i < 4; ++i) {
      const int h = p_ < end_ ? HexDigit(*p_) : -1;
      if (h < 0) return Expected("four hex digits after \\u");
      cp = cp * 16 + static_cast<uint32_t>(h);
      ++p_;
    }
    return true;
  };
  uint32_t cp = 0;
  if (!read4(cp)) return false;
  if (cp >= 0xDC00 && cp <= 0xDFFF) {
    p_ -= 6;
    return Expected("a code point, not a lone low surrogate");
  }
  if (cp >= 0xD800 && cp <= 0xDBFF) {
    if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') {
      return Expected("a \\u escape of a low surrogate after a high surrogate");
    }
    p_ += 2;
    uint32_t low = 0;
    if (!read4(low)) return false;
    if (low < 0xDC00 || low > 0xDFFF) {
      p_ -= 6;
      return Expected("a low surrogate (\\udc00 to \\udfff) after a high surrogate");
    }
    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
  }
  AppendUtf8(out, cp);
  return true;
}

bool Parser::ParseStringTo(std::string& out) {
  // REQUIRES: *p_ == '"'.
  ++p_;
  for (;;) {
    const char* run = p_;
    while (p_ < end_ && !NeedsEscape(static_cast<unsigned char>(*p_))) ++p_;
    out.append(run, p_);
    if (p_ >= end_) return Expected("'\"' to close the string");
    if (*p_ == '"') {
      ++p_;
      return true;
    }
    if (*p_ == '\\') {
      if (!ParseEscape(out)) return false;
      continue;
    }
    return Expected("an escaped control character (\\n, \\t, \\u00XX) in the string");
  }
}

bool Parser::ParseKey(std::string_view& key, std::string& scratch) {
  const char* start = p_ + 1;
  const char* q = start;
  while (q < end_ && !NeedsEscape(static_cast<unsigned char>(*q))) ++q;
  if (q < end_ && *q == '"') {
    key = std::string_view(start, static_cast<size_t>(q - start));
    p_ = q + 1;
    return true;
  }
  scratch.clear();
  if (!ParseStringTo(scratch)) return false;
  key = scratch;
  return true;
}

bool Parser::ParseStringValue(std::string& out, std::string_view what) {
  SkipWs();
  if (p_ >= end_ || *p_ != '"') return Expected(what);
  return ParseStringTo(out);
}

bool Parser::ParseArrayItems(std::vector<Value>& items, int depth) {
  // REQUIRES: the '[' was consumed.
  if (Consume(']')) {
    return true;
  }
  items.reserve(2);  // pairs such as [old new] and [key value] are the common case
  for (;;) {
    items.emplace_back();
    if (!ParseValue(items.back(), depth + 1)) return false;
    if (Consume(',')) {
      continue;
    }
    if (Consume(']')) {
      return true;
    }
    return Expected("',' or ']' in an array");
  }
}

// [[k,v],...] into alternating keys and values.
bool Parser::ParsePairs(std::vector<Value>& out, int depth, std::string_view what) {
  SkipWs();
  if (p_ >= end_ || *p_ != '[')
    return Expected(fmt::format("an array of [key, value] pairs {}", what));
  ++p_;
  if (Consume(']')) {
    return true;
  }
  for (;;) {
    SkipWs();
    if (p_ >= end_ || *p_ != '[') return Expected(fmt::format("a [key, value] pair {}", what));
    ++p_;
    out.emplace_back();
    if (!ParseValue(out.back(), depth + 2)) return false;
    if (!Consume(',')) return Expected(fmt::format("',' between key and value {}", what));
    out.emplace_back();
    if (!ParseValue(out.back(), depth + 2)) return false;
    if (!Consume(']')) return Expected(fmt::format("']' after a [key, value] pair {}", what));
    if (Consume(',')) continue;
    if (Consume(']')) return true;
    return Expected(fmt::format("',' or ']' {}", what));
  }
}

bool Parser::ParseTilde(std::string_view key, Value& out, int depth, const char* at) {
  // The value of a one-key "~" object; the caller consumed the ':' and checks for the '}'.
  auto text = [&](ValueKind kind) {
    std::string s;
    if (!ParseStringValue(s, fmt::format("a string after \"{}\"", key))) return false;
    switch (kind) {
      case ValueKind::kKeyword:
        out = Value::Keyword(std::move(s));
        break;
      case ValueKind::kSymbol:
        out = Value::Symbol(std::move(s));
        break;
      case ValueKind::kChar:
        out = Value::Char(std::move(s));
        break;
      case ValueKind::kBigInt:
        if (!IsBigIntText(s)) {
          return Fail(fmt::format("expected decimal digits in \"~big\", got \"{}\" at column {}", s,
                                  Column(at)));
        }
        out = Value::BigInt(std::move(s));
        break;
      case ValueKind::kDecimal:
        out = Value::Decimal(std::move(s));
        break;
      case ValueKind::kRatio:
        if (s.find('/') == std::string::npos) {
          return Fail(fmt::format("expected a ratio \"a/b\" in \"~ratio\", got \"{}\" at column {}",
                                  s, Column(at)));
        }
        out = Value::Ratio(std::move(s));
        break;
      case ValueKind::kDouble:
        if (s == "NaN") {
          out = Value::Double(std::numeric_limits<double>::quiet_NaN());
        } else if (s == "Inf") {
          out = Value::Double(std::numeric_limits<double>::infinity());
        } else if (s == "-Inf") {
          out = Value::Double(-std::numeric_limits<double>::infinity());
        } else {
          return Fail(fmt::format(
              "expected \"NaN\", \"Inf\" or \"-Inf\" in \"~double\", got \"{}\" at column {}", s,
              Column(at)));
        }
        break;
      default:
        break;
    }
    return true;
  };
  auto items = [&](ValueKind kind) {
    SkipWs();
    if (p_ >= end_ || *p_ != '[') return Expected(fmt::format("an array after \"{}\"", key));
    ++p_;
    std::vector<Value> v;
    if (!ParseArrayItems(v, depth)) return false;
    out = kind == ValueKind::kList ? Value::List(std::move(v)) : Value::Set(std::move(v));
    return true;
  };
  if (key == "~kw") return text(ValueKind::kKeyword);
  if (key == "~sym") return text(ValueKind::kSymbol);
  if (key == "~char") return text(ValueKind::kChar);
  if (key == "~big") return text(ValueKind::kBigInt);
  if (key == "~dec") return text(ValueKind::kDecimal);
  if (key == "~ratio") return text(ValueKind::kRatio);
  if (key == "~double") return text(ValueKind::kDouble);
  if (key == "~list") return items(ValueKind::kList);
  if (key == "~set") return items(ValueKind::kSet);
  if (key == "~map") {
    std::vector<Value> kv;
    if (!ParsePairs(kv, depth, "after \"~map\"")) return false;
    out = Value::Map(std::move(kv));
    return true;
  }
  if (key == "~tag") {
    SkipWs();
    if (p_ >= end_ || *p_ != '[') return Expected("a [tag, form] array after \"~tag\"");
    ++p_;
    std::string tag;
    if (!ParseStringValue(tag, "a tag string in \"~tag\"")) return false;
    if (!Consume(',')) return Expected("',' after the tag in \"~tag\"");
    Value form;
    if (!ParseValue(form, depth + 1)) return false;
    if (!Consume(']')) return Expected("']' after the form in \"~tag\"");
    out = Value::Tagged(std::move(tag), std::move(form));
    return true;
  }
  return Fail(fmt::format(
      "expected one of ~kw ~sym ~char ~big ~dec ~ratio ~double ~list ~set ~map ~tag, got \"{}\" "
      "at column {} (keys starting with '~' are reserved)",
      key, Column(at)));
}

bool Parser::ParseObject(Value& out, int depth) {
  // REQUIRES: *p_ == '{'.
  const char* at = p_;
  ++p_;
  SkipWs();
  std::vector<Value> kv;
  if (Consume('}')) {
    out = Value::Map(std::move(kv));
    return true;
  }
  std::string scratch;
  for (;;) {
    SkipWs();
    if (p_ >= end_ || *p_ != '"') return Expected("'\"' to start a field name");
    const char* key_at = p_;
    std::string_view key;
    if (!ParseKey(key, scratch)) return false;
    if (!Consume(':')) return Expected("':' after a field name");
    if (!key.empty() && key.front() == '~') {
      if (!kv.empty()) {
        return Fail(
            fmt::format("field name \"{}\" at column {} starts with '~' (reserved for a "
                        "one-field object such as {{\"~kw\":\"x\"}})",
                        key, Column(key_at)));
      }
      if (!ParseTilde(key, out, depth, at)) return false;
      if (!Consume('}')) {
        return Expected(fmt::format("'}}' after the \"{}\" value (a '~' field stands alone)", key));
      }
      return true;
    }
    if (key.empty()) {
      return Fail(fmt::format("empty field name at column {}", Column(key_at)));
    }
    kv.push_back(Value::Keyword(std::string(key)));
    kv.emplace_back();
    if (!ParseValue(kv.back(), depth + 1)) return false;
    if (Consume(',')) {
      continue;
    }
    if (Consume('}')) {
      out = Value::Map(std::move(kv));
      return true;
    }
    return Expected("',' or '}' in an object");
  }
}

bool Parser::ParseOpObject(Op& op, Value& metadata, LineKind& kind, bool whole_line) {
  SkipWs();
  if (p_ >= end_ || *p_ != '{') return Expected("'{' to start an op");
  ++p_;
  bool has_type = false, has_process = false, has_value = false;
  bool has_index = false, has_time = false, has_f = false;
  int op_fields = 0;  // fields other than "faultline"
  std::optional<Value> faultline;
  std::string scratch, name_scratch;
  auto duplicate = [this](std::string_view key, const char* at) {
    return Fail(fmt::format("duplicate field \"{}\" at column {}", key, Column(at)));
  };
  // Reads an integer field; `what` names it for errors.
  auto int_field = [this](std::string_view what, int64_t& dst) {
    SkipWs();
    const char* at = p_;
    if (p_ < end_ && (*p_ == '-' || (*p_ >= '0' && *p_ <= '9'))) {
      double d = 0;
      bool is_double = false;
      if (!ScanNumber(dst, d, is_double)) return false;
      if (!is_double) return true;
      return WrongValue(what, Value::Double(d), at);
    }
    Value v;
    if (!ParseValue(v, 1)) return false;
    return WrongValue(what, v, at);
  };
  if (!Consume('}')) {
    for (;;) {
      SkipWs();
      if (p_ >= end_ || *p_ != '"') return Expected("'\"' to start a field name");
      const char* key_at = p_;
      std::string_view key;
      OpField field = MatchOpField(key);
      if (field == OpField::kOther) {
        if (!ParseKey(key, scratch)) return false;
        field = ClassifyOpField(key);
      }
      if (!Consume(':')) return Expected("':' after a field name");
      SkipWs();
      const char* value_at = p_;
      bool ok = true;
      ++op_fields;
      if (field == OpField::kType) {
        if (has_type) return duplicate(key, key_at);
        has_type = true;
        std::string_view name;
        if (p_ >= end_ || *p_ != '"') {
          Value v;
          if (!ParseValue(v, 1)) return false;
          return WrongValue("\"invoke\", \"ok\", \"fail\" or \"info\" for \"type\"", v, value_at);
        }
        if (Quoted(p_, end_, "invoke")) {
          op.type = OpType::kInvoke;
          p_ += 8;
        } else if (Quoted(p_, end_, "ok")) {
          op.type = OpType::kOk;
          p_ += 4;
        } else if (Quoted(p_, end_, "info")) {
          op.type = OpType::kInfo;
          p_ += 6;
        } else if (Quoted(p_, end_, "fail")) {
          op.type = OpType::kFail;
          p_ += 6;
        } else if (!ParseKey(name, name_scratch)) {
          return false;
        } else if (name == "invoke") {
          op.type = OpType::kInvoke;
        } else if (name == "ok") {
          op.type = OpType::kOk;
        } else if (name == "fail") {
          op.type = OpType::kFail;
        } else if (name == "info") {
          op.type = OpType::kInfo;
        } else {
          return Fail(
              fmt::format("expected \"invoke\", \"ok\", \"fail\" or \"info\" for \"type\", got "
                          "\"{}\" at column {}",
                          name, Column(value_at)));
        }
      } else if (field == OpField::kF) {
        if (has_f) return duplicate(key, key_at);
        has_f = true;
        if (p_ >= end_ || *p_ != '"') {
          Value v;
          if (!ParseValue(v, 1)) return false;
          return WrongValue("a string for \"f\"", v, value_at);
        }
        op.f.clear();
        ok = ParseStringTo(op.f);
        if (ok && op.f.empty()) {
          return Fail(
              fmt::format("expected a name for \"f\", got \"\" at column {}", Column(value_at)));
        }
      } else if (field == OpField::kValue) {
        if (has_value) return duplicate(key, key_at);
        has_value = true;
        ok = ParseValue(op.value, 1);
      } else if (field == OpField::kProcess) {
        if (has_process) return duplicate(key, key_at);
        has_process = true;
        if (p_ < end_ && *p_ == '"') {
          op.process.number = 0;
          op.process.name.clear();
          if (!ParseStringTo(op.process.name)) return false;
          if (op.process.name.empty()) {
            return WrongValue("an integer or a name for \"process\"", Value::String(""), value_at);
          }
        } else if (p_ < end_ && (*p_ == '-' || (*p_ >= '0' && *p_ <= '9'))) {
          op.process.name.clear();
          ok = int_field("an integer or a name for \"process\"", op.process.number);
        } else {
          Value v;
          if (!ParseValue(v, 1)) return false;
          return WrongValue("an integer or a name for \"process\"", v, value_at);
        }
      } else if (field == OpField::kIndex) {
        if (has_index) return duplicate(key, key_at);
        has_index = true;
        ok = int_field("an integer for \"index\"", op.index);
      } else if (field == OpField::kTime) {
        if (has_time) return duplicate(key, key_at);
        has_time = true;
        ok = int_field("an integer for \"time\"", op.time_ns);
      } else if (field == OpField::kKey) {
        if (op.key.has_value()) return duplicate(key, key_at);
        op.key.emplace();
        ok = ParseValue(*op.key, 1);
      } else if (field == OpField::kError) {
        if (op.error.has_value()) return duplicate(key, key_at);
        op.error.emplace();
        ok = ParseValue(*op.error, 1);
      } else if (field == OpField::kExtras) {
        std::vector<Value> kv;
        if (!ParsePairs(kv, 0, "after \"~extras\"")) return false;
        for (size_t i = 0; i < kv.size(); i += 2) {
          op.extras.push_back(Field{.key = std::move(kv[i]), .value = std::move(kv[i + 1])});
        }
      } else if (!key.empty() && key.front() == '~') {
        return Fail(fmt::format(
            "expected an op field name, got \"{}\" at column {} (keys starting with '~' are "
            "reserved)",
            key, Column(key_at)));
      } else if (key.empty()) {
        return Fail(fmt::format("empty field name at column {}", Column(key_at)));
      } else {
        const bool is_faultline = key == "faultline";
        if (is_faultline) --op_fields;
        op.extras.push_back(Field{.key = Value::Keyword(std::string(key)), .value = Value()});
        ok = ParseValue(op.extras.back().value, 1);
        if (ok && is_faultline) {
          if (faultline.has_value()) return duplicate(key, key_at);
          faultline = op.extras.back().value;
        }
      }
      if (!ok) return false;
      if (Consume(',')) {
        continue;
      }
      if (Consume('}')) {
        break;
      }
      return Expected("',' or '}' after an op field");
    }
  }
  if (whole_line && !ExpectEnd()) return false;
  if (!has_type && faultline.has_value()) {
    if (op_fields > 0) {
      return Fail(
          "expected either an op (with \"type\") or run metadata (only \"faultline\"), "
          "got \"faultline\" with other fields");
    }
    metadata = std::move(*faultline);
    kind = LineKind::kMetadata;
    return true;
  }
  if (!has_type)
    return Fail("missing field \"type\" (expected \"invoke\", \"ok\", \"fail\" or \"info\")");
  // A minimal history has no "process"; History::Build pairs such ops by file order.
  if (!has_process) op.process = Process::None();
  kind = LineKind::kOp;
  return true;
}

// The "~tag" a kind whose value is text is written under in JSON, or "" for other kinds.
std::string_view TildeTag(ValueKind kind) {
  switch (kind) {
    case ValueKind::kBigInt:
      return "~big";
    case ValueKind::kDecimal:
      return "~dec";
    case ValueKind::kRatio:
      return "~ratio";
    case ValueKind::kKeyword:
      return "~kw";
    case ValueKind::kSymbol:
      return "~sym";
    case ValueKind::kChar:
      return "~char";
    default:
      return "";
  }
}

}  // namespace

void AppendJsonValue(std::string& out, const Value& value) {
  if (const std::string_view tag = TildeTag(value.kind()); !tag.empty()) {
    AppendTildeText(out, tag, value.text());
    return;
  }
  switch (value.kind()) {
    case ValueKind::kNil:
      out.append("null");
      return;
    case ValueKind::kBool:
      out.append(value.as_bool() ? "true" : "false");
      return;
    case ValueKind::kInt:
      AppendInt(out, value.as_int());
      return;
    case ValueKind::kDouble:
      AppendDouble(out, value.as_double());
      return;
    case ValueKind::kString:
      AppendJsonString(out, value.text());
      return;
    case ValueKind::kBigInt:
    case ValueKind::kDecimal:
    case ValueKind::kRatio:
    case ValueKind::kKeyword:
    case ValueKind::kSymbol:
    case ValueKind::kChar:
      return;  // written above
    case ValueKind::kList:
      out.append("{\"~list\":");
      AppendItems(out, value.items());
      out.push_back('}');
      return;
    case ValueKind::kVector:
      AppendItems(out, value.items());
      return;
    case ValueKind::kSet:
      out.append("{\"~set\":");
      AppendItems(out, value.items());
      out.push_back('}');
      return;
    case ValueKind::kMap: {
      const auto& kv = value.items();
      if (HasOnlyPlainKeywordKeys(kv)) {
        out.push_back('{');
        for (size_t i = 0; i < kv.size(); i += 2) {
          if (i > 0) out.push_back(',');
          AppendJsonString(out, kv[i].text());
          out.push_back(':');
          AppendJsonValue(out, kv[i + 1]);
        }
        out.push_back('}');
        return;
      }
      out.append("{\"~map\":[");
      for (size_t i = 0; i < kv.size(); i += 2) {
        if (i > 0) out.push_back(',');
        out.push_back('[');
        AppendJsonValue(out, kv[i]);
        out.push_back(',');
        AppendJsonValue(out, kv[i + 1]);
        out.push_back(']');
      }
      out.append("]}");
      return;
    }
    case ValueKind::kTagged:
      out.append("{\"~tag\":[");
      AppendJsonString(out, value.tag());
      out.push_back(',');
      AppendJsonValue(out, value.tagged_form());
      out.append("]}");
      return;
  }
}

Result<Value> ParseJsonValue(std::string_view text) {
  Parser parser(text);
  Value v;
  if (!parser.ParseDocument(v)) return MakeError(ErrorCode::kInvalidArgument, parser.error());
  return v;
}

void AppendJsonOp(std::string& out, const Op& op) {
  out.push_back('{');
  bool first = true;
  auto field = [&](std::string_view name) {
    if (!first) out.push_back(',');
    first = false;
    out.push_back('"');
    out.append(name);
    out.append("\":");
  };
  if (op.index >= 0) {
    field("index");
    AppendInt(out, op.index);
  }
  if (op.time_ns >= 0) {
    field("time");
    AppendInt(out, op.time_ns);
  }
  field("type");
  out.push_back('"');
  out.append(OpTypeName(op.type));
  out.push_back('"');
  if (op.process.is_none()) {
    // no "process": written back as it was read
  } else if (op.process.is_client()) {
    field("process");
    AppendInt(out, op.process.number);
  } else {
    field("process");
    AppendJsonString(out, op.process.name);
  }
  if (!op.f.empty()) {
    field("f");
    AppendJsonString(out, op.f);
  }
  if (op.key.has_value()) {
    field("key");
    AppendJsonValue(out, *op.key);
  }
  field("value");
  AppendJsonValue(out, op.value);
  if (op.error.has_value()) {
    field("error");
    AppendJsonValue(out, *op.error);
  }
  bool plain = true;
  for (const Field& f : op.extras) {
    if (!f.key.is_keyword() || !IsPlainName(f.key.text())) {
      plain = false;
      break;
    }
  }
  if (plain) {
    for (const Field& f : op.extras) {
      field(f.key.text());
      AppendJsonValue(out, f.value);
    }
  } else if (!op.extras.empty()) {
    // A key JSON cannot name plainly: all extras go together, so their order survives.
    field("~extras");
    out.push_back('[');
    for (size_t i = 0; i < op.extras.size(); ++i) {
      if (i > 0) out.push_back(',');
      out.push_back('[');
      AppendJsonValue(out, op.extras[i].key);
      out.push_back(',');
      AppendJsonValue(out, op.extras[i].value);
      out.push_back(']');
    }
    out.push_back(']');
  }
  out.push_back('}');
}

Result<Op> ParseJsonOp(std::string_view line) {
  Parser parser(line);
  Op op;
  Value metadata;
  LineKind kind = LineKind::kOp;
  if (!parser.ParseOpLine(op, metadata, kind)) {
    return MakeError(ErrorCode::kInvalidArgument, parser.error());
  }
  if (kind == LineKind::kMetadata) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "expected an op, got run metadata (a \"faultline\" object without \"type\")");
  }
  return op;
}

namespace {

// The line loop of a JSON Lines history. `next()` gives the Op to parse the next line into;
// `done(keep, line, at)` follows each parsed line: keep = an op (false: metadata, to discard).
template <typename Next, typename Done>
Status ScanJsonl(std::string_view text, std::string_view source, JsonlReadInfo* info, Next&& next,
                 Done&& done) {
  size_t pos = 0;
  int64_t line_no = 0;
  while (pos < text.size()) {
    ++line_no;
    const size_t nl = text.find('\n', pos);
    const bool has_newline = nl != std::string_view::npos;
    std::string_view line = text.substr(pos, has_newline ? nl - pos : std::string_view::npos);
    pos = has_newline ? nl + 1 : text.size();
    size_t first = 0;
    while (first < line.size() && IsWs(line[first])) ++first;
    if (first == line.size()) continue;  // blank lines carry nothing

    Parser parser(line);
    Op& op = next();
    Value metadata;
    LineKind kind = LineKind::kOp;
    if (!parser.ParseOpLine(op, metadata, kind)) {
      FAULTLINE_RETURN_IF_ERROR(done(false, line_no, line.data()));
      if (!has_newline && parser.syntax_error()) {
        // A writer that crashed mid-line leaves exactly this: report it and keep the prefix.
        if (info != nullptr) {
          info->truncated_tail = true;
          info->truncated_line = line_no;
        }
        break;
      }
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("{}: line {}: {}", source, line_no, parser.error()));
    }
    if (kind == LineKind::kMetadata) {
      FAULTLINE_RETURN_IF_ERROR(done(false, line_no, line.data()));
      if (info != nullptr) info->metadata.push_back(std::move(metadata));
      continue;
    }
    FAULTLINE_RETURN_IF_ERROR(done(true, line_no, line.data()));
  }
  return OkStatus();
}

}  // namespace

Result<History> ReadJsonlHistory(std::string_view text, std::string_view source,
                                 JsonlReadInfo* info) {
  std::vector<Op> ops;
  Source src;
  src.name = std::string(source);
  {
    // One op per line: reserving by the newline count avoids regrowing a large vector of ops.
    size_t lines = 0;
    for (const char* q = text.data();
         (q = static_cast<const char*>(std::memchr(q, '\n', text.data() + text.size() - q))) !=
         nullptr;
         ++q) {
      ++lines;
    }
    ops.reserve(lines + 1);
    src.lines.reserve(lines + 1);
  }
  // Parsed in place: an Op is large, and moving one per line shows in the profile.
  FAULTLINE_RETURN_IF_ERROR(ScanJsonl(
      text, source, info, [&ops]() -> Op& { return ops.emplace_back(); },
      [&ops, &src](bool keep, int64_t line, const char*) -> Status {
        if (keep) {
          src.lines.push_back(line);
        } else {
          ops.pop_back();
        }
        return OkStatus();
      }));
  return History::Build(std::move(ops), src);
}

Status ForEachJsonlOp(std::string_view text, std::string_view source, JsonlReadInfo* info,
                      const OpSink& sink) {
  Op scratch;
  return ScanJsonl(
      text, source, info,
      [&scratch]() -> Op& {
        scratch = Op();
        return scratch;
      },
      [&scratch, &sink](bool keep, int64_t line, const char* at) -> Status {
        if (!keep) return OkStatus();
        return sink(std::move(scratch), line, at);
      });
}

namespace {

// elle-cli reads a transaction's micro-op names as strings ("append", "r", "w") and makes them
// keywords; so does this reader. A value is taken for a transaction, as elle-cli takes it, when it
// is a non-empty vector whose first item is a non-empty vector starting with a string.
void KeywordizeMicroOpNames(Value& value) {
  if (value.kind() != ValueKind::kVector || value.items().empty()) return;
  const Value& first = value.items().front();
  if (first.kind() != ValueKind::kVector || first.items().empty() ||
      !first.items().front().is_string()) {
    return;
  }
  for (Value& mop : value.mutable_items()) {
    if (mop.kind() != ValueKind::kVector || mop.items().empty()) continue;
    Value& f = mop.mutable_items().front();
    if (f.is_string()) f = Value::Keyword(f.text());
  }
}

// The inverse for writing: a vector of vectors that start with keywords is written with those
// keywords as plain strings, which is how elle-cli and Jepsen's JSON spell micro-ops.
bool IsKeywordTxn(const Value& value) {
  if (value.kind() != ValueKind::kVector || value.items().empty()) return false;
  for (const Value& mop : value.items()) {
    if (mop.kind() != ValueKind::kVector || mop.items().empty() ||
        mop.items().front().kind() != ValueKind::kKeyword) {
      return false;
    }
  }
  return true;
}

}  // namespace

Status ForEachJsonArrayOp(std::string_view text, std::string_view source, JsonlReadInfo* info,
                          const OpSink& sink) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // a UTF-8 byte order mark
  Parser parser(text);
  // Lines are counted incrementally: each op's line is that of its opening brace.
  const char* counted = text.data();
  int64_t line_no = 1;
  Status sunk = OkStatus();
  const bool ok =
      parser.ParseOpArray([&](Op&& op, LineKind kind, Value&& metadata, const char* at) {
        line_no += std::count(counted, at, '\n');
        counted = at;
        if (kind == LineKind::kMetadata) {
          if (info != nullptr) info->metadata.push_back(std::move(metadata));
          return true;
        }
        KeywordizeMicroOpNames(op.value);
        sunk = sink(std::move(op), line_no, at);
        return sunk.has_value();
      });
  if (!sunk) return sunk;
  if (!ok) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("{}: line {}: {}", source, parser.ErrorLine(), parser.error()));
  }
  return OkStatus();
}

Result<History> ReadJsonArrayHistory(std::string_view text, std::string_view source,
                                     JsonlReadInfo* info) {
  std::vector<Op> ops;
  Source src;
  src.name = std::string(source);
  FAULTLINE_RETURN_IF_ERROR(
      ForEachJsonArrayOp(text, source, info, [&](Op&& op, int64_t line, const char*) -> Status {
        ops.push_back(std::move(op));
        src.lines.push_back(line);
        return OkStatus();
      }));
  return History::Build(std::move(ops), src);
}

std::string WriteJsonArrayHistory(const History& history) {
  std::string out;
  out.reserve(history.size() * 96 + 4);
  out.push_back('[');
  bool first = true;
  for (const Op& op : history.ops()) {
    if (!first) out += ",\n ";
    first = false;
    if (IsKeywordTxn(op.value)) {
      Op copy = op;
      for (Value& mop : copy.value.mutable_items()) {
        Value& f = mop.mutable_items().front();
        f = Value::String(f.text());
      }
      AppendJsonOp(out, copy);
    } else {
      AppendJsonOp(out, op);
    }
  }
  out += "]\n";
  return out;
}

std::string WriteJsonlHistory(const History& history) {
  std::string out;
  out.reserve(history.size() * 96);
  for (const Op& op : history.ops()) {
    AppendJsonOp(out, op);
    out.push_back('\n');
  }
  return out;
}

}  // namespace faultline::history
