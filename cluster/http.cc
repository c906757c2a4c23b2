// Asio's headers use std::exchange without including <utility> (Boost 1.74): include it first.
#include <utility>
// clang-format off
#include "cluster/http.h"
// clang-format on

#include <fmt/format.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <optional>

namespace faultline::cluster {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

using Clock = std::chrono::steady_clock;

struct HttpClient::Impl {
  std::string address;
  int port = 0;
  bool parsed = true;  // false: base_url did not parse
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

HttpClient::HttpClient(std::string address, int port)
    : base_url_(fmt::format("http://{}:{}", address, port)), impl_(std::make_unique<Impl>()) {
  impl_->address = std::move(address);
  impl_->port = port;
}

HttpClient::HttpClient(std::string_view base_url)
    : base_url_(base_url), impl_(std::make_unique<Impl>()) {
  std::string_view rest = base_url;
  if (rest.starts_with("http://")) rest.remove_prefix(7);
  rest = rest.substr(0, rest.find('/'));
  const size_t colon = rest.rfind(':');
  impl_->address = std::string(rest.substr(0, colon));
  impl_->port = 80;
  if (colon != std::string_view::npos) {
    const std::string_view digits = rest.substr(colon + 1);
    const auto [end, ec] =
        std::from_chars(digits.data(), digits.data() + digits.size(), impl_->port);
    impl_->parsed = ec == std::errc() && end == digits.data() + digits.size() && impl_->port > 0 &&
                    impl_->port < 65536;
  }
}

HttpClient::~HttpClient() = default;

void HttpClient::Close() {
  impl_->stream.reset();
  impl_->buffer.clear();
}

Result<HttpResponse> HttpClient::Request(std::string_view method, std::string_view target,
                                         std::string_view body, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  const bool reused = impl_->stream.has_value();
  auto r = Once(method, target, body, timeout);
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  // A server may close a kept-alive connection between requests; that is no answer about this one.
  if (!r && reused && r.error().code() == ErrorCode::kUnavailable && left.count() > 0) {
    r = Once(method, target, body, left);
  }
  return r;
}

Result<HttpResponse> HttpClient::Once(std::string_view method, std::string_view target,
                                      std::string_view body, std::chrono::milliseconds timeout) {
  Impl& im = *impl_;
  const std::string where = fmt::format("http {} {}{}", method, base_url_, target);
  if (!im.parsed) return MakeError(ErrorCode::kInvalidArgument, where + ": bad url");
  auto fail = [&](std::string_view what, const beast::error_code& ec) -> Unexpected {
    Close();
    const bool timed_out = ec == beast::error::timeout;
    return MakeError(timed_out ? ErrorCode::kDeadlineExceeded : ErrorCode::kUnavailable,
                     fmt::format("{}: {}: {}", where, what,
                                 timed_out ? fmt::format("no answer within {} ms", timeout.count())
                                           : ec.message()));
  };
  try {
    // One deadline for connect, send and read together.
    const auto deadline = Clock::now() + timeout;
    if (!im.stream) {
      boost::system::error_code aec;
      const auto ip = asio::ip::make_address(im.address, aec);
      if (aec) {
        return MakeError(ErrorCode::kInvalidArgument, fmt::format("{}: bad address", where));
      }
      im.stream.emplace(im.io);
      im.stream->expires_at(deadline);
      const asio::ip::tcp::endpoint ep(ip, static_cast<unsigned short>(im.port));
      if (auto ec = im.Step([&](auto h) { im.stream->async_connect(ep, h); })) {
        return fail("connect", ec);
      }
    }
    http::request<http::string_body> req(method == "GET" ? http::verb::get : http::verb::post,
                                         std::string(target), 11);
    req.set(http::field::host, fmt::format("{}:{}", im.address, im.port));
    req.keep_alive(true);
    if (method != "GET") {
      req.set(http::field::content_type, "application/json");
      req.body() = std::string(body);
      req.prepare_payload();
    }
    im.stream->expires_at(deadline);
    if (auto ec = im.Step([&](auto h) { http::async_write(*im.stream, req, h); })) {
      return fail("send", ec);
    }
    http::response<http::string_body> res;
    if (auto ec = im.Step([&](auto h) { http::async_read(*im.stream, im.buffer, res, h); })) {
      return fail("read", ec);
    }
    if (!res.keep_alive()) Close();
    return HttpResponse{.status = static_cast<int>(res.result_int()), .body = res.body()};
  } catch (const std::exception& e) {
    Close();
    return MakeError(ErrorCode::kInternal, fmt::format("{}: {}", where, e.what()));
  }
}

}  // namespace faultline::cluster
