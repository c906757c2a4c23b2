#include "runner/generator.h"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <utility>

#include "nemesis/node_control.h"

namespace faultline::runner {
namespace {

using history::Op;
using history::OpType;
using history::Process;
using history::Value;

// SplitMix64: derives independent seeds for the workers and the nemesis from the run's seed.
std::uint64_t Mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Uniform integer in [0, n) without std::uniform_int_distribution, whose algorithm is unspecified,
// so that a seed gives the same run with any standard library.
int64_t Below(std::mt19937_64& rng, int64_t n) {
  return static_cast<int64_t>(rng() % static_cast<std::uint64_t>(n));
}
double Unit(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

Op Invocation(const Process& process, std::string f, Value key, Value value) {
  return Op{.index = -1,
            .time_ns = -1,
            .type = OpType::kInvoke,
            .process = process,
            .f = std::move(f),
            .key = std::move(key),
            .value = std::move(value),
            .error = std::nullopt,
            .extras = {}};
}

}  // namespace

std::string_view WorkloadName(Workload workload) {
  switch (workload) {
    case Workload::kRegister:
      return "register";
    case Workload::kSet:
      return "set";
    case Workload::kCounter:
      return "counter";
    case Workload::kLock:
      return "lock";
    case Workload::kAppend:
      return "append";
    case Workload::kRwRegister:
      return "rw-register";
  }
  return "register";
}

Result<Workload> ParseWorkload(std::string_view name) {
  for (Workload w : {Workload::kRegister, Workload::kSet, Workload::kCounter, Workload::kLock,
                     Workload::kAppend, Workload::kRwRegister}) {
    if (WorkloadName(w) == name) return w;
  }
  return MakeError(ErrorCode::kInvalidArgument,
                   fmt::format("workload: unknown workload '{}' (expected register, set, counter, "
                               "lock, append or rw-register)",
                               name));
}

Process NextProcess(const Process& process, int concurrency) {
  return Process::Client(process.number + concurrency);
}

Generator::Generator(GeneratorOptions options) : options_(std::move(options)) {
  assert(options_.concurrency >= 1 && options_.per_key_limit >= 1 && options_.ops_per_key >= 1 &&
         options_.value_domain >= 1);
  for (int w = 0; w < options_.concurrency; ++w) {
    worker_rngs_.emplace_back(Mix(options_.seed ^ Mix(static_cast<std::uint64_t>(w) + 1)));
  }
  worker_adds_.assign(static_cast<size_t>(options_.concurrency), 0);
  lock_steps_.assign(static_cast<size_t>(options_.concurrency), LockStep::kAcquire);
  lock_cycle_ended_.assign(static_cast<size_t>(options_.concurrency), false);
  const int groups = (options_.concurrency + options_.per_key_limit - 1) / options_.per_key_limit;
  for (int g = 0; g < groups; ++g) groups_.push_back(Group{.key = next_key_++, .ops = 0});
  if (IsTxnWorkload(options_.workload)) {
    next_key_ = 0;
    for (int k = 0; k < std::max(1, options_.txn_keys); ++k) {
      txn_live_.push_back(next_key_++);
      txn_last_value_.push_back(0);
    }
  }
}

bool IsTxnWorkload(Workload workload) {
  return workload == Workload::kAppend || workload == Workload::kRwRegister;
}

Op Generator::NextTxn(int worker, const Process& process) {
  std::mt19937_64& rng = worker_rngs_[static_cast<size_t>(worker)];
  const bool append = options_.workload == Workload::kAppend;
  const int64_t n = 1 + Below(rng, std::max(1, options_.txn_max_ops));
  std::vector<Value> ops;
  for (int64_t i = 0; i < n; ++i) {
    const auto slot = static_cast<size_t>(Below(rng, static_cast<int64_t>(txn_live_.size())));
    const int64_t key = txn_live_[slot];
    if (Below(rng, 2) == 0) {
      ops.push_back(Value::Vector({Value::Keyword("r"), Value::Int(key), Value::Nil()}));
      continue;
    }
    const int64_t value = ++txn_last_value_[slot];
    ops.push_back(Value::Vector(
        {Value::Keyword(append ? "append" : "w"), Value::Int(key), Value::Int(value)}));
    if (value >= options_.ops_per_key) {  // retire the key; later micro-ops use the fresh one
      txn_live_[slot] = next_key_++;
      txn_last_value_[slot] = 0;
    }
  }
  Op op = Invocation(process, "txn", Value::Nil(), Value::Vector(std::move(ops)));
  op.key.reset();  // a transaction names its keys in its micro-ops
  return op;
}

Value Generator::KeyValue(int64_t key) const {
  if (options_.workload == Workload::kSet) return Value::String(options_.key_prefix + "/set");
  return Value::String(fmt::format("{}/{}", options_.key_prefix, key));
}

Value Generator::CurrentKey(int worker) const {
  return KeyValue(groups_[static_cast<size_t>(worker / options_.per_key_limit)].key);
}

Op Generator::Next(int worker, const Process& process) {
  assert(worker >= 0 && worker < options_.concurrency);
  std::mt19937_64& rng = worker_rngs_[static_cast<size_t>(worker)];
  if (options_.workload == Workload::kSet) {
    const Value key = KeyValue(0);
    if (Unit(rng) < options_.set_read_share) {
      return Invocation(process, "read", key, Value::Nil());
    }
    // Unique without shared state: worker w adds w, w + c, w + 2c, ...
    const int64_t n = worker_adds_[static_cast<size_t>(worker)]++;
    return Invocation(process, "add", key, Value::Int(worker + n * options_.concurrency));
  }
  if (IsTxnWorkload(options_.workload)) return NextTxn(worker, process);
  Group& group = groups_[static_cast<size_t>(worker / options_.per_key_limit)];
  if (options_.workload == Workload::kCounter) {
    const Value key = KeyValue(group.key);
    if (Below(rng, 3) == 0) return Invocation(process, "read", key, Value::Nil());
    return Invocation(process, "add", key,
                      Value::Int(1 + Below(rng, std::max(1, options_.counter_max_delta))));
  }
  if (options_.workload == Workload::kLock) {
    const Value key = KeyValue(group.key);
    switch (lock_steps_[static_cast<size_t>(worker)]) {
      case LockStep::kAcquire:
        return Invocation(process, "acquire", key, Value::Nil());
      case LockStep::kHold: {
        const double hold_s = options_.lock_ttl_s * (0.5 + 2.0 * Unit(rng));
        return Invocation(process, "hold", key,
                          Value::Int(std::max<int64_t>(1, static_cast<int64_t>(hold_s * 1000))));
      }
      case LockStep::kRelease:
        return Invocation(process, "release", key, Value::Nil());
    }
  }
  if (group.ops >= options_.ops_per_key) group = Group{.key = next_key_++, .ops = 0};
  ++group.ops;
  const Value key = KeyValue(group.key);
  const int64_t domain = options_.value_domain;
  switch (Below(rng, 3)) {
    case 0:
      return Invocation(process, "read", key, Value::Nil());
    case 1:
      return Invocation(process, "write", key, Value::Int(Below(rng, domain)));
    default: {
      const int64_t old_value = Below(rng, domain);
      const int64_t new_value = Below(rng, domain);
      return Invocation(process, "cas", key,
                        Value::Vector({Value::Int(old_value), Value::Int(new_value)}));
    }
  }
}

void Generator::Completed(int worker, std::string_view f, OpType type) {
  assert(worker >= 0 && worker < options_.concurrency);
  if (options_.workload != Workload::kLock) return;
  const auto w = static_cast<size_t>(worker);
  lock_cycle_ended_[w] = f == "release";
  // A hold or acquire that did not end ok leaves a new process (after info) or no lock (after
  // fail): start over. A release, whatever its outcome, ends the cycle (the client forgets it).
  if (f == "acquire" && type == OpType::kOk) {
    lock_steps_[w] = LockStep::kHold;
  } else if (f == "hold" && type == OpType::kOk) {
    lock_steps_[w] = LockStep::kRelease;
  } else {
    lock_steps_[w] = LockStep::kAcquire;
  }
}

bool Generator::InCycle(int worker) const {
  return options_.workload == Workload::kLock &&
         lock_steps_[static_cast<size_t>(worker)] != LockStep::kAcquire;
}

std::optional<Op> Generator::FinalRead(int worker, const Process& process) const {
  if (options_.workload == Workload::kLock) return std::nullopt;
  if (IsTxnWorkload(options_.workload)) {
    std::vector<Value> reads;
    for (int64_t key : txn_live_) {
      reads.push_back(Value::Vector({Value::Keyword("r"), Value::Int(key), Value::Nil()}));
    }
    Op op = Invocation(process, "txn", Value::Nil(), Value::Vector(std::move(reads)));
    op.key.reset();
    op.AddExtra(kFinalField, Value::Bool(true));
    return op;
  }
  const Value key = options_.workload == Workload::kSet ? KeyValue(0) : CurrentKey(worker);
  Op op = Invocation(process, "read", key, Value::Nil());
  op.AddExtra(kFinalField, Value::Bool(true));
  return op;
}

std::chrono::nanoseconds Generator::Delay(int worker) {
  std::mt19937_64& rng = worker_rngs_[static_cast<size_t>(worker)];
  std::chrono::nanoseconds pause(0);
  if (options_.workload == Workload::kLock && lock_cycle_ended_[static_cast<size_t>(worker)]) {
    pause = std::chrono::milliseconds(100 + Below(rng, 300));
  }
  if (options_.rate <= 0) return pause;
  const double base_s = options_.concurrency / options_.rate;
  const double jitter = 0.5 + Unit(rng);
  return pause + std::chrono::nanoseconds(static_cast<int64_t>(base_s * jitter * 1e9));
}

// ---- nemesis schedule ----

Result<std::vector<FaultKind>> ParseScheduleKinds(std::string_view list) {
  Result<std::vector<FaultKind>> kinds = nemesis::ParseFaultKindList(list, kScheduleFaultKinds);
  if (!kinds) return std::move(kinds).error().WithContext("nemesis");
  return kinds;
}

bool ChangesMembership(std::span<const FaultKind> kinds) {
  return std::find(kinds.begin(), kinds.end(), FaultKind::kMemberRemove) != kinds.end();
}

NemesisSchedule::NemesisSchedule(NemesisScheduleOptions options)
    : options_(std::move(options)), rng_(Mix(options_.seed ^ 0x6e656d65736973ULL)) {}

Result<FaultSpec> NemesisSchedule::Next() {
  assert(!options_.kinds.empty() && !options_.nodes.empty());
  const auto& kinds = options_.kinds;
  FaultSpec spec;
  spec.kind = kinds[static_cast<size_t>(Below(rng_, static_cast<int64_t>(kinds.size())))];
  spec.seed = rng_();
  const std::vector<std::string>& nodes = options_.nodes;
  switch (spec.kind) {
    case FaultKind::kPartition: {
      if (options_.leader && nodes.size() >= 3 && Below(rng_, 2) == 1) {
        FAULTLINE_ASSIGN_OR_RETURN(spec.grudge, nemesis::ParseGrudgeSpec("leader-minority"));
        break;
      }
      // Kinds that need more nodes than the cluster has are left out.
      std::vector<std::string> specs = {"halves"};
      if (nodes.size() >= 3) specs.insert(specs.end(), {"majority", "bridge"});
      if (nodes.size() >= 4) specs.push_back("majorities-ring");
      if (nodes.size() >= 2) specs.push_back("minority-third");
      FAULTLINE_ASSIGN_OR_RETURN(
          spec.grudge,
          nemesis::ParseGrudgeSpec(
              specs[static_cast<size_t>(Below(rng_, static_cast<int64_t>(specs.size())))]));
      break;
    }
    case FaultKind::kIsolate: {
      std::string node = options_.isolate_node;
      if (node.empty()) {
        node = nodes[static_cast<size_t>(Below(rng_, static_cast<int64_t>(nodes.size())))];
      }
      spec.targets = node;
      break;
    }
    case FaultKind::kIsolateLeader:
      break;
    case FaultKind::kKill:
    case FaultKind::kPause:
    case FaultKind::kLoss:
    case FaultKind::kClockBump:
    case FaultKind::kClockStrobe:
    case FaultKind::kHttpStatus:
    case FaultKind::kHttpDelay:
    case FaultKind::kHttpDrop:
    case FaultKind::kHttpTruncate:
    case FaultKind::kProxyLatency:
    case FaultKind::kDuplicate:
    case FaultKind::kReorder:
    case FaultKind::kPacketCorrupt:
    case FaultKind::kMemberRemove: {
      // One node or a minority, at random; a minority needs at least 3 nodes.
      // Members leave one at a time (what every system with membership changes can take back).
      const bool minority =
          spec.kind != FaultKind::kMemberRemove && nodes.size() >= 3 && Below(rng_, 2) == 1;
      FAULTLINE_ASSIGN_OR_RETURN(
          std::vector<std::string> targets,
          nemesis::ResolveTarget(minority ? "minority" : "one", nodes, std::nullopt, rng_()));
      spec.targets = fmt::format("{}", fmt::join(targets, ","));
      if (spec.kind == FaultKind::kReorder) {
        spec.delay = std::chrono::milliseconds(50);
        spec.jitter = std::chrono::milliseconds(10);
      }
      if (spec.kind == FaultKind::kClockBump) {
        const int64_t ms = 500 + Below(rng_, 4501);
        spec.clock_offset = std::chrono::milliseconds(Below(rng_, 2) == 1 ? ms : -ms);
      }
      if (spec.kind == FaultKind::kClockStrobe) {
        spec.clock_offset = std::chrono::milliseconds(500 + Below(rng_, 1501));
        spec.clock_period = std::chrono::milliseconds(100 + Below(rng_, 401));
      }
      if (!nemesis::IsProxyFaultKind(spec.kind)) break;
      // Proxy kinds: on a share of the requests (or connections) through those nodes' proxies.
      spec.proxy.share = spec.kind == FaultKind::kProxyLatency ? 1.0 : 0.3;
      if (spec.kind == FaultKind::kHttpDelay) spec.delay = std::chrono::milliseconds(200);
      if (spec.kind == FaultKind::kProxyLatency) {
        spec.delay = std::chrono::milliseconds(50);
        spec.jitter = std::chrono::milliseconds(10);
      }
      break;
    }
    case FaultKind::kLoseUnsynced:
      break;
    case FaultKind::kLoseUnsyncedOne:
    case FaultKind::kTornWrite:
    case FaultKind::kFsyncError:
    case FaultKind::kSlowDisk: {
      // Disk faults: one node at random (lose-unsynced is every node at once).
      FAULTLINE_ASSIGN_OR_RETURN(std::vector<std::string> one,
                                 nemesis::ResolveTarget("one", nodes, std::nullopt, rng_()));
      spec.targets = one.front();
      if (spec.kind == FaultKind::kFsyncError) spec.probability = 0.5;
      if (spec.kind == FaultKind::kSlowDisk) spec.delay = std::chrono::milliseconds(20);
      break;
    }
    default:
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("nemesis: a campaign does not schedule {} faults (expected {})",
                                   nemesis::FaultKindName(spec.kind),
                                   nemesis::FaultKindList(kScheduleFaultKinds)));
  }
  return spec;
}

}  // namespace faultline::runner
