// A minimal blocking HTTP/1.1 client (Boost.Beast) for probing etcd's JSON gateway from the root
// namespace, with a deadline on every step. Not part of the public API.
//
// Thread-safety: an HttpClient is used by one thread at a time; instances are independent.
#ifndef FAULTLINE_CLUSTER_INTERNAL_HTTP_H_
#define FAULTLINE_CLUSTER_INTERNAL_HTTP_H_

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

namespace faultline::cluster::internal {

struct HttpResponse {
  int status = 0;
  std::string body;
};

// One keep-alive connection to address:port, opened on first use and re-opened after an error.
class HttpClient {
 public:
  HttpClient(std::string address, int port);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // method "GET" or "POST"; body sent as application/json when non-empty or for POST.
  [[nodiscard]] Result<HttpResponse> Request(std::string_view method, std::string_view target,
                                             std::string_view body,
                                             std::chrono::milliseconds timeout);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace faultline::cluster::internal

#endif  // FAULTLINE_CLUSTER_INTERNAL_HTTP_H_
