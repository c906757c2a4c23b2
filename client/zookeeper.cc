#include "client/zookeeper.h"

#include <fmt/format.h>
#include <zookeeper/zookeeper.h>

#include <charconv>
#include <mutex>
#include <thread>

#include "client/key.h"
#include "history/fields.h"

namespace faultline::client {
namespace {

namespace asio = boost::asio;
using history::OpType;
using history::Value;
using Clock = std::chrono::steady_clock;

// One outstanding request: the library's thread fills it and wakes the worker through its
// io_context; the worker gives up on it at its deadline (then the answer is dropped).
struct Pending {
  explicit Pending(asio::io_context& io) : timer(io), executor(io.get_executor()) {}
  std::mutex mu;
  bool done = false;
  bool abandoned = false;
  int rc = ZOK;
  bool has_data = false;
  std::string data;
  int32_t version = -1;
  int64_t mzxid = 0;
  asio::steady_timer timer;  // touched on the worker's io_context only
  asio::io_context::executor_type executor;
};
using PendingPtr = std::shared_ptr<Pending>;

// Ownership of one shared_ptr travels through the library's `data` pointer; each completion is
// called exactly once (ZCLOSING at close at the latest).
void Finish(const void* data, int rc, const char* value, int value_len, const Stat* stat) {
  std::unique_ptr<PendingPtr> owner(static_cast<PendingPtr*>(const_cast<void*>(data)));
  PendingPtr p = *owner;
  std::lock_guard lock(p->mu);
  if (p->abandoned) return;
  p->rc = rc;
  if (value != nullptr && value_len >= 0) {
    p->has_data = true;
    p->data.assign(value, static_cast<size_t>(value_len));
  }
  if (stat != nullptr) {
    p->version = stat->version;
    p->mzxid = stat->mzxid;
  }
  p->done = true;
  // expires_at (not cancel): it also wakes a wait that has not started yet.
  asio::post(p->executor, [p] { p->timer.expires_at(Clock::time_point::min()); });
}
void OnData(int rc, const char* value, int value_len, const Stat* stat, const void* data) {
  Finish(data, rc, value, value_len, stat);
}
void OnStat(int rc, const Stat* stat, const void* data) { Finish(data, rc, nullptr, -1, stat); }
void OnString(int rc, const char* /*value*/, const void* data) {
  Finish(data, rc, nullptr, -1, nullptr);
}
void OnStringStat(int rc, const char* /*value*/, const Stat* stat, const void* data) {
  Finish(data, rc, nullptr, -1, stat);
}
void IgnoreWatch(zhandle_t* /*zh*/, int /*type*/, int /*state*/, const char* /*path*/,
                 void* /*ctx*/) {}

struct Answer {
  int rc = ZOK;
  bool sent = true;        // false: the library refused the call
  bool timed_out = false;  // faultline's deadline passed first
  bool has_data = false;
  std::string data;
  int32_t version = -1;
  int64_t mzxid = 0;  // the znode's mzxid: the zxid of the write that made the version
};

// Joins the threads that close sessions (zookeeper_close may wait on an unreachable server),
// when the factory and its last client are gone.
class Closer {
 public:
  ~Closer() {
    for (std::thread& t : threads_) t.join();
  }
  void Close(zhandle_t* zh) {
    std::lock_guard lock(mu_);
    threads_.emplace_back([zh] { zookeeper_close(zh); });
  }

 private:
  std::mutex mu_;
  std::vector<std::thread> threads_;
};

class ZkClient final : public Client {
 public:
  ZkClient(const ZkClientOptions& options, const history::Process& process, asio::io_context& io,
           std::shared_ptr<Closer> closer)
      : options_(options), io_(io), closer_(std::move(closer)) {
    const auto n = static_cast<std::int64_t>(options_.endpoints.size());
    endpoint_ = options_.endpoints[static_cast<size_t>(((process.number % n) + n) % n)];
  }
  ~ZkClient() override { Close(); }

  void Close() override {
    if (zh_ != nullptr) closer_->Close(zh_);
    zh_ = nullptr;
  }

  asio::awaitable<Completion> Invoke(history::Op invoke) override {
    const auto start = Clock::now();
    Completion c;
    c.node = endpoint_.node;
    std::chrono::milliseconds limit = options_.timeout;
    if (zh_ != nullptr) {
      const int state = zoo_state(zh_);
      if (state == ZOO_EXPIRED_SESSION_STATE || state == ZOO_AUTH_FAILED_STATE) Close();
    }
    if (zh_ == nullptr) {
      const std::string host = fmt::format("{}:{}", endpoint_.address, endpoint_.port);
      zh_ = zookeeper_init(host.c_str(), IgnoreWatch,
                           static_cast<int>(options_.session_timeout.count()), nullptr, nullptr, 0);
      limit += kZkConnectAllowance;
    }
    deadline_ = start + limit;
    auto finish = [&](OpType type, Value value, std::string error) {
      c.op = invoke.Complete(type, std::move(value));
      if (!error.empty()) c.op.error = Value::String(std::move(error));
      c.latency = Clock::now() - start;
    };
    auto failed = [&](const Answer& a, bool mutating, std::string_view what) {
      OpType type = a.timed_out ? (mutating ? OpType::kInfo : OpType::kFail)
                                : ClassifyZkError(a.rc, a.sent, mutating);
      std::string why = a.timed_out ? fmt::format("{}: timeout after {} ms", what, limit.count())
                                    : fmt::format("{}: {}", what, zerror(a.rc));
      finish(type, invoke.value, std::move(why));
      if (type == OpType::kInfo) Close();
    };
    if (zh_ == nullptr) {
      finish(OpType::kFail, invoke.value, fmt::format("zookeeper_init: {}", errno));
      co_return c;
    }
    const std::string path = ZnodePath(options_.key_prefix, invoke);

    if (invoke.f == "read") {
      if (options_.read_mode == ZkReadMode::kSync) {
        Answer s =
            co_await Call([&](void* d) { return zoo_async(zh_, path.c_str(), OnString, d); });
        if (s.timed_out || s.rc != ZOK) {
          failed(s, false, "sync");
          co_return c;
        }
      }
      Answer a = co_await Call([&](void* d) { return zoo_aget(zh_, path.c_str(), 0, OnData, d); });
      if (a.rc == ZNONODE && !a.timed_out) {
        finish(OpType::kOk, Value::Nil(), "");
        c.op.AddExtra(history::field::kModRevision, Value::Int(0));
      } else if (a.timed_out || a.rc != ZOK) {
        failed(a, false, "getData");
      } else {
        finish(OpType::kOk, Parse(a), "");
        c.op.AddExtra(history::field::kModRevision, Value::Int(a.mzxid));
      }
      co_return c;
    }

    if (invoke.f == "write") {
      if (!invoke.value.is_int()) {
        finish(OpType::kFail, invoke.value, "unsent: write value is not an integer");
        co_return c;
      }
      const std::string text = std::to_string(invoke.value.as_int());
      for (int attempt = 0; attempt < 2; ++attempt) {
        Answer a = co_await Set(path, text, -1);
        if (!a.timed_out && a.rc == ZNONODE) {
          a = co_await Call([&](void* d) {
            return zoo_acreate2(zh_, path.c_str(), text.data(), static_cast<int>(text.size()),
                                &ZOO_OPEN_ACL_UNSAFE, 0, OnStringStat, d);
          });
          if (!a.timed_out && a.rc == ZNODEEXISTS) continue;  // created meanwhile: set again
          if (!a.timed_out && a.rc == ZOK) {
            finish(OpType::kOk, invoke.value, "");
            c.revision = a.mzxid;
          } else {
            failed(a, true, "create");
          }
          co_return c;
        }
        if (!a.timed_out && a.rc == ZOK) {
          finish(OpType::kOk, invoke.value, "");
          c.revision = a.mzxid;
        } else {
          failed(a, true, "setData");
        }
        co_return c;
      }
      finish(OpType::kFail, invoke.value, "setData: the znode came and went");
      co_return c;
    }

    if (invoke.f == "cas") {
      if (!invoke.value.is_sequential() || invoke.value.size() != 2 ||
          !invoke.value.items()[0].is_int() || !invoke.value.items()[1].is_int()) {
        finish(OpType::kFail, invoke.value, "unsent: cas value is not [old new]");
        co_return c;
      }
      const Value expected = invoke.value.items()[0];
      const std::string text = std::to_string(invoke.value.items()[1].as_int());
      Answer r = co_await Call([&](void* d) { return zoo_aget(zh_, path.c_str(), 0, OnData, d); });
      if (r.timed_out || (r.rc != ZOK && r.rc != ZNONODE)) {
        failed(r, false, "cas getData");
        co_return c;
      }
      if (r.rc == ZNONODE || Parse(r) != expected) {
        finish(OpType::kFail, invoke.value,
               fmt::format("cas: value is {}", r.rc == ZNONODE ? "nil" : Parse(r).ToEdn()));
        co_return c;
      }
      Answer w = co_await Set(path, text, r.version);
      if (!w.timed_out && w.rc == ZOK) {
        finish(OpType::kOk, invoke.value, "");
        c.revision = w.mzxid;
      } else {
        failed(w, true, fmt::format("cas setData version {}", r.version));
      }
      co_return c;
    }
    finish(OpType::kFail, invoke.value, fmt::format("unsent: unknown f '{}'", invoke.f));
    co_return c;
  }

 private:
  static Value Parse(const Answer& a) {
    if (!a.has_data) return Value::Nil();
    std::int64_t v = 0;
    const char* end = a.data.data() + a.data.size();
    auto [ptr, ec] = std::from_chars(a.data.data(), end, v);
    if (ec != std::errc() || ptr != end) return Value::String(a.data);
    return Value::Int(v);
  }

  asio::awaitable<Answer> Set(const std::string& path, const std::string& text,
                              std::int32_t version) {
    return Call([&, version](void* d) {
      return zoo_aset(zh_, path.c_str(), text.data(), static_cast<int>(text.size()), version,
                      OnStat, d);
    });
  }

  // Starts one request through `start(data)` and waits for its answer until the op's deadline.
  template <typename Start>
  asio::awaitable<Answer> Call(Start start) {
    auto p = std::make_shared<Pending>(io_);
    p->timer.expires_at(deadline_);
    auto* owner = new PendingPtr(p);
    Answer a;
    const int rc = start(owner);
    if (rc != ZOK) {
      delete owner;  // the library does not call the completion for a refused call
      a.rc = rc;
      a.sent = false;
      co_return a;
    }
    boost::system::error_code ec;
    co_await p->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    std::lock_guard lock(p->mu);
    if (!p->done) {
      p->abandoned = true;
      a.timed_out = true;
      co_return a;
    }
    a.rc = p->rc;
    a.has_data = p->has_data;
    a.data = std::move(p->data);
    a.version = p->version;
    a.mzxid = p->mzxid;
    co_return a;
  }

  const ZkClientOptions& options_;
  asio::io_context& io_;
  std::shared_ptr<Closer> closer_;
  ZkEndpoint endpoint_;
  zhandle_t* zh_ = nullptr;
  Clock::time_point deadline_{};
};

class ZkClientFactory final : public ClientFactory {
 public:
  explicit ZkClientFactory(ZkClientOptions options)
      : options_(std::move(options)), closer_(std::make_shared<Closer>()) {}
  Result<std::unique_ptr<Client>> Open(const history::Process& process,
                                       asio::io_context& io) override {
    return std::unique_ptr<Client>(std::make_unique<ZkClient>(options_, process, io, closer_));
  }

 private:
  ZkClientOptions options_;
  std::shared_ptr<Closer> closer_;
};

}  // namespace

Result<ZkReadMode> ParseZkReadMode(std::string_view mode) {
  if (mode == "plain" || mode == "serializable") return ZkReadMode::kPlain;
  if (mode == "sync" || mode == "linearizable") return ZkReadMode::kSync;
  return MakeError(ErrorCode::kInvalidArgument,
                   fmt::format("zookeeper: read mode '{}' (expected plain or sync; serializable "
                               "means plain, linearizable means sync)",
                               mode));
}

OpType ClassifyZkError(int rc, bool sent, bool mutating) {
  if (rc == ZOK) return OpType::kOk;
  if (!sent || !mutating) return OpType::kFail;
  switch (rc) {
    // The server answered: certainly not done.
    case ZBADVERSION:
    case ZNONODE:
    case ZNODEEXISTS:
    case ZBADARGUMENTS:
    case ZNOAUTH:
    case ZINVALIDACL:
    case ZNOTEMPTY:
      return OpType::kFail;
    // Connection loss, session expiry, operation timeout, closing, and anything else: the
    // request may have reached the leader.
    default:
      return OpType::kInfo;
  }
}

std::string ZnodePath(std::string_view key_prefix, const history::Op& op) {
  std::string path = fmt::format("/{}r/{}", key_prefix, KeyText(op));
  for (size_t i = 1; i < path.size(); ++i) {
    if (path[i] == '/') path[i] = '_';
  }
  return path;
}

Result<std::unique_ptr<ClientFactory>> MakeZkClientFactory(ZkClientOptions options) {
  if (options.endpoints.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "zookeeper client: no endpoints");
  }
  // The library logs every reconnect to stderr; faultline records the outcomes itself.
  static std::once_flag quiet;
  std::call_once(quiet, [] { zoo_set_debug_level(static_cast<ZooLogLevel>(0)); });
  return std::unique_ptr<ClientFactory>(std::make_unique<ZkClientFactory>(std::move(options)));
}

}  // namespace faultline::client
