#include "nemesis/toxic.h"

#include <fmt/format.h>

#include <array>
#include <cassert>

namespace faultline::nemesis {
namespace {

struct TypeRow {
  ToxicType type;
  std::string_view name;
};
constexpr std::array kTypes = {
    TypeRow{ToxicType::kLatency, "latency"},
    TypeRow{ToxicType::kBandwidth, "bandwidth"},
    TypeRow{ToxicType::kSlowClose, "slow_close"},
    TypeRow{ToxicType::kTimeout, "timeout"},
    TypeRow{ToxicType::kResetPeer, "reset_peer"},
    TypeRow{ToxicType::kSlicer, "slicer"},
    TypeRow{ToxicType::kLimitData, "limit_data"},
    TypeRow{ToxicType::kHttpStatus, "http_status"},
    TypeRow{ToxicType::kHttpDelay, "http_delay"},
    TypeRow{ToxicType::kHttpDrop, "http_drop"},
    TypeRow{ToxicType::kHttpTruncate, "http_truncate"},
};

using Spec = ToxicAttributeSpec;
constexpr Spec kMethod{"method", true, 0, "", "request method, exact (empty = any)"};
constexpr Spec kPath{"path", true, 0, "", "request path glob with * and ? (empty = any)"};
constexpr Spec kHeader{"header", true, 0, "", "request header that must be present"};
constexpr Spec kHeaderValue{"header_value", true, 0, "", "its value (empty = any)"};

constexpr std::array kLatency = {Spec{"latency", false, 0, "", "ms added to each chunk"},
                                 Spec{"jitter", false, 0, "", "ms, uniform +-"}};
constexpr std::array kBandwidth = {Spec{"rate", false, 0, "", "KB/s"}};
constexpr std::array kSlowClose = {Spec{"delay", false, 0, "", "ms before a close"}};
constexpr std::array kTimeout = {Spec{"timeout", false, 0, "", "ms; 0 = stall forever"}};
constexpr std::array kResetPeer = {Spec{"timeout", false, 0, "", "ms before the reset"}};
constexpr std::array kSlicer = {Spec{"average_size", false, 0, "", "bytes per slice"},
                                Spec{"size_variation", false, 0, "", "bytes, uniform +-"},
                                Spec{"delay", false, 0, "", "µs between slices"}};
constexpr std::array kLimitData = {Spec{"bytes", false, 0, "", "bytes before the close"}};
constexpr std::array kHttpStatus = {Spec{"status", false, 503, "", "reply status"},
                                    Spec{"body", true, 0, "", "reply body"},
                                    kMethod,
                                    kPath,
                                    kHeader,
                                    kHeaderValue};
constexpr std::array kHttpDelay = {Spec{"delay", false, 0, "", "ms before forwarding"}, kMethod,
                                   kPath, kHeader, kHeaderValue};
constexpr std::array kHttpDrop = {kMethod, kPath, kHeader, kHeaderValue};
constexpr std::array kHttpTruncate = {Spec{"bytes", false, 0, "", "reply body bytes kept"}, kMethod,
                                      kPath, kHeader, kHeaderValue};

std::string SpecNames(std::span<const Spec> specs) {
  std::string out;
  for (const Spec& s : specs) {
    if (!out.empty()) out += ", ";
    out += s.name;
  }
  return out;
}

}  // namespace

std::string_view ToxicStreamName(ToxicStream stream) {
  return stream == ToxicStream::kUpstream ? "upstream" : "downstream";
}

Result<ToxicStream> ParseToxicStream(std::string_view text) {
  if (text == "upstream") return ToxicStream::kUpstream;
  if (text == "downstream") return ToxicStream::kDownstream;
  return MakeError(ErrorCode::kInvalidArgument,
                   fmt::format("stream: unknown stream '{}' (upstream or downstream)", text));
}

std::string_view ToxicTypeName(ToxicType type) {
  for (const TypeRow& row : kTypes) {
    if (row.type == type) return row.name;
  }
  assert(false);
  return "";
}

Result<ToxicType> ParseToxicType(std::string_view text) {
  for (const TypeRow& row : kTypes) {
    if (row.name == text) return row.type;
  }
  std::string names;
  for (const TypeRow& row : kTypes) {
    if (!names.empty()) names += ", ";
    names += row.name;
  }
  return MakeError(ErrorCode::kInvalidArgument,
                   fmt::format("type: unknown toxic type '{}' ({})", text, names));
}

bool IsHttpToxic(ToxicType type) {
  return type == ToxicType::kHttpStatus || type == ToxicType::kHttpDelay ||
         type == ToxicType::kHttpDrop || type == ToxicType::kHttpTruncate;
}

std::span<const ToxicAttributeSpec> ToxicAttributeSpecs(ToxicType type) {
  switch (type) {
    case ToxicType::kLatency:
      return kLatency;
    case ToxicType::kBandwidth:
      return kBandwidth;
    case ToxicType::kSlowClose:
      return kSlowClose;
    case ToxicType::kTimeout:
      return kTimeout;
    case ToxicType::kResetPeer:
      return kResetPeer;
    case ToxicType::kSlicer:
      return kSlicer;
    case ToxicType::kLimitData:
      return kLimitData;
    case ToxicType::kHttpStatus:
      return kHttpStatus;
    case ToxicType::kHttpDelay:
      return kHttpDelay;
    case ToxicType::kHttpDrop:
      return kHttpDrop;
    case ToxicType::kHttpTruncate:
      return kHttpTruncate;
  }
  return {};
}

Result<Toxic> NormalizeToxic(Toxic toxic) {
  const std::string_view type_name = ToxicTypeName(toxic.type);
  if (toxic.name.empty()) {
    toxic.name = fmt::format("{}_{}", type_name, ToxicStreamName(toxic.stream));
  }
  const std::string where = fmt::format("toxic {}", toxic.name);
  if (!(toxic.toxicity >= 0.0 && toxic.toxicity <= 1.0)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("{}: toxicity: {} is not in 0-1", where, toxic.toxicity));
  }
  const auto specs = ToxicAttributeSpecs(toxic.type);
  for (const auto& [key, value] : toxic.attributes) {
    const Spec* spec = nullptr;
    for (const Spec& s : specs) {
      if (s.name == key) spec = &s;
    }
    if (spec == nullptr) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("{}: attributes.{}: unknown attribute of {} ({})", where, key,
                                   type_name, SpecNames(specs)));
    }
    if (spec->is_string != std::holds_alternative<std::string>(value)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("{}: attributes.{}: must be a {}", where, key,
                                   spec->is_string ? "string" : "number"));
    }
    if (!spec->is_string && std::get<std::int64_t>(value) < 0) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("{}: attributes.{}: must not be negative", where, key));
    }
  }
  for (const Spec& s : specs) {
    if (toxic.attributes.find(s.name) == toxic.attributes.end()) {
      toxic.attributes.emplace(std::string(s.name), s.is_string
                                                        ? ToxicValue(std::string(s.default_string))
                                                        : ToxicValue(s.default_number));
    }
  }
  if (toxic.type == ToxicType::kHttpStatus) {
    const std::int64_t status = NumberAttribute(toxic, "status");
    if (status < 100 || status > 599) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("{}: attributes.status: {} is not in 100-599", where, status));
    }
  }
  return toxic;
}

std::int64_t NumberAttribute(const Toxic& toxic, std::string_view name) {
  auto it = toxic.attributes.find(name);
  assert(it != toxic.attributes.end());
  return std::get<std::int64_t>(it->second);
}

const std::string& StringAttribute(const Toxic& toxic, std::string_view name) {
  auto it = toxic.attributes.find(name);
  assert(it != toxic.attributes.end());
  return std::get<std::string>(it->second);
}

}  // namespace faultline::nemesis
