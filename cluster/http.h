// The project's blocking HTTP/1.1 client, for probing etcd's /health and its gRPC-gateway JSON API
// (POST /v3/...) from outside an event loop: cluster bring-up, DiRT drills, health checks. One
// keep-alive connection, a deadline on every request, no io_context of the caller's (each client
// runs Boost.Beast on a private one). The campaign's clients use client/ (Asio coroutines) instead.
//
// Thread-safety: an HttpClient is used by one thread at a time; instances are independent.
#ifndef FAULTLINE_CLUSTER_HTTP_H_
#define FAULTLINE_CLUSTER_HTTP_H_

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

namespace faultline::cluster {

struct HttpResponse {
  int status = 0;
  std::string body;
};

// One keep-alive connection to address:port, opened on first use and re-opened after an error.
class HttpClient {
 public:
  // address: an IP literal (the cluster's nodes and loopback are addressed by IP).
  HttpClient(std::string address, int port);
  // base_url: "http://198.18.0.1:2379". One that does not parse fails every Request with
  // InvalidArgument.
  explicit HttpClient(std::string_view base_url);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // method "GET" or "POST"; a POST sends body as application/json. If a kept-alive connection
  // turns out closed by the server, reconnects once within the same timeout. Errors:
  // DeadlineExceeded (no answer within timeout), Unavailable (refused, reset, closed),
  // InvalidArgument (a bad address). Any HTTP status is a response, not an error.
  [[nodiscard]] Result<HttpResponse> Request(std::string_view method, std::string_view target,
                                             std::string_view body,
                                             std::chrono::milliseconds timeout);
  // "http://address:port", for messages.
  const std::string& base_url() const { return base_url_; }
  // Drops the connection (the next Request opens a new one).
  void Close();

 private:
  struct Impl;
  Result<HttpResponse> Once(std::string_view method, std::string_view target, std::string_view body,
                            std::chrono::milliseconds timeout);

  std::string base_url_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace faultline::cluster

#endif  // FAULTLINE_CLUSTER_HTTP_H_
