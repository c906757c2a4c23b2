#include "client/redis.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <optional>
#include <utility>
#include <variant>

#include "client/internal/resp.h"
#include "client/key.h"
#include "history/txn.h"

namespace faultline::client {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using history::OpType;
using history::Value;
using internal::RespValue;
using Clock = std::chrono::steady_clock;

// What happened to one command.
struct Exchange {
  enum class Status {
    kOk,       // a complete reply was read (an error reply included)
    kNotSent,  // connect failed or timed out: nothing was sent
    kTimeout,  // the deadline passed after sending began
    kIoError,  // after sending began: reset, EOF, bytes that are not RESP
  };
  Status status = Status::kIoError;
  std::string error;
  RespValue reply;                 // Call: the reply
  std::vector<RespValue> replies;  // Pipeline: one per command, in order (all of them on kOk)
};

// Shared by a command and its deadline handler (which may run after the command finished).
struct Deadline {
  bool done = false;
  bool fired = false;
};

// One connection to one server, one command at a time. Closed, never reused, after a timeout or
// an error: a late reply would otherwise be read as the answer to the next command.
class Connection {
 public:
  explicit Connection(tcp::endpoint endpoint) : endpoint_(endpoint) {}
  ~Connection() { Close(); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void Close() {
    if (socket_) {
      boost::system::error_code ignored;
      socket_->shutdown(tcp::socket::shutdown_both, ignored);
      socket_->close(ignored);
      socket_.reset();
    }
    buffer_.clear();
  }
  const tcp::endpoint& endpoint() const { return endpoint_; }

  asio::awaitable<Exchange> Call(const std::vector<std::string>& args,
                                 std::chrono::milliseconds timeout) {
    const std::vector<std::vector<std::string>> one{args};
    Exchange out = co_await Pipeline(one, timeout);
    if (out.status == Exchange::Status::kOk) out.reply = std::move(out.replies.front());
    out.replies.clear();
    co_return out;
  }

  // Sends every command in one write and reads one reply per command. REQUIRES: commands not
  // empty.
  asio::awaitable<Exchange> Pipeline(const std::vector<std::vector<std::string>>& commands,
                                     std::chrono::milliseconds timeout) {
    Exchange out;
    auto executor = co_await asio::this_coro::executor;
    const bool fresh = !socket_.has_value();
    if (fresh) {
      buffer_.clear();
      socket_.emplace(executor);
    }
    if (timeout.count() <= 0) {
      Close();
      out.status = Exchange::Status::kNotSent;
      out.error = "no time left";
      co_return out;
    }
    auto deadline = std::make_shared<Deadline>();
    asio::steady_timer timer(executor, timeout);
    tcp::socket* socket = &*socket_;
    timer.async_wait([deadline, socket](const boost::system::error_code& ec) {
      if (ec || deadline->done) return;
      deadline->fired = true;
      boost::system::error_code ignored;
      socket->close(ignored);
    });
    bool sent = false;
    auto fail = [&](std::string error) {
      deadline->done = true;
      timer.cancel();
      Close();
      if (!sent) {
        out.status = Exchange::Status::kNotSent;
        out.error = deadline->fired ? "connect: timeout" : std::move(error);
      } else {
        out.status = deadline->fired ? Exchange::Status::kTimeout : Exchange::Status::kIoError;
        out.error = deadline->fired ? "timeout" : std::move(error);
      }
    };
    boost::system::error_code ec;
    if (fresh) {
      co_await socket->async_connect(endpoint_, asio::redirect_error(asio::use_awaitable, ec));
      if (ec || deadline->fired) {
        fail("connect: " + ec.message());
        co_return out;
      }
      socket->set_option(tcp::no_delay(true), ec);
    }
    std::string request;
    for (const std::vector<std::string>& args : commands) request += internal::EncodeCommand(args);
    sent = true;
    co_await asio::async_write(*socket, asio::buffer(request),
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      fail("send: " + ec.message());
      co_return out;
    }
    while (out.replies.size() < commands.size()) {
      Result<std::optional<internal::RespParse>> parsed = internal::ParseResp(buffer_);
      if (!parsed) {
        fail(parsed.error().message());
        co_return out;
      }
      if (*parsed) {
        buffer_.erase(0, (*parsed)->consumed);
        out.replies.push_back(std::move((*parsed)->value));
        continue;
      }
      const std::size_t n = co_await socket->async_read_some(
          asio::buffer(chunk_), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        fail("receive: " + ec.message());
        co_return out;
      }
      buffer_.append(chunk_.data(), n);
    }
    deadline->done = true;
    timer.cancel();
    out.status = Exchange::Status::kOk;
    if (deadline->fired) Close();
    co_return out;
  }

 private:
  tcp::endpoint endpoint_;
  std::optional<tcp::socket> socket_;
  std::string buffer_;
  std::array<char, 16384> chunk_{};
};

std::optional<std::int64_t> ParseInt(std::string_view s) {
  std::int64_t n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return n;
}

Result<tcp::endpoint> Endpoint(const std::string& address, int port) {
  boost::system::error_code ec;
  const asio::ip::address a = asio::ip::make_address(address, ec);
  if (ec) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("redis: address '{}': {}", address, ec.message()));
  }
  return tcp::endpoint(a, static_cast<unsigned short>(port));
}

void Flatten(const RespValue& v, std::vector<std::string>& out) {
  switch (v.kind) {
    case RespValue::Kind::kArray:
      for (const RespValue& item : v.items) Flatten(item, out);
      return;
    case RespValue::Kind::kInteger:
      out.push_back(std::to_string(v.integer));
      return;
    case RespValue::Kind::kNil:
      return;
    default:
      out.push_back(v.text);
  }
}

constexpr std::string_view kCasScript =
    "local v = redis.call('GET', KEYS[1])\n"
    "if (ARGV[1] == '' and not v) or v == ARGV[1] then\n"
    "  redis.call('SET', KEYS[1], ARGV[2])\n"
    "  return 1\n"
    "end\n"
    "return 0\n";

class RedisClient final : public Client {
 public:
  RedisClient(const RedisClientOptions& options, size_t first) : options_(options), first_(first) {}

  asio::awaitable<Completion> Invoke(history::Op invoke) override {
    const Clock::time_point deadline = Clock::now() + options_.timeout;
    const Clock::time_point start = Clock::now();
    Completion c = co_await Run(invoke, deadline);
    c.latency = Clock::now() - start;
    co_return c;
  }

  void Close() override {
    if (primary_) primary_->Close();
    primary_.reset();
  }

 private:
  static std::chrono::milliseconds Left(Clock::time_point deadline) {
    return std::max(std::chrono::milliseconds(0),
                    std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
  }

  Completion Done(const history::Op& invoke, OpType type, Value value) const {
    Completion c;
    c.op = invoke.Complete(type, std::move(value));
    c.node = primary_node_;
    return c;
  }
  Completion With(const history::Op& invoke, OpType type, std::string error) const {
    Completion c = Done(invoke, type, invoke.value);
    c.op.error = Value::String(std::move(error));
    return c;
  }

  // Finds the primary through the Sentinels unless the client has one. The error says what each
  // Sentinel answered.
  asio::awaitable<std::optional<std::string>> FindPrimary(Clock::time_point deadline) {
    if (primary_) co_return std::nullopt;
    std::vector<std::string> tried;
    const size_t n = options_.endpoints.size();
    for (size_t k = 0; k < n; ++k) {
      const RedisEndpoint& s = options_.endpoints[(first_ + k) % n];
      Result<tcp::endpoint> ep = Endpoint(s.address, s.sentinel_port);
      if (!ep) co_return ep.error().message();
      // Each Sentinel gets a share of the time left, so one that does not answer leaves time
      // for the others.
      const auto share = std::max(std::chrono::milliseconds(50), Left(deadline) / int(n - k + 1));
      Connection sentinel(*ep);
      const std::vector<std::string> ask{"SENTINEL", "get-master-addr-by-name",
                                         options_.master_name};
      Exchange ex = co_await sentinel.Call(ask, std::min(share, Left(deadline)));
      if (ex.status != Exchange::Status::kOk) {
        tried.push_back(fmt::format("sentinel {}: {}", s.node, ex.error));
        continue;
      }
      if (ex.reply.kind != RespValue::Kind::kArray || ex.reply.items.size() != 2) {
        tried.push_back(fmt::format("sentinel {}: {}", s.node, ex.reply.Describe()));
        continue;
      }
      const std::string& address = ex.reply.items[0].text;
      const std::optional<std::int64_t> port = ParseInt(ex.reply.items[1].text);
      Result<tcp::endpoint> primary = Endpoint(address, static_cast<int>(port.value_or(0)));
      if (!port || !primary) {
        tried.push_back(fmt::format("sentinel {}: {}", s.node, ex.reply.Describe()));
        continue;
      }
      std::string node = fmt::format("{}:{}", address, *port);
      for (const RedisEndpoint& e : options_.endpoints) {
        if (e.address == address && e.port == *port) node = e.node;
      }
      auto conn = std::make_unique<Connection>(*primary);
      const std::vector<std::string> role_args{"ROLE"};
      Exchange role = co_await conn->Call(role_args, std::min(share, Left(deadline)));
      if (role.status != Exchange::Status::kOk) {
        tried.push_back(fmt::format("sentinel {} names {}: ROLE: {}", s.node, node, role.error));
        continue;
      }
      if (role.reply.kind != RespValue::Kind::kArray || role.reply.items.empty() ||
          role.reply.items[0].text != "master") {
        tried.push_back(
            fmt::format("sentinel {} names {}: ROLE: {}", s.node, node, role.reply.Describe()));
        continue;
      }
      primary_ = std::move(conn);
      primary_node_ = node;
      co_return std::nullopt;
    }
    co_return fmt::format("no primary: {}", fmt::join(tried, "; "));
  }

  // Sends one command to the primary. On a transport problem or an error reply returns the
  // completion to give (and forgets the primary); otherwise the reply.
  asio::awaitable<std::variant<Completion, RespValue>> Call(const history::Op& invoke,
                                                            std::vector<std::string> args,
                                                            bool mutating,
                                                            Clock::time_point deadline) {
    if (std::optional<std::string> why = co_await FindPrimary(deadline)) {
      co_return With(invoke, OpType::kFail, *why);
    }
    const std::string command = args.front();
    Exchange ex = co_await primary_->Call(args, Left(deadline));
    const std::string where = primary_node_;
    switch (ex.status) {
      case Exchange::Status::kNotSent:
        Close();
        co_return With(invoke, OpType::kFail, fmt::format("{}: {}: {}", command, where, ex.error));
      case Exchange::Status::kTimeout:
      case Exchange::Status::kIoError: {
        Close();
        Completion c = With(invoke, mutating ? OpType::kInfo : OpType::kFail,
                            fmt::format("{}: {}: {}", command, where, ex.error));
        c.node = where;
        co_return c;
      }
      case Exchange::Status::kOk:
        break;
    }
    if (ex.reply.is_error()) {
      Completion c = With(invoke, ClassifyRedisError(ex.reply.text, mutating),
                          fmt::format("{}: {}: {}", command, where, ex.reply.text));
      // The node may have been demoted (READONLY) or be cut off: find the primary again.
      Close();
      c.node = where;
      co_return c;
    }
    co_return std::move(ex.reply);
  }

  // WAIT after a write that took effect on the primary; the completion of a write that too few
  // replicas acknowledged.
  asio::awaitable<std::optional<Completion>> Wait(const history::Op& invoke,
                                                  Clock::time_point deadline) {
    if (options_.wait_replicas <= 0) co_return std::nullopt;
    const auto wait_ms = std::min(options_.wait_timeout, Left(deadline));
    std::vector<std::string> args{"WAIT", std::to_string(options_.wait_replicas),
                                  std::to_string(std::max<std::int64_t>(1, wait_ms.count()))};
    auto r = co_await Call(invoke, std::move(args), true,
                           Clock::now() + wait_ms + std::chrono::milliseconds(200));
    if (auto* c = std::get_if<Completion>(&r)) {
      c->op.type = OpType::kInfo;  // the write itself took effect on the primary
      co_return std::move(*c);
    }
    const RespValue& v = std::get<RespValue>(r);
    if (v.kind == RespValue::Kind::kInteger && v.integer >= options_.wait_replicas) {
      co_return std::nullopt;
    }
    co_return With(
        invoke, OpType::kInfo,
        fmt::format("WAIT: {}: {} of {} replicas acknowledged within {} ms", primary_node_,
                    v.Describe(), options_.wait_replicas, wait_ms.count()));
  }

  std::string Key(const history::Op& op, std::string_view kind) const {
    return fmt::format("{}{}/{}", options_.key_prefix, kind, KeyText(op));
  }

  static Completion Malformed(const history::Op& invoke, std::string_view why) {
    Completion c;
    c.op = invoke.Complete(OpType::kFail, invoke.value);
    c.op.error = Value::String(fmt::format("invalid invocation: {}", why));
    return c;
  }

  // A list element or a register's value, as RPUSH / SET stored it.
  static std::optional<std::int64_t> ElementOf(const RespValue& v) {
    if (v.kind != RespValue::Kind::kBulk && v.kind != RespValue::Kind::kSimple) return std::nullopt;
    return ParseInt(v.text);
  }

  // "txn" (append and rw-register): MULTI, one command per micro-op (append: RPUSH key v, read:
  // LRANGE key 0 -1; rw-register: SET key v, read: GET key), EXEC, sent in one write on the
  // primary's connection. Redis runs the queued commands one after another with no other client's
  // command between them, so a transaction's reads see its own earlier writes. EXEC's reply holds
  // one reply per command: the reads are filled in from it.
  asio::awaitable<Completion> Txn(const history::Op& invoke, Clock::time_point deadline) {
    auto decoded = history::DecodeMicroOps(invoke.value, /*completed_ok=*/false);
    if (!decoded) co_return Malformed(invoke, decoded.error().message());
    std::vector<history::MicroOp> ops = std::move(decoded).value();
    if (ops.empty()) co_return Malformed(invoke, "a transaction needs at least one micro-op");
    const bool append = options_.workload == "append";
    bool writes = false;
    std::vector<std::vector<std::string>> commands{{"MULTI"}};
    for (const history::MicroOp& m : ops) {
      const std::string key = fmt::format("{}t/{}", options_.key_prefix, m.key);
      switch (m.kind) {
        case history::MicroOpKind::kAppend:
        case history::MicroOpKind::kWrite:
          if ((m.kind == history::MicroOpKind::kAppend) != append) {
            co_return Malformed(invoke, fmt::format("the redis {} workload has no :{} micro-op",
                                                    options_.workload, MicroOpName(m.kind)));
          }
          writes = true;
          commands.push_back({append ? "RPUSH" : "SET", key, std::to_string(m.value)});
          break;
        case history::MicroOpKind::kRead:
          if (append) {
            commands.push_back({"LRANGE", key, "0", "-1"});
          } else {
            commands.push_back({"GET", key});
          }
          break;
      }
    }
    commands.push_back({"EXEC"});
    if (std::optional<std::string> why = co_await FindPrimary(deadline)) {
      co_return With(invoke, OpType::kFail, *why);
    }
    const std::string where = primary_node_;
    Exchange ex = co_await primary_->Pipeline(commands, Left(deadline));
    // Unknown: EXEC may have run (a read-only transaction changed nothing either way).
    const OpType unknown = writes ? OpType::kInfo : OpType::kFail;
    auto give = [&](OpType type, std::string error) {
      Completion c = With(invoke, type, std::move(error));
      c.node = where;
      return c;
    };
    switch (ex.status) {
      case Exchange::Status::kNotSent:
        Close();
        co_return give(OpType::kFail, fmt::format("MULTI: {}: {}", where, ex.error));
      case Exchange::Status::kTimeout:
      case Exchange::Status::kIoError:
        Close();
        co_return give(unknown, fmt::format("EXEC: {}: {}", where, ex.error));
      case Exchange::Status::kOk:
        break;
    }
    const RespValue& multi = ex.replies.front();
    const RespValue& exec = ex.replies.back();
    // The first command refused while queuing (-READONLY on a replica, ...): Redis then
    // discards the transaction and answers EXEC with -EXECABORT.
    std::string refused;
    for (size_t i = 1; i + 1 < ex.replies.size() && refused.empty(); ++i) {
      if (ex.replies[i].is_error()) {
        refused = fmt::format(" ({} refused: {})", commands[i][0], ex.replies[i].text);
      }
    }
    if (multi.is_error()) {
      // No transaction began, so every command ran alone: fail only if each write was refused.
      OpType type = OpType::kFail;
      for (size_t i = 1; i + 1 < ex.replies.size(); ++i) {
        const std::string& c = commands[i][0];
        if (c != "RPUSH" && c != "SET") continue;
        if (!ex.replies[i].is_error() ||
            ClassifyRedisError(ex.replies[i].text, true) != OpType::kFail) {
          type = OpType::kInfo;
        }
      }
      Close();
      co_return give(type, fmt::format("MULTI: {}: {}", where, multi.text));
    }
    if (exec.is_error()) {
      // -EXECABORT (a command refused while queuing), -READONLY, ...: nothing ran.
      Close();
      co_return give(ClassifyRedisError(exec.text, writes),
                     fmt::format("EXEC: {}: {}{}", where, exec.text, refused));
    }
    if (exec.is_nil()) {
      // A transaction aborted by WATCH (the client sets none): nothing ran.
      Close();
      co_return give(OpType::kFail, fmt::format("EXEC: {}: aborted (nil){}", where, refused));
    }
    if (exec.kind != RespValue::Kind::kArray || exec.items.size() != ops.size()) {
      Close();
      co_return give(unknown, fmt::format("EXEC: {}: expected {} replies, got {}", where,
                                          ops.size(), exec.Describe()));
    }
    std::vector<history::MicroOp> done = ops;
    for (size_t i = 0; i < done.size(); ++i) {
      history::MicroOp& m = done[i];
      const RespValue& r = exec.items[i];
      const std::string& command = commands[i + 1][0];
      if (r.is_error()) {
        // A command that failed while running: Redis does not roll back the others.
        co_return give(unknown,
                       fmt::format("EXEC: {}: {} of key {}: {}", where, command, m.key, r.text));
      }
      if (m.kind != history::MicroOpKind::kRead) continue;
      m.known = true;
      if (append) {
        m.is_list = true;
        if (r.kind != RespValue::Kind::kArray) {
          co_return give(unknown,
                         fmt::format("EXEC: {}: LRANGE of key {}: {}", where, m.key, r.Describe()));
        }
        for (const RespValue& item : r.items) {
          std::optional<std::int64_t> n = ElementOf(item);
          if (!n) {
            co_return give(unknown,
                           fmt::format("EXEC: {}: LRANGE of key {}: element {} is not an integer",
                                       where, m.key, item.Describe()));
          }
          m.list.push_back(*n);
        }
      } else if (r.is_nil()) {
        m.nil = true;
      } else {
        std::optional<std::int64_t> n = ElementOf(r);
        if (!n) {
          co_return give(unknown, fmt::format("EXEC: {}: GET of key {}: {} is not an integer",
                                              where, m.key, r.Describe()));
        }
        m.value = *n;
      }
    }
    if (writes) {
      if (auto c = co_await Wait(invoke, deadline)) co_return std::move(*c);
    }
    co_return Done(invoke, OpType::kOk, history::EncodeMicroOps(done));
  }

  asio::awaitable<Completion> Run(const history::Op& invoke, Clock::time_point deadline) {
    const bool set = options_.workload == "set";
    if (options_.workload == "append" || options_.workload == "rw-register") {
      if (invoke.f == "txn") co_return co_await Txn(invoke, deadline);
      co_return Malformed(invoke, fmt::format("f {} is not supported by the redis {} workload",
                                              invoke.f, options_.workload));
    }
    if (!set && invoke.f == "read") {
      std::vector<std::string> args{"GET", Key(invoke, "r")};
      auto r = co_await Call(invoke, std::move(args), false, deadline);
      if (auto* c = std::get_if<Completion>(&r)) co_return std::move(*c);
      const RespValue& v = std::get<RespValue>(r);
      if (v.is_nil()) co_return Done(invoke, OpType::kOk, Value::Nil());
      std::optional<std::int64_t> n = ParseInt(v.text);
      if (!n) {
        co_return With(invoke, OpType::kFail,
                       fmt::format("GET: {}: {} is not an integer", primary_node_, v.Describe()));
      }
      co_return Done(invoke, OpType::kOk, Value::Int(*n));
    }
    if (!set && invoke.f == "write") {
      if (!invoke.value.is_int()) co_return Malformed(invoke, "write needs an integer");
      std::vector<std::string> args{"SET", Key(invoke, "r"), std::to_string(invoke.value.as_int())};
      auto r = co_await Call(invoke, std::move(args), true, deadline);
      if (auto* c = std::get_if<Completion>(&r)) co_return std::move(*c);
      if (auto c = co_await Wait(invoke, deadline)) co_return std::move(*c);
      co_return Done(invoke, OpType::kOk, invoke.value);
    }
    if (!set && invoke.f == "cas") {
      const Value& v = invoke.value;
      if (!v.is_sequential() || v.size() != 2 ||
          !(v.items()[0].is_nil() || v.items()[0].is_int()) || !v.items()[1].is_int()) {
        co_return Malformed(invoke, fmt::format("cas needs [old new], got {}", v.ToEdn()));
      }
      const std::string expected =
          v.items()[0].is_nil() ? std::string() : std::to_string(v.items()[0].as_int());
      std::vector<std::string> args{"EVAL",   std::string(kCasScript),
                                    "1",      Key(invoke, "r"),
                                    expected, std::to_string(v.items()[1].as_int())};
      auto r = co_await Call(invoke, std::move(args), true, deadline);
      if (auto* c = std::get_if<Completion>(&r)) co_return std::move(*c);
      const RespValue& reply = std::get<RespValue>(r);
      if (reply.kind != RespValue::Kind::kInteger) {
        co_return With(
            invoke, OpType::kInfo,
            fmt::format("EVAL: {}: unexpected reply {}", primary_node_, reply.Describe()));
      }
      if (reply.integer == 0) co_return Done(invoke, OpType::kFail, v);
      if (auto c = co_await Wait(invoke, deadline)) co_return std::move(*c);
      co_return Done(invoke, OpType::kOk, v);
    }
    if (set && invoke.f == "add") {
      if (!invoke.value.is_int()) co_return Malformed(invoke, "add needs an integer");
      std::vector<std::string> args{"SADD", Key(invoke, "s"),
                                    std::to_string(invoke.value.as_int())};
      auto r = co_await Call(invoke, std::move(args), true, deadline);
      if (auto* c = std::get_if<Completion>(&r)) co_return std::move(*c);
      if (auto c = co_await Wait(invoke, deadline)) co_return std::move(*c);
      co_return Done(invoke, OpType::kOk, invoke.value);
    }
    if (set && (invoke.f == "read" || invoke.f == "read-set")) {
      std::vector<std::string> args{"SMEMBERS", Key(invoke, "s")};
      auto r = co_await Call(invoke, std::move(args), false, deadline);
      if (auto* c = std::get_if<Completion>(&r)) co_return std::move(*c);
      const RespValue& v = std::get<RespValue>(r);
      std::vector<std::int64_t> ints;
      for (const RespValue& item : v.items) {
        std::optional<std::int64_t> n = ParseInt(item.text);
        if (!n) {
          co_return With(invoke, OpType::kFail,
                         fmt::format("SMEMBERS: {}: element {} is not an integer", primary_node_,
                                     item.Describe()));
        }
        ints.push_back(*n);
      }
      std::sort(ints.begin(), ints.end());
      std::vector<Value> items;
      items.reserve(ints.size());
      for (std::int64_t n : ints) items.push_back(Value::Int(n));
      co_return Done(invoke, OpType::kOk, Value::Set(std::move(items)));
    }
    co_return Malformed(invoke, fmt::format("f {} is not supported by the redis {} workload",
                                            invoke.f, options_.workload));
  }

  const RedisClientOptions& options_;
  const size_t first_;
  std::unique_ptr<Connection> primary_;
  std::string primary_node_;
};

class RedisClientFactory final : public ClientFactory {
 public:
  explicit RedisClientFactory(RedisClientOptions options) : options_(std::move(options)) {}

  Result<std::unique_ptr<Client>> Open(const history::Process& process,
                                       asio::io_context& /*io*/) override {
    const auto n = static_cast<std::int64_t>(options_.endpoints.size());
    const auto first = static_cast<size_t>(((process.number % n) + n) % n);
    return std::unique_ptr<Client>(std::make_unique<RedisClient>(options_, first));
  }

 private:
  RedisClientOptions options_;
};

}  // namespace

history::OpType ClassifyRedisError(std::string_view error_reply, bool mutating) {
  if (!mutating) return OpType::kFail;
  // Refused before the command ran (Redis checks these before executing; in a script, the
  // inner error of its only write).
  for (std::string_view code : {"READONLY", "NOREPLICAS", "MASTERDOWN", "LOADING", "BUSY ", "OOM",
                                "EXECABORT", "WRONGTYPE", "NOSCRIPT", "NOAUTH", "NOPERM"}) {
    if (error_reply.find(code) != std::string_view::npos) return OpType::kFail;
  }
  return OpType::kInfo;
}

std::string_view RedisCasScript() { return kCasScript; }

Result<std::unique_ptr<ClientFactory>> MakeRedisClientFactory(RedisClientOptions options) {
  if (options.endpoints.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "redis: client: no endpoints");
  }
  if (options.workload != "register" && options.workload != "set" && options.workload != "append" &&
      options.workload != "rw-register") {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("redis: client: workload '{}' is not supported (register, set, "
                                 "append, rw-register)",
                                 options.workload));
  }
  for (const RedisEndpoint& e : options.endpoints) {
    Result<tcp::endpoint> ep = Endpoint(e.address, e.port);
    if (!ep) return ep.error();
  }
  return std::unique_ptr<ClientFactory>(std::make_unique<RedisClientFactory>(std::move(options)));
}

Result<std::vector<std::string>> RedisQuery(const std::string& host, int port,
                                            const std::vector<std::string>& args,
                                            std::chrono::milliseconds timeout) {
  FAULTLINE_ASSIGN_OR_RETURN(tcp::endpoint ep, Endpoint(host, port));
  asio::io_context io;
  Exchange out;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        Connection c(ep);
        out = co_await c.Call(args, timeout);
      },
      asio::detached);
  io.run();
  const std::string where = fmt::format("{}:{}", host, port);
  if (out.status != Exchange::Status::kOk) {
    return MakeError(
        out.status == Exchange::Status::kTimeout ? ErrorCode::kDeadlineExceeded
                                                 : ErrorCode::kUnavailable,
        fmt::format("redis: {} {}: {}", where, args.empty() ? "" : args[0], out.error));
  }
  if (out.reply.is_error()) {
    return MakeError(
        ErrorCode::kUnavailable,
        fmt::format("redis: {} {}: {}", where, args.empty() ? "" : args[0], out.reply.text));
  }
  std::vector<std::string> flat;
  Flatten(out.reply, flat);
  return flat;
}

}  // namespace faultline::client
