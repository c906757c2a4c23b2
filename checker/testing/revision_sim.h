// Test double for the revision-order checker: a simulated etcd register store that hands out
// revisions, driven by concurrent processes with random intervals and some info completions, and
// mutations that break the history the way a buggy store (or recorder) would. Also
// ForceRevisionOrder, which writes the revision order into the values so that the plain
// linearizability search decides "linearizable in revision order" — an independent oracle.
//
// Thread-safety: pure functions; every random choice comes from SimOptions::seed.
#ifndef FAULTLINE_CHECKER_TESTING_REVISION_SIM_H_
#define FAULTLINE_CHECKER_TESTING_REVISION_SIM_H_

#include <fmt/format.h>

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "history/fields.h"
#include "history/history.h"

namespace faultline::checker::testing {

enum class Mutation {
  kNone,
  kStaleRead,      // an ok read returns an older version (value and mod_revision)
  kFutureRead,     // an ok read returns a newer version
  kWrongValue,     // an ok read's value changes, its mod_revision does not
  kSwapRevisions,  // two ok writes of one key swap their revisions
};

inline std::string_view MutationName(Mutation m) {
  switch (m) {
    case Mutation::kNone:
      return "none";
    case Mutation::kStaleRead:
      return "stale-read";
    case Mutation::kFutureRead:
      return "future-read";
    case Mutation::kWrongValue:
      return "wrong-value";
    case Mutation::kSwapRevisions:
      return "swap-revisions";
  }
  return "?";
}

struct SimOptions {
  uint64_t seed = 1;
  int processes = 4;
  int ops = 30;             // invocations
  int values = 4;           // writes draw values from [0, values)
  bool info_writes = true;  // writes and cas may end info (reads may always)
  Mutation mutation = Mutation::kNone;
  int keys = 1;  // > 1: ops carry Op::key, revisions are shared by all keys (as in etcd)
  double info_share = 0.1;
};

inline history::Field Extra(std::string_view name, int64_t v) {
  return history::Field{.key = history::Value::Keyword(std::string(name)),
                        .value = history::Value::Int(v)};
}

namespace internal {

inline void SetExtra(history::Op& op, std::string_view name, int64_t v) {
  for (history::Field& f : op.extras) {
    if (f.key.is_keyword() && f.key.text() == name) {
      f.value = history::Value::Int(v);
      return;
    }
  }
  op.extras.push_back(Extra(name, v));
}

inline int64_t GetExtra(const history::Op& op, std::string_view name) {
  const history::Value* v = op.FindExtra(name);
  return v != nullptr && v->is_int() ? v->as_int() : -1;
}

}  // namespace internal

inline Result<history::History> Simulate(const SimOptions& o) {
  using history::Op;
  using history::OpType;
  using history::Value;
  std::mt19937_64 rng(o.seed);
  auto below = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
  auto chance = [&](double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; };

  struct Version {
    int64_t revision;
    Value value;
  };
  struct Pending {
    Op invoke;
    bool applied = false;
    Op done;
  };
  std::vector<std::vector<Version>> versions(static_cast<size_t>(o.keys),
                                             std::vector<Version>{{0, Value::Nil()}});
  int64_t revision = 1;
  std::vector<Op> ops;
  std::vector<std::optional<Pending>> slots(static_cast<size_t>(o.processes));
  std::vector<int64_t> process(static_cast<size_t>(o.processes));
  for (int p = 0; p < o.processes; ++p) process[static_cast<size_t>(p)] = p;
  int invoked = 0;
  int pending = 0;
  auto value = [&]() { return Value::Int(below(o.values)); };
  while (invoked < o.ops || pending > 0) {
    const auto p = static_cast<size_t>(below(o.processes));
    std::optional<Pending>& slot = slots[p];
    if (!slot) {
      if (invoked >= o.ops) continue;
      const int key = below(o.keys);
      const int kind = below(10);
      Op inv{.index = -1,
             .time_ns = -1,
             .type = OpType::kInvoke,
             .process = history::Process::Client(process[p]),
             .f = kind < 4   ? "read"
                  : kind < 7 ? "write"
                             : "cas",
             .key = o.keys > 1 ? std::optional<Value>(Value::Int(key)) : std::nullopt,
             .value = Value::Nil(),
             .error = std::nullopt,
             .extras = {}};
      if (inv.f == "write") inv.value = value();
      if (inv.f == "cas") {
        const int old = below(o.values + 1);
        inv.value = Value::Vector({old == o.values ? Value::Nil() : Value::Int(old), value()});
      }
      ops.push_back(inv);
      slot = Pending{.invoke = std::move(inv), .applied = false, .done = {}};
      ++invoked;
      ++pending;
      continue;
    }
    auto apply = [&](Pending& pend) {
      const Op& inv = pend.invoke;
      const int key = inv.key ? static_cast<int>(inv.key->as_int()) : 0;
      std::vector<Version>& vs = versions[static_cast<size_t>(key)];
      pend.applied = true;
      if (inv.f == "read") {
        pend.done = inv.Complete(OpType::kOk, vs.back().value);
        pend.done.extras = {Extra(history::field::kRevision, revision),
                            Extra(history::field::kModRevision, vs.back().revision)};
        return;
      }
      const bool cas = inv.f == "cas";
      if (cas && inv.value.items()[0] != vs.back().value) {
        pend.done = inv.Complete(OpType::kFail, inv.value);
        pend.done.extras = {Extra(history::field::kRevision, revision)};
        return;
      }
      revision += 1 + below(2);  // other keys' writes take revisions too
      vs.push_back(Version{revision, cas ? inv.value.items()[1] : inv.value});
      pend.done = inv.Complete(OpType::kOk, inv.value);
      pend.done.extras = {Extra(history::field::kRevision, revision)};
    };
    const bool may_info = slot->invoke.f == "read" || o.info_writes;
    if (may_info && chance(o.info_share)) {
      // A timeout: the op may take effect unseen, or not at all; the process is retired.
      if (!slot->applied && chance(0.5)) apply(*slot);
      Op info = slot->invoke.Complete(OpType::kInfo, slot->invoke.value);
      info.error = Value::Keyword("timeout");
      if (chance(0.75)) ops.push_back(std::move(info));  // else it never completes
      slot.reset();
      --pending;
      process[p] += o.processes;
      continue;
    }
    if (!slot->applied) {
      apply(*slot);
      continue;
    }
    ops.push_back(std::move(slot->done));
    slot.reset();
    --pending;
  }

  // One mutation, where the history offers a place for it.
  std::vector<size_t> reads;
  std::map<int64_t, std::vector<size_t>> writes_by_key;
  for (size_t i = 0; i < ops.size(); ++i) {
    const Op& op = ops[i];
    if (op.type != OpType::kOk) continue;
    if (op.f == "read") reads.push_back(i);
    if (op.f != "read") writes_by_key[op.key ? op.key->as_int() : 0].push_back(i);
  }
  auto key_of = [](const Op& op) { return op.key ? static_cast<size_t>(op.key->as_int()) : 0; };
  switch (o.mutation) {
    case Mutation::kNone:
      break;
    case Mutation::kStaleRead:
    case Mutation::kFutureRead: {
      if (reads.empty()) break;
      Op& read = ops[reads[static_cast<size_t>(below(static_cast<int>(reads.size())))]];
      const int64_t mod = internal::GetExtra(read, history::field::kModRevision);
      std::vector<const Version*> pick;
      for (const Version& v : versions[key_of(read)]) {
        if (o.mutation == Mutation::kStaleRead ? v.revision < mod : v.revision > mod) {
          pick.push_back(&v);
        }
      }
      if (pick.empty()) break;
      const Version& v = *pick[static_cast<size_t>(below(static_cast<int>(pick.size())))];
      read.value = v.value;
      internal::SetExtra(read, history::field::kModRevision, v.revision);
      break;
    }
    case Mutation::kWrongValue: {
      if (reads.empty()) break;
      Op& read = ops[reads[static_cast<size_t>(below(static_cast<int>(reads.size())))]];
      Value other = chance(0.3) ? Value::Int(o.values + 7) : value();
      if (other == read.value) other = Value::Int(o.values + 8);
      read.value = std::move(other);
      break;
    }
    case Mutation::kSwapRevisions: {
      std::vector<const std::vector<size_t>*> keys;
      for (const auto& [k, list] : writes_by_key) {
        if (list.size() >= 2) keys.push_back(&list);
      }
      if (keys.empty()) break;
      const std::vector<size_t>& list =
          *keys[static_cast<size_t>(below(static_cast<int>(keys.size())))];
      const int n = static_cast<int>(list.size());
      const int ia = below(n);
      int ib = below(n - 1);
      if (ib >= ia) ++ib;
      const size_t a = list[static_cast<size_t>(ia)];
      const size_t b = list[static_cast<size_t>(ib)];
      const int64_t ra = internal::GetExtra(ops[a], history::field::kRevision);
      internal::SetExtra(ops[a], history::field::kRevision,
                         internal::GetExtra(ops[b], history::field::kRevision));
      internal::SetExtra(ops[b], history::field::kRevision, ra);
      break;
    }
  }
  return history::History::Build(
      std::move(ops), history::Source{.name = fmt::format("sim seed {}", o.seed), .lines = {}});
}

// The same history with the revision order written into the values, for the plain search: values
// become [value revision]; an ok write or cas at revision R becomes a cas from [v P] to [new R],
// where P is the greatest ok-write revision below R on that key (0, nil: the initial version) and
// v its value (for a cas, its own old value). Failed writes and cas are left out. Check it with
// model cas-register and initial [nil 0]. Single-key histories only (the model ignores keys).
// REQUIRES: no write or cas ends info (their revisions are unknown); else an error.
inline Result<history::History> ForceRevisionOrder(const history::History& h) {
  using history::Op;
  using history::OpType;
  using history::Value;
  std::map<int64_t, Value> created{{0, Value::Nil()}};
  for (size_t i = 0; i < h.size(); ++i) {
    const Op& op = h[i];
    if (!op.is_client() || op.f == "read") continue;
    const size_t p = h.partner(i);
    if (op.is_invoke() && (p == history::History::kNone || h[p].type == OpType::kInfo)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("force revision order: op {} {} ended info", op.index, op.f));
    }
    if (op.type != OpType::kOk) continue;
    created[internal::GetExtra(op, history::field::kRevision)] =
        op.f == "cas" ? h[p].value.items()[1] : h[p].value;
  }
  std::vector<Op> out;
  for (size_t i = 0; i < h.size(); ++i) {
    Op op = h[i];
    if (!op.is_client()) continue;
    const size_t p = h.partner(i);
    const Op& done = op.is_invoke() ? h[p == history::History::kNone ? i : p] : op;
    if (op.f == "read") {
      if (op.type == OpType::kOk) {
        op.value = Value::Vector(
            {op.value, Value::Int(internal::GetExtra(op, history::field::kModRevision))});
      }
      out.push_back(std::move(op));
      continue;
    }
    if (done.type != OpType::kOk) continue;
    const Op& inv = op.is_invoke() ? op : h[p];
    const int64_t r = internal::GetExtra(done, history::field::kRevision);
    auto it = created.find(r);
    const auto prev = std::prev(it);
    const bool cas = inv.f == "cas";
    const Value old = cas ? inv.value.items()[0] : prev->second;
    const Value written = cas ? inv.value.items()[1] : inv.value;
    op.f = "cas";
    op.value = Value::Vector(
        {Value::Vector({old, Value::Int(prev->first)}), Value::Vector({written, Value::Int(r)})});
    out.push_back(std::move(op));
  }
  return history::History::Build(std::move(out), history::Source{.name = "forced", .lines = {}});
}

}  // namespace faultline::checker::testing

#endif  // FAULTLINE_CHECKER_TESTING_REVISION_SIM_H_
