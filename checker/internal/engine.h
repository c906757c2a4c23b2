// The search behind Check: Wing & Gong's algorithm with Lowe's just-in-time linearization, for one
// partition (one key) of a history, generic over a model.
//
// Calls and returns sit in one doubly linked list in real-time order. The search walks it from the
// front: at a call it tries to linearize that op now (the model accepts it and the configuration
// is new), lifting the op out of the list and restarting from the front; at a return it has hit an
// op that had to be linearized already, so it backtracks. An info op has no return: it may be
// linearized at any point after its call, or never, so the search succeeds as soon as every ok op
// is linearized.
//
// Pruning (figures from checker_bench are in the issue 3 note):
// - the memo of explored configurations with dominance over info ops (memo.h);
// - states are interned and each (state, op) transition is computed once (read-only ops, whose
//   Accepts is cheaper than a lookup, are not cached);
// - the search is resumable: Check searches partitions in rounds with a growing bound on
//   configurations, and an undecided partition continues where the last round stopped;
// - an info op is never linearized where it changes nothing (its state stays the same), since
//   leaving it out is as good;
// - a read that must be linearized before any op that could reset what it reads, and that the
//   other ops cannot satisfy, fails the node at once (HasGrowing: a kv get among appends);
// - symmetry: of two info ops with equal inputs, the later-invoked one is linearized only after
//   the earlier one (any linearization using the later one alone can use the earlier one instead).
//
// Thread-safety: Search uses only its arguments; run many at once on different partitions.
#ifndef FAULTLINE_CHECKER_INTERNAL_ENGINE_H_
#define FAULTLINE_CHECKER_INTERNAL_ENGINE_H_

#include <algorithm>
#include <atomic>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "checker/internal/flat_map.h"
#include "checker/internal/memo.h"

namespace faultline::checker::internal {

// STYLE.md §9: a model is pure; its State is a regular, hashable value. Info ops carry an Output
// that says "unknown" (each model has its own spelling), which Step must accept whenever the
// input can take effect.
template <typename M>
concept Model = requires(const M& m, const typename M::State& s, const typename M::Input& in,
                         const typename M::Output& out) {
  requires std::regular<typename M::State>;
  requires std::equality_comparable<typename M::Input>;
  { m.Init() } -> std::same_as<typename M::State>;
  { m.Step(s, in, out) } -> std::same_as<std::optional<typename M::State>>;
  { m.HashState(s) } -> std::same_as<uint64_t>;
  { m.Describe(in, out) } -> std::convertible_to<std::string>;
  { m.DescribeState(s) } -> std::convertible_to<std::string>;
};

// Optional hook: true when `in` never changes the state (a read), so that Step's result is
// either the same state or nothing and Accepts(s, in, out) can answer without building a state.
template <typename M>
concept HasReadOnly = requires(const M& m, const typename M::State& s, const typename M::Input& in,
                               const typename M::Output& out) {
  { m.ReadOnly(in) } -> std::same_as<bool>;
  { m.Accepts(s, in, out) } -> std::same_as<bool>;
};

// Optional hook, with HasReadOnly: the state is split into up to 64 regions (a kv key slot mod
// 64). Resets(in) is the mask of regions that `in` may change other than by growing them (a kv
// put); any other op only grows a region (a kv append) or leaves it alone. Reads(in) is the mask of
// regions a read-only op looks at. CanReach(s, in, out) is false only when no sequence of growing
// ops from s reaches a state that accepts the read (in, out). The search then fails a node early
// when some read must be linearized before any op that may reset its regions, and cannot be
// satisfied by growing ops alone (kv: the string is not a prefix of what the get returned).
template <typename M>
concept HasGrowing = HasReadOnly<M> &&
    requires(const M& m, const typename M::State& s, const typename M::Input& in,
             const typename M::Output& out) {
  { m.Resets(in) } -> std::same_as<uint64_t>;
  { m.Reads(in) } -> std::same_as<uint64_t>;
  { m.CanReach(s, in, out) } -> std::same_as<bool>;
};

// Optional hook: the heap bytes a state owns beyond sizeof(State), for the memory limit.
template <typename M>
concept HasStateBytes = requires(const M& m, const typename M::State& s) {
  { m.StateBytes(s) } -> std::convertible_to<size_t>;
};

inline constexpr size_t kOpen = std::numeric_limits<size_t>::max();

// One op of a partition, decoded.
template <typename M>
struct Call {
  size_t invoke = 0;        // History position of the invocation
  size_t complete = kOpen;  // History position of the ok completion; kOpen for an info op
  typename M::Input in;
  typename M::Output out;
  // Alternatives of one info op (e.g. which element an info dequeue removed): at most one call of
  // a group is linearized. -1: none.
  int32_t group = -1;
};

// kGaveUp: the frontier search (frontier.h) grew past its own bounds; the depth-first search goes
// on.
enum class Outcome { kValid, kInvalid, kTimeLimit, kMemoryLimit, kCancelled, kBudget, kGaveUp };

struct SearchControl {
  std::optional<std::chrono::steady_clock::time_point> deadline;
  MemoryBudget* budget = nullptr;
  const std::atomic<bool>* stop = nullptr;  // set to end every search (e.g. time limit)
  // Partitions with an index above this are cancelled (a smaller one is already invalid).
  const std::atomic<size_t>* min_invalid = nullptr;
  size_t partition = 0;
  // Configurations after which the search gives up with kBudget (0: no bound). Deterministic,
  // unlike the time limit, so Check can use it to schedule partitions reproducibly.
  uint64_t max_configurations = 0;

  // kTimeLimit or kCancelled when the search should end now; a search checks every few thousand
  // steps.
  std::optional<Outcome> Interrupted() const {
    if (stop != nullptr && stop->load(std::memory_order_relaxed)) return Outcome::kTimeLimit;
    if (min_invalid != nullptr && min_invalid->load(std::memory_order_relaxed) < partition) {
      return Outcome::kCancelled;
    }
    if (deadline && std::chrono::steady_clock::now() >= *deadline) return Outcome::kTimeLimit;
    return std::nullopt;
  }
};

struct SearchResult {
  Outcome outcome = Outcome::kValid;
  uint64_t configurations = 0;
  size_t peak_bytes = 0;
  // When invalid: the call that could not be linearized, the longest linearizable prefixes before
  // it (call indices in linearization order) and the states reachable there (described, sorted).
  size_t failing_call = 0;
  std::vector<std::vector<size_t>> prefixes;
  std::vector<std::string> states;
  std::string explanation;
  std::string detail;  // why, when a detector rather than the search found the violation
};

// Where a resumable search stands between calls to its Run: not started, stopped at kBudget with
// more to do, or ended with a final outcome that every later call repeats.
class RunLifecycle {
 public:
  // Runs setup() once (false: out of memory, which is final), then loop(); an outcome other than
  // kBudget is final, and on_final() runs when it is reached. `configurations` is the search's
  // running count: the result counts what this call added to it.
  template <typename Setup, typename Loop, typename OnFinal>
  SearchResult Run(Setup&& setup, Loop&& loop, OnFinal&& on_final, const uint64_t& configurations) {
    const uint64_t before = configurations;
    SearchResult result = Step(setup, loop, on_final);
    result.configurations = configurations - before;
    return result;
  }

 private:
  template <typename Setup, typename Loop, typename OnFinal>
  SearchResult Step(Setup& setup, Loop& loop, OnFinal& on_final) {
    SearchResult result;
    if (done_) {
      result.outcome = *done_;
      return result;
    }
    if (!started_) {
      started_ = true;
      if (!setup()) {
        done_ = Outcome::kMemoryLimit;
        result.outcome = *done_;
        return result;
      }
    }
    result = loop();
    if (result.outcome != Outcome::kBudget) {
      done_ = result.outcome;
      on_final();
    }
    return result;
  }

  bool started_ = false;
  std::optional<Outcome> done_;  // set once the search has ended for good
};

// The states a search has reached and the transitions between them: each state interned once
// under an int32 id, and (state id, call index) -> next state id memoized. Memory is accounted
// through the caller's grow(bytes), which returns false past the budget.
//
// Thread-safety: one search's; not thread-safe.
template <Model M>
class StateGraph {
 public:
  using State = typename M::State;

  StateGraph(const M& model, const std::vector<Call<M>>& calls) : model_(model), calls_(calls) {}

  // REQUIRES: id was returned by Intern or Transition.
  const State& state(int32_t id) const { return states_[static_cast<size_t>(id)]; }

  // Whether call k never changes the state (only models with the ReadOnly hook say so).
  bool IsReadOnly(size_t k) const {
    if constexpr (HasReadOnly<M>) {
      return model_.ReadOnly(calls_[k].in);
    } else {
      return false;
    }
  }

  // The interned id of a state, or -1 when out of memory. States live in a deque (stable
  // addresses, no node per state) and are found through an open-addressing table of
  // (hash, id) pairs, so equality is only tested on a full 64-bit hash match.
  template <typename Grow>
  int32_t Intern(State s, Grow&& grow) {
    if ((interned_ + 1) * 4 > ids_.size() * 3) {
      const size_t capacity = ids_.empty() ? 256 : ids_.size() * 2;
      if (!grow((capacity - ids_.size()) * sizeof(IdSlot))) return -1;
      std::vector<IdSlot> old(capacity);
      old.swap(ids_);
      for (const IdSlot& slot : old) {
        if (slot.id < 0) continue;
        size_t i = slot.hash & (capacity - 1);
        while (ids_[i].id >= 0) i = (i + 1) & (capacity - 1);
        ids_[i] = slot;
      }
    }
    const uint64_t h = Mix64(model_.HashState(s));
    const size_t mask = ids_.size() - 1;
    size_t i = h & mask;
    for (;; i = (i + 1) & mask) {
      const IdSlot& slot = ids_[i];
      if (slot.id < 0) break;
      if (slot.hash == h && states_[static_cast<size_t>(slot.id)] == s) return slot.id;
    }
    size_t bytes = sizeof(State);
    if constexpr (HasStateBytes<M>) bytes += model_.StateBytes(s);
    if (!grow(bytes)) return -1;
    const auto id = static_cast<int32_t>(states_.size());
    states_.push_back(std::move(s));
    ids_[i] = IdSlot{.hash = h, .id = id};
    ++interned_;
    return id;
  }

  // The state after call k from state id s: an id, -1 if the model refuses, -2 out of memory.
  template <typename Grow>
  int32_t Transition(int32_t s, size_t k, Grow&& grow) {
    if constexpr (HasReadOnly<M>) {
      // Accepts is cheap (the hooks' models compare a value or a hash first), cheaper than the
      // cache miss of a lookup in a table of every (state, op) pair: read-only ops skip it.
      if (model_.ReadOnly(calls_[k].in)) {
        return model_.Accepts(states_[static_cast<size_t>(s)], calls_[k].in, calls_[k].out) ? s
                                                                                            : -1;
      }
    }
    const uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(s)) << 32) | k;
    if (const int32_t* hit = transitions_.Find(key)) return *hit;
    const size_t before = transitions_.bytes();
    const size_t after = transitions_.bytes_after_insert();
    if (after > before && !grow(after - before)) return -2;
    std::optional<State> next =
        model_.Step(states_[static_cast<size_t>(s)], calls_[k].in, calls_[k].out);
    int32_t id = -1;
    if (next) {
      id = Intern(std::move(*next), grow);
      if (id < 0) return -2;
    }
    transitions_.Insert(key, id);
    return id;
  }

 private:
  const M& model_;
  const std::vector<Call<M>>& calls_;
  struct IdSlot {
    uint64_t hash = 0;  // Mix64 of the state's hash
    int32_t id = -1;    // -1: empty
  };
  std::deque<State> states_;
  std::vector<IdSlot> ids_;
  size_t interned_ = 0;
  FlatMap transitions_;
};

template <Model M>
class Search {
 public:
  using State = typename M::State;

  Search(const M& model, const std::vector<Call<M>>& calls, const SearchControl& control)
      : model_(model),
        calls_(calls),
        control_(control),
        account_(*control.budget),
        graph_(model, calls) {}

  // Searches until a verdict, a limit, or max_configurations configurations in all (kBudget).
  // After kBudget, Run may be called again with a larger bound: the walk resumes where it
  // stopped, exactly as one run with the larger bound would have gone on. `configurations` in
  // the result counts only this call's configurations.
  SearchResult Run() {
    SearchResult result = lifecycle_.Run([this] { return Setup(); }, [this] { return Loop(); },
                                         [] {}, configurations_);
    result.peak_bytes = account_.held();
    return result;
  }
  void set_max_configurations(uint64_t bound) { control_.max_configurations = bound; }

 private:
  struct Frame {
    int32_t call;
    int32_t prev_state;
    bool forced;  // a stuttering op, linearized without alternatives (see Loop)
  };

  int32_t Intern(State s) {
    return graph_.Intern(std::move(s), [this](size_t bytes) { return account_.Grow(bytes); });
  }
  int32_t Transition(int32_t s, size_t k) {
    return graph_.Transition(s, k, [this](size_t bytes) { return account_.Grow(bytes); });
  }

  uint64_t Resets(size_t k) const {
    if constexpr (HasGrowing<M>) {
      return model_.Resets(calls_[k].in);
    } else {
      return ~uint64_t{0};
    }
  }

  // At a node with state `state`, whose list scan for forced reads stopped at entry `e` (the first
  // return) with `resets` the Resets of the calls before it: true when the node cannot succeed.
  // Going on down the list, an ok read whose return comes before every call that may reset its
  // regions (calls after its return cannot be linearized before it) must read a state grown
  // from this one. Bounded, to keep the cost per node small.
  bool DeadByReads(int32_t state, int32_t e, uint64_t resets) const {
    if constexpr (HasGrowing<M>) {
      const Walk& w = walk_;
      constexpr int kMaxEntries = 256;
      constexpr int kMaxReads = 16;
      int reads = 0;
      for (int scanned = 0;
           e != w.head && scanned < kMaxEntries && (resets & w.all_reads) != w.all_reads;
           e = w.next[static_cast<size_t>(e)], ++scanned) {
        const Entry& en = w.entries[static_cast<size_t>(e)];
        const auto k = static_cast<size_t>(en.call);
        if (!en.is_return) {
          resets |= w.resets[k];
          continue;
        }
        if (w.reads[k] == 0 || (w.reads[k] & resets) != 0) continue;
        if (!model_.CanReach(graph_.state(state), calls_[k].in, calls_[k].out)) {
          return true;
        }
        if (++reads == kMaxReads) break;
      }
    }
    return false;
  }

  bool IsReadOnly(size_t k) const { return graph_.IsReadOnly(k); }

  std::optional<Outcome> Interrupted() const { return control_.Interrupted(); }

  // Everything the walk keeps between rounds (see Run).
  struct Entry {
    size_t time;
    int32_t call;
    bool is_return;
  };
  struct Walk {
    std::vector<int32_t> info_bit;  // info ops: bitset positions
    std::vector<int32_t> sym_pred;  // info ops: symmetry predecessors
    size_t nreq = 0;
    std::vector<uint8_t> group_used;
    std::vector<uint64_t> info;
    // Entries: calls and returns in real-time order; a circular list with sentinel `head`.
    std::vector<Entry> entries;
    int32_t head = 0;
    std::vector<int32_t> next;
    std::vector<int32_t> prev;
    std::vector<int32_t> call_entry;
    std::vector<int32_t> return_entry;
    std::vector<uint64_t> z1;
    std::vector<uint64_t> z2;
    std::optional<Memo> memo;
    std::vector<Frame> stack;
    std::vector<uint8_t> linearized;
    int32_t state = 0;
    uint64_t h1 = 0;
    uint64_t h2 = 0;
    size_t remaining = 0;
    int32_t entry = 0;
    // The deepest failure seen, for the counterexample.
    int64_t best_depth = -1;
    int32_t best_call = -1;
    std::set<int32_t> best_states;
    std::vector<std::vector<size_t>> best_prefixes;
    uint64_t steps = 0;
    bool fresh = true;
    // HasGrowing, per call: Resets, and Reads for an ok read-only op (0 otherwise); the union of
    // the Reads. Kept compact for DeadByReads' scan.
    std::vector<uint64_t> resets;
    std::vector<uint64_t> reads;
    uint64_t all_reads = 0;

    void Unlink(int32_t e) {
      next[static_cast<size_t>(prev[static_cast<size_t>(e)])] = next[static_cast<size_t>(e)];
      prev[static_cast<size_t>(next[static_cast<size_t>(e)])] = prev[static_cast<size_t>(e)];
    }
    void Relink(int32_t e) {
      next[static_cast<size_t>(prev[static_cast<size_t>(e)])] = e;
      prev[static_cast<size_t>(next[static_cast<size_t>(e)])] = e;
    }
  };

  // Builds the walk's tables; false when out of memory.
  bool Setup() {
    Walk& w = walk_;
    const size_t n = calls_.size();
    w.info_bit.assign(n, -1);
    w.sym_pred.assign(n, -1);
    size_t ninfo = 0;
    for (size_t k = 0; k < n; ++k) {
      if (calls_[k].complete == kOpen) {
        w.info_bit[k] = static_cast<int32_t>(ninfo++);
        if (calls_[k].group < 0) {
          for (size_t j = k; j-- > 0;) {
            if (calls_[j].complete == kOpen && calls_[j].group < 0 &&
                calls_[j].in == calls_[k].in) {
              w.sym_pred[k] = static_cast<int32_t>(j);
              break;
            }
          }
        }
      } else {
        ++w.nreq;
      }
    }
    int32_t ngroups = 0;
    for (const Call<M>& c : calls_) ngroups = std::max(ngroups, c.group + 1);
    w.group_used.assign(static_cast<size_t>(ngroups), 0);
    const size_t words = (ninfo + 63) / 64;
    w.info.assign(words, 0);

    w.entries.reserve(n + w.nreq);
    for (size_t k = 0; k < n; ++k) {
      w.entries.push_back(
          Entry{.time = calls_[k].invoke, .call = static_cast<int32_t>(k), .is_return = false});
      if (calls_[k].complete != kOpen) {
        w.entries.push_back(
            Entry{.time = calls_[k].complete, .call = static_cast<int32_t>(k), .is_return = true});
      }
    }
    std::sort(w.entries.begin(), w.entries.end(),
              [](const Entry& a, const Entry& b) { return a.time < b.time; });
    w.head = static_cast<int32_t>(w.entries.size());
    const int32_t head = w.head;
    w.next.assign(w.entries.size() + 1, 0);
    w.prev.assign(w.entries.size() + 1, 0);
    w.call_entry.assign(n, -1);
    w.return_entry.assign(n, -1);
    for (int32_t e = 0; e <= head; ++e) {
      w.next[static_cast<size_t>(e)] = e == head ? 0 : e + 1;
      w.prev[static_cast<size_t>(e)] = e == 0 ? head : e - 1;
      if (e == head) break;
      const Entry& en = w.entries[static_cast<size_t>(e)];
      (en.is_return ? w.return_entry : w.call_entry)[static_cast<size_t>(en.call)] = e;
    }
    if (w.entries.empty()) {
      w.next[static_cast<size_t>(head)] = head;
      w.prev[static_cast<size_t>(head)] = head;
    }

    // Zobrist words for ok ops, from a fixed seed: deterministic runs.
    w.z1.resize(n);
    w.z2.resize(n);
    for (size_t k = 0; k < n; ++k) {
      w.z1[k] = Mix64(2 * k + 1);
      w.z2[k] = Mix64((2 * k + 2) ^ 0x5bd1e995ULL);
    }

    if (!account_.Grow((w.entries.size() * 4 + n * 8) * sizeof(int64_t))) return false;
    w.memo.emplace(words, account_);
    if (!w.memo->Init()) return false;
    w.state = Intern(model_.Init());
    if (w.state < 0) return false;
    w.linearized.assign(n, 0);
    if constexpr (HasGrowing<M>) {
      w.resets.resize(n);
      w.reads.assign(n, 0);
      for (size_t k = 0; k < n; ++k) {
        w.resets[k] = model_.Resets(calls_[k].in);
        if (IsReadOnly(k) && calls_[k].complete != kOpen) {
          // A read that looks at no region cannot be told apart from "none": it is never checked.
          w.reads[k] = model_.Reads(calls_[k].in);
          w.all_reads |= w.reads[k];
        }
      }
    }
    w.remaining = w.nreq;
    w.entry = w.next[static_cast<size_t>(head)];
    return true;
  }

  SearchResult Loop() {
    SearchResult result;
    Walk& w = walk_;
    Memo& memo = *w.memo;
    const int32_t head = w.head;
    const std::vector<Entry>& entries = w.entries;
    const std::vector<int32_t>& next = w.next;
    const std::vector<int32_t>& info_bit = w.info_bit;
    const std::vector<uint64_t>& z1 = w.z1;
    const std::vector<uint64_t>& z2 = w.z2;
    int32_t& state = w.state;
    uint64_t& h1 = w.h1;
    uint64_t& h2 = w.h2;
    size_t& remaining = w.remaining;
    int32_t& entry = w.entry;
    bool& fresh = w.fresh;
    std::vector<Frame>& stack = w.stack;
    std::vector<uint8_t>& linearized = w.linearized;
    std::vector<uint64_t>& info = w.info;
    const uint64_t bound = control_.max_configurations;

    // At a new node, an ok read-only op (ReadOnly hook) that may be linearized now and accepts
    // the current state is linearized at once, without trying alternatives: in any linearization
    // from here it can be moved to this point, since it changes no state and every op that must
    // precede it in real time already has. So if that child fails, the node fails. (An op that
    // merely leaves this state unchanged, such as a write of the current value, does not qualify:
    // later it could change the state.)
    while (remaining > 0) {
      // The bound is checked where the walk can stop and later resume exactly here (Run).
      if (bound != 0 && configurations_ >= bound) {
        result.outcome = Outcome::kBudget;
        return result;
      }
      if ((++w.steps & 4095) == 0) {
        if (std::optional<Outcome> stop = Interrupted()) {
          result.outcome = *stop;
          return result;
        }
      }
      bool node_fails = false;
      if (fresh) {
        fresh = false;
        uint64_t resets = 0;  // Resets of the calls scanned (HasGrowing)
        int32_t e = next[static_cast<size_t>(head)];
        for (; e != head && !entries[static_cast<size_t>(e)].is_return;
             e = next[static_cast<size_t>(e)]) {
          const auto fk = static_cast<size_t>(entries[static_cast<size_t>(e)].call);
          resets |= Resets(fk);
          if (info_bit[fk] >= 0 || !IsReadOnly(fk)) continue;
          const int32_t ns = Transition(state, fk);
          if (ns == -2) {
            result.outcome = Outcome::kMemoryLimit;
            return result;
          }
          if (ns != state) continue;
          const Memo::Visit v = memo.Add(h1 ^ z1[fk], h2 ^ z2[fk], state, info.data());
          if (v == Memo::Visit::kOutOfMemory) {
            result.outcome = Outcome::kMemoryLimit;
            return result;
          }
          if (v == Memo::Visit::kSeen) {
            node_fails = true;
            break;
          }
          ++configurations_;
          stack.push_back(
              Frame{.call = static_cast<int32_t>(fk), .prev_state = state, .forced = true});
          linearized[fk] = 1;
          w.Unlink(e);
          w.Unlink(w.return_entry[fk]);
          --remaining;
          h1 ^= z1[fk];
          h2 ^= z2[fk];
          fresh = true;
          break;
        }
        if (fresh) {
          entry = next[static_cast<size_t>(head)];
          continue;
        }
        if constexpr (HasGrowing<M>) {
          if (!node_fails && DeadByReads(state, e, resets)) node_fails = true;
        }
      }
      if (!node_fails && entry == head) {
        // Only reachable when every ok op is linearized, handled by the loop condition.
        break;
      }
      const Entry& en = entries[static_cast<size_t>(node_fails ? 0 : entry)];
      const auto k = static_cast<size_t>(en.call);
      if (!node_fails && !en.is_return) {
        const bool is_info = info_bit[k] >= 0;
        bool allowed = true;
        if (is_info) {
          if (w.sym_pred[k] >= 0 && linearized[static_cast<size_t>(w.sym_pred[k])] == 0) {
            allowed = false;
          }
          if (calls_[k].group >= 0 && w.group_used[static_cast<size_t>(calls_[k].group)] != 0) {
            allowed = false;
          }
        }
        if (allowed) {
          const int32_t ns = Transition(state, k);
          if (ns == -2) {
            result.outcome = Outcome::kMemoryLimit;
            return result;
          }
          if (ns >= 0 && !(is_info && ns == state)) {
            uint64_t n1 = h1;
            uint64_t n2 = h2;
            if (is_info) {
              const auto b = static_cast<size_t>(info_bit[k]);
              info[b / 64] |= uint64_t{1} << (b % 64);
            } else {
              n1 ^= z1[k];
              n2 ^= z2[k];
            }
            const Memo::Visit v = memo.Add(n1, n2, ns, info.data());
            if (v == Memo::Visit::kOutOfMemory) {
              result.outcome = Outcome::kMemoryLimit;
              return result;
            }
            if (v == Memo::Visit::kNew) {
              ++configurations_;
              stack.push_back(Frame{.call = en.call, .prev_state = state, .forced = false});
              fresh = true;
              linearized[k] = 1;
              if (calls_[k].group >= 0) w.group_used[static_cast<size_t>(calls_[k].group)] = 1;
              w.Unlink(entry);
              if (w.return_entry[k] >= 0) w.Unlink(w.return_entry[k]);
              if (!is_info) --remaining;
              h1 = n1;
              h2 = n2;
              state = ns;
              entry = next[static_cast<size_t>(head)];
              continue;
            }
            if (is_info) {
              const auto b = static_cast<size_t>(info_bit[k]);
              info[b / 64] &= ~(uint64_t{1} << (b % 64));
            }
          }
        }
        entry = next[static_cast<size_t>(entry)];
        continue;
      }
      // A return: op k had to be linearized by now (or the node failed through a forced op).
      const auto depth = static_cast<int64_t>(w.nreq - remaining);
      if (!node_fails && depth > w.best_depth) {
        w.best_depth = depth;
        w.best_call = en.call;
        w.best_states.clear();
        w.best_prefixes.clear();
      }
      if (!node_fails && depth == w.best_depth && en.call == w.best_call) {
        if (w.best_states.size() < 16) w.best_states.insert(state);
        if (w.best_prefixes.size() < 3) {
          std::vector<size_t> prefix;
          prefix.reserve(stack.size());
          for (const Frame& f : stack) prefix.push_back(static_cast<size_t>(f.call));
          if (std::find(w.best_prefixes.begin(), w.best_prefixes.end(), prefix) ==
              w.best_prefixes.end()) {
            w.best_prefixes.push_back(std::move(prefix));
          }
        }
      }
      // Backtrack: pop the op that created this node; a forced op's failure fails its parent too.
      for (;;) {
        if (stack.empty()) {
          result.outcome = Outcome::kInvalid;
          result.failing_call = static_cast<size_t>(std::max(w.best_call, 0));
          result.prefixes = std::move(w.best_prefixes);
          std::vector<std::string> described;
          for (int32_t s : w.best_states) {
            described.push_back(model_.DescribeState(graph_.state(s)));
          }
          std::sort(described.begin(), described.end());
          described.erase(std::unique(described.begin(), described.end()), described.end());
          result.states = std::move(described);
          const Call<M>& failing = calls_[result.failing_call];
          result.explanation = model_.Describe(failing.in, failing.out);
          return result;
        }
        const Frame top = stack.back();
        stack.pop_back();
        const auto tk = static_cast<size_t>(top.call);
        if (w.return_entry[tk] >= 0) w.Relink(w.return_entry[tk]);
        w.Relink(w.call_entry[tk]);
        linearized[tk] = 0;
        if (calls_[tk].group >= 0) w.group_used[static_cast<size_t>(calls_[tk].group)] = 0;
        if (info_bit[tk] >= 0) {
          const auto b = static_cast<size_t>(info_bit[tk]);
          info[b / 64] &= ~(uint64_t{1} << (b % 64));
        } else {
          h1 ^= z1[tk];
          h2 ^= z2[tk];
          ++remaining;
        }
        state = top.prev_state;
        entry = next[static_cast<size_t>(w.call_entry[tk])];
        if (!top.forced) break;
      }
    }
    result.outcome = Outcome::kValid;
    return result;
  }

  const M& model_;
  const std::vector<Call<M>>& calls_;
  SearchControl control_;
  Account account_;
  StateGraph<M> graph_;
  uint64_t configurations_ = 0;
  Walk walk_;
  RunLifecycle lifecycle_;
};

}  // namespace faultline::checker::internal

#endif  // FAULTLINE_CHECKER_INTERNAL_ENGINE_H_
