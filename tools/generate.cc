#include "tools/generate.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <random>
#include <utility>

namespace faultline::tools {
namespace {

using history::History;
using history::Op;
using history::OpType;
using history::Process;
using history::Value;

enum class Model { kRegister, kCasRegister, kKv };

enum class Kind { kRead, kWrite, kCas, kAppend };

// One client op while the history is being built.
struct GenOp {
  size_t slot = 0;
  int64_t process = 0;
  Kind kind = Kind::kRead;
  size_t key = 0;
  Value arg;   // write / put / append value; cas old
  Value arg2;  // cas new
  int64_t invoke_t = 0;
  int64_t complete_t = 0;
  OpType outcome = OpType::kOk;  // kOk, kFail (decided at the point) or kInfo
  bool open = false;             // info op that never completes
  std::optional<double> point;   // linearization point; nullopt = never takes effect
  std::optional<Value> forced;   // a planted read's result, used instead of the simulated one
  bool planted = false;          // part of a planted violation: completes ok whatever the state
  Value result;
};

struct Slot {
  int64_t free_at = 0;
  int64_t process = 0;
};

class Generator {
 public:
  Generator(const GenerateOptions& options, Model model)
      : options_(options), model_(model), rng_(options.seed) {
    slots_.resize(options.processes);
    for (size_t s = 0; s < slots_.size(); ++s) {
      slots_[s].process = static_cast<int64_t>(s);
      slots_[s].free_at = Uniform(0, 1000);
    }
  }

  std::vector<Op> Run(size_t planted_ops) {
    size_t regular = options_.ops - planted_ops;
    size_t plant_at = planted_ops == 0 ? regular + 1 : regular * 7 / 10;
    for (size_t i = 0; i <= regular; ++i) {
      if (i == plant_at) Plant();
      if (i < regular) Regular();
    }
    Simulate();
    return Emit();
  }

 private:
  int64_t Uniform(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
  }
  double Uniform01() { return std::uniform_real_distribution<double>(0, 1)(rng_); }
  bool Chance(double p) { return Uniform01() < p; }

  Value DomainValue() {
    int64_t v = Uniform(0, static_cast<int64_t>(options_.values) - 1);
    return model_ == Model::kKv ? Value::String(std::to_string(v)) : Value::Int(v);
  }
  // A value no regular op writes: letters for kv (regular strings are digits), integers past the
  // domain for registers.
  Value Fresh(int n) {
    if (model_ == Model::kKv) return Value::String(fmt::format("x{}y", n));
    return Value::Int(static_cast<int64_t>(options_.values) + 100 + n);
  }

  size_t FreeSlot() {
    size_t best = 0;
    for (size_t s = 1; s < slots_.size(); ++s) {
      if (slots_[s].free_at < slots_[best].free_at) best = s;
    }
    return best;
  }

  // Schedules an op on the first free slot, invoked no earlier than not_before.
  GenOp& Schedule(Kind kind, size_t key, int64_t not_before = 0) {
    size_t s = FreeSlot();
    GenOp op;
    op.slot = s;
    op.process = slots_[s].process;
    op.kind = kind;
    op.key = key;
    op.invoke_t = std::max(slots_[s].free_at, not_before) + Uniform(1, 50) * 1000;
    op.complete_t = op.invoke_t + Uniform(1, 200) * 1000;
    slots_[s].free_at = op.complete_t;
    ops_.push_back(std::move(op));
    return ops_.back();
  }

  // A point strictly inside the op's interval, so that ops ordered in real time stay ordered even
  // when one's completion and the next's invocation share a timestamp.
  double Inside(const GenOp& op) {
    return static_cast<double>(op.invoke_t) +
           (0.05 + 0.9 * Uniform01()) * static_cast<double>(op.complete_t - op.invoke_t);
  }

  void Retire(GenOp& op) {
    op.outcome = OpType::kInfo;
    op.open = Chance(0.2);
    slots_[op.slot].process += static_cast<int64_t>(slots_.size());
  }

  void Regular() {
    double r = Uniform01();
    Kind kind = Kind::kRead;
    switch (model_) {
      case Model::kRegister:
        kind = r < 0.5 ? Kind::kRead : Kind::kWrite;
        break;
      case Model::kCasRegister:
        kind = r < 0.4 ? Kind::kRead : r < 0.7 ? Kind::kWrite : Kind::kCas;
        break;
      case Model::kKv:
        kind = r < 0.5 ? Kind::kRead : r < 0.75 ? Kind::kWrite : Kind::kAppend;
        break;
    }
    size_t key = static_cast<size_t>(Uniform(0, static_cast<int64_t>(options_.keys) - 1));
    GenOp& op = Schedule(kind, key);
    if (kind != Kind::kRead) op.arg = DomainValue();
    if (kind == Kind::kCas) op.arg2 = DomainValue();
    if (Chance(options_.info_rate)) {
      Retire(op);
      // An indeterminate op takes effect at some point after its invocation, or never.
      if (Chance(0.5)) {
        op.point = static_cast<double>(op.invoke_t) +
                   Uniform01() * 4.0 * static_cast<double>(op.complete_t - op.invoke_t) + 1.0;
      }
    } else {
      op.point = Inside(op);
    }
  }

  // Adds one sequential planted op: invoked after the previous planted op completed.
  GenOp& PlantOp(Kind kind, size_t key, Value arg, Value arg2 = Value()) {
    GenOp& op = Schedule(kind, key, last_planted_);
    op.arg = std::move(arg);
    op.arg2 = std::move(arg2);
    op.point = Inside(op);
    op.planted = true;
    last_planted_ = op.complete_t;
    return op;
  }
  void PlantRead(size_t key, Value result) { PlantOp(Kind::kRead, key, Value()).forced = result; }

  void Plant() {
    size_t k = static_cast<size_t>(Uniform(0, static_cast<int64_t>(options_.keys) - 1));
    Value a = Fresh(0);
    Value b = Fresh(1);
    Value c = Fresh(2);
    const std::string& shape = options_.violate;
    if (shape == "stale-read") {
      PlantOp(Kind::kWrite, k, a);
      PlantOp(Kind::kWrite, k, b);
      PlantRead(k, a);
    } else if (shape == "lost-write") {
      if (model_ == Model::kKv) {
        PlantOp(Kind::kWrite, k, a);
        PlantOp(Kind::kAppend, k, b);
        PlantOp(Kind::kAppend, k, c);
        PlantRead(k, Value::String(a.text() + c.text()));
      } else if (model_ == Model::kCasRegister) {
        PlantOp(Kind::kWrite, k, a);
        PlantOp(Kind::kWrite, k, b);
        PlantOp(Kind::kCas, k, a, c);
        PlantRead(k, c);
      } else {
        PlantOp(Kind::kWrite, k, a);
        PlantOp(Kind::kWrite, k, b);
        PlantRead(k, a);
        PlantRead(k, a);
      }
    } else if (shape == "cas-chain") {
      PlantOp(Kind::kWrite, k, a);
      PlantOp(Kind::kCas, k, a, b);
      PlantOp(Kind::kCas, k, b, c);
      PlantOp(Kind::kCas, k, a, Fresh(3));
    } else if (shape == "info-decides") {
      PlantOp(Kind::kWrite, k, a);
      GenOp& info = PlantOp(Kind::kWrite, k, b);
      Retire(info);
      info.open = false;
      PlantRead(k, b);
      PlantRead(k, a);
    } else if (shape == "phantom-read") {
      PlantRead(k, Fresh(9));
    } else if (shape == "contradictory-readers") {
      // kv: on a key of its own, whose string is then only put, never appended to.
      PlantContradictoryReaders(model_ == Model::kKv ? options_.keys : k, a, b);
    }
  }

  // Two writes of a and b and many other writes, all concurrent over one window (some info);
  // inside it reader A sees a then b, and reader B sees b then a. Every read has a concurrent
  // writer of its value, so no local detector sees it, but no order of the writes fits both
  // readers. Uses every process slot: two readers, two writers of a and b, the rest writers.
  void PlantContradictoryReaders(size_t k, const Value& a, const Value& b) {
    int64_t start = 0;
    for (const Slot& s : slots_) start = std::max(start, s.free_at);
    start += 1000;
    const int64_t len = 400 * 1000;
    auto op_on = [&](size_t slot, Kind kind, int64_t from, int64_t to) -> GenOp& {
      GenOp op;
      op.slot = slot;
      op.process = slots_[slot].process;
      op.kind = kind;
      op.key = k;
      op.invoke_t = start + from;
      op.complete_t = start + to;
      op.planted = true;
      slots_[slot].free_at = std::max(slots_[slot].free_at, op.complete_t);
      ops_.push_back(std::move(op));
      return ops_.back();
    };
    // The writes take effect in reader A's order (a, then b); reader B's results are forced
    // and contradict it.
    GenOp& wa = op_on(0, Kind::kWrite, 0, len);
    wa.arg = a;
    wa.point = static_cast<double>(start) + 0.1 * len;
    GenOp& wb = op_on(1, Kind::kWrite, 0, len);
    wb.arg = b;
    wb.point = static_cast<double>(start) + 0.45 * len;
    auto read = [&](size_t slot, int64_t from, int64_t to, const Value& v) {
      GenOp& r = op_on(slot, Kind::kRead, from, to);
      r.point = static_cast<double>(start + from) + 0.5 * static_cast<double>(to - from);
      r.forced = v;
    };
    read(2, len / 5, len * 3 / 10, a);
    read(2, len / 2, len * 6 / 10, b);
    read(3, len / 5, len * 3 / 10, b);
    read(3, len / 2, len * 6 / 10, a);
    for (size_t s = 4; s < slots_.size(); ++s) {
      GenOp& w = op_on(s, Kind::kWrite, Uniform(0, len / 10), len - Uniform(0, len / 10));
      w.arg = Fresh(10 + static_cast<int>(s));
      if (Chance(std::max(options_.info_rate, 0.3))) {
        Retire(w);
        w.open = false;
        if (Chance(0.5)) w.point = Inside(w);
      } else {
        w.point = Inside(w);
      }
    }
    for (const Slot& s : slots_) last_planted_ = std::max(last_planted_, s.free_at);
  }

  // Applies every op that takes effect in point order, filling in results.
  void Simulate() {
    std::vector<size_t> order;
    for (size_t i = 0; i < ops_.size(); ++i) {
      if (ops_[i].point) order.push_back(i);
    }
    std::sort(order.begin(), order.end(),
              [&](size_t x, size_t y) { return *ops_[x].point < *ops_[y].point; });
    Value initial = model_ == Model::kKv ? Value::String("") : Value();
    std::vector<Value> state(options_.keys + 1, initial);  // + the planted kv key
    for (size_t i : order) {
      GenOp& op = ops_[i];
      Value& cur = state[op.key];
      switch (op.kind) {
        case Kind::kRead:
          op.result = op.forced ? *op.forced : cur;
          break;
        case Kind::kWrite:
          cur = op.arg;
          break;
        case Kind::kAppend:
          cur = Value::String(cur.text() + op.arg.text());
          break;
        case Kind::kCas:
          if (cur == op.arg || op.planted) {
            cur = op.arg2;
          } else if (op.outcome == OpType::kOk) {
            op.outcome = OpType::kFail;  // the compare was false: etcd answers fail
          }
          break;
      }
    }
  }

  static std::string_view FName(Model model, Kind kind) {
    switch (kind) {
      case Kind::kRead:
        return model == Model::kKv ? "get" : "read";
      case Kind::kWrite:
        return model == Model::kKv ? "put" : "write";
      case Kind::kCas:
        return "cas";
      case Kind::kAppend:
        return "append";
    }
    return "read";
  }

  Value Wrap(size_t key, Value v) const {
    if (model_ == Model::kKv || options_.keys <= 1) return v;
    return Value::Vector({Value::Int(static_cast<int64_t>(key)), std::move(v)});
  }

  std::vector<Op> Emit() const {
    struct Event {
      int64_t time;
      size_t op;
      bool completion;
    };
    std::vector<Event> events;
    events.reserve(ops_.size() * 2);
    for (size_t i = 0; i < ops_.size(); ++i) {
      events.push_back({ops_[i].invoke_t, i, false});
      if (!ops_[i].open) events.push_back({ops_[i].complete_t, i, true});
    }
    std::sort(events.begin(), events.end(), [](const Event& x, const Event& y) {
      if (x.time != y.time) return x.time < y.time;
      if (x.op != y.op) return x.op < y.op;
      return x.completion < y.completion;
    });
    std::vector<Op> out;
    out.reserve(events.size());
    for (const Event& e : events) {
      const GenOp& g = ops_[e.op];
      Value args;
      if (g.kind == Kind::kCas) {
        args = Value::Vector({g.arg, g.arg2});
      } else if (g.kind != Kind::kRead) {
        args = g.arg;
      }
      Op inv{.index = -1,
             .time_ns = -1,
             .type = OpType::kInvoke,
             .process = Process::Client(g.process),
             .f = std::string(FName(model_, g.kind)),
             .key = std::nullopt,
             .value = Wrap(g.key, args),
             .error = std::nullopt,
             .extras = {}};
      if (model_ == Model::kKv) inv.key = Value::String(std::to_string(g.key));
      Op op = inv;
      if (e.completion) {
        bool ok_read = g.kind == Kind::kRead && g.outcome == OpType::kOk;
        op = inv.Complete(g.outcome, ok_read ? Wrap(g.key, g.result) : inv.value);
        if (g.outcome == OpType::kInfo) op.error = Value::Keyword("timeout");
      }
      op.index = static_cast<int64_t>(out.size());
      op.time_ns = e.time;
      out.push_back(std::move(op));
    }
    return out;
  }

  GenerateOptions options_;
  Model model_;
  std::mt19937_64 rng_;
  std::vector<Slot> slots_;
  std::vector<GenOp> ops_;
  int64_t last_planted_ = 0;
};

size_t PlantedOps(std::string_view shape, size_t processes) {
  if (shape.empty()) return 0;
  // Two writes, four reads, and a write on each other process slot.
  if (shape == "contradictory-readers") return 6 + (processes > 4 ? processes - 4 : 0);
  if (shape == "stale-read") return 3;
  if (shape == "phantom-read") return 1;
  if (shape == "lost-write") return 4;
  return 4;  // cas-chain, info-decides
}

}  // namespace

std::vector<std::string> GeneratorModels() { return {"cas-register", "kv", "register"}; }

std::vector<std::string> ViolationShapes() {
  return {"cas-chain",  "contradictory-readers", "info-decides",
          "lost-write", "phantom-read",          "stale-read"};
}

Result<History> Generate(const GenerateOptions& options) {
  std::optional<Model> model;
  if (options.model == "register") model = Model::kRegister;
  if (options.model == "cas-register") model = Model::kCasRegister;
  if (options.model == "kv") model = Model::kKv;
  if (!model) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("generate: model {}: not supported (one of {})", options.model,
                                 fmt::join(GeneratorModels(), ", ")));
  }
  if (!options.violate.empty()) {
    auto shapes = ViolationShapes();
    if (std::find(shapes.begin(), shapes.end(), options.violate) == shapes.end()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("generate: violate {}: unknown shape (one of {})",
                                   options.violate, fmt::join(shapes, ", ")));
    }
    if (options.violate == "cas-chain" && *model != Model::kCasRegister) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("generate: violate cas-chain: model {} has no cas "
                                   "(use --model cas-register)",
                                   options.model));
    }
  }
  if (options.processes == 0 || options.keys == 0 || options.values == 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "generate: options: processes, keys and values must be at least 1");
  }
  if (!(options.info_rate >= 0 && options.info_rate <= 1)) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        fmt::format("generate: info rate {}: must be between 0 and 1", options.info_rate));
  }
  if (options.violate == "contradictory-readers" && options.processes < 4) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("generate: violate contradictory-readers: needs at least 4 "
                                 "processes (two readers, two writers), got {}",
                                 options.processes));
  }
  size_t planted = PlantedOps(options.violate, options.processes);
  if (options.ops < planted) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("generate: violate {}: needs at least {} ops, got {}",
                                 options.violate, planted, options.ops));
  }
  Generator generator(options, *model);
  std::vector<Op> ops = generator.Run(planted);
  return History::Build(
      std::move(ops),
      history::Source{.name = fmt::format("generated (seed {})", options.seed), .lines = {}});
}

}  // namespace faultline::tools
