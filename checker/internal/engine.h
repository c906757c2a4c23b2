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
// - with regions (HasRegions), states are factored: the walk's state is a tuple of the ids of its
//   projections onto each region alone (TupleTable), transitions are computed and cached on those
//   projections, and a whole State is built only for a counterexample. This is exact, since an op
//   reads and changes its own region only (so its step on the projection is the projection of its
//   step), and a state is determined by its projections. A configuration with a new state costs
//   4 bytes a region instead of a copy of the whole map (issue 16: c50-bad's memory);
// - the search is resumable: Check searches partitions in rounds with a growing bound on
//   configurations, and an undecided partition continues where the last round stopped;
// - an info op is never linearized where it changes nothing (its state stays the same), since
//   leaving it out is as good;
// - a read that must be linearized before any op that could reset what it reads, and that the
//   other ops cannot satisfy, fails the node at once (HasGrowing: a kv get among appends);
// - symmetry: of two info ops with equal inputs, the later-invoked one is linearized only after
//   the earlier one (any linearization using the later one alone can use the earlier one instead);
// - learning from failed branches (issue 16), for models whose state is a product of independent
//   regions (HasRegions: a kv map's keys). A failed node is explained by a set of regions R: the
//   node's projection onto R (its ops in R, its state on R) cannot be extended in the history
//   restricted to R, which implies that no configuration with the same projection can be extended
//   in the whole history (ops outside R neither read nor change R). The memo stores failures so
//   projected (a nogood), and the search backjumps: a child that failed for reasons R not touched
//   by the op that made it fails its parent too, whose other children need not be tried. Without
//   HasRegions every op is in region 0 and this is the plain memo of failed configurations.
//
// Why a failure's regions are sound (the closure in Explain): at a node whose first pending return
// is op x, the candidates are the ops invoked before x returned. In the history restricted to any R
// holding x's region, x is still the first pending return, so the candidates there are exactly
// those in R. If every candidate in R was refused by the model (which looks at the op's region
// only) or led to a child that fails projected onto regions within R, the projection onto R fails.
// Explain grows R from x's region until every candidate touching it is so explained. The forced
// read (below) and DeadByReads keep their reasons the same way (a read's region).
//
// Thread-safety: Search uses only its arguments; run many at once on different partitions.
#ifndef FAULTLINE_CHECKER_INTERNAL_ENGINE_H_
#define FAULTLINE_CHECKER_INTERNAL_ENGINE_H_

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
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

// Optional hook: the state is a product of up to 64 independent regions (a kv map's key slots mod
// 64). Region(in) is the one region an op looks at and may change: Step and Accepts depend on that
// region of the state only and leave the others alone. Project(s, mask) is s with every region
// outside mask set to one fixed value, so two states agree on mask exactly when their projections
// are equal. Overlay(s, t, mask) is s with the regions in mask taken from t. Lets the search learn
// failures projected onto regions and keep states factored by region (see the file comment).
template <typename M>
concept HasRegions = requires(const M& m, const typename M::State& s, const typename M::Input& in) {
  { m.Region(in) } -> std::same_as<uint32_t>;
  { m.Project(s, uint64_t{}) } -> std::same_as<typename M::State>;
  { m.Overlay(s, s, uint64_t{}) } -> std::same_as<typename M::State>;
};

// Optional hook: the heap bytes a state owns beyond sizeof(State), for the memory limit.
template <typename M>
concept HasStateBytes = requires(const M& m, const typename M::State& s) {
  { m.StateBytes(s) } -> std::convertible_to<size_t>;
};

inline constexpr size_t kOpen = std::numeric_limits<size_t>::max();

// Whether the calls touch more than one region (HasRegions). The frontier search (frontier.h)
// keeps whole configurations, whose number is then the product of the regions'; only the
// depth-first search, which learns failures per region, factors it.
template <typename M, typename Calls>
bool SeveralRegions(const M& model, const Calls& calls) {
  if constexpr (HasRegions<M>) {
    for (const auto& c : calls) {
      if (model.Region(c.in) != model.Region(calls.front().in)) return true;
    }
  }
  return false;
}

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

// The configurations' states of a HasRegions model, factored (see Search): a state is a tuple of
// `width` int32s, the ids in the StateGraph of its projections onto each region alone (-1: a
// region a projection leaves out), interned once under an int32 id. A tuple costs 4 bytes a
// region, where a whole State costs a copy of every region's value. Tuples live in fixed blocks
// (stable addresses) and are found through an open-addressing table of (hash, id) pairs. Memory
// is accounted through the caller's grow(bytes), which returns false past the budget.
//
// Thread-safety: one search's; not thread-safe.
class TupleTable {
 public:
  void set_width(size_t width) { width_ = width; }
  size_t width() const { return width_; }

  // REQUIRES: id was returned by Intern.
  const int32_t* at(int32_t id) const {
    const auto i = static_cast<size_t>(id);
    return blocks_[i / kBlockTuples].get() + (i % kBlockTuples) * width_;
  }

  // The id of tuple t (width() int32s), interned if new; -1 when out of memory.
  template <typename Grow>
  int32_t Intern(const int32_t* t, Grow&& grow) {
    if ((size_ + 1) * 4 > ids_.size() * 3) {
      const size_t capacity = ids_.empty() ? 1024 : ids_.size() * 2;
      if (!grow((capacity - ids_.size()) * sizeof(Slot))) return -1;
      std::vector<Slot> old(capacity);
      old.swap(ids_);
      for (const Slot& slot : old) {
        if (slot.id < 0) continue;
        size_t i = slot.hash & (capacity - 1);
        while (ids_[i].id >= 0) i = (i + 1) & (capacity - 1);
        ids_[i] = slot;
      }
    }
    uint64_t h = width_;
    for (size_t i = 0; i < width_; ++i) h = Mix64(h ^ static_cast<uint32_t>(t[i]));
    const auto h32 = static_cast<uint32_t>(h);
    const size_t mask = ids_.size() - 1;
    size_t i = h32 & mask;
    for (;; i = (i + 1) & mask) {
      const Slot& slot = ids_[i];
      if (slot.id < 0) break;
      if (slot.hash == h32 && std::equal(t, t + width_, at(slot.id))) return slot.id;
    }
    if (size_ % kBlockTuples == 0) {
      if (!grow(kBlockTuples * width_ * sizeof(int32_t))) return -1;
      blocks_.push_back(std::make_unique<int32_t[]>(kBlockTuples * width_));
    }
    const auto id = static_cast<int32_t>(size_);
    std::copy_n(t, width_, blocks_.back().get() + (size_ % kBlockTuples) * width_);
    ids_[i] = Slot{.hash = h32, .id = id};
    ++size_;
    return id;
  }

  size_t size() const { return size_; }

 private:
  static constexpr size_t kBlockTuples = 4096;
  struct Slot {
    uint32_t hash = 0;
    int32_t id = -1;  // -1: empty
  };
  size_t width_ = 1;
  std::vector<std::unique_ptr<int32_t[]>> blocks_;
  std::vector<Slot> ids_;
  size_t size_ = 0;
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
    // Where the records of the node this frame made begin in Walk::tried.
    uint32_t tried_begin;
  };

  int32_t Intern(State s) {
    return graph_.Intern(std::move(s), [this](size_t bytes) { return account_.Grow(bytes); });
  }
  int32_t Transition(int32_t s, size_t k) {
    return graph_.Transition(s, k, [this](size_t bytes) { return account_.Grow(bytes); });
  }

  // States of the walk (Walk::state, Frame::prev_state, the memo's keys under all regions) are ids
  // of tuples (TupleTable) for a HasRegions model, and ids in graph_ otherwise. A tuple holds the
  // graph_ ids of the state's projections onto each region alone: Step and Accepts look at one
  // region only, so transitions are computed and cached on those projections, and a whole State is
  // never built by the search (only Full, for a counterexample).

  // The graph_ id of `state` projected onto call k's region alone (the state itself without
  // regions).
  int32_t Sub(int32_t state, size_t k) const {
    if constexpr (HasRegions<M>) {
      return walk_.tuples.at(state)[walk_.slot[k]];
    } else {
      return state;
    }
  }
  // `state` with call k's region replaced by `sub` (a graph_ id), interned; -2 when out of memory.
  int32_t WithSub(int32_t state, size_t k, int32_t sub) {
    if constexpr (HasRegions<M>) {
      Walk& w = walk_;
      const int32_t* t = w.tuples.at(state);
      std::copy_n(t, w.tuple.size(), w.tuple.begin());
      w.tuple[w.slot[k]] = sub;
      const int32_t id = InternTuple();
      return id < 0 ? -2 : id;
    } else {
      return sub;
    }
  }
  // Interns Walk::tuple; -1 when out of memory.
  int32_t InternTuple() {
    return walk_.tuples.Intern(walk_.tuple.data(),
                               [this](size_t bytes) { return account_.Grow(bytes); });
  }
  // The whole state, built (for descriptions).
  State Full(int32_t state) const {
    if constexpr (HasRegions<M>) {
      const Walk& w = walk_;
      State full = model_.Init();
      const int32_t* t = w.tuples.at(state);
      for (size_t i = 0; i < w.tuple.size(); ++i) {
        const uint64_t region = uint64_t{1} << w.region_at[i];
        full = model_.Overlay(full, graph_.state(t[i]), region);
      }
      return full;
    } else {
      return graph_.state(state);
    }
  }

  uint64_t Resets(size_t k) const {
    if constexpr (HasGrowing<M>) {
      return model_.Resets(calls_[k].in);
    } else {
      return ~uint64_t{0};
    }
  }

  // At a node with state `state`, whose list scan for forced reads stopped at entry `e` (the first
  // return) with `resets` the Resets of the calls before it: whether the node cannot succeed.
  // Going on down the list, an ok read whose return comes before every call that may reset its
  // regions (calls after its return cannot be linearized before it) must read a state grown
  // from this one. Bounded, to keep the cost per node small. Returns the read's regions (which
  // explain the failure), or 0.
  uint64_t DeadByReads(int32_t state, int32_t e, uint64_t resets) const {
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
        if (!model_.CanReach(graph_.state(Sub(state, k)), calls_[k].in, calls_[k].out)) {
          return w.footprint[k];
        }
        if (++reads == kMaxReads) break;
      }
    }
    return 0;
  }

  bool IsReadOnly(size_t k) const { return graph_.IsReadOnly(k); }

  // Masks (region sets) failures may be stored under; past this many, under all regions.
  static constexpr size_t kMaxMasks = 4096;

  // The index of the mask for `regions`: a new one while there are fewer than kMaxMasks, else 0
  // (all regions: a failure explained by some regions is explained by any superset of them).
  uint32_t MaskIndex(uint64_t regions) {
    Walk& w = walk_;
    regions &= w.all_regions;
    auto it = w.mask_index.find(regions);
    if (it != w.mask_index.end()) return it->second;
    if (w.masks.size() >= kMaxMasks || !account_.Grow(w.info.size() * 8 + 96)) return 0;
    AddMask(regions);
    return w.mask_index.at(regions);
  }
  void AddMask(uint64_t regions) {
    Walk& w = walk_;
    const auto idx = static_cast<uint32_t>(w.masks.size());
    typename Walk::Mask m{.regions = regions,
                          .salt1 = Mix64(regions ^ 0x6a09e667f3bcc909ULL),
                          .salt2 = Mix64(regions ^ 0xbb67ae8584caa73bULL),
                          .info = std::vector<uint64_t>(w.info.size(), 0),
                          .stored = 0};
    for (uint64_t r = regions; r != 0; r &= r - 1) {
      const auto b = static_cast<size_t>(std::countr_zero(r));
      const std::vector<uint64_t>& bits = w.region_info[b];
      for (size_t i = 0; i < bits.size(); ++i) m.info[i] |= bits[i];
      w.masks_of_region[b].push_back(idx);
    }
    w.masks.push_back(std::move(m));
    w.mask_index.emplace(regions, idx);
  }

  // The id of `state` projected onto mask idx, -2 when out of memory: for one region, the graph_
  // id of that projection (in the tuple); for all regions, the state itself; otherwise the tuple
  // with the other regions left out (-1), interned. Ids differ in kind between masks, which the
  // memo keeps apart (a mask's salt is in its keys).
  int32_t Projected(int32_t state, uint32_t idx) {
    if constexpr (HasRegions<M>) {
      Walk& w = walk_;
      const uint64_t regions = w.masks[idx].regions;
      const int32_t* t = w.tuples.at(state);
      if (std::popcount(regions) == 1) {
        return t[w.pos_of_region[static_cast<size_t>(std::countr_zero(regions))]];
      }
      if (regions == w.all_regions) return state;
      const uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(state)) << 16) | idx;
      if (const int32_t* hit = w.projected.Find(key)) return *hit;
      for (size_t i = 0; i < w.tuple.size(); ++i) {
        w.tuple[i] = ((regions >> w.region_at[i]) & 1) != 0 ? t[i] : -1;
      }
      const int32_t id = InternTuple();
      if (id < 0) return -2;
      const size_t before = w.projected.bytes();
      const size_t after = w.projected.bytes_after_insert();
      if (after > before && !account_.Grow(after - before)) return -2;
      w.projected.Insert(key, id);
      return id;
    }
    return state;
  }
  // The memo hashes of the configuration on top projected onto mask idx, with ok call k
  // linearized in addition (k = kOpen: none).
  std::pair<uint64_t, uint64_t> Key(uint32_t idx, size_t k) const {
    const Walk& w = walk_;
    const typename Walk::Mask& m = w.masks[idx];
    uint64_t a = m.salt1;
    uint64_t b = m.salt2;
    for (uint64_t r = m.regions; r != 0; r &= r - 1) {
      const auto i = static_cast<size_t>(std::countr_zero(r));
      a ^= w.h1[i];
      b ^= w.h2[i];
    }
    if (k != kOpen && w.info_bit[k] < 0 && (w.footprint[k] & m.regions) != 0) {
      a ^= w.z1[k];
      b ^= w.z2[k];
    }
    return {a, b};
  }

  struct Probe {
    bool out_of_memory = false;
    uint64_t reason = 0;  // the regions of the stored failure that matches; 0: none
    int32_t state = -1;   // the child's state, when it had to be built
  };
  // Whether the child made by call k matches a stored failure (an info op's bit already set in
  // Walk::info). `sub` is the child's state projected onto k's region alone (Sub), and `ns` the
  // child's state, or -1 when not yet known (it is then built only if a larger mask needs it).
  // Only masks holding k's region can match: under any other the child projects as its parent
  // does, and a failure stored under it would have failed the parent.
  Probe Learned(size_t k, int32_t ns, int32_t sub) {
    Walk& w = walk_;
    Probe probe;
    probe.state = ns;
    const auto b = static_cast<size_t>(std::countr_zero(w.footprint[k]));
    for (uint32_t idx : w.masks_of_region[b]) {
      if (w.masks[idx].stored == 0) continue;
      int32_t p = std::popcount(w.masks[idx].regions) == 1 ? sub : -1;
      if (p < 0) {
        if (probe.state < 0) probe.state = Materialize(k, sub);
        if (probe.state == -2) return Probe{.out_of_memory = true, .reason = 0, .state = -1};
        p = Projected(probe.state, idx);
      }
      if (p == -2) return Probe{.out_of_memory = true, .reason = 0, .state = -1};
      const auto [h1, h2] = Key(idx, k);
      if (w.memo->Seen(h1, h2, p, w.info.data())) {
        probe.reason = w.masks[idx].regions;
        return probe;
      }
    }
    return probe;
  }

  // The state after call k from the node on top, whose projection onto k's region is `sub`; -2
  // when out of memory.
  int32_t Materialize(size_t k, int32_t sub) { return WithSub(walk_.state, k, sub); }

  // Stores the failure of the configuration on top, explained by `reason`; false when out of
  // memory.
  bool Learn(uint64_t reason) {
    Walk& w = walk_;
    const uint32_t idx = MaskIndex(reason);
    const int32_t p = Projected(w.state, idx);
    if (p == -2) return false;
    const auto [h1, h2] = Key(idx, kOpen);
    const std::vector<uint64_t>& bits = w.masks[idx].info;
    for (size_t i = 0; i < w.info.size(); ++i) w.scratch[i] = w.info[i] & bits[i];
    if (!w.memo->Insert(h1, h2, p, w.scratch.data())) return false;
    ++w.masks[idx].stored;
    return true;
  }

  // The regions that explain the failure of the node on top, whose first pending return is call
  // x: x's region, grown until every tried child touching it failed within it (file comment).
  uint64_t Explain(size_t x) const {
    const Walk& w = walk_;
    uint64_t r = w.footprint[x];
    const size_t begin = w.stack.empty() ? 0 : w.stack.back().tried_begin;
    for (bool grew = true; grew;) {
      grew = false;
      for (size_t i = begin; i < w.tried.size(); ++i) {
        const typename Walk::Tried& t = w.tried[i];
        if ((t.footprint & r) != 0 && (t.reason & ~r) != 0) {
          r |= t.reason;
          grew = true;
        }
      }
    }
    return r;
  }

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
    std::optional<Memo> memo;  // failed configurations, projected (see Learn)
    std::vector<Frame> stack;
    std::vector<uint8_t> linearized;
    int32_t state = 0;
    // Per region: the Zobrist words of its linearized ok ops.
    std::array<uint64_t, 64> h1{};
    std::array<uint64_t, 64> h2{};
    // Per call: the bit of its region (1 when the model has no regions).
    std::vector<uint64_t> footprint;
    uint64_t all_regions = 0;  // the union of the footprints
    // Per region: the info-bitset words of its info ops.
    std::vector<std::vector<uint64_t>> region_info;
    // The region sets failures were stored under (index 0: all_regions). Stored nogoods are
    // looked up only under these, and only under those holding the region that changed.
    struct Mask {
      uint64_t regions = 0;
      uint64_t salt1 = 0;
      uint64_t salt2 = 0;
      std::vector<uint64_t> info;  // info-bitset words of the info ops in these regions
      size_t stored = 0;
    };
    std::vector<Mask> masks;
    std::unordered_map<uint64_t, uint32_t> mask_index;
    std::array<std::vector<uint32_t>, 64> masks_of_region;
    FlatMap projected;  // (state id << 16 | mask index) -> id of the projected state
    // HasRegions: the states as tuples (see Sub); the regions in all_regions in order (region_at)
    // and each one's place in a tuple (pos_of_region); per call, its region's place (slot); a
    // tuple being built.
    TupleTable tuples;
    std::vector<uint32_t> region_at;
    std::array<size_t, 64> pos_of_region{};
    std::vector<size_t> slot;
    std::vector<int32_t> tuple;
    std::vector<uint64_t> scratch;  // info words masked for Learn
    // For the node on top and its ancestors: what each tried child was (its op's footprint) and
    // the regions that explain its failure (for a refused op, its footprint). See Explain.
    struct Tried {
      uint64_t footprint;
      uint64_t reason;
    };
    std::vector<Tried> tried;
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

    // Regions: each call's, and each region's info ops.
    w.footprint.assign(n, 1);
    if constexpr (HasRegions<M>) {
      for (size_t k = 0; k < n; ++k)
        w.footprint[k] = uint64_t{1} << (model_.Region(calls_[k].in) % 64);
    }
    w.all_regions = 0;
    for (uint64_t f : w.footprint) w.all_regions |= f;
    w.region_info.assign(64, std::vector<uint64_t>(words, 0));
    for (size_t k = 0; k < n; ++k) {
      if (w.info_bit[k] < 0) continue;
      const auto b = static_cast<size_t>(w.info_bit[k]);
      w.region_info[static_cast<size_t>(std::countr_zero(w.footprint[k]))][b / 64] |= uint64_t{1}
                                                                                      << (b % 64);
    }
    w.scratch.assign(words, 0);
    w.masks.clear();
    AddMask(w.all_regions);
    if (std::popcount(w.all_regions) > 1) {
      for (uint64_t r = w.all_regions; r != 0; r &= r - 1) AddMask(r & -r);
    }

    if (!account_.Grow((w.entries.size() * 4 + n * 8 + 64 * words) * sizeof(int64_t))) return false;
    w.memo.emplace(words, account_);
    if (!w.memo->Init()) return false;
    if constexpr (HasRegions<M>) {
      w.region_at.clear();
      for (uint64_t r = w.all_regions; r != 0; r &= r - 1) {
        const auto b = static_cast<uint32_t>(std::countr_zero(r));
        w.pos_of_region[b] = w.region_at.size();
        w.region_at.push_back(b);
      }
      w.slot.resize(n);
      for (size_t k = 0; k < n; ++k) {
        w.slot[k] = w.pos_of_region[static_cast<size_t>(std::countr_zero(w.footprint[k]))];
      }
      w.tuples.set_width(w.region_at.size());
      w.tuple.assign(w.region_at.size(), -1);
      const State init = model_.Init();
      for (size_t i = 0; i < w.region_at.size(); ++i) {
        w.tuple[i] = Intern(model_.Project(init, uint64_t{1} << w.region_at[i]));
        if (w.tuple[i] < 0) return false;
      }
      w.state = InternTuple();
    } else {
      w.state = Intern(model_.Init());
    }
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

  // Linearizes call k (its list entry e) from the node on top, making the child node on top.
  void Push(size_t k, int32_t e, int32_t next_state, bool forced) {
    Walk& w = walk_;
    w.stack.push_back(Frame{.call = static_cast<int32_t>(k),
                            .prev_state = w.state,
                            .forced = forced,
                            .tried_begin = static_cast<uint32_t>(w.tried.size())});
    ++configurations_;
    w.fresh = true;
    w.linearized[k] = 1;
    if (calls_[k].group >= 0) w.group_used[static_cast<size_t>(calls_[k].group)] = 1;
    w.Unlink(e);
    if (w.return_entry[k] >= 0) w.Unlink(w.return_entry[k]);
    if (w.info_bit[k] < 0) {
      --w.remaining;
      const auto r = static_cast<size_t>(std::countr_zero(w.footprint[k]));
      w.h1[r] ^= w.z1[k];
      w.h2[r] ^= w.z2[k];
    }
    w.state = next_state;
    w.entry = w.next[static_cast<size_t>(w.head)];
  }

  // Undoes the top frame; the parent node is on top again and its scan goes on after the call.
  Frame Pop() {
    Walk& w = walk_;
    const Frame top = w.stack.back();
    w.stack.pop_back();
    w.tried.resize(top.tried_begin);
    const auto tk = static_cast<size_t>(top.call);
    if (w.return_entry[tk] >= 0) w.Relink(w.return_entry[tk]);
    w.Relink(w.call_entry[tk]);
    w.linearized[tk] = 0;
    if (calls_[tk].group >= 0) w.group_used[static_cast<size_t>(calls_[tk].group)] = 0;
    if (w.info_bit[tk] >= 0) {
      const auto b = static_cast<size_t>(w.info_bit[tk]);
      w.info[b / 64] &= ~(uint64_t{1} << (b % 64));
    } else {
      const auto r = static_cast<size_t>(std::countr_zero(w.footprint[tk]));
      w.h1[r] ^= w.z1[tk];
      w.h2[r] ^= w.z2[tk];
      ++w.remaining;
    }
    w.state = top.prev_state;
    w.entry = w.next[static_cast<size_t>(w.call_entry[tk])];
    return top;
  }

  SearchResult Invalid() {
    Walk& w = walk_;
    SearchResult result;
    result.outcome = Outcome::kInvalid;
    result.failing_call = static_cast<size_t>(std::max(w.best_call, 0));
    result.prefixes = std::move(w.best_prefixes);
    std::vector<std::string> described;
    for (int32_t s : w.best_states) described.push_back(model_.DescribeState(Full(s)));
    std::sort(described.begin(), described.end());
    described.erase(std::unique(described.begin(), described.end()), described.end());
    result.states = std::move(described);
    const Call<M>& failing = calls_[result.failing_call];
    result.explanation = model_.Describe(failing.in, failing.out);
    return result;
  }

  // At the return of call k the node fails: remembers the deepest such failures for the
  // counterexample.
  void NoteFailure(size_t k) {
    Walk& w = walk_;
    const auto depth = static_cast<int64_t>(w.nreq - w.remaining);
    const auto call = static_cast<int32_t>(k);
    if (depth > w.best_depth) {
      w.best_depth = depth;
      w.best_call = call;
      w.best_states.clear();
      w.best_prefixes.clear();
    }
    if (depth != w.best_depth || call != w.best_call) return;
    if (w.best_states.size() < 16) w.best_states.insert(w.state);
    if (w.best_prefixes.size() < 3) {
      std::vector<size_t> prefix;
      prefix.reserve(w.stack.size());
      for (const Frame& f : w.stack) prefix.push_back(static_cast<size_t>(f.call));
      if (std::find(w.best_prefixes.begin(), w.best_prefixes.end(), prefix) ==
          w.best_prefixes.end()) {
        w.best_prefixes.push_back(std::move(prefix));
      }
    }
  }

  SearchResult Loop() {
    SearchResult result;
    Walk& w = walk_;
    const int32_t head = w.head;
    const std::vector<Entry>& entries = w.entries;
    const std::vector<int32_t>& next = w.next;
    const std::vector<int32_t>& info_bit = w.info_bit;
    int32_t& entry = w.entry;
    std::vector<uint64_t>& info = w.info;
    const uint64_t bound = control_.max_configurations;
    auto out_of_memory = [&] {
      result.outcome = Outcome::kMemoryLimit;
      return result;
    };

    // At a new node, an ok read-only op (ReadOnly hook) that may be linearized now and accepts
    // the current state is linearized at once, without trying alternatives: in any linearization
    // from here it can be moved to this point, since it changes no state and every op that must
    // precede it in real time already has. So if that child fails, the node fails, for the same
    // regions. (An op that merely leaves this state unchanged, such as a write of the current
    // value, does not qualify: later it could change the state.)
    while (w.remaining > 0) {
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
      // Set when the node on top fails: the regions that explain it (see the file comment).
      uint64_t fail = 0;
      if (w.fresh) {
        w.fresh = false;
        uint64_t resets = 0;  // Resets of the calls scanned (HasGrowing)
        int32_t e = next[static_cast<size_t>(head)];
        for (; e != head && !entries[static_cast<size_t>(e)].is_return;
             e = next[static_cast<size_t>(e)]) {
          const auto fk = static_cast<size_t>(entries[static_cast<size_t>(e)].call);
          resets |= Resets(fk);
          if (info_bit[fk] >= 0 || !IsReadOnly(fk)) continue;
          const int32_t sub = Transition(Sub(w.state, fk), fk);  // Sub(w.state, fk) or -1
          if (sub == -2) return out_of_memory();
          if (sub < 0) continue;
          const Probe p = Learned(fk, w.state, sub);
          if (p.out_of_memory) return out_of_memory();
          if (p.reason != 0) {
            fail = p.reason;
            break;
          }
          Push(fk, e, w.state, /*forced=*/true);
          break;
        }
        if (w.fresh) continue;
        if (fail == 0) fail = DeadByReads(w.state, e, resets);
      }
      if (fail == 0) {
        if (entry == head) break;  // only when every ok op is linearized: the loop condition
        const Entry& en = entries[static_cast<size_t>(entry)];
        const auto k = static_cast<size_t>(en.call);
        if (en.is_return) {
          // Op k had to be linearized by now.
          NoteFailure(k);
          fail = Explain(k);
        } else {
          const bool is_info = info_bit[k] >= 0;
          bool allowed = true;
          if (is_info) {
            if (w.sym_pred[k] >= 0 && w.linearized[static_cast<size_t>(w.sym_pred[k])] == 0) {
              allowed = false;
            }
            if (calls_[k].group >= 0 && w.group_used[static_cast<size_t>(calls_[k].group)] != 0) {
              allowed = false;
            }
          }
          // The child's projection onto k's region (sub, from the node's: base) and its state
          // (ns), which with regions is interned only when the child is new (see Learned).
          int32_t ns = -1;
          int32_t sub = -1;
          int32_t base = -1;
          if (allowed) {
            base = Sub(w.state, k);
            sub = Transition(base, k);
            if (sub == -2) return out_of_memory();
            if (IsReadOnly(k) && sub >= 0) {
              ns = w.state;
            } else if constexpr (!HasRegions<M>) {
              ns = sub;
            }
          }
          if (allowed && sub < 0) {
            w.tried.push_back({.footprint = w.footprint[k], .reason = w.footprint[k]});
          } else if (allowed && !(is_info && sub == base)) {
            const uint64_t bit = is_info ? uint64_t{1} << (info_bit[k] % 64) : 0;
            const size_t word = is_info ? static_cast<size_t>(info_bit[k]) / 64 : 0;
            if (is_info) info[word] |= bit;
            const Probe p = Learned(k, ns, sub);
            if (p.out_of_memory) return out_of_memory();
            if (p.reason == 0) {
              ns = p.state >= 0 ? p.state : Materialize(k, sub);
              if (ns == -2) return out_of_memory();
              Push(k, entry, ns, /*forced=*/false);
              continue;
            }
            if (is_info) info[word] &= ~bit;
            if ((p.reason & w.footprint[k]) == 0) {
              // The child projects onto those regions as this node does: it fails as well.
              fail = p.reason;
            } else {
              w.tried.push_back({.footprint = w.footprint[k], .reason = p.reason});
            }
          }
          if (fail == 0) {
            entry = next[static_cast<size_t>(entry)];
            continue;
          }
        }
      }
      // The node on top fails for the regions in `fail`: store that, then backtrack. A parent
      // whose op is outside those regions projects as its child does, so it fails too and is
      // left at once (a backjump); so does the parent of a forced op.
      if (!Learn(fail)) return out_of_memory();
      for (;;) {
        if (w.stack.empty()) return Invalid();
        const Frame top = Pop();
        const uint64_t touched = w.footprint[static_cast<size_t>(top.call)] & fail;
        if (top.forced) {
          if (touched != 0 && !Learn(fail)) return out_of_memory();
          continue;
        }
        if (touched == 0) continue;
        w.tried.push_back(
            {.footprint = w.footprint[static_cast<size_t>(top.call)], .reason = fail});
        break;
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
