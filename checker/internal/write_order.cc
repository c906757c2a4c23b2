#include "checker/internal/write_order.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>

namespace faultline::checker::internal {
namespace {

// Past this many ops in a partition the closure (cubic, on bitsets) is left to the search.
constexpr size_t kMaxOps = 1500;
// Rounds of "nothing between" before giving up (each adds edges; few are needed in practice).
constexpr int kMaxRounds = 32;
constexpr int64_t kInit = -1;  // the source of a read of the initial value

// One op as the inference sees it: what it saw and what it wrote, if it took effect.
struct OrderOp {
  size_t invoke = 0;
  size_t complete = kOpen;       // kOpen: an info op
  std::optional<int32_t> saw;    // an ok read's value, a cas's compared value
  std::optional<int32_t> wrote;  // a write's or (not failed) cas's new value
  bool read = false;             // a plain read (preferred as the failing op)
};

struct Cycle {
  size_t failing = 0;
  std::vector<size_t> ops;  // by invocation
};

class Bits {
 public:
  explicit Bits(size_t n) : words_((n + 63) / 64), bits_(n * words_, 0) {}
  bool Get(size_t i, size_t j) const { return (Row(i)[j / 64] >> (j % 64) & 1) != 0; }
  // True when the bit was not set before.
  bool Set(size_t i, size_t j) {
    uint64_t& w = bits_[i * words_ + j / 64];
    const uint64_t b = uint64_t{1} << (j % 64);
    const bool fresh = (w & b) == 0;
    w |= b;
    return fresh;
  }
  // Transitive closure (Warshall's algorithm, a row at a time).
  void Close(size_t n) {
    for (size_t k = 0; k < n; ++k) {
      const uint64_t* rk = Row(k);
      for (size_t i = 0; i < n; ++i) {
        if (!Get(i, k)) continue;
        uint64_t* ri = &bits_[i * words_];
        for (size_t w = 0; w < words_; ++w) ri[w] |= rk[w];
      }
    }
  }

 private:
  const uint64_t* Row(size_t i) const { return &bits_[i * words_]; }
  size_t words_;
  std::vector<uint64_t> bits_;
};

std::optional<Cycle> FindCycle(const std::vector<OrderOp>& calls, int32_t initial) {
  if (calls.size() > kMaxOps) return std::nullopt;
  // Writers per value (ok and info alike; the initial value counts one).
  std::unordered_map<int32_t, int> writers;
  std::unordered_map<int32_t, size_t> writer;
  writers[initial] = 1;
  for (size_t k = 0; k < calls.size(); ++k) {
    if (!calls[k].wrote) continue;
    ++writers[*calls[k].wrote];
    writer[*calls[k].wrote] = k;
  }
  // What each op read, when it certainly took effect and its value has one writer: the source
  // call, or kInit. An info cas is included once its written value is read (below).
  std::vector<std::optional<int64_t>> source(calls.size());
  // (A cas that wrote the value it compared with is left out: it cannot have seen itself.)
  auto source_of = [&](int32_t v, size_t self) -> std::optional<int64_t> {
    if (writers[v] != 1) return std::nullopt;
    if (v == initial) return kInit;
    if (writer.at(v) == self) return std::nullopt;
    return static_cast<int64_t>(writer.at(v));
  };
  std::vector<uint8_t> effective(calls.size(), 0);  // a write that certainly took effect
  for (size_t k = 0; k < calls.size(); ++k) {
    const OrderOp& c = calls[k];
    if (c.complete == kOpen) continue;
    if (c.saw) source[k] = source_of(*c.saw, k);
    if (c.wrote) effective[k] = 1;
  }
  // Info writes whose value was read took effect; an info cas that did also read its old value.
  for (bool grew = true; grew;) {
    grew = false;
    for (size_t k = 0; k < calls.size(); ++k) {
      if (!source[k] || *source[k] == kInit) continue;
      const auto w = static_cast<size_t>(*source[k]);
      if (effective[w] != 0) continue;
      effective[w] = 1;
      grew = true;
      if (calls[w].saw) source[w] = source_of(*calls[w].saw, w);
    }
  }
  // The graph's nodes: effective writes and ops with a known source.
  std::vector<size_t> nodes;
  std::vector<int64_t> node_of(calls.size(), -1);
  for (size_t k = 0; k < calls.size(); ++k) {
    if (effective[k] == 0 && !source[k]) continue;
    node_of[k] = static_cast<int64_t>(nodes.size());
    nodes.push_back(k);
  }
  const size_t n = nodes.size();
  if (n < 2) return std::nullopt;
  Bits before(n);
  auto id = [&](size_t call) { return static_cast<size_t>(node_of[call]); };
  for (size_t i = 0; i < n; ++i) {
    const OrderOp& a = calls[nodes[i]];
    if (a.complete == kOpen) continue;
    for (size_t j = 0; j < n; ++j) {
      if (a.complete < calls[nodes[j]].invoke) before.Set(i, j);
    }
  }
  std::vector<std::pair<size_t, int64_t>> reads;  // (node, source call or kInit)
  std::vector<size_t> writes;                     // nodes of effective writes
  for (size_t i = 0; i < n; ++i) {
    const size_t k = nodes[i];
    if (effective[k] != 0) writes.push_back(i);
    if (source[k]) reads.emplace_back(i, *source[k]);
  }
  for (const auto& [r, src] : reads) {
    if (src != kInit) before.Set(id(static_cast<size_t>(src)), r);
  }
  for (const auto& [r, src] : reads) {
    if (src != kInit) continue;
    for (size_t w : writes) {
      if (w != r) before.Set(r, w);
    }
  }
  std::optional<size_t> cyclic;
  for (int round = 0; round < kMaxRounds && !cyclic; ++round) {
    before.Close(n);
    for (size_t i = 0; i < n && !cyclic; ++i) {
      if (before.Get(i, i)) cyclic = i;
    }
    if (cyclic) break;
    bool added = false;
    for (const auto& [r, src] : reads) {
      if (src == kInit) continue;
      const size_t w = id(static_cast<size_t>(src));
      for (size_t x : writes) {
        if (x == w || x == r) continue;
        if (before.Get(x, r)) added |= before.Set(x, w);
        if (before.Get(w, x)) added |= before.Set(r, x);
      }
    }
    if (!added) break;
  }
  if (!cyclic) return std::nullopt;

  // The ops on a cycle through the node found: those it reaches that reach it back.
  std::vector<size_t> cycle;
  for (size_t j = 0; j < n; ++j) {
    if (before.Get(*cyclic, j) && before.Get(j, *cyclic)) cycle.push_back(nodes[j]);
  }
  std::sort(cycle.begin(), cycle.end(),
            [&](size_t x, size_t y) { return calls[x].invoke < calls[y].invoke; });
  size_t failing = cycle.back();
  for (size_t k : cycle) {
    if (calls[k].read) failing = k;  // the latest-invoked read
  }
  return Cycle{.failing = failing, .ops = std::move(cycle)};
}

template <typename M>
SearchResult Explain(const M& model, const std::vector<Call<M>>& calls, const Cycle& cycle) {
  std::vector<std::string> described;
  for (size_t k = 0; k < cycle.ops.size() && described.size() < 8; ++k) {
    const Call<M>& c = calls[cycle.ops[k]];
    described.push_back(model.Describe(c.in, c.out) + (c.complete == kOpen ? " (info)" : ""));
  }
  if (cycle.ops.size() > described.size()) {
    described.push_back(fmt::format("{} more", cycle.ops.size() - described.size()));
  }
  SearchResult result;
  result.outcome = Outcome::kInvalid;
  result.failing_call = cycle.failing;
  result.prefixes.emplace_back();
  result.explanation = model.Describe(calls[cycle.failing].in, calls[cycle.failing].out);
  result.detail = fmt::format(
      "the writes these ops saw admit no order: each of {} must take effect before another "
      "(by real time, by the write each read saw, and as no write falls between a write and a "
      "read that saw it)",
      fmt::join(described, ", "));
  return result;
}

}  // namespace

std::optional<SearchResult> FindWriteOrderCycle(const RegisterModel& model,
                                                const std::vector<Call<RegisterModel>>& calls) {
  using Kind = RegisterModel::Input::Kind;
  using OutKind = RegisterModel::Output::Kind;
  std::vector<OrderOp> ops;
  ops.reserve(calls.size());
  for (const Call<RegisterModel>& c : calls) {
    OrderOp op{.invoke = c.invoke, .complete = c.complete, .saw = {}, .wrote = {}, .read = false};
    if (c.in.kind == Kind::kRead) {
      op.read = true;
      if (c.out.kind == OutKind::kValue) op.saw = c.out.value;
    } else if (c.in.kind == Kind::kWrite) {
      op.wrote = c.in.a;
    } else if (c.out.kind != OutKind::kFail) {
      // A cas that took effect compared equal (ok, or info and effective) and wrote.
      op.saw = c.in.a;
      op.wrote = c.in.b;
    }
    ops.push_back(op);
  }
  std::optional<Cycle> cycle = FindCycle(ops, model.Init());
  if (!cycle) return std::nullopt;
  return Explain(model, calls, *cycle);
}

std::optional<SearchResult> FindWriteOrderCycle(const KvModel& model,
                                                const std::vector<Call<KvModel>>& calls) {
  using Kind = KvModel::Input::Kind;
  if (model.whole_map()) return std::nullopt;
  // Strings to ids; the initial string first.
  std::unordered_map<std::string, int32_t> ids;
  auto id = [&](std::string s) {
    return ids.emplace(std::move(s), static_cast<int32_t>(ids.size())).first->second;
  };
  const int32_t initial = id(model.Init()[0].Text());
  std::vector<OrderOp> ops;
  ops.reserve(calls.size());
  for (const Call<KvModel>& c : calls) {
    if (c.in.kind == Kind::kAppend) return std::nullopt;  // not a register
    OrderOp op{.invoke = c.invoke, .complete = c.complete, .saw = {}, .wrote = {}, .read = false};
    if (c.in.kind == Kind::kGet) {
      op.read = true;
      if (c.out.known && !c.out.nil) op.saw = id(c.out.value);
    } else {
      op.wrote = id(c.in.arg);
    }
    ops.push_back(op);
  }
  std::optional<Cycle> cycle = FindCycle(ops, initial);
  if (!cycle) return std::nullopt;
  return Explain(model, calls, *cycle);
}

}  // namespace faultline::checker::internal
