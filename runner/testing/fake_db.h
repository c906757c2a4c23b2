// Test doubles for the runner: an in-memory database behind client::ClientFactory (a linearizable
// register store and set store with random latencies), with injectable info completions and a
// fake "partition" that makes one node serve stale reads or lose acknowledged adds, and a
// FaultInjector that flips it.
//
// Thread-safety: FakeDb is thread-safe (clients run on the io thread, the injector on the nemesis
// thread). FakeClient is used by one coroutine at a time.
#ifndef FAULTLINE_RUNNER_TESTING_FAKE_DB_H_
#define FAULTLINE_RUNNER_TESTING_FAKE_DB_H_

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "client/client.h"
#include "history/txn.h"
#include "runner/campaign.h"

namespace faultline::runner::testing {

struct FakeDbOptions {
  int nodes = 5;
  std::chrono::microseconds max_latency{2000};
  double info_probability = 0;  // an op ends info (applied or not, at random)
  // While partitioned, node `isolated` (0-based) serves reads from a snapshot taken when the
  // partition began, and its writes time out (info, not applied): a serializable read's anomaly.
  bool stale_when_partitioned = false;
  // On heal, acknowledged adds made while partitioned are dropped from the set: lost elements.
  bool lose_adds_on_heal = false;
  int isolated = 0;
  bool always_info = false;  // every op ends info (a broken client)
  // counter: "add" adds to an integer counter per key and "read" reads it (0 when absent); lock:
  // "acquire" (fail while another process holds the lock), "hold" (ok), "release".
  Workload workload = Workload::kRegister;
  // lock: while partitioned, an acquire is granted even when another holds the lock (a holder's
  // lease expired behind its back): overlapping holds, a mutex violation.
  bool lock_lost_when_partitioned = false;
};

class FakeDb {
 public:
  explicit FakeDb(FakeDbOptions options) : options_(options) {}
  const FakeDbOptions& options() const { return options_; }

  void Partition() {
    std::lock_guard lock(mu_);
    if (partitioned_) return;
    partitioned_ = true;
    snapshot_ = registers_;
    snapshot_revision_ = revision_;
    txn_snapshot_ = txn_state_;
    ++partitions_;
  }
  void Heal() {
    std::lock_guard lock(mu_);
    if (partitioned_ && options_.lose_adds_on_heal) {
      for (auto& [key, elements] : sets_) {
        for (int64_t e : added_while_partitioned_[key]) elements.erase(e);
      }
    }
    added_while_partitioned_.clear();
    partitioned_ = false;
    ++heals_;
  }
  int partitions() const {
    std::lock_guard lock(mu_);
    return partitions_;
  }
  int heals() const {
    std::lock_guard lock(mu_);
    return heals_;
  }
  int opened() const { return opened_; }

  // Applies op atomically for a client on `node`. Sets type and result; revision is the store's.
  void Apply(const history::Op& op, int node, bool& info, history::OpType& type,
             history::Value& result, int64_t& revision) {
    std::lock_guard lock(mu_);
    const std::string key = op.key ? op.key->ToEdn() : std::string();
    const bool isolated =
        partitioned_ && options_.stale_when_partitioned && node == options_.isolated;
    type = history::OpType::kOk;
    result = history::Value::Nil();
    if (op.f == "txn") {
      ApplyTxn(op, isolated, info, type, result, revision);
      return;
    }
    if (options_.workload == Workload::kCounter) {
      int64_t& counter = counters_[key];
      if (op.f == "add") counter += op.value.as_int();
      result = history::Value::Int(counter);
      revision = ++revision_;
      return;
    }
    if (options_.workload == Workload::kLock) {
      auto it = locks_.find(key);
      if (op.f == "acquire") {
        if (it != locks_.end() && !(partitioned_ && options_.lock_lost_when_partitioned)) {
          type = history::OpType::kFail;  // held: in this fake, refused at once
        } else {
          locks_[key] = op.process.number;
        }
      } else if (op.f == "release" && it != locks_.end() && it->second == op.process.number) {
        locks_.erase(it);
      }
      revision = ++revision_;
      return;
    }
    if (op.f == "read" && op.key && op.key->is_string() && op.key->text().ends_with("/set")) {
      std::vector<history::Value> items;
      for (int64_t e : sets_[key]) items.push_back(history::Value::Int(e));
      result = history::Value::Vector(std::move(items));
    } else if (op.f == "read") {
      auto& table = isolated ? snapshot_ : registers_;
      auto it = table.find(key);
      result = it == table.end() ? history::Value::Nil() : it->second;
    } else if (isolated) {
      info = true;  // a write through the isolated member times out and is never applied
    } else if (op.f == "write") {
      registers_[key] = op.value;
      ++revision_;
    } else if (op.f == "cas") {
      auto it = registers_.find(key);
      const history::Value cur = it == registers_.end() ? history::Value::Nil() : it->second;
      if (cur == op.value.items()[0]) {
        registers_[key] = op.value.items()[1];
        ++revision_;
      } else {
        type = history::OpType::kFail;
      }
    } else if (op.f == "add") {
      sets_[key].insert(op.value.as_int());
      if (partitioned_) added_while_partitioned_[key].insert(op.value.as_int());
      ++revision_;
    }
    revision = isolated ? snapshot_revision_ : revision_;
  }

  std::atomic<int> opened_{0};

 private:
  // append / rw-register: applies the micro-ops atomically (strict serializable), except on the
  // isolated node while stale_when_partitioned: read-only transactions read the snapshot taken
  // when the partition began, and transactions that write time out unapplied.
  struct TxnState {
    std::map<int64_t, std::vector<int64_t>> lists;
    std::map<int64_t, int64_t> registers;
  };
  void ApplyTxn(const history::Op& op, bool isolated, bool& info, history::OpType& type,
                history::Value& result, int64_t& revision) {
    auto decoded = history::DecodeMicroOps(op.value, false);
    if (!decoded) {
      type = history::OpType::kFail;
      return;
    }
    std::vector<history::MicroOp> ops = std::move(decoded).value();
    const bool writes = std::any_of(ops.begin(), ops.end(), [](const history::MicroOp& m) {
      return m.kind != history::MicroOpKind::kRead;
    });
    if (isolated && writes) {
      info = true;
      return;
    }
    TxnState& state = isolated ? txn_snapshot_ : txn_state_;
    for (history::MicroOp& m : ops) {
      switch (m.kind) {
        case history::MicroOpKind::kAppend:
          state.lists[m.key].push_back(m.value);
          break;
        case history::MicroOpKind::kWrite:
          state.registers[m.key] = m.value;
          break;
        case history::MicroOpKind::kRead: {
          m.known = true;
          if (options_.workload == Workload::kAppend) {
            m.is_list = true;
            m.list = state.lists[m.key];
          } else {
            auto it = state.registers.find(m.key);
            m.nil = it == state.registers.end();
            m.value = m.nil ? 0 : it->second;
          }
          break;
        }
      }
    }
    if (writes) ++revision_;
    revision = isolated ? snapshot_revision_ : revision_;
    result = history::EncodeMicroOps(ops);
  }

  FakeDbOptions options_;
  mutable std::mutex mu_;
  std::map<std::string, history::Value> registers_;
  std::map<std::string, history::Value> snapshot_;
  std::map<std::string, int64_t> counters_;
  std::map<std::string, int64_t> locks_;  // lock key -> holder process
  std::map<std::string, std::set<int64_t>> sets_;
  std::map<std::string, std::set<int64_t>> added_while_partitioned_;
  bool partitioned_ = false;
  int partitions_ = 0;
  int heals_ = 0;
  int64_t revision_ = 1;
  int64_t snapshot_revision_ = 1;
  TxnState txn_state_;
  TxnState txn_snapshot_;
};

class FakeClient final : public client::Client {
 public:
  FakeClient(FakeDb& db, const history::Process& process)
      : db_(db),
        node_(static_cast<int>(process.number % db.options().nodes)),
        rng_(static_cast<std::uint64_t>(process.number) * 7919 + 1) {}

  boost::asio::awaitable<client::Completion> Invoke(history::Op invoke) override {
    const auto start = std::chrono::steady_clock::now();
    boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
    timer.expires_after(Latency());
    co_await timer.async_wait(boost::asio::use_awaitable);
    bool info = db_.options().always_info ||
                std::uniform_real_distribution<double>(0, 1)(rng_) < db_.options().info_probability;
    // An info op may or may not have happened.
    const bool apply = !info || (rng_() % 2 == 0);
    history::OpType type = history::OpType::kInfo;
    history::Value result;
    int64_t revision = 0;
    if (apply) db_.Apply(invoke, node_, info, type, result, revision);
    timer.expires_after(Latency());
    // lock: a hold takes a tenth of its requested time, so that locks are held most of the time.
    if (invoke.f == "hold" && invoke.value.is_int()) {
      timer.expires_after(std::chrono::milliseconds(invoke.value.as_int() / 10));
    }
    co_await timer.async_wait(boost::asio::use_awaitable);
    client::Completion c;
    if (info) {
      c.op = invoke.Complete(history::OpType::kInfo, history::Value::Nil());
      c.op.error = history::Value::Keyword("timeout");
    } else {
      c.op = invoke.Complete(type,
                             type == history::OpType::kOk && invoke.f != "read" && invoke.f != "txn"
                                 ? invoke.value
                                 : result);
      c.revision = revision;
    }
    c.node = fmt::format("n{}", node_ + 1);
    c.latency = std::chrono::steady_clock::now() - start;
    co_return c;
  }
  void Close() override {}

 private:
  std::chrono::microseconds Latency() {
    return std::chrono::microseconds(
        rng_() % static_cast<std::uint64_t>(db_.options().max_latency.count() + 1));
  }
  FakeDb& db_;
  int node_;
  std::mt19937_64 rng_;
};

class FakeClientFactory final : public client::ClientFactory {
 public:
  explicit FakeClientFactory(FakeDb& db) : db_(db) {}
  Result<std::unique_ptr<client::Client>> Open(const history::Process& process,
                                               boost::asio::io_context& /*io*/) override {
    ++db_.opened_;
    std::lock_guard lock(mu_);
    processes_.insert(process.number);
    return std::unique_ptr<client::Client>(std::make_unique<FakeClient>(db_, process));
  }
  std::set<int64_t> processes() const {
    std::lock_guard lock(mu_);
    return processes_;
  }

 private:
  FakeDb& db_;
  mutable std::mutex mu_;
  std::set<int64_t> processes_;
};

class FakeInjector final : public FaultInjector {
 public:
  FakeInjector(FakeDb& db, int nodes) : db_(db) {
    for (int i = 1; i <= nodes; ++i) nodes_.push_back(fmt::format("n{}", i));
  }
  std::vector<std::string> Nodes() const override { return nodes_; }
  Result<nemesis::FaultReport> Apply(const nemesis::FaultSpec& spec) override {
    ++applied_;
    const bool partition = nemesis::IsPartitionKind(spec.kind);
    if (partition) db_.Partition();
    nemesis::FaultReport r;
    // As the real nemesis reports it: the isolate kinds are partitions.
    r.kind = partition ? FaultKind::kPartition : spec.kind;
    r.description = nemesis::DescribeFault(spec);
    if (!partition && !spec.targets.empty()) {
      Result<std::vector<std::string>> nodes =
          nemesis::ResolveTarget(spec.targets, nodes_, std::nullopt, spec.seed);
      if (nodes) r.nodes = *nodes;
    }
    r.ok = !fail_faults_;
    if (fail_faults_) r.failed = {"n2"};
    return r;
  }
  nemesis::FaultReport HealAll() override {
    ++heals_;
    db_.Heal();
    nemesis::FaultReport r;
    r.kind = FaultKind::kHeal;
    r.description = "healed";
    r.ok = true;
    return r;
  }
  FaultProbe Probe(const nemesis::FaultSpec& /*spec*/,
                   const nemesis::FaultReport& /*report*/) override {
    if (!probe_says_) return {};
    return FaultProbe{.confirmed = *probe_says_,
                      .evidence = *probe_says_ ? "fake probe: cut seen" : "fake probe: no cut"};
  }
  std::atomic<int> applied_{0};
  std::atomic<int> heals_{0};
  bool fail_faults_ = false;
  std::optional<bool> probe_says_;  // what Probe reports; nullopt: no probe

 private:
  FakeDb& db_;
  std::vector<std::string> nodes_;
};

}  // namespace faultline::runner::testing

#endif  // FAULTLINE_RUNNER_TESTING_FAKE_DB_H_
