// Classification and connection handling of the etcd client against a scripted fake server:
// gateway errors, HTTP errors, partial replies, "Connection: close", keep-alive reuse. A real
// etcd cannot be made to produce these on demand.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/redirect_error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <deque>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "client/etcd.h"

namespace faultline::history {
void PrintTo(const Value& v, std::ostream* os) { *os << v.ToEdn(); }
void PrintTo(OpType t, std::ostream* os) { *os << OpTypeName(t); }
}  // namespace faultline::history

namespace faultline::client {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using history::Op;
using history::OpType;
using history::Process;
using history::Value;
using ::testing::HasSubstr;
using tcp = asio::ip::tcp;

constexpr std::string_view kHeader =
    R"("header":{"cluster_id":"1","member_id":"12916103059400352701","revision":"9","raft_term":"4"})";

// A complete HTTP reply with a JSON body.
std::string Reply(int status, std::string_view body, bool close = false) {
  return fmt::format(
      "HTTP/1.1 {} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{}\r\n{}", status,
      body.size(), close ? "Connection: close\r\n" : "", body);
}
std::string OkReply(std::string_view extra = "") {
  return Reply(200, fmt::format("{{{}{}}}", kHeader, extra));
}

// Serves scripted raw replies, one per request in arrival order, on its own thread. A reply
// "HANG" answers nothing (the connection stays open); "CLOSE" closes the connection unanswered.
class FakeEtcd {
 public:
  explicit FakeEtcd(std::vector<std::string> replies)
      : replies_(replies.begin(), replies.end()),
        acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    asio::co_spawn(io_, Accept(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~FakeEtcd() {
    io_.stop();
    thread_.join();
  }

  EtcdEndpoint endpoint() const {
    return {.node = "f1", .host = "127.0.0.1", .port = acceptor_.local_endpoint().port()};
  }
  int connections() const { return connections_.load(); }
  int requests() const { return requests_.load(); }
  std::string last_target() {
    std::lock_guard lock(mu_);
    return last_target_;
  }
  std::string last_body() {
    std::lock_guard lock(mu_);
    return last_body_;
  }

 private:
  asio::awaitable<void> Accept() {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket socket =
          co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      ++connections_;
      asio::co_spawn(io_, Serve(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> Serve(tcp::socket socket) {
    boost::beast::flat_buffer buffer;
    for (;;) {
      boost::system::error_code ec;
      http::request<http::string_body> request;
      co_await http::async_read(socket, buffer, request,
                                asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      ++requests_;
      std::string reply;
      {
        std::lock_guard lock(mu_);
        last_target_ = std::string(request.target());
        last_body_ = request.body();
        if (!replies_.empty()) {
          reply = std::move(replies_.front());
          replies_.pop_front();
        }
      }
      if (reply == "HANG") {
        hung_.push_back(std::move(socket));
        co_return;
      }
      if (reply.empty() || reply == "CLOSE") co_return;
      co_await asio::async_write(socket, asio::buffer(reply),
                                 asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
    }
  }

  std::mutex mu_;
  std::deque<std::string> replies_;
  std::string last_target_;
  std::string last_body_;
  std::atomic<int> connections_{0};
  std::atomic<int> requests_{0};
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::vector<tcp::socket> hung_;
  std::thread thread_;
};

Op Invoke(std::string f, Value value) {
  return Op{.index = -1,
            .time_ns = -1,
            .type = OpType::kInvoke,
            .process = Process::Client(0),
            .f = std::move(f),
            .key = std::nullopt,
            .value = std::move(value),
            .error = std::nullopt,
            .extras = {}};
}

Value Pair(int64_t a, int64_t b) { return Value::Vector({Value::Int(a), Value::Int(b)}); }

class EtcdFakeTest : public ::testing::Test {
 protected:
  void Start(std::vector<std::string> replies,
             std::chrono::milliseconds timeout = std::chrono::milliseconds(2000),
             EtcdWorkload workload = EtcdWorkload::kRegister) {
    fake_.emplace(std::move(replies));
    EtcdClientOptions options;
    options.workload = workload;
    options.endpoints.push_back(fake_->endpoint());
    options.timeout = timeout;
    auto factory = MakeEtcdClientFactory(options);
    ASSERT_TRUE(factory) << factory.error().message();
    auto client = (*factory)->Open(Process::Client(0), io_);
    ASSERT_TRUE(client) << client.error().message();
    client_ = std::move(*client);
  }

  Completion Run(Op op) {
    std::optional<Completion> out;
    io_.restart();
    asio::co_spawn(
        io_, [&]() -> asio::awaitable<void> { out = co_await client_->Invoke(op); },
        asio::detached);
    io_.run();
    EXPECT_TRUE(out.has_value());
    return out.value_or(Completion{});
  }

  asio::io_context io_;
  std::optional<FakeEtcd> fake_;
  std::unique_ptr<Client> client_;
};

TEST_F(EtcdFakeTest, KeepAliveReusesOneConnectionAndRecordsTheHeader) {
  Start({OkReply(), OkReply(R"(,"kvs":[{"key":"eA==","value":"NDI=","mod_revision":"9"}])")});
  Completion w = Run(Invoke("write", Value::Int(42)));
  EXPECT_EQ(w.op.type, OpType::kOk) << w.op.ErrorText();
  EXPECT_EQ(fake_->last_target(), "/v3/kv/put");
  EXPECT_EQ(w.node, "f1");
  EXPECT_EQ(w.member_id, 12916103059400352701ULL);
  EXPECT_EQ(w.revision, 9);
  EXPECT_EQ(w.raft_term, 4u);
  Completion r = Run(Invoke("read", Value::Nil()));
  EXPECT_EQ(r.op.type, OpType::kOk) << r.op.ErrorText();
  EXPECT_EQ(r.op.value, Value::Int(42));
  EXPECT_EQ(fake_->last_target(), "/v3/kv/range");
  EXPECT_EQ(fake_->connections(), 1);
  EXPECT_EQ(fake_->requests(), 2);
}

// The version a read saw is the key's mod_revision (0 when absent), not the header's revision.
TEST_F(EtcdFakeTest, ReadRecordsTheModRevisionOfTheVersionRead) {
  Start({OkReply(R"(,"kvs":[{"key":"eA==","value":"NDI=","mod_revision":"5"}])"), OkReply()});
  Completion r = Run(Invoke("read", Value::Nil()));
  ASSERT_EQ(r.op.type, OpType::kOk) << r.op.ErrorText();
  EXPECT_EQ(r.revision, 9);
  const Value* mod = r.op.FindExtra("mod_revision");
  ASSERT_NE(mod, nullptr);
  EXPECT_EQ(*mod, Value::Int(5));
  Completion absent = Run(Invoke("read", Value::Nil()));
  ASSERT_EQ(absent.op.type, OpType::kOk) << absent.op.ErrorText();
  EXPECT_EQ(absent.op.value, Value::Nil());
  mod = absent.op.FindExtra("mod_revision");
  ASSERT_NE(mod, nullptr);
  EXPECT_EQ(*mod, Value::Int(0));
}

TEST_F(EtcdFakeTest, GatewayErrorsAreInfoEvenForCas) {
  Start({Reply(503, R"({"error":"etcdserver: request timed out","code":14})"),
         Reply(503, R"({"error":"etcdserver: leader changed","code":14})"),
         Reply(400, R"({"error":"unexpected EOF","code":3})"), OkReply()});
  Completion w = Run(Invoke("write", Value::Int(1)));
  EXPECT_EQ(w.op.type, OpType::kInfo);
  EXPECT_THAT(w.op.ErrorText(), HasSubstr("etcdserver: request timed out"));
  Completion c = Run(Invoke("cas", Pair(1, 2)));
  EXPECT_EQ(c.op.type, OpType::kInfo);
  EXPECT_THAT(c.op.ErrorText(), HasSubstr("leader changed"));
  Completion bad = Run(Invoke("write", Value::Int(3)));
  EXPECT_EQ(bad.op.type, OpType::kInfo);
  // A txn reply without "succeeded": the compare was false.
  Completion f = Run(Invoke("cas", Pair(1, 2)));
  EXPECT_EQ(f.op.type, OpType::kFail);
  EXPECT_EQ(f.revision, 9);
  EXPECT_EQ(fake_->connections(), 1);  // complete replies keep the connection
}

TEST_F(EtcdFakeTest, HttpErrorsAndGarbageAreInfo) {
  Start({Reply(500, "oops"), Reply(200, "not json"), Reply(404, "{}"),
         OkReply(",\"succeeded\":true")});
  EXPECT_EQ(Run(Invoke("write", Value::Int(1))).op.type, OpType::kInfo);
  EXPECT_EQ(Run(Invoke("cas", Pair(1, 2))).op.type, OpType::kInfo);
  EXPECT_EQ(Run(Invoke("cas", Pair(1, 2))).op.type, OpType::kInfo);
  EXPECT_EQ(Run(Invoke("cas", Pair(1, 2))).op.type, OpType::kOk);
}

TEST_F(EtcdFakeTest, PartialReplyIsInfoAndTheConnectionIsNotReused) {
  const std::string full = OkReply();
  Start({full.substr(0, full.size() - 5), OkReply()}, std::chrono::milliseconds(300));
  // The fake writes a truncated reply and keeps the connection: the client sees no complete reply
  // and times out; the next op must not parse anything more from the old connection.
  Completion w = Run(Invoke("write", Value::Int(1)));
  EXPECT_EQ(w.op.type, OpType::kInfo);
  Completion next = Run(Invoke("write", Value::Int(2)));
  EXPECT_EQ(next.op.type, OpType::kOk) << next.op.ErrorText();
  EXPECT_EQ(fake_->connections(), 2);
}

TEST_F(EtcdFakeTest, ClosedWithoutReplyIsInfo) {
  Start({"CLOSE", OkReply()});
  Completion w = Run(Invoke("write", Value::Int(1)));
  EXPECT_EQ(w.op.type, OpType::kInfo);  // the server may have applied it before closing
  EXPECT_THAT(w.op.ErrorText(), HasSubstr("receive"));
  EXPECT_EQ(Run(Invoke("write", Value::Int(2))).op.type, OpType::kOk);
  EXPECT_EQ(fake_->connections(), 2);
}

TEST_F(EtcdFakeTest, ConnectionCloseHeaderIsHonoured) {
  Start({Reply(200, fmt::format("{{{}}}", kHeader), /*close=*/true), OkReply()});
  EXPECT_EQ(Run(Invoke("write", Value::Int(1))).op.type, OpType::kOk);
  EXPECT_EQ(Run(Invoke("write", Value::Int(2))).op.type, OpType::kOk);
  EXPECT_EQ(fake_->connections(), 2);
}

TEST_F(EtcdFakeTest, NoReplyTimesOutAsInfoAndTheNextOpUsesANewConnection) {
  Start({"HANG", OkReply()}, std::chrono::milliseconds(200));
  Completion w = Run(Invoke("cas", Pair(1, 2)));
  EXPECT_EQ(w.op.type, OpType::kInfo);
  EXPECT_THAT(w.op.ErrorText(), HasSubstr("timeout"));
  EXPECT_GE(w.latency, std::chrono::milliseconds(200));
  EXPECT_EQ(Run(Invoke("write", Value::Int(2))).op.type, OpType::kOk);
  EXPECT_EQ(fake_->connections(), 2);
}

// ---- transactions (append, rw-register) ----

Value Micro(std::string_view f, int64_t key, Value v) {
  return Value::Vector({Value::Keyword(std::string(f)), Value::Int(key), std::move(v)});
}
Value Ints(std::vector<int64_t> xs) {
  std::vector<Value> items;
  for (int64_t x : xs) items.push_back(Value::Int(x));
  return Value::Vector(std::move(items));
}
// A txn-of-ranges reply: key 1 holds the list "1 2" at mod_revision 5, key 2 is absent.
constexpr std::string_view kReadTwoKeys =
    R"(,"succeeded":true,"responses":[{"response_range":{"kvs":[{"key":"eA==","value":"MSAy",)"
    R"("mod_revision":"5","version":"2"}],"count":"1"}},{"response_range":{}}])";
// ...and one key, absent.
constexpr std::string_view kReadOneKey = R"(,"succeeded":true,"responses":[{"response_range":{}}])";

TEST_F(EtcdFakeTest, AppendTxnReadsThenPutsGuardedByEveryKeysModRevision) {
  Start({OkReply(kReadTwoKeys), OkReply(R"(,"succeeded":true,"responses":[{"response_put":{}}])")},
        std::chrono::milliseconds(2000), EtcdWorkload::kAppend);
  Completion c = Run(Invoke(
      "txn", Value::Vector({Micro("r", 1, Value::Nil()), Micro("append", 1, Value::Int(3)),
                            Micro("r", 1, Value::Nil()), Micro("append", 2, Value::Int(7))})));
  ASSERT_EQ(c.op.type, OpType::kOk) << c.op.ErrorText();
  EXPECT_EQ(c.op.value,
            Value::Vector({Micro("r", 1, Ints({1, 2})), Micro("append", 1, Value::Int(3)),
                           Micro("r", 1, Ints({1, 2, 3})), Micro("append", 2, Value::Int(7))}));
  EXPECT_EQ(c.revision, 9);
  const Value* revs = c.op.FindExtra("mod_revisions");
  ASSERT_NE(revs, nullptr);
  EXPECT_EQ(*revs, Value::Vector({Pair(1, 5), Pair(2, 0)}));
  EXPECT_EQ(fake_->requests(), 2);
  EXPECT_EQ(fake_->last_target(), "/v3/kv/txn");
  const std::string body = fake_->last_body();
  // Compares on both keys' mod_revisions (5 and 0: absent); puts "1 2 3" (MSAyIDM=) and "7" (Nw==).
  EXPECT_THAT(body, HasSubstr(R"("mod_revision":"5")"));
  EXPECT_THAT(body, HasSubstr(R"("mod_revision":"0")"));
  EXPECT_THAT(body, HasSubstr("MSAyIDM="));
  EXPECT_THAT(body, HasSubstr("Nw=="));
}

// A false compare applied nothing: the client reads again and retries.
TEST_F(EtcdFakeTest, AppendTxnRetriesAFalseCompare) {
  Start({OkReply(kReadOneKey), OkReply(), OkReply(kReadOneKey), OkReply(R"(,"succeeded":true)")},
        std::chrono::milliseconds(2000), EtcdWorkload::kAppend);
  Completion c = Run(Invoke("txn", Value::Vector({Micro("append", 2, Value::Int(8))})));
  ASSERT_EQ(c.op.type, OpType::kOk) << c.op.ErrorText();
  EXPECT_EQ(fake_->requests(), 4);
}

// Only false compares until the timeout: certainly not applied, so fail.
TEST_F(EtcdFakeTest, AppendTxnThatNeverWinsItsCompareFails) {
  // Far more rounds than fit in the timeout (a round takes ~0.1 ms here): the client must stop
  // at its deadline, not at the end of the script.
  std::vector<std::string> replies;
  for (int i = 0; i < 40000; ++i) replies.push_back(OkReply(i % 2 == 0 ? kReadOneKey : ""));
  Start(replies, std::chrono::milliseconds(300), EtcdWorkload::kAppend);
  Completion c = Run(Invoke("txn", Value::Vector({Micro("append", 2, Value::Int(8))})));
  EXPECT_EQ(c.op.type, OpType::kFail);
  EXPECT_THAT(c.op.ErrorText(), HasSubstr("contention"));
}

TEST_F(EtcdFakeTest, ReadOnlyRwRegisterTxnIsOneRangeTxn) {
  Start(
      {OkReply(
          R"(,"succeeded":true,"responses":[{"response_range":{"kvs":[{"key":"eA==","value":"NA==","mod_revision":"6"}]}},{"response_range":{}}])")},
      std::chrono::milliseconds(2000), EtcdWorkload::kRwRegister);
  Completion c =
      Run(Invoke("txn", Value::Vector({Micro("r", 3, Value::Nil()), Micro("r", 4, Value::Nil())})));
  ASSERT_EQ(c.op.type, OpType::kOk) << c.op.ErrorText();
  EXPECT_EQ(c.op.value, Value::Vector({Micro("r", 3, Value::Int(4)), Micro("r", 4, Value::Nil())}));
  EXPECT_EQ(*c.op.FindExtra("mod_revisions"), Value::Vector({Pair(3, 6), Pair(4, 0)}));
  EXPECT_EQ(fake_->requests(), 1);
}

TEST_F(EtcdFakeTest, TxnErrorsAreInfoAndMalformedTxnsFailUnsent) {
  // A write txn whose guarded put times out may have happened: info.
  Start({OkReply(kReadOneKey), "HANG", OkReply(kReadTwoKeys)}, std::chrono::milliseconds(200),
        EtcdWorkload::kRwRegister);
  Completion c = Run(Invoke("txn", Value::Vector({Micro("w", 1, Value::Int(5))})));
  EXPECT_EQ(c.op.type, OpType::kInfo);
  EXPECT_THAT(c.op.ErrorText(), HasSubstr("timeout"));
  // A read reply with more ranges than keys asked is not understood: info.
  Completion shape = Run(Invoke("txn", Value::Vector({Micro("r", 1, Value::Nil())})));
  EXPECT_EQ(shape.op.type, OpType::kInfo);
  EXPECT_THAT(shape.op.ErrorText(), HasSubstr("expected 1 ranges"));
  // An append in the rw-register workload, and a read reply of the wrong shape.
  Completion bad = Run(Invoke("txn", Value::Vector({Micro("append", 1, Value::Int(5))})));
  EXPECT_EQ(bad.op.type, OpType::kFail);
  EXPECT_THAT(bad.op.ErrorText(), HasSubstr("invalid invocation"));
}

}  // namespace
}  // namespace faultline::client
