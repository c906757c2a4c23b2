// One keep-alive HTTP/1.1 connection to an etcd member, used for one request at a time, with a
// deadline per request. The connection is closed, never reused, after a timeout, an error, a
// partial read or a reply that does not allow keep-alive: a late reply on a reused socket would
// otherwise be read as the answer to the next request.
//
// Thread-safety: one coroutine at a time. The deadline timer is created on the calling
// coroutine's executor and its handler closes the socket, so that executor must serialize them
// (a single-threaded io_context, or a strand).
#ifndef FAULTLINE_CLIENT_INTERNAL_ETCD_CONNECTION_H_
#define FAULTLINE_CLIENT_INTERNAL_ETCD_CONNECTION_H_

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "client/asio.h"

namespace faultline::client::internal {

// What happened to one request.
struct Exchange {
  enum class Status {
    kOk,             // a complete HTTP reply was read (any status code)
    kConnectFailed,  // a fresh socket could not connect (not a timeout): nothing was sent
    kTimeout,        // the deadline passed (connect, send or receive)
    kIoError,        // connected, then failed: reset, broken pipe, EOF, parse error
  };
  Status status = Status::kIoError;
  std::string error;  // set unless kOk
  unsigned http_status = 0;
  std::string body;
  bool reused = false;  // the request went over a connection opened for an earlier request
};

class EtcdConnection {
 public:
  EtcdConnection(boost::asio::ip::tcp::endpoint endpoint, std::string host_header);
  ~EtcdConnection();
  EtcdConnection(const EtcdConnection&) = delete;
  EtcdConnection& operator=(const EtcdConnection&) = delete;

  // POSTs body (JSON) to target; connects first if there is no open connection. Never throws for
  // network events.
  boost::asio::awaitable<Exchange> Post(std::string_view target, std::string body,
                                        std::chrono::milliseconds timeout);
  // Closes the socket (idempotent); the next Post opens a new connection.
  void Close();
  bool is_open() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace faultline::client::internal

#endif  // FAULTLINE_CLIENT_INTERNAL_ETCD_CONNECTION_H_
