// The Redis client (issue 14 §2): the register and set workloads on a Redis primary found through
// Redis Sentinel, over RESP (client/internal/resp.h) on Boost.Asio.
//
// Finding the primary, as real Sentinel clients do: ask the Sentinels in turn (starting at the
// worker's own node) for SENTINEL get-master-addr-by-name, connect to the address named, and
// confirm with ROLE that it is a primary ("master"); a replica's answer means "ask the next
// Sentinel". The client keeps the primary until an error (connection lost, timeout, -READONLY,
// ...), then finds it again before its next op. A Sentinel cut off with a stale view can name a
// primary that was replaced; that primary still says "master", so the client writes to it, as an
// application would.
//
// Ops: register read = GET, write = SET, cas = one Lua script (GET, compare, SET: atomic on the
// primary); set add = SADD, read = SMEMBERS. append and rw-register (issue 16 §2): f "txn", value
// [[:append k v] [:r k nil] ...] or [[:w k v] [:r k nil] ...] (history/txn.h), one MULTI/EXEC
// transaction on the primary, sent in one write: append k v = RPUSH <prefix>t/k v, read = LRANGE
// <prefix>t/k 0 -1; w k v = SET <prefix>t/k v, read = GET <prefix>t/k. ok value: the micro-ops
// with the reads filled in from EXEC's reply ([:r k [1 2]], [:r k 3], [:r k nil]). With
// wait_replicas > 0 every write (and every transaction that writes) is followed by WAIT
// wait_replicas wait_timeout, and a write fewer replicas acknowledged in time ends info.
//
// Classification (client/client.h): fail only when the op certainly did not take effect: no
// primary found or the connection refused before anything was sent, -READONLY, -NOREPLICAS,
// -MASTERDOWN, -LOADING, -BUSY, -OOM, -EXECABORT, -WRONGTYPE (refused before running), a cas
// whose compare failed. info when unknown: a timeout or a connection lost after sending, an error
// reply we do not know, too few replicas in WAIT. Every read error is fail (a read changes
// nothing). A transaction: fail when nothing was sent, EXEC answered an error (-EXECABORT after a
// command refused while queuing, such as -READONLY on a replica; nothing ran) or nil; info when
// EXEC's reply was lost (timeout, connection closed), when a command inside EXEC's reply is an
// error (Redis does not roll back the others) or a read is not integers; a transaction of reads
// only is fail instead of info.
//
// Thread-safety: as client/client.h. RedisQuery is a blocking call usable from any thread.
#ifndef FAULTLINE_CLIENT_REDIS_H_
#define FAULTLINE_CLIENT_REDIS_H_

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "client/client.h"
#include "common/result.h"
#include "history/op.h"

namespace faultline::client {

inline constexpr int kRedisPort = 6379;
inline constexpr int kSentinelPort = 26379;
inline constexpr std::string_view kRedisMasterName = "faultline";

struct RedisEndpoint {
  std::string node;     // "n1"
  std::string address;  // "198.18.0.1"
  int port = kRedisPort;
  int sentinel_port = kSentinelPort;
};

struct RedisClientOptions {
  std::vector<RedisEndpoint> endpoints;  // at least one
  std::string master_name = std::string(kRedisMasterName);
  std::string workload = "register";        // "register", "set", "append" or "rw-register"
  std::chrono::milliseconds timeout{1000};  // per op, finding the primary included
  int wait_replicas = 0;                    // WAIT after each write; 0: no WAIT
  std::chrono::milliseconds wait_timeout{500};
  std::string key_prefix = "faultline/";
};

// How an error reply ("READONLY You can't write against a read only replica.") completes an op;
// `mutating`: a write, cas or add. Script errors name the inner error somewhere in their text.
history::OpType ClassifyRedisError(std::string_view error_reply, bool mutating);

// The Lua script of a cas: KEYS[1] the register, ARGV[1] the expected value ("" for none: the
// key must not exist), ARGV[2] the new value; returns 1 when it set, 0 when the compare failed.
std::string_view RedisCasScript();

[[nodiscard]] Result<std::unique_ptr<ClientFactory>> MakeRedisClientFactory(
    RedisClientOptions options);

// One command on a fresh connection, for probes (readiness, Sentinel's view): the reply flattened
// to strings (an integer as its digits, nil as nothing, arrays depth first). An error reply, a
// timeout or a connection problem is an error naming host:port. Blocks for at most `timeout`.
[[nodiscard]] Result<std::vector<std::string>> RedisQuery(const std::string& host, int port,
                                                          const std::vector<std::string>& args,
                                                          std::chrono::milliseconds timeout);

}  // namespace faultline::client

#endif  // FAULTLINE_CLIENT_REDIS_H_
