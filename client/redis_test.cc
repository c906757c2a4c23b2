// The Redis client without Redis: the RESP codec, the error classification, and the client against
// scripted fake Sentinels and servers (a refused connection, -READONLY, a connection closed after
// the command, a command never answered, a replica named as primary, WAIT short of replicas), and
// MULTI/EXEC transactions against a small in-memory Redis (lists, strings, queued commands).
#include "client/redis.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "client/internal/resp.h"
#include "history/edn.h"

namespace faultline::history {
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
using internal::EncodeCommand;
using internal::ParseResp;
using internal::RespValue;
using ::testing::HasSubstr;
using tcp = asio::ip::tcp;

RespValue Parsed(std::string_view text) {
  Result<std::optional<internal::RespParse>> r = ParseResp(text);
  EXPECT_TRUE(r) << r.error().message();
  if (!r || !*r)
    return RespValue{
        .kind = RespValue::Kind::kError, .text = "incomplete", .integer = 0, .items = {}};
  EXPECT_EQ((*r)->consumed, text.size());
  return (*r)->value;
}

TEST(Resp, EncodesCommandsAsArraysOfBulkStrings) {
  EXPECT_EQ(EncodeCommand({"GET", "k"}), "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
  EXPECT_EQ(EncodeCommand({"SET", "", "a\r\nb"}), "*3\r\n$3\r\nSET\r\n$0\r\n\r\n$4\r\na\r\nb\r\n");
}

TEST(Resp, ParsesEveryKind) {
  EXPECT_EQ(Parsed("+OK\r\n").kind, RespValue::Kind::kSimple);
  EXPECT_EQ(Parsed("+OK\r\n").text, "OK");
  const RespValue err = Parsed("-READONLY You can't write against a read only replica.\r\n");
  EXPECT_TRUE(err.is_error());
  EXPECT_EQ(err.ErrorCode(), "READONLY");
  EXPECT_EQ(Parsed(":-42\r\n").integer, -42);
  EXPECT_EQ(Parsed("$5\r\nhe\r\no\r\n").text, "he\r\no");
  EXPECT_TRUE(Parsed("$-1\r\n").is_nil());
  EXPECT_TRUE(Parsed("*-1\r\n").is_nil());
  const RespValue role = Parsed("*3\r\n$6\r\nmaster\r\n:10\r\n*1\r\n*2\r\n$1\r\na\r\n:1\r\n");
  ASSERT_EQ(role.items.size(), 3u);
  EXPECT_EQ(role.items[0].text, "master");
  EXPECT_EQ(role.items[2].items[0].items[1].integer, 1);
  EXPECT_EQ(role.Describe(), "[\"master\", 10, [[\"a\", 1]]]");
}

TEST(Resp, EveryPrefixOfAReplyIsIncompleteAndTheRestIsLeft) {
  const std::string reply = "*2\r\n$3\r\nabc\r\n:7\r\n";
  for (size_t n = 0; n < reply.size(); ++n) {
    Result<std::optional<internal::RespParse>> r = ParseResp(std::string_view(reply).substr(0, n));
    ASSERT_TRUE(r) << n;
    EXPECT_FALSE(*r) << "a prefix of " << n << " bytes parsed as a whole reply";
  }
  Result<std::optional<internal::RespParse>> two = ParseResp(reply + "+OK\r\n");
  ASSERT_TRUE(two && *two);
  EXPECT_EQ((*two)->consumed, reply.size());
}

TEST(Resp, GarbageIsAnError) {
  EXPECT_FALSE(ParseResp("?what\r\n"));
  EXPECT_FALSE(ParseResp(":12x\r\n"));
  EXPECT_FALSE(ParseResp("$3\r\nabcd\r\n"));
  EXPECT_FALSE(ParseResp("$-7\r\n"));
}

TEST(ClassifyRedisError, CertainRefusalsFailUnknownErrorsOfWritesAreInfo) {
  EXPECT_EQ(ClassifyRedisError("READONLY You can't write against a read only replica.", true),
            OpType::kFail);
  EXPECT_EQ(ClassifyRedisError("NOREPLICAS Not enough good replicas to write.", true),
            OpType::kFail);
  EXPECT_EQ(ClassifyRedisError("ERR Error running script (call to f_1): @user_script:3: "
                               "@user_script: 3: -NOREPLICAS Not enough good replicas to write.",
                               true),
            OpType::kFail);
  EXPECT_EQ(ClassifyRedisError("MASTERDOWN Link with MASTER is down", true), OpType::kFail);
  EXPECT_EQ(ClassifyRedisError("LOADING Redis is loading the dataset in memory", true),
            OpType::kFail);
  EXPECT_EQ(ClassifyRedisError("ERR something we do not know", true), OpType::kInfo);
  EXPECT_EQ(ClassifyRedisError("ERR something we do not know", false), OpType::kFail);
}

TEST(ClassifyRedisError, AnAbortedTransactionIsFail) {
  EXPECT_EQ(ClassifyRedisError("EXECABORT Transaction discarded because of previous errors.", true),
            OpType::kFail);
}

// A fake server on 127.0.0.1: answers each command with what `reply` returns for its arguments:
// raw RESP, "HANG" (no answer, the connection stays open) or "CLOSE" (closed unanswered).
class FakeRedis {
 public:
  using Reply = std::function<std::string(const std::vector<std::string>& args)>;
  explicit FakeRedis(Reply reply)
      : reply_(std::move(reply)),
        acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    asio::co_spawn(io_, Accept(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~FakeRedis() {
    io_.stop();
    thread_.join();
  }
  int port() const { return acceptor_.local_endpoint().port(); }
  std::vector<std::string> commands() {
    std::lock_guard lock(mu_);
    return commands_;
  }

 private:
  asio::awaitable<void> Accept() {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket socket =
          co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      asio::co_spawn(io_, Serve(std::move(socket)), asio::detached);
    }
  }
  asio::awaitable<void> Serve(tcp::socket socket) {
    std::string buffer;
    std::array<char, 4096> chunk{};
    for (;;) {
      boost::system::error_code ec;
      Result<std::optional<internal::RespParse>> parsed = ParseResp(buffer);
      if (!parsed) co_return;
      if (!*parsed) {
        const size_t n = co_await socket.async_read_some(
            asio::buffer(chunk), asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return;
        buffer.append(chunk.data(), n);
        continue;
      }
      buffer.erase(0, (*parsed)->consumed);
      std::vector<std::string> args;
      for (const RespValue& a : (*parsed)->value.items) args.push_back(a.text);
      {
        std::lock_guard lock(mu_);
        commands_.push_back(args.empty() ? "" : args[0]);
      }
      const std::string reply = reply_(args);
      if (reply == "HANG") {
        hung_.push_back(std::move(socket));
        co_return;
      }
      if (reply == "CLOSE") co_return;
      co_await asio::async_write(socket, asio::buffer(reply),
                                 asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
    }
  }

  Reply reply_;
  std::mutex mu_;
  std::vector<std::string> commands_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::vector<tcp::socket> hung_;
  std::thread thread_;
};

std::string Bulk(std::string_view s) { return fmt::format("${}\r\n{}\r\n", s.size(), s); }

Op Invoke(std::string f, Value value) {
  return Op{.index = -1,
            .time_ns = -1,
            .type = OpType::kInvoke,
            .process = Process::Client(0),
            .f = std::move(f),
            .key = Value::Int(3),
            .value = std::move(value),
            .error = std::nullopt,
            .extras = {}};
}

// One Sentinel naming one server; `server` answers everything but ROLE (a primary's ROLE unless
// `role` says otherwise).
class RedisFakeTest : public ::testing::Test {
 protected:
  void Start(FakeRedis::Reply server, std::string workload = "register", int wait = 0,
             std::string role = "*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n") {
    server_.emplace([server = std::move(server), role](const std::vector<std::string>& args) {
      if (!args.empty() && args[0] == "ROLE") return role;
      return server(args);
    });
    const int port = server_->port();
    sentinel_.emplace([port](const std::vector<std::string>& args) -> std::string {
      if (args.size() == 3 && args[0] == "SENTINEL" && args[1] == "get-master-addr-by-name") {
        return "*2\r\n" + Bulk("127.0.0.1") + Bulk(std::to_string(port));
      }
      return "-ERR unknown\r\n";
    });
    options_.endpoints = {RedisEndpoint{
        .node = "n1", .address = "127.0.0.1", .port = port, .sentinel_port = sentinel_->port()}};
    options_.workload = std::move(workload);
    options_.timeout = std::chrono::milliseconds(500);
    options_.wait_replicas = wait;
    options_.wait_timeout = std::chrono::milliseconds(100);
  }

  Completion Run(Op invoke) {
    Result<std::unique_ptr<ClientFactory>> factory = MakeRedisClientFactory(options_);
    EXPECT_TRUE(factory) << factory.error().message();
    asio::io_context io;
    Result<std::unique_ptr<Client>> client = (*factory)->Open(Process::Client(0), io);
    EXPECT_TRUE(client);
    Completion out;
    asio::co_spawn(
        io, [&]() -> asio::awaitable<void> { out = co_await (*client)->Invoke(invoke); },
        asio::detached);
    io.run();
    return out;
  }

  std::optional<FakeRedis> server_;
  std::optional<FakeRedis> sentinel_;
  RedisClientOptions options_;
};

TEST_F(RedisFakeTest, WriteFoundThroughTheSentinelIsOkAndNamesThePrimary) {
  Start([](const std::vector<std::string>& args) -> std::string {
    return args[0] == "SET" ? "+OK\r\n" : "-ERR\r\n";
  });
  Completion c = Run(Invoke("write", Value::Int(4)));
  EXPECT_EQ(c.op.type, OpType::kOk) << c.op.ErrorText();
  EXPECT_EQ(c.node, "n1");
  EXPECT_EQ(server_->commands(), (std::vector<std::string>{"ROLE", "SET"}));
}

TEST_F(RedisFakeTest, ReadsGetNilAndIntegers) {
  Start([](const std::vector<std::string>&) -> std::string { return "$-1\r\n"; });
  Completion c = Run(Invoke("read", Value::Nil()));
  EXPECT_EQ(c.op.type, OpType::kOk);
  EXPECT_TRUE(c.op.value.is_nil());
}

TEST_F(RedisFakeTest, ReadonlyIsFail) {
  Start([](const std::vector<std::string>&) -> std::string {
    return "-READONLY You can't write against a read only replica.\r\n";
  });
  Completion c = Run(Invoke("write", Value::Int(4)));
  EXPECT_EQ(c.op.type, OpType::kFail);
  EXPECT_THAT(c.op.ErrorText(), HasSubstr("READONLY"));
}

TEST_F(RedisFakeTest, ConnectionClosedAfterAWriteIsInfoAfterAReadIsFail) {
  Start([](const std::vector<std::string>&) -> std::string { return "CLOSE"; });
  EXPECT_EQ(Run(Invoke("write", Value::Int(4))).op.type, OpType::kInfo);
  EXPECT_EQ(Run(Invoke("read", Value::Nil())).op.type, OpType::kFail);
}

TEST_F(RedisFakeTest, UnansweredWriteTimesOutAsInfo) {
  Start([](const std::vector<std::string>&) -> std::string { return "HANG"; });
  const auto start = std::chrono::steady_clock::now();
  Completion c = Run(Invoke("write", Value::Int(4)));
  EXPECT_EQ(c.op.type, OpType::kInfo);
  EXPECT_THAT(c.op.ErrorText(), HasSubstr("timeout"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST_F(RedisFakeTest, NoSentinelAnsweringIsFailNothingWasSent) {
  Start([](const std::vector<std::string>&) -> std::string { return "+OK\r\n"; });
  sentinel_.reset();  // its port now refuses connections
  Completion c = Run(Invoke("write", Value::Int(4)));
  EXPECT_EQ(c.op.type, OpType::kFail);
  EXPECT_THAT(c.op.ErrorText(), HasSubstr("no primary"));
  EXPECT_TRUE(server_->commands().empty());
}

TEST_F(RedisFakeTest, AReplicaNamedAsPrimaryIsNotWrittenTo) {
  Start([](const std::vector<std::string>&) -> std::string { return "+OK\r\n"; }, "register", 0,
        "*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:6379\r\n$9\r\nconnected\r\n:0\r\n");
  Completion c = Run(Invoke("write", Value::Int(4)));
  EXPECT_EQ(c.op.type, OpType::kFail);
  EXPECT_THAT(c.op.ErrorText(), HasSubstr("slave"));
  EXPECT_EQ(server_->commands(), (std::vector<std::string>{"ROLE"}));
}

TEST_F(RedisFakeTest, CasIsOneScriptWhoseZeroIsFail) {
  Start([](const std::vector<std::string>& args) -> std::string {
    if (args[0] != "EVAL" || args.size() != 6) return "-ERR\r\n";
    return args[4] == "1" ? ":1\r\n" : ":0\r\n";
  });
  EXPECT_EQ(Run(Invoke("cas", Value::Vector({Value::Int(1), Value::Int(2)}))).op.type, OpType::kOk);
  EXPECT_EQ(Run(Invoke("cas", Value::Vector({Value::Int(3), Value::Int(2)}))).op.type,
            OpType::kFail);
}

TEST_F(RedisFakeTest, SetReadIsTheSortedMembers) {
  Start(
      [](const std::vector<std::string>& args) -> std::string {
        if (args[0] == "SADD") return ":1\r\n";
        return "*3\r\n" + Bulk("9") + Bulk("2") + Bulk("5");
      },
      "set");
  EXPECT_EQ(Run(Invoke("add", Value::Int(9))).op.type, OpType::kOk);
  Completion c = Run(Invoke("read", Value::Nil()));
  ASSERT_EQ(c.op.type, OpType::kOk);
  EXPECT_EQ(c.op.value, Value::Set({Value::Int(2), Value::Int(5), Value::Int(9)}));
}

TEST_F(RedisFakeTest, WaitShortOfReplicasIsInfo) {
  Start(
      [](const std::vector<std::string>& args) -> std::string {
        if (args[0] == "WAIT") return ":0\r\n";
        return ":1\r\n";
      },
      "set", /*wait=*/1);
  Completion c = Run(Invoke("add", Value::Int(9)));
  EXPECT_EQ(c.op.type, OpType::kInfo);
  EXPECT_THAT(c.op.ErrorText(), HasSubstr("0 of 1 replicas"));
  EXPECT_EQ(server_->commands(), (std::vector<std::string>{"ROLE", "SADD", "WAIT"}));
}

// ---- transactions (append, rw-register) ----

// Lists and strings with MULTI/EXEC as Redis does them, for one connection at a time: a command
// refused while queuing (`refuse_writes`: -READONLY, as a replica answers) makes EXEC answer
// -EXECABORT; `on_exec` replaces EXEC's reply ("CLOSE", "HANG", raw RESP).
class MemoryRedis {
 public:
  std::string Reply(const std::vector<std::string>& args) {
    const std::string& c = args[0];
    if (c == "MULTI") {
      in_multi_ = true;
      aborted_ = false;
      queued_.clear();
      return "+OK\r\n";
    }
    if (c == "EXEC") {
      if (!on_exec.empty()) return on_exec;
      in_multi_ = false;
      if (aborted_) return "-EXECABORT Transaction discarded because of previous errors.\r\n";
      std::string out = fmt::format("*{}\r\n", queued_.size());
      for (const auto& q : queued_) out += Run(q);
      queued_.clear();
      return out;
    }
    if (refuse_writes && (c == "RPUSH" || c == "SET")) {
      aborted_ = in_multi_;
      return "-READONLY You can't write against a read only replica.\r\n";
    }
    if (in_multi_) {
      queued_.push_back(args);
      return "+QUEUED\r\n";
    }
    return Run(args);
  }

  bool refuse_writes = false;
  std::string on_exec;
  std::map<std::string, std::vector<std::string>> lists;
  std::map<std::string, std::string> strings;

 private:
  std::string Run(const std::vector<std::string>& args) {
    const std::string& c = args[0];
    if (c == "RPUSH" && args.size() == 3) {
      if (strings.count(args[1]))
        return "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
      lists[args[1]].push_back(args[2]);
      return fmt::format(":{}\r\n", lists[args[1]].size());
    }
    if (c == "LRANGE" && args.size() == 4 && args[2] == "0" && args[3] == "-1") {
      const std::vector<std::string>& l = lists[args[1]];
      std::string out = fmt::format("*{}\r\n", l.size());
      for (const std::string& e : l) out += Bulk(e);
      return out;
    }
    if (c == "SET" && args.size() == 3) {
      strings[args[1]] = args[2];
      return "+OK\r\n";
    }
    if (c == "GET" && args.size() == 2) {
      auto it = strings.find(args[1]);
      return it == strings.end() ? "$-1\r\n" : Bulk(it->second);
    }
    return "-ERR unknown command\r\n";
  }

  bool in_multi_ = false;
  bool aborted_ = false;
  std::vector<std::vector<std::string>> queued_;
};

Op Txn(std::string_view edn) {
  Op op = Invoke("txn", Value::Nil());
  op.key = std::nullopt;
  Result<Value> v = history::ParseEdn(edn);
  EXPECT_TRUE(v) << edn;
  if (v) op.value = std::move(*v);
  return op;
}

class RedisTxnTest : public RedisFakeTest {
 protected:
  void Start(std::string workload) {
    RedisFakeTest::Start(
        [this](const std::vector<std::string>& args) {
          std::lock_guard lock(mu_);
          return db_.Reply(args);
        },
        std::move(workload));
  }
  template <typename F>
  void With(F f) {
    std::lock_guard lock(mu_);
    f(db_);
  }

  std::mutex mu_;
  MemoryRedis db_;
};

TEST_F(RedisTxnTest, AppendIsOneMultiExecWhoseReplyFillsTheReads) {
  Start("append");
  Completion c = Run(Txn("[[:append 1 5] [:r 1 nil] [:r 2 nil]]"));
  ASSERT_EQ(c.op.type, OpType::kOk) << c.op.ErrorText();
  EXPECT_EQ(c.op.f, "txn");
  EXPECT_EQ(c.op.value.ToEdn(), "[[:append 1 5] [:r 1 [5]] [:r 2 []]]");
  EXPECT_EQ(c.node, "n1");
  EXPECT_EQ(server_->commands(),
            (std::vector<std::string>{"ROLE", "MULTI", "RPUSH", "LRANGE", "LRANGE", "EXEC"}));
  c = Run(Txn("[[:r 1 nil] [:append 1 6] [:append 2 7] [:r 1 nil]]"));
  ASSERT_EQ(c.op.type, OpType::kOk) << c.op.ErrorText();
  EXPECT_EQ(c.op.value.ToEdn(), "[[:r 1 [5]] [:append 1 6] [:append 2 7] [:r 1 [5 6]]]");
  With([](MemoryRedis& db) {
    EXPECT_EQ(db.lists["faultline/t/1"], (std::vector<std::string>{"5", "6"}));
    EXPECT_EQ(db.lists["faultline/t/2"], (std::vector<std::string>{"7"}));
  });
}

TEST_F(RedisTxnTest, RwRegisterReadsIntegersAndNil) {
  Start("rw-register");
  Completion c = Run(Txn("[[:r 1 nil] [:w 1 3] [:r 1 nil] [:r 2 nil]]"));
  ASSERT_EQ(c.op.type, OpType::kOk) << c.op.ErrorText();
  EXPECT_EQ(c.op.value.ToEdn(), "[[:r 1 nil] [:w 1 3] [:r 1 3] [:r 2 nil]]");
  EXPECT_EQ(server_->commands(),
            (std::vector<std::string>{"ROLE", "MULTI", "GET", "SET", "GET", "GET", "EXEC"}));
}

TEST_F(RedisTxnTest, AWriteRefusedWhileQueuingAbortsTheTransactionAsFail) {
  Start("append");
  With([](MemoryRedis& db) { db.refuse_writes = true; });
  Completion c = Run(Txn("[[:r 1 nil] [:append 1 5]]"));
  EXPECT_EQ(c.op.type, OpType::kFail);
  EXPECT_THAT(c.op.ErrorText(), HasSubstr("EXECABORT"));
  EXPECT_THAT(c.op.ErrorText(), HasSubstr("RPUSH refused: READONLY"));
  EXPECT_EQ(c.op.value, Txn("[[:r 1 nil] [:append 1 5]]").value);
  With([](MemoryRedis& db) { EXPECT_TRUE(db.lists["faultline/t/1"].empty()); });
}

TEST_F(RedisTxnTest, AnExecWhoseReplyWasLostIsInfoUnlessItOnlyRead) {
  Start("rw-register");
  With([](MemoryRedis& db) { db.on_exec = "CLOSE"; });
  Completion c = Run(Txn("[[:w 1 3] [:r 1 nil]]"));
  EXPECT_EQ(c.op.type, OpType::kInfo);
  EXPECT_THAT(c.op.ErrorText(), HasSubstr("EXEC"));
  EXPECT_EQ(Run(Txn("[[:r 1 nil]]")).op.type, OpType::kFail);
  With([](MemoryRedis& db) { db.on_exec = "HANG"; });
  c = Run(Txn("[[:w 1 3]]"));
  EXPECT_EQ(c.op.type, OpType::kInfo);
  EXPECT_THAT(c.op.ErrorText(), HasSubstr("timeout"));
}

TEST_F(RedisTxnTest, NothingSentIsFail) {
  Start("append");
  sentinel_.reset();
  Completion c = Run(Txn("[[:append 1 5]]"));
  EXPECT_EQ(c.op.type, OpType::kFail);
  EXPECT_THAT(c.op.ErrorText(), HasSubstr("no primary"));
  EXPECT_TRUE(server_->commands().empty());
}

TEST_F(RedisTxnTest, ACommandThatFailedInsideExecIsInfo) {
  // Redis runs the other commands of the transaction: it does not roll back.
  Start("append");
  With([](MemoryRedis& db) { db.strings["faultline/t/2"] = "x"; });
  Completion c = Run(Txn("[[:append 1 5] [:append 2 6]]"));
  EXPECT_EQ(c.op.type, OpType::kInfo);
  EXPECT_THAT(c.op.ErrorText(), HasSubstr("WRONGTYPE"));
  With([](MemoryRedis& db) {
    EXPECT_EQ(db.lists["faultline/t/1"], (std::vector<std::string>{"5"}));
  });
}

TEST_F(RedisTxnTest, AMicroOpOfTheOtherWorkloadIsFailUnsent) {
  Start("append");
  Completion c = Run(Txn("[[:w 1 5]]"));
  EXPECT_EQ(c.op.type, OpType::kFail);
  EXPECT_THAT(c.op.ErrorText(), HasSubstr("invalid invocation"));
  EXPECT_TRUE(server_->commands().empty());
}

}  // namespace
}  // namespace faultline::client
