#include "checker/txn_checker.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <deque>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace faultline::checker {
namespace {

using history::MicroOp;
using history::MicroOpKind;
using history::OpType;
using history::Txn;

constexpr uint32_t kNoTxn = UINT32_MAX;

// Edge kinds, one bit each; an edge carries exactly one.
enum : uint8_t { kWW = 1, kWR = 2, kRW = 4, kProc = 8, kRT = 16 };

// Why an edge exists, for the explanation: the key, the value the source wrote or read (a) and
// the value the target wrote or read (b); a_nil when the source read the initial state. Kept apart
// from the edges, which are many (process and real-time edges need none), and read only to explain
// a cycle found.
struct Why {
  int64_t key = 0;
  int64_t a = 0;
  int64_t b = 0;
};
constexpr uint32_t kNoWhy = UINT32_MAX;
struct Edge {
  uint32_t from = 0;
  uint32_t to = 0;
  uint32_t why = kNoWhy;  // index into Analysis::whys_
  uint8_t kind = 0;
  bool a_nil = false;
};

struct KeyValue {
  int64_t key;
  int64_t value;
  bool operator==(const KeyValue&) const = default;
};
struct KeyValueHash {
  size_t operator()(const KeyValue& kv) const {
    uint64_t h = static_cast<uint64_t>(kv.key) * 0x9E3779B97F4A7C15ULL;
    h ^= static_cast<uint64_t>(kv.value) + 0x632BE59BD9B4E019ULL + (h << 6) + (h >> 2);
    return static_cast<size_t>(h);
  }
};

// Who wrote a (key, value): the transaction and whether it was that transaction's last write to
// the key (a read of a non-final one is an intermediate read, G1b).
struct Writer {
  uint32_t txn = kNoTxn;
  bool final_write = true;
  int32_t position = -1;  // list-append: the element's place in its key's version order
};

const std::array<std::string_view, 5> kCycleKinds = {"G0", "G1c", "G-single", "G-nonadjacent",
                                                     "G2-item"};

class Analysis {
 public:
  Analysis(const std::vector<Txn>& txns, const TxnCheckOptions& options)
      : txns_(txns), options_(options) {}

  Verdict Run();

 private:
  std::string T(uint32_t t) const { return fmt::format("T{}", txns_[t].index); }
  bool IsNode(uint32_t t) const { return t != kNoTxn && txns_[t].type != OpType::kFail; }
  void Report(const std::string& kind, std::string example);
  void AddEdge(uint32_t from, uint32_t to, uint8_t kind, int64_t key, int64_t a, int64_t b,
               bool a_nil = false) {
    if (from == to || !IsNode(from) || !IsNode(to)) return;
    uint32_t why = kNoWhy;
    if (kind & (kWW | kWR | kRW)) {
      why = static_cast<uint32_t>(whys_.size());
      whys_.push_back(Why{.key = key, .a = a, .b = b});
    }
    edges_.push_back(Edge{.from = from, .to = to, .why = why, .kind = kind, .a_nil = a_nil});
  }

  void IndexWrites();
  void CheckInternal();
  // One key's state within a transaction, as CheckInternal replays its micro-ops.
  struct InternalState {
    bool known = false;  // the whole value is known (read, or written for a register)
    std::vector<int64_t> list;
    bool nil = true;
    int64_t value = 0;
    std::vector<int64_t> own;  // list-append: own appends since the start, before any read
  };
  void CheckInternalStep(uint32_t t, const MicroOp& m, InternalState& s);
  void InferListAppend();
  // Duplicates, garbage and aborted reads among the elements of one list read.
  void CheckElements(uint32_t t, const MicroOp& m);
  void InferRwRegister();
  void AddOrderEdges();
  void BuildGraph();
  void FindCycles();
  std::string ExplainEdge(const Edge& e) const;
  std::string Elements(const std::vector<int64_t>& list) const;

  // Cycle search helpers over the CSR graph.
  std::vector<std::vector<uint32_t>> Components(uint8_t mask, const std::vector<uint32_t>* only,
                                                const std::vector<int32_t>* comp, int32_t id);
  bool ShortestPath(uint32_t from, uint32_t to, uint8_t mask, const std::vector<int32_t>& comp,
                    int32_t id, std::vector<uint32_t>& path_edges);
  bool NonAdjacentPath(uint32_t from, uint32_t to, uint8_t extra, const std::vector<int32_t>& comp,
                       int32_t id, std::vector<uint32_t>& path_edges);
  // Searches one component at a level; returns false when the budget ran out.
  bool ClassifyComponent(const std::vector<uint32_t>& nodes, uint8_t extra, std::string_view suffix,
                         std::vector<int32_t>& comp, int32_t id);
  void ReportCycle(std::string kind, const std::vector<uint32_t>& cycle_edges);

  const std::vector<Txn>& txns_;
  const TxnCheckOptions& options_;
  std::unordered_map<KeyValue, Writer, KeyValueHash> writers_;
  std::vector<Edge> edges_;
  std::vector<Why> whys_;
  // CSR: out edges of node n are csr_edges_[csr_start_[n] .. csr_start_[n+1]).
  std::vector<uint32_t> csr_start_;
  std::vector<uint32_t> csr_edges_;
  std::map<std::string, int64_t> counts_;
  std::vector<std::string> examples_;
  std::map<std::string, int64_t> example_kinds_;
  uint64_t budget_used_ = 0;
  bool unclassified_ = false;
  size_t keys_ = 0;
  size_t unobserved_ = 0;  // committed writes no read observed (their order cannot be inferred)
  size_t revision_ordered_ = 0;  // rw-register writes ordered by the database's revisions
};

void Analysis::Report(const std::string& kind, std::string example) {
  ++counts_[kind];
  // Up to max_examples in all, at most two of a kind so that rarer kinds show too.
  if (examples_.size() < options_.max_examples && example_kinds_[kind]++ < 2) {
    examples_.push_back(fmt::format("{}: {}", kind, std::move(example)));
  }
}

std::string Analysis::Elements(const std::vector<int64_t>& list) const {
  // Long lists are cut to their tail: the end of a read is what the edges are about.
  constexpr size_t kShown = 6;
  std::string s = "[";
  size_t start = list.size() > kShown ? list.size() - kShown : 0;
  if (start > 0) s += "...";
  for (size_t i = start; i < list.size(); ++i) {
    s += fmt::format("{}{}", s.size() > 1 ? " " : "", list[i]);
  }
  return s + "]";
}

// A transaction's micro-op positions grouped by key, in op order within each key: (key, op
// position), sorted. Per-transaction scratch, reused (thread_local), so that the millions of
// small transactions of a large history cost no allocations; a transaction of many keys (a
// final read of every key) costs n log n, never a scan of its ops per op.
using ByKey = std::vector<std::pair<int64_t, uint32_t>>;
const ByKey& GroupByKey(const std::vector<MicroOp>& ops) {
  thread_local ByKey by_key;
  by_key.clear();
  for (uint32_t i = 0; i < ops.size(); ++i) by_key.emplace_back(ops[i].key, i);
  std::sort(by_key.begin(), by_key.end());
  return by_key;
}
// Calls fn(begin, end) for each key's run [begin, end) of `by_key`.
template <typename Fn>
void ForEachKeyRun(const ByKey& by_key, Fn&& fn) {
  for (size_t g = 0; g < by_key.size();) {
    size_t h = g + 1;
    while (h < by_key.size() && by_key[h].first == by_key[g].first) ++h;
    fn(g, h);
    g = h;
  }
}

// The transaction's last written (or appended) value of each key it writes, sorted by key.
class LastWrites {
 public:
  const int64_t* Find(int64_t key) const {
    auto it = std::lower_bound(last_.begin(), last_.end(), key,
                               [](const auto& p, int64_t k) { return p.first < k; });
    return it != last_.end() && it->first == key ? &it->second : nullptr;
  }
  std::vector<std::pair<int64_t, int64_t>> last_;
};

// A read is external when its transaction has not yet written the key: only those say what
// other transactions did (later reads are checked by CheckInternal); of several, the first.
// `fn(read, last_write)` gets each external known read, in op order, with the transaction's last
// writes, computed once.
template <typename Fn>
void ForEachExternalRead(const Txn& txn, Fn&& fn) {
  thread_local LastWrites last_write;
  thread_local std::vector<uint8_t> external;
  const auto& ops = txn.ops;
  const ByKey& by_key = GroupByKey(ops);
  last_write.last_.clear();
  external.assign(ops.size(), 0);
  ForEachKeyRun(by_key, [&](size_t g, size_t h) {
    bool written = false, read = false;
    const MicroOp* last = nullptr;
    for (size_t j = g; j < h; ++j) {
      const uint32_t i = by_key[j].second;
      const MicroOp& m = ops[i];
      if (m.kind != MicroOpKind::kRead) {
        written = true;
        last = &m;
        continue;
      }
      if (!m.known || written || read) continue;
      read = true;
      external[i] = 1;
    }
    if (last != nullptr) last_write.last_.emplace_back(by_key[g].first, last->value);
  });
  for (uint32_t i = 0; i < ops.size(); ++i) {
    if (external[i]) fn(ops[i], last_write);
  }
}

void Analysis::IndexWrites() {
  const MicroOpKind write_kind =
      options_.model == TxnModel::kListAppend ? MicroOpKind::kAppend : MicroOpKind::kWrite;
  std::unordered_set<KeyValue, KeyValueHash> dup_reported;
  size_t writes = 0;
  for (const Txn& txn : txns_) writes += txn.ops.size();
  writers_.reserve(writes);  // at most one entry per micro-op: no rehashing on large histories
  for (uint32_t t = 0; t < txns_.size(); ++t) {
    const auto& ops = txns_[t].ops;
    const ByKey& by_key = GroupByKey(ops);
    // Key by key, from the end, so the first write seen of each key is the transaction's final
    // one.
    for (size_t j = by_key.size(); j-- > 0;) {
      const MicroOp& m = ops[by_key[j].second];
      if (m.kind == MicroOpKind::kRead) continue;
      if (m.kind != write_kind) continue;  // a :w in list-append (or :append in rw-register)
      bool final_write = true;
      for (size_t k = j + 1; k < by_key.size() && by_key[k].first == m.key; ++k) {
        if (ops[by_key[k].second].kind == write_kind) {
          final_write = false;
          break;
        }
      }
      auto [it, inserted] = writers_.try_emplace(KeyValue{m.key, m.value},
                                                 Writer{.txn = t, .final_write = final_write});
      if (!inserted && it->second.txn != t && dup_reported.insert({m.key, m.value}).second) {
        Report("duplicate-writes",
               fmt::format("{} and {} both wrote {} to key {}; reads of it are not used",
                           T(it->second.txn), T(t), m.value, m.key));
      }
    }
  }
  for (const auto& kv : dup_reported) writers_[kv].txn = kNoTxn;  // ambiguous: infer nothing
}

void Analysis::CheckInternal() {
  // A transaction's reads must agree with what it read and wrote before, key by key.
  for (uint32_t t = 0; t < txns_.size(); ++t) {
    if (txns_[t].type != OpType::kOk) continue;
    // Key by key; a key the transaction touches once has nothing to disagree with.
    const auto& ops = txns_[t].ops;
    const ByKey& by_key = GroupByKey(ops);
    thread_local InternalState s;
    ForEachKeyRun(by_key, [&](size_t g, size_t h) {
      if (h - g < 2) return;
      s.known = false;
      s.list.clear();
      s.nil = true;
      s.value = 0;
      s.own.clear();
      for (size_t j = g; j < h; ++j) CheckInternalStep(t, ops[by_key[j].second], s);
    });
  }
}

void Analysis::CheckInternalStep(uint32_t t, const MicroOp& m, InternalState& s) {
  if (m.kind == MicroOpKind::kAppend) {
    if (s.known) s.list.push_back(m.value);
    s.own.push_back(m.value);
    return;
  }
  if (m.kind == MicroOpKind::kWrite) {
    s.known = true;
    s.nil = false;
    s.value = m.value;
    return;
  }
  if (!m.known) return;
  if (options_.model == TxnModel::kListAppend) {
    bool ok;
    if (s.known) {
      ok = m.list == s.list;
    } else {
      ok = m.list.size() >= s.own.size() &&
           std::equal(s.own.begin(), s.own.end(), m.list.end() - s.own.size());
    }
    if (!ok) {
      Report("internal",
             fmt::format("{} read key {} as {}, but its own earlier {} {}", T(t), m.key,
                         Elements(m.list), s.known ? "read and appends give" : "appends are",
                         Elements(s.known ? s.list : s.own)));
    }
    s.known = true;
    s.list = m.list;
  } else {
    if (s.known && (m.nil != s.nil || (!m.nil && m.value != s.value))) {
      Report("internal", fmt::format("{} read {} of key {}, but it had {} {} before", T(t),
                                     m.nil ? "nil" : fmt::format("{}", m.value), m.key,
                                     s.nil ? "read" : "read or written",
                                     s.nil ? "nil" : fmt::format("{}", s.value)));
    }
    s.known = true;
    s.nil = m.nil;
    s.value = m.value;
  }
}

void Analysis::CheckElements(uint32_t t, const MicroOp& m) {
  std::unordered_set<int64_t> seen;
  for (int64_t e : m.list) {
    if (!seen.insert(e).second) {
      Report("duplicate-elements", fmt::format("{} read key {} as {}, holding {} twice", T(t),
                                               m.key, Elements(m.list), e));
      break;
    }
  }
  // Every element read must have been appended, and not by a failed transaction.
  for (int64_t e : m.list) {
    auto it = writers_.find({m.key, e});
    if (it == writers_.end()) {
      Report("garbage-read", fmt::format("{} read key {} as {}, but no transaction appended {}",
                                         T(t), m.key, Elements(m.list), e));
    } else if (it->second.txn != kNoTxn && txns_[it->second.txn].type == OpType::kFail) {
      Report("G1a", fmt::format("{} read key {} as {}, holding {}, appended by {}, which failed",
                                T(t), m.key, Elements(m.list), e, T(it->second.txn)));
    }
  }
}

void Analysis::InferListAppend() {
  // The longest read of each key, among committed transactions' reads.
  struct KeyInfo {
    const std::vector<int64_t>* longest = nullptr;
    const MicroOp* longest_op = nullptr;
    uint32_t longest_txn = kNoTxn;
    bool incompatible = false;
  };
  std::unordered_map<int64_t, KeyInfo> keys;
  for (uint32_t t = 0; t < txns_.size(); ++t) {
    if (txns_[t].type != OpType::kOk) continue;
    for (const MicroOp& m : txns_[t].ops) {
      if (m.kind != MicroOpKind::kRead || !m.known) continue;
      KeyInfo& k = keys[m.key];
      if (k.longest == nullptr || m.list.size() > k.longest->size()) {
        k.longest = &m.list;
        k.longest_op = &m;
        k.longest_txn = t;
      }
    }
  }
  keys_ = keys.size();
  for (uint32_t t = 0; t < txns_.size(); ++t) {
    if (txns_[t].type != OpType::kOk) continue;
    for (const MicroOp& m : txns_[t].ops) {
      if (m.kind != MicroOpKind::kRead || !m.known) continue;
      KeyInfo& k = keys[m.key];
      if (!std::equal(m.list.begin(), m.list.end(), k.longest->begin())) {
        if (!k.incompatible) {
          Report("incompatible-order",
                 fmt::format("{} read key {} as {}, which is not a prefix of {}, read by another "
                             "transaction",
                             T(t), m.key, Elements(m.list), Elements(*k.longest)));
        }
        k.incompatible = true;
      }
      // A read that is a prefix of the longest holds nothing the longest does not: only the
      // longest (below) and the incompatible reads need their elements checked.
      if (k.incompatible && &m.list != k.longest) CheckElements(t, m);
      if (!m.list.empty()) {
        auto it = writers_.find({m.key, m.list.back()});
        if (it != writers_.end() && it->second.txn != kNoTxn && it->second.txn != t &&
            !it->second.final_write) {
          Report("G1b",
                 fmt::format("{} read key {} as {}, ending in {}, which {} appended before "
                             "appending more to the key",
                             T(t), m.key, Elements(m.list), m.list.back(), T(it->second.txn)));
        }
      }
    }
  }
  for (auto& [key, k] : keys) CheckElements(k.longest_txn, *k.longest_op);
  // Edges, key by key, from each version order.
  for (auto& [key, k] : keys) {
    if (k.incompatible) continue;
    const std::vector<int64_t>& order = *k.longest;
    std::vector<uint32_t> writer(order.size(), kNoTxn);
    bool failed_seen = false, dirty_reported = false;
    for (size_t i = 0; i < order.size(); ++i) {
      auto it = writers_.find({key, order[i]});
      if (it == writers_.end()) continue;
      it->second.position = static_cast<int32_t>(i);
      writer[i] = it->second.txn;
      if (writer[i] == kNoTxn) continue;
      if (txns_[writer[i]].type == OpType::kFail) {
        failed_seen = true;
      } else if (failed_seen && !dirty_reported) {
        dirty_reported = true;
        Report("dirty-update",
               fmt::format("key {} holds {}: {} appended {} after an element of a failed "
                           "transaction",
                           key, Elements(order), T(writer[i]), order[i]));
      }
      if (i > 0 && writer[i - 1] != kNoTxn) {
        AddEdge(writer[i - 1], writer[i], kWW, key, order[i - 1], order[i]);
      }
    }
    (void)writer;
  }
  // Committed appends that no read observed: their order cannot be inferred.
  for (const auto& [kv, w] : writers_) {
    if (w.txn != kNoTxn && txns_[w.txn].type == OpType::kOk && w.position < 0) ++unobserved_;
  }
  // wr and rw edges from external reads; lost updates.
  std::map<std::pair<int64_t, int64_t>, std::vector<uint32_t>> read_then_write;  // (key, len)
  for (uint32_t t = 0; t < txns_.size(); ++t) {
    if (txns_[t].type != OpType::kOk) continue;
    ForEachExternalRead(txns_[t], [&](const MicroOp& m, const LastWrites& last_write) {
      const KeyInfo& k = keys[m.key];
      if (k.incompatible) return;
      const std::vector<int64_t>& order = *k.longest;
      const size_t n = m.list.size();
      if (n > 0) {
        auto it = writers_.find({m.key, m.list.back()});
        if (it != writers_.end() && it->second.txn != kNoTxn) {
          AddEdge(it->second.txn, t, kWR, m.key, m.list.back(), 0);
        }
      }
      if (n < order.size()) {
        auto it = writers_.find({m.key, order[n]});
        if (it != writers_.end() && it->second.txn != kNoTxn) {
          AddEdge(t, it->second.txn, kRW, m.key, n > 0 ? m.list.back() : 0, order[n], n == 0);
        }
      }
      if (last_write.Find(m.key) != nullptr) {
        read_then_write[{m.key, static_cast<int64_t>(n)}].push_back(t);
      }
    });
  }
  for (const auto& [kl, ts] : read_then_write) {
    if (ts.size() < 2) continue;
    const auto& order = *keys[kl.first].longest;
    std::string version =
        kl.second == 0 ? std::string("[]") : fmt::format("ending in {}", order[kl.second - 1]);
    Report("lost-update", fmt::format("{} and {} both read key {} {} and both appended to it",
                                      T(ts[0]), T(ts[1]), kl.first, version));
  }
}

void Analysis::InferRwRegister() {
  // Per key: the version graph over final written values (writes follow reads), nil first.
  struct KeyInfo {
    std::map<int64_t, std::set<int64_t>> next;  // value -> values known to follow it directly
    std::set<int64_t> has_pred;
    std::set<int64_t> values;  // final writes of non-failed transactions
  };
  std::map<int64_t, KeyInfo> keys;
  for (const auto& [kv, w] : writers_) {
    if (w.txn != kNoTxn && w.final_write && txns_[w.txn].type != OpType::kFail) {
      keys[kv.key].values.insert(kv.value);
    }
  }
  std::map<std::pair<int64_t, std::pair<bool, int64_t>>, std::vector<uint32_t>> read_then_write;
  for (uint32_t t = 0; t < txns_.size(); ++t) {
    if (txns_[t].type != OpType::kOk) continue;
    const Txn& txn = txns_[t];
    // Garbage, aborted and intermediate reads; external reads give wr edges and versions.
    for (const MicroOp& m : txn.ops) {
      if (m.kind != MicroOpKind::kRead || !m.known || m.nil) continue;
      auto it = writers_.find({m.key, m.value});
      if (it == writers_.end()) {
        Report("garbage-read", fmt::format("{} read {} of key {}, which no transaction wrote", T(t),
                                           m.value, m.key));
      } else if (it->second.txn == kNoTxn || it->second.txn == t) {
        continue;
      } else if (txns_[it->second.txn].type == OpType::kFail) {
        Report("G1a", fmt::format("{} read {} of key {}, written by {}, which failed", T(t),
                                  m.value, m.key, T(it->second.txn)));
      } else if (!it->second.final_write) {
        Report("G1b", fmt::format("{} read {} of key {}, which {} overwrote within its own "
                                  "transaction",
                                  T(t), m.value, m.key, T(it->second.txn)));
      }
    }
    ForEachExternalRead(txn, [&](const MicroOp& m, const LastWrites& last_write) {
      // Writes follow reads: this transaction's final write to the key follows what it read.
      const int64_t* found = last_write.Find(m.key);
      if (found == nullptr) return;
      const std::optional<int64_t> last = *found;
      read_then_write[{m.key, {m.nil, m.nil ? 0 : m.value}}].push_back(t);
      if (!m.nil) {
        keys[m.key].next[m.value].insert(*last);
        keys[m.key].has_pred.insert(*last);
      }
    });
  }
  // Where committed writers carry the database's revision (etcd: the mod_revision of what they
  // wrote), it orders each key's versions outright: consecutive revisions give the order.
  std::map<int64_t, std::vector<std::pair<int64_t, int64_t>>> by_revision;  // key -> (rev, value)
  for (const auto& [kv, w] : writers_) {
    if (w.txn == kNoTxn || !w.final_write || !txns_[w.txn].revision) continue;
    by_revision[kv.key].emplace_back(*txns_[w.txn].revision, kv.value);
  }
  // A read that carries the version it saw (etcd's mod_revision) names that value's revision too,
  // also when its writer ended info (and so has no revision of its own).
  for (uint32_t t = 0; t < txns_.size(); ++t) {
    const Txn& txn = txns_[t];
    if (txn.type != OpType::kOk || txn.read_revisions.empty()) continue;
    ForEachExternalRead(txn, [&](const MicroOp& m, const LastWrites&) {
      if (m.nil) return;
      for (const auto& [key, rev] : txn.read_revisions) {
        if (key != m.key || rev <= 0) continue;
        auto it = writers_.find({m.key, m.value});
        if (it != writers_.end() && it->second.final_write) {
          by_revision[key].emplace_back(rev, m.value);
        }
      }
    });
  }
  for (auto& [key, versions] : by_revision) {
    std::sort(versions.begin(), versions.end());
    versions.erase(std::unique(versions.begin(), versions.end()), versions.end());
    for (size_t i = 1; i < versions.size(); ++i) {
      if (versions[i].first == versions[i - 1].first) continue;  // same revision: no order
      keys[key].next[versions[i - 1].second].insert(versions[i].second);
      keys[key].has_pred.insert(versions[i].second);
    }
    revision_ordered_ += versions.size();
  }
  keys_ = keys.size();
  // Cycles among versions make the order meaningless: report and skip the key.
  std::set<int64_t> cyclic;
  for (auto& [key, k] : keys) {
    std::map<int64_t, int> color;
    std::function<bool(int64_t)> dfs = [&](int64_t v) {
      color[v] = 1;
      for (int64_t w : k.next[v]) {
        if (color[w] == 1 || (color[w] == 0 && dfs(w))) return true;
      }
      color[v] = 2;
      return false;
    };
    for (const auto& [v, _] : k.next) {
      if (color[v] == 0 && dfs(v)) {
        cyclic.insert(key);
        Report("cyclic-versions",
               fmt::format("key {}: writes-follow-reads and revisions order its values in a cycle",
                           key));
        break;
      }
    }
  }
  auto writer_of = [&](int64_t key, int64_t v) -> uint32_t {
    auto it = writers_.find({key, v});
    return it == writers_.end() ? kNoTxn : it->second.txn;
  };
  for (auto& [key, k] : keys) {
    if (cyclic.count(key)) continue;
    for (const auto& [x, ys] : k.next) {
      for (int64_t y : ys) AddEdge(writer_of(key, x), writer_of(key, y), kWW, key, x, y);
    }
    size_t observed = 0;
    for (int64_t v : k.values) observed += k.has_pred.count(v) || k.next.count(v) ? 1 : 0;
    unobserved_ += k.values.size() - observed;
  }
  for (uint32_t t = 0; t < txns_.size(); ++t) {
    if (txns_[t].type != OpType::kOk) continue;
    ForEachExternalRead(txns_[t], [&](const MicroOp& m, const LastWrites&) {
      if (cyclic.count(m.key)) return;
      KeyInfo& k = keys[m.key];
      if (m.nil) {
        // The initial state precedes every write: rw to the first writes (the others follow
        // them through ww edges).
        for (int64_t y : k.values) {
          if (!k.has_pred.count(y)) AddEdge(t, writer_of(m.key, y), kRW, m.key, 0, y, true);
        }
        return;
      }
      AddEdge(writer_of(m.key, m.value), t, kWR, m.key, m.value, 0);
      auto it = k.next.find(m.value);
      if (it == k.next.end()) return;
      for (int64_t y : it->second) AddEdge(t, writer_of(m.key, y), kRW, m.key, m.value, y);
    });
  }
  for (const auto& [kr, ts] : read_then_write) {
    if (ts.size() < 2) continue;
    Report("lost-update",
           fmt::format("{} and {} both read {} of key {} and both wrote it", T(ts[0]), T(ts[1]),
                       kr.second.first ? "nil" : fmt::format("{}", kr.second.second), kr.first));
  }
}

void Analysis::AddOrderEdges() {
  // Process order: a process's transactions, one after another.
  std::unordered_map<int64_t, uint32_t> last_of_process;
  // Real time: t1 < t2 when t1 completed before t2 was invoked. Only a frontier of the latest
  // completions gets direct edges; older ones reach t2 through them, so edges stay few.
  struct Event {
    size_t position;
    uint32_t txn;
    bool invoke;
  };
  std::vector<Event> events;
  for (uint32_t t = 0; t < txns_.size(); ++t) {
    if (!IsNode(t) || txns_[t].invoke == history::History::kNone) continue;
    events.push_back({txns_[t].invoke, t, true});
    if (txns_[t].type == OpType::kOk) events.push_back({txns_[t].complete, t, false});
  }
  std::sort(events.begin(), events.end(),
            [](const Event& a, const Event& b) { return a.position < b.position; });
  std::vector<uint32_t> frontier;
  std::unordered_map<uint32_t, std::vector<uint32_t>> preds;
  for (const Event& e : events) {
    const Txn& txn = txns_[e.txn];
    if (e.invoke) {
      if (txn.process.is_client() && !txn.process.is_none()) {
        auto it = last_of_process.find(txn.process.number);
        if (it != last_of_process.end()) AddEdge(it->second, e.txn, kProc, 0, 0, 0);
        last_of_process[txn.process.number] = e.txn;
      }
      for (uint32_t f : frontier) AddEdge(f, e.txn, kRT, 0, 0, 0);
      if (txn.type == OpType::kOk) preds[e.txn] = frontier;
    } else {
      auto it = preds.find(e.txn);
      std::vector<uint32_t> before = std::move(it->second);
      preds.erase(it);
      std::sort(before.begin(), before.end());
      std::erase_if(frontier, [&](uint32_t f) {
        return std::binary_search(before.begin(), before.end(), f);
      });
      frontier.push_back(e.txn);
    }
  }
}

void Analysis::BuildGraph() {
  const size_t n = txns_.size();
  csr_start_.assign(n + 1, 0);
  for (const Edge& e : edges_) ++csr_start_[e.from + 1];
  for (size_t i = 0; i < n; ++i) csr_start_[i + 1] += csr_start_[i];
  csr_edges_.assign(edges_.size(), 0);
  std::vector<uint32_t> fill(csr_start_.begin(), csr_start_.end() - 1);
  for (uint32_t i = 0; i < edges_.size(); ++i) csr_edges_[fill[edges_[i].from]++] = i;
}

std::vector<std::vector<uint32_t>> Analysis::Components(uint8_t mask,
                                                        const std::vector<uint32_t>* only,
                                                        const std::vector<int32_t>* comp,
                                                        int32_t id) {
  // Iterative Tarjan over the edges whose kind is in `mask`, restricted to nodes with
  // (*comp)[n] == id when `comp` is given. Returns the components of two or more nodes.
  const size_t n = txns_.size();
  auto allowed = [&](uint32_t v) { return comp == nullptr || (*comp)[v] == id; };
  std::vector<int32_t> index(n, -1), low(n, 0);
  std::vector<bool> on_stack(n, false);
  std::vector<uint32_t> stack;
  std::vector<std::pair<uint32_t, uint32_t>> call;  // node, next edge offset
  std::vector<std::vector<uint32_t>> out;
  int32_t counter = 0;
  auto visit_roots = [&](uint32_t root) {
    if (index[root] >= 0 || !allowed(root)) return;
    call.push_back({root, csr_start_[root]});
    index[root] = low[root] = counter++;
    stack.push_back(root);
    on_stack[root] = true;
    while (!call.empty()) {
      auto& [v, next] = call.back();
      if (next < csr_start_[v + 1]) {
        const Edge& e = edges_[csr_edges_[next++]];
        if (!(e.kind & mask) || !allowed(e.to)) continue;
        const uint32_t w = e.to;
        if (index[w] < 0) {
          index[w] = low[w] = counter++;
          stack.push_back(w);
          on_stack[w] = true;
          call.push_back({w, csr_start_[w]});
        } else if (on_stack[w]) {
          low[v] = std::min(low[v], index[w]);
        }
        continue;
      }
      const uint32_t done = v;
      call.pop_back();
      if (!call.empty()) low[call.back().first] = std::min(low[call.back().first], low[done]);
      if (low[done] == index[done]) {
        std::vector<uint32_t> c;
        uint32_t w;
        do {
          w = stack.back();
          stack.pop_back();
          on_stack[w] = false;
          c.push_back(w);
        } while (w != done);
        if (c.size() > 1) out.push_back(std::move(c));
      }
    }
  };
  if (only != nullptr) {
    for (uint32_t v : *only) visit_roots(v);
  } else {
    for (uint32_t v = 0; v < n; ++v) visit_roots(v);
  }
  return out;
}

bool Analysis::ShortestPath(uint32_t from, uint32_t to, uint8_t mask,
                            const std::vector<int32_t>& comp, int32_t id,
                            std::vector<uint32_t>& path_edges) {
  // Breadth-first over `mask` edges inside the component; the path as edge ids, from first.
  std::unordered_map<uint32_t, uint32_t> via;  // node -> edge that reached it
  std::deque<uint32_t> queue{from};
  via[from] = UINT32_MAX;
  while (!queue.empty()) {
    const uint32_t v = queue.front();
    queue.pop_front();
    if (++budget_used_ > options_.search_budget) return false;
    for (uint32_t i = csr_start_[v]; i < csr_start_[v + 1]; ++i) {
      const Edge& e = edges_[csr_edges_[i]];
      if (!(e.kind & mask) || comp[e.to] != id || via.count(e.to)) continue;
      via[e.to] = csr_edges_[i];
      if (e.to == to) {
        path_edges.clear();
        for (uint32_t n = to; n != from || path_edges.empty();) {
          const uint32_t ei = via[n];
          path_edges.push_back(ei);
          n = edges_[ei].from;
          if (n == from) break;
        }
        std::reverse(path_edges.begin(), path_edges.end());
        return true;
      }
      queue.push_back(e.to);
    }
  }
  return false;
}

bool Analysis::NonAdjacentPath(uint32_t from, uint32_t to, uint8_t extra,
                               const std::vector<int32_t>& comp, int32_t id,
                               std::vector<uint32_t>& path_edges) {
  // States (node, whether the edge into it was rw). Starts right after an rw edge into `from`;
  // an rw edge may not follow an rw edge, and `to` must be reached by a non-rw edge (the cycle
  // continues with the rw edge out of `to`).
  const uint8_t plain = kWW | kWR | extra;
  struct Step {
    uint32_t edge;
    uint64_t prev;
  };
  std::unordered_map<uint64_t, Step> via;
  auto key = [](uint32_t n, bool rw) { return (static_cast<uint64_t>(n) << 1) | (rw ? 1 : 0); };
  const uint64_t start = key(from, true);
  std::deque<uint64_t> queue{start};
  via[start] = Step{UINT32_MAX, start};
  while (!queue.empty()) {
    const uint64_t s = queue.front();
    queue.pop_front();
    if (++budget_used_ > options_.search_budget) return false;
    const uint32_t v = static_cast<uint32_t>(s >> 1);
    const bool last_rw = s & 1;
    for (uint32_t i = csr_start_[v]; i < csr_start_[v + 1]; ++i) {
      const Edge& e = edges_[csr_edges_[i]];
      if (comp[e.to] != id) continue;
      const bool rw = e.kind == kRW;
      if (!rw && !(e.kind & plain)) continue;
      if (rw && last_rw) continue;
      const uint64_t next = key(e.to, rw);
      if (via.count(next)) continue;
      via[next] = Step{csr_edges_[i], s};
      if (e.to == to && !rw) {
        path_edges.clear();
        for (uint64_t st = next; st != start; st = via[st].prev) path_edges.push_back(via[st].edge);
        std::reverse(path_edges.begin(), path_edges.end());
        return true;
      }
      queue.push_back(next);
    }
  }
  return false;
}

void Analysis::ReportCycle(std::string kind, const std::vector<uint32_t>& found) {
  // Start the cycle at its earliest transaction so that the same cycle always reads the same.
  std::vector<uint32_t> cycle = found;
  auto earliest = std::min_element(cycle.begin(), cycle.end(), [&](uint32_t a, uint32_t b) {
    return edges_[a].from < edges_[b].from;
  });
  std::rotate(cycle.begin(), earliest, cycle.end());
  std::string order;
  for (uint32_t ei : cycle) order += T(edges_[ei].from) + " < ";
  order += T(edges_[cycle.front()].from);
  std::string why;
  for (uint32_t ei : cycle) why += (why.empty() ? "" : "; ") + ExplainEdge(edges_[ei]);
  Report(kind, fmt::format("{}; hence {}", why, order));
}

bool Analysis::ClassifyComponent(const std::vector<uint32_t>& nodes, uint8_t extra,
                                 std::string_view suffix, std::vector<int32_t>& comp, int32_t id) {
  // Kinds from the weakest prohibition up; the first found names the component. At a level with
  // extra (process or real-time) edges, a cycle that needs none of them was reported below.
  auto uses_extra = [&](const std::vector<uint32_t>& cyc) {
    if (extra == 0) return true;
    for (uint32_t ei : cyc) {
      if (edges_[ei].kind & extra) return true;
    }
    return false;
  };
  std::vector<uint32_t> cycle;
  // G0, then G1c: a component of the ww (then ww+wr) edges; its shortest cycle through a node.
  for (int k = 0; k < 2; ++k) {
    const uint8_t mask = (k == 0 ? kWW : kWW | kWR) | extra;
    auto subs = Components(mask, &nodes, &comp, id);
    if (subs.empty()) continue;
    std::vector<int32_t> sub_comp(txns_.size(), -1);
    for (uint32_t v : subs[0]) sub_comp[v] = 0;
    const uint32_t start = subs[0][0];
    // Shortest cycle through `start`: a path from one of its successors back to it.
    for (uint32_t i = csr_start_[start]; i < csr_start_[start + 1]; ++i) {
      const Edge& e = edges_[csr_edges_[i]];
      if (!(e.kind & mask) || sub_comp[e.to] != 0) continue;
      std::vector<uint32_t> rest;
      if (!ShortestPath(e.to, start, mask, sub_comp, 0, rest)) {
        if (budget_used_ > options_.search_budget) return false;
        continue;
      }
      cycle = {csr_edges_[i]};
      cycle.insert(cycle.end(), rest.begin(), rest.end());
      break;
    }
    if (cycle.empty()) return budget_used_ <= options_.search_budget;
    if (!uses_extra(cycle)) return true;
    bool has_wr = false;
    for (uint32_t ei : cycle) has_wr |= edges_[ei].kind == kWR;
    ReportCycle(std::string(has_wr ? "G1c" : "G0") + std::string(suffix), cycle);
    return true;
  }
  // The rw edges inside the component.
  std::vector<uint32_t> rws;
  for (uint32_t v : nodes) {
    for (uint32_t i = csr_start_[v]; i < csr_start_[v + 1]; ++i) {
      const Edge& e = edges_[csr_edges_[i]];
      if (e.kind == kRW && comp[e.to] == id) rws.push_back(csr_edges_[i]);
    }
  }
  // Then, for each rw edge u -> v, a path v ~> u that closes a cycle of the kind: G-single with
  // ww/wr (and extra) edges alone, G-nonadjacent with no two rw edges adjacent, G2-item with any.
  enum class Closing { kPlain, kNonAdjacent, kAny };
  const std::pair<Closing, std::string_view> kinds[] = {{Closing::kPlain, "G-single"},
                                                        {Closing::kNonAdjacent, "G-nonadjacent"},
                                                        {Closing::kAny, "G2-item"}};
  for (const auto& [closing, name] : kinds) {
    for (uint32_t ri : rws) {
      std::vector<uint32_t> rest;
      const uint32_t from = edges_[ri].to, to = edges_[ri].from;
      const bool found =
          closing == Closing::kNonAdjacent
              ? NonAdjacentPath(from, to, extra, comp, id, rest)
              : ShortestPath(from, to, kWW | kWR | extra | (closing == Closing::kAny ? kRW : 0),
                             comp, id, rest);
      if (!found) {
        if (budget_used_ > options_.search_budget) return false;
        continue;
      }
      cycle = {ri};
      cycle.insert(cycle.end(), rest.begin(), rest.end());
      if (uses_extra(cycle)) ReportCycle(std::string(name) + std::string(suffix), cycle);
      return true;
    }
  }
  return true;
}

void Analysis::FindCycles() {
  struct Level {
    uint8_t extra;
    std::string_view suffix;
    bool wanted;
  };
  const Consistency c = options_.consistency;
  const bool process = c == Consistency::kStrongSessionSnapshotIsolation ||
                       c == Consistency::kStrongSessionSerializable ||
                       c == Consistency::kStrictSerializable;
  const Level levels[] = {{0, "", true},
                          {kProc, "-process", process},
                          {kProc | kRT, "-realtime", c == Consistency::kStrictSerializable}};
  // Each level's edges include the one's below, so a graph without a cycle at the highest level
  // wanted has none below either: one pass decides a valid history.
  for (auto it = std::rbegin(levels); it != std::rend(levels); ++it) {
    if (!it->wanted) continue;
    if (Components(kWW | kWR | kRW | it->extra, nullptr, nullptr, 0).empty()) return;
    break;
  }
  std::vector<int32_t> comp(txns_.size(), -1);
  for (const Level& level : levels) {
    if (!level.wanted) continue;
    auto comps = Components(kWW | kWR | kRW | level.extra, nullptr, nullptr, 0);
    for (size_t ci = 0; ci < comps.size(); ++ci) {
      std::fill(comp.begin(), comp.end(), -1);
      for (uint32_t v : comps[ci]) comp[v] = static_cast<int32_t>(ci);
      if (!ClassifyComponent(comps[ci], level.extra, level.suffix, comp,
                             static_cast<int32_t>(ci))) {
        unclassified_ = true;
        ++counts_["cycle-unclassified"];
      }
    }
  }
}

std::string Analysis::ExplainEdge(const Edge& e) const {
  const bool list = options_.model == TxnModel::kListAppend;
  const Why w = e.why == kNoWhy ? Why{} : whys_[e.why];
  switch (e.kind) {
    case kWW:
      return list ? fmt::format(
                        "{} appended {} to key {} and {} appended {} right after it, so "
                        "{} < {} (ww)",
                        T(e.from), w.a, w.key, T(e.to), w.b, T(e.from), T(e.to))
                  : fmt::format(
                        "{} wrote {} to key {} and {} wrote {} over it (it read {} first, or "
                        "the database's revisions say so), so {} < {} (ww)",
                        T(e.from), w.a, w.key, T(e.to), w.b, w.a, T(e.from), T(e.to));
    case kWR:
      return list ? fmt::format("{} read key {} ending in {}, which {} appended, so {} < {} (wr)",
                                T(e.to), w.key, w.a, T(e.from), T(e.from), T(e.to))
                  : fmt::format("{} read {} of key {}, which {} wrote, so {} < {} (wr)", T(e.to),
                                w.a, w.key, T(e.from), T(e.from), T(e.to));
    case kRW: {
      std::string read =
          e.a_nil ? (list ? "as []" : "as nil")
                  : (list ? fmt::format("ending in {}", w.a) : fmt::format("as {}", w.a));
      return list ? fmt::format(
                        "{} read key {} {} and {} appended {} right after that, so {} < "
                        "{} (rw)",
                        T(e.from), w.key, read, T(e.to), w.b, T(e.from), T(e.to))
                  : fmt::format(
                        "{} read key {} {} and {} wrote {} after that version, so {} < "
                        "{} (rw)",
                        T(e.from), w.key, read, T(e.to), w.b, T(e.from), T(e.to));
    }
    case kProc:
      return fmt::format("{} ran after {} on process {}, so {} < {} (process)", T(e.to), T(e.from),
                         txns_[e.to].process.ToString(), T(e.from), T(e.to));
    case kRT:
      return fmt::format("{} completed before {} was invoked, so {} < {} (realtime)", T(e.from),
                         T(e.to), T(e.from), T(e.to));
  }
  return "?";
}

Verdict Analysis::Run() {
  IndexWrites();
  CheckInternal();
  if (options_.model == TxnModel::kListAppend) {
    InferListAppend();
  } else {
    InferRwRegister();
  }
  AddOrderEdges();
  BuildGraph();
  FindCycles();

  const auto& forbidden = ForbiddenAnomalies(options_.consistency);
  std::vector<std::string> found_forbidden, found_allowed;
  for (const auto& [kind, n] : counts_) {
    if (kind == "cycle-unclassified" || kind == "duplicate-writes") continue;
    (forbidden.count(kind) ? found_forbidden : found_allowed).push_back(kind);
  }
  Verdict v;
  v.name = std::string(TxnModelName(options_.model));
  v.anomalies = counts_;
  v.examples = examples_;
  size_t committed = 0;
  for (const Txn& t : txns_) committed += t.type == OpType::kOk ? 1 : 0;
  const std::string_view model = ConsistencyName(options_.consistency);
  if (!found_forbidden.empty()) {
    v.validity = Validity::kInvalid;
    v.summary = fmt::format("not {}: {}", model, fmt::join(found_forbidden, ", "));
  } else if (unclassified_) {
    // A cycle exists but its kind was not found within the budget: only a model that forbids
    // every cycle can decide.
    v.validity = forbidden.count("G2-item") ? Validity::kInvalid : Validity::kUnknown;
    v.summary = v.validity == Validity::kInvalid
                    ? fmt::format("not {}: a dependency cycle (left unclassified)", model)
                    : fmt::format(
                          "unknown: a dependency cycle whose kind the search budget did "
                          "not decide");
  } else {
    v.summary = fmt::format("{} ({} transactions, {} committed)", model, txns_.size(), committed);
  }
  if (!found_allowed.empty()) {
    v.detail += fmt::format("found, allowed under {}: {}\n", model, fmt::join(found_allowed, ", "));
  }
  for (const std::string& e : examples_) v.detail += e + "\n";
  if (unobserved_ > 0) {
    v.detail += fmt::format(
        "{} committed write{} no read observed: {} place in the version order could not be "
        "inferred\n",
        unobserved_, unobserved_ == 1 ? "" : "s", unobserved_ == 1 ? "its" : "their");
  }
  if (revision_ordered_ > 0) {
    v.detail += fmt::format(
        "{} write{} placed in {} key's version order by the database's own "
        "revisions\n",
        revision_ordered_, revision_ordered_ == 1 ? "" : "s",
        revision_ordered_ == 1 ? "its" : "their");
  }
  size_t indeterminate = 0;
  for (const Txn& t : txns_) indeterminate += t.type == OpType::kInfo ? 1 : 0;
  nlohmann::ordered_json j;
  j["checker"] = v.name;
  j["consistency"] = model;
  j["validity"] = ValidityName(v.validity);
  j["txns"] = txns_.size();
  j["committed"] = committed;
  j["indeterminate"] = indeterminate;
  j["keys"] = keys_;
  j["edges"] = edges_.size();
  j["unobserved_writes"] = unobserved_;
  j["revision_ordered_writes"] = revision_ordered_;
  j["anomalies"] = nlohmann::ordered_json::object();
  for (const auto& [kind, n] : counts_) j["anomalies"][kind] = n;
  j["forbidden_found"] = found_forbidden;
  j["allowed_found"] = found_allowed;
  j["examples"] = examples_;
  v.json = j.dump();
  return v;
}

}  // namespace

std::string_view TxnModelName(TxnModel model) {
  return model == TxnModel::kListAppend ? "list-append" : "rw-register";
}

Result<TxnModel> ParseTxnModel(std::string_view name) {
  if (name == "list-append") return TxnModel::kListAppend;
  if (name == "rw-register") return TxnModel::kRwRegister;
  return MakeError(ErrorCode::kInvalidArgument,
                   fmt::format("unknown transactional model \"{}\" (expected list-append or "
                               "rw-register)",
                               name));
}

std::vector<Consistency> AllConsistencies() {
  return {Consistency::kReadCommitted,
          Consistency::kSnapshotIsolation,
          Consistency::kStrongSessionSnapshotIsolation,
          Consistency::kSerializable,
          Consistency::kStrongSessionSerializable,
          Consistency::kStrictSerializable};
}

std::string_view ConsistencyName(Consistency c) {
  switch (c) {
    case Consistency::kReadCommitted:
      return "read-committed";
    case Consistency::kSnapshotIsolation:
      return "snapshot-isolation";
    case Consistency::kStrongSessionSnapshotIsolation:
      return "strong-session-snapshot-isolation";
    case Consistency::kSerializable:
      return "serializable";
    case Consistency::kStrongSessionSerializable:
      return "strong-session-serializable";
    case Consistency::kStrictSerializable:
      return "strict-serializable";
  }
  return "?";
}

Result<Consistency> ParseConsistency(std::string_view name) {
  for (Consistency c : AllConsistencies()) {
    if (ConsistencyName(c) == name) return c;
  }
  return MakeError(ErrorCode::kInvalidArgument,
                   fmt::format("unknown consistency model \"{}\" (expected read-committed, "
                               "snapshot-isolation, strong-session-snapshot-isolation, "
                               "serializable, strong-session-serializable or strict-serializable)",
                               name));
}

const std::set<std::string>& ForbiddenAnomalies(Consistency c) {
  static const auto* table = [] {
    auto* t = new std::map<Consistency, std::set<std::string>>();
    std::set<std::string> s = {"internal", "garbage-read", "duplicate-elements",
                               "incompatible-order", "cyclic-versions"};
    s.insert({"G0", "G1a", "G1b", "G1c", "dirty-update"});
    (*t)[Consistency::kReadCommitted] = s;
    s.insert({"lost-update", "G-single", "G-nonadjacent"});
    (*t)[Consistency::kSnapshotIsolation] = s;
    auto session = [](std::set<std::string> base) {
      for (std::string k : {"G0", "G1c", "G-single", "G-nonadjacent", "G2-item"}) {
        if (base.count(k)) base.insert(k + "-process");
      }
      return base;
    };
    (*t)[Consistency::kStrongSessionSnapshotIsolation] = session(s);
    s.insert("G2-item");
    (*t)[Consistency::kSerializable] = s;
    (*t)[Consistency::kStrongSessionSerializable] = session(s);
    s = session(s);
    for (std::string k : {"G0", "G1c", "G-single", "G-nonadjacent", "G2-item"}) {
      s.insert(k + "-realtime");
    }
    (*t)[Consistency::kStrictSerializable] = s;
    return t;
  }();
  return table->at(c);
}

namespace {

// The model each one strengthens, for the table's deltas.
std::optional<Consistency> Parent(Consistency c) {
  switch (c) {
    case Consistency::kReadCommitted:
      return std::nullopt;
    case Consistency::kSnapshotIsolation:
      return Consistency::kReadCommitted;
    case Consistency::kStrongSessionSnapshotIsolation:
    case Consistency::kSerializable:
      return Consistency::kSnapshotIsolation;
    case Consistency::kStrongSessionSerializable:
      return Consistency::kSerializable;
    case Consistency::kStrictSerializable:
      return Consistency::kStrongSessionSerializable;
  }
  return std::nullopt;
}

}  // namespace

std::string ConsistencyTable() {
  const std::set<std::string> always = {"internal", "garbage-read", "duplicate-elements",
                                        "incompatible-order", "cyclic-versions"};
  std::string out = fmt::format("{:<34} forbids {}\n", "every model", fmt::join(always, " "));
  for (Consistency c : AllConsistencies()) {
    const std::optional<Consistency> parent = Parent(c);
    const std::set<std::string>& base = parent ? ForbiddenAnomalies(*parent) : always;
    std::vector<std::string> added;
    for (const std::string& k : ForbiddenAnomalies(c)) {
      if (!base.count(k)) added.push_back(k);
    }
    out += fmt::format("{:<34} forbids {}{}\n", ConsistencyName(c),
                       parent ? std::string(ConsistencyName(*parent)) + " + " : "",
                       fmt::join(added, " "));
  }
  out +=
      "(so write skew, G2-item, is allowed by snapshot-isolation and forbidden by serializable; "
      "read skew, G-single, is allowed by read-committed)\n";
  return out;
}

Verdict CheckTxns(const std::vector<history::Txn>& txns, const TxnCheckOptions& options) {
  return Analysis(txns, options).Run();
}

Result<Verdict> TxnChecker::Check(const history::History& history) {
  FAULTLINE_ASSIGN_OR_RETURN(std::vector<Txn> txns, history::DecodeTxns(history));
  return CheckTxns(txns, options_);
}

bool TxnChecker::Applies(const history::History& history) const {
  for (const history::Op& op : history.ops()) {
    if (history::IsTxnOp(op)) return true;
  }
  return false;
}

}  // namespace faultline::checker
