#include "checker/txn_generate.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <utility>

#include "history/edn.h"
#include "history/txn.h"

namespace faultline::checker {
namespace {

using history::MicroOp;
using history::MicroOpKind;
using history::Op;
using history::OpType;
using history::Process;
using history::Value;

// Planted shapes use keys no base transaction touches.
constexpr int64_t kKeyA = 1'000'001;
constexpr int64_t kKeyB = 1'000'002;

struct PlantedTxn {
  const char* ops;  // EDN with A and B standing for the two fresh keys
  OpType type = OpType::kOk;
  int process = -1;  // the same number shares a process; -1: its own
};
// Phases run one after another; the transactions of a phase run concurrently (all invoked, then
// all completed in order).
using Shape = std::vector<std::vector<PlantedTxn>>;

const std::map<std::string, Shape>& ListAppendShapes() {
  static const auto* shapes = new std::map<std::string, Shape>{
      {"G0",
       {{{"[[:append A 1] [:append B 1]]"}, {"[[:append A 2] [:append B 2]]"}},
        {{"[[:r A [1 2]] [:r B [2 1]]]"}}}},
      {"G1c", {{{"[[:append A 1] [:r B [1]]]"}, {"[[:append B 1] [:r A [1]]]"}}}},
      {"G-single",
       {{{"[[:r A []] [:r B [1]]]"}, {"[[:append A 1] [:append B 1]]"}},
        {{"[[:r A [1]] [:r B [1]]]"}}}},
      {"G-nonadjacent",
       {{{"[[:r A []] [:r B [1]]]"},
         {"[[:append A 1]]"},
         {"[[:r A [1]] [:r B []]]"},
         {"[[:append B 1]]"}},
        {{"[[:r A [1]] [:r B [1]]]"}}}},
      {"G2-item",
       {{{"[[:r A []] [:append B 1]]"}, {"[[:r B []] [:append A 1]]"}},
        {{"[[:r A [1]] [:r B [1]]]"}}}},
      {"G1a", {{{"[[:append A 1]]", OpType::kFail}}, {{"[[:r A [1]]]"}}}},
      {"G1b", {{{"[[:append A 1] [:append A 2]]"}}, {{"[[:r A [1]]]"}}, {{"[[:r A [1 2]]]"}}}},
      {"internal", {{{"[[:append A 1] [:r A []]]"}}, {{"[[:r A [1]]]"}}}},
      {"dirty-update",
       {{{"[[:append A 1]]", OpType::kFail}}, {{"[[:append A 2]]"}}, {{"[[:r A [1 2]]]"}}}},
      {"lost-update",
       {{{"[[:r A []] [:append A 1]]"}, {"[[:r A []] [:append A 2]]"}}, {{"[[:r A [1 2]]]"}}}},
      {"duplicate-elements", {{{"[[:append A 1]]"}}, {{"[[:r A [1 1]]]"}}}},
      {"incompatible-order",
       {{{"[[:append A 1]]"}, {"[[:append A 2]]"}}, {{"[[:r A [1 2]]]"}, {"[[:r A [2]]]"}}}},
      {"garbage-read", {{{"[[:r A [99]]]"}}}},
      {"G0-realtime", {{{"[[:append A 1]]"}}, {{"[[:append A 2]]"}}, {{"[[:r A [2 1]]]"}}}},
      {"G-single-realtime", {{{"[[:append A 1]]"}}, {{"[[:r A []]]"}}, {{"[[:r A [1]]]"}}}},
      {"G-single-process",
       {{{"[[:append A 1]]", OpType::kOk, 0}},
        {{"[[:r A []]]", OpType::kOk, 0}},
        {{"[[:r A [1]]]"}}}},
  };
  return *shapes;
}

const std::map<std::string, Shape>& RwRegisterShapes() {
  static const auto* shapes = new std::map<std::string, Shape>{
      {"G1c", {{{"[[:w A 1] [:r B 1]]"}, {"[[:w B 1] [:r A 1]]"}}}},
      {"G-single", {{{"[[:r A nil] [:r B 1]]"}, {"[[:w A 1] [:w B 1]]"}}}},
      {"G2-item", {{{"[[:r A nil] [:w B 1]]"}, {"[[:r B nil] [:w A 1]]"}}}},
      {"lost-update", {{{"[[:r A nil] [:w A 1]]"}, {"[[:r A nil] [:w A 2]]"}}}},
      {"G1a", {{{"[[:w A 1]]", OpType::kFail}}, {{"[[:r A 1]]"}}}},
      {"G1b", {{{"[[:w A 1] [:w A 2]]"}}, {{"[[:r A 1]]"}}}},
      {"internal", {{{"[[:w A 1] [:r A nil]]"}}}},
      {"garbage-read", {{{"[[:r A 99]]"}}}},
      {"cyclic-versions", {{{"[[:r A 1] [:w A 2]]"}, {"[[:r A 2] [:w A 1]]"}}}},
      {"G-single-realtime", {{{"[[:w A 1]]"}}, {{"[[:r A nil]]"}}}},
  };
  return *shapes;
}

const std::map<std::string, Shape>& Shapes(TxnModel model) {
  return model == TxnModel::kListAppend ? ListAppendShapes() : RwRegisterShapes();
}

Op TxnOp(OpType type, int64_t process, Value value) {
  return Op{.index = -1,
            .time_ns = -1,
            .type = type,
            .process = Process::Client(process),
            .f = "txn",
            .key = std::nullopt,
            .value = std::move(value),
            .error = std::nullopt,
            .extras = {}};
}

MicroOp ReadOf(int64_t key) {
  MicroOp m;
  m.kind = MicroOpKind::kRead;
  m.key = key;
  return m;
}

// The invocation's micro-ops: reads not yet known.
std::vector<MicroOp> Invocation(std::vector<MicroOp> ops) {
  for (MicroOp& m : ops) {
    if (m.kind == MicroOpKind::kRead) m = ReadOf(m.key);
  }
  return ops;
}

class Generator {
 public:
  explicit Generator(const TxnGenerateOptions& o) : o_(o), rng_(o.seed) {}

  Result<history::History> Run();

 private:
  struct Running {
    size_t slot;
    std::vector<MicroOp> ops;
    bool snapshot = false;
    // For a snapshot transaction: the state of its keys at its invocation.
    std::map<int64_t, std::vector<int64_t>> lists;
    std::map<int64_t, std::optional<int64_t>> regs;
  };

  double Coin() { return std::uniform_real_distribution<double>(0, 1)(rng_); }
  size_t Below(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
  int64_t PickKey(size_t started) {
    const size_t base = o_.rotate_every ? started / o_.rotate_every : 0;
    return static_cast<int64_t>(base + Below(o_.keys));
  }
  std::vector<MicroOp> MakeOps(size_t started);
  // Runs `ops` against the state (or the snapshot), filling reads; applies writes when `apply`.
  std::vector<MicroOp> Execute(const Running& r, bool apply);
  Status Planted();

  const TxnGenerateOptions& o_;
  std::mt19937_64 rng_;
  std::vector<Op> ops_;
  std::map<int64_t, std::vector<int64_t>> lists_;
  std::map<int64_t, std::optional<int64_t>> regs_;
  std::map<int64_t, std::vector<int64_t>> reg_history_;  // every value a register held, in order
  std::map<int64_t, int64_t> next_value_;
  int64_t revision_ = 0;
};

std::vector<MicroOp> Generator::MakeOps(size_t started) {
  const size_t n = o_.min_ops + Below(o_.max_ops - o_.min_ops + 1);
  std::vector<MicroOp> ops;
  for (size_t i = 0; i < n; ++i) {
    MicroOp m;
    m.key = PickKey(started);
    if (Coin() < o_.read_share) {
      m.kind = MicroOpKind::kRead;
    } else {
      m.kind = o_.model == TxnModel::kListAppend ? MicroOpKind::kAppend : MicroOpKind::kWrite;
      m.value = ++next_value_[m.key];
    }
    ops.push_back(m);
  }
  return ops;
}

std::vector<MicroOp> Generator::Execute(const Running& r, bool apply) {
  std::map<int64_t, std::vector<int64_t>> lists;  // the transaction's view of what it touched
  std::map<int64_t, std::optional<int64_t>> regs;
  std::map<int64_t, bool> wrote;
  std::vector<MicroOp> out = r.ops;
  for (MicroOp& m : out) {
    const bool first = !lists.count(m.key) && !regs.count(m.key);
    if (first) {
      if (r.snapshot) {
        lists[m.key] = r.lists.count(m.key) ? r.lists.at(m.key) : std::vector<int64_t>{};
        regs[m.key] = r.regs.count(m.key) ? r.regs.at(m.key) : std::nullopt;
      } else {
        lists[m.key] = lists_[m.key];
        regs[m.key] = regs_[m.key];
      }
      // A stale read sees an older state of the key (only before the transaction wrote it).
      if (m.kind == MicroOpKind::kRead && Coin() < o_.stale_rate) {
        auto& l = lists[m.key];
        if (!l.empty()) l.resize(Below(l.size()));
        auto& h = reg_history_[m.key];
        if (!h.empty()) {
          const size_t i = Below(h.size() + 1);
          regs[m.key] = i == h.size() ? std::nullopt : std::optional<int64_t>(h[i]);
        }
      }
    }
    switch (m.kind) {
      case MicroOpKind::kRead:
        m.known = true;
        if (o_.model == TxnModel::kListAppend) {
          m.is_list = true;
          m.list = lists[m.key];
        } else if (regs[m.key]) {
          m.value = *regs[m.key];
        } else {
          m.nil = true;
        }
        break;
      case MicroOpKind::kAppend:
        lists[m.key].push_back(m.value);
        wrote[m.key] = true;
        break;
      case MicroOpKind::kWrite:
        regs[m.key] = m.value;
        wrote[m.key] = true;
        break;
    }
  }
  if (apply) {
    for (const MicroOp& m : out) {
      if (m.kind == MicroOpKind::kAppend) lists_[m.key].push_back(m.value);
      if (m.kind == MicroOpKind::kWrite) {
        regs_[m.key] = m.value;
        reg_history_[m.key].push_back(m.value);
      }
    }
  }
  return out;
}

Status Generator::Planted() {
  auto it = Shapes(o_.model).find(o_.anomaly);
  if (it == Shapes(o_.model).end()) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        fmt::format("cannot plant \"{}\" in a {} history (expected one of {})", o_.anomaly,
                    TxnModelName(o_.model), fmt::join(PlantedAnomalies(o_.model), ", ")));
  }
  int64_t next_process = 1'000'000;
  std::map<int, int64_t> shared;
  for (const auto& phase : it->second) {
    std::vector<std::pair<int64_t, std::vector<MicroOp>>> running;
    for (const PlantedTxn& p : phase) {
      std::string edn;
      for (size_t i = 0; p.ops[i] != '\0'; ++i) {
        if (p.ops[i] == 'A') {
          edn += std::to_string(kKeyA);
        } else if (p.ops[i] == 'B') {
          edn += std::to_string(kKeyB);
        } else {
          edn += p.ops[i];
        }
      }
      FAULTLINE_ASSIGN_OR_RETURN(Value v, history::ParseEdn(edn, "planted"));
      FAULTLINE_ASSIGN_OR_RETURN(std::vector<MicroOp> ops, history::DecodeMicroOps(v, true));
      int64_t process;
      if (p.process < 0) {
        process = next_process++;
      } else {
        auto [s, inserted] = shared.try_emplace(p.process, next_process);
        if (inserted) ++next_process;
        process = s->second;
      }
      ops_.push_back(TxnOp(OpType::kInvoke, process, history::EncodeMicroOps(Invocation(ops))));
      running.emplace_back(process, p.type == OpType::kOk ? ops : Invocation(ops));
    }
    for (size_t i = 0; i < running.size(); ++i) {
      ops_.push_back(
          TxnOp(phase[i].type, running[i].first, history::EncodeMicroOps(running[i].second)));
    }
  }
  return OkStatus();
}

Result<history::History> Generator::Run() {
  if (o_.processes == 0 || o_.keys == 0 || o_.min_ops == 0 || o_.max_ops < o_.min_ops) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "generate: processes, keys and min-ops must be positive and max-ops at "
                     "least min-ops");
  }
  std::vector<int64_t> process_of(o_.processes);
  for (size_t i = 0; i < o_.processes; ++i) process_of[i] = static_cast<int64_t>(i);
  std::vector<bool> busy(o_.processes, false);
  std::vector<Running> running;
  size_t started = 0;
  while (started < o_.txns || !running.empty()) {
    const bool can_start = started < o_.txns && running.size() < o_.processes;
    if (can_start && (running.empty() || Coin() < 0.5)) {
      size_t slot = Below(o_.processes);
      while (busy[slot]) slot = (slot + 1) % o_.processes;
      busy[slot] = true;
      Running r;
      r.slot = slot;
      r.ops = MakeOps(started);
      r.snapshot = Coin() < o_.snapshot_rate;
      if (r.snapshot) {
        for (const MicroOp& m : r.ops) {
          r.lists[m.key] = lists_[m.key];
          r.regs[m.key] = regs_[m.key];
        }
      }
      ++started;
      ops_.push_back(
          TxnOp(OpType::kInvoke, process_of[slot], history::EncodeMicroOps(Invocation(r.ops))));
      running.push_back(std::move(r));
      continue;
    }
    const size_t i = Below(running.size());
    Running r = std::move(running[i]);
    running.erase(running.begin() + static_cast<std::ptrdiff_t>(i));
    const double outcome = Coin();
    const int64_t process = process_of[r.slot];
    if (outcome < o_.fail_rate) {
      ops_.push_back(TxnOp(OpType::kFail, process, history::EncodeMicroOps(Invocation(r.ops))));
    } else if (outcome < o_.fail_rate + o_.info_rate) {
      Execute(r, Coin() < 0.5);
      ops_.push_back(TxnOp(OpType::kInfo, process, history::EncodeMicroOps(Invocation(r.ops))));
      process_of[r.slot] += static_cast<int64_t>(o_.processes);  // Jepsen retires the process
    } else {
      ops_.push_back(TxnOp(OpType::kOk, process, history::EncodeMicroOps(Execute(r, true))));
      const bool writes = std::any_of(r.ops.begin(), r.ops.end(), [](const MicroOp& m) {
        return m.kind != MicroOpKind::kRead;
      });
      // A snapshot transaction's writes land at its completion too, so commit order holds.
      if (o_.revisions && writes) ops_.back().AddExtra("revision", Value::Int(++revision_));
    }
    busy[r.slot] = false;
  }
  if (!o_.anomaly.empty()) {
    if (auto st = Planted(); !st) return std::move(st).error();
  }
  if (o_.final_read) {
    std::vector<MicroOp> reads;
    for (const auto& [key, l] : lists_) reads.push_back(ReadOf(key));
    if (o_.model == TxnModel::kRwRegister) {
      reads.clear();
      for (const auto& [key, r] : regs_) reads.push_back(ReadOf(key));
    }
    if (!reads.empty()) {
      Running r;
      r.slot = 0;
      r.ops = reads;
      // The final read is never stale: it is what makes every committed append observed.
      TxnGenerateOptions exact = o_;
      exact.stale_rate = 0;
      Generator g(exact);
      g.lists_ = lists_;
      g.regs_ = regs_;
      const int64_t process = 2'000'000;
      ops_.push_back(TxnOp(OpType::kInvoke, process, history::EncodeMicroOps(Invocation(reads))));
      ops_.push_back(TxnOp(OpType::kOk, process, history::EncodeMicroOps(g.Execute(r, false))));
    }
  }
  return history::History::Build(std::move(ops_), {.name = "generated", .lines = {}});
}

}  // namespace

std::vector<std::string> PlantedAnomalies(TxnModel model) {
  std::vector<std::string> out;
  for (const auto& [name, shape] : Shapes(model)) out.push_back(name);
  return out;
}

Result<history::History> GenerateTxnHistory(const TxnGenerateOptions& options) {
  return Generator(options).Run();
}

}  // namespace faultline::checker
