#include "fit/internal/load.h"

#include <fmt/format.h>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <deque>
#include <memory>
#include <optional>
#include <random>

#include "common/asio.h"
#include "common/base64.h"

namespace faultline::fit::internal {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

void ReplaceAll(std::string& s, std::string_view from, std::string_view to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
}

std::string Render(std::string text, const std::string& key, const std::string& value,
                   std::int64_t seq) {
  if (text.find('{') == std::string::npos) return text;
  ReplaceAll(text, "{key_b64}", Base64Encode(key));
  ReplaceAll(text, "{value_b64}", Base64Encode(value));
  ReplaceAll(text, "{key}", key);
  ReplaceAll(text, "{value}", value);
  ReplaceAll(text, "{seq}", std::to_string(seq));
  return text;
}

struct Conn {
  explicit Conn(asio::io_context& io) : socket(io) {}
  tcp::socket socket;
  boost::beast::flat_buffer buffer;
  bool connected = false;
};

struct Waiter {
  explicit Waiter(asio::io_context& io) : timer(io) {}
  asio::steady_timer timer;
  std::unique_ptr<Conn> conn;
  bool granted = false;
};

struct Pool {
  tcp::endpoint endpoint;
  std::string host;
  std::vector<std::unique_ptr<Conn>> idle;
  int open = 0;
  std::deque<std::shared_ptr<Waiter>> waiters;
};

// A group's clients to one node (a client load): idle ones, how many exist, who waits.
struct ClientWaiter {
  explicit ClientWaiter(asio::io_context& io) : timer(io) {}
  asio::steady_timer timer;
  std::unique_ptr<client::Client> client;
  bool granted = false;
};
struct ClientPool {
  std::vector<std::unique_ptr<client::Client>> idle;
  int open = 0;
  std::int64_t opened = 0;  // clients made so far (their process numbers)
  std::deque<std::shared_ptr<ClientWaiter>> waiters;
};

// Set while a request owns its connection; the timeout guard closes the socket only then.
struct Guard {
  Conn* conn = nullptr;
  bool active = true;
  bool fired = false;
};

class Runner {
 public:
  Runner(const LoadPlan& plan, std::atomic<bool>& stop,
         const std::function<void(const Sample&)>& on_sample)
      : plan_(plan), stop_(stop), on_sample_(on_sample) {}

  Status Setup() {
    for (int g = 0; g < 2; ++g) {
      for (size_t i = 0; i < plan_.upstreams[g].size(); ++i) {
        client_pools_[g].push_back(std::make_unique<ClientPool>());
      }
      for (const std::string& upstream : plan_.upstreams[g]) {
        const size_t colon = upstream.rfind(':');
        boost::system::error_code ec;
        auto address = asio::ip::make_address(
            colon == std::string::npos ? upstream : upstream.substr(0, colon), ec);
        if (colon == std::string::npos || ec) {
          return MakeError(ErrorCode::kInvalidArgument,
                           fmt::format("fit: load: upstream \"{}\": expected ip:port", upstream));
        }
        auto pool = std::make_unique<Pool>();
        pool->endpoint = tcp::endpoint(
            address, static_cast<std::uint16_t>(std::stoi(upstream.substr(colon + 1))));
        pool->host = upstream;
        pools_[g].push_back(std::move(pool));
      }
      if (pools_[g].empty()) {
        return MakeError(ErrorCode::kInvalidArgument, "fit: load: a group has no upstream");
      }
    }
    return OkStatus();
  }

  void Run(Clock::time_point start) {
    start_ = start;
    asio::co_spawn(io_, Schedule(), asio::detached);
    io_.run();
  }

 private:
  asio::awaitable<void> Schedule() {
    asio::steady_timer timer(io_);
    const double period_ns = 1e9 / plan_.rate_per_group;
    for (size_t i = 0; i < plan_.requests.size(); ++i) {
      const auto due =
          start_ + std::chrono::nanoseconds(static_cast<std::int64_t>(period_ns * double(i)));
      timer.expires_at(due);
      boost::system::error_code ec;
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (stop_.load()) break;
      for (int g = 0; g < 2; ++g) {
        if (plan_.clients[g] != nullptr) {
          asio::co_spawn(io_, IssueOp(g, i, due), asio::detached);
        } else {
          asio::co_spawn(io_, Issue(g, i, due), asio::detached);
        }
      }
    }
  }

  asio::awaitable<std::unique_ptr<Conn>> Acquire(Pool& pool, Clock::time_point deadline) {
    if (!pool.idle.empty()) {
      auto c = std::move(pool.idle.back());
      pool.idle.pop_back();
      co_return c;
    }
    if (pool.open < plan_.connections) {
      ++pool.open;
      co_return std::make_unique<Conn>(io_);
    }
    auto w = std::make_shared<Waiter>(io_);
    w->timer.expires_at(deadline);
    pool.waiters.push_back(w);
    boost::system::error_code ec;
    co_await w->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (w->granted) co_return std::move(w->conn);
    std::erase(pool.waiters, w);
    co_return nullptr;  // timed out waiting
  }

  void Release(Pool& pool, std::unique_ptr<Conn> conn, bool reusable) {
    if (!reusable) {
      boost::system::error_code ignored;
      conn->socket.close(ignored);
      conn = std::make_unique<Conn>(io_);  // the slot passes on, unconnected
    }
    if (!pool.waiters.empty()) {
      auto w = pool.waiters.front();
      pool.waiters.pop_front();
      w->granted = true;
      w->conn = std::move(conn);
      w->timer.cancel();
      return;
    }
    if (reusable) {
      pool.idle.push_back(std::move(conn));
    } else {
      --pool.open;
    }
  }

  // A client of group g to node `node`: an idle one, a new one (process numbers node, node + n,
  // ... so the factory picks that node), or the next one released before the deadline.
  asio::awaitable<std::unique_ptr<client::Client>> AcquireClient(int g, size_t node,
                                                                 Clock::time_point deadline) {
    ClientPool& pool = *client_pools_[g][node];
    if (!pool.idle.empty()) {
      auto c = std::move(pool.idle.back());
      pool.idle.pop_back();
      co_return c;
    }
    if (pool.open < plan_.connections) {
      const auto n = static_cast<std::int64_t>(client_pools_[g].size());
      const auto process =
          history::Process::Client(static_cast<std::int64_t>(node) + n * pool.opened++);
      auto made = plan_.clients[g]->Open(process, io_);
      if (!made) co_return nullptr;
      ++pool.open;
      co_return std::move(*made);
    }
    auto w = std::make_shared<ClientWaiter>(io_);
    w->timer.expires_at(deadline);
    pool.waiters.push_back(w);
    boost::system::error_code ec;
    co_await w->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (w->granted) co_return std::move(w->client);
    std::erase(pool.waiters, w);
    co_return nullptr;
  }

  // A client whose op ended info is discarded (client/client.h): its slot passes on empty.
  void ReleaseClient(int g, size_t node, std::unique_ptr<client::Client> c, bool reusable) {
    ClientPool& pool = *client_pools_[g][node];
    if (!reusable) {
      c->Close();
      c.reset();
      --pool.open;
    }
    if (!pool.waiters.empty()) {
      if (!c) {
        const auto n = static_cast<std::int64_t>(client_pools_[g].size());
        auto made = plan_.clients[g]->Open(
            history::Process::Client(static_cast<std::int64_t>(node) + n * pool.opened++), io_);
        if (!made) return;  // the waiter times out
        ++pool.open;
        c = std::move(*made);
      }
      auto w = pool.waiters.front();
      pool.waiters.pop_front();
      w->granted = true;
      w->client = std::move(c);
      w->timer.cancel();
      return;
    }
    if (c) pool.idle.push_back(std::move(c));
  }

  // One request of a client load: a register read or write through the group's client to the
  // request's node. The client's own timeout bounds it; done after the deadline is a timeout.
  asio::awaitable<void> IssueOp(int group, size_t index, Clock::time_point due) {
    const PlannedRequest& r = plan_.requests[index];
    const size_t node = index % client_pools_[group].size();
    const Clock::time_point deadline = due + plan_.timeout;
    Sample s = Scheduled(group, r, due);
    std::unique_ptr<client::Client> c = co_await AcquireClient(group, node, deadline);
    if (!c) {
      s.timed_out = Clock::now() >= deadline;
      s.done_ns = SinceStart(Clock::now());
      on_sample_(s);
      co_return;
    }
    history::Op op;
    op.process = history::Process::Client(0);  // the client's own
    op.f = r.name;
    op.key = history::Value::Int(r.key);
    op.value = r.name == "write" ? history::Value::Int(r.seq) : history::Value::Nil();
    client::Completion done = co_await c->Invoke(std::move(op));
    const Clock::time_point end = Clock::now();
    s.timed_out = end > deadline;
    s.ok = !s.timed_out && done.op.type == history::OpType::kOk;
    s.done_ns = SinceStart(end);
    on_sample_(s);
    ReleaseClient(group, node, std::move(c), done.op.type != history::OpType::kInfo);
  }

  // A request's sample before it is sent: its group, template and scheduled time.
  Sample Scheduled(int group, const PlannedRequest& r, Clock::time_point due) const {
    return Sample{.group = group,
                  .template_index = r.template_index,
                  .scheduled_ns = SinceStart(due),
                  .done_ns = 0,
                  .status = 0,
                  .ok = false,
                  .timed_out = false};
  }

  std::int64_t SinceStart(Clock::time_point t) const {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t - start_).count();
  }

  asio::awaitable<void> Issue(int group, size_t index, Clock::time_point due) {
    const PlannedRequest& r = plan_.requests[index];
    Pool& pool = *pools_[group][index % pools_[group].size()];
    const Clock::time_point deadline = due + plan_.timeout;
    Sample s = Scheduled(group, r, due);
    std::unique_ptr<Conn> conn = co_await Acquire(pool, deadline);
    if (!conn) {
      s.timed_out = true;
      s.done_ns = SinceStart(Clock::now());
      on_sample_(s);
      co_return;
    }
    auto guard = std::make_shared<Guard>();
    guard->conn = conn.get();
    asio::steady_timer timer(io_);
    timer.expires_at(deadline);
    timer.async_wait([guard](const boost::system::error_code& ec) {
      if (ec || !guard->active) return;
      guard->fired = true;
      boost::system::error_code ignored;
      guard->conn->socket.close(ignored);
    });
    boost::system::error_code ec;
    if (!conn->connected) {
      co_await conn->socket.async_connect(pool.endpoint,
                                          asio::redirect_error(asio::use_awaitable, ec));
      if (!ec) {
        conn->connected = true;
        conn->socket.set_option(tcp::no_delay(true), ec);
      }
    }
    bool reusable = false;
    if (!ec) {
      http::request<http::string_body> req{http::string_to_verb(r.method), r.target, 11};
      req.set(http::field::host, pool.host);
      if (r.headers != nullptr) {
        for (const auto& [name, value] : *r.headers) req.set(name, value);
      }
      req.body() = r.body;
      req.prepare_payload();
      req.keep_alive(true);
      co_await http::async_write(conn->socket, req, asio::redirect_error(asio::use_awaitable, ec));
      if (!ec) {
        http::response<http::string_body> res;
        co_await http::async_read(conn->socket, conn->buffer, res,
                                  asio::redirect_error(asio::use_awaitable, ec));
        if (!ec) {
          s.status = static_cast<int>(res.result_int());
          reusable = res.keep_alive();
        }
      }
    }
    guard->active = false;
    timer.cancel();
    if (guard->fired) {
      s.timed_out = true;
      s.status = 0;
      reusable = false;
    }
    s.ok = !s.timed_out && s.status >= 200 && s.status < 300;
    s.done_ns = SinceStart(Clock::now());
    on_sample_(s);
    Release(pool, std::move(conn), reusable && !ec);
  }

  const LoadPlan& plan_;
  std::atomic<bool>& stop_;
  const std::function<void(const Sample&)>& on_sample_;
  asio::io_context io_;
  std::vector<std::unique_ptr<Pool>> pools_[2];
  std::vector<std::unique_ptr<ClientPool>> client_pools_[2];  // per node
  Clock::time_point start_;
};

}  // namespace

std::vector<PlannedRequest> PlanRequests(const Scenario& scenario, std::string_view base_path,
                                         std::int64_t count) {
  std::mt19937_64 rng(scenario.seed);
  std::vector<double> weights;
  for (const RequestTemplate& t : scenario.requests) weights.push_back(t.weight);
  std::discrete_distribution<int> pick(weights.begin(), weights.end());
  std::uniform_int_distribution<int> key(0, scenario.keys - 1);
  std::vector<PlannedRequest> out;
  out.reserve(static_cast<size_t>(count));
  for (std::int64_t i = 0; i < count; ++i) {
    const int t = pick(rng);
    const RequestTemplate& tpl = scenario.requests[static_cast<size_t>(t)];
    const int k_index = key(rng);
    const std::string k = fmt::format("k{}", k_index);
    const std::string v = fmt::format("v{}", i);
    PlannedRequest r;
    r.template_index = t;
    r.method = tpl.method;
    r.target = std::string(base_path) + Render(tpl.path, k, v, i);
    r.body = Render(tpl.body, k, v, i);
    r.headers = &tpl.headers;
    r.name = tpl.name;
    r.key = k_index;
    r.seq = i;
    out.push_back(std::move(r));
  }
  return out;
}

Status RunLoad(const LoadPlan& plan, std::atomic<bool>& stop,
               const std::function<void(std::int64_t start_ns)>& on_start,
               const std::function<void(const Sample&)>& on_sample) {
  try {
    Runner runner(plan, stop, on_sample);
    FAULTLINE_RETURN_IF_ERROR(runner.Setup());
    const auto start = Clock::now() + std::chrono::milliseconds(20);
    on_start(
        std::chrono::duration_cast<std::chrono::nanoseconds>(start.time_since_epoch()).count());
    runner.Run(start);
    return OkStatus();
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kInternal, fmt::format("fit: load: {}", e.what()));
  }
}

}  // namespace faultline::fit::internal
