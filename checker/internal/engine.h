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
// - states are interned and each (state, op) transition is computed once;
// - an info op is never linearized where it changes nothing (its state stays the same), since
//   leaving it out is as good;
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
#include <functional>
#include <limits>
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
};

enum class Outcome { kValid, kInvalid, kTimeLimit, kMemoryLimit, kCancelled, kBudget };

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

template <Model M>
class Search {
 public:
  using State = typename M::State;

  Search(const M& model, const std::vector<Call<M>>& calls, const SearchControl& control)
      : model_(model), calls_(calls), control_(control), account_(*control.budget) {}

  SearchResult Run() {
    SearchResult result = RunSearch();
    result.configurations = configurations_;
    result.peak_bytes = account_.held();
    return result;
  }

 private:
  struct StateHash {
    const M* model;
    size_t operator()(const State& s) const { return static_cast<size_t>(model->HashState(s)); }
  };

  struct Frame {
    int32_t call;
    int32_t prev_state;
    bool forced;  // a stuttering op, linearized without alternatives (see RunSearch)
  };

  // The interned id of a state, or -1 when out of memory.
  int32_t Intern(State s) {
    auto it = ids_.find(s);
    if (it != ids_.end()) return it->second;
    size_t bytes = sizeof(State) * 2 + 48;
    if constexpr (HasStateBytes<M>) bytes += model_.StateBytes(s);
    if (!account_.Grow(bytes)) return -1;
    const auto id = static_cast<int32_t>(states_.size());
    // Keys of a node-based map stay put, so states_ can point at them.
    states_.push_back(&ids_.emplace(std::move(s), id).first->first);
    return id;
  }

  // The state after call k from state id s: an id, -1 if the model refuses, -2 out of memory.
  int32_t Transition(int32_t s, size_t k) {
    const uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(s)) << 32) | k;
    if (const int32_t* hit = transitions_.Find(key)) return *hit;
    const size_t before = transitions_.bytes();
    const size_t after = transitions_.bytes_after_insert();
    if (after > before && !account_.Grow(after - before)) return -2;
    if constexpr (HasReadOnly<M>) {
      if (model_.ReadOnly(calls_[k].in)) {
        const bool ok =
            model_.Accepts(*states_[static_cast<size_t>(s)], calls_[k].in, calls_[k].out);
        transitions_.Insert(key, ok ? s : -1);
        return ok ? s : -1;
      }
    }
    std::optional<State> next =
        model_.Step(*states_[static_cast<size_t>(s)], calls_[k].in, calls_[k].out);
    int32_t id = -1;
    if (next) {
      id = Intern(std::move(*next));
      if (id < 0) return -2;
    }
    transitions_.Insert(key, id);
    return id;
  }

  bool IsReadOnly(size_t k) const {
    if constexpr (HasReadOnly<M>) {
      return model_.ReadOnly(calls_[k].in);
    } else {
      return false;
    }
  }

  // Checks limits; every few thousand steps.
  std::optional<Outcome> Interrupted() const {
    if (control_.stop != nullptr && control_.stop->load(std::memory_order_relaxed)) {
      return Outcome::kTimeLimit;
    }
    if (control_.min_invalid != nullptr &&
        control_.min_invalid->load(std::memory_order_relaxed) < control_.partition) {
      return Outcome::kCancelled;
    }
    if (control_.deadline && std::chrono::steady_clock::now() >= *control_.deadline) {
      return Outcome::kTimeLimit;
    }
    return std::nullopt;
  }

  SearchResult RunSearch() {
    SearchResult result;
    const size_t n = calls_.size();
    // Info ops: bitset positions and symmetry predecessors.
    std::vector<int32_t> info_bit(n, -1);
    std::vector<int32_t> sym_pred(n, -1);
    size_t ninfo = 0;
    size_t nreq = 0;
    for (size_t k = 0; k < n; ++k) {
      if (calls_[k].complete == kOpen) {
        info_bit[k] = static_cast<int32_t>(ninfo++);
        if (calls_[k].group < 0) {
          for (size_t j = k; j-- > 0;) {
            if (calls_[j].complete == kOpen && calls_[j].group < 0 &&
                calls_[j].in == calls_[k].in) {
              sym_pred[k] = static_cast<int32_t>(j);
              break;
            }
          }
        }
      } else {
        ++nreq;
      }
    }
    int32_t ngroups = 0;
    for (const Call<M>& c : calls_) ngroups = std::max(ngroups, c.group + 1);
    std::vector<uint8_t> group_used(static_cast<size_t>(ngroups), 0);
    const size_t words = (ninfo + 63) / 64;
    std::vector<uint64_t> info(words, 0);

    // Entries: calls and returns in real-time order; a circular list with sentinel `head`.
    struct Entry {
      size_t time;
      int32_t call;
      bool is_return;
    };
    std::vector<Entry> entries;
    entries.reserve(n + nreq);
    for (size_t k = 0; k < n; ++k) {
      entries.push_back(
          Entry{.time = calls_[k].invoke, .call = static_cast<int32_t>(k), .is_return = false});
      if (calls_[k].complete != kOpen) {
        entries.push_back(
            Entry{.time = calls_[k].complete, .call = static_cast<int32_t>(k), .is_return = true});
      }
    }
    std::sort(entries.begin(), entries.end(),
              [](const Entry& a, const Entry& b) { return a.time < b.time; });
    const auto head = static_cast<int32_t>(entries.size());
    std::vector<int32_t> next(entries.size() + 1);
    std::vector<int32_t> prev(entries.size() + 1);
    std::vector<int32_t> call_entry(n, -1);
    std::vector<int32_t> return_entry(n, -1);
    for (int32_t e = 0; e <= head; ++e) {
      next[static_cast<size_t>(e)] = e == head ? 0 : e + 1;
      prev[static_cast<size_t>(e)] = e == 0 ? head : e - 1;
      if (e == head) break;
      const Entry& en = entries[static_cast<size_t>(e)];
      (en.is_return ? return_entry : call_entry)[static_cast<size_t>(en.call)] = e;
    }
    if (entries.empty()) {
      next[static_cast<size_t>(head)] = head;
      prev[static_cast<size_t>(head)] = head;
    }
    auto unlink = [&](int32_t e) {
      next[static_cast<size_t>(prev[static_cast<size_t>(e)])] = next[static_cast<size_t>(e)];
      prev[static_cast<size_t>(next[static_cast<size_t>(e)])] = prev[static_cast<size_t>(e)];
    };
    auto relink = [&](int32_t e) {
      next[static_cast<size_t>(prev[static_cast<size_t>(e)])] = e;
      prev[static_cast<size_t>(next[static_cast<size_t>(e)])] = e;
    };

    // Zobrist words for ok ops, from a fixed seed: deterministic runs.
    std::vector<uint64_t> z1(n);
    std::vector<uint64_t> z2(n);
    for (size_t k = 0; k < n; ++k) {
      z1[k] = Mix64(2 * k + 1);
      z2[k] = Mix64((2 * k + 2) ^ 0x5bd1e995ULL);
    }

    if (!account_.Grow((entries.size() * 4 + n * 8) * sizeof(int64_t))) {
      result.outcome = Outcome::kMemoryLimit;
      return result;
    }
    Memo memo(words, account_);
    if (!memo.Init()) {
      result.outcome = Outcome::kMemoryLimit;
      return result;
    }
    int32_t state = Intern(model_.Init());
    if (state < 0) {
      result.outcome = Outcome::kMemoryLimit;
      return result;
    }

    std::vector<Frame> stack;
    std::vector<uint8_t> linearized(n, 0);
    uint64_t h1 = 0;
    uint64_t h2 = 0;
    size_t remaining = nreq;
    int32_t entry = next[static_cast<size_t>(head)];
    // The deepest failure seen, for the counterexample.
    int64_t best_depth = -1;
    int32_t best_call = -1;
    std::set<int32_t> best_states;
    std::vector<std::vector<size_t>> best_prefixes;
    uint64_t steps = 0;

    // At a new node, an ok read-only op (ReadOnly hook) that may be linearized now and accepts
    // the current state is linearized at once, without trying alternatives: in any linearization
    // from here it can be moved to this point, since it changes no state and every op that must
    // precede it in real time already has. So if that child fails, the node fails. (An op that
    // merely leaves this state unchanged, such as a write of the current value, does not qualify:
    // later it could change the state.)
    bool fresh = true;
    while (remaining > 0) {
      if ((++steps & 4095) == 0) {
        if (std::optional<Outcome> stop = Interrupted()) {
          result.outcome = *stop;
          return result;
        }
      }
      bool node_fails = false;
      if (fresh) {
        fresh = false;
        for (int32_t e = next[static_cast<size_t>(head)];
             e != head && !entries[static_cast<size_t>(e)].is_return;
             e = next[static_cast<size_t>(e)]) {
          const auto fk = static_cast<size_t>(entries[static_cast<size_t>(e)].call);
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
          if (++configurations_ == control_.max_configurations) {
            result.outcome = Outcome::kBudget;
            return result;
          }
          stack.push_back(
              Frame{.call = static_cast<int32_t>(fk), .prev_state = state, .forced = true});
          linearized[fk] = 1;
          unlink(e);
          unlink(return_entry[fk]);
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
          if (sym_pred[k] >= 0 && linearized[static_cast<size_t>(sym_pred[k])] == 0) {
            allowed = false;
          }
          if (calls_[k].group >= 0 && group_used[static_cast<size_t>(calls_[k].group)] != 0) {
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
              if (++configurations_ == control_.max_configurations) {
                result.outcome = Outcome::kBudget;
                return result;
              }
              stack.push_back(Frame{.call = en.call, .prev_state = state, .forced = false});
              fresh = true;
              linearized[k] = 1;
              if (calls_[k].group >= 0) group_used[static_cast<size_t>(calls_[k].group)] = 1;
              unlink(entry);
              if (return_entry[k] >= 0) unlink(return_entry[k]);
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
      const auto depth = static_cast<int64_t>(nreq - remaining);
      if (!node_fails && depth > best_depth) {
        best_depth = depth;
        best_call = en.call;
        best_states.clear();
        best_prefixes.clear();
      }
      if (!node_fails && depth == best_depth && en.call == best_call) {
        if (best_states.size() < 16) best_states.insert(state);
        if (best_prefixes.size() < 3) {
          std::vector<size_t> prefix;
          prefix.reserve(stack.size());
          for (const Frame& f : stack) prefix.push_back(static_cast<size_t>(f.call));
          if (std::find(best_prefixes.begin(), best_prefixes.end(), prefix) ==
              best_prefixes.end()) {
            best_prefixes.push_back(std::move(prefix));
          }
        }
      }
      // Backtrack: pop the op that created this node; a forced op's failure fails its parent too.
      for (;;) {
        if (stack.empty()) {
          result.outcome = Outcome::kInvalid;
          result.failing_call = static_cast<size_t>(std::max(best_call, 0));
          result.prefixes = std::move(best_prefixes);
          std::vector<std::string> described;
          for (int32_t s : best_states) {
            described.push_back(model_.DescribeState(*states_[static_cast<size_t>(s)]));
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
        if (return_entry[tk] >= 0) relink(return_entry[tk]);
        relink(call_entry[tk]);
        linearized[tk] = 0;
        if (calls_[tk].group >= 0) group_used[static_cast<size_t>(calls_[tk].group)] = 0;
        if (info_bit[tk] >= 0) {
          const auto b = static_cast<size_t>(info_bit[tk]);
          info[b / 64] &= ~(uint64_t{1} << (b % 64));
        } else {
          h1 ^= z1[tk];
          h2 ^= z2[tk];
          ++remaining;
        }
        state = top.prev_state;
        entry = next[static_cast<size_t>(call_entry[tk])];
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
  std::vector<const State*> states_;
  std::unordered_map<State, int32_t, StateHash> ids_{16, StateHash{&model_}};
  FlatMap transitions_;
  uint64_t configurations_ = 0;
};

}  // namespace faultline::checker::internal

#endif  // FAULTLINE_CHECKER_INTERNAL_ENGINE_H_
