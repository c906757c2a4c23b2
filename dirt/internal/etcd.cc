#include "dirt/internal/etcd.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "common/base64.h"
#include "common/process.h"

namespace faultline::dirt::internal {
namespace {

using json = nlohmann::json;

Result<json> Call(cluster::HttpClient& c, std::string_view path, const json& body,
                  std::chrono::milliseconds timeout) {
  auto r = c.Request("POST", path, body.dump(), timeout);
  if (!r) return r.error();
  json j;
  try {
    j = json::parse(r->body);
  } catch (const json::exception& e) {
    return Error(ErrorCode::kUnavailable, fmt::format("etcd: {}{}: status {}: unparsable body ({})",
                                                      c.base_url(), path, r->status, e.what()));
  }
  if (r->status != 200 || j.contains("error")) {
    std::string msg = j.value("message", j.value("error", std::string("no message")));
    return Error(ErrorCode::kUnavailable,
                 fmt::format("etcd: {}{}: status {}: {}", c.base_url(), path, r->status, msg));
  }
  return j;
}

std::uint64_t U64(const json& j, const char* key) {
  if (!j.contains(key)) return 0;
  const json& v = j[key];
  if (v.is_string()) return std::stoull(v.get<std::string>());
  if (v.is_number()) return v.get<std::uint64_t>();
  return 0;
}

}  // namespace

Result<bool> EtcdHealth(cluster::HttpClient& c, std::chrono::milliseconds timeout) {
  auto r = c.Request("GET", "/health", "", timeout);
  if (!r) return r.error();
  try {
    json j = json::parse(r->body);
    return j.value("health", std::string()) == "true";
  } catch (const json::exception&) {
    return false;
  }
}

Result<std::int64_t> EtcdPut(cluster::HttpClient& c, std::string_view key, std::string_view value,
                             std::chrono::milliseconds timeout) {
  FAULTLINE_ASSIGN_OR_RETURN(
      json j,
      Call(c, "/v3/kv/put", {{"key", Base64Encode(key)}, {"value", Base64Encode(value)}}, timeout));
  return static_cast<std::int64_t>(U64(j.value("header", json::object()), "revision"));
}

Result<std::string> EtcdGet(cluster::HttpClient& c, std::string_view key,
                            std::chrono::milliseconds timeout) {
  FAULTLINE_ASSIGN_OR_RETURN(json j,
                             Call(c, "/v3/kv/range", {{"key", Base64Encode(key)}}, timeout));
  if (!j.contains("kvs") || j["kvs"].empty()) {
    return Error(ErrorCode::kNotFound, fmt::format("etcd: range {}: no such key", key));
  }
  auto value = Base64Decode(j["kvs"][0].value("value", std::string()));
  if (!value) {
    return Error(ErrorCode::kUnavailable, fmt::format("etcd: range {}: value is not base64", key));
  }
  return std::move(*value);
}

Result<EtcdStatus> EtcdMaintenanceStatus(cluster::HttpClient& c,
                                         std::chrono::milliseconds timeout) {
  FAULTLINE_ASSIGN_OR_RETURN(json j, Call(c, "/v3/maintenance/status", json::object(), timeout));
  EtcdStatus s;
  json h = j.value("header", json::object());
  s.member_id = U64(h, "member_id");
  s.revision = static_cast<std::int64_t>(U64(h, "revision"));
  s.leader = U64(j, "leader");
  s.raft_term = U64(j, "raftTerm");
  return s;
}

Result<EtcdHash> EtcdHashKv(cluster::HttpClient& c, std::int64_t revision,
                            std::chrono::milliseconds timeout) {
  // The 3.4 gateway maps HashKV and Hash to the same path (/v3/maintenance/hash) and serves Hash,
  // which ignores the revision; so HashKV goes through etcdctl's gRPC client.
  auto run = RunProcess({"env", "ETCDCTL_API=3", "etcdctl", "--endpoints=" + c.base_url(),
                         fmt::format("--dial-timeout={}ms", timeout.count()),
                         fmt::format("--command-timeout={}ms", timeout.count()), "endpoint",
                         "hashkv", fmt::format("--rev={}", revision), "-w", "json"},
                        // etcdctl's own timeouts bound it; this one catches a hung etcdctl.
                        {.timeout = timeout + std::chrono::seconds(5)});
  if (!run) return run.error().WithContext("etcd: hashkv");
  const std::string& out = run->out;
  if (run->exit_code != 0) {
    return Error(ErrorCode::kUnavailable, fmt::format("etcd: hashkv on {}: etcdctl failed: {}{}",
                                                      c.base_url(), run->err, run->out));
  }
  try {
    json j = json::parse(out);
    const json& h = j.at(0).at("HashKV");
    EtcdHash r;
    r.hash = h.at("hash").get<std::uint32_t>();
    r.revision = revision;
    return r;
  } catch (const json::exception& e) {
    return Error(ErrorCode::kInternal, fmt::format("etcd: hashkv on {}: unexpected output {} ({})",
                                                   c.base_url(), out, e.what()));
  }
}

Result<std::vector<EtcdMember>> EtcdMemberList(cluster::HttpClient& c,
                                               std::chrono::milliseconds timeout) {
  FAULTLINE_ASSIGN_OR_RETURN(json j, Call(c, "/v3/cluster/member/list", json::object(), timeout));
  std::vector<EtcdMember> out;
  for (const json& m : j.value("members", json::array())) {
    EtcdMember e;
    e.id = U64(m, "ID");
    e.name = m.value("name", std::string());
    e.peer_urls = m.value("peerURLs", std::vector<std::string>{});
    e.client_urls = m.value("clientURLs", std::vector<std::string>{});
    out.push_back(std::move(e));
  }
  return out;
}

Status EtcdMemberRemove(cluster::HttpClient& c, std::uint64_t id,
                        std::chrono::milliseconds timeout) {
  auto j = Call(c, "/v3/cluster/member/remove", {{"ID", std::to_string(id)}}, timeout);
  if (!j) return j.error();
  return OkStatus();
}

Result<std::uint64_t> EtcdMemberAdd(cluster::HttpClient& c, const std::string& peer_url,
                                    std::chrono::milliseconds timeout) {
  FAULTLINE_ASSIGN_OR_RETURN(
      json j, Call(c, "/v3/cluster/member/add", {{"peerURLs", json::array({peer_url})}}, timeout));
  return U64(j.value("member", json::object()), "ID");
}

}  // namespace faultline::dirt::internal
