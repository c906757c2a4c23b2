// A tiny blocking HTTP/1.1 client over a plain TCP socket, enough for etcd's /health and its
// gRPC-gateway JSON API (POST /v3/...): keep-alive, Content-Length and chunked bodies, one overall
// deadline per request. Beast would do, but dirt/ needs only this, and a drill must not depend on
// an io_context to observe a cluster. Not part of the public API.
//
// Thread-safety: one HttpConnection per thread; distinct connections are independent.
#ifndef FAULTLINE_DIRT_INTERNAL_HTTP_H_
#define FAULTLINE_DIRT_INTERNAL_HTTP_H_

#include <chrono>
#include <string>
#include <string_view>

#include "common/result.h"

namespace faultline::dirt::internal {

struct HttpResponse {
  int status = 0;
  std::string body;
};

class HttpConnection {
 public:
  // base_url: "http://198.18.0.1:2379" (IPv4 literal only: the cluster's nodes and loopback).
  explicit HttpConnection(std::string base_url);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // GET when body is empty and method is "GET", else POST with a JSON body. Reconnects once if a
  // kept-alive connection turns out closed. Errors: kDeadlineExceeded, kUnavailable.
  [[nodiscard]] Result<HttpResponse> Request(std::string_view method, std::string_view path,
                                             std::string_view body,
                                             std::chrono::milliseconds timeout);
  const std::string& base_url() const { return base_url_; }
  void Close();

 private:
  Result<HttpResponse> Once(std::string_view method, std::string_view path, std::string_view body,
                            std::chrono::steady_clock::time_point deadline);
  Status Connect(std::chrono::steady_clock::time_point deadline);

  std::string base_url_;
  std::string host_;
  int port_ = 80;
  int fd_ = -1;
};

}  // namespace faultline::dirt::internal

#endif  // FAULTLINE_DIRT_INTERNAL_HTTP_H_
