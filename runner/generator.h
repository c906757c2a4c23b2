// The campaign generator: what each worker does next, and the nemesis schedule.
//
// Workers follow Jepsen's process semantics: worker w starts as process w; an op that ends `info`
// leaves the worker's state unknown, so the worker continues as process p + concurrency with a new
// client (see NextProcess). Ops carry Op::key (independent keys): the workers are split into
// groups of at most per_key_limit, each group works on one key at a time, and a group moves to a
// fresh key after ops_per_key invocations, so no key ever has more than per_key_limit workers on
// it (Jepsen's independent concurrent generator). A fresh key keeps each linearizability search
// small.
//
// Everything is seeded (std::mt19937_64 with an explicit seed): each worker has its own generator
// derived from (seed, worker), so a worker's sequence of fs and values depends only on the seed and
// on how many ops it asked for; the key a group uses depends on the order of calls within the
// group, which the same calls reproduce.
//
// Thread-safety: Generator and NemesisSchedule are not thread-safe (the run loop calls Generator
// from its io_context thread and NemesisSchedule from its nemesis thread).
#ifndef FAULTLINE_RUNNER_GENERATOR_H_
#define FAULTLINE_RUNNER_GENERATOR_H_

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "history/fields.h"
#include "history/op.h"
#include "nemesis/fault.h"

namespace faultline::runner {

enum class Workload {
  kRegister,  // read / write / cas [old new] on independent keys, values 0..value_domain-1
  kSet,       // unique adds of integers to one set, reads during the run and final reads
  // add (a small positive delta) / read on one fixed key per worker group; final reads of every
  // key.
  kCounter,
  // acquire / hold / release cycles on one fixed lock per worker group (see Generator::Completed).
  kLock,
  // Transactions ("txn", history/txn.h) of 1..txn_max_ops micro-ops over txn_keys live keys:
  // kAppend reads and appends to lists ([:r k nil] [:append k v]); kRwRegister reads and writes
  // registers ([:r k nil] [:w k v]). Each key's values are unique (1, 2, 3, ...); a key retires
  // after ops_per_key writes and a fresh key takes its place (Elle's premise, and it keeps lists
  // short).
  kAppend,
  kRwRegister,
};
// "register", "set", "counter", "lock", "append", "rw-register"
std::string_view WorkloadName(Workload workload);
[[nodiscard]] Result<Workload> ParseWorkload(std::string_view name);
// append or rw-register: ops are transactions (f "txn", no :key).
bool IsTxnWorkload(Workload workload);

struct GeneratorOptions {
  Workload workload = Workload::kRegister;
  int concurrency = 10;         // workers
  int per_key_limit = 2;        // register: workers on one key at once
  int ops_per_key = 100;        // register: invocations on a key before its group moves on
  int value_domain = 5;         // register: values 0..value_domain-1
  double set_read_share = 0.1;  // set: share of reads among the ops during the run
  int counter_max_delta = 5;    // counter: adds are 1..counter_max_delta
  // lock: the lease TTL; a hold lasts 0.5..2.5 x TTL (longer than the TTL: safe only while the
  // holder keeps its lease alive, which is what a process pause breaks).
  double lock_ttl_s = 2;
  // Keys are "<key_prefix>/<n>" (register, counter, lock) or "<key_prefix>/set" (set). A prefix
  // unique to the run keeps a reused cluster's old data out of a new run's keys.
  std::string key_prefix = "fl";
  int txn_keys = 10;    // append, rw-register: keys live at a time
  int txn_max_ops = 4;  // append, rw-register: micro-ops per transaction, 1..txn_max_ops
  double rate = 0;      // ops/s over all workers; 0 = as fast as the clients go
  std::uint64_t seed = 0;
};

// The process a worker continues as after an info completion.
history::Process NextProcess(const history::Process& process, int concurrency);

// The extra field marking a final read's invocation (:final true); history/fields.h names it.
inline constexpr std::string_view kFinalField = history::field::kFinal;

class Generator {
 public:
  // REQUIRES: concurrency >= 1, per_key_limit >= 1, ops_per_key >= 1, value_domain >= 1.
  explicit Generator(GeneratorOptions options);

  // The next invocation of `worker` (0 <= worker < concurrency), made for `process`; index and time
  // are left -1 for the log to stamp.
  // counter and lock: a group keeps one key for the whole run (ops_per_key does not apply): a
  // counter's bounds need every add to its key, and a lock cycle must release the key it acquired.
  // lock: Next follows the worker's cycle: "acquire" (value nil); after an ok acquire, "hold"
  // (value: the hold time in ms); after an ok hold, "release" (value nil); then "acquire" again.
  history::Op Next(int worker, const history::Process& process);

  // Tells the generator how the worker's last op ended (the run loop calls it after every
  // completion). Only the lock workload's cycle depends on it; other workloads ignore it.
  void Completed(int worker, std::string_view f, history::OpType type);

  // True while the worker is inside a lock cycle (its acquire ended ok and its release has not
  // been invoked yet). The run loop lets such a worker finish the cycle after the time limit: a
  // holder that stopped without releasing would leave its lock to the lease's expiry, and the
  // next acquire would look like a mutual-exclusion violation.
  bool InCycle(int worker) const;

  // A final read for the worker, marked :final true, or nullopt when the workload has none (lock).
  // append and rw-register: a transaction reading every live key.
  // set: a read of the set. register and counter: a read of the key the worker's group uses at the
  // end, so that every key in use at the end is read after the heal. Earlier register keys get
  // no final read: each is checked on its own with the ops it had, and reading every key ever
  // used (hundreds in a long run) would cost more than the last faults' keys gain.
  std::optional<history::Op> FinalRead(int worker, const history::Process& process) const;

  // How long the worker waits before its next op: concurrency / rate seconds, times a jitter
  // uniform in [0.5, 1.5) (Jepsen's stagger); zero when rate is 0. lock: after a release, also a
  // short pause (100..400 ms) between cycles.
  std::chrono::nanoseconds Delay(int worker);

  // The key the worker's group uses now (for tests).
  history::Value CurrentKey(int worker) const;
  const GeneratorOptions& options() const { return options_; }

 private:
  struct Group {
    int64_t key = 0;
    int ops = 0;
  };
  history::Value KeyValue(int64_t key) const;

  GeneratorOptions options_;
  std::vector<std::mt19937_64> worker_rngs_;
  std::vector<int64_t> worker_adds_;  // set: adds made by each worker so far
  enum class LockStep { kAcquire, kHold, kRelease };
  std::vector<LockStep> lock_steps_;    // lock: what each worker does next
  std::vector<bool> lock_cycle_ended_;  // lock: the worker's last op was a release
  history::Op NextTxn(int worker, const history::Process& process);

  std::vector<Group> groups_;
  int64_t next_key_ = 0;
  std::vector<int64_t> txn_live_;        // append, rw-register: the live keys
  std::vector<int64_t> txn_last_value_;  // ...and the last value written to each (same order)
};

// ---- the nemesis schedule ----

// The schedule speaks the nemesis's fault vocabulary (nemesis/fault.h): it produces FaultSpecs.
using nemesis::FaultKind;
using nemesis::FaultSpec;

// The kinds a campaign's schedule chooses from (the --nemesis list).
// The proxy kinds (http-status, http-delay, http-drop, http-truncate, proxy-latency) act on the
// proxies in front of the nodes' client ports (CampaignConfig::proxy).
inline constexpr std::array kScheduleFaultKinds = {
    FaultKind::kPartition,    FaultKind::kIsolate,       FaultKind::kIsolateLeader,
    FaultKind::kKill,         FaultKind::kPause,         FaultKind::kLoss,
    FaultKind::kHttpStatus,   FaultKind::kHttpDelay,     FaultKind::kHttpDrop,
    FaultKind::kHttpTruncate, FaultKind::kProxyLatency,  FaultKind::kDuplicate,
    FaultKind::kReorder,      FaultKind::kPacketCorrupt, FaultKind::kClockBump,
    FaultKind::kClockStrobe,  FaultKind::kLoseUnsynced,  FaultKind::kLoseUnsyncedOne,
    FaultKind::kFsyncError,   FaultKind::kTornWrite,     FaultKind::kSlowDisk,
    FaultKind::kMemberRemove};
// Whether a schedule of these kinds changes the cluster's membership (member-remove: the system
// must support it, System::Membership).
bool ChangesMembership(std::span<const FaultKind> kinds);
// Parses a comma-separated list of those kinds such as "partition,kill,pause,loss"; "none" or ""
// means no faults. Kept in the order given, duplicates removed.
[[nodiscard]] Result<std::vector<FaultKind>> ParseScheduleKinds(std::string_view list);

struct NemesisScheduleOptions {
  std::vector<FaultKind> kinds;    // chosen at random (seeded) for each cycle
  std::vector<std::string> nodes;  // cluster order
  // kIsolate picks this node every time when set (e.g. "n3"), instead of a random one.
  std::string isolate_node;
  // The system names a leader: half of the kPartition faults (3 nodes or more) are
  // "leader-minority", the leader and a random minority against the rest (Jepsen's leader-aware
  // grudges); a random grudge cuts a 3-node cluster's leader off only a third of the time.
  bool leader = false;
  std::uint64_t seed = 0;
};

// Each fault the schedule makes is concrete except for the leader, which is looked up when it is
// applied: kPartition names a grudge (random ones are drawn with the spec's seed; with
// options.leader, half are leader-minority), kIsolate one
// node, kIsolateLeader nothing; kKill, kPause and kLoss name one node or a minority, in cluster
// order; loss keeps FaultSpec's default probability (30%). duplicate, reorder and packet-corrupt
// name one node or a minority too, on 30% of their packets (reorder holds each 50 ± 10 ms);
// clock-bump moves one node or a minority by ±(0.5..5 s), clock-strobe by +0.5..2 s every
// 100..500 ms; kMemberRemove one node (the heal after each fault adds it back).
class NemesisSchedule {
 public:
  explicit NemesisSchedule(NemesisScheduleOptions options);
  // The next fault to apply. REQUIRES: !options.kinds.empty() and nodes not empty.
  [[nodiscard]] Result<FaultSpec> Next();

 private:
  NemesisScheduleOptions options_;
  std::mt19937_64 rng_;
};

}  // namespace faultline::runner

#endif  // FAULTLINE_RUNNER_GENERATOR_H_
