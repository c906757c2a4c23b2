// The EDN reader is a hand-written recursive-descent scanner over the input bytes. Errors are kept
// in the reader (not returned through every level) so that the common, successful path moves
// values around as little as possible; every Read* function returns std::nullopt after recording
// the error.
//
// ReadEdnHistory has a fast path for op maps: it recognises the op keys while scanning and fills
// an Op directly, without building a Value map first. Anything unusual (a duplicate op key, a key
// of an unexpected type, a missing :type) makes it rewind and take the generic path, a Value map
// handed to OpFromMap, so both paths give the same op and OpFromMap stays the one place that
// decides what a valid op is.
#include "history/edn.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace faultline::history {
namespace {

// Deeper nesting than this is an input error rather than a stack overflow.
constexpr int kMaxDepth = 512;

enum CharClass : uint8_t {
  kSpace = 1,  // space, tab, CR, LF, comma
  kToken = 2,  // may continue a symbol, keyword, number or tag
};

constexpr std::array<uint8_t, 256> MakeCharClasses() {
  std::array<uint8_t, 256> c{};
  for (char s : std::string_view(" \t\r\n,")) c[static_cast<unsigned char>(s)] |= kSpace;
  for (int i = 'a'; i <= 'z'; ++i) c[i] |= kToken;
  for (int i = 'A'; i <= 'Z'; ++i) c[i] |= kToken;
  for (int i = '0'; i <= '9'; ++i) c[i] |= kToken;
  for (char s : std::string_view(".*+!-_?$%&=<>'/:#")) c[static_cast<unsigned char>(s)] |= kToken;
  // Non-ASCII bytes: Clojure allows Unicode letters in symbols and keywords.
  for (int i = 0x80; i < 0x100; ++i) c[i] |= kToken;
  return c;
}
constexpr std::array<uint8_t, 256> kCharClass = MakeCharClasses();

inline bool IsSpace(char c) { return (kCharClass[static_cast<unsigned char>(c)] & kSpace) != 0; }
inline bool IsToken(char c) { return (kCharClass[static_cast<unsigned char>(c)] & kToken) != 0; }
inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }
inline bool IsCloser(char c) { return c == ')' || c == ']' || c == '}'; }

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Length of the UTF-8 sequence that starts with byte b (1 for a stray continuation byte).
size_t Utf8Length(unsigned char b) {
  if (b >= 0xF0) return 4;
  if (b >= 0xE0) return 3;
  if (b >= 0xC0) return 2;
  return 1;
}

std::string_view KindPhrase(ValueKind kind) {
  switch (kind) {
    case ValueKind::kNil:
      return "nil";
    case ValueKind::kBool:
      return "a boolean";
    case ValueKind::kInt:
      return "an integer";
    case ValueKind::kBigInt:
      return "a big integer";
    case ValueKind::kDouble:
      return "a double";
    case ValueKind::kDecimal:
      return "a decimal";
    case ValueKind::kRatio:
      return "a ratio";
    case ValueKind::kString:
      return "a string";
    case ValueKind::kKeyword:
      return "a keyword";
    case ValueKind::kSymbol:
      return "a symbol";
    case ValueKind::kChar:
      return "a character";
    case ValueKind::kList:
      return "a list";
    case ValueKind::kVector:
      return "a vector";
    case ValueKind::kMap:
      return "a map";
    case ValueKind::kSet:
      return "a set";
    case ValueKind::kTagged:
      return "a tagged element";
  }
  return "a value";
}

std::string_view CollectionName(ValueKind kind) {
  switch (kind) {
    case ValueKind::kList:
      return "list";
    case ValueKind::kVector:
      return "vector";
    case ValueKind::kMap:
      return "map";
    case ValueKind::kSet:
      return "set";
    default:
      return "collection";
  }
}

// The keys of an op map that ReadOpFast recognises.
enum class OpKey { kIndex, kTime, kType, kProcess, kF, kKey, kValue, kError, kExtra };

// A comparison with a literal of known length, which the compiler turns into a few loads.
template <size_t N>
inline bool NameIs(std::string_view name, const char (&literal)[N]) {
  return name.size() == N - 1 && std::memcmp(name.data(), literal, N - 1) == 0;
}

inline OpKey ClassifyOpKey(std::string_view name) {
  switch (name.size()) {
    case 1:
      if (NameIs(name, "f")) return OpKey::kF;
      break;
    case 3:
      if (NameIs(name, "key")) return OpKey::kKey;
      break;
    case 4:
      if (NameIs(name, "time")) return OpKey::kTime;
      if (NameIs(name, "type")) return OpKey::kType;
      break;
    case 5:
      if (NameIs(name, "index")) return OpKey::kIndex;
      if (NameIs(name, "value")) return OpKey::kValue;
      if (NameIs(name, "error")) return OpKey::kError;
      break;
    case 7:
      if (NameIs(name, "process")) return OpKey::kProcess;
      break;
    default:
      break;
  }
  return OpKey::kExtra;
}

// A keyword name that ReadKeyword would accept as it is.
inline bool PlainName(std::string_view word) {
  return !word.empty() && word.front() != ':' && (word.back() != '/' || word == "/");
}

class Reader {
 public:
  // A saved position, to rewind or to report an error where a form started.
  struct Mark {
    const char* p;
    const char* line_start;
    int64_t line;
  };

  Reader(std::string_view text, std::string_view source)
      : p_(text.data()),
        end_(text.data() + text.size()),
        line_start_(text.data()),
        source_(source) {}

  bool at_end() const { return p_ == end_; }
  char peek() const { return *p_; }
  int64_t line() const { return line_; }
  Mark mark() const { return Mark{p_, line_start_, line_}; }
  void Reset(const Mark& m) {
    p_ = m.p;
    line_start_ = m.line_start;
    line_ = m.line;
  }
  bool failed() const { return error_.has_value(); }
  Error TakeError() { return std::move(*error_); }

  // Skips whitespace, commas, comments and #_ discarded forms. False after an error. Always
  // inlined: it runs between every two tokens, and the common case is one or two spaces.
  [[gnu::always_inline]] bool SkipSpace() {
    while (p_ != end_ && IsSpace(*p_)) {
      if (*p_ == '\n') NewLine(p_ + 1);
      ++p_;
    }
    if (p_ == end_ || (*p_ != ';' && *p_ != '#')) return true;
    return SkipCommentsAndDiscards();
  }

  // Skips space, then reads one form. `expected` names it in the error when none follows.
  std::optional<Value> ReadForm(std::string_view expected = "a form") {
    if (!SkipSpace()) return std::nullopt;
    if (p_ == end_ || IsCloser(*p_)) return ExpectFail(expected);
    return ReadFormHere();
  }

  // Reads the form that starts at the current position (no leading space).
  std::optional<Value> ReadFormHere() {
    switch (*p_) {
      case '{':
        return ReadCollection(ValueKind::kMap, 1);
      case '[':
        return ReadCollection(ValueKind::kVector, 1);
      case '(':
        return ReadCollection(ValueKind::kList, 1);
      case '"':
        return ReadString();
      case ':':
        return ReadKeyword();
      case '\\':
        return ReadChar();
      case '#':
        return ReadDispatch();
      case '+':
      case '-':
        if (p_ + 1 != end_ && IsDigit(p_[1])) return ReadNumber();
        return ReadSymbol();
      default:
        break;
    }
    if (IsDigit(*p_)) {
      if (std::optional<int64_t> small = ScanSmallInt()) return Value::Int(*small);
      return ReadNumber();
    }
    if (IsToken(*p_)) return ReadSymbol();
    return ExpectFail("a form");
  }

  // Reads the list or vector at the current position, noting the line where each element starts.
  std::optional<Value> ReadSequence(std::vector<int64_t>& item_lines) {
    return ReadCollection(*p_ == '[' ? ValueKind::kVector : ValueKind::kList, 1, &item_lines);
  }

  // What ReadOpFast did.
  enum class FastOp {
    kDone,      // the op map was read into the op
    kFallback,  // the position is unchanged; the generic path must decide
    kError,     // failed()
  };

  // The fast path for an op map at the current position ('{'), read into `op` (a fresh Op, which
  // is filled in place to save moving it).
  FastOp ReadOpFast(Op& op) {
    const Mark start = mark();
    auto fallback = [&]() {
      if (failed()) return FastOp::kError;
      Reset(start);
      return FastOp::kFallback;
    };
    ++p_;
    unsigned seen = 0;
    for (;;) {
      if (!SkipSpace()) return FastOp::kError;
      if (p_ == end_) return fallback();
      const char c = *p_;
      if (c == '}') {
        ++p_;
        break;
      }
      if (c == ']' || c == ')') return fallback();
      if (c != ':' || p_ + 1 == end_ || p_[1] == ':') {
        // A key that is not a keyword: an extra field.
        std::optional<Value> key = ReadFormHere();
        if (!key) return FastOp::kError;
        if (!SkipSpace()) return FastOp::kError;
        if (p_ == end_ || IsCloser(*p_)) return fallback();
        std::optional<Value> value = ReadFormHere();
        if (!value) return FastOp::kError;
        op.extras.push_back(Field{std::move(*key), std::move(*value)});
        continue;
      }
      ++p_;
      const std::string_view name = Token();
      if (name.empty() || (name.back() == '/' && name != "/")) return fallback();
      if (!SkipSpace()) return FastOp::kError;
      if (p_ == end_ || IsCloser(*p_)) return fallback();
      const OpKey key = ClassifyOpKey(name);
      const unsigned bit = 1u << static_cast<unsigned>(key);
      if (key != OpKey::kExtra) {
        if ((seen & bit) != 0) return fallback();
        seen |= bit;
      }
      switch (key) {
        case OpKey::kIndex:
        case OpKey::kTime:
        case OpKey::kProcess: {
          if (key == OpKey::kProcess && *p_ == ':') {
            ++p_;
            const std::string_view word = Token();
            if (!PlainName(word)) return fallback();
            op.process = Process::Named(std::string(word));
            break;
          }
          // Negative numbers and anything but a small integer go to OpFromMap.
          std::optional<int64_t> n = IsDigit(*p_) ? ScanSmallInt() : std::nullopt;
          if (!n) return fallback();
          if (key == OpKey::kIndex) {
            op.index = *n;
          } else if (key == OpKey::kTime) {
            op.time_ns = *n;
          } else {
            op.process = Process::Client(*n);
          }
          break;
        }
        case OpKey::kType:
        case OpKey::kF: {
          if (*p_ != ':') return fallback();
          ++p_;
          const std::string_view word = Token();
          if (!PlainName(word)) return fallback();
          if (key == OpKey::kF) {
            op.f.assign(word);
            break;
          }
          std::optional<OpType> type = ParseOpType(word);
          if (!type) return fallback();
          op.type = *type;
          break;
        }
        case OpKey::kKey:
        case OpKey::kValue:
        case OpKey::kError:
        case OpKey::kExtra: {
          std::optional<Value> value = ReadFormHere();
          if (!value) return FastOp::kError;
          if (key == OpKey::kValue) {
            op.value = std::move(*value);
          } else if (key == OpKey::kExtra) {
            op.extras.push_back(Field{Value::Keyword(std::string(name)), std::move(*value)});
          } else if (value->is_nil()) {
            // OpFromMap decides what an explicit nil :key or :error means.
            return fallback();
          } else {
            (key == OpKey::kKey ? op.key : op.error) = std::move(*value);
          }
          break;
        }
      }
    }
    constexpr unsigned kRequired = (1u << static_cast<unsigned>(OpKey::kType)) |
                                   (1u << static_cast<unsigned>(OpKey::kProcess));
    if ((seen & kRequired) != kRequired) return fallback();
    return FastOp::kDone;
  }

  // Fails with "expected <expected>, got <what is at the current position>".
  std::nullopt_t ExpectFail(std::string_view expected) {
    return FailHere(fmt::format("expected {}, got {}", expected, Got()));
  }

  // Fails with a message at the current position.
  std::nullopt_t FailHere(std::string_view message) { return FailAt(mark(), message); }

  std::nullopt_t FailAt(const Mark& m, std::string_view message) {
    if (!error_) {
      error_.emplace(ErrorCode::kInvalidArgument, fmt::format("{}: line {}: column {}: {}", source_,
                                                              m.line, Column(m), message));
    }
    return std::nullopt;
  }

 private:
  // The rarer part of SkipSpace, kept out of line so that SkipSpace inlines.
  [[gnu::noinline]] bool SkipCommentsAndDiscards() {
    for (;;) {
      while (p_ != end_ && IsSpace(*p_)) {
        if (*p_ == '\n') NewLine(p_ + 1);
        ++p_;
      }
      if (p_ == end_) return true;
      if (*p_ == ';') {
        const void* nl = std::memchr(p_, '\n', static_cast<size_t>(end_ - p_));
        p_ = nl != nullptr ? static_cast<const char*>(nl) : end_;
        continue;
      }
      if (*p_ == '#' && p_ + 1 != end_ && p_[1] == '_') {
        p_ += 2;
        if (!Enter()) return false;
        std::optional<Value> dropped = ReadForm("a form to discard after #_");
        --depth_;
        if (!dropped) return false;
        continue;
      }
      return true;
    }
  }

  // Reads an integer of at most 18 digits (so it cannot overflow) that ends at a delimiter.
  // Returns nullopt, with the position unchanged, for anything else; ReadNumber then decides.
  std::optional<int64_t> ScanSmallInt() {
    const char* q = p_;
    const bool negative = q != end_ && *q == '-';
    if (negative || (q != end_ && *q == '+')) ++q;
    const char* digits = q;
    int64_t v = 0;
    while (q != end_ && IsDigit(*q) && q - digits < 18) {
      v = v * 10 + (*q - '0');
      ++q;
    }
    // A 19th digit is a token character too, so longer numbers end up in ReadNumber.
    if (q == digits || (q != end_ && IsToken(*q))) return std::nullopt;
    p_ = q;
    return negative ? -v : v;
  }

  void NewLine(const char* next_line_start) {
    ++line_;
    line_start_ = next_line_start;
  }

  bool Enter() {
    if (++depth_ > kMaxDepth) {
      --depth_;
      FailHere(fmt::format("forms nested deeper than {} levels", kMaxDepth));
      return false;
    }
    return true;
  }

  // 1-based column in characters (UTF-8 code points), computed only for errors.
  static int64_t Column(const Mark& m) {
    int64_t column = 1;
    for (const char* q = m.line_start; q < m.p; ++q) {
      if ((static_cast<unsigned char>(*q) & 0xC0) != 0x80) ++column;
    }
    return column;
  }

  // What is at the current position, for "got ..." in errors.
  std::string Got() const {
    if (p_ == end_) return "end of input";
    const unsigned char c = static_cast<unsigned char>(*p_);
    if (c == '\n') return "end of line";
    if (c == '\r') return "'\\r'";
    if (c == '\t') return "a tab";
    if (c < 0x20 || c == 0x7F) return fmt::format("byte 0x{:02x}", c);
    const size_t n = std::min(Utf8Length(c), static_cast<size_t>(end_ - p_));
    return fmt::format("'{}'", std::string_view(p_, n));
  }

  // Reads token characters from the current position.
  std::string_view Token() {
    const char* start = p_;
    while (p_ != end_ && IsToken(*p_)) ++p_;
    return std::string_view(start, static_cast<size_t>(p_ - start));
  }

  // The current position is at the opening bracket; `open` is its length (2 for "#{").
  // Notes the line of each item in `item_lines` when given.
  std::optional<Value> ReadCollection(ValueKind kind, int open,
                                      std::vector<int64_t>* item_lines = nullptr) {
    const Mark start = mark();
    const char close = kind == ValueKind::kMap || kind == ValueKind::kSet ? '}'
                       : kind == ValueKind::kVector                       ? ']'
                                                                          : ')';
    if (!Enter()) return std::nullopt;
    p_ += open;
    std::vector<Value> items;
    for (;;) {
      if (!SkipSpace()) return std::nullopt;
      if (p_ == end_) {
        return ExpectFail(fmt::format("'{}' to close the {} starting at line {}", close,
                                      CollectionName(kind), start.line));
      }
      const char c = *p_;
      if (c == close) {
        if (kind == ValueKind::kMap && items.size() % 2 != 0) {
          std::string key = items.back().ToEdn();
          if (key.size() > 40) key = key.substr(0, 37) + "...";
          return ExpectFail(fmt::format("a value for the key {} of the map starting at line {}",
                                        key, start.line));
        }
        ++p_;
        break;
      }
      if (IsCloser(c)) {
        return ExpectFail(fmt::format("'{}' to close the {} starting at line {}", close,
                                      CollectionName(kind), start.line));
      }
      if (item_lines != nullptr) item_lines->push_back(line_);
      std::optional<Value> item = ReadFormHere();
      if (!item) return std::nullopt;
      items.push_back(std::move(*item));
    }
    --depth_;
    switch (kind) {
      case ValueKind::kMap:
        return Value::Map(std::move(items));
      case ValueKind::kSet:
        return Value::Set(std::move(items));
      case ValueKind::kVector:
        return Value::Vector(std::move(items));
      default:
        return Value::List(std::move(items));
    }
  }

  // Reads the four hex digits of a \u escape at the current position.
  std::optional<uint32_t> ReadHex4() {
    if (end_ - p_ < 4) return std::nullopt;
    uint32_t cp = 0;
    for (int i = 0; i < 4; ++i) {
      const int d = HexDigit(p_[i]);
      if (d < 0) return std::nullopt;
      cp = cp * 16 + static_cast<uint32_t>(d);
    }
    p_ += 4;
    return cp;
  }

  std::optional<Value> ReadString() {
    const Mark start = mark();
    ++p_;
    const char* run = p_;
    // Common case: no escapes.
    while (p_ != end_ && *p_ != '"' && *p_ != '\\') {
      if (*p_ == '\n') NewLine(p_ + 1);
      ++p_;
    }
    std::string s(run, p_);
    while (p_ != end_ && *p_ != '"') {
      // At a backslash.
      const Mark escape = mark();
      ++p_;
      if (p_ == end_) break;
      const char e = *p_++;
      switch (e) {
        case '"':
          s += '"';
          break;
        case '\\':
          s += '\\';
          break;
        case 'n':
          s += '\n';
          break;
        case 't':
          s += '\t';
          break;
        case 'r':
          s += '\r';
          break;
        case 'b':
          s += '\b';
          break;
        case 'f':
          s += '\f';
          break;
        case 'u': {
          std::optional<uint32_t> cp = ReadHex4();
          if (!cp) {
            return FailAt(escape, "expected four hex digits after \\u in a string, as in \\u00e9");
          }
          if (*cp >= 0xDC00 && *cp <= 0xDFFF) {
            return FailAt(escape, fmt::format("expected a high surrogate before the low surrogate "
                                              "\\u{:04x} in a string",
                                              *cp));
          }
          if (*cp >= 0xD800 && *cp <= 0xDBFF) {
            std::optional<uint32_t> low;
            if (end_ - p_ >= 2 && p_[0] == '\\' && p_[1] == 'u') {
              p_ += 2;
              low = ReadHex4();
            }
            if (!low || *low < 0xDC00 || *low > 0xDFFF) {
              return FailAt(escape, fmt::format("expected a low surrogate \\uDC00 to \\uDFFF "
                                                "after the high surrogate \\u{:04x} in a string",
                                                *cp));
            }
            *cp = 0x10000 + ((*cp - 0xD800) << 10) + (*low - 0xDC00);
          }
          AppendUtf8(s, *cp);
          break;
        }
        default: {
          Reset(escape);
          ++p_;
          return ExpectFail(
              "one of the escapes \\\" \\\\ \\n \\t \\r \\b \\f \\uXXXX after '\\' in a string");
        }
      }
      run = p_;
      while (p_ != end_ && *p_ != '"' && *p_ != '\\') {
        if (*p_ == '\n') NewLine(p_ + 1);
        ++p_;
      }
      s.append(run, p_);
    }
    if (p_ == end_) {
      return ExpectFail(fmt::format("'\"' to end the string starting at line {} column {}",
                                    start.line, Column(start)));
    }
    ++p_;
    return Value::String(std::move(s));
  }

  std::optional<Value> ReadKeyword() {
    const Mark start = mark();
    ++p_;
    if (p_ != end_ && *p_ == ':') {
      return FailAt(start,
                    "expected a keyword such as :name or :ns/name, got an auto-resolved keyword "
                    "'::' (not supported)");
    }
    const std::string_view name = Token();
    if (name.empty()) return ExpectFail("a keyword name after ':'");
    if (name.back() == '/' && name != "/") {
      return FailAt(start,
                    fmt::format("expected a keyword such as :name or :ns/name, got ':{}'", name));
    }
    return Value::Keyword(std::string(name));
  }

  std::optional<Value> ReadSymbol() {
    const Mark start = mark();
    const std::string_view name = Token();
    if (name == "nil") return Value::Nil();
    if (name == "true") return Value::Bool(true);
    if (name == "false") return Value::Bool(false);
    if (name.back() == '/' && name != "/") {
      return FailAt(start,
                    fmt::format("expected a symbol such as name or ns/name, got '{}'", name));
    }
    return Value::Symbol(std::string(name));
  }

  std::optional<Value> ReadChar() {
    const Mark start = mark();
    ++p_;
    // A comma is whitespace elsewhere but a character here: \, is the comma.
    if (p_ == end_ || (IsSpace(*p_) && *p_ != ',')) return ExpectFail("a character after '\\'");
    const char* first = p_;
    p_ += std::min(Utf8Length(static_cast<unsigned char>(*p_)), static_cast<size_t>(end_ - p_));
    const char* first_end = p_;
    while (p_ != end_ && IsToken(*p_)) ++p_;
    const std::string_view token(first, static_cast<size_t>(p_ - first));
    if (p_ == first_end) return Value::Char(std::string(token));
    if (token == "newline") return Value::Char("\n");
    if (token == "space") return Value::Char(" ");
    if (token == "tab") return Value::Char("\t");
    if (token == "return") return Value::Char("\r");
    if (token == "backspace") return Value::Char("\b");
    if (token == "formfeed") return Value::Char("\f");
    if (token.size() == 5 && token[0] == 'u') {
      uint32_t cp = 0;
      bool ok = true;
      for (char h : token.substr(1)) {
        const int d = HexDigit(h);
        ok = ok && d >= 0;
        cp = cp * 16 + static_cast<uint32_t>(std::max(d, 0));
      }
      if (ok && (cp < 0xD800 || cp > 0xDFFF)) {
        std::string utf8;
        AppendUtf8(utf8, cp);
        return Value::Char(std::move(utf8));
      }
    }
    return FailAt(start, fmt::format("expected a character such as \\a, \\newline, \\space, \\tab "
                                     "or \\uXXXX, got '\\{}'",
                                     token));
  }

  std::optional<Value> ReadDispatch() {
    const Mark start = mark();
    if (p_ + 1 == end_) {
      ++p_;
      return ExpectFail("'{', '_', '#' or a tag after '#'");
    }
    const char c = p_[1];
    if (c == '{') return ReadCollection(ValueKind::kSet, 2);
    if (c == '#') {
      p_ += 2;
      const std::string_view name = Token();
      if (name == "Inf") return Value::Double(std::numeric_limits<double>::infinity());
      if (name == "-Inf") return Value::Double(-std::numeric_limits<double>::infinity());
      if (name == "NaN") return Value::Double(std::numeric_limits<double>::quiet_NaN());
      return FailAt(start, fmt::format("expected ##Inf, ##-Inf or ##NaN, got '##{}'", name));
    }
    if (c == ':') {
      return FailAt(start,
                    "expected a form, got a namespaced map '#:ns{...}' (not supported: write the "
                    "keys in full, as {:ns/key 1})");
    }
    if (c == '?') {
      return FailAt(start, "expected a form, got a reader conditional '#?' (not supported)");
    }
    if (IsToken(c) && !IsDigit(c) && c != '#' && c != ':') {
      ++p_;
      const std::string_view tag = Token();
      if (!Enter()) return std::nullopt;
      std::optional<Value> form = ReadForm(fmt::format("a form after the tag #{}", tag));
      --depth_;
      if (!form) return std::nullopt;
      return Value::Tagged(std::string(tag), std::move(*form));
    }
    ++p_;
    return ExpectFail(
        "a set #{...}, a discard #_, ##Inf, ##-Inf, ##NaN or a tag such as #inst after '#'");
  }

  std::optional<Value> ReadNumber() {
    const Mark start = mark();
    const std::string_view token = Token();
    auto invalid = [&]() {
      return FailAt(start, fmt::format("expected a number such as 12, -3, 2N, 1.5, 1e-3, 1.5M or "
                                       "1/3, got '{}'",
                                       token));
    };
    // Sign, then the integer part.
    size_t i = 0;
    const bool negative = token[0] == '-';
    if (token[0] == '+' || token[0] == '-') ++i;
    const std::string_view unsigned_part = token.substr(i);
    // A sign in the text we keep is written only when negative.
    const std::string signed_text_prefix = negative ? "-" : "";
    if (unsigned_part.size() > 2 && unsigned_part[0] == '0' &&
        (unsigned_part[1] == 'x' || unsigned_part[1] == 'X')) {
      // Hexadecimal, as Clojure prints in #object[... 0x6a1b3b1c ...].
      uint64_t v = 0;
      const char* hex_begin = unsigned_part.data() + 2;
      const char* hex_end = unsigned_part.data() + unsigned_part.size();
      auto [ptr, ec] = std::from_chars(hex_begin, hex_end, v, 16);
      if (ec != std::errc() || ptr != hex_end) return invalid();
      return IntFromMagnitude(v, negative);
    }
    const size_t int_begin = i;
    while (i < token.size() && IsDigit(token[i])) ++i;
    const std::string_view int_digits = token.substr(int_begin, i - int_begin);
    if (int_digits.empty()) return invalid();
    if (i == token.size()) return Integer(int_digits, negative);
    const std::string_view rest = token.substr(i);
    if (rest == "N") return Integer(int_digits, negative);
    if (rest == "M") return Value::Decimal(signed_text_prefix + std::string(int_digits));
    if (rest[0] == '/') {
      const std::string_view den = rest.substr(1);
      if (den.empty() || !std::all_of(den.begin(), den.end(), IsDigit)) return invalid();
      if (std::all_of(den.begin(), den.end(), [](char d) { return d == '0'; })) {
        return FailAt(start,
                      fmt::format("expected a ratio with a non-zero denominator, got '{}'", token));
      }
      return Value::Ratio(signed_text_prefix + std::string(int_digits) + std::string(rest));
    }
    // A float: optional fraction, optional exponent, at least one of them; then optional M.
    bool fraction_or_exponent = false;
    if (token[i] == '.') {
      ++i;
      while (i < token.size() && IsDigit(token[i])) ++i;
      fraction_or_exponent = true;
    }
    if (i < token.size() && (token[i] == 'e' || token[i] == 'E')) {
      ++i;
      if (i < token.size() && (token[i] == '+' || token[i] == '-')) ++i;
      const size_t exp_begin = i;
      while (i < token.size() && IsDigit(token[i])) ++i;
      if (i == exp_begin) return invalid();
      fraction_or_exponent = true;
    }
    if (!fraction_or_exponent) return invalid();
    const std::string_view number = token.substr(int_begin, i - int_begin);
    if (i + 1 == token.size() && token[i] == 'M') {
      return Value::Decimal(signed_text_prefix + std::string(number));
    }
    if (i != token.size()) return invalid();
    double d = 0;
    auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), d);
    if (ec == std::errc::result_out_of_range) {
      return FailAt(start, fmt::format("expected a double within range, got '{}' (write ##Inf or "
                                       "a decimal such as {}M)",
                                       token, token));
    }
    if (ec != std::errc() || ptr != number.data() + number.size()) return invalid();
    return Value::Double(negative ? -d : d);
  }

  static Value IntFromMagnitude(uint64_t magnitude, bool negative) {
    constexpr uint64_t kMaxPositive = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    if (!negative && magnitude <= kMaxPositive) return Value::Int(static_cast<int64_t>(magnitude));
    if (negative && magnitude <= kMaxPositive + 1) {
      return Value::Int(static_cast<int64_t>(0 - magnitude));
    }
    return Value::BigInt((negative ? "-" : "") + std::to_string(magnitude));
  }

  // Decimal digits (no sign) as an int64 when they fit, else a big integer.
  static Value Integer(std::string_view digits, bool negative) {
    uint64_t v = 0;
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (ec == std::errc() && ptr == digits.data() + digits.size()) {
      return IntFromMagnitude(v, negative);
    }
    // Too large for uint64: keep the text, without leading zeros.
    const size_t nz = std::min(digits.find_first_not_of('0'), digits.size() - 1);
    return Value::BigInt((negative ? "-" : "") + std::string(digits.substr(nz)));
  }

  const char* p_;
  const char* end_;
  const char* line_start_;
  int64_t line_ = 1;
  int depth_ = 0;
  std::string_view source_;
  std::optional<Error> error_;
};

Error OpError(std::string_view source, int64_t line, const Error& e) {
  return e.WithContext(fmt::format("{}: line {}", source, line));
}

Error NotAMap(std::string_view source, int64_t line, const Value& v) {
  return Error(ErrorCode::kInvalidArgument,
               fmt::format("{}: line {}: op is not a map: expected a map such as {{:type :invoke, "
                           ":process 0, :f :read, :value nil}}, got {}",
                           source, line, KindPhrase(v.kind())));
}

bool IsKeywordName(std::string_view name) {
  if (name.empty() || IsDigit(name[0]) || name[0] == ':' || name[0] == '#') return false;
  if (name.back() == '/' && name != "/") return false;
  return std::all_of(name.begin(), name.end(), IsToken);
}

void AppendInt(std::string& out, int64_t v) {
  char buf[24];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, ptr);
}

// A keyword when the name can be one, else a string (names from other formats may be arbitrary).
void AppendName(std::string& out, std::string_view name) {
  if (IsKeywordName(name)) {
    out += ':';
    out += name;
  } else {
    AppendQuoted(out, name);
  }
}

}  // namespace

Result<std::vector<EdnForm>> ParseEdnForms(std::string_view text, std::string_view source) {
  Reader reader(text, source);
  std::vector<EdnForm> forms;
  for (;;) {
    if (!reader.SkipSpace()) return reader.TakeError();
    if (reader.at_end()) break;
    const int64_t line = reader.line();
    std::optional<Value> v = reader.ReadForm();
    if (!v) return reader.TakeError();
    forms.push_back(EdnForm{std::move(*v), line});
  }
  return forms;
}

Result<Value> ParseEdn(std::string_view text, std::string_view source) {
  Reader reader(text, source);
  std::optional<Value> v = reader.ReadForm();
  if (!v) return reader.TakeError();
  if (!reader.SkipSpace()) return reader.TakeError();
  if (!reader.at_end()) {
    reader.ExpectFail("end of input after one form");
    return reader.TakeError();
  }
  return std::move(*v);
}

namespace {

// The reading of an EDN history: one op map per form, or one vector (or list) of them. `next()`
// gives the Op to read the next map into and `done(line, at)` follows each op. `framed(ops,
// lines)` takes the ops of the one-vector framing, which is known only after the whole input is
// read, so that rare framing takes the generic path.
template <typename Next, typename Done, typename Framed>
Status ScanEdn(std::string_view text, std::string_view source, Next&& next, Done&& done,
               Framed&& framed) {
  Reader reader(text, source);
  if (!reader.SkipSpace()) return reader.TakeError();
  if (reader.at_end()) return OkStatus();

  if (reader.peek() == '[' || reader.peek() == '(') {
    const int64_t first_line = reader.line();
    std::vector<int64_t> lines;
    std::optional<Value> whole = reader.ReadSequence(lines);
    if (!whole) return reader.TakeError();
    if (!reader.SkipSpace()) return reader.TakeError();
    if (!reader.at_end()) return NotAMap(source, first_line, *whole);
    const std::vector<Value>& items = whole->items();
    std::vector<Op> ops;
    ops.reserve(items.size());
    for (size_t i = 0; i < items.size(); ++i) {
      if (items[i].kind() != ValueKind::kMap) return NotAMap(source, lines[i], items[i]);
      Result<Op> op = OpFromMap(items[i]);
      if (!op) return OpError(source, lines[i], op.error());
      ops.push_back(std::move(*op));
    }
    return framed(std::move(ops), std::move(lines));
  }

  while (!reader.at_end()) {
    const int64_t line = reader.line();
    const char* at = reader.mark().p;
    if (reader.peek() == '{') {
      Op& op = next();
      const Reader::FastOp fast = reader.ReadOpFast(op);
      if (fast == Reader::FastOp::kError) return reader.TakeError();
      if (fast == Reader::FastOp::kFallback) {
        std::optional<Value> map = reader.ReadFormHere();
        if (!map) return reader.TakeError();
        Result<Op> from_map = OpFromMap(*map);
        if (!from_map) return OpError(source, line, from_map.error());
        op = std::move(*from_map);
      }
    } else {
      std::optional<Value> v = reader.ReadFormHere();
      if (!v) return reader.TakeError();
      return NotAMap(source, line, *v);
    }
    FAULTLINE_RETURN_IF_ERROR(done(line, at));
    if (!reader.SkipSpace()) return reader.TakeError();
  }
  return OkStatus();
}

}  // namespace

Result<History> ReadEdnHistory(std::string_view text, std::string_view source) {
  Source src{.name = std::string(source), .lines = {}};
  std::vector<Op> ops;
  // One op per form. Lines estimate the op count; an op map takes at least 20 bytes
  // ({:type :ok, :process 0}), which bounds the estimate for pretty-printed files.
  const size_t lines = static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
  const size_t estimate = std::min(lines, text.size() / 20 + 1);
  ops.reserve(estimate);
  src.lines.reserve(estimate);
  FAULTLINE_RETURN_IF_ERROR(ScanEdn(
      text, source, [&ops]() -> Op& { return ops.emplace_back(); },
      [&src](int64_t line, const char*) -> Status {
        src.lines.push_back(line);
        return OkStatus();
      },
      [&ops, &src](std::vector<Op> framed, std::vector<int64_t> framed_lines) -> Status {
        ops = std::move(framed);
        src.lines = std::move(framed_lines);
        return OkStatus();
      }));
  return History::Build(std::move(ops), src);
}

Status ForEachEdnOp(std::string_view text, std::string_view source, const OpSink& sink) {
  Op scratch;
  return ScanEdn(
      text, source,
      [&scratch]() -> Op& {
        scratch = Op();
        return scratch;
      },
      [&scratch, &sink](int64_t line, const char* at) {
        return sink(std::move(scratch), line, at);
      },
      [&sink](std::vector<Op> ops, std::vector<int64_t> lines) -> Status {
        for (size_t i = 0; i < ops.size(); ++i) {
          FAULTLINE_RETURN_IF_ERROR(sink(std::move(ops[i]), lines[i], nullptr));
        }
        return OkStatus();
      });
}

void AppendEdnOp(std::string& out, const Op& op) {
  out += '{';
  if (op.index >= 0) {
    out += ":index ";
    AppendInt(out, op.index);
    out += ", ";
  }
  if (op.time_ns >= 0) {
    out += ":time ";
    AppendInt(out, op.time_ns);
    out += ", ";
  }
  out += ":type :";
  out += OpTypeName(op.type);
  if (op.process.is_none()) {
    // no :process: written back as it was read
  } else if (op.process.is_client()) {
    out += ", :process ";
    AppendInt(out, op.process.number);
  } else {
    out += ", :process ";
    AppendName(out, op.process.name);
  }
  if (!op.f.empty()) {
    out += ", :f ";
    AppendName(out, op.f);
  }
  if (op.key) {
    out += ", :key ";
    op.key->AppendEdn(out);
  }
  out += ", :value ";
  op.value.AppendEdn(out);
  if (op.error) {
    out += ", :error ";
    op.error->AppendEdn(out);
  }
  for (const Field& field : op.extras) {
    out += ", ";
    field.key.AppendEdn(out);
    out += ' ';
    field.value.AppendEdn(out);
  }
  out += '}';
}

std::string WriteEdnHistory(const History& history) {
  std::string out;
  out.reserve(history.size() * 80);
  for (const Op& op : history.ops()) {
    AppendEdnOp(out, op);
    out += '\n';
  }
  return out;
}

}  // namespace faultline::history
