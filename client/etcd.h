// The etcd v3 client over the gRPC-gateway JSON API (POST http://host:port/v3/...), with
// Boost.Asio / Beast coroutines (issue 5 §2).
//
// One keep-alive HTTP/1.1 connection per Client (per worker process), opened lazily to endpoint
// `process.number mod endpoints.size()`. Every HTTP request has one deadline (options.timeout)
// covering connect, send and receive (ops of one request: read, write, cas, add; a counter add
// shares one deadline over its rounds; a lock acquire is two requests). After any timeout, error or
// partial read the connection is closed and never reused, so that a late reply cannot be read as
// the answer to the next request.
//
// Ops (history::Op f and value):
//   register workload (options.workload == kRegister), etcd key = <prefix>r/<key>:
//     "read"   invoke value nil; ok value = the integer read, or nil when the key is absent
//     "write"  invoke value v (int); ok value = v
//     "cas"    invoke value [old new]; a txn comparing VALUE == old, then put new. old nil means
//              create-if-absent (compare VERSION == 0). ok/fail value = [old new]
//   set workload (options.workload == kSet), set directory = <prefix>s/<key>/:
//     "add"    invoke value v (int); puts <dir><v> = v; ok value = v
//     "read"   invoke value nil; ranges over <dir>; ok value = #{...} the integers, ascending
//   (so set reads are plain f "read", told apart by EtcdClientOptions::workload; "read-set" is
//   accepted as an alias in the register and set workloads.)
//   counter workload (options.workload == kCounter), etcd key = <prefix>c/<key>:
//     "add"    invoke value delta (int): read the counter, then a txn comparing its mod_revision
//              puts old + delta; a false compare (a concurrent add) retries until options.timeout
//              has passed since the invocation. ok value = delta. If every compare was false the
//              add certainly did not happen: fail with a "contention" error
//     "read"   invoke value nil; ok value = the counter (0 when the key is absent)
//   lock workload (options.workload == kLock), lock name = <prefix>l/<key>:
//     "acquire" invoke value nil: grants a lease (options.lock_ttl), then /v3/lock/lock, which
//              blocks while another holds the lock; ok value nil. While it blocks, the lease is
//              kept alive over a second connection (etcd 3.4.23 grants the lock to a waiter whose
//              lease expired meanwhile). Blocking past options.lock_acquire_timeout gives info
//              (the lock may be granted later; the lease then expires after the TTL).
//     "hold"   invoke value: the hold time in ms. Keeps the held lock's lease alive with
//              /v3/lease/keepalive every TTL/3 over this client's connection for that long; a
//              keepalive that times out or fails is transient (the client keeps holding). ok,
//              value nil, with extras :keepalives (answered), :keepalive_errors, :ttl (the last
//              TTL etcd reported) and :lost (true when a keepalive was answered without a TTL:
//              the lease is gone, and the hold ended then). fail, unsent, when no lock is held.
//     "release" invoke value nil: /v3/lock/unlock of the key this client holds, then a best-effort
//              lease revoke; ok value nil. fail, unsent, when this client holds no lock.
//              A client holds at most one lock at a time ("acquire" while holding: fail, unsent).
//   append and rw-register workloads (kAppend, kRwRegister), etcd key = <prefix>t/<k> per
//   micro-op key k (an integer):
//     "txn"    invoke value [[:append k v] [:r k nil] ...] (append; a list is stored as its
//              elements in decimal, space-separated) or [[:w k v] [:r k nil] ...] (rw-register).
//              A txn of ranges reads every key it touches at one revision; the micro-ops are
//              applied to that; a transaction that writes then puts in a txn whose compare asks
//              that each key's mod_revision is still the one read (Jepsen's etcd append test), so
//              it took effect as if at its read. A false compare applied nothing: read again and
//              retry until options.timeout has passed since the invocation, then fail
//              ("contention"). ok value: the micro-ops with reads filled in ([:r k [1 2]] or
//              [:r k 3] / [:r k nil]), with :mod_revisions [[k rev] ...] (each key's version when
//              read, 0 if absent) and :revision (the commit's revision = the mod_revision of
//              every key written; a read-only transaction's is its read's).
// <key> is the op's :key (an int or string/keyword's text, other kinds their EDN), or "default"
// when the op has none. Values are integers stored as decimal text (base64-encoded on the wire);
// a read of a value that is not a decimal integer completes info with an error.
// Read-only transactions honour read_mode; transactions that write always read linearizably.
//
// Classification (STYLE §3.4): ok if etcd confirmed; fail only when the op certainly did not
// happen: a cas whose compare was false, or a connect that failed on a fresh socket (refused,
// unreachable); also, never sent, an invocation this client cannot express (unknown f for the
// workload, a non-integer value: "invalid invocation: ..."), and the counter/lock cases above.
// Everything else is info with an :error string: every timeout (connect included), "etcdserver:
// request timed out", "leader changed", resets or broken pipes once connected, HTTP errors and
// unparseable replies. Error strings start with "timeout:", "connect:", "io:", "etcd:",
// "reply:", "invalid invocation:", "contention:" or "internal error:".
//
// Thread-safety: a Client is used by one coroutine at a time; the io_context it was opened on must
// run on one thread, or the calling coroutine must run on a strand (the timeout timer's handler
// runs on the coroutine's executor and closes the socket). The factory is thread-safe for Open.
#ifndef FAULTLINE_CLIENT_ETCD_H_
#define FAULTLINE_CLIENT_ETCD_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "client/client.h"
#include "common/ports.h"
#include "common/result.h"

namespace faultline::client {

struct EtcdEndpoint {
  std::string node;  // "n1": recorded in every completion
  std::string host;  // IP literal, e.g. "198.18.0.1" or "127.0.0.1" (no name resolution)
  std::uint16_t port = kEtcdClientPort;
};

enum class EtcdReadMode { kLinearizable, kSerializable };
enum class EtcdWorkload { kRegister, kSet, kCounter, kLock, kAppend, kRwRegister };

struct EtcdClientOptions {
  std::vector<EtcdEndpoint> endpoints;
  // Shorter than etcd's own 7 s request timeout, so that a stuck request ends as our info first.
  std::chrono::milliseconds timeout{1000};
  EtcdReadMode read_mode = EtcdReadMode::kLinearizable;
  EtcdWorkload workload = EtcdWorkload::kRegister;
  std::string key_prefix = "faultline/";
  // Lock workload: TTL of the lease each acquire grants. Only "hold" and a waiting acquire keep it
  // alive: a holder whose keepalives do not reach the leader for this long loses the lock, and
  // etcd may give it to another while the holder still thinks it holds it (Jepsen's etcd lock
  // hazard).
  std::chrono::seconds lock_ttl{10};
  // Lock workload: the timeout of the blocking /v3/lock/lock call; 0 means `timeout`.
  std::chrono::milliseconds lock_acquire_timeout{0};
};

// InvalidArgument when there are no endpoints, a host is not an IP literal, or timeout <= 0.
[[nodiscard]] Result<std::unique_ptr<ClientFactory>> MakeEtcdClientFactory(
    EtcdClientOptions options);

// Parses "n1=127.0.0.1:2379", "127.0.0.1:2379" (node then defaults to the host:port text) or
// "n1=[::1]:2379".
[[nodiscard]] Result<EtcdEndpoint> ParseEtcdEndpoint(std::string_view text);

// What /v3/maintenance/status says about one member.
struct EtcdStatusReply {
  std::uint64_t member_id = 0;
  std::uint64_t leader = 0;  // member id of the leader as this member knows it; 0 if none
  std::uint64_t raft_term = 0;
  std::int64_t revision = 0;
  std::uint64_t raft_index = 0;
  std::string version;  // "3.4.23"
};

// Synchronous admin query with its own io_context (blocks the calling thread up to timeout; do
// not call on an io_context thread). Unavailable on connect/HTTP errors, DeadlineExceeded on
// timeout, InvalidArgument on an unparseable reply.
[[nodiscard]] Result<EtcdStatusReply> EtcdStatus(const EtcdEndpoint& endpoint,
                                                 std::chrono::milliseconds timeout);

}  // namespace faultline::client

#endif  // FAULTLINE_CLIENT_ETCD_H_
