#include "history/txn.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <utility>

#include "history/fields.h"

namespace faultline::history {
namespace {

Error TxnError(const std::string& source, int64_t line, size_t i, const std::string& what) {
  const std::string name = source.empty() ? "<history>" : source;
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

namespace {

// The transaction taken at position `i` (its completion, or an invocation that never completed);
// `invocation` is the completion's invocation at `invoke` (nullptr and kNone: none). Errors name
// `source` and `line`.
Result<Txn> MakeTxn(const Op& op, size_t i, const Op* invocation, size_t invoke,
                    const std::string& source, int64_t line) {
  if (!IsTxnOp(op)) {
    return TxnError(source, line, i,
                    fmt::format("{} is not a transaction (expected :f :txn and a vector of "
                                "micro-ops)",
                                Describe(op)));
  }
  Txn t;
  t.process = op.process;
  t.index = op.index;
  if (op.is_invoke()) {
    t.invoke = i;
    t.type = OpType::kInfo;
  } else {
    t.complete = i;
    t.invoke = invoke;  // kNone for a bare completion in a minimal history
    t.type = op.type;
  }
  // An :ok completion carries the reads; a failed or indeterminate one may carry nothing, so the
  // invocation tells what was attempted.
  const Value* value = &op.value;
  if (t.type != OpType::kOk && !op.value.is_sequential() && invocation != nullptr) {
    value = &invocation->value;
  }
  auto ops = DecodeMicroOps(*value, t.type == OpType::kOk);
  if (!ops) {
    return TxnError(source, line, i, fmt::format("{}: {}", Describe(op), ops.error().message()));
  }
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
  return t;
}

// Where a transaction sits in DecodeTxns' order: at its completion, or at its invocation when it
// never completed.
size_t TakenAt(const Txn& t) { return t.complete != History::kNone ? t.complete : t.invoke; }

}  // namespace

Result<std::vector<Txn>> DecodeTxns(const History& h) {
  std::vector<Txn> txns;
  for (size_t i = 0; i < h.size(); ++i) {
    const Op& op = h[i];
    if (!op.is_client()) continue;
    const size_t partner = h.partner(i);
    // A transaction is taken at its completion, or at its invocation when it never completes.
    if (op.is_invoke() && partner != History::kNone) continue;
    const bool paired = !op.is_invoke() && partner != History::kNone;
    FAULTLINE_ASSIGN_OR_RETURN(
        Txn t, MakeTxn(op, i, paired ? &h[partner] : nullptr,
                       op.is_invoke() ? History::kNone : partner, h.source_name(), h.line(i)));
    txns.push_back(std::move(t));
  }
  return txns;
}

TxnDecoder::TxnDecoder(std::string source) : source_(source), pairer_(std::move(source)) {}
TxnDecoder::~TxnDecoder() = default;

Status TxnDecoder::Add(Op&& op, int64_t line) {
  const size_t i = next_++;
  FAULTLINE_ASSIGN_OR_RETURN(const size_t partner, pairer_.Add(op, i, line));
  if (!op.is_client()) return OkStatus();
  if (op.is_invoke()) {
    // Held until its completion: only open invocations are kept, a few per process at most.
    pending_.emplace(i, Pending{.op = std::move(op), .line = line});
    return OkStatus();
  }
  const Op* invocation = nullptr;
  auto it = partner == History::kNone ? pending_.end() : pending_.find(partner);
  if (it != pending_.end()) invocation = &it->second.op;
  FAULTLINE_ASSIGN_OR_RETURN(Txn t, MakeTxn(op, i, invocation, partner, source_, line));
  if (it != pending_.end()) pending_.erase(it);
  txns_.push_back(std::move(t));
  return OkStatus();
}

Result<std::vector<Txn>> TxnDecoder::Finish() {
  // Invocations that never completed are info transactions, each at its own position.
  std::vector<Txn> open;
  for (const auto& [position, p] : pending_) {
    FAULTLINE_ASSIGN_OR_RETURN(Txn t,
                               MakeTxn(p.op, position, nullptr, History::kNone, source_, p.line));
    open.push_back(std::move(t));
  }
  pending_.clear();
  if (open.empty()) return std::move(txns_);
  std::vector<Txn> all;
  all.reserve(txns_.size() + open.size());
  std::merge(std::make_move_iterator(txns_.begin()), std::make_move_iterator(txns_.end()),
             std::make_move_iterator(open.begin()), std::make_move_iterator(open.end()),
             std::back_inserter(all),
             [](const Txn& a, const Txn& b) { return TakenAt(a) < TakenAt(b); });
  txns_.clear();
  return all;
}

std::string TxnDecoder::TimeRegressionNote() const { return pairer_.TimeRegressionNote(); }

}  // namespace faultline::history
