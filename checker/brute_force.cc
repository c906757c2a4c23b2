#include "checker/brute_force.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <string_view>
#include <unordered_set>
#include <utility>

namespace faultline::checker {
namespace {

using history::History;
using history::Op;
using history::OpType;
using history::Value;
using history::ValueKind;
using history::ValueLess;

enum class Model {
  kRegister,
  kCasRegister,
  kKv,
  kMultiRegister,
  kSet,
  kMutex,
  kFifoQueue,
  kUnorderedQueue,
};

enum class Action {
  kRead,        // register, kv get: result is the value of `key`
  kWrite,       // register write, kv put
  kCas,         // arg = old, arg2 = new
  kAppend,      // kv append
  kMultiRead,   // result is a map
  kMultiWrite,  // arg is a map
  kAdd,         // set add
  kSetRead,     // result is a collection
  kAcquire,
  kRelease,
  kEnqueue,
  kDequeue,
};

constexpr size_t kNever = static_cast<size_t>(-1);

// One client op after decoding: what it does, when, and whether it certainly took effect.
struct Step {
  Action action = Action::kRead;
  bool certain = false;  // ok (true), or info / never completed (false)
  size_t invoke_pos = 0;
  size_t complete_pos = kNever;  // kNever for info and open ops
  Value key;                     // register key (nil unless independent), kv key
  Value arg;
  Value arg2;
  Value result;  // the ok completion's value; meaningful only when certain
};

// One state type for every model; each model uses the part it needs.
struct State {
  std::map<Value, Value, ValueLess> regs;  // registers by key; an absent key holds its default
  std::vector<Value> items;                // set and unordered queue: sorted; fifo: head first
  bool held = false;                       // mutex
};

std::vector<Value> SortedItems(std::vector<Value> v) {
  std::sort(v.begin(), v.end(), ValueLess());
  return v;
}

bool IsPair(const Value& v) { return v.is_sequential() && v.items().size() == 2; }

class Checker {
 public:
  Checker(Model model, std::vector<Step> steps, State initial, Value register_default,
          Value multi_initial)
      : model_(model),
        steps_(std::move(steps)),
        initial_(std::move(initial)),
        register_default_(std::move(register_default)),
        multi_initial_(std::move(multi_initial)) {
    pred_.assign(steps_.size(), 0);
    for (size_t x = 0; x < steps_.size(); ++x) {
      if (steps_[x].certain) must_ |= Bit(x);
      for (size_t y = 0; y < steps_.size(); ++y) {
        if (steps_[y].certain && steps_[y].complete_pos < steps_[x].invoke_pos) pred_[x] |= Bit(y);
      }
    }
  }

  bool Linearizable() { return Search(0, initial_); }

 private:
  static uint64_t Bit(size_t i) { return uint64_t{1} << i; }

  Value Default(const Value& key) const {
    if (model_ == Model::kMultiRegister) {
      if (multi_initial_.kind() == ValueKind::kMap) {
        const auto& kv = multi_initial_.items();
        for (size_t i = 0; i + 1 < kv.size(); i += 2) {
          if (kv[i] == key) return kv[i + 1];
        }
      }
      return Value();
    }
    return register_default_;
  }

  Value Get(const State& s, const Value& key) const {
    auto it = s.regs.find(key);
    return it == s.regs.end() ? Default(key) : it->second;
  }

  void Set(State& s, const Value& key, Value v) const {
    if (v == Default(key)) {
      s.regs.erase(key);  // canonical form, so that equal states memoize alike
    } else {
      s.regs.insert_or_assign(key, std::move(v));
    }
  }

  // Appends every state that `step` can lead to from `s` (none when it is illegal there).
  void Apply(const Step& step, const State& s, std::vector<State>& out) const {
    switch (step.action) {
      case Action::kRead:
        if (Get(s, step.key) == step.result) out.push_back(s);
        return;
      case Action::kWrite: {
        State n = s;
        Set(n, step.key, step.arg);
        out.push_back(std::move(n));
        return;
      }
      case Action::kCas: {
        if (Get(s, step.key) == step.arg) {
          State n = s;
          Set(n, step.key, step.arg2);
          out.push_back(std::move(n));
        } else if (!step.certain) {
          out.push_back(s);  // an indeterminate cas whose compare was false changed nothing
        }
        return;
      }
      case Action::kAppend: {
        Value cur = Get(s, step.key);
        if (!cur.is_string()) return;
        State n = s;
        Set(n, step.key, Value::String(cur.text() + step.arg.text()));
        out.push_back(std::move(n));
        return;
      }
      case Action::kMultiRead: {
        const auto& kv = step.result.items();
        for (size_t i = 0; i + 1 < kv.size(); i += 2) {
          if (!(Get(s, kv[i]) == kv[i + 1])) return;
        }
        out.push_back(s);
        return;
      }
      case Action::kMultiWrite: {
        State n = s;
        const auto& kv = step.arg.items();
        for (size_t i = 0; i + 1 < kv.size(); i += 2) Set(n, kv[i], kv[i + 1]);
        out.push_back(std::move(n));
        return;
      }
      case Action::kAdd: {
        State n = s;
        auto it = std::lower_bound(n.items.begin(), n.items.end(), step.arg, ValueLess());
        if (it == n.items.end() || !(*it == step.arg)) n.items.insert(it, step.arg);
        out.push_back(std::move(n));
        return;
      }
      case Action::kSetRead:
        if (SortedItems(step.result.items()) == s.items) out.push_back(s);
        return;
      case Action::kAcquire:
        if (!s.held) {
          State n = s;
          n.held = true;
          out.push_back(std::move(n));
        }
        return;
      case Action::kRelease:
        if (s.held) {
          State n = s;
          n.held = false;
          out.push_back(std::move(n));
        }
        return;
      case Action::kEnqueue: {
        State n = s;
        if (model_ == Model::kFifoQueue) {
          n.items.push_back(step.arg);
        } else {
          n.items.insert(std::upper_bound(n.items.begin(), n.items.end(), step.arg, ValueLess()),
                         step.arg);
        }
        out.push_back(std::move(n));
        return;
      }
      case Action::kDequeue:
        Dequeue(step, s, out);
        return;
    }
  }

  void Dequeue(const Step& step, const State& s, std::vector<State>& out) const {
    if (!step.certain) {
      // Unknown result: if it took effect it removed the head (fifo) or any one element.
      if (s.items.empty()) {
        out.push_back(s);
        return;
      }
      if (model_ == Model::kFifoQueue) {
        State n = s;
        n.items.erase(n.items.begin());
        out.push_back(std::move(n));
        return;
      }
      for (size_t i = 0; i < s.items.size(); ++i) {
        if (i > 0 && s.items[i] == s.items[i - 1]) continue;
        State n = s;
        n.items.erase(n.items.begin() + static_cast<std::ptrdiff_t>(i));
        out.push_back(std::move(n));
      }
      return;
    }
    if (step.result.is_nil()) {
      if (s.items.empty()) out.push_back(s);
      return;
    }
    if (model_ == Model::kFifoQueue) {
      if (!s.items.empty() && s.items.front() == step.result) {
        State n = s;
        n.items.erase(n.items.begin());
        out.push_back(std::move(n));
      }
      return;
    }
    auto it = std::find(s.items.begin(), s.items.end(), step.result);
    if (it == s.items.end()) return;
    State n = s;
    n.items.erase(n.items.begin() + (it - s.items.begin()));
    out.push_back(std::move(n));
  }

  static std::string Fingerprint(uint64_t done, const State& s) {
    std::string f = std::to_string(done);
    f += s.held ? "|H|" : "|F|";
    for (const auto& [k, v] : s.regs) {
      k.AppendEdn(f);
      f += '=';
      v.AppendEdn(f);
      f += ';';
    }
    f += '|';
    for (const auto& v : s.items) {
      v.AppendEdn(f);
      f += ' ';
    }
    return f;
  }

  bool Search(uint64_t done, const State& s) {
    if ((must_ & ~done) == 0) return true;  // every ok op linearized; info ops may never happen
    if (!seen_.insert(Fingerprint(done, s)).second) return false;
    std::vector<State> next;
    for (size_t x = 0; x < steps_.size(); ++x) {
      if ((done & Bit(x)) != 0 || (pred_[x] & ~done) != 0) continue;
      next.clear();
      Apply(steps_[x], s, next);
      for (const State& n : next) {
        if (Search(done | Bit(x), n)) return true;
      }
    }
    return false;
  }

  Model model_;
  std::vector<Step> steps_;
  State initial_;
  Value register_default_;
  Value multi_initial_;
  std::vector<uint64_t> pred_;  // pred_[x]: ok ops that completed before x was invoked
  uint64_t must_ = 0;           // ok ops: each must be linearized
  std::unordered_set<std::string> seen_;
};

std::optional<Model> ParseModel(std::string_view name) {
  if (name == "register") return Model::kRegister;
  if (name == "cas-register") return Model::kCasRegister;
  if (name == "kv") return Model::kKv;
  if (name == "multi-register") return Model::kMultiRegister;
  if (name == "set") return Model::kSet;
  if (name == "mutex") return Model::kMutex;
  if (name == "fifo-queue") return Model::kFifoQueue;
  if (name == "unordered-queue") return Model::kUnorderedQueue;
  return std::nullopt;
}

// Jepsen "independent" register histories: every client invocation's value is [key inner].
bool IsIndependent(const History& h, Model model) {
  if (model != Model::kRegister && model != Model::kCasRegister) return false;
  bool any = false;
  for (const Op& op : h.ops()) {
    if (!op.is_client() || !op.is_invoke()) continue;
    any = true;
    if (!IsPair(op.value)) return false;
    if (op.f == "cas" && !IsPair(op.value.items()[1])) return false;
  }
  return any;
}

Error OpError(const History& h, size_t pos, std::string_view why) {
  std::string where = fmt::format("op {}", h[pos].index);
  if (h.line(pos) > 0) where += fmt::format(" (line {})", h.line(pos));
  return Error(ErrorCode::kInvalidArgument, fmt::format("brute force: {}: {}", where, why));
}

bool IsReadLike(Action a) {
  return a == Action::kRead || a == Action::kMultiRead || a == Action::kSetRead;
}

// Decodes the invocation at `pos` and its completion into a Step; nullopt when dropped.
Result<std::optional<Step>> Decode(const History& h, size_t pos, Model model, bool independent) {
  const Op& inv = h[pos];
  size_t done = h.partner(pos);
  OpType type = done == History::kNone ? OpType::kInfo : h[done].type;
  if (type == OpType::kFail) return std::optional<Step>();

  Step step;
  step.invoke_pos = pos;
  step.certain = type == OpType::kOk;
  step.complete_pos = step.certain ? done : kNever;
  Value arg = inv.value;
  Value result = step.certain ? h[done].value : Value();
  if (independent) {
    step.key = arg.items()[0];
    arg = Value(arg.items()[1]);
    if (step.certain) {
      if (!IsPair(result)) return OpError(h, done, "independent completion must be [key value]");
      result = Value(result.items()[1]);
    }
  }
  step.result = result;
  const std::string& f = inv.f;
  auto bad_f = [&] {
    return OpError(h, pos, fmt::format("model cannot decode :f :{}", f.empty() ? "nil" : f));
  };

  switch (model) {
    case Model::kRegister:
    case Model::kCasRegister:
      if (f == "read") {
        step.action = Action::kRead;
      } else if (f == "write") {
        step.action = Action::kWrite;
        step.arg = arg;
      } else if (f == "cas" && model == Model::kCasRegister) {
        if (!IsPair(arg)) return OpError(h, pos, "cas value must be [old new]");
        step.action = Action::kCas;
        step.arg = arg.items()[0];
        step.arg2 = arg.items()[1];
      } else {
        return bad_f();
      }
      break;
    case Model::kKv:
      if (!inv.key) return OpError(h, pos, "kv op needs a :key");
      step.key = *inv.key;
      if (f == "get") {
        step.action = Action::kRead;
      } else if (f == "put") {
        step.action = Action::kWrite;
        step.arg = arg;
      } else if (f == "append") {
        if (!arg.is_string()) return OpError(h, pos, "append value must be a string");
        step.action = Action::kAppend;
        step.arg = arg;
      } else {
        return bad_f();
      }
      break;
    case Model::kMultiRegister:
      if (f == "read") {
        step.action = Action::kMultiRead;
        if (step.certain && result.kind() != ValueKind::kMap) {
          return OpError(h, done, "multi-register read must complete with a map");
        }
      } else if (f == "write") {
        if (arg.kind() != ValueKind::kMap) return OpError(h, pos, "write value must be a map");
        step.action = Action::kMultiWrite;
        step.arg = arg;
      } else {
        return bad_f();
      }
      break;
    case Model::kSet:
      if (f == "add") {
        step.action = Action::kAdd;
        step.arg = arg;
      } else if (f == "read") {
        step.action = Action::kSetRead;
        if (step.certain && !result.is_collection()) {
          return OpError(h, done, "set read must complete with a collection");
        }
      } else {
        return bad_f();
      }
      break;
    case Model::kMutex:
      if (f == "acquire") {
        step.action = Action::kAcquire;
      } else if (f == "release") {
        step.action = Action::kRelease;
      } else {
        return bad_f();
      }
      break;
    case Model::kFifoQueue:
    case Model::kUnorderedQueue:
      if (f == "enqueue") {
        step.action = Action::kEnqueue;
        step.arg = arg;
      } else if (f == "dequeue") {
        step.action = Action::kDequeue;
      } else {
        return bad_f();
      }
      break;
  }
  if (!step.certain && IsReadLike(step.action)) return std::optional<Step>();
  return std::optional<Step>(std::move(step));
}

}  // namespace

std::vector<std::string> BruteForceModelNames() {
  return {"cas-register", "fifo-queue", "kv",  "multi-register",
          "mutex",        "register",   "set", "unordered-queue"};
}

Result<Validity> BruteForceCheck(const History& history, const BruteForceOptions& options) {
  std::optional<Model> model = ParseModel(options.model);
  if (!model) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("brute force: model {}: unknown (one of {})", options.model,
                                 fmt::join(BruteForceModelNames(), ", ")));
  }
  bool independent = IsIndependent(history, *model);
  std::vector<Step> steps;
  for (size_t pos = 0; pos < history.size(); ++pos) {
    const Op& op = history[pos];
    if (!op.is_client() || !op.is_invoke()) continue;
    FAULTLINE_ASSIGN_OR_RETURN(std::optional<Step> step, Decode(history, pos, *model, independent));
    if (step) steps.push_back(std::move(*step));
  }
  size_t limit = std::min<size_t>(options.max_ops, 63);
  if (steps.size() > limit) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        fmt::format("brute force: {} ops: too many (at most {})", steps.size(), limit));
  }

  State initial;
  Value register_default;
  Value multi_initial;
  const Value init = options.initial.value_or(Value());
  switch (*model) {
    case Model::kRegister:
    case Model::kCasRegister:
      register_default = init;
      break;
    case Model::kKv:
      register_default = options.initial ? init : Value::String("");
      break;
    case Model::kMultiRegister:
      if (!init.is_nil() && init.kind() != ValueKind::kMap) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "brute force: initial value: multi-register needs a map");
      }
      multi_initial = init;
      break;
    case Model::kSet:
    case Model::kFifoQueue:
    case Model::kUnorderedQueue:
      if (!init.is_nil() && !init.is_collection()) {
        return MakeError(
            ErrorCode::kInvalidArgument,
            fmt::format("brute force: initial value: {} needs a collection", options.model));
      }
      if (init.is_collection()) initial.items = init.items();
      if (*model == Model::kSet) {
        initial.items = SortedItems(initial.items);
        initial.items.erase(std::unique(initial.items.begin(), initial.items.end()),
                            initial.items.end());
      } else if (*model == Model::kUnorderedQueue) {
        initial.items = SortedItems(initial.items);
      }
      break;
    case Model::kMutex:
      if (!init.is_nil() && init.kind() != ValueKind::kBool) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "brute force: initial value: mutex needs true (held) or false (free)");
      }
      initial.held = init.kind() == ValueKind::kBool && init.as_bool();
      break;
  }

  Checker checker(*model, std::move(steps), std::move(initial), std::move(register_default),
                  std::move(multi_initial));
  return checker.Linearizable() ? Validity::kValid : Validity::kInvalid;
}

}  // namespace faultline::checker
