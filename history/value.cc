#include "history/value.h"

#include <fmt/format.h>

#include <bit>
#include <cmath>
#include <cstring>

namespace faultline::history {
namespace {

// Keys and symbols that need no quoting are written as they are; everything here is EDN.
void AppendDouble(std::string& out, double d) {
  if (std::isnan(d)) {
    out += "##NaN";
    return;
  }
  if (std::isinf(d)) {
    out += d > 0 ? "##Inf" : "##-Inf";
    return;
  }
  std::string s = fmt::format("{}", d);
  // EDN needs a fraction or an exponent to read a double back as a double.
  if (s.find_first_of(".eE") == std::string::npos) s += ".0";
  out += s;
}

void AppendItems(std::string& out, const std::vector<Value>& items, const char* open,
                 const char* close, bool map) {
  out += open;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += (map && i % 2 == 0) ? ", " : " ";
    items[i].AppendEdn(out);
  }
  out += close;
}

uint64_t Mix(uint64_t h, uint64_t v) {
  // A 64-bit mix in the style of splitmix64; stable across runs and platforms.
  h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  h ^= h >> 31;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  return h;
}

uint64_t HashBytes(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

int KindRank(ValueKind k) { return static_cast<int>(k); }

// The opening and closing brackets of a collection kind in EDN.
std::pair<const char*, const char*> EdnBrackets(ValueKind k) {
  switch (k) {
    case ValueKind::kList:
      return {"(", ")"};
    case ValueKind::kVector:
      return {"[", "]"};
    case ValueKind::kMap:
      return {"{", "}"};
    default:
      return {"#{", "}"};
  }
}

}  // namespace

bool Value::is_collection() const {
  switch (kind_) {
    case ValueKind::kList:
    case ValueKind::kVector:
    case ValueKind::kMap:
    case ValueKind::kSet:
    case ValueKind::kTagged:
      return true;
    default:
      return false;
  }
}

const Value* Value::Find(std::string_view keyword) const {
  if (kind_ != ValueKind::kMap) return nullptr;
  const auto& it = items();
  for (size_t i = 0; i + 1 < it.size(); i += 2) {
    if (it[i].kind() == ValueKind::kKeyword && it[i].text() == keyword) return &it[i + 1];
  }
  return nullptr;
}

void AppendQuoted(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<unsigned>(static_cast<unsigned char>(c)));
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

void Value::AppendEdn(std::string& out) const {
  switch (kind_) {
    case ValueKind::kNil:
      out += "nil";
      return;
    case ValueKind::kBool:
      out += as_bool() ? "true" : "false";
      return;
    case ValueKind::kInt:
      fmt::format_to(std::back_inserter(out), "{}", as_int());
      return;
    case ValueKind::kDouble:
      AppendDouble(out, as_double());
      return;
    case ValueKind::kBigInt:
    case ValueKind::kDecimal:
      out += text();
      out += kind() == ValueKind::kBigInt ? 'N' : 'M';  // EDN's suffixes for exact numbers
      return;
    case ValueKind::kRatio:
    case ValueKind::kSymbol:
      out += text();
      return;
    case ValueKind::kString:
      AppendQuoted(out, text());
      return;
    case ValueKind::kKeyword:
      out += ':';
      out += text();
      return;
    case ValueKind::kChar: {
      const std::string& t = text();
      out += '\\';
      if (t == "\n") {
        out += "newline";
      } else if (t == " ") {
        out += "space";
      } else if (t == "\t") {
        out += "tab";
      } else if (t == "\r") {
        out += "return";
      } else if (t == "\b") {
        out += "backspace";
      } else if (t == "\f") {
        out += "formfeed";
      } else {
        out += t;
      }
      return;
    }
    case ValueKind::kList:
    case ValueKind::kVector:
    case ValueKind::kMap:
    case ValueKind::kSet: {
      const auto [open, close] = EdnBrackets(kind());
      AppendItems(out, items(), open, close, kind() == ValueKind::kMap);
      return;
    }
    case ValueKind::kTagged:
      out += '#';
      out += tag();
      // Record tags are followed directly by their map; every other tag by a space.
      if (tagged_form().kind() != ValueKind::kMap) out += ' ';
      tagged_form().AppendEdn(out);
      return;
  }
}

std::string Value::ToEdn() const {
  std::string out;
  AppendEdn(out);
  return out;
}

uint64_t Value::Hash() const {
  uint64_t h = Mix(0x51ed27, static_cast<uint64_t>(kind_));
  switch (kind_) {
    case ValueKind::kNil:
      return h;
    case ValueKind::kBool:
      return Mix(h, as_bool() ? 1 : 2);
    case ValueKind::kInt:
      return Mix(h, static_cast<uint64_t>(as_int()));
    case ValueKind::kDouble: {
      double d = as_double();
      if (d == 0) d = 0;  // -0.0 == 0.0
      return Mix(h, std::bit_cast<uint64_t>(d));
    }
    case ValueKind::kBigInt:
    case ValueKind::kDecimal:
    case ValueKind::kRatio:
    case ValueKind::kString:
    case ValueKind::kKeyword:
    case ValueKind::kSymbol:
    case ValueKind::kChar:
      return Mix(h, HashBytes(text()));
    case ValueKind::kList:
    case ValueKind::kVector:
    case ValueKind::kMap:
    case ValueKind::kSet:
    case ValueKind::kTagged:
      for (const Value& v : items()) h = Mix(h, v.Hash());
      return Mix(h, items().size());
  }
  return h;
}

bool ValueLess::operator()(const Value& a, const Value& b) const {
  if (a.kind() != b.kind()) return KindRank(a.kind()) < KindRank(b.kind());
  switch (a.kind()) {
    case ValueKind::kNil:
      return false;
    case ValueKind::kBool:
      return a.as_bool() < b.as_bool();
    case ValueKind::kInt:
      return a.as_int() < b.as_int();
    case ValueKind::kDouble:
      return a.as_double() < b.as_double();
    case ValueKind::kBigInt:
      // Longer digit strings are larger in magnitude; signs are rare enough to order by text.
      if (a.text().size() != b.text().size()) return a.text().size() < b.text().size();
      return a.text() < b.text();
    case ValueKind::kDecimal:
    case ValueKind::kRatio:
    case ValueKind::kString:
    case ValueKind::kKeyword:
    case ValueKind::kSymbol:
    case ValueKind::kChar:
      return a.text() < b.text();
    case ValueKind::kList:
    case ValueKind::kVector:
    case ValueKind::kMap:
    case ValueKind::kSet:
    case ValueKind::kTagged: {
      const auto& x = a.items();
      const auto& y = b.items();
      for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
        if ((*this)(x[i], y[i])) return true;
        if ((*this)(y[i], x[i])) return false;
      }
      return x.size() < y.size();
    }
  }
  return false;
}

Value Value::Strings(const std::vector<std::string>& items) {
  std::vector<Value> out;
  out.reserve(items.size());
  for (const std::string& s : items) out.push_back(String(s));
  return Vector(std::move(out));
}

}  // namespace faultline::history
