#include "client/etcd.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <exception>
#include <optional>
#include <utility>
#include <variant>
#include <vector>

#include "client/internal/etcd_connection.h"
#include "client/internal/etcd_json.h"
#include "client/key.h"
#include "history/fields.h"
#include "history/txn.h"

namespace faultline::client {
namespace {

namespace asio = boost::asio;
using history::OpType;
using history::Value;
using internal::EtcdReply;
using internal::Exchange;

// "127.0.0.1:2379", "[::1]:2379".
std::string HostHeader(const EtcdEndpoint& e) {
  return e.host.find(':') == std::string::npos ? fmt::format("{}:{}", e.host, e.port)
                                               : fmt::format("[{}]:{}", e.host, e.port);
}

std::optional<std::int64_t> ParseInt(std::string_view text) { return internal::ParseI64(text); }

// The rounds of an op that retries false compares until its deadline (options.timeout after the
// invocation); there is always a first round.
class Rounds {
 public:
  explicit Rounds(std::chrono::milliseconds timeout)
      : deadline_(std::chrono::steady_clock::now() + timeout) {}
  bool Next() {
    if (attempts_ > 0 && std::chrono::steady_clock::now() >= deadline_) return false;
    ++attempts_;
    return true;
  }
  // What is left for this round's requests (at least 1 ms).
  std::chrono::milliseconds remaining() const {
    return std::max(std::chrono::milliseconds(1),
                    std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline_ - std::chrono::steady_clock::now()));
  }
  int attempts() const { return attempts_; }

 private:
  std::chrono::steady_clock::time_point deadline_;
  int attempts_ = 0;
};

class EtcdClient final : public Client {
 public:
  EtcdClient(std::shared_ptr<const EtcdClientOptions> options, EtcdEndpoint endpoint,
             asio::ip::tcp::endpoint tcp)
      : options_holder_(std::move(options)),
        options_(*options_holder_),
        endpoint_(std::move(endpoint)),
        tcp_(tcp),
        connection_(tcp, HostHeader(endpoint_)) {}

  asio::awaitable<Completion> Invoke(history::Op invoke) override {
    const auto start = std::chrono::steady_clock::now();
    Completion c;
    std::optional<std::string> internal_error;
    try {
      c = co_await Run(invoke);
    } catch (const std::exception& e) {
      internal_error = e.what();
    }
    if (internal_error) {
      // Whatever threw may have left bytes in flight: never reuse the connection.
      connection_.Close();
      c = Completion{};
      c.op = invoke.Complete(OpType::kInfo, invoke.value);
      c.op.error = Value::String(fmt::format("internal error: {}", *internal_error));
    }
    c.node = endpoint_.node;
    c.latency = std::chrono::steady_clock::now() - start;
    co_return c;
  }

  void Close() override { connection_.Close(); }

 private:
  // An op that was never sent (malformed invocation) certainly did not happen.
  static Completion Malformed(const history::Op& invoke, std::string_view why) {
    Completion c;
    c.op = invoke.Complete(OpType::kFail, invoke.value);
    c.op.error = Value::String(fmt::format("invalid invocation: {}", why));
    return c;
  }

  static Completion Info(const history::Op& invoke, std::string error) {
    Completion c;
    c.op = invoke.Complete(OpType::kInfo, invoke.value);
    c.op.error = Value::String(std::move(error));
    return c;
  }

  std::string RegisterKey(const history::Op& op) const {
    return options_.key_prefix + "r/" + KeyText(op);
  }
  std::string SetDir(const history::Op& op) const {
    return options_.key_prefix + "s/" + KeyText(op) + "/";
  }
  bool serializable() const { return options_.read_mode == EtcdReadMode::kSerializable; }

  // "n1 (127.0.0.1:2379)", for error messages.
  std::string Where() const {
    return fmt::format("{} ({}:{})", endpoint_.node, endpoint_.host, endpoint_.port);
  }

  // Sends one request; on a transport problem returns the completion to give (fail for a
  // connect that failed on a fresh socket, info otherwise); on a reply returns it parsed.
  // timeout 0 means options_.timeout.
  asio::awaitable<std::variant<Completion, EtcdReply>> Call(
      const history::Op& invoke, std::string_view target, std::string body,
      std::chrono::milliseconds timeout = std::chrono::milliseconds(0)) {
    if (timeout.count() <= 0) timeout = options_.timeout;
    Exchange ex = co_await connection_.Post(target, std::move(body), timeout);
    switch (ex.status) {
      case Exchange::Status::kConnectFailed: {
        Completion c;
        c.op = invoke.Complete(OpType::kFail, invoke.value);
        c.op.error = Value::String(fmt::format("connect: {}: {}", Where(), ex.error));
        co_return c;
      }
      case Exchange::Status::kTimeout:
        co_return Info(invoke,
                       fmt::format("timeout: {}: no reply within {} ms", Where(), timeout.count()));
      case Exchange::Status::kIoError:
        co_return Info(invoke, fmt::format("io: {}: {}", Where(), ex.error));
      case Exchange::Status::kOk:
        break;
    }
    auto reply = internal::ParseReply(ex.body);
    if (!reply) {
      co_return Info(invoke, fmt::format("reply: {}: http {}: {}", Where(), ex.http_status,
                                         reply.error().message()));
    }
    if (reply->error) {
      Completion c =
          Info(invoke, fmt::format("etcd: {}: {} (code {})", Where(), *reply->error, reply->code));
      Stamp(c, *reply);
      co_return c;
    }
    if (ex.http_status != 200) {
      co_return Info(invoke, fmt::format("reply: {}: http {}", Where(), ex.http_status));
    }
    co_return std::move(*reply);
  }

  static void Stamp(Completion& c, const EtcdReply& reply) {
    c.member_id = reply.header.member_id;
    c.revision = reply.header.revision;
    c.raft_term = reply.header.raft_term;
  }

  // :info for a read whose first value is not an integer (`what` names it in the message): the
  // read happened, but what it saw cannot be recorded as a value.
  static Completion NotAnInteger(const history::Op& invoke, const EtcdReply& reply,
                                 std::string_view what) {
    Completion c = Info(invoke, fmt::format("read: {} {:?} is not an integer", what,
                                            reply.kvs.front().value.substr(0, 64)));
    Stamp(c, reply);
    return c;
  }

  static Completion Done(const history::Op& invoke, OpType type, Value value,
                         const EtcdReply& reply) {
    Completion c;
    c.op = invoke.Complete(type, std::move(value));
    Stamp(c, reply);
    return c;
  }

  asio::awaitable<Completion> Run(const history::Op& invoke) {
    switch (options_.workload) {
      case EtcdWorkload::kRegister:
        if (invoke.f == "read") co_return co_await Read(invoke);
        if (invoke.f == "write") co_return co_await Put(invoke, /*set=*/false);
        if (invoke.f == "cas") co_return co_await Cas(invoke);
        if (invoke.f == "read-set") co_return co_await ReadSet(invoke);
        break;
      case EtcdWorkload::kSet:
        if (invoke.f == "add") co_return co_await Put(invoke, /*set=*/true);
        if (invoke.f == "read" || invoke.f == "read-set") co_return co_await ReadSet(invoke);
        break;
      case EtcdWorkload::kCounter:
        if (invoke.f == "add") co_return co_await CounterAdd(invoke);
        if (invoke.f == "read") co_return co_await CounterRead(invoke);
        break;
      case EtcdWorkload::kLock:
        if (invoke.f == "acquire") co_return co_await Acquire(invoke);
        if (invoke.f == "release") co_return co_await Release(invoke);
        if (invoke.f == "hold") co_return co_await Hold(invoke);
        break;
      case EtcdWorkload::kAppend:
      case EtcdWorkload::kRwRegister:
        if (invoke.f == "txn") co_return co_await Txn(invoke);
        break;
    }
    co_return Malformed(invoke, fmt::format("f {} is not supported by the etcd {} workload",
                                            invoke.f, WorkloadName(options_.workload)));
  }

  static std::string_view WorkloadName(EtcdWorkload w) {
    switch (w) {
      case EtcdWorkload::kRegister:
        return "register";
      case EtcdWorkload::kSet:
        return "set";
      case EtcdWorkload::kCounter:
        return "counter";
      case EtcdWorkload::kLock:
        return "lock";
      case EtcdWorkload::kAppend:
        return "append";
      case EtcdWorkload::kRwRegister:
        return "rw-register";
    }
    return "unknown";
  }

  std::string CounterKey(const history::Op& op) const {
    return options_.key_prefix + "c/" + KeyText(op);
  }

  // The counter's value and mod_revision (0, 0 when absent), or the completion to give.
  struct CounterState {
    std::int64_t value = 0;
    std::int64_t mod_revision = 0;
  };
  asio::awaitable<std::variant<Completion, std::pair<CounterState, EtcdReply>>> ReadCounter(
      const history::Op& invoke, bool serializable_ok, std::chrono::milliseconds timeout) {
    auto r = co_await Call(invoke, "/v3/kv/range",
                           internal::RangeBody(CounterKey(invoke), "", serializable_ok), timeout);
    if (auto* c = std::get_if<Completion>(&r)) co_return std::move(*c);
    auto& reply = std::get<EtcdReply>(r);
    CounterState state;
    if (!reply.kvs.empty()) {
      auto v = ParseInt(reply.kvs.front().value);
      if (!v) co_return NotAnInteger(invoke, reply, "counter value");
      state.value = *v;
      state.mod_revision = reply.kvs.front().mod_revision;
    }
    co_return std::make_pair(state, std::move(reply));
  }

  asio::awaitable<Completion> CounterRead(const history::Op& invoke) {
    auto r = co_await ReadCounter(invoke, serializable(), options_.timeout);
    if (auto* c = std::get_if<Completion>(&r)) co_return std::move(*c);
    auto& [state, reply] = std::get<1>(r);
    co_return Done(invoke, OpType::kOk, Value::Int(state.value), reply);
  }

  asio::awaitable<Completion> CounterAdd(const history::Op& invoke) {
    if (!invoke.value.is_int()) {
      co_return Malformed(invoke,
                          fmt::format("add needs an integer delta, got {}", invoke.value.ToEdn()));
    }
    Rounds rounds(options_.timeout);
    std::optional<EtcdReply> last;
    while (rounds.Next()) {
      // Linearizable: a stale guess would only cost another round.
      auto read = co_await ReadCounter(invoke, /*serializable_ok=*/false, rounds.remaining());
      if (auto* c = std::get_if<Completion>(&read)) co_return std::move(*c);
      const CounterState state = std::get<1>(read).first;
      auto r =
          co_await Call(invoke, "/v3/kv/txn",
                        internal::ModCasBody(CounterKey(invoke), state.mod_revision,
                                             std::to_string(state.value + invoke.value.as_int())),
                        rounds.remaining());
      if (auto* c = std::get_if<Completion>(&r)) co_return std::move(*c);
      auto& reply = std::get<EtcdReply>(r);
      if (!reply.has_header) co_return Info(invoke, "reply: txn reply without a header");
      if (reply.succeeded) co_return Done(invoke, OpType::kOk, invoke.value, reply);
      last = std::move(reply);
    }
    // Every txn reported a false compare, so none applied.
    Completion c;
    c.op = invoke.Complete(OpType::kFail, invoke.value);
    c.op.error =
        Value::String(fmt::format("contention: counter add: {} compares failed within {} ms",
                                  rounds.attempts(), options_.timeout.count()));
    if (last) Stamp(c, *last);
    co_return c;
  }

  asio::awaitable<Completion> Acquire(const history::Op& invoke) {
    if (held_) {
      co_return Malformed(invoke,
                          fmt::format("acquire: this client already holds {:?}", held_->key));
    }
    auto grant = co_await Call(invoke, "/v3/lease/grant",
                               internal::LeaseGrantBody(options_.lock_ttl.count()));
    if (auto* c = std::get_if<Completion>(&grant)) co_return std::move(*c);
    const std::int64_t lease = std::get<EtcdReply>(grant).lease_id;
    if (lease == 0) co_return Info(invoke, "reply: lease grant without an ID");
    // The lock call blocks while another holds the lock; meanwhile this lease must be kept alive
    // (etcd 3.4.23 grants the lock to a waiter whose lease expired while it waited, its key gone).
    auto side = std::make_shared<SideKeepAlive>(tcp_, HostHeader(endpoint_),
                                                co_await asio::this_coro::executor);
    asio::co_spawn(co_await asio::this_coro::executor,
                   SideKeepAliveLoop(side, lease, KeepAlivePeriod(), options_.timeout),
                   asio::detached);
    // Stops the side loop however this coroutine ends; it then ends at its next wakeup (a
    // keepalive in flight finishes within its timeout).
    struct StopSide {
      std::shared_ptr<SideKeepAlive> side;
      void Stop() {
        if (side->stop) return;
        side->stop = true;
        side->timer.cancel();
      }
      ~StopSide() { Stop(); }
    } stop_side{side};
    const auto acquire_timeout = options_.lock_acquire_timeout.count() > 0
                                     ? options_.lock_acquire_timeout
                                     : options_.timeout;
    auto r = co_await Call(invoke, "/v3/lock/lock",
                           internal::LockBody(options_.key_prefix + "l/" + KeyText(invoke), lease),
                           acquire_timeout);
    stop_side.Stop();  // the lock call returned: the lease is this client's to keep alive now
    if (auto* c = std::get_if<Completion>(&r)) co_return std::move(*c);
    const auto& reply = std::get<EtcdReply>(r);
    if (reply.lock_key.empty()) co_return Info(invoke, "reply: lock reply without a key");
    held_ = Held{.key = reply.lock_key, .lease = lease};
    co_return Done(invoke, OpType::kOk, Value::Nil(), reply);
  }

  // Keepalives every TTL/3 (at least 100 ms apart).
  std::chrono::milliseconds KeepAlivePeriod() const {
    return std::max(std::chrono::milliseconds(100),
                    std::chrono::duration_cast<std::chrono::milliseconds>(options_.lock_ttl) / 3);
  }

  // A waiting acquire's keepalives, on a connection of their own (the lock call occupies the
  // client's). Shared with the detached loop, which may outlive the acquire by one keepalive.
  struct SideKeepAlive {
    SideKeepAlive(asio::ip::tcp::endpoint tcp, std::string host, asio::any_io_executor executor)
        : connection(tcp, std::move(host)), timer(std::move(executor)) {}
    internal::EtcdConnection connection;
    asio::steady_timer timer;
    bool stop = false;
  };
  static asio::awaitable<void> SideKeepAliveLoop(std::shared_ptr<SideKeepAlive> side,
                                                 std::int64_t lease,
                                                 std::chrono::milliseconds period,
                                                 std::chrono::milliseconds timeout) {
    try {
      while (!side->stop) {
        side->timer.expires_after(period);
        boost::system::error_code ec;
        co_await side->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (side->stop) break;
        // The answer does not matter here: a lost lease shows in the hold's keepalives.
        co_await side->connection.Post("/v3/lease/keepalive", internal::LeaseKeepAliveBody(lease),
                                       timeout);
      }
    } catch (const std::exception&) {
      // Best effort: nothing to report to; the hold's own keepalives record what etcd says.
    }
    side->connection.Close();
  }

  // "hold" (lock workload): keeps the held lock's lease alive for the hold time (invoke value, in
  // ms) with a keepalive every TTL/3 over this client's connection, as a session would. A
  // keepalive that times out or fails is transient: the client keeps holding (it cannot know
  // better; that is the hazard). A keepalive answered without a TTL means the lease is gone: the
  // hold ends early with :lost true. Always ok (value nil) unless malformed, with :keepalives
  // (answered), :keepalive_errors, :ttl (the last TTL etcd reported) and :lost.
  asio::awaitable<Completion> Hold(const history::Op& invoke) {
    if (!held_) co_return Malformed(invoke, "hold: this client holds no lock");
    if (!invoke.value.is_int() || invoke.value.as_int() < 0) {
      co_return Malformed(invoke, fmt::format("hold needs a hold time in ms (an integer >= 0), "
                                              "got {}",
                                              invoke.value.ToEdn()));
    }
    using Clock = std::chrono::steady_clock;
    const auto end = Clock::now() + std::chrono::milliseconds(invoke.value.as_int());
    const auto period = KeepAlivePeriod();
    asio::steady_timer timer(co_await asio::this_coro::executor);
    std::int64_t answered = 0;
    std::int64_t errors = 0;
    std::optional<std::int64_t> ttl;
    bool lost = false;
    std::optional<EtcdReply> last;
    std::string last_error;
    while (Clock::now() < end) {
      const auto next = Clock::now() + period;
      auto r =
          co_await Call(invoke, "/v3/lease/keepalive", internal::LeaseKeepAliveBody(held_->lease));
      if (auto* c = std::get_if<Completion>(&r)) {
        ++errors;
        last_error = c->op.ErrorText();
      } else {
        auto& reply = std::get<EtcdReply>(r);
        ++answered;
        ttl = reply.ttl;
        last = std::move(reply);
        if (*ttl <= 0) {
          lost = true;
          break;
        }
      }
      timer.expires_at(std::min(next, end));
      boost::system::error_code ec;
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    Completion c;
    c.op = invoke.Complete(OpType::kOk, Value::Nil());
    if (last) Stamp(c, *last);
    auto extra = [&](std::string_view name, Value v) { c.op.AddExtra(name, std::move(v)); };
    extra(history::field::kKeepalives, Value::Int(answered));
    extra(history::field::kKeepaliveErrors, Value::Int(errors));
    if (ttl) extra(history::field::kTtl, Value::Int(*ttl));
    extra(history::field::kLost, Value::Bool(lost));
    if (!last_error.empty()) extra(history::field::kKeepaliveError, Value::String(last_error));
    co_return c;
  }

  asio::awaitable<Completion> Release(const history::Op& invoke) {
    if (!held_) co_return Malformed(invoke, "release: this client holds no lock");
    const Held held = *held_;
    auto r = co_await Call(invoke, "/v3/lock/unlock", internal::UnlockBody(held.key));
    // Whatever the outcome, this client no longer claims the lock: an unknown unlock leaves it
    // to the lease's TTL.
    held_.reset();
    if (auto* c = std::get_if<Completion>(&r)) co_return std::move(*c);
    Completion done = Done(invoke, OpType::kOk, Value::Nil(), std::get<EtcdReply>(r));
    // Best effort: the lock is released already; a failed revoke only leaves the lease to expire.
    co_await Call(invoke, "/v3/lease/revoke", internal::LeaseRevokeBody(held.lease));
    co_return done;
  }

  asio::awaitable<Completion> Read(const history::Op& invoke) {
    auto r = co_await Call(invoke, "/v3/kv/range",
                           internal::RangeBody(RegisterKey(invoke), "", serializable()));
    if (auto* c = std::get_if<Completion>(&r)) co_return std::move(*c);
    const auto& reply = std::get<EtcdReply>(r);
    // :mod_revision names the version read (the revision of the write that made it; 0 when the
    // key is absent), which the header's revision (the store's, at read time) does not: the
    // revision-order checker needs it.
    auto with_mod_revision = [](Completion c, std::int64_t mod_revision) {
      c.op.AddExtra(history::field::kModRevision, Value::Int(mod_revision));
      return c;
    };
    if (reply.kvs.empty()) {
      co_return with_mod_revision(Done(invoke, OpType::kOk, Value::Nil(), reply), 0);
    }
    auto v = ParseInt(reply.kvs.front().value);
    if (!v) co_return NotAnInteger(invoke, reply, "value");
    co_return with_mod_revision(Done(invoke, OpType::kOk, Value::Int(*v), reply),
                                reply.kvs.front().mod_revision);
  }

  asio::awaitable<Completion> Put(const history::Op& invoke, bool set) {
    if (!invoke.value.is_int()) {
      co_return Malformed(
          invoke, fmt::format("{} needs an integer value, got {}", invoke.f, invoke.value.ToEdn()));
    }
    const std::string text = std::to_string(invoke.value.as_int());
    const std::string key = set ? SetDir(invoke) + text : RegisterKey(invoke);
    auto r = co_await Call(invoke, "/v3/kv/put", internal::PutBody(key, text));
    if (auto* c = std::get_if<Completion>(&r)) co_return std::move(*c);
    co_return Done(invoke, OpType::kOk, invoke.value, std::get<EtcdReply>(r));
  }

  asio::awaitable<Completion> Cas(const history::Op& invoke) {
    const Value& v = invoke.value;
    if (!v.is_sequential() || v.size() != 2 || !(v.items()[0].is_nil() || v.items()[0].is_int()) ||
        !v.items()[1].is_int()) {
      co_return Malformed(invoke, fmt::format("cas needs [old new] with old nil or an integer "
                                              "and new an integer, got {}",
                                              v.ToEdn()));
    }
    std::optional<std::string> expected;
    if (!v.items()[0].is_nil()) expected = std::to_string(v.items()[0].as_int());
    auto r = co_await Call(
        invoke, "/v3/kv/txn",
        internal::CasBody(RegisterKey(invoke), expected, std::to_string(v.items()[1].as_int())));
    if (auto* c = std::get_if<Completion>(&r)) co_return std::move(*c);
    const auto& reply = std::get<EtcdReply>(r);
    if (!reply.has_header) {
      // A 200 without a header is not a txn reply we understand: the compare result is unknown.
      co_return Info(invoke, "reply: txn reply without a header");
    }
    co_return Done(invoke, reply.succeeded ? OpType::kOk : OpType::kFail, v, reply);
  }

  asio::awaitable<Completion> ReadSet(const history::Op& invoke) {
    const std::string dir = SetDir(invoke);
    auto r = co_await Call(invoke, "/v3/kv/range",
                           internal::RangeBody(dir, internal::PrefixEnd(dir), serializable()));
    if (auto* c = std::get_if<Completion>(&r)) co_return std::move(*c);
    const auto& reply = std::get<EtcdReply>(r);
    std::vector<std::int64_t> ints;
    ints.reserve(reply.kvs.size());
    for (const auto& kv : reply.kvs) {
      auto n = ParseInt(kv.value);
      if (!n) {
        Completion c = Info(invoke, fmt::format("read: set element {:?} is not an integer",
                                                kv.value.substr(0, 64)));
        Stamp(c, reply);
        co_return c;
      }
      ints.push_back(*n);
    }
    std::sort(ints.begin(), ints.end());
    ints.erase(std::unique(ints.begin(), ints.end()), ints.end());
    std::vector<Value> items;
    items.reserve(ints.size());
    for (auto n : ints) items.push_back(Value::Int(n));
    co_return Done(invoke, OpType::kOk, Value::Set(std::move(items)), reply);
  }

  // ---- transactions (append and rw-register workloads) ----

  std::string TxnKey(int64_t key) const { return options_.key_prefix + "t/" + std::to_string(key); }

  // One key as the transaction found it: a list (append) or a register (rw-register).
  struct TxnKeyState {
    int64_t key = 0;
    std::int64_t mod_revision = 0;  // 0: absent
    std::vector<int64_t> list;      // append
    std::optional<int64_t> value;   // rw-register; nullopt: absent
    bool written = false;
  };

  // A list is stored as its elements in decimal, separated by single spaces ("" is empty).
  static std::optional<std::vector<int64_t>> ParseList(std::string_view text) {
    std::vector<int64_t> list;
    while (!text.empty()) {
      const auto space = text.find(' ');
      auto n = ParseInt(text.substr(0, space));
      if (!n) return std::nullopt;
      list.push_back(*n);
      if (space == std::string_view::npos) break;
      text.remove_prefix(space + 1);
    }
    return list;
  }
  static std::string ListText(const std::vector<int64_t>& list) {
    return fmt::format("{}", fmt::join(list, " "));
  }

  // "txn": invoke value [[:append k v] [:r k nil] ...] (append workload) or [[:w k v] [:r k nil]
  // ...] (rw-register). First a txn of ranges reads every key the transaction touches (one
  // revision); the micro-ops are then applied to what it read, and a transaction that writes
  // commits its puts in a second txn guarded by a compare on each key's mod_revision (Jepsen's
  // etcd append test), so it took effect exactly at that revision as if read there. A false
  // compare applied nothing: the client reads again and retries until options.timeout has
  // passed, then fails with "contention". A read-only transaction is its range txn.
  // ok value: the micro-ops with the reads filled in, plus :mod_revisions [[key rev] ...] (what
  // each key's version was when read; etcd's version of the value read).
  asio::awaitable<Completion> Txn(const history::Op& invoke) {
    auto decoded = history::DecodeMicroOps(invoke.value, /*completed_ok=*/false);
    if (!decoded) co_return Malformed(invoke, decoded.error().message());
    std::vector<history::MicroOp> ops = std::move(decoded).value();
    const bool append = options_.workload == EtcdWorkload::kAppend;
    std::vector<TxnKeyState> keys;
    bool writes = false;
    for (const auto& m : ops) {
      if (m.kind != history::MicroOpKind::kRead) {
        writes = true;
        if ((m.kind == history::MicroOpKind::kAppend) != append) {
          co_return Malformed(
              invoke, fmt::format("the {} workload has no :{} micro-op",
                                  WorkloadName(options_.workload), history::MicroOpName(m.kind)));
        }
      }
      if (std::none_of(keys.begin(), keys.end(),
                       [&](const TxnKeyState& k) { return k.key == m.key; })) {
        TxnKeyState fresh;
        fresh.key = m.key;
        keys.push_back(std::move(fresh));
      }
    }
    if (ops.empty()) co_return Malformed(invoke, "a transaction needs at least one micro-op");
    std::vector<std::string> etcd_keys;
    for (const auto& k : keys) etcd_keys.push_back(TxnKey(k.key));
    Rounds rounds(options_.timeout);
    std::optional<EtcdReply> last;
    while (rounds.Next()) {
      // A transaction that writes reads linearizably: a stale guess would only cost a round.
      auto r = co_await Call(invoke, "/v3/kv/txn",
                             internal::TxnRangesBody(etcd_keys, serializable() && !writes),
                             rounds.remaining());
      if (auto* c = std::get_if<Completion>(&r)) co_return std::move(*c);
      auto& read = std::get<EtcdReply>(r);
      if (!read.has_header || read.ranges.size() != keys.size()) {
        co_return Info(invoke, fmt::format("reply: txn read: expected {} ranges, got {}",
                                           keys.size(), read.ranges.size()));
      }
      for (size_t i = 0; i < keys.size(); ++i) {
        TxnKeyState& k = keys[i];
        const int64_t key = k.key;
        k = TxnKeyState();
        k.key = key;
        if (read.ranges[i].empty()) continue;
        const internal::EtcdKv& kv = read.ranges[i].front();
        k.mod_revision = kv.mod_revision;
        if (append) {
          auto list = ParseList(kv.value);
          if (!list) {
            Completion c = Info(invoke, fmt::format("read: key {} holds {:?}, not a list of "
                                                    "integers",
                                                    k.key, kv.value.substr(0, 64)));
            Stamp(c, read);
            co_return c;
          }
          k.list = std::move(*list);
        } else {
          k.value = ParseInt(kv.value);
          if (!k.value) {
            Completion c = Info(invoke, fmt::format("read: key {} holds {:?}, not an integer",
                                                    k.key, kv.value.substr(0, 64)));
            Stamp(c, read);
            co_return c;
          }
        }
      }
      // The micro-ops, applied in order to what was read.
      std::vector<history::MicroOp> done = ops;
      std::vector<Value> revisions;
      for (const auto& k : keys) {
        revisions.push_back(Value::Vector({Value::Int(k.key), Value::Int(k.mod_revision)}));
      }
      for (auto& m : done) {
        TxnKeyState& k =
            *std::find_if(keys.begin(), keys.end(), [&](const auto& s) { return s.key == m.key; });
        switch (m.kind) {
          case history::MicroOpKind::kAppend:
            k.list.push_back(m.value);
            k.written = true;
            break;
          case history::MicroOpKind::kWrite:
            k.value = m.value;
            k.written = true;
            break;
          case history::MicroOpKind::kRead:
            m.known = true;
            if (append) {
              m.is_list = true;
              m.list = k.list;
            } else {
              m.nil = !k.value.has_value();
              m.value = k.value.value_or(0);
            }
            break;
        }
      }
      auto ok = [&](const EtcdReply& reply) {
        Completion c = Done(invoke, OpType::kOk, history::EncodeMicroOps(done), reply);
        c.op.AddExtra(history::field::kModRevisions, Value::Vector(std::move(revisions)));
        return c;
      };
      if (!writes) co_return ok(read);
      std::vector<std::pair<std::string, std::int64_t>> compares;
      std::vector<std::pair<std::string, std::string>> puts;
      for (size_t i = 0; i < keys.size(); ++i) {
        compares.emplace_back(etcd_keys[i], keys[i].mod_revision);
        if (!keys[i].written) continue;
        puts.emplace_back(etcd_keys[i],
                          append ? ListText(keys[i].list) : std::to_string(*keys[i].value));
      }
      auto w = co_await Call(invoke, "/v3/kv/txn", internal::GuardedPutsBody(compares, puts),
                             rounds.remaining());
      if (auto* c = std::get_if<Completion>(&w)) co_return std::move(*c);
      auto& reply = std::get<EtcdReply>(w);
      if (!reply.has_header) co_return Info(invoke, "reply: txn reply without a header");
      if (reply.succeeded) co_return ok(reply);
      last = std::move(reply);
    }
    // Every guarded txn reported a false compare, so none applied.
    Completion c;
    c.op = invoke.Complete(OpType::kFail, invoke.value);
    c.op.error = Value::String(fmt::format("contention: txn: {} compares failed within {} ms",
                                           rounds.attempts(), options_.timeout.count()));
    if (last) Stamp(c, *last);
    co_return c;
  }

  struct Held {
    std::string key;  // the lock's key in etcd (name/lease-id)
    std::int64_t lease = 0;
  };
  std::optional<Held> held_;
  // Shared with the factory, so that a client may outlive it.
  std::shared_ptr<const EtcdClientOptions> options_holder_;
  const EtcdClientOptions& options_;
  EtcdEndpoint endpoint_;
  asio::ip::tcp::endpoint tcp_;  // for the side connection of a waiting acquire
  internal::EtcdConnection connection_;
};

class EtcdClientFactory final : public ClientFactory {
 public:
  EtcdClientFactory(EtcdClientOptions options, std::vector<asio::ip::tcp::endpoint> tcp)
      : options_(std::make_shared<const EtcdClientOptions>(std::move(options))),
        tcp_(std::move(tcp)) {}

  Result<std::unique_ptr<Client>> Open(const history::Process& process,
                                       asio::io_context& /*io*/) override {
    if (!process.is_client()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("etcd client: open for process {}: not a client process",
                                   process.ToString()));
    }
    const auto n = static_cast<std::int64_t>(tcp_.size());
    const auto i = static_cast<std::size_t>(((process.number % n) + n) % n);
    return std::unique_ptr<Client>(
        std::make_unique<EtcdClient>(options_, options_->endpoints[i], tcp_[i]));
  }

 private:
  const std::shared_ptr<const EtcdClientOptions> options_;
  const std::vector<asio::ip::tcp::endpoint> tcp_;
};

}  // namespace

Result<std::unique_ptr<ClientFactory>> MakeEtcdClientFactory(EtcdClientOptions options) {
  if (options.endpoints.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "etcd client: no endpoints");
  }
  if (options.timeout.count() <= 0) {
    return MakeError(ErrorCode::kInvalidArgument, "etcd client: timeout must be positive");
  }
  std::vector<asio::ip::tcp::endpoint> tcp;
  for (const auto& e : options.endpoints) {
    boost::system::error_code ec;
    auto address = asio::ip::make_address(e.host, ec);
    if (ec) {
      return MakeError(
          ErrorCode::kInvalidArgument,
          fmt::format("etcd client: endpoint {}: host {:?} is not an IP address", e.node, e.host));
    }
    tcp.emplace_back(address, e.port);
  }
  return std::unique_ptr<ClientFactory>(
      std::make_unique<EtcdClientFactory>(std::move(options), std::move(tcp)));
}

Result<EtcdEndpoint> ParseEtcdEndpoint(std::string_view text) {
  EtcdEndpoint e;
  std::string_view rest = text;
  if (auto eq = text.find('='); eq != std::string_view::npos) {
    e.node = std::string(text.substr(0, eq));
    rest = text.substr(eq + 1);
  }
  const auto colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("etcd endpoint {:?}: expected [node=]host:port", text));
  }
  auto port = internal::ParseU64(rest.substr(colon + 1));
  if (!port || *port == 0 || *port > 65535) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("etcd endpoint {:?}: bad port", text));
  }
  std::string_view host = rest.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);  // [::1]:2379
  }
  e.host = std::string(host);
  e.port = static_cast<std::uint16_t>(*port);
  if (e.node.empty()) e.node = std::string(rest);
  return e;
}

Result<EtcdStatusReply> EtcdStatus(const EtcdEndpoint& endpoint,
                                   std::chrono::milliseconds timeout) {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(endpoint.host, ec);
  const std::string where =
      fmt::format("etcd status: {} ({}:{})", endpoint.node, endpoint.host, endpoint.port);
  if (ec) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("{}: host is not an IP address", where));
  }
  asio::io_context io;
  internal::EtcdConnection connection(asio::ip::tcp::endpoint(address, endpoint.port),
                                      HostHeader(endpoint));
  std::optional<Exchange> result;
  std::exception_ptr failure;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        result = co_await connection.Post("/v3/maintenance/status", "{}", timeout);
      },
      [&](std::exception_ptr e) { failure = e; });
  io.run();
  connection.Close();
  if (failure || !result) {
    return MakeError(ErrorCode::kInternal, fmt::format("{}: the request coroutine threw", where));
  }
  switch (result->status) {
    case Exchange::Status::kConnectFailed:
      return MakeError(ErrorCode::kUnavailable,
                       fmt::format("{}: connect: {}", where, result->error));
    case Exchange::Status::kTimeout:
      return MakeError(ErrorCode::kDeadlineExceeded,
                       fmt::format("{}: no reply within {} ms", where, timeout.count()));
    case Exchange::Status::kIoError:
      return MakeError(ErrorCode::kUnavailable, fmt::format("{}: {}", where, result->error));
    case Exchange::Status::kOk:
      break;
  }
  auto parsed = internal::ParseStatus(result->body);
  if (!parsed) return parsed.error().WithContext(where);
  if (result->http_status != 200) {
    return MakeError(ErrorCode::kUnavailable,
                     fmt::format("{}: http {}", where, result->http_status));
  }
  EtcdStatusReply s;
  s.member_id = parsed->header.member_id;
  s.revision = parsed->header.revision;
  s.leader = parsed->leader;
  s.raft_term = parsed->raft_term;
  s.raft_index = parsed->raft_index;
  s.version = parsed->version;
  return s;
}

}  // namespace faultline::client
