#include "client/internal/etcd_json.h"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <nlohmann/json.hpp>

namespace faultline::client::internal {
namespace {

using nlohmann::json;

// Reads a 64-bit field that proto3 JSON writes as a string (or, from other encoders, a number).
template <typename T>
Result<T> IntField(const json& object, const char* name, std::string_view where) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return T{0};
  std::optional<T> parsed;
  if (it->is_string()) {
    const auto& s = it->get_ref<const std::string&>();
    if constexpr (std::is_signed_v<T>) {
      parsed = ParseI64(s);
    } else {
      parsed = ParseU64(s);
    }
  } else if (it->is_number_unsigned()) {
    const auto v = it->get<std::uint64_t>();
    if (!std::is_signed_v<T> || v <= static_cast<std::uint64_t>(INT64_MAX)) {
      parsed = static_cast<T>(v);
    }
  } else if (it->is_number_integer()) {
    const auto v = it->get<std::int64_t>();
    if (std::is_signed_v<T> || v >= 0) parsed = static_cast<T>(v);
  }
  if (!parsed) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        fmt::format("etcd reply: {}.{}: not a 64-bit integer: {}", where, name, it->dump()));
  }
  return *parsed;
}

Result<std::string> BytesField(const json& object, const char* name, std::string_view where) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return std::string();
  if (!it->is_string()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("etcd reply: {}.{}: expected a base64 string", where, name));
  }
  auto decoded = Base64Decode(it->get_ref<const std::string&>());
  if (!decoded) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("etcd reply: {}.{}: invalid base64", where, name));
  }
  return std::move(*decoded);
}

Result<EtcdHeader> ParseHeader(const json& header) {
  EtcdHeader h;
  if (!header.is_object()) {
    return MakeError(ErrorCode::kInvalidArgument, "etcd reply: header: expected an object");
  }
  FAULTLINE_ASSIGN_OR_RETURN(h.cluster_id, IntField<std::uint64_t>(header, "cluster_id", "header"));
  FAULTLINE_ASSIGN_OR_RETURN(h.member_id, IntField<std::uint64_t>(header, "member_id", "header"));
  FAULTLINE_ASSIGN_OR_RETURN(h.revision, IntField<std::int64_t>(header, "revision", "header"));
  FAULTLINE_ASSIGN_OR_RETURN(h.raft_term, IntField<std::uint64_t>(header, "raft_term", "header"));
  return h;
}

Result<json> ParseObject(std::string_view body) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("etcd reply: not JSON: {:.200}", std::string(body)));
  }
  if (!j.is_object()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("etcd reply: expected a JSON object, got {:.200}", j.dump()));
  }
  return j;
}

}  // namespace

std::string PrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& c = end.back();
    if (static_cast<std::uint8_t>(c) < 0xff) {
      c = static_cast<char>(static_cast<std::uint8_t>(c) + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

std::string PutBody(std::string_view key, std::string_view value) {
  json j = {{"key", Base64Encode(key)}, {"value", Base64Encode(value)}};
  return j.dump();
}

std::string RangeBody(std::string_view key, std::string_view range_end, bool serializable) {
  json j = {{"key", Base64Encode(key)}};
  if (!range_end.empty()) j["range_end"] = Base64Encode(range_end);
  if (serializable) j["serializable"] = true;
  return j.dump();
}

std::string CasBody(std::string_view key, const std::optional<std::string>& expected,
                    std::string_view value) {
  const std::string k = Base64Encode(key);
  json compare;
  if (expected) {
    compare = {
        {"target", "VALUE"}, {"key", k}, {"result", "EQUAL"}, {"value", Base64Encode(*expected)}};
  } else {
    // Absent key: version 0 (proto3 would also accept an omitted version; explicit is clearer).
    compare = {{"target", "VERSION"}, {"key", k}, {"result", "EQUAL"}, {"version", "0"}};
  }
  json j = {
      {"compare", json::array({compare})},
      {"success", json::array({{{"requestPut", {{"key", k}, {"value", Base64Encode(value)}}}}})}};
  return j.dump();
}

std::string ModCasBody(std::string_view key, std::int64_t mod_revision, std::string_view value) {
  const std::string k = Base64Encode(key);
  json compare = {{"target", "MOD"},
                  {"key", k},
                  {"result", "EQUAL"},
                  {"mod_revision", std::to_string(mod_revision)}};
  json j = {
      {"compare", json::array({compare})},
      {"success", json::array({{{"requestPut", {{"key", k}, {"value", Base64Encode(value)}}}}})}};
  return j.dump();
}

std::string LeaseGrantBody(std::int64_t ttl_s) {
  return json{{"TTL", std::to_string(ttl_s)}}.dump();
}

std::string LeaseRevokeBody(std::int64_t lease_id) {
  return json{{"ID", std::to_string(lease_id)}}.dump();
}

std::string LockBody(std::string_view name, std::int64_t lease_id) {
  return json{{"name", Base64Encode(name)}, {"lease", std::to_string(lease_id)}}.dump();
}

std::string UnlockBody(std::string_view key) { return json{{"key", Base64Encode(key)}}.dump(); }

std::string LeaseKeepAliveBody(std::int64_t lease_id) {
  return json{{"ID", std::to_string(lease_id)}}.dump();
}

namespace {

// A range's "kvs" array (null or absent: no match).
Result<std::vector<EtcdKv>> ParseKvs(const json& j, std::string_view where) {
  std::vector<EtcdKv> kvs;
  if (j.is_null()) return kvs;
  if (!j.is_array()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("etcd reply: {}: expected an array", where));
  }
  for (const auto& kv : j) {
    if (!kv.is_object()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("etcd reply: {}: expected objects", where));
    }
    EtcdKv out;
    FAULTLINE_ASSIGN_OR_RETURN(out.key, BytesField(kv, "key", where));
    FAULTLINE_ASSIGN_OR_RETURN(out.value, BytesField(kv, "value", where));
    FAULTLINE_ASSIGN_OR_RETURN(out.mod_revision, IntField<std::int64_t>(kv, "mod_revision", where));
    FAULTLINE_ASSIGN_OR_RETURN(out.version, IntField<std::int64_t>(kv, "version", where));
    kvs.push_back(std::move(out));
  }
  return kvs;
}

}  // namespace

std::string TxnRangesBody(const std::vector<std::string>& keys, bool serializable) {
  json success = json::array();
  for (const auto& key : keys) {
    json range = {{"key", Base64Encode(key)}};
    if (serializable) range["serializable"] = true;
    success.push_back({{"requestRange", std::move(range)}});
  }
  return json{{"success", std::move(success)}}.dump();
}

std::string GuardedPutsBody(const std::vector<std::pair<std::string, std::int64_t>>& compares,
                            const std::vector<std::pair<std::string, std::string>>& puts) {
  json compare = json::array();
  for (const auto& [key, mod_revision] : compares) {
    compare.push_back({{"target", "MOD"},
                       {"key", Base64Encode(key)},
                       {"result", "EQUAL"},
                       {"mod_revision", std::to_string(mod_revision)}});
  }
  json success = json::array();
  for (const auto& [key, value] : puts) {
    success.push_back(
        {{"requestPut", {{"key", Base64Encode(key)}, {"value", Base64Encode(value)}}}});
  }
  return json{{"compare", std::move(compare)}, {"success", std::move(success)}}.dump();
}

Result<EtcdReply> ParseReply(std::string_view body) {
  FAULTLINE_ASSIGN_OR_RETURN(json j, ParseObject(body));
  // A streaming RPC's message arrives as {"result": {...}} (lease/keepalive).
  if (auto it = j.find("result"); it != j.end() && it->is_object() && !j.contains("header")) {
    json inner = *it;
    j = std::move(inner);
  }
  EtcdReply reply;
  if (auto it = j.find("error"); it != j.end()) {
    reply.error = it->is_string() ? it->get<std::string>() : it->dump();
    if (auto m = j.find("message"); m != j.end() && m->is_string() && reply.error->empty()) {
      reply.error = m->get<std::string>();
    }
    if (auto c = j.find("code"); c != j.end() && c->is_number_integer()) {
      reply.code = c->get<int>();
    }
  }
  if (auto it = j.find("header"); it != j.end()) {
    FAULTLINE_ASSIGN_OR_RETURN(reply.header, ParseHeader(*it));
    reply.has_header = true;
  }
  if (auto it = j.find("succeeded"); it != j.end()) {
    if (!it->is_boolean()) {
      return MakeError(ErrorCode::kInvalidArgument, "etcd reply: succeeded: expected a boolean");
    }
    reply.succeeded = it->get<bool>();
  }
  if (auto it = j.find("kvs"); it != j.end()) {
    FAULTLINE_ASSIGN_OR_RETURN(reply.kvs, ParseKvs(*it, "kvs"));
  }
  if (auto it = j.find("responses"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) {
      return MakeError(ErrorCode::kInvalidArgument, "etcd reply: responses: expected an array");
    }
    for (const auto& r : *it) {
      if (!r.is_object()) {
        return MakeError(ErrorCode::kInvalidArgument, "etcd reply: responses: expected objects");
      }
      auto range = r.find("response_range");
      if (range == r.end()) continue;  // a put's response says nothing the client needs
      if (!range->is_object()) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "etcd reply: responses: response_range: expected an object");
      }
      std::vector<EtcdKv> kvs;
      if (auto k = range->find("kvs"); k != range->end()) {
        FAULTLINE_ASSIGN_OR_RETURN(kvs, ParseKvs(*k, "responses: response_range: kvs"));
      }
      reply.ranges.push_back(std::move(kvs));
    }
  }
  FAULTLINE_ASSIGN_OR_RETURN(reply.count, IntField<std::int64_t>(j, "count", "reply"));
  FAULTLINE_ASSIGN_OR_RETURN(reply.lease_id, IntField<std::int64_t>(j, "ID", "reply"));
  FAULTLINE_ASSIGN_OR_RETURN(reply.ttl, IntField<std::int64_t>(j, "TTL", "reply"));
  FAULTLINE_ASSIGN_OR_RETURN(reply.lock_key, BytesField(j, "key", "reply"));
  return reply;
}

Result<EtcdMemberStatus> ParseStatus(std::string_view body) {
  FAULTLINE_ASSIGN_OR_RETURN(json j, ParseObject(body));
  if (auto it = j.find("error"); it != j.end()) {
    return MakeError(
        ErrorCode::kUnavailable,
        fmt::format("etcd status: {}", it->is_string() ? it->get<std::string>() : it->dump()));
  }
  EtcdMemberStatus s;
  if (auto it = j.find("header"); it != j.end()) {
    FAULTLINE_ASSIGN_OR_RETURN(s.header, ParseHeader(*it));
  }
  FAULTLINE_ASSIGN_OR_RETURN(s.leader, IntField<std::uint64_t>(j, "leader", "status"));
  FAULTLINE_ASSIGN_OR_RETURN(s.raft_term, IntField<std::uint64_t>(j, "raftTerm", "status"));
  FAULTLINE_ASSIGN_OR_RETURN(s.raft_index, IntField<std::uint64_t>(j, "raftIndex", "status"));
  if (auto it = j.find("version"); it != j.end() && it->is_string())
    s.version = it->get<std::string>();
  return s;
}

std::optional<std::uint64_t> ParseU64(std::string_view decimal) {
  std::uint64_t v = 0;
  const auto* end = decimal.data() + decimal.size();
  auto [ptr, ec] = std::from_chars(decimal.data(), end, v);
  if (ec != std::errc() || ptr != end || decimal.empty()) return std::nullopt;
  return v;
}

std::optional<std::int64_t> ParseI64(std::string_view decimal) {
  std::int64_t v = 0;
  const auto* end = decimal.data() + decimal.size();
  auto [ptr, ec] = std::from_chars(decimal.data(), end, v);
  if (ec != std::errc() || ptr != end || decimal.empty()) return std::nullopt;
  return v;
}

}  // namespace faultline::client::internal
