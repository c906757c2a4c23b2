#include "history/op.h"

#include <fmt/format.h>

namespace faultline::history {
namespace {

Unexpected FieldError(std::string message) {
  return MakeError(ErrorCode::kInvalidArgument, std::move(message));
}

std::string Short(const Value& v) {
  std::string s = v.ToEdn();
  if (s.size() > 60) {
    s.resize(57);
    s += "...";
  }
  return s;
}

}  // namespace

std::string_view OpTypeName(OpType type) {
  switch (type) {
    case OpType::kInvoke:
      return "invoke";
    case OpType::kOk:
      return "ok";
    case OpType::kFail:
      return "fail";
    case OpType::kInfo:
      return "info";
  }
  return "?";
}

std::optional<OpType> ParseOpType(std::string_view name) {
  if (name == "invoke") return OpType::kInvoke;
  if (name == "ok") return OpType::kOk;
  if (name == "fail") return OpType::kFail;
  if (name == "info") return OpType::kInfo;
  return std::nullopt;
}

std::string Process::ToString() const {
  if (is_none()) return "-";
  return is_client() ? fmt::format("{}", number) : name;
}

std::string Op::ErrorText() const {
  if (!error) return {};
  switch (error->kind()) {
    case ValueKind::kString:
    case ValueKind::kKeyword:
    case ValueKind::kSymbol:
      return error->text();
    default:
      return error->ToEdn();
  }
}

void Op::AddExtra(std::string_view keyword, Value extra) {
  extras.push_back(Field{.key = Value::Keyword(std::string(keyword)), .value = std::move(extra)});
}

const Value* Op::FindExtra(std::string_view keyword) const {
  for (const Field& field : extras) {
    if (field.key.kind() == ValueKind::kKeyword && field.key.text() == keyword) return &field.value;
  }
  return nullptr;
}

Result<Op> OpFromMap(const Value& map) {
  if (map.kind() != ValueKind::kMap) {
    return FieldError(fmt::format("expected an op map, got {}", Short(map)));
  }
  Op op;
  bool have_type = false;
  bool have_process = false;
  const auto& items = map.items();
  if (items.size() % 2 != 0) return FieldError("op map has a key without a value");
  unsigned seen = 0;  // bit per core field, to refuse duplicates
  for (size_t i = 0; i < items.size(); i += 2) {
    const Value& k = items[i];
    const Value& v = items[i + 1];
    int bit = -1;
    if (k.kind() == ValueKind::kKeyword) {
      const std::string& name = k.text();
      if (name == "index") {
        bit = 0;
        if (!v.is_int())
          return FieldError(fmt::format(":index must be an integer, got {}", Short(v)));
        op.index = v.as_int();
      } else if (name == "time") {
        bit = 1;
        if (!v.is_int())
          return FieldError(fmt::format(":time must be an integer, got {}", Short(v)));
        op.time_ns = v.as_int();
      } else if (name == "type") {
        bit = 2;
        std::optional<OpType> t;
        if (v.is_keyword()) t = ParseOpType(v.text());
        if (!t) {
          return FieldError(
              fmt::format(":type must be one of :invoke :ok :fail :info, got {}", Short(v)));
        }
        op.type = *t;
        have_type = true;
      } else if (name == "process") {
        bit = 3;
        if (v.is_int()) {
          op.process = Process::Client(v.as_int());
        } else if (v.is_keyword() || v.kind() == ValueKind::kSymbol || v.is_string()) {
          op.process = Process::Named(v.text());
        } else {
          return FieldError(
              fmt::format(":process must be an integer or a keyword, got {}", Short(v)));
        }
        have_process = true;
      } else if (name == "f") {
        bit = 4;
        if (v.is_keyword()) {
          op.f = v.text();
        } else if (!v.is_nil()) {
          return FieldError(fmt::format(":f must be a keyword, got {}", Short(v)));
        }
      } else if (name == "key") {
        bit = 5;
        op.key = v;
      } else if (name == "value") {
        bit = 6;
        op.value = v;
      } else if (name == "error") {
        bit = 7;
        op.error = v;
      }
    }
    if (bit < 0) {
      op.extras.push_back(Field{.key = k, .value = v});
      continue;
    }
    if (seen & (1u << bit)) return FieldError(fmt::format("duplicate key {}", k.ToEdn()));
    seen |= 1u << bit;
  }
  if (!have_type) return FieldError("missing :type (expected :invoke, :ok, :fail or :info)");
  // A minimal history has no :process; History::Build pairs such ops by file order.
  if (!have_process) op.process = Process::None();
  return op;
}

Value OpToMap(const Op& op) {
  std::vector<Value> kv;
  kv.reserve(16 + 2 * op.extras.size());
  auto add = [&kv](const char* name, Value v) {
    kv.push_back(Value::Keyword(name));
    kv.push_back(std::move(v));
  };
  if (op.index >= 0) add("index", Value::Int(op.index));
  if (op.time_ns >= 0) add("time", Value::Int(op.time_ns));
  add("type", Value::Keyword(std::string(OpTypeName(op.type))));
  if (!op.process.is_none()) {
    add("process",
        op.process.is_client() ? Value::Int(op.process.number) : Value::Keyword(op.process.name));
  }
  if (!op.f.empty()) add("f", Value::Keyword(op.f));
  if (op.key) add("key", *op.key);
  add("value", op.value);
  if (op.error) add("error", *op.error);
  for (const Field& field : op.extras) {
    kv.push_back(field.key);
    kv.push_back(field.value);
  }
  return Value::Map(std::move(kv));
}

std::string Describe(const Op& op) {
  std::string s = fmt::format("{} {} {}", op.process.ToString(), OpTypeName(op.type),
                              op.f.empty() ? "nil" : op.f);
  if (op.key) s += fmt::format(" key {}", op.key->ToEdn());
  s += ' ';
  s += op.value.ToEdn();
  if (op.error) s += fmt::format(" ({})", op.ErrorText());
  return s;
}

}  // namespace faultline::history
