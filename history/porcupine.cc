// Porcupine's etcd Jepsen log (../shared/FORMATS.md §2.3): a hand scanner, one event per line.
#include "history/porcupine.h"

#include <fmt/format.h>

#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

namespace faultline::history {
namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

template <size_t N>
bool Is(std::string_view s, const char (&word)[N]) {
  // A constant length lets the compiler inline the comparison: this runs for every field.
  return s.size() == N - 1 && std::memcmp(s.data(), word, N - 1) == 0;
}

// Splits a line into its whitespace-separated fields. The VALUE "[A B]" holds a space, so the
// caller rejoins everything after the fourth field.
class Fields {
 public:
  explicit Fields(std::string_view line) : line_(line) {}

  // The next field, or an empty view at the end of the line.
  std::string_view Next() {
    while (pos_ < line_.size() && IsBlank(line_[pos_])) ++pos_;
    const size_t start = pos_;
    while (pos_ < line_.size() && !IsBlank(line_[pos_])) ++pos_;
    return line_.substr(start, pos_ - start);
  }
  // Everything left, without surrounding blanks.
  std::string_view Rest() {
    while (pos_ < line_.size() && IsBlank(line_[pos_])) ++pos_;
    size_t end = line_.size();
    while (end > pos_ && IsBlank(line_[end - 1])) --end;
    std::string_view rest = line_.substr(pos_, end - pos_);
    pos_ = line_.size();
    return rest;
  }

 private:
  std::string_view line_;
  size_t pos_ = 0;
};

std::string Show(std::string_view field) {
  return field.empty() ? std::string("end of line") : fmt::format("\"{}\"", field);
}

bool ParseUint(std::string_view s, int64_t& out) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

enum class ValueShape { kNil, kInt, kPair, kTimedOut };

std::string_view ShapeName(ValueShape shape) {
  switch (shape) {
    case ValueShape::kNil:
      return "nil";
    case ValueShape::kInt:
      return "an integer";
    case ValueShape::kPair:
      return "[A B]";
    case ValueShape::kTimedOut:
      return ":timed-out";
  }
  return "?";
}

// VALUE := "nil" | INT | "[" INT " " INT "]" | ":timed-out"
bool ParseEtcdValue(std::string_view s, ValueShape& shape, Value& out) {
  if (Is(s, "nil")) {
    shape = ValueShape::kNil;
    out = Value::Nil();
    return true;
  }
  if (Is(s, ":timed-out")) {
    shape = ValueShape::kTimedOut;
    out = Value::Nil();
    return true;
  }
  int64_t a = 0;
  if (ParseUint(s, a)) {
    shape = ValueShape::kInt;
    out = Value::Int(a);
    return true;
  }
  if (s.size() < 5 || s.front() != '[' || s.back() != ']') return false;
  std::string_view inner = s.substr(1, s.size() - 2);
  const size_t sep = inner.find_first_of(" \t");
  if (sep == std::string_view::npos) return false;
  std::string_view first = inner.substr(0, sep);
  std::string_view second = inner.substr(sep);
  while (!second.empty() && IsBlank(second.front())) second.remove_prefix(1);
  int64_t b = 0;
  if (!ParseUint(first, a) || !ParseUint(second, b)) return false;
  shape = ValueShape::kPair;
  out = Value::Vector({Value::Int(a), Value::Int(b)});
  return true;
}

}  // namespace

Result<History> ReadEtcdLog(std::string_view text, std::string_view source) {
  std::vector<Op> ops;
  Source src;
  src.name = std::string(source);
  ops.reserve(text.size() / 40 + 1);
  src.lines.reserve(text.size() / 40 + 1);
  // The position of each process's open invocation: an :info completion repeats only
  // ":timed-out", and takes its arguments from there.
  std::unordered_map<int64_t, size_t> open;

  size_t pos = 0;
  int64_t line_no = 0;
  while (pos < text.size()) {
    ++line_no;
    const size_t nl = text.find('\n', pos);
    std::string_view line =
        text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);

    auto fail = [&](std::string what) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("{}: line {}: {}", source, line_no, what));
    };
    Fields fields(line);
    std::string_view info = fields.Next();
    if (info.empty()) continue;  // a blank line
    if (!Is(info, "INFO")) return fail(fmt::format("expected \"INFO\", got {}", Show(info)));
    std::string_view logger = fields.Next();
    if (!Is(logger, "jepsen.util")) {
      return fail(fmt::format("expected \"jepsen.util\" after INFO, got {}", Show(logger)));
    }
    std::string_view dash = fields.Next();
    if (!Is(dash, "-"))
      return fail(fmt::format("expected \"-\" after jepsen.util, got {}", Show(dash)));
    std::string_view proc = fields.Next();
    int64_t process = 0;
    if (!ParseUint(proc, process)) {
      return fail(fmt::format("expected a process number, got {}", Show(proc)));
    }
    std::string_view type_field = fields.Next();
    OpType type = OpType::kInvoke;
    if (Is(type_field, ":invoke")) {
      type = OpType::kInvoke;
    } else if (Is(type_field, ":ok")) {
      type = OpType::kOk;
    } else if (Is(type_field, ":fail")) {
      type = OpType::kFail;
    } else if (Is(type_field, ":info")) {
      type = OpType::kInfo;
    } else {
      return fail(fmt::format("expected :invoke, :ok, :fail or :info, got {}", Show(type_field)));
    }
    std::string_view f_field = fields.Next();
    if (!Is(f_field, ":read") && !Is(f_field, ":write") && !Is(f_field, ":cas")) {
      return fail(fmt::format("expected :read, :write or :cas, got {}", Show(f_field)));
    }
    std::string_view value_field = fields.Rest();
    ValueShape shape = ValueShape::kNil;
    Value value;
    if (!ParseEtcdValue(value_field, shape, value)) {
      return fail(
          fmt::format("expected nil, an integer, [A B] or :timed-out, got {}", Show(value_field)));
    }

    // Which value shapes each line may carry (the table of FORMATS.md §2.3).
    const std::string_view f = f_field.substr(1);
    ValueShape want = ValueShape::kNil;
    bool nil_or_int = false;
    if (shape == ValueShape::kTimedOut) {
      if (type == OpType::kInvoke || type == OpType::kOk) {
        return fail(
            fmt::format("expected a value for {} {}, got :timed-out (only :fail and "
                        ":info completions time out)",
                        type_field, f_field));
      }
      want = ValueShape::kTimedOut;
    } else if (Is(f, "read")) {
      want = ValueShape::kNil;
      nil_or_int = type != OpType::kInvoke;
    } else if (Is(f, "write")) {
      want = ValueShape::kInt;
    } else {
      want = ValueShape::kPair;
    }
    if (shape != want && !(nil_or_int && shape == ValueShape::kInt)) {
      return fail(fmt::format("expected {} for {} {}, got {}",
                              nil_or_int ? "nil or an integer" : ShapeName(want), type_field,
                              f_field, Show(value_field)));
    }

    // Built in place: an Op is large, and moving one per line shows in the profile.
    Op& op = ops.emplace_back();
    op.index = static_cast<int64_t>(ops.size()) - 1;
    op.time_ns = op.index;
    op.type = type;
    op.process.number = process;
    op.f.assign(f);
    if (shape == ValueShape::kTimedOut) {
      op.error = Value::Keyword("timed-out");
      // An :info completion's arguments come from its invocation; a failed read has no result.
      if (type == OpType::kInfo) {
        auto it = open.find(process);
        if (it != open.end()) op.value = ops[it->second].value;
      }
    } else {
      op.value = std::move(value);
    }
    if (type == OpType::kInvoke) {
      open[process] = ops.size() - 1;
    } else {
      open.erase(process);
    }
    src.lines.push_back(line_no);
  }
  return History::Build(std::move(ops), src);
}

}  // namespace faultline::history
