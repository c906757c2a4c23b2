// faultline::history::Value: a typed value as it appears in a history, covering the EDN subset of
// ../shared/FORMATS.md §1.4: nil, bool, int64, big integer, double, decimal, ratio, string,
// keyword, symbol, char, list, vector, map, set and tagged element.
//
// Maps keep their entries as ordered pairs and sets keep input order, so that writing a value back
// reproduces what was read. nil, "" and 0 are distinct values.
//
// Thread-safety: a plain value type; const access from many threads is safe.
#ifndef FAULTLINE_HISTORY_VALUE_H_
#define FAULTLINE_HISTORY_VALUE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace faultline::history {

enum class ValueKind {
  kNil,
  kBool,
  kInt,      // fits in int64
  kBigInt,   // text: decimal digits with optional sign, no N suffix
  kDouble,   // finite or ##Inf / ##-Inf / ##NaN
  kDecimal,  // text as written without the M suffix, e.g. "1.5" for 1.5M
  kRatio,    // text "a/b"
  kString,
  kKeyword,  // text without the colon: "read", "jepsen.client/timeout"
  kSymbol,   // text: "java.net.SocketTimeoutException"
  kChar,     // text: the UTF-8 of one character
  kList,     // ( ... )
  kVector,   // [ ... ]
  kMap,      // { k v ... }: items() holds keys and values alternately
  kSet,      // #{ ... }
  kTagged,   // #tag form: tag() and tagged_form(); stored as items() = {Symbol(tag), form}
};

class Value {
 public:
  Value() = default;  // nil

  static Value Nil() { return Value(); }
  static Value Bool(bool b) { return Value(ValueKind::kBool, Storage(b)); }
  static Value Int(int64_t i) { return Value(ValueKind::kInt, Storage(i)); }
  static Value Double(double d) { return Value(ValueKind::kDouble, Storage(d)); }
  static Value BigInt(std::string digits) { return Text(ValueKind::kBigInt, std::move(digits)); }
  static Value Decimal(std::string text) { return Text(ValueKind::kDecimal, std::move(text)); }
  static Value Ratio(std::string text) { return Text(ValueKind::kRatio, std::move(text)); }
  static Value String(std::string s) { return Text(ValueKind::kString, std::move(s)); }
  static Value Keyword(std::string name) { return Text(ValueKind::kKeyword, std::move(name)); }
  static Value Symbol(std::string name) { return Text(ValueKind::kSymbol, std::move(name)); }
  static Value Char(std::string utf8) { return Text(ValueKind::kChar, std::move(utf8)); }
  static Value List(std::vector<Value> items) { return Items(ValueKind::kList, std::move(items)); }
  static Value Vector(std::vector<Value> items) {
    return Items(ValueKind::kVector, std::move(items));
  }
  static Value Set(std::vector<Value> items) { return Items(ValueKind::kSet, std::move(items)); }
  // A vector of strings ["a" "b"], e.g. node names in an op's extras.
  static Value Strings(const std::vector<std::string>& items);
  // REQUIRES: items.size() is even (key, value, key, value, ...).
  static Value Map(std::vector<Value> keys_and_values) {
    return Items(ValueKind::kMap, std::move(keys_and_values));
  }
  static Value Tagged(std::string tag, Value form) {
    std::vector<Value> items;
    items.reserve(2);
    items.push_back(Symbol(std::move(tag)));
    items.push_back(std::move(form));
    return Items(ValueKind::kTagged, std::move(items));
  }

  ValueKind kind() const { return kind_; }
  bool is_nil() const { return kind_ == ValueKind::kNil; }
  bool is_int() const { return kind_ == ValueKind::kInt; }
  bool is_string() const { return kind_ == ValueKind::kString; }
  bool is_keyword() const { return kind_ == ValueKind::kKeyword; }
  // True for list and vector (Jepsen writes tuples such as [old new] as vectors).
  bool is_sequential() const { return kind_ == ValueKind::kList || kind_ == ValueKind::kVector; }
  bool is_collection() const;

  // REQUIRES: the matching kind.
  bool as_bool() const { return std::get<bool>(data_); }
  int64_t as_int() const { return std::get<int64_t>(data_); }
  double as_double() const { return std::get<double>(data_); }
  // REQUIRES: a text kind (big int, decimal, ratio, string, keyword, symbol, char).
  const std::string& text() const { return std::get<std::string>(data_); }
  // REQUIRES: kind() == kTagged.
  const std::string& tag() const { return items()[0].text(); }
  const Value& tagged_form() const { return items()[1]; }
  // REQUIRES: a collection kind or kTagged.
  const std::vector<Value>& items() const { return std::get<std::vector<Value>>(data_); }
  std::vector<Value>& mutable_items() { return std::get<std::vector<Value>>(data_); }
  size_t size() const { return is_collection() ? items().size() : 0; }

  // Map lookup by keyword name; nullptr when absent or not a map. Linear: maps here are small.
  const Value* Find(std::string_view keyword) const;

  // EDN text of this value (the canonical writer): `[1 2]`, `:read`, `"a\"b"`, `#{1 2}`, `nil`.
  std::string ToEdn() const;
  void AppendEdn(std::string& out) const;

  // A stable 64-bit hash consistent with operator==.
  uint64_t Hash() const;

  bool operator==(const Value& other) const = default;

 private:
  using Storage =
      std::variant<std::monostate, bool, int64_t, double, std::string, std::vector<Value>>;
  Value(ValueKind kind, Storage data) : kind_(kind), data_(std::move(data)) {}
  static Value Text(ValueKind kind, std::string text) {
    return Value(kind, Storage(std::move(text)));
  }
  static Value Items(ValueKind kind, std::vector<Value> items) {
    return Value(kind, Storage(std::move(items)));
  }

  ValueKind kind_ = ValueKind::kNil;
  Storage data_;
};

struct ValueHash {
  size_t operator()(const Value& v) const { return static_cast<size_t>(v.Hash()); }
};

// A total order on values, for deterministic ordering of keys: by kind, then by content.
struct ValueLess {
  bool operator()(const Value& a, const Value& b) const;
};

// Escapes a string for EDN/JSON-style double quotes (shared by the writers).
void AppendQuoted(std::string& out, std::string_view s);

}  // namespace faultline::history

#endif  // FAULTLINE_HISTORY_VALUE_H_
