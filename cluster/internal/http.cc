// Asio's headers use std::exchange without including <utility> (Boost 1.74): include it first.
#include <utility>
// clang-format off
#include "cluster/internal/http.h"
// clang-format on

#include <fmt/format.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>

namespace faultline::cluster::internal {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

struct HttpClient::Impl {
  std::string address;
  int port = 0;
  asio::io_context io;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;

  // Runs one async step to completion or its deadline (the stream's expiry closes it).
  template <typename Start>
  beast::error_code Step(Start&& start) {
    beast::error_code result = asio::error::would_block;
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    io.restart();
    io.run();
    return result;
  }
};

HttpClient::HttpClient(std::string address, int port) : impl_(std::make_unique<Impl>()) {
  impl_->address = std::move(address);
  impl_->port = port;
}

HttpClient::~HttpClient() = default;

Result<HttpResponse> HttpClient::Request(std::string_view method, std::string_view target,
                                         std::string_view body, std::chrono::milliseconds timeout) {
  Impl& im = *impl_;
  const std::string where = fmt::format("http {} {}:{}{}", method, im.address, im.port, target);
  auto fail = [&](std::string_view what, const beast::error_code& ec) -> Unexpected {
    im.stream.reset();
    im.buffer.clear();
    const bool timed_out = ec == beast::error::timeout;
    return MakeError(timed_out ? ErrorCode::kDeadlineExceeded : ErrorCode::kUnavailable,
                     fmt::format("{}: {}: {}", where, what,
                                 timed_out ? fmt::format("no answer within {} ms", timeout.count())
                                           : ec.message()));
  };
  try {
    if (!im.stream) {
      boost::system::error_code aec;
      const auto ip = asio::ip::make_address(im.address, aec);
      if (aec) {
        return MakeError(ErrorCode::kInvalidArgument, fmt::format("{}: bad address", where));
      }
      im.stream.emplace(im.io);
      im.stream->expires_after(timeout);
      const asio::ip::tcp::endpoint ep(ip, static_cast<unsigned short>(im.port));
      if (auto ec = im.Step([&](auto h) { im.stream->async_connect(ep, h); })) {
        return fail("connect", ec);
      }
    }
    http::request<http::string_body> req(method == "GET" ? http::verb::get : http::verb::post,
                                         std::string(target), 11);
    req.set(http::field::host, im.address);
    req.keep_alive(true);
    if (method != "GET") {
      req.set(http::field::content_type, "application/json");
      req.body() = std::string(body);
      req.prepare_payload();
    }
    im.stream->expires_after(timeout);
    if (auto ec = im.Step([&](auto h) { http::async_write(*im.stream, req, h); })) {
      return fail("send", ec);
    }
    http::response<http::string_body> res;
    if (auto ec = im.Step([&](auto h) { http::async_read(*im.stream, im.buffer, res, h); })) {
      return fail("read", ec);
    }
    if (!res.keep_alive()) im.stream.reset();
    return HttpResponse{.status = static_cast<int>(res.result_int()), .body = res.body()};
  } catch (const std::exception& e) {
    im.stream.reset();
    return MakeError(ErrorCode::kInternal, fmt::format("{}: {}", where, e.what()));
  }
}

}  // namespace faultline::cluster::internal
