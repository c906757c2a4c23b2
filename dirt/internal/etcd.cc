#include "dirt/internal/etcd.h"

#include <fmt/format.h>

#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

namespace faultline::dirt::internal {
namespace {

using json = nlohmann::json;

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

Result<json> Call(HttpConnection& c, std::string_view path, const json& body,
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

std::string Base64(std::string_view in) {
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                 (static_cast<unsigned char>(in[i + 1]) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    unsigned v =
        (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::string Unbase64(std::string_view in) {
  std::string out;
  unsigned acc = 0;
  int bits = 0;
  for (char ch : in) {
    const char* p = std::strchr(kAlphabet, ch);
    if (ch == '=' || ch == '\0' || p == nullptr) continue;
    acc = (acc << 6) | static_cast<unsigned>(p - kAlphabet);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

Result<bool> EtcdHealth(HttpConnection& c, std::chrono::milliseconds timeout) {
  auto r = c.Request("GET", "/health", "", timeout);
  if (!r) return r.error();
  try {
    json j = json::parse(r->body);
    return j.value("health", std::string()) == "true";
  } catch (const json::exception&) {
    return false;
  }
}

Result<std::int64_t> EtcdPut(HttpConnection& c, std::string_view key, std::string_view value,
                             std::chrono::milliseconds timeout) {
  FAULTLINE_ASSIGN_OR_RETURN(
      json j, Call(c, "/v3/kv/put", {{"key", Base64(key)}, {"value", Base64(value)}}, timeout));
  return static_cast<std::int64_t>(U64(j.value("header", json::object()), "revision"));
}

Result<std::string> EtcdGet(HttpConnection& c, std::string_view key,
                            std::chrono::milliseconds timeout) {
  FAULTLINE_ASSIGN_OR_RETURN(json j, Call(c, "/v3/kv/range", {{"key", Base64(key)}}, timeout));
  if (!j.contains("kvs") || j["kvs"].empty()) {
    return Error(ErrorCode::kNotFound, fmt::format("etcd: range {}: no such key", key));
  }
  return Unbase64(j["kvs"][0].value("value", std::string()));
}

Result<EtcdStatus> EtcdMaintenanceStatus(HttpConnection& c, std::chrono::milliseconds timeout) {
  FAULTLINE_ASSIGN_OR_RETURN(json j, Call(c, "/v3/maintenance/status", json::object(), timeout));
  EtcdStatus s;
  json h = j.value("header", json::object());
  s.member_id = U64(h, "member_id");
  s.revision = static_cast<std::int64_t>(U64(h, "revision"));
  s.leader = U64(j, "leader");
  s.raft_term = U64(j, "raftTerm");
  return s;
}

Result<EtcdHash> EtcdHashKv(HttpConnection& c, std::int64_t revision,
                            std::chrono::milliseconds timeout) {
  // The 3.4 gateway maps HashKV and Hash to the same path (/v3/maintenance/hash) and serves Hash,
  // which ignores the revision; so HashKV goes through etcdctl's gRPC client.
  std::string cmd = fmt::format(
      "ETCDCTL_API=3 etcdctl --endpoints={} --dial-timeout={}ms --command-timeout={}ms "
      "endpoint hashkv --rev={} -w json 2>&1",
      c.base_url(), timeout.count(), timeout.count(), revision);
  FILE* f = ::popen(cmd.c_str(), "re");
  if (f == nullptr) {
    return Error(ErrorCode::kInternal,
                 fmt::format("etcd: hashkv: popen: {}", std::strerror(errno)));
  }
  std::string out;
  char buf[4096];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  int rc = ::pclose(f);
  if (rc != 0) {
    return Error(ErrorCode::kUnavailable,
                 fmt::format("etcd: hashkv on {}: etcdctl failed: {}", c.base_url(), out));
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

Result<std::vector<EtcdMember>> EtcdMemberList(HttpConnection& c,
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

Status EtcdMemberRemove(HttpConnection& c, std::uint64_t id, std::chrono::milliseconds timeout) {
  auto j = Call(c, "/v3/cluster/member/remove", {{"ID", std::to_string(id)}}, timeout);
  if (!j) return j.error();
  return OkStatus();
}

Result<std::uint64_t> EtcdMemberAdd(HttpConnection& c, const std::string& peer_url,
                                    std::chrono::milliseconds timeout) {
  FAULTLINE_ASSIGN_OR_RETURN(
      json j, Call(c, "/v3/cluster/member/add", {{"peerURLs", json::array({peer_url})}}, timeout));
  return U64(j.value("member", json::object()), "ID");
}

}  // namespace faultline::dirt::internal
