// Client: runs one worker's operations against the system under test (Jepsen's client protocol,
// reduced to invoke). A worker owns one Client; a Client whose op ended `info` is discarded and
// the worker continues under a new process id with a new Client (new connection).
//
// Every completion is made from its invocation (invoke.Complete(...)), so process and f match.
// Classification rule (STYLE §3.4): ok if the op took effect, fail only if it certainly did not,
// info if unknown (timeouts, resets after sending, "leader changed", ...).
//
// Thread-safety: a Client is used by one coroutine at a time, on the io_context it was opened on.
#ifndef FAULTLINE_CLIENT_CLIENT_H_
#define FAULTLINE_CLIENT_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "client/asio.h"
#include "common/result.h"
#include "history/op.h"

namespace faultline::client {

// A completion and what the server said about it.
struct Completion {
  history::Op op;               // ok / fail / info, made from the invocation
  std::string node;             // node that served it ("n3"), or was asked
  std::uint64_t member_id = 0;  // etcd header.member_id (0 if no reply)
  std::int64_t revision = 0;    // header.revision
  std::uint64_t raft_term = 0;  // header.raft_term
  std::chrono::nanoseconds latency{0};
};

class Client {
 public:
  Client() = default;
  virtual ~Client() = default;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Runs the invocation; never throws; always completes (a client error becomes info or fail).
  virtual boost::asio::awaitable<Completion> Invoke(history::Op invoke) = 0;
  // Closes the connection (idempotent).
  virtual void Close() = 0;
};

class ClientFactory {
 public:
  ClientFactory() = default;
  virtual ~ClientFactory() = default;
  ClientFactory(const ClientFactory&) = delete;
  ClientFactory& operator=(const ClientFactory&) = delete;

  // A client for `process`, connected lazily, bound to io. Node choice is the factory's
  // (e.g. process number modulo the node count).
  [[nodiscard]] virtual Result<std::unique_ptr<Client>> Open(const history::Process& process,
                                                             boost::asio::io_context& io) = 0;
};

}  // namespace faultline::client

#endif  // FAULTLINE_CLIENT_CLIENT_H_
