#include "checker/internal/write_order.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

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
  std::vector<int32_t> then;     // appended values a read saw after `saw`, in order (kv)
  std::optional<int32_t> wrote;  // a write's, put's, append's or (not failed) cas's new value
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
  // The appends a read saw after its source, in order, when each value has one writer: the
  // ops between its source and it (kv). A read whose appends cannot be so told gets no source.
  std::vector<std::vector<size_t>> chain(calls.size());
  std::vector<uint8_t> in_chain(calls.size(), 0);
  auto chain_of = [&](size_t k) {
    for (int32_t v : calls[k].then) {
      if (writers[v] != 1 || v == initial) return false;
      const size_t w = writer.at(v);
      if (w == k || in_chain[w] != 0) return false;  // an op takes effect once
      in_chain[w] = 1;
      chain[k].push_back(w);
    }
    return true;
  };
  std::vector<uint8_t> effective(calls.size(), 0);  // a write that certainly took effect
  for (size_t k = 0; k < calls.size(); ++k) {
    const OrderOp& c = calls[k];
    if (c.complete == kOpen) continue;
    if (c.saw) {
      source[k] = source_of(*c.saw, k);
      if (source[k] && !chain_of(k)) source[k].reset();
      for (size_t w : chain[k]) in_chain[w] = 0;
      if (!source[k]) chain[k].clear();
    }
    if (c.wrote) effective[k] = 1;
  }
  // Info writes whose value was read took effect (as a source or an append seen after one); an
  // info cas that did also read its old value.
  for (bool grew = true; grew;) {
    grew = false;
    for (size_t k = 0; k < calls.size(); ++k) {
      if (!source[k]) continue;
      std::vector<size_t> seen = chain[k];
      if (*source[k] != kInit) seen.push_back(static_cast<size_t>(*source[k]));
      for (size_t w : seen) {
        if (effective[w] != 0) continue;
        effective[w] = 1;
        grew = true;
        if (calls[w].saw) source[w] = source_of(*calls[w].saw, w);
      }
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
  // Reads-from: the source, then the appends seen after it in order, then the read.
  for (const auto& [r, src] : reads) {
    int64_t prev = src == kInit ? -1 : static_cast<int64_t>(id(static_cast<size_t>(src)));
    for (size_t c : chain[nodes[r]]) {
      if (prev >= 0) before.Set(static_cast<size_t>(prev), id(c));
      prev = static_cast<int64_t>(id(c));
    }
    if (prev >= 0) before.Set(static_cast<size_t>(prev), r);
  }
  // Marks the nodes of read r's chain (between its source and it) with stamp r + 1.
  std::vector<size_t> mark(n, 0);
  auto mark_chain = [&](size_t r) {
    for (size_t c : chain[nodes[r]]) mark[id(c)] = r + 1;
  };
  for (const auto& [r, src] : reads) {
    if (src != kInit) continue;
    mark_chain(r);
    for (size_t w : writes) {
      if (w != r && mark[w] != r + 1) before.Set(r, w);
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
      mark_chain(r);
      for (size_t x : writes) {
        if (x == w || x == r || mark[x] == r + 1) continue;
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
    OrderOp op{.invoke = c.invoke,
               .complete = c.complete,
               .saw = {},
               .then = {},
               .wrote = {},
               .read = false};
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

namespace {

// One key's ops (indices into calls) as OrderOps, ids for its strings, and the cycle if any.
//
// A put's value and an append's argument are values in two spaces (a put sets the string, an
// append adds to its end). A get's string is parsed as a put's value (or the initial string)
// followed by appended arguments: when exactly one parse exists, the get saw that value's write
// and then those appends, in that order, and nothing else since the write (an op that took effect
// between them would have reset the string or shown in it). When the parse is not unique, the get
// adds no constraint. Appends of "" change nothing and are left out.
std::optional<Cycle> KvKeyCycle(const std::vector<Call<KvModel>>& calls,
                                const std::vector<size_t>& which, const std::string& initial) {
  using Kind = KvModel::Input::Kind;
  std::unordered_map<std::string_view, int32_t> put_ids;
  std::unordered_map<std::string_view, int32_t> append_ids;
  int32_t next_id = 0;
  auto id_in = [&](std::unordered_map<std::string_view, int32_t>& ids, std::string_view text) {
    return ids.emplace(text, next_id).second ? next_id++ : ids.at(text);
  };
  const int32_t init = id_in(put_ids, initial);
  std::vector<size_t> put_lengths{initial.size()};
  std::vector<size_t> append_lengths;
  for (size_t k : which) {
    const Call<KvModel>& c = calls[k];
    if (c.in.kind == Kind::kPut) {
      id_in(put_ids, c.in.arg);
      put_lengths.push_back(c.in.arg.size());
    } else if (c.in.kind == Kind::kAppend && !c.in.arg.empty()) {
      id_in(append_ids, c.in.arg);
      append_lengths.push_back(c.in.arg.size());
    }
  }
  for (std::vector<size_t>* l : {&put_lengths, &append_lengths}) {
    std::sort(l->begin(), l->end());
    l->erase(std::unique(l->begin(), l->end()), l->end());
  }
  // Parses of a get's string, counted up to 2: ways[i] for its first i characters, and how the
  // last one got there (from: where the last append began, -1 for a put's value; id: the value).
  std::vector<uint8_t> ways;
  struct Back {
    int64_t from = -1;
    int32_t id = 0;
  };
  std::vector<Back> back;
  auto parse = [&](std::string_view v, OrderOp& op) {
    ways.assign(v.size() + 1, 0);
    back.assign(v.size() + 1, Back{});
    for (size_t len : put_lengths) {
      if (len > v.size()) break;
      auto it = put_ids.find(v.substr(0, len));
      if (it == put_ids.end()) continue;
      ways[len] = 1;
      back[len] = Back{.from = -1, .id = it->second};
    }
    for (size_t i = 0; i < v.size(); ++i) {
      if (ways[i] == 0) continue;
      for (size_t len : append_lengths) {
        if (i + len > v.size()) break;
        auto it = append_ids.find(v.substr(i, len));
        if (it == append_ids.end()) continue;
        ways[i + len] = static_cast<uint8_t>(std::min(2, ways[i + len] + ways[i]));
        back[i + len] = Back{.from = static_cast<int64_t>(i), .id = it->second};
      }
    }
    if (ways[v.size()] != 1) return;
    size_t pos = v.size();
    while (back[pos].from >= 0) {
      op.then.push_back(back[pos].id);
      pos = static_cast<size_t>(back[pos].from);
    }
    std::reverse(op.then.begin(), op.then.end());
    op.saw = back[pos].id;
  };
  std::vector<OrderOp> ops;
  std::vector<size_t> call_of;
  ops.reserve(which.size());
  for (size_t k : which) {
    const Call<KvModel>& c = calls[k];
    OrderOp op{.invoke = c.invoke,
               .complete = c.complete,
               .saw = {},
               .then = {},
               .wrote = {},
               .read = false};
    if (c.in.kind == Kind::kGet) {
      op.read = true;
      if (c.out.known && !c.out.nil) parse(c.out.value, op);
    } else if (c.in.kind == Kind::kPut) {
      op.wrote = put_ids.at(c.in.arg);
    } else if (!c.in.arg.empty()) {
      op.wrote = append_ids.at(c.in.arg);
    } else {
      continue;
    }
    ops.push_back(std::move(op));
    call_of.push_back(k);
  }
  std::optional<Cycle> cycle = FindCycle(ops, init);
  if (!cycle) return std::nullopt;
  cycle->failing = call_of[cycle->failing];
  for (size_t& k : cycle->ops) k = call_of[k];
  return cycle;
}

}  // namespace

std::optional<SearchResult> FindWriteOrderCycle(const KvModel& model,
                                                const std::vector<Call<KvModel>>& calls) {
  // Linearizability is local: a key whose ops admit no order makes the whole map's history
  // non-linearizable, so the whole-map model is checked key by key here.
  std::map<int32_t, std::vector<size_t>> keys;
  for (size_t k = 0; k < calls.size(); ++k) {
    keys[model.whole_map() ? calls[k].in.slot : 0].push_back(k);
  }
  const KvModel::State init = model.Init();
  for (const auto& [slot, which] : keys) {
    const std::string initial = init[model.whole_map() ? static_cast<size_t>(slot) : 0].Text();
    std::optional<Cycle> cycle = KvKeyCycle(calls, which, initial);
    if (cycle) return Explain(model, calls, *cycle);
  }
  return std::nullopt;
}

}  // namespace faultline::checker::internal
