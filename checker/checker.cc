// Check: decodes a history for a model, splits it into independent partitions (P-compositionality)
// and runs the search (internal/engine.h) on each, in parallel, in a deterministic way.
//
// Partitions:
// - kv partitions by Op::key (Porcupine's kv files); "kv-unpartitioned" checks one map state.
// - Jepsen "independent" histories, whose client values are [key value], are split per key and
//   checked with the inner model. The rule: a model name "independent/NAME" forces it; otherwise
//   it applies when every client invocation's value is a 2-element vector or list and every op
//   decodes that way (a plain register history fails this, since reads are invoked with nil and a
//   plain cas [old new] has no inner [old new]); if decoding fails, the history is checked plain.
//
// Determinism: each partition's search is deterministic, and partitions are searched in rounds
// with a growing bound on configurations (see RunPartitions). The reported violation is that of
// the smallest key (in history::ValueLess order) among those found invalid in the first round that
// finds one; finding it cancels only partitions with larger keys. The same input therefore gives
// the same counterexample on any number of threads (unless a time or memory limit intervenes).
//
// register and cas-register partitions first go through FindStaleRead, a cheap sound detector, and
// then FindWriteOrderCycle (internal/write_order.h), which infers the order of the writes (also
// for kv keys, with puts and appends, split by key or in the whole map key by key).
#include "checker/checker.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "checker/internal/engine.h"
#include "checker/internal/frontier.h"
#include "checker/internal/write_order.h"
#include "checker/models.h"

namespace faultline::checker {
namespace {

using history::History;
using history::Op;
using history::Value;
using internal::Call;
using internal::Outcome;

constexpr std::string_view kIndependentPrefix = "independent/";
// Configurations a partition may explore in the first round, and the growth per round (see
// RunPartitions). An undecided partition's search resumes in the next round, so no work is
// repeated; the bound only orders the partitions' work.
constexpr uint64_t kFirstBound = 4096;
constexpr uint64_t kBoundGrowth = 16;
// kAuto: the round bound from which the frontier search runs beside the depth-first one (the third
// round). Histories the depth-first search decides quickly are left to it alone, so their verdicts
// and counterexamples do not change; a hard one gets both, each with the same bound per round.
constexpr uint64_t kFrontierFrom = kFirstBound * kBoundGrowth * kBoundGrowth;

template <typename M>
struct Partition {
  std::optional<Value> key;  // nullopt: the whole history
  std::vector<Call<M>> calls;
};

enum class Split { kNone, kByOpKey, kIndependent };

std::string Where(const History& h, size_t pos) {
  const int64_t line = h.line(pos);
  const std::string& src = h.source_name();
  std::string where = src.empty() ? std::string() : src + ": ";
  if (line > 0) where += fmt::format("line {}: ", line);
  return where + fmt::format("op {}", h[pos].index);
}

template <typename M>
Result<std::vector<Partition<M>>> DecodePartitions(M& model, std::string_view model_name,
                                                   const History& h, Split split) {
  std::map<Value, std::vector<Call<M>>, history::ValueLess> keyed;
  std::vector<Call<M>> single;
  for (size_t i = 0; i < h.size(); ++i) {
    const Op& inv = h[i];
    if (!inv.is_invoke() || !inv.is_client()) continue;
    const size_t p = h.partner(i);
    const Op* comp = p == History::kNone ? nullptr : &h[p];
    std::optional<Value> key;
    Op inner_inv;
    Op inner_comp;
    const Op* use_inv = &inv;
    const Op* use_comp = comp;
    if (split == Split::kIndependent) {
      if (!inv.value.is_sequential() || inv.value.size() != 2) {
        return MakeError(ErrorCode::kInvalidArgument,
                         fmt::format("{}: {}: independent value must be [key value], got {}",
                                     model_name, Where(h, i), inv.value.ToEdn()));
      }
      key = inv.value.items()[0];
      inner_inv = inv;
      inner_inv.value = inv.value.items()[1];
      use_inv = &inner_inv;
      if (comp != nullptr) {
        inner_comp = *comp;
        if (comp->value.is_sequential() && comp->value.size() == 2) {
          inner_comp.value = comp->value.items()[1];
        }
        use_comp = &inner_comp;
      }
    } else if (split == Split::kByOpKey) {
      key = inv.key.value_or(Value::Nil());
    }
    auto decoded = model.Decode(*use_inv, use_comp);
    if (!decoded) {
      return std::move(decoded).error().WithContext(fmt::format("{}: {}", model_name, Where(h, i)));
    }
    std::vector<Call<M>>& calls = key ? keyed[*key] : single;
    for (auto& d : *decoded) {
      calls.push_back(Call<M>{.invoke = i,
                              .complete = d.info ? internal::kOpen : p,
                              .in = std::move(d.in),
                              .out = std::move(d.out),
                              .group = -1});
    }
  }
  std::vector<Partition<M>> parts;
  if (split == Split::kNone) {
    parts.push_back(Partition<M>{.key = std::nullopt, .calls = std::move(single)});
  } else {
    for (auto& [key, calls] : keyed) {
      parts.push_back(Partition<M>{.key = key, .calls = std::move(calls)});
    }
  }
  if constexpr (std::is_same_v<M, QueueModel>) {
    // An unordered info dequeue removed one unknown element: one alternative per value.
    if (!model.fifo()) {
      const std::vector<int32_t> values = model.EnqueuedValues();
      int32_t group = 0;
      for (Partition<M>& part : parts) {
        std::vector<Call<M>> expanded;
        for (Call<M>& c : part.calls) {
          if (c.in.kind != QueueModel::Input::Kind::kDequeue || c.out.known) {
            expanded.push_back(std::move(c));
            continue;
          }
          for (int32_t v : values) {
            Call<M> alt = c;
            alt.in.value = v;
            alt.group = group;
            expanded.push_back(std::move(alt));
          }
          ++group;
        }
        part.calls = std::move(expanded);
      }
    }
  }
  return parts;
}

bool LooksIndependent(const History& h) {
  size_t n = 0;
  for (const Op& op : h.ops()) {
    if (!op.is_invoke() || !op.is_client()) continue;
    if (!op.value.is_sequential() || op.value.size() != 2) return false;
    ++n;
  }
  return n > 0;
}

std::string JoinStates(const std::vector<std::string>& states) {
  constexpr size_t kShown = 4;
  std::string out;
  for (size_t i = 0; i < states.size() && i < kShown; ++i) {
    if (i > 0) out += i + 1 == states.size() ? " or " : ", ";
    out += states[i];
  }
  if (states.size() > kShown) out += fmt::format(" or {} other states", states.size() - kShown);
  return out;
}

std::string Seconds(double s) { return fmt::format("{:g} s", s); }

// A cheap sound detector for the commonest register violations, run before the search: a read of
// v (an ok read returning v, or an ok cas from v, which compared equal) where every op that could
// set v (ok writes of v, ok cas to v, the initial value) completed before some ok op X set another
// value (or read another value), and X completed before the read began. No info op may
// write v (it could take effect late). Whatever the order, the register cannot hold v at the
// read, so the history is not linearizable; the search would have to exhaust every configuration
// before the read to learn that. A read of a value nothing writes is the same case without X.
// Returns the invalid result for the earliest such read (by invocation), or nothing.
std::optional<internal::SearchResult> FindStaleRead(const RegisterModel& model,
                                                    const std::vector<Call<RegisterModel>>& calls) {
  using Kind = RegisterModel::Input::Kind;
  using OutKind = RegisterModel::Output::Kind;
  constexpr int64_t kBlocked = std::numeric_limits<int64_t>::max();
  auto new_value = [](const Call<RegisterModel>& c) {
    return c.in.kind == Kind::kWrite ? c.in.a : c.in.b;
  };
  auto writes = [](const Call<RegisterModel>& c) {
    return c.in.kind == Kind::kWrite || (c.in.kind == Kind::kCas && c.out.kind != OutKind::kFail);
  };
  // For each value: the last completion of an op that may set it (-1: the initial value only),
  // kBlocked when an info op may set it. Absent: nothing sets it.
  std::unordered_map<int32_t, int64_t> last_writer;
  last_writer[model.Init()] = -1;
  // Ok ops that show the register held a value at their point, by invocation: those that set it,
  // and ok reads (X may be a read of another value: the register held it, after every write of v).
  std::vector<size_t> overwrites;
  auto shown_value = [&](const Call<RegisterModel>& c) {
    return c.in.kind == Kind::kRead ? c.out.value : new_value(c);
  };
  std::unordered_map<int32_t, size_t> last_writer_call;
  for (size_t k = 0; k < calls.size(); ++k) {
    const Call<RegisterModel>& c = calls[k];
    if (c.in.kind == Kind::kRead && c.out.kind == OutKind::kValue &&
        c.complete != internal::kOpen) {
      overwrites.push_back(k);
      continue;
    }
    if (!writes(c)) continue;
    const int32_t v = new_value(c);
    int64_t& w = last_writer.try_emplace(v, -1).first->second;
    if (c.complete == internal::kOpen) {
      w = kBlocked;
      continue;
    }
    if (w != kBlocked && static_cast<int64_t>(c.complete) >= w) {
      w = static_cast<int64_t>(c.complete);
      last_writer_call[v] = k;
    }
    overwrites.push_back(k);
  }
  // Suffix minima over overwrites (ordered by invocation) of the completion, kept for the best
  // two distinct values so that "X sets a value other than v" can be answered.
  struct Best {
    int64_t complete = kBlocked;
    int32_t value = -1;
    size_t call = 0;
  };
  const size_t m = overwrites.size();
  std::vector<std::pair<Best, Best>> suffix(m + 1);
  for (size_t j = m; j-- > 0;) {
    const Call<RegisterModel>& c = calls[overwrites[j]];
    const Best cur{static_cast<int64_t>(c.complete), shown_value(c), overwrites[j]};
    auto [b1, b2] = suffix[j + 1];
    if (cur.complete < b1.complete) {
      if (cur.value != b1.value) b2 = b1;
      b1 = cur;
    } else if (cur.value != b1.value && cur.complete < b2.complete) {
      b2 = cur;
    }
    suffix[j] = {b1, b2};
  }
  for (size_t k = 0; k < calls.size(); ++k) {
    const Call<RegisterModel>& r = calls[k];
    // What the op read: a read's value, or the old value an ok cas compared with (it took effect,
    // so the register held that value at its point: a lost write shows up here).
    int32_t v = 0;
    if (r.in.kind == Kind::kRead && r.out.kind == OutKind::kValue) {
      v = r.out.value;
    } else if (r.in.kind == Kind::kCas && r.out.kind == OutKind::kOk &&
               r.complete != internal::kOpen) {
      v = r.in.a;
    } else {
      continue;
    }
    const std::string_view what = r.in.kind == Kind::kRead ? "the read" : "the cas";
    auto it = last_writer.find(v);
    std::optional<size_t> overwrite;
    if (it != last_writer.end()) {
      if (it->second == kBlocked) continue;
      const size_t first = static_cast<size_t>(
          std::upper_bound(overwrites.begin(), overwrites.end(), it->second,
                           [&](int64_t pos, size_t call) {
                             return pos < static_cast<int64_t>(calls[call].invoke);
                           }) -
          overwrites.begin());
      const Best& b = suffix[first].first.value != v ? suffix[first].first : suffix[first].second;
      if (b.complete == kBlocked || b.complete >= static_cast<int64_t>(r.invoke)) continue;
      overwrite = b.call;
    }
    internal::SearchResult result;
    result.outcome = Outcome::kInvalid;
    result.failing_call = k;
    std::vector<size_t> prefix;
    if (overwrite) {
      auto w = last_writer_call.find(v);
      if (w != last_writer_call.end()) prefix.push_back(w->second);
      prefix.push_back(*overwrite);
      const Call<RegisterModel>& x = calls[*overwrite];
      result.states = {model.DescribeState(shown_value(x))};
      result.explanation = model.Describe(r.in, r.out);
      const std::string verb =
          x.in.kind == Kind::kRead ? "ran after every write of" : "overwrote every write of";
      result.detail = fmt::format("{} {} {} before {} began", model.Describe(x.in, x.out), verb,
                                  model.DescribeState(v), what);
    } else {
      result.explanation = model.Describe(r.in, r.out);
      result.detail = fmt::format("no op writes {}", model.DescribeState(v));
    }
    result.prefixes.push_back(std::move(prefix));
    return result;
  }
  return std::nullopt;
}

template <typename M>
CheckResult RunPartitions(const M& model, std::vector<Partition<M>>& parts,
                          const CheckOptions& options,
                          std::chrono::steady_clock::time_point start) {
  CheckResult result;
  result.partitions = parts.size();
  internal::MemoryBudget budget(options.memory_limit_mb * size_t{1024} * 1024);
  std::atomic<bool> stop{false};
  std::atomic<size_t> min_invalid{std::numeric_limits<size_t>::max()};
  std::optional<std::chrono::steady_clock::time_point> deadline;
  if (options.time_limit_s > 0) {
    deadline = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                           std::chrono::duration<double>(options.time_limit_s));
  }
  // Rounds of iterative deepening: every undecided partition is searched with a bound on its
  // configurations, which grows kBoundGrowth times per round. The first round in which some
  // partition is invalid ends the check and reports its smallest invalid key. A bound counts
  // configurations, not time, so the reported key depends only on the input: a cheap violation on a
  // large key is found in milliseconds without waiting for a smaller key whose search is
  // exponential (Porcupine reports whichever it finds first).
  std::vector<internal::SearchResult> results(parts.size());
  std::vector<size_t> pending(parts.size());
  // Searches kept between rounds, for partitions still undecided.
  std::vector<std::unique_ptr<internal::Search<M>>> searches(parts.size());
  std::vector<std::unique_ptr<internal::Frontier<M>>> frontiers(parts.size());
  // Per partition: the frontier search does not apply or gave up.
  std::vector<uint8_t> no_frontier(parts.size(), 0);
  const SearchMode mode = options.search;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (mode == SearchMode::kDepthFirst || !internal::Frontier<M>::Applies(parts[i].calls) ||
        internal::SeveralRegions(model, parts[i].calls)) {
      no_frontier[i] = 1;
    }
  }
  for (size_t i = 0; i < parts.size(); ++i) pending[i] = i;
  uint64_t bound = kFirstBound;
  uint64_t explored = 0;
  std::atomic<uint64_t> round_explored{0};
  while (!pending.empty()) {
    std::atomic<size_t> next{0};
    round_explored = 0;
    auto worker = [&] {
      for (;;) {
        const size_t j = next.fetch_add(1);
        if (j >= pending.size()) return;
        const size_t i = pending[j];
        internal::SearchResult& r = results[i];
        if (min_invalid.load() < i) {
          r = internal::SearchResult{};
          r.outcome = Outcome::kCancelled;
          continue;
        }
        if (stop.load() || (deadline && std::chrono::steady_clock::now() >= *deadline)) {
          r = internal::SearchResult{};
          r.outcome = Outcome::kTimeLimit;
          continue;
        }
        internal::SearchControl control{.deadline = deadline,
                                        .budget = &budget,
                                        .stop = &stop,
                                        .min_invalid = &min_invalid,
                                        .partition = i,
                                        .max_configurations = bound};
        std::unique_ptr<internal::Search<M>>& search = searches[i];
        std::unique_ptr<internal::Frontier<M>>& frontier = frontiers[i];
        const bool frontier_only = mode == SearchMode::kFrontier && no_frontier[i] == 0;
        std::optional<internal::SearchResult> detected;
        if (!search && !frontier && mode != SearchMode::kFrontier && options.detectors) {
          if constexpr (std::is_same_v<M, RegisterModel>) {
            detected = FindStaleRead(model, parts[i].calls);
          }
          if constexpr (std::is_same_v<M, RegisterModel> || std::is_same_v<M, KvModel>) {
            if (!detected) detected = internal::FindWriteOrderCycle(model, parts[i].calls);
          }
        }
        if (detected) {
          r = std::move(*detected);
        } else {
          r = internal::SearchResult{};
          r.outcome = Outcome::kBudget;
          // A partition left undecided by the last round resumes where it stopped.
          if (!frontier_only) {
            if (search) {
              search->set_max_configurations(bound);
            } else {
              search = std::make_unique<internal::Search<M>>(model, parts[i].calls, control);
            }
            r = search->Run();
            if (r.outcome != Outcome::kBudget) search.reset();
          }
          if (r.outcome == Outcome::kBudget && no_frontier[i] == 0 &&
              (mode == SearchMode::kFrontier || bound >= kFrontierFrom)) {
            if (frontier) {
              frontier->set_max_configurations(bound);
            } else {
              frontier = std::make_unique<internal::Frontier<M>>(model, parts[i].calls, control);
            }
            internal::SearchResult f = frontier->Run();
            const uint64_t dfs_configurations = r.configurations;
            if (f.outcome == Outcome::kGaveUp || f.outcome == Outcome::kMemoryLimit) {
              // Too wide for the frontier search: the depth-first one goes on alone.
              frontier.reset();
              no_frontier[i] = 1;
              r.configurations += f.configurations;
              if (frontier_only) r.outcome = Outcome::kBudget;
            } else {
              if (f.outcome != Outcome::kBudget) {
                frontier.reset();
                search.reset();
              }
              r = std::move(f);
              r.configurations += dfs_configurations;
            }
          }
        }
        round_explored += r.configurations;
        if (r.outcome == Outcome::kInvalid) {
          size_t cur = min_invalid.load();
          while (i < cur && !min_invalid.compare_exchange_weak(cur, i)) {
          }
        }
        if (r.outcome == Outcome::kTimeLimit) stop.store(true);
      }
    };
    size_t threads = options.threads > 0 ? static_cast<size_t>(options.threads)
                                         : std::max(1u, std::thread::hardware_concurrency());
    threads = std::min(threads, pending.size());
    if (threads <= 1) {
      worker();
    } else {
      std::vector<std::jthread> pool;
      pool.reserve(threads);
      for (size_t t = 0; t < threads; ++t) pool.emplace_back(worker);
    }
    explored += round_explored.load();
    std::vector<size_t> again;
    for (size_t i : pending) {
      if (results[i].outcome == Outcome::kBudget) again.push_back(i);
    }
    if (min_invalid.load() != std::numeric_limits<size_t>::max() || stop.load()) {
      for (size_t i : again) results[i].outcome = Outcome::kCancelled;
      break;
    }
    pending = std::move(again);
    bound *= kBoundGrowth;
  }

  bool time_hit = false;
  bool memory_hit = false;
  for (size_t i = 0; i < parts.size(); ++i) {
    const internal::SearchResult& r = results[i];
    if (r.outcome == Outcome::kInvalid && !result.counterexample) {
      const auto& calls = parts[i].calls;
      Counterexample cx;
      cx.key = parts[i].key ? parts[i].key->ToEdn() : std::string();
      cx.failing_op = calls[r.failing_call].invoke;
      for (const auto& prefix : r.prefixes) {
        std::vector<size_t> positions;
        positions.reserve(prefix.size());
        for (size_t c : prefix) positions.push_back(calls[c].invoke);
        cx.prefixes.push_back(std::move(positions));
      }
      if (cx.prefixes.empty()) cx.prefixes.emplace_back();
      cx.states = r.states;
      cx.explanation = r.states.empty() ? fmt::format("{} cannot be linearized", r.explanation)
                                        : fmt::format("{}, but {} {}", r.explanation, M::kHolds,
                                                      JoinStates(r.states));
      if (!r.detail.empty()) cx.explanation += ": " + r.detail;
      result.counterexample = std::move(cx);
      result.validity = Validity::kInvalid;
    }
    if (r.outcome == Outcome::kTimeLimit || r.outcome == Outcome::kMemoryLimit) {
      time_hit |= r.outcome == Outcome::kTimeLimit;
      memory_hit |= r.outcome == Outcome::kMemoryLimit;
      result.unknown_keys.push_back(parts[i].key ? parts[i].key->ToEdn() : std::string());
    }
  }
  result.configurations = explored;
  result.peak_memory_bytes = budget.peak();
  if (result.validity != Validity::kInvalid && !result.unknown_keys.empty()) {
    result.validity = Validity::kUnknown;
    std::vector<std::string> limits;
    if (time_hit) limits.push_back(fmt::format("time limit of {}", Seconds(options.time_limit_s)));
    if (memory_hit) {
      limits.push_back(fmt::format("memory limit of {} MB", options.memory_limit_mb));
    }
    std::string keys;
    if (parts.size() > 1 || parts[0].key) {
      std::vector<std::string> shown(
          result.unknown_keys.begin(),
          result.unknown_keys.begin() +
              static_cast<std::ptrdiff_t>(std::min<size_t>(result.unknown_keys.size(), 10)));
      keys = fmt::format(" (keys {}{})", fmt::join(shown, ", "),
                         result.unknown_keys.size() > 10 ? ", ..." : "");
    }
    result.unknown_reason =
        fmt::format("{} reached: {} of {} partitions undecided{}, {} configurations explored",
                    fmt::join(limits, " and "), result.unknown_keys.size(), parts.size(), keys,
                    result.configurations);
  } else if (result.validity == Validity::kInvalid) {
    result.unknown_keys.clear();
  }
  return result;
}

template <typename M, typename Make>
Result<CheckResult> CheckWith(Make make, std::string_view name, const History& h,
                              const CheckOptions& options, bool force_independent, bool by_key,
                              std::chrono::steady_clock::time_point start) {
  FAULTLINE_ASSIGN_OR_RETURN(M model, make());
  Result<std::vector<Partition<M>>> parts = MakeError(ErrorCode::kInternal, "not decoded");
  if (force_independent) {
    parts = DecodePartitions(model, name, h, Split::kIndependent);
  } else if (by_key) {
    parts = DecodePartitions(model, name, h, Split::kByOpKey);
  } else {
    if (LooksIndependent(h)) {
      parts = DecodePartitions(model, name, h, Split::kIndependent);
      if (!parts) {
        FAULTLINE_ASSIGN_OR_RETURN(model, make());
      }
    }
    if (!parts) parts = DecodePartitions(model, name, h, Split::kNone);
  }
  if (!parts) return std::move(parts).error();
  CheckResult result = RunPartitions(model, *parts, options, start);
  for (const Op& op : h.ops()) {
    if (op.is_invoke() && op.is_client()) ++result.ops;
  }
  return result;
}

}  // namespace

std::string_view ValidityName(Validity v) {
  switch (v) {
    case Validity::kValid:
      return "valid";
    case Validity::kUnknown:
      return "unknown";
    case Validity::kInvalid:
      return "invalid";
  }
  return "unknown";
}

Validity Merge(Validity a, Validity b) {
  if (a == Validity::kInvalid || b == Validity::kInvalid) return Validity::kInvalid;
  if (a == Validity::kUnknown || b == Validity::kUnknown) return Validity::kUnknown;
  return Validity::kValid;
}

std::vector<std::string> ModelNames() {
  return {"cas-register", "fifo-queue", "kv",  "kv-unpartitioned", "multi-register",
          "mutex",        "register",   "set", "unordered-queue"};
}

Result<CheckResult> Check(const History& history, const CheckOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  std::string_view name = options.model;
  bool independent = false;
  if (name.substr(0, kIndependentPrefix.size()) == kIndependentPrefix) {
    independent = true;
    name.remove_prefix(kIndependentPrefix.size());
  }
  const std::optional<Value>& init = options.initial;
  Result<CheckResult> result = MakeError(ErrorCode::kInternal, "no model");
  if (name == "register" || name == "cas-register") {
    const bool cas = name == "cas-register";
    result = CheckWith<RegisterModel>([&] { return RegisterModel::Make(cas, init); }, name, history,
                                      options, independent, false, start);
  } else if (name == "kv" || name == "kv-unpartitioned") {
    const bool whole = name == "kv-unpartitioned";
    result = CheckWith<KvModel>([&] { return KvModel::Make(whole, init); }, name, history, options,
                                independent, !whole && !independent, start);
  } else if (name == "multi-register") {
    result = CheckWith<MultiRegisterModel>([&] { return MultiRegisterModel::Make(init); }, name,
                                           history, options, independent, false, start);
  } else if (name == "set") {
    result = CheckWith<SetModel>([&] { return SetModel::Make(init); }, name, history, options,
                                 independent, false, start);
  } else if (name == "mutex") {
    result = CheckWith<MutexModel>([&] { return MutexModel::Make(init); }, name, history, options,
                                   independent, false, start);
  } else if (name == "fifo-queue" || name == "unordered-queue") {
    const bool fifo = name == "fifo-queue";
    result = CheckWith<QueueModel>([&] { return QueueModel::Make(fifo, init); }, name, history,
                                   options, independent, false, start);
  } else {
    std::vector<std::string> names = ModelNames();
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("check: unknown model \"{}\" (expected one of {}, optionally "
                                 "prefixed with independent/)",
                                 std::string(options.model), fmt::join(names, ", ")));
  }
  if (!result) return std::move(result).error().WithContext("check");
  result->check_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace faultline::checker
