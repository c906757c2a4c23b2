#include "history/txn.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "history/fields.h"

namespace faultline::history {
namespace {

Error TxnError(const History& h, size_t i, const std::string& what) {
  const std::string name = h.source_name().empty() ? "<history>" : h.source_name();
  const int64_t line = h.line(i);
  std::string where =
      line > 0 ? fmt::format("{}: line {}", name, line) : fmt::format("{}: op {}", name, i);
  return Error(ErrorCode::kInvalidArgument, fmt::format("{}: {}", where, what));
}

bool NameIs(const Value& v, std::string_view name) {
  return (v.is_keyword() || v.is_string()) && v.text() == name;
}

}  // namespace

std::string_view MicroOpName(MicroOpKind kind) {
  switch (kind) {
    case MicroOpKind::kAppend:
      return "append";
    case MicroOpKind::kRead:
      return "r";
    case MicroOpKind::kWrite:
      return "w";
  }
  return "?";
}

bool IsTxnOp(const Op& op) {
  if (!op.is_client()) return false;
  if (op.f == "txn") return true;
  return op.f.empty() && op.value.kind() == ValueKind::kVector;
}

Result<std::vector<MicroOp>> DecodeMicroOps(const Value& value, bool completed_ok) {
  auto bad = [](std::string what) { return MakeError(ErrorCode::kInvalidArgument, what); };
  if (!value.is_sequential()) {
    return bad(
        fmt::format("a transaction's value must be a vector of micro-ops, got {}", value.ToEdn()));
  }
  std::vector<MicroOp> out;
  out.reserve(value.size());
  for (const Value& m : value.items()) {
    if (!m.is_sequential() || m.size() != 3) {
      return bad(fmt::format("a micro-op is [f key value], got {}", m.ToEdn()));
    }
    const Value& f = m.items()[0];
    const Value& k = m.items()[1];
    const Value& v = m.items()[2];
    MicroOp op;
    if (NameIs(f, "append")) {
      op.kind = MicroOpKind::kAppend;
    } else if (NameIs(f, "r")) {
      op.kind = MicroOpKind::kRead;
    } else if (NameIs(f, "w")) {
      op.kind = MicroOpKind::kWrite;
    } else {
      return bad(fmt::format("a micro-op's f is :append, :r or :w, got {}", f.ToEdn()));
    }
    if (!k.is_int())
      return bad(fmt::format("a micro-op's key must be an integer in {}", m.ToEdn()));
    op.key = k.as_int();
    if (op.kind != MicroOpKind::kRead) {
      if (!v.is_int()) {
        return bad(fmt::format("the value {} or written must be an integer in {}",
                               op.kind == MicroOpKind::kAppend ? "appended" : "written",
                               m.ToEdn()));
      }
      op.value = v.as_int();
    } else if (completed_ok) {
      // An :ok completion's read result is what was read; nil is the initial state.
      op.known = true;
      if (v.is_nil()) {
        op.nil = true;
      } else if (v.is_int()) {
        op.value = v.as_int();
      } else if (v.is_sequential()) {
        op.is_list = true;
        op.list.reserve(v.size());
        for (const Value& e : v.items()) {
          if (!e.is_int()) return bad(fmt::format("a list read holds integers, got {}", m.ToEdn()));
          op.list.push_back(e.as_int());
        }
      } else {
        return bad(
            fmt::format("a read's result must be nil, an integer or a list in {}", m.ToEdn()));
      }
    }
    out.push_back(std::move(op));
  }
  return out;
}

Value EncodeMicroOps(const std::vector<MicroOp>& ops) {
  std::vector<Value> items;
  items.reserve(ops.size());
  for (const MicroOp& m : ops) {
    Value v;
    if (m.kind != MicroOpKind::kRead) {
      v = Value::Int(m.value);
    } else if (m.known && !m.nil) {
      if (m.is_list) {
        std::vector<Value> list;
        list.reserve(m.list.size());
        for (int64_t e : m.list) list.push_back(Value::Int(e));
        v = Value::Vector(std::move(list));
      } else {
        v = Value::Int(m.value);
      }
    }
    items.push_back(Value::Vector(
        {Value::Keyword(std::string(MicroOpName(m.kind))), Value::Int(m.key), std::move(v)}));
  }
  return Value::Vector(std::move(items));
}

Result<std::vector<Txn>> DecodeTxns(const History& h) {
  std::vector<Txn> txns;
  for (size_t i = 0; i < h.size(); ++i) {
    const Op& op = h[i];
    if (!op.is_client()) continue;
    const size_t partner = h.partner(i);
    const bool invocation = op.is_invoke();
    // A transaction is taken at its completion, or at its invocation when it never completes.
    if (invocation && partner != History::kNone) continue;
    if (!IsTxnOp(op)) {
      return TxnError(h, i,
                      fmt::format("{} is not a transaction (expected :f :txn and a vector of "
                                  "micro-ops)",
                                  Describe(op)));
    }
    Txn t;
    t.process = op.process;
    t.index = op.index;
    if (invocation) {
      t.invoke = i;
      t.type = OpType::kInfo;
    } else {
      t.complete = i;
      t.invoke = partner;  // kNone for a bare completion in a minimal history
      t.type = op.type;
    }
    // An :ok completion carries the reads; a failed or indeterminate one may carry nothing, so the
    // invocation tells what was attempted.
    const Value* value = &op.value;
    if (t.type != OpType::kOk && !op.value.is_sequential() && t.invoke != History::kNone) {
      value = &h[t.invoke].value;
    }
    auto ops = DecodeMicroOps(*value, t.type == OpType::kOk);
    if (!ops) return TxnError(h, i, fmt::format("{}: {}", Describe(op), ops.error().message()));
    t.ops = std::move(ops).value();
    if (t.type == OpType::kOk) {
      const Value* revision = op.FindExtra(field::kRevision);
      if (revision != nullptr && revision->is_int()) t.revision = revision->as_int();
      if (const Value* revs = op.FindExtra(field::kModRevisions);
          revs != nullptr && revs->is_sequential()) {
        for (const Value& pair : revs->items()) {
          if (pair.is_sequential() && pair.size() == 2 && pair.items()[0].is_int() &&
              pair.items()[1].is_int()) {
            t.read_revisions.emplace_back(pair.items()[0].as_int(), pair.items()[1].as_int());
          }
        }
      }
    }
    txns.push_back(std::move(t));
  }
  return txns;
}

}  // namespace faultline::history
