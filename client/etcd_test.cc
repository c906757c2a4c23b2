#include "client/etcd.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "client/testing/local_etcd.h"

namespace faultline::history {
// Readable failure messages: values as EDN, op types by name.
void PrintTo(const Value& v, std::ostream* os) { *os << v.ToEdn(); }
void PrintTo(OpType t, std::ostream* os) { *os << OpTypeName(t); }
}  // namespace faultline::history

namespace faultline::client {
namespace {

namespace asio = boost::asio;
using history::Op;
using history::OpType;
using history::Process;
using history::Value;
using ::testing::HasSubstr;

// ---------------------------------------------------------------------------------------------
// Against a real single-member etcd on 127.0.0.1.

Op Invoke(int64_t process, std::string f, Value value, std::optional<Value> key = std::nullopt) {
  return Op{.index = -1,
            .time_ns = -1,
            .type = OpType::kInvoke,
            .process = Process::Client(process),
            .f = std::move(f),
            .key = std::move(key),
            .value = std::move(value),
            .error = std::nullopt,
            .extras = {}};
}

Value Pair(Value a, Value b) { return Value::Vector({std::move(a), std::move(b)}); }

class EtcdClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto etcd = testing::LocalEtcd::Start();
    ASSERT_TRUE(etcd) << etcd.error().message();
    etcd_ = std::move(*etcd);
  }

  EtcdClientOptions Options() const {
    EtcdClientOptions o;
    o.endpoints.push_back(etcd_->endpoint());
    o.timeout = std::chrono::milliseconds(2000);
    o.key_prefix = "test/";
    return o;
  }

  std::unique_ptr<Client> Open(const EtcdClientOptions& options, int64_t process = 0) {
    auto factory = MakeEtcdClientFactory(options);
    EXPECT_TRUE(factory) << factory.error().message();
    if (!factory) return nullptr;
    auto client = (*factory)->Open(Process::Client(process), io_);
    EXPECT_TRUE(client) << client.error().message();
    return client ? std::move(*client) : nullptr;
  }

  // Runs one op to completion on the fixture's io_context (the client's socket lives on it).
  Completion Run(Client& client, Op op) {
    std::optional<Completion> out;
    io_.restart();
    asio::co_spawn(
        io_, [&]() -> asio::awaitable<void> { out = co_await client.Invoke(op); }, asio::detached);
    io_.run();
    EXPECT_TRUE(out.has_value());
    return out.value_or(Completion{});
  }

  asio::io_context io_;
  std::unique_ptr<testing::LocalEtcd> etcd_;
};

TEST_F(EtcdClientTest, WriteThenReadSeesIt) {
  auto client = Open(Options());
  ASSERT_TRUE(client);
  Completion w = Run(*client, Invoke(0, "write", Value::Int(5)));
  EXPECT_EQ(w.op.type, OpType::kOk) << w.op.ErrorText();
  EXPECT_EQ(w.op.value, Value::Int(5));
  EXPECT_EQ(w.op.f, "write");
  EXPECT_EQ(w.node, "n1");
  EXPECT_NE(w.member_id, 0u);
  EXPECT_GT(w.revision, 1);
  EXPECT_GE(w.raft_term, 1u);
  EXPECT_GT(w.latency.count(), 0);
  Completion r = Run(*client, Invoke(0, "read", Value::Nil()));
  EXPECT_EQ(r.op.type, OpType::kOk) << r.op.ErrorText();
  EXPECT_EQ(r.op.value, Value::Int(5));
  EXPECT_EQ(r.member_id, w.member_id);
  EXPECT_EQ(r.revision, w.revision);
  // Another key is another register.
  Completion other = Run(*client, Invoke(0, "read", Value::Nil(), Value::Int(7)));
  EXPECT_EQ(other.op.type, OpType::kOk);
  EXPECT_EQ(other.op.value, Value::Nil());
  EXPECT_EQ(other.op.key, Value::Int(7));
  Completion w7 = Run(*client, Invoke(0, "write", Value::Int(-3), Value::Int(7)));
  EXPECT_EQ(w7.op.type, OpType::kOk);
  EXPECT_EQ(Run(*client, Invoke(0, "read", Value::Nil(), Value::Int(7))).op.value, Value::Int(-3));
  EXPECT_EQ(Run(*client, Invoke(0, "read", Value::Nil())).op.value, Value::Int(5));
}

TEST_F(EtcdClientTest, ReadOfMissingKeyIsNil) {
  auto client = Open(Options());
  ASSERT_TRUE(client);
  Completion r = Run(*client, Invoke(0, "read", Value::Nil()));
  EXPECT_EQ(r.op.type, OpType::kOk) << r.op.ErrorText();
  EXPECT_TRUE(r.op.value.is_nil());
  EXPECT_NE(r.member_id, 0u);
}

TEST_F(EtcdClientTest, CasSucceedsOnlyWhenTheValueMatches) {
  auto client = Open(Options());
  ASSERT_TRUE(client);
  EXPECT_EQ(Run(*client, Invoke(0, "write", Value::Int(1))).op.type, OpType::kOk);
  Completion yes = Run(*client, Invoke(0, "cas", Pair(Value::Int(1), Value::Int(2))));
  EXPECT_EQ(yes.op.type, OpType::kOk) << yes.op.ErrorText();
  EXPECT_EQ(yes.op.value, Pair(Value::Int(1), Value::Int(2)));
  Completion no = Run(*client, Invoke(0, "cas", Pair(Value::Int(1), Value::Int(3))));
  EXPECT_EQ(no.op.type, OpType::kFail);
  EXPECT_FALSE(no.op.error.has_value());
  EXPECT_EQ(no.revision, yes.revision);  // nothing changed
  EXPECT_NE(no.member_id, 0u);
  EXPECT_EQ(Run(*client, Invoke(0, "read", Value::Nil())).op.value, Value::Int(2));
  // Missing key with a non-nil old value: compare false.
  Completion missing =
      Run(*client, Invoke(0, "cas", Pair(Value::Int(1), Value::Int(2)), Value::Int(99)));
  EXPECT_EQ(missing.op.type, OpType::kFail);
}

TEST_F(EtcdClientTest, CasWithNilOldCreatesOnlyIfAbsent) {
  auto client = Open(Options());
  ASSERT_TRUE(client);
  Completion first = Run(*client, Invoke(0, "cas", Pair(Value::Nil(), Value::Int(7))));
  EXPECT_EQ(first.op.type, OpType::kOk) << first.op.ErrorText();
  Completion second = Run(*client, Invoke(0, "cas", Pair(Value::Nil(), Value::Int(8))));
  EXPECT_EQ(second.op.type, OpType::kFail);
  EXPECT_EQ(Run(*client, Invoke(0, "read", Value::Nil())).op.value, Value::Int(7));
}

TEST_F(EtcdClientTest, MalformedInvocationsAreNotSent) {
  auto client = Open(Options());
  ASSERT_TRUE(client);
  Completion c = Run(*client, Invoke(0, "cas", Value::Int(1)));
  EXPECT_EQ(c.op.type, OpType::kFail);
  EXPECT_THAT(c.op.ErrorText(), HasSubstr("invalid invocation"));
  Completion f = Run(*client, Invoke(0, "add", Value::Int(1)));  // add is a set op
  EXPECT_EQ(f.op.type, OpType::kFail);
  EXPECT_EQ(f.member_id, 0u);
}

TEST_F(EtcdClientTest, SetAddAndRead) {
  EtcdClientOptions options = Options();
  options.workload = EtcdWorkload::kSet;
  auto client = Open(options);
  ASSERT_TRUE(client);
  Completion empty = Run(*client, Invoke(0, "read", Value::Nil()));
  EXPECT_EQ(empty.op.type, OpType::kOk) << empty.op.ErrorText();
  EXPECT_EQ(empty.op.value, Value::Set({}));
  for (int v : {3, 1, 20, 2}) {
    Completion a = Run(*client, Invoke(0, "add", Value::Int(v)));
    EXPECT_EQ(a.op.type, OpType::kOk) << a.op.ErrorText();
    EXPECT_EQ(a.op.value, Value::Int(v));
  }
  EXPECT_EQ(Run(*client, Invoke(0, "add", Value::Int(5), Value::Int(1))).op.type, OpType::kOk);
  Completion r = Run(*client, Invoke(0, "read", Value::Nil()));
  EXPECT_EQ(r.op.type, OpType::kOk) << r.op.ErrorText();
  EXPECT_EQ(r.op.value, Value::Set({Value::Int(1), Value::Int(2), Value::Int(3), Value::Int(20)}));
  EXPECT_EQ(Run(*client, Invoke(0, "read-set", Value::Nil(), Value::Int(1))).op.value,
            Value::Set({Value::Int(5)}));
  // The register workload does not see set elements, and reads a set only through read-set.
  auto reg = Open(Options());
  ASSERT_TRUE(reg);
  EXPECT_EQ(Run(*reg, Invoke(0, "read", Value::Nil())).op.value, Value::Nil());
  EXPECT_EQ(Run(*reg, Invoke(0, "read-set", Value::Nil())).op.value.size(), 4u);
}

TEST_F(EtcdClientTest, ConnectionRefusedOnFreshSocketIsFail) {
  auto port = testing::PickFreePort();
  ASSERT_TRUE(port);
  EtcdClientOptions options = Options();
  options.endpoints = {etcd_->endpoint(), {.node = "n2", .host = "127.0.0.1", .port = *port}};
  // process 1 → endpoint 1 (nothing listens), process 2 → endpoint 0.
  auto refused = Open(options, 1);
  ASSERT_TRUE(refused);
  Completion c = Run(*refused, Invoke(1, "write", Value::Int(1)));
  EXPECT_EQ(c.op.type, OpType::kFail);
  EXPECT_EQ(c.node, "n2");
  EXPECT_EQ(c.member_id, 0u);
  EXPECT_THAT(c.op.ErrorText(), HasSubstr("connect"));
  EXPECT_THAT(c.op.ErrorText(), HasSubstr("refused"));
  auto fine = Open(options, 2);
  ASSERT_TRUE(fine);
  Completion ok = Run(*fine, Invoke(2, "write", Value::Int(1)));
  EXPECT_EQ(ok.op.type, OpType::kOk) << ok.op.ErrorText();
  EXPECT_EQ(ok.node, "n1");
}

TEST_F(EtcdClientTest, KilledEtcdGivesInfoOnTheReusedConnectionThenFail) {
  auto client = Open(Options());
  ASSERT_TRUE(client);
  ASSERT_EQ(Run(*client, Invoke(0, "write", Value::Int(1))).op.type, OpType::kOk);
  etcd_->Kill();
  // The request may have reached the server before it died: unknown.
  Completion reused = Run(*client, Invoke(0, "write", Value::Int(2)));
  EXPECT_EQ(reused.op.type, OpType::kInfo);
  EXPECT_THAT(reused.op.ErrorText(), HasSubstr("reused connection"));
  // Nothing listens any more, and the next op opens a fresh socket: certainly not done.
  Completion fresh = Run(*client, Invoke(0, "write", Value::Int(3)));
  EXPECT_EQ(fresh.op.type, OpType::kFail);
  EXPECT_THAT(fresh.op.ErrorText(), HasSubstr("refused"));
}

TEST_F(EtcdClientTest, PausedEtcdGivesInfoAndTheLateReplyIsNeverRead) {
  EtcdClientOptions options = Options();
  options.timeout = std::chrono::milliseconds(300);
  auto client = Open(options);
  ASSERT_TRUE(client);
  const Value a = Value::String("a");
  const Value b = Value::String("b");
  ASSERT_EQ(Run(*client, Invoke(0, "write", Value::Int(1), a)).op.type, OpType::kOk);
  ASSERT_EQ(Run(*client, Invoke(0, "write", Value::Int(2), b)).op.type, OpType::kOk);

  ASSERT_TRUE(etcd_->Pause());
  // The kernel still accepts and buffers the request on the kept-alive connection; no reply.
  Completion stuck = Run(*client, Invoke(0, "read", Value::Nil(), a));
  Completion stuck_write = Run(*client, Invoke(0, "write", Value::Int(9), b));
  ASSERT_TRUE(etcd_->Resume());

  EXPECT_EQ(stuck.op.type, OpType::kInfo);
  EXPECT_THAT(stuck.op.ErrorText(), HasSubstr("timeout"));
  EXPECT_GE(stuck.latency, std::chrono::milliseconds(300));
  EXPECT_LT(stuck.latency, std::chrono::milliseconds(1500));
  EXPECT_EQ(stuck.node, "n1");
  // A write to a stopped server (over a new connection: the old one was closed) is info too.
  EXPECT_EQ(stuck_write.op.type, OpType::kInfo);
  EXPECT_THAT(stuck_write.op.ErrorText(), HasSubstr("timeout"));

  // Had the connection been reused, this read of b would get the late reply for a (1).
  Completion after = Run(*client, Invoke(0, "read", Value::Nil(), b));
  EXPECT_EQ(after.op.type, OpType::kOk) << after.op.ErrorText();
  EXPECT_TRUE(after.op.value == Value::Int(2) || after.op.value == Value::Int(9))
      << after.op.value.ToEdn();
  Completion again = Run(*client, Invoke(0, "read", Value::Nil(), a));
  EXPECT_EQ(again.op.value, Value::Int(1));
}

TEST_F(EtcdClientTest, SerializableReadMode) {
  EtcdClientOptions options = Options();
  options.read_mode = EtcdReadMode::kSerializable;
  auto client = Open(options);
  ASSERT_TRUE(client);
  EXPECT_EQ(Run(*client, Invoke(0, "write", Value::Int(4))).op.type, OpType::kOk);
  Completion r = Run(*client, Invoke(0, "read", Value::Nil()));
  EXPECT_EQ(r.op.type, OpType::kOk) << r.op.ErrorText();
  EXPECT_EQ(r.op.value, Value::Int(4));
  EXPECT_NE(r.member_id, 0u);
}

TEST_F(EtcdClientTest, CounterAddsUnderContention) {
  EtcdClientOptions options = Options();
  options.workload = EtcdWorkload::kCounter;
  options.timeout = std::chrono::milliseconds(5000);
  auto factory = MakeEtcdClientFactory(options);
  ASSERT_TRUE(factory);
  constexpr int kClients = 5;
  constexpr int kAddsEach = 10;
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < kClients; ++i) {
    auto c = (*factory)->Open(Process::Client(i), io_);
    ASSERT_TRUE(c);
    clients.push_back(std::move(*c));
  }
  Completion zero = Run(*clients[0], Invoke(0, "read", Value::Nil()));
  EXPECT_EQ(zero.op.type, OpType::kOk) << zero.op.ErrorText();
  EXPECT_EQ(zero.op.value, Value::Int(0));
  // All clients add at once on one io_context, so their txns race on the same mod_revision.
  std::vector<Completion> done;
  io_.restart();
  for (int i = 0; i < kClients; ++i) {
    asio::co_spawn(
        io_,
        [&, i]() -> asio::awaitable<void> {
          for (int k = 0; k < kAddsEach; ++k) {
            done.push_back(co_await clients[static_cast<std::size_t>(i)]->Invoke(
                Invoke(i, "add", Value::Int(i + 1))));
          }
        },
        asio::detached);
  }
  io_.run();
  ASSERT_EQ(done.size(), static_cast<std::size_t>(kClients * kAddsEach));
  int64_t expected = 0;
  for (const auto& c : done) {
    EXPECT_NE(c.op.type, OpType::kInfo) << c.op.ErrorText();
    if (c.op.type == OpType::kOk) expected += c.op.value.as_int();
  }
  EXPECT_GT(expected, 0);
  Completion r = Run(*clients[1], Invoke(1, "read", Value::Nil()));
  EXPECT_EQ(r.op.type, OpType::kOk) << r.op.ErrorText();
  EXPECT_EQ(r.op.value, Value::Int(expected));
  EXPECT_EQ(Run(*clients[0], Invoke(0, "write", Value::Int(1))).op.type, OpType::kFail);
}

TEST_F(EtcdClientTest, LockIsExclusiveUntilReleased) {
  EtcdClientOptions options = Options();
  options.workload = EtcdWorkload::kLock;
  options.timeout = std::chrono::milliseconds(500);
  auto factory = MakeEtcdClientFactory(options);
  ASSERT_TRUE(factory);
  auto a = (*factory)->Open(Process::Client(0), io_);
  auto b = (*factory)->Open(Process::Client(1), io_);
  auto c = (*factory)->Open(Process::Client(2), io_);
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(Run(**a, Invoke(0, "release", Value::Nil())).op.type, OpType::kFail);  // not held
  Completion got = Run(**a, Invoke(0, "acquire", Value::Nil()));
  EXPECT_EQ(got.op.type, OpType::kOk) << got.op.ErrorText();
  EXPECT_NE(got.member_id, 0u);
  EXPECT_EQ(Run(**a, Invoke(0, "acquire", Value::Nil())).op.type, OpType::kFail);  // held
  // b blocks behind a until its deadline: unknown whether it will get the lock later.
  Completion blocked = Run(**b, Invoke(1, "acquire", Value::Nil()));
  EXPECT_EQ(blocked.op.type, OpType::kInfo);
  EXPECT_THAT(blocked.op.ErrorText(), HasSubstr("timeout"));
  // Another lock name is independent.
  Completion other = Run(**c, Invoke(2, "acquire", Value::Nil(), Value::Int(2)));
  EXPECT_EQ(other.op.type, OpType::kOk) << other.op.ErrorText();
  EXPECT_EQ(Run(**c, Invoke(2, "release", Value::Nil(), Value::Int(2))).op.type, OpType::kOk);
  Completion released = Run(**a, Invoke(0, "release", Value::Nil()));
  EXPECT_EQ(released.op.type, OpType::kOk) << released.op.ErrorText();
  // b's abandoned waiter was withdrawn when its request was cancelled, so c gets it now.
  Completion next = Run(**c, Invoke(2, "acquire", Value::Nil()));
  EXPECT_EQ(next.op.type, OpType::kOk) << next.op.ErrorText();
}

int64_t IntExtra(const Op& op, std::string_view name) {
  const Value* v = op.FindExtra(name);
  return v != nullptr && v->is_int() ? v->as_int() : -1;
}
bool LostExtra(const Op& op) {
  const Value* v = op.FindExtra("lost");
  return v != nullptr && v->kind() == history::ValueKind::kBool && v->as_bool();
}

// A hold longer than the TTL keeps the lease alive with keepalives: the lock is still held after
// it, and another client's acquire blocks.
TEST_F(EtcdClientTest, HoldKeepsTheLeaseAliveBeyondItsTtl) {
  EtcdClientOptions options = Options();
  options.workload = EtcdWorkload::kLock;
  options.lock_ttl = std::chrono::seconds(1);
  options.timeout = std::chrono::milliseconds(500);
  auto factory = MakeEtcdClientFactory(options);
  ASSERT_TRUE(factory);
  auto a = (*factory)->Open(Process::Client(0), io_);
  auto b = (*factory)->Open(Process::Client(1), io_);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(Run(**a, Invoke(0, "hold", Value::Int(100))).op.type, OpType::kFail);  // not held
  ASSERT_EQ(Run(**a, Invoke(0, "acquire", Value::Nil())).op.type, OpType::kOk);
  const auto start = std::chrono::steady_clock::now();
  Completion hold = Run(**a, Invoke(0, "hold", Value::Int(2500)));
  const double held_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(hold.op.type, OpType::kOk) << hold.op.ErrorText();
  EXPECT_TRUE(hold.op.value.is_nil());
  EXPECT_GE(held_s, 2.4);
  EXPECT_LT(held_s, 4.0);
  EXPECT_GE(IntExtra(hold.op, "keepalives"), 6);  // every TTL/3 = 333 ms over 2.5 s
  EXPECT_EQ(IntExtra(hold.op, "keepalive_errors"), 0);
  // etcd raises a TTL below its minimum (1.5 x election timeout, rounded up: 2 s by default).
  EXPECT_GE(IntExtra(hold.op, "ttl"), 1);
  EXPECT_FALSE(LostExtra(hold.op));
  EXPECT_NE(hold.member_id, 0u);
  Completion blocked = Run(**b, Invoke(1, "acquire", Value::Nil()));
  EXPECT_EQ(blocked.op.type, OpType::kInfo) << "the lock should still be held";
  EXPECT_EQ(Run(**a, Invoke(0, "release", Value::Nil())).op.type, OpType::kOk);
}

// Without keepalives the lease expires after its TTL: etcd hands the lock to another client, the
// first one's next keepalive is answered without a TTL (:lost true), and its release still
// "succeeds" (the unlock of a key that is gone): two holders, the hazard the lock workload shows.
TEST_F(EtcdClientTest, HoldReportsALostLeaseAndTheLockGoesToAnother) {
  EtcdClientOptions options = Options();
  options.workload = EtcdWorkload::kLock;
  options.lock_ttl = std::chrono::seconds(1);
  options.lock_acquire_timeout = std::chrono::milliseconds(5000);
  auto factory = MakeEtcdClientFactory(options);
  ASSERT_TRUE(factory);
  auto a = (*factory)->Open(Process::Client(0), io_);
  auto b = (*factory)->Open(Process::Client(1), io_);
  ASSERT_TRUE(a && b);
  ASSERT_EQ(Run(**a, Invoke(0, "acquire", Value::Nil())).op.type, OpType::kOk);
  // b waits (its own lease kept alive meanwhile) until a's lease expires.
  Completion got = Run(**b, Invoke(1, "acquire", Value::Nil()));
  ASSERT_EQ(got.op.type, OpType::kOk) << got.op.ErrorText();
  Completion hold = Run(**a, Invoke(0, "hold", Value::Int(1000)));
  ASSERT_EQ(hold.op.type, OpType::kOk) << hold.op.ErrorText();
  EXPECT_TRUE(LostExtra(hold.op));
  EXPECT_EQ(IntExtra(hold.op, "keepalives"), 1);
  EXPECT_EQ(IntExtra(hold.op, "ttl"), 0);
  EXPECT_EQ(Run(**a, Invoke(0, "release", Value::Nil())).op.type, OpType::kOk);
  // b's lease was kept alive while it waited, so b really holds the lock.
  Completion b_hold = Run(**b, Invoke(1, "hold", Value::Int(100)));
  ASSERT_EQ(b_hold.op.type, OpType::kOk) << b_hold.op.ErrorText();
  EXPECT_FALSE(LostExtra(b_hold.op));
  EXPECT_EQ(Run(**b, Invoke(1, "release", Value::Nil())).op.type, OpType::kOk);
}

// A waiter that blocks longer than its TTL keeps its lease alive over a side connection, so that
// when the holder releases, the waiter gets a lock whose key still exists.
TEST_F(EtcdClientTest, WaitingAcquireKeepsItsLeaseAlive) {
  EtcdClientOptions options = Options();
  options.workload = EtcdWorkload::kLock;
  options.lock_ttl = std::chrono::seconds(1);
  options.lock_acquire_timeout = std::chrono::milliseconds(6000);
  auto factory = MakeEtcdClientFactory(options);
  ASSERT_TRUE(factory);
  auto a = (*factory)->Open(Process::Client(0), io_);
  auto b = (*factory)->Open(Process::Client(1), io_);
  ASSERT_TRUE(a && b);
  ASSERT_EQ(Run(**a, Invoke(0, "acquire", Value::Nil())).op.type, OpType::kOk);
  std::optional<Completion> a_hold;
  std::optional<Completion> a_release;
  std::optional<Completion> b_acquire;
  io_.restart();
  asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<void> {
        a_hold = co_await (*a)->Invoke(Invoke(0, "hold", Value::Int(2500)));
        a_release = co_await (*a)->Invoke(Invoke(0, "release", Value::Nil()));
      },
      asio::detached);
  asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<void> {
        b_acquire = co_await (*b)->Invoke(Invoke(1, "acquire", Value::Nil()));
      },
      asio::detached);
  io_.run();
  ASSERT_TRUE(a_hold && a_release && b_acquire);
  EXPECT_FALSE(LostExtra(a_hold->op));
  EXPECT_EQ(a_release->op.type, OpType::kOk);
  ASSERT_EQ(b_acquire->op.type, OpType::kOk) << b_acquire->op.ErrorText();
  EXPECT_GE(b_acquire->latency, std::chrono::milliseconds(2000));  // waited past its TTL
  Completion b_hold = Run(**b, Invoke(1, "hold", Value::Int(100)));
  ASSERT_EQ(b_hold.op.type, OpType::kOk) << b_hold.op.ErrorText();
  EXPECT_FALSE(LostExtra(b_hold.op)) << "the waiter's lease expired while it waited";
  EXPECT_GE(IntExtra(b_hold.op, "ttl"), 1);
  EXPECT_EQ(Run(**b, Invoke(1, "release", Value::Nil())).op.type, OpType::kOk);
}

// A keepalive that times out (etcd paused) is transient: the hold goes on and ends ok.
TEST_F(EtcdClientTest, HoldRidesOutKeepAliveTimeouts) {
  EtcdClientOptions options = Options();
  options.workload = EtcdWorkload::kLock;
  options.lock_ttl = std::chrono::seconds(3);
  options.timeout = std::chrono::milliseconds(300);
  auto factory = MakeEtcdClientFactory(options);
  ASSERT_TRUE(factory);
  auto a = (*factory)->Open(Process::Client(0), io_);
  ASSERT_TRUE(a);
  ASSERT_EQ(Run(**a, Invoke(0, "acquire", Value::Nil())).op.type, OpType::kOk);
  std::optional<Completion> hold;
  io_.restart();
  asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<void> {
        hold = co_await (*a)->Invoke(Invoke(0, "hold", Value::Int(2500)));
      },
      asio::detached);
  asio::steady_timer pause(io_, std::chrono::milliseconds(200));
  pause.async_wait([&](const boost::system::error_code&) { ASSERT_TRUE(etcd_->Pause()); });
  asio::steady_timer resume(io_, std::chrono::milliseconds(1500));
  resume.async_wait([&](const boost::system::error_code&) { ASSERT_TRUE(etcd_->Resume()); });
  io_.run();
  ASSERT_TRUE(hold);
  ASSERT_EQ(hold->op.type, OpType::kOk) << hold->op.ErrorText();
  EXPECT_GE(IntExtra(hold->op, "keepalive_errors"), 1);
  EXPECT_GE(IntExtra(hold->op, "keepalives"), 2);
  EXPECT_FALSE(LostExtra(hold->op));
  const Value* error = hold->op.FindExtra("keepalive_error");
  ASSERT_NE(error, nullptr);
  EXPECT_THAT(error->text(), HasSubstr("timeout"));
  EXPECT_EQ(Run(**a, Invoke(0, "release", Value::Nil())).op.type, OpType::kOk);
}

TEST_F(EtcdClientTest, StatusNamesTheLeader) {
  auto s = EtcdStatus(etcd_->endpoint(), std::chrono::milliseconds(2000));
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_NE(s->member_id, 0u);
  EXPECT_EQ(s->leader, s->member_id);  // one member: it leads
  EXPECT_GE(s->raft_term, 1u);
  EXPECT_EQ(s->version, "3.4.23");
  auto port = testing::PickFreePort();
  ASSERT_TRUE(port);
  auto refused = EtcdStatus({.node = "n9", .host = "127.0.0.1", .port = *port},
                            std::chrono::milliseconds(500));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), ErrorCode::kUnavailable);
  EXPECT_THAT(refused.error().message(), HasSubstr("n9"));
}

TEST_F(EtcdClientTest, StatusTimesOutOnAPausedMember) {
  ASSERT_TRUE(etcd_->Pause());
  auto s = EtcdStatus(etcd_->endpoint(), std::chrono::milliseconds(200));
  ASSERT_TRUE(etcd_->Resume());
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), ErrorCode::kDeadlineExceeded);
}

}  // namespace
}  // namespace faultline::client
