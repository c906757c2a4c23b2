// The few etcd v3 gRPC-gateway calls a drill needs (health, put, range, status, hashkv, member
// list/add/remove), over cluster/http.h. Keys and values are base64 on the wire; 64-bit
// integers arrive as strings (PLATFORM §4). Not part of the public API.
//
// Thread-safety: functions use the connection they are given; one connection per thread.
#ifndef FAULTLINE_DIRT_INTERNAL_ETCD_H_
#define FAULTLINE_DIRT_INTERNAL_ETCD_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/http.h"
#include "common/result.h"

namespace faultline::dirt::internal {

// GET /health: true when {"health":"true"}.
[[nodiscard]] Result<bool> EtcdHealth(cluster::HttpClient& c, std::chrono::milliseconds timeout);
// Returns the revision of the put.
[[nodiscard]] Result<std::int64_t> EtcdPut(cluster::HttpClient& c, std::string_view key,
                                           std::string_view value,
                                           std::chrono::milliseconds timeout);
// Linearizable range of one key; NotFound when absent.
[[nodiscard]] Result<std::string> EtcdGet(cluster::HttpClient& c, std::string_view key,
                                          std::chrono::milliseconds timeout);

struct EtcdStatus {
  std::uint64_t member_id = 0;
  std::uint64_t leader = 0;
  std::uint64_t raft_term = 0;
  std::int64_t revision = 0;
};
[[nodiscard]] Result<EtcdStatus> EtcdMaintenanceStatus(cluster::HttpClient& c,
                                                       std::chrono::milliseconds timeout);

struct EtcdHash {
  std::uint32_t hash = 0;
  std::int64_t revision = 0;  // the revision it was computed at
};
// HashKV at `revision` (0 = current), through etcdctl (the 3.4 gateway serves Hash instead).
[[nodiscard]] Result<EtcdHash> EtcdHashKv(cluster::HttpClient& c, std::int64_t revision,
                                          std::chrono::milliseconds timeout);

struct EtcdMember {
  std::uint64_t id = 0;
  std::string name;
  std::vector<std::string> peer_urls;
  std::vector<std::string> client_urls;
};
[[nodiscard]] Result<std::vector<EtcdMember>> EtcdMemberList(cluster::HttpClient& c,
                                                             std::chrono::milliseconds timeout);
[[nodiscard]] Status EtcdMemberRemove(cluster::HttpClient& c, std::uint64_t id,
                                      std::chrono::milliseconds timeout);
// Returns the new member's id.
[[nodiscard]] Result<std::uint64_t> EtcdMemberAdd(cluster::HttpClient& c,
                                                  const std::string& peer_url,
                                                  std::chrono::milliseconds timeout);

}  // namespace faultline::dirt::internal

#endif  // FAULTLINE_DIRT_INTERNAL_ETCD_H_
