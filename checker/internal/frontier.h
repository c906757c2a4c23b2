// The frontier search: a forward, breadth-wise alternative to the depth-first search of engine.h
// (Lowe's just-in-time linearization run as a set of configurations, like Knossos' "linear"
// algorithm), for one partition of a history.
//
// Calls and returns are walked once in real-time order. The frontier is the set of configurations
// that the linearizable prefix can be in just after the current event: (model state, which open ok
// ops are linearized already, how many of each class of info ops are used). At the return of ok op
// X every configuration is extended by linearizing pending ops until X is linearized (closure), and
// the new frontier is the set of configurations where X was just linearized: an op linearized
// after X but before X's return could as well be linearized after the return, since it is still
// open. An empty frontier at X's return proves the history is not linearizable, and X is the first
// op (by return) that cannot be linearized.
//
// Why it exists: the depth-first search must exhaust every configuration before a violation planted
// late in a long history, which with info ops is exponential; here a violation costs only the walk
// up to it. The memory is the frontier and one closure, independent of the history's length (the
// memo of the depth-first search grows with it).
//
// Reductions, all exact:
// - info ops with equal inputs are interchangeable (they never return), so a configuration keeps
//   only how many of each class it used, the earliest-invoked ones;
// - dominance: of two configurations with the same state and linearized open ok ops, one that used
//   at most as many info ops of every class can do all the other can; the other is dropped;
// - an ok read-only op that accepts the state is linearized at once, without alternatives (as in
//   engine.h);
// - an info op is never linearized where it changes nothing.
//
// Limits: at most 64 ok ops open at once and at most kMaxClasses info classes, and no grouped
// alternatives (unordered-queue info dequeues); otherwise Applies is false. A frontier or closure
// larger than kMaxConfigs ends the search with kGaveUp: the caller keeps the depth-first search.
//
// The linearization order of each configuration is kept in a shared tree of (call, parent) nodes,
// compacted when it grows, for the counterexample's prefixes.
//
// Thread-safety: a Frontier uses only its arguments; run many at once on different partitions.
#ifndef FAULTLINE_CHECKER_INTERNAL_FRONTIER_H_
#define FAULTLINE_CHECKER_INTERNAL_FRONTIER_H_

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "checker/internal/engine.h"
#include "checker/internal/flat_map.h"
#include "checker/internal/memo.h"

namespace faultline::checker::internal {

template <Model M>
class Frontier {
 public:
  using State = typename M::State;
  static constexpr size_t kMaxClasses = 256;
  static constexpr size_t kMaxOpen = 64;
  static constexpr size_t kMaxConfigs = size_t{1} << 20;

  Frontier(const M& model, const std::vector<Call<M>>& calls, const SearchControl& control)
      : model_(model),
        calls_(calls),
        control_(control),
        account_(*control.budget),
        graph_(model, calls) {}

  // Whether the frontier search can check these calls (see Limits above).
  static bool Applies(const std::vector<Call<M>>& calls) {
    std::vector<std::pair<size_t, int>> events;
    std::vector<size_t> reps;
    size_t infos = 0;
    for (size_t k = 0; k < calls.size(); ++k) {
      const Call<M>& c = calls[k];
      if (c.group >= 0) return false;
      if (c.complete == kOpen) {
        if (++infos > 65535) return false;  // used counts are 16-bit
        bool found = false;
        for (size_t r : reps) {
          if (calls[r].in == c.in) {
            found = true;
            break;
          }
        }
        if (!found) {
          if (reps.size() == kMaxClasses) return false;
          reps.push_back(k);
        }
        continue;
      }
      events.emplace_back(c.invoke, 1);
      events.emplace_back(c.complete, -1);
    }
    std::sort(events.begin(), events.end());
    int open = 0;
    for (const auto& [time, delta] : events) {
      open += delta;
      if (open > static_cast<int>(kMaxOpen)) return false;
    }
    return true;
  }

  // Walks until a verdict, a limit, or max_configurations closure steps in all (kBudget), checked
  // between events. Resumable like Search::Run.
  SearchResult Run() {
    SearchResult result = lifecycle_.Run([this] { return Setup(); }, [this] { return Loop(); },
                                         [this] { Release(); }, configurations_);
    result.peak_bytes = peak_held_;
    return result;
  }
  void set_max_configurations(uint64_t bound) { control_.max_configurations = bound; }

 private:
  struct Event {
    size_t time;
    int32_t call;
    bool is_return;
  };
  struct Node {
    int32_t call;
    int32_t parent;  // -1: root
  };
  // A set of configurations: state, linearized open-ok slots, prefix node, depth, and `width`
  // used-counts per config in a flat pool. Dominance-checked on insertion through a table keyed
  // by (state, lin) whose entries chain the configurations with that key.
  struct ConfigSet {
    std::vector<int32_t> state;
    std::vector<uint64_t> lin;
    std::vector<int32_t> node;
    std::vector<uint32_t> depth;
    std::vector<uint16_t> used;
    std::vector<int32_t> chain;                       // next config with the same key, -1 none
    std::vector<uint64_t> support;                    // Support of used
    std::vector<std::pair<uint64_t, int32_t>> table;  // (key hash, head config); head -1 empty
    std::vector<uint32_t> filled;                     // slots of table in use
    size_t keys = 0;

    size_t size() const { return state.size(); }
    void Clear() {
      state.clear();
      lin.clear();
      node.clear();
      depth.clear();
      used.clear();
      chain.clear();
      support.clear();
      // Resetting only the filled slots keeps a closure's cost proportional to its size, not to
      // the largest table so far.
      if (table.empty() || filled.size() * 8 > table.size()) {
        table.assign(std::max<size_t>(64, std::bit_ceil(filled.size() * 2 + 1)), {0, -1});
      } else {
        for (uint32_t i : filled) table[i] = {0, -1};
      }
      filled.clear();
      keys = 0;
    }
    size_t Bytes() const {
      return state.capacity() * 4 + lin.capacity() * 8 + node.capacity() * 4 +
             depth.capacity() * 4 + used.capacity() * 2 + chain.capacity() * 4 +
             support.capacity() * 8 + table.capacity() * sizeof(table[0]) + filled.capacity() * 4;
    }
  };

  static uint64_t KeyHash(int32_t state, uint64_t lin) {
    return Mix64(lin ^ Mix64(static_cast<uint64_t>(static_cast<uint32_t>(state)) + 0x51ed27ULL));
  }

  // Adds a configuration unless one in `set` with the same state and lin used at most as many of
  // every info class (dominance). Returns the new index, or -1 when dominated.
  int32_t Add(ConfigSet& set, int32_t state, uint64_t lin, int32_t node, uint32_t depth,
              const uint16_t* used) {
    const size_t w = width_;
    if ((set.keys + 1) * 2 > set.table.size()) {
      std::vector<std::pair<uint64_t, int32_t>> old(set.table.size() * 2, {0, -1});
      old.swap(set.table);
      const size_t mask = set.table.size() - 1;
      set.filled.clear();
      for (const auto& slot : old) {
        if (slot.second < 0) continue;
        size_t i = slot.first & mask;
        while (set.table[i].second >= 0) i = (i + 1) & mask;
        set.table[i] = slot;
        set.filled.push_back(static_cast<uint32_t>(i));
      }
    }
    const uint64_t support = Support(used);
    const uint64_t h = KeyHash(state, lin);
    const size_t mask = set.table.size() - 1;
    size_t i = h & mask;
    for (;; i = (i + 1) & mask) {
      auto& slot = set.table[i];
      if (slot.second < 0) break;
      const auto head = static_cast<size_t>(slot.second);
      if (slot.first != h || set.state[head] != state || set.lin[head] != lin) continue;
      // Same key: scan the chain for a dominating configuration (bounded; a longer chain is
      // scanned in part, which prunes less but stays exact).
      int scanned = 0;
      for (int32_t c = slot.second; c >= 0 && scanned < 256;
           c = set.chain[static_cast<size_t>(c)], ++scanned) {
        // Classes used by `other` but not by `used`: other cannot be below it.
        if ((set.support[static_cast<size_t>(c)] & ~support) != 0) continue;
        const uint16_t* other = set.used.data() + static_cast<size_t>(c) * w;
        bool dominated = true;
        for (size_t j = 0; j < w; ++j) {
          if (other[j] > used[j]) {
            dominated = false;
            break;
          }
        }
        if (dominated) return -1;
      }
      const int32_t id = Push(set, state, lin, node, depth, used, support, slot.second);
      slot.second = id;
      return id;
    }
    const int32_t id = Push(set, state, lin, node, depth, used, support, -1);
    set.table[i] = {h, id};
    set.filled.push_back(static_cast<uint32_t>(i));
    ++set.keys;
    return id;
  }

  // Bit j % 64 set when class j is used: a quick filter for dominance.
  uint64_t Support(const uint16_t* used) const {
    uint64_t m = 0;
    for (size_t j = 0; j < width_; ++j) {
      if (used[j] != 0) m |= uint64_t{1} << (j % 64);
    }
    return m;
  }

  int32_t Push(ConfigSet& set, int32_t state, uint64_t lin, int32_t node, uint32_t depth,
               const uint16_t* used, uint64_t support, int32_t next) {
    const auto id = static_cast<int32_t>(set.state.size());
    set.state.push_back(state);
    set.lin.push_back(lin);
    set.node.push_back(node);
    set.depth.push_back(depth);
    set.used.insert(set.used.end(), used, used + width_);
    set.chain.push_back(next);
    set.support.push_back(support);
    return id;
  }

  int32_t Intern(State s) {
    return graph_.Intern(std::move(s), [this](size_t bytes) { return Grow(bytes); });
  }

  bool IsReadOnly(size_t k) const { return graph_.IsReadOnly(k); }

  int32_t Transition(int32_t s, size_t k) {
    return graph_.Transition(s, k, [this](size_t bytes) { return Grow(bytes); });
  }

  bool Grow(size_t bytes) {
    if (!account_.Grow(bytes)) return false;
    peak_held_ = std::max(peak_held_, account_.held());
    return true;
  }
  // Brings the accounted bytes of the config sets and the node tree up to date.
  bool Reaccount() {
    const size_t now = cur_.Bytes() + next_.Bytes() + closure_.Bytes() +
                       nodes_.capacity() * sizeof(Node) + stack_.capacity() * 4;
    if (now > tables_bytes_) {
      if (!Grow(now - tables_bytes_)) return false;
      tables_bytes_ = now;
    }
    return true;
  }
  void Release() {
    cur_ = ConfigSet{};
    next_ = ConfigSet{};
    closure_ = ConfigSet{};
    nodes_ = {};
    stack_ = {};
  }

  bool Setup() {
    const size_t n = calls_.size();
    klass_.assign(n, -1);
    std::vector<size_t> reps;
    for (size_t k = 0; k < n; ++k) {
      if (calls_[k].complete != kOpen) continue;
      int32_t c = -1;
      for (size_t r = 0; r < reps.size(); ++r) {
        if (calls_[reps[r]].in == calls_[k].in) {
          c = static_cast<int32_t>(r);
          break;
        }
      }
      if (c < 0) {
        c = static_cast<int32_t>(reps.size());
        reps.push_back(k);
        members_.emplace_back();
      }
      klass_[k] = c;
      members_[static_cast<size_t>(c)].push_back(static_cast<int32_t>(k));
    }
    width_ = reps.size();
    invoked_.assign(width_, 0);
    for (size_t k = 0; k < n; ++k) {
      events_.push_back(
          Event{.time = calls_[k].invoke, .call = static_cast<int32_t>(k), .is_return = false});
      if (calls_[k].complete != kOpen) {
        events_.push_back(
            Event{.time = calls_[k].complete, .call = static_cast<int32_t>(k), .is_return = true});
      }
    }
    std::sort(events_.begin(), events_.end(),
              [](const Event& a, const Event& b) { return a.time < b.time; });
    slot_.assign(n, -1);
    slot_call_.assign(kMaxOpen, -1);
    // Members of each class sorted by invocation (calls_ is in invocation order already, but be
    // explicit: the used ones are always the earliest invoked).
    for (auto& m : members_) {
      std::sort(m.begin(), m.end(), [&](int32_t a, int32_t b) {
        return calls_[static_cast<size_t>(a)].invoke < calls_[static_cast<size_t>(b)].invoke;
      });
    }
    if (!Grow(events_.capacity() * sizeof(Event) + n * 8)) return false;
    const int32_t init = Intern(model_.Init());
    if (init < 0) return false;
    cur_.Clear();
    next_.Clear();
    closure_.Clear();
    zero_.assign(width_, 0);
    Add(cur_, init, 0, -1, 0, zero_.data());
    return true;
  }

  std::optional<Outcome> Interrupted() const { return control_.Interrupted(); }

  int32_t NewNode(int32_t call, int32_t parent) {
    nodes_.push_back(Node{.call = call, .parent = parent});
    return static_cast<int32_t>(nodes_.size() - 1);
  }

  // Drops the prefix-tree nodes no frontier configuration reaches.
  void Compact() {
    std::vector<int32_t> remap(nodes_.size(), -1);
    for (size_t c = 0; c < cur_.size(); ++c) {
      for (int32_t v = cur_.node[c]; v >= 0 && remap[static_cast<size_t>(v)] == -1;
           v = nodes_[static_cast<size_t>(v)].parent) {
        remap[static_cast<size_t>(v)] = 0;
      }
    }
    int32_t live = 0;
    for (size_t v = 0; v < nodes_.size(); ++v) {
      if (remap[v] < 0) continue;
      Node n = nodes_[v];
      if (n.parent >= 0) n.parent = remap[static_cast<size_t>(n.parent)];
      nodes_[static_cast<size_t>(live)] = n;
      remap[v] = live++;
    }
    nodes_.resize(static_cast<size_t>(live));
    for (size_t c = 0; c < cur_.size(); ++c) {
      if (cur_.node[c] >= 0) cur_.node[c] = remap[static_cast<size_t>(cur_.node[c])];
    }
    compact_at_ = std::max<size_t>(size_t{1} << 20, nodes_.size() * 4);
  }

  std::vector<size_t> Prefix(int32_t node) const {
    std::vector<size_t> prefix;
    for (int32_t v = node; v >= 0; v = nodes_[static_cast<size_t>(v)].parent) {
      prefix.push_back(static_cast<size_t>(nodes_[static_cast<size_t>(v)].call));
    }
    std::reverse(prefix.begin(), prefix.end());
    return prefix;
  }

  // The closure at the return of ok call x (see the file comment): next_ receives the
  // configurations where x was just linearized. Returns an outcome only when interrupted.
  std::optional<Outcome> Closure(size_t x) {
    const uint64_t xbit = uint64_t{1} << slot_[x];
    next_.Clear();
    closure_.Clear();
    stack_.clear();
    best_depth_ = 0;
    best_nodes_.clear();
    std::vector<uint16_t> used(width_);
    auto emit = [&](int32_t state, uint64_t lin, int32_t node, uint32_t depth,
                    const uint16_t* u) -> bool {
      if (Add(next_, state, lin & ~xbit, node, depth, u) >= 0 && next_.size() > kMaxConfigs) {
        return false;
      }
      return true;
    };
    for (size_t c = 0; c < cur_.size(); ++c) {
      const uint16_t* u = cur_.used.data() + c * width_;
      if ((cur_.lin[c] & xbit) != 0) {
        if (!emit(cur_.state[c], cur_.lin[c], cur_.node[c], cur_.depth[c], u)) {
          return Outcome::kGaveUp;
        }
        continue;
      }
      const int32_t id = Add(closure_, cur_.state[c], cur_.lin[c], cur_.node[c], cur_.depth[c], u);
      if (id >= 0) stack_.push_back(id);
    }
    while (!stack_.empty()) {
      const auto c = static_cast<size_t>(stack_.back());
      stack_.pop_back();
      ++configurations_;
      if ((++steps_ & 4095) == 0) {
        if (std::optional<Outcome> stop = Interrupted()) return stop;
        if (!Reaccount()) return Outcome::kMemoryLimit;
      }
      if (closure_.size() > kMaxConfigs) return Outcome::kGaveUp;
      const int32_t state = closure_.state[c];
      const uint64_t lin = closure_.lin[c];
      const int32_t node = closure_.node[c];
      const uint32_t depth = closure_.depth[c];
      std::copy_n(closure_.used.data() + c * width_, width_, used.data());
      if (depth > best_depth_ || best_nodes_.empty()) {
        best_depth_ = depth;
        best_nodes_.clear();
        best_states_.clear();
      }
      if (depth == best_depth_) {
        if (best_nodes_.size() < 3) best_nodes_.push_back(node);
        if (best_states_.size() < 16) best_states_.insert(state);
      }
      const uint64_t pending = open_ & ~lin;
      // A pending ok read that accepts the state is linearized at once, alone (engine.h).
      int forced = -1;
      for (uint64_t m = pending; m != 0; m &= m - 1) {
        const int s = std::countr_zero(m);
        const auto k = static_cast<size_t>(slot_call_[static_cast<size_t>(s)]);
        if (IsReadOnly(k) && Transition(state, k) == state) {
          forced = s;
          break;
        }
      }
      for (uint64_t m = forced >= 0 ? uint64_t{1} << forced : pending; m != 0; m &= m - 1) {
        const int s = std::countr_zero(m);
        const auto k = static_cast<size_t>(slot_call_[static_cast<size_t>(s)]);
        const int32_t ns = Transition(state, k);
        if (ns == -2) return Outcome::kMemoryLimit;
        if (ns < 0) continue;
        const int32_t child = NewNode(static_cast<int32_t>(k), node);
        const uint64_t nlin = lin | (uint64_t{1} << s);
        if (k == x) {
          if (!emit(ns, nlin, child, depth + 1, used.data())) return Outcome::kGaveUp;
          continue;
        }
        const int32_t id = Add(closure_, ns, nlin, child, depth + 1, used.data());
        if (id >= 0) stack_.push_back(id);
      }
      if (forced >= 0) continue;
      for (size_t j = 0; j < width_; ++j) {
        if (used[j] >= invoked_[j]) continue;
        const auto k = static_cast<size_t>(members_[j][used[j]]);
        const int32_t ns = Transition(state, k);
        if (ns == -2) return Outcome::kMemoryLimit;
        if (ns < 0 || ns == state) continue;
        const int32_t child = NewNode(static_cast<int32_t>(k), node);
        ++used[j];
        const int32_t id = Add(closure_, ns, lin, child, depth + 1, used.data());
        --used[j];
        if (id >= 0) stack_.push_back(id);
      }
    }
    return std::nullopt;
  }

  SearchResult Loop() {
    SearchResult result;
    const uint64_t bound = control_.max_configurations;
    for (; event_ < events_.size(); ++event_) {
      if (bound != 0 && configurations_ >= bound) {
        result.outcome = Outcome::kBudget;
        return result;
      }
      const Event& e = events_[event_];
      const auto k = static_cast<size_t>(e.call);
      if (!e.is_return) {
        if (klass_[k] >= 0) {
          ++invoked_[static_cast<size_t>(klass_[k])];
          continue;
        }
        const uint64_t free = ~open_;
        if (free == 0) {
          result.outcome = Outcome::kGaveUp;  // more than kMaxOpen open: Applies prevents it
          return result;
        }
        const int s = std::countr_zero(free);
        slot_[k] = s;
        slot_call_[static_cast<size_t>(s)] = static_cast<int32_t>(k);
        open_ |= uint64_t{1} << s;
        continue;
      }
      if (std::optional<Outcome> stop = Closure(k)) {
        result.outcome = *stop;
        return result;
      }
      if (next_.size() == 0) {
        result.outcome = Outcome::kInvalid;
        result.failing_call = k;
        for (int32_t node : best_nodes_) {
          std::vector<size_t> prefix = Prefix(node);
          if (std::find(result.prefixes.begin(), result.prefixes.end(), prefix) ==
              result.prefixes.end()) {
            result.prefixes.push_back(std::move(prefix));
          }
        }
        std::vector<std::string> described;
        for (int32_t s : best_states_) {
          described.push_back(model_.DescribeState(graph_.state(s)));
        }
        std::sort(described.begin(), described.end());
        described.erase(std::unique(described.begin(), described.end()), described.end());
        result.states = std::move(described);
        result.explanation = model_.Describe(calls_[k].in, calls_[k].out);
        return result;
      }
      std::swap(cur_, next_);
      open_ &= ~(uint64_t{1} << slot_[k]);
      slot_call_[static_cast<size_t>(slot_[k])] = -1;
      if (nodes_.size() > compact_at_) Compact();
      if (!Reaccount()) {
        result.outcome = Outcome::kMemoryLimit;
        return result;
      }
    }
    result.outcome = Outcome::kValid;
    return result;
  }

  const M& model_;
  const std::vector<Call<M>>& calls_;
  SearchControl control_;
  Account account_;
  size_t peak_held_ = 0;
  size_t tables_bytes_ = 0;

  StateGraph<M> graph_;

  std::vector<Event> events_;
  size_t event_ = 0;
  std::vector<int32_t> klass_;                 // per call: info class, -1 for ok ops
  std::vector<std::vector<int32_t>> members_;  // per class: its calls by invocation
  std::vector<uint16_t> invoked_;              // per class: members invoked so far
  size_t width_ = 0;
  std::vector<uint16_t> zero_;
  std::vector<int> slot_;           // per ok call: its slot while open
  std::vector<int32_t> slot_call_;  // per slot: the open ok call, -1 free
  uint64_t open_ = 0;               // occupied slots

  ConfigSet cur_;
  ConfigSet next_;
  ConfigSet closure_;
  std::vector<int32_t> stack_;
  std::vector<Node> nodes_;
  size_t compact_at_ = size_t{1} << 20;
  uint32_t best_depth_ = 0;
  std::vector<int32_t> best_nodes_;
  std::set<int32_t> best_states_;

  uint64_t configurations_ = 0;
  uint64_t steps_ = 0;
  RunLifecycle lifecycle_;
};

}  // namespace faultline::checker::internal

#endif  // FAULTLINE_CHECKER_INTERNAL_FRONTIER_H_
