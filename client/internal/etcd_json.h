// Request bodies and reply parsing for etcd's v3 gRPC-gateway JSON API (../shared/PLATFORM.md §4),
// kept free of Asio so that they are tested without a server.
//
// Traps handled here: keys and values are base64; 64-bit integers arrive as JSON strings (numbers
// are accepted too); proto3 omits false, zero and empty fields, so no "succeeded" means false and
// no "kvs" means no match; input is camelCase (requestPut), output snake_case (response_put),
// except maintenance/status (raftTerm).
//
// Thread-safety: pure functions.
#ifndef FAULTLINE_CLIENT_INTERNAL_ETCD_JSON_H_
#define FAULTLINE_CLIENT_INTERNAL_ETCD_JSON_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/base64.h"
#include "common/result.h"

namespace faultline::client::internal {

// The smallest key greater than every key starting with prefix (etcd's "prefix end"); "\0" when
// prefix is empty or all 0xff (etcd reads that as "to the end of the keyspace").
std::string PrefixEnd(std::string_view prefix);

// Bodies (keys and values raw; encoded here).
std::string PutBody(std::string_view key, std::string_view value);
// range_end empty: the single key. serializable: answer from the local member without a quorum.
std::string RangeBody(std::string_view key, std::string_view range_end, bool serializable);
// A txn: if the key's VALUE equals *expected (or, when expected is nullopt, the key is absent:
// VERSION == 0), put value; otherwise nothing.
std::string CasBody(std::string_view key, const std::optional<std::string>& expected,
                    std::string_view value);

// A txn: if the key's mod_revision equals mod_revision (0: the key is absent), put value.
std::string ModCasBody(std::string_view key, std::int64_t mod_revision, std::string_view value);

// A txn of ranges only, one per key (no compare: it always succeeds), read at one revision: the
// reply's `ranges` holds one entry per key, in order.
std::string TxnRangesBody(const std::vector<std::string>& keys, bool serializable);
// A txn: if every key's mod_revision equals the one given (0: the key is absent), do the puts.
std::string GuardedPutsBody(const std::vector<std::pair<std::string, std::int64_t>>& compares,
                            const std::vector<std::pair<std::string, std::string>>& puts);

// /v3/lease/grant, /v3/lease/revoke, /v3/lock/lock, /v3/lock/unlock.
std::string LeaseGrantBody(std::int64_t ttl_s);
std::string LeaseRevokeBody(std::int64_t lease_id);
std::string LockBody(std::string_view name, std::int64_t lease_id);
// /v3/lease/keepalive (a streaming RPC: the gateway answers one {"result": {...}} per request).
std::string LeaseKeepAliveBody(std::int64_t lease_id);
std::string UnlockBody(std::string_view key);

struct EtcdKv {
  std::string key;    // decoded
  std::string value;  // decoded
  std::int64_t mod_revision = 0;
  std::int64_t version = 0;
};

struct EtcdHeader {
  std::uint64_t cluster_id = 0;
  std::uint64_t member_id = 0;
  std::int64_t revision = 0;
  std::uint64_t raft_term = 0;
};

// A parsed reply of /v3/kv/put, /v3/kv/range, /v3/kv/txn, the lease and lock calls. A streaming
// reply's {"result": {...}} wrapper (lease/keepalive) is unwrapped.
struct EtcdReply {
  EtcdHeader header;
  bool has_header = false;
  // Set when the gateway answered {"error": ..., "code": N} (a gRPC status).
  std::optional<std::string> error;
  int code = 0;
  bool succeeded = false;   // txn: absent means false
  std::vector<EtcdKv> kvs;  // range: absent means no match
  // txn: the kvs of each response_range in "responses", in order (puts' responses skipped).
  std::vector<std::vector<EtcdKv>> ranges;
  std::int64_t count = 0;     // range
  std::int64_t lease_id = 0;  // lease/grant, lease/keepalive: "ID"
  std::int64_t ttl = 0;       // lease/grant, lease/keepalive: "TTL"; 0 (absent): the lease is gone
  std::string lock_key;       // lock/lock: "key", decoded
};

// InvalidArgument when the body is not JSON, not an object, or a field has the wrong type.
[[nodiscard]] Result<EtcdReply> ParseReply(std::string_view body);

// /v3/maintenance/status (camelCase fields).
struct EtcdMemberStatus {
  EtcdHeader header;
  std::uint64_t leader = 0;  // member id of the leader this member knows; 0 if none
  std::uint64_t raft_term = 0;
  std::uint64_t raft_index = 0;
  std::string version;
};
[[nodiscard]] Result<EtcdMemberStatus> ParseStatus(std::string_view body);

// Parses a proto3 JSON 64-bit integer: a decimal string or a JSON number that is an integer.
std::optional<std::uint64_t> ParseU64(std::string_view decimal);
std::optional<std::int64_t> ParseI64(std::string_view decimal);

}  // namespace faultline::client::internal

#endif  // FAULTLINE_CLIENT_INTERNAL_ETCD_JSON_H_
