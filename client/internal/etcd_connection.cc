#include "client/internal/etcd_connection.h"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <utility>

namespace faultline::client::internal {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

// Set replies can be large; the gateway never sends more than this for our requests.
constexpr std::uint64_t kBodyLimit = 256u << 20;

// Shared by a request and its deadline handler: the handler may run after the request finished
// (it was already queued when the timer was cancelled) and must then do nothing.
struct Deadline {
  bool done = false;
  bool fired = false;
};

}  // namespace

struct EtcdConnection::Impl {
  tcp::endpoint endpoint;
  std::string host_header;
  std::optional<tcp::socket> socket;
  boost::beast::flat_buffer buffer;

  void Close() {
    if (socket) {
      boost::system::error_code ignored;
      socket->shutdown(tcp::socket::shutdown_both, ignored);
      socket->close(ignored);
      socket.reset();
    }
    // Bytes left from the old connection must never be parsed as a reply on the next one.
    buffer.clear();
  }
};

EtcdConnection::EtcdConnection(tcp::endpoint endpoint, std::string host_header)
    : impl_(std::make_unique<Impl>()) {
  impl_->endpoint = endpoint;
  impl_->host_header = std::move(host_header);
}

EtcdConnection::~EtcdConnection() { Close(); }

void EtcdConnection::Close() { impl_->Close(); }

bool EtcdConnection::is_open() const { return impl_->socket.has_value(); }

asio::awaitable<Exchange> EtcdConnection::Post(std::string_view target, std::string body,
                                               std::chrono::milliseconds timeout) {
  Impl& c = *impl_;
  Exchange out;
  auto executor = co_await asio::this_coro::executor;
  const bool fresh = !c.socket.has_value();
  out.reused = !fresh;
  if (fresh) {
    c.buffer.clear();
    c.socket.emplace(executor);
  }

  auto deadline = std::make_shared<Deadline>();
  asio::steady_timer timer(executor, timeout);
  tcp::socket* socket = &*c.socket;
  timer.async_wait([deadline, socket](const boost::system::error_code& ec) {
    if (ec || deadline->done) return;
    deadline->fired = true;
    // Closing makes the pending connect, write or read complete with operation_aborted.
    boost::system::error_code ignored;
    socket->close(ignored);
  });
  // Ends the request: the deadline handler is disarmed before control leaves this coroutine.
  auto finish = [&] {
    deadline->done = true;
    timer.cancel();
  };
  auto fail = [&](Exchange::Status status, std::string error) {
    finish();
    c.Close();
    out.status = deadline->fired ? Exchange::Status::kTimeout : status;
    out.error = deadline->fired ? "timeout" : std::move(error);
  };

  boost::system::error_code ec;
  if (fresh) {
    co_await socket->async_connect(c.endpoint, asio::redirect_error(asio::use_awaitable, ec));
    if (ec || deadline->fired) {
      fail(Exchange::Status::kConnectFailed, ec.message());
      co_return out;
    }
    socket->set_option(tcp::no_delay(true), ec);
  }

  http::request<http::string_body> request{
      http::verb::post, boost::beast::string_view(target.data(), target.size()), 11};
  request.set(http::field::host, c.host_header);
  request.set(http::field::content_type, "application/json");
  request.keep_alive(true);
  request.body() = std::move(body);
  request.prepare_payload();
  co_await http::async_write(*socket, request, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    fail(Exchange::Status::kIoError,
         std::string("send: ") + ec.message() + (fresh ? "" : " (reused connection)"));
    co_return out;
  }

  http::response_parser<http::string_body> parser;
  parser.body_limit(kBodyLimit);
  co_await http::async_read(*socket, c.buffer, parser,
                            asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    fail(Exchange::Status::kIoError,
         std::string("receive: ") + ec.message() + (fresh ? "" : " (reused connection)"));
    co_return out;
  }
  finish();
  auto response = parser.release();
  out.status = Exchange::Status::kOk;
  out.http_status = response.result_int();
  out.body = std::move(response.body());
  // The deadline may have closed the socket after the reply arrived but before we resumed; the
  // reply is complete and stands, but the connection is gone.
  if (deadline->fired || !response.keep_alive()) c.Close();
  co_return out;
}

}  // namespace faultline::client::internal
