// Loopback servers and a blocking client for the proxy's tests and benchmark: an HTTP/1.1
// keep-alive server and a TCP echo server, each on 127.0.0.1 with a free port and its own thread,
// stopped by their destructors.
//
// HTTP routes: GET /big -> 1000 bytes of 'x'; /close -> "bye" with Connection: close, then the
// server closes; POST /echo -> the request body; anything else -> "ok:" + path.
//
// Thread-safety: construct and destroy on one thread; the server threads are internal.
#ifndef FAULTLINE_NEMESIS_TESTING_LOOPBACK_HTTP_H_
#define FAULTLINE_NEMESIS_TESTING_LOOPBACK_HTTP_H_

#include <sys/socket.h>
#include <sys/time.h>

#include <chrono>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "common/asio.h"
#include "nemesis/internal/http_head.h"

namespace faultline::nemesis::testing {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

class LoopbackServer {
 public:
  enum class Mode { kHttp, kEcho };

  explicit LoopbackServer(Mode mode)
      : mode_(mode), acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    port_ = acceptor_.local_endpoint().port();
    asio::co_spawn(io_, Accept(), [](std::exception_ptr) {});
    thread_ = std::thread([this] { io_.run(); });
  }
  ~LoopbackServer() {
    io_.stop();
    thread_.join();
  }
  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;

  std::uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  asio::awaitable<void> Accept() {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket socket =
          co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      socket.set_option(tcp::no_delay(true), ec);
      auto shared = std::make_shared<tcp::socket>(std::move(socket));
      if (mode_ == Mode::kEcho) {
        asio::co_spawn(io_, Echo(shared), [](std::exception_ptr) {});
      } else {
        asio::co_spawn(io_, Serve(shared), [](std::exception_ptr) {});
      }
    }
  }

  static asio::awaitable<void> Echo(std::shared_ptr<tcp::socket> socket) {
    char buffer[16384];
    for (;;) {
      boost::system::error_code ec;
      std::size_t n = co_await socket->async_read_some(
          asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      co_await asio::async_write(*socket, asio::buffer(buffer, n),
                                 asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
    }
  }

  static asio::awaitable<void> Serve(std::shared_ptr<tcp::socket> socket) {
    std::string pending;
    char buffer[16384];
    for (;;) {
      auto end = internal::FindHeadEnd(pending);
      while (!end) {
        boost::system::error_code ec;
        std::size_t n = co_await socket->async_read_some(
            asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return;
        pending.append(buffer, n);
        end = internal::FindHeadEnd(pending);
      }
      std::string head = pending.substr(0, *end);
      auto parsed = internal::ParseRequestHead(head);
      if (!parsed) co_return;
      const auto length = static_cast<std::size_t>(parsed->content_length);
      while (pending.size() < *end + length) {
        boost::system::error_code ec;
        std::size_t n = co_await socket->async_read_some(
            asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return;
        pending.append(buffer, n);
      }
      std::string request_body = pending.substr(*end, length);
      pending.erase(0, *end + length);
      std::string body;
      bool close = false;
      if (parsed->path == "/big") {
        body.assign(1000, 'x');
      } else if (parsed->path == "/close") {
        body = "bye";
        close = true;
      } else if (parsed->path == "/echo") {
        body = request_body;
      } else {
        body = "ok:" + std::string(parsed->path);
      }
      std::string reply = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
                          (close ? "\r\nConnection: close" : "") + "\r\n\r\n" + body;
      boost::system::error_code ec;
      co_await asio::async_write(*socket, asio::buffer(reply),
                                 asio::redirect_error(asio::use_awaitable, ec));
      if (ec || close) co_return;
    }
  }

  Mode mode_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

// A blocking keep-alive HTTP client; every read gives up after 5 s (SO_RCVTIMEO).
class BlockingClient {
 public:
  struct Reply {
    int status = 0;
    std::string body;
    std::string error;  // non-empty: the connection failed or closed before a whole reply
    std::chrono::microseconds elapsed{0};
  };

  explicit BlockingClient(std::uint16_t port) : socket_(io_) {
    boost::system::error_code ec;
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
    connect_error_ = ec;
    if (!ec) {
      socket_.set_option(tcp::no_delay(true), ec);
      timeval tv{.tv_sec = 5, .tv_usec = 0};
      setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
  }

  bool connected() const { return !connect_error_; }
  tcp::socket& socket() { return socket_; }

  Reply Request(const std::string& method, const std::string& path,
                const std::string& extra_headers = "", const std::string& body = "") {
    Reply reply;
    const auto start = std::chrono::steady_clock::now();
    std::string request = method + " " + path + " HTTP/1.1\r\nHost: test\r\n" + extra_headers +
                          "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    boost::system::error_code ec;
    asio::write(socket_, asio::buffer(request), ec);
    if (ec) {
      reply.error = "write: " + ec.message();
      return reply;
    }
    std::optional<std::size_t> end;
    while (!(end = internal::FindHeadEnd(pending_))) {
      if (!ReadMore(reply)) return reply;
    }
    auto parsed = internal::ParseResponseHead(std::string_view(pending_).substr(0, *end));
    if (!parsed) {
      reply.error = "bad reply head";
      return reply;
    }
    reply.status = parsed->status;
    const auto length = static_cast<std::size_t>(parsed->content_length);
    while (pending_.size() < *end + length) {
      if (!ReadMore(reply)) {
        reply.body = pending_.substr(*end);
        return reply;
      }
    }
    reply.body = pending_.substr(*end, length);
    pending_.erase(0, *end + length);
    reply.elapsed = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - start);
    return reply;
  }

 private:
  bool ReadMore(Reply& reply) {
    char buffer[16384];
    boost::system::error_code ec;
    std::size_t n = socket_.read_some(asio::buffer(buffer), ec);
    if (ec) {
      reply.error = "read: " + ec.message();
      return false;
    }
    pending_.append(buffer, n);
    return true;
  }

  asio::io_context io_;
  tcp::socket socket_;
  boost::system::error_code connect_error_;
  std::string pending_;
};

}  // namespace faultline::nemesis::testing

#endif  // FAULTLINE_NEMESIS_TESTING_LOOPBACK_HTTP_H_
