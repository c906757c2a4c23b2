#include "nemesis/fault.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <functional>
#include <nlohmann/json.hpp>

namespace faultline::nemesis {
namespace {

using Json = nlohmann::json;

Error Invalid(std::string message) {
  return Error(ErrorCode::kInvalidArgument, std::move(message));
}

std::vector<std::string> SplitCommas(std::string_view s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string_view::npos) comma = s.size();
    if (comma > start) out.emplace_back(s.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

std::string JoinCommas(const std::vector<std::string>& v) {
  return fmt::format("{}", fmt::join(v, ","));
}

Result<std::int64_t> ToInt(std::string_view flag, std::string_view s) {
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) {
    return Invalid(fmt::format("{} {}: not an integer", flag, s));
  }
  return v;
}

Result<double> ToDouble(std::string_view flag, std::string_view s) {
  // std::from_chars for double is not in GCC 12's libstdc++ for every target; strtod is exact.
  const std::string copy(s);
  char* end = nullptr;
  const double v = std::strtod(copy.c_str(), &end);
  if (copy.empty() || end != copy.c_str() + copy.size()) {
    return Invalid(fmt::format("{} {}: not a number", flag, s));
  }
  return v;
}

// How a parameter is written in JSON (the spec string writes every value as text).
enum class JsonType { kString, kInt, kDouble, kBool, kList };

// One parameter: its flag in the spec string, its key in JSON, the kParam* bits of the kinds
// that take it, how to set it from text and how to print it (nullopt: at its default, not
// printed).
struct Param {
  std::string_view flag;
  std::string_view key;
  unsigned bits;
  JsonType type;
  std::function<Status(FaultSpec&, std::string_view value)> set;
  std::function<std::optional<std::string>(const FaultSpec&)> get;
};

std::optional<std::string> IfSet(bool set, std::string value) {
  if (!set) return std::nullopt;
  return value;
}

// A string field of ProxyParams: set as given, printed when not empty. The spec string splits on
// spaces, so a value with one cannot be written there (ValidateFaultSpec says so).
std::function<Status(FaultSpec&, std::string_view)> StringSetter(std::string ProxyParams::*field) {
  return [field](FaultSpec& s, std::string_view v) -> Status {
    s.proxy.*field = std::string(v);
    return OkStatus();
  };
}
std::function<std::optional<std::string>(const FaultSpec&)> StringGetter(
    std::string ProxyParams::*field) {
  return [field](const FaultSpec& s) { return IfSet(!(s.proxy.*field).empty(), s.proxy.*field); };
}

const std::vector<Param>& Params() {
  static const std::vector<Param> kParams = {
      {"--nodes", "targets", kParamTargets, JsonType::kString,
       [](FaultSpec& s, std::string_view v) -> Status {
         s.targets = std::string(v);
         return OkStatus();
       },
       [](const FaultSpec& s) { return IfSet(!s.targets.empty(), s.targets); }},
      {"--grudge", "grudge", kParamGrudge, JsonType::kString,
       [](FaultSpec& s, std::string_view v) -> Status {
         FAULTLINE_ASSIGN_OR_RETURN(s.grudge, ParseGrudgeSpec(v));
         return OkStatus();
       },
       [](const FaultSpec& s) -> std::optional<std::string> {
         // Always printed: "partition" alone would hide which grudge it is.
         return GrudgeSpecString(s.grudge);
       }},
      {"--mode", "mode", kParamPartitionMode | kParamCorrupt, JsonType::kString,
       [](FaultSpec& s, std::string_view v) -> Status {
         if (KindInfo(s.kind).params & kParamCorrupt) {
           FAULTLINE_ASSIGN_OR_RETURN(s.corrupt.mode, ParseCorruptMode(v));
         } else {
           FAULTLINE_ASSIGN_OR_RETURN(s.partition_mode, ParsePartitionMode(v));
         }
         return OkStatus();
       },
       [](const FaultSpec& s) -> std::optional<std::string> {
         if (KindInfo(s.kind).params & kParamCorrupt) {
           return IfSet(s.corrupt.mode != CorruptParams{}.mode,
                        std::string(CorruptModeName(s.corrupt.mode)));
         }
         return IfSet(s.partition_mode != FaultSpec{}.partition_mode,
                      std::string(PartitionModeName(s.partition_mode)));
       }},
      {"--peers", "peers", kParamPeers, JsonType::kList,
       [](FaultSpec& s, std::string_view v) -> Status {
         s.peers = SplitCommas(v);
         return OkStatus();
       },
       [](const FaultSpec& s) { return IfSet(!s.peers.empty(), JoinCommas(s.peers)); }},
      {"--include-control", "include_control", kParamPeers, JsonType::kBool,
       [](FaultSpec& s, std::string_view v) -> Status {
         if (v != "true" && v != "false") {
           return Invalid(fmt::format("--include-control {}: expected true or false", v));
         }
         s.include_control = v == "true";
         return OkStatus();
       },
       [](const FaultSpec& s) { return IfSet(s.include_control, "true"); }},
      {"--probability", "probability", kParamProbability, JsonType::kDouble,
       [](FaultSpec& s, std::string_view v) -> Status {
         FAULTLINE_ASSIGN_OR_RETURN(s.probability, ToDouble("--probability", v));
         return OkStatus();
       },
       [](const FaultSpec& s) {
         return IfSet(s.probability != FaultSpec{}.probability, fmt::format("{}", s.probability));
       }},
      {"--ms", "delay_ms", kParamDelay, JsonType::kInt,
       [](FaultSpec& s, std::string_view v) -> Status {
         FAULTLINE_ASSIGN_OR_RETURN(std::int64_t ms, ToInt("--ms", v));
         s.delay = std::chrono::milliseconds(ms);
         return OkStatus();
       },
       [](const FaultSpec& s) {
         return IfSet(s.delay.count() != 0, std::to_string(s.delay.count()));
       }},
      {"--jitter-ms", "jitter_ms", kParamDelay, JsonType::kInt,
       [](FaultSpec& s, std::string_view v) -> Status {
         FAULTLINE_ASSIGN_OR_RETURN(std::int64_t ms, ToInt("--jitter-ms", v));
         s.jitter = std::chrono::milliseconds(ms);
         return OkStatus();
       },
       [](const FaultSpec& s) {
         return IfSet(s.jitter.count() != 0, std::to_string(s.jitter.count()));
       }},
      {"--kbit", "kbit", kParamKbit, JsonType::kInt,
       [](FaultSpec& s, std::string_view v) -> Status {
         FAULTLINE_ASSIGN_OR_RETURN(s.kbit, ToInt("--kbit", v));
         return OkStatus();
       },
       [](const FaultSpec& s) { return IfSet(s.kbit != 0, std::to_string(s.kbit)); }},
      {"--files", "files", kParamCorrupt, JsonType::kList,
       [](FaultSpec& s, std::string_view v) -> Status {
         s.corrupt.files = SplitCommas(v);
         return OkStatus();
       },
       [](const FaultSpec& s) {
         return IfSet(!s.corrupt.files.empty(), JoinCommas(s.corrupt.files));
       }},
      {"--count", "count", kParamCorrupt, JsonType::kInt,
       [](FaultSpec& s, std::string_view v) -> Status {
         FAULTLINE_ASSIGN_OR_RETURN(s.corrupt.count, ToInt("--count", v));
         return OkStatus();
       },
       [](const FaultSpec& s) {
         return IfSet(s.corrupt.count != 0, std::to_string(s.corrupt.count));
       }},
      {"--offset", "offset", kParamCorrupt, JsonType::kInt,
       [](FaultSpec& s, std::string_view v) -> Status {
         FAULTLINE_ASSIGN_OR_RETURN(s.corrupt.offset, ToInt("--offset", v));
         return OkStatus();
       },
       [](const FaultSpec& s) {
         return IfSet(s.corrupt.offset != 0, std::to_string(s.corrupt.offset));
       }},
      {"--cpu-percent", "cpu_percent", kParamSiege, JsonType::kDouble,
       [](FaultSpec& s, std::string_view v) -> Status {
         FAULTLINE_ASSIGN_OR_RETURN(s.siege.cpu_percent, ToDouble("--cpu-percent", v));
         return OkStatus();
       },
       [](const FaultSpec& s) -> std::optional<std::string> {
         if (!s.siege.cpu_percent) return std::nullopt;
         return fmt::format("{}", *s.siege.cpu_percent);
       }},
      {"--memory-mb", "memory_mb", kParamSiege, JsonType::kInt,
       [](FaultSpec& s, std::string_view v) -> Status {
         FAULTLINE_ASSIGN_OR_RETURN(s.siege.memory_mb, ToInt("--memory-mb", v));
         return OkStatus();
       },
       [](const FaultSpec& s) -> std::optional<std::string> {
         if (!s.siege.memory_mb) return std::nullopt;
         return std::to_string(*s.siege.memory_mb);
       }},
      {"--disk-ops", "disk_ops", kParamSiege, JsonType::kDouble,
       [](FaultSpec& s, std::string_view v) -> Status {
         FAULTLINE_ASSIGN_OR_RETURN(s.siege.disk_ops, ToDouble("--disk-ops", v));
         return OkStatus();
       },
       [](const FaultSpec& s) -> std::optional<std::string> {
         if (!s.siege.disk_ops) return std::nullopt;
         return fmt::format("{}", *s.siege.disk_ops);
       }},
      {"--share", "share", kParamShare, JsonType::kDouble,
       [](FaultSpec& s, std::string_view v) -> Status {
         FAULTLINE_ASSIGN_OR_RETURN(s.proxy.share, ToDouble("--share", v));
         return OkStatus();
       },
       [](const FaultSpec& s) {
         return IfSet(s.proxy.share != ProxyParams{}.share, fmt::format("{}", s.proxy.share));
       }},
      {"--status", "status", kParamStatus, JsonType::kInt,
       [](FaultSpec& s, std::string_view v) -> Status {
         FAULTLINE_ASSIGN_OR_RETURN(std::int64_t status, ToInt("--status", v));
         if (status < 100 || status > 599) {
           return Invalid(fmt::format("--status {}: not in 100..599", v));
         }
         s.proxy.status = static_cast<int>(status);
         return OkStatus();
       },
       [](const FaultSpec& s) {
         return IfSet(s.proxy.status != ProxyParams{}.status, std::to_string(s.proxy.status));
       }},
      {"--body", "body", kParamStatus, JsonType::kString, StringSetter(&ProxyParams::body),
       StringGetter(&ProxyParams::body)},
      {"--bytes", "bytes", kParamBytes, JsonType::kInt,
       [](FaultSpec& s, std::string_view v) -> Status {
         FAULTLINE_ASSIGN_OR_RETURN(s.proxy.bytes, ToInt("--bytes", v));
         return OkStatus();
       },
       [](const FaultSpec& s) { return IfSet(s.proxy.bytes != 0, std::to_string(s.proxy.bytes)); }},
      {"--method", "method", kParamHttpScope, JsonType::kString, StringSetter(&ProxyParams::method),
       StringGetter(&ProxyParams::method)},
      {"--path", "path", kParamHttpScope, JsonType::kString, StringSetter(&ProxyParams::path),
       StringGetter(&ProxyParams::path)},
      {"--header", "header", kParamHttpScope, JsonType::kString, StringSetter(&ProxyParams::header),
       StringGetter(&ProxyParams::header)},
      {"--header-value", "header_value", kParamHttpScope, JsonType::kString,
       StringSetter(&ProxyParams::header_value), StringGetter(&ProxyParams::header_value)},
      {"--offset-ms", "offset_ms", kParamClockOffset, JsonType::kInt,
       [](FaultSpec& s, std::string_view v) -> Status {
         FAULTLINE_ASSIGN_OR_RETURN(std::int64_t ms, ToInt("--offset-ms", v));
         s.clock_offset = std::chrono::milliseconds(ms);
         return OkStatus();
       },
       [](const FaultSpec& s) {
         return IfSet(s.clock_offset.count() != 0, std::to_string(s.clock_offset.count()));
       }},
      {"--period-ms", "period_ms", kParamClockPeriod, JsonType::kInt,
       [](FaultSpec& s, std::string_view v) -> Status {
         FAULTLINE_ASSIGN_OR_RETURN(std::int64_t ms, ToInt("--period-ms", v));
         s.clock_period = std::chrono::milliseconds(ms);
         return OkStatus();
       },
       [](const FaultSpec& s) {
         return IfSet(s.clock_period.count() != 0, std::to_string(s.clock_period.count()));
       }},
      {"--for-ms", "duration_ms", kParamDuration, JsonType::kInt,
       [](FaultSpec& s, std::string_view v) -> Status {
         FAULTLINE_ASSIGN_OR_RETURN(std::int64_t ms, ToInt("--for-ms", v));
         s.duration = std::chrono::milliseconds(ms);
         return OkStatus();
       },
       [](const FaultSpec& s) {
         return IfSet(s.duration.count() != 0, std::to_string(s.duration.count()));
       }},
      {"--seed", "seed", ~0u, JsonType::kInt,
       [](FaultSpec& s, std::string_view v) -> Status {
         std::uint64_t seed = 0;
         auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), seed);
         if (ec != std::errc() || end != v.data() + v.size()) {
           return Invalid(fmt::format("--seed {}: not an unsigned integer", v));
         }
         s.seed = seed;
         return OkStatus();
       },
       [](const FaultSpec& s) { return IfSet(s.seed != 0, std::to_string(s.seed)); }},
  };
  return kParams;
}

bool Takes(FaultKind kind, const Param& p) {
  // --seed applies to every kind but heal.
  if (p.bits == ~0u) return kind != FaultKind::kHeal;
  return (KindInfo(kind).params & p.bits) != 0;
}

const Param* FindParam(std::string_view name, bool json) {
  for (const Param& p : Params()) {
    if ((json ? p.key : p.flag) == name) return &p;
  }
  return nullptr;
}

Error NotTaken(FaultKind kind, std::string_view name) {
  return Invalid(fmt::format("fault {}: {} does not apply to a {} fault", FaultKindName(kind), name,
                             FaultKindName(kind)));
}

std::vector<std::string_view> Names(std::span<const FaultKind> kinds) {
  std::vector<std::string_view> names;
  for (FaultKind k : kinds) names.push_back(FaultKindName(k));
  return names;
}

std::vector<FaultKind> AllKinds() {
  std::vector<FaultKind> all;
  for (const FaultKindInfo& k : kFaultKinds) all.push_back(k.kind);
  return all;
}

}  // namespace

std::optional<ProcessAction> ProcessActionOf(FaultKind kind) {
  for (ProcessAction a : {ProcessAction::kKill, ProcessAction::kPause, ProcessAction::kResume,
                          ProcessAction::kStart, ProcessAction::kRestart}) {
    if (ProcessFaultKind(a) == kind) return a;
  }
  return std::nullopt;
}

std::string FaultKindList(std::span<const FaultKind> kinds) {
  std::string out;
  for (size_t i = 0; i < kinds.size(); ++i) {
    if (i > 0) out += i + 1 == kinds.size() ? " or " : ", ";
    out += FaultKindName(kinds[i]);
  }
  return out;
}

Result<FaultKind> ParseFaultKind(std::string_view name, std::span<const FaultKind> allowed) {
  for (FaultKind k : allowed) {
    if (FaultKindName(k) == name) return k;
  }
  return Invalid(fmt::format("unknown fault '{}' (expected {})", name, FaultKindList(allowed)));
}

Result<FaultKind> ParseFaultKind(std::string_view name) {
  static const std::vector<FaultKind> kAll = AllKinds();
  return ParseFaultKind(name, kAll);
}

Result<std::vector<FaultKind>> ParseFaultKindList(std::string_view list,
                                                  std::span<const FaultKind> allowed) {
  std::vector<FaultKind> kinds;
  if (list.empty() || list == "none") return kinds;
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string_view::npos) comma = list.size();
    const std::string_view name = list.substr(start, comma - start);
    Result<FaultKind> parsed = ParseFaultKind(name, allowed);
    if (!parsed) {
      return Invalid(fmt::format("unknown fault '{}' (expected {}{}none)", name,
                                 fmt::join(Names(allowed), ", "), allowed.empty() ? "" : " or "));
    }
    const FaultKind kind = *parsed;
    if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end()) kinds.push_back(kind);
    start = comma + 1;
  }
  return kinds;
}

std::string FormatFaultKindList(std::span<const FaultKind> kinds) {
  if (kinds.empty()) return "none";
  return fmt::format("{}", fmt::join(Names(kinds), ","));
}

Status ValidateFaultSpec(const FaultSpec& s) {
  const std::string_view kind = FaultKindName(s.kind);
  auto bad = [&](std::string why) { return Invalid(fmt::format("fault {}: {}", kind, why)); };
  const unsigned params = KindInfo(s.kind).params;
  // Packet and proxy faults without targets act on every node.
  const bool packet =
      (params & (kParamPeers | kParamShare)) != 0 || s.kind == FaultKind::kBandwidth;
  if ((params & kParamTargets) && s.targets.empty() && !packet) {
    return bad("no targets (name nodes, or one, minority, majority, all, leader)");
  }
  if (s.kind == FaultKind::kIsolateLeader && !s.targets.empty() && s.targets != "leader") {
    return bad(fmt::format("targets '{}': isolate-leader isolates the leader", s.targets));
  }
  if ((params & kParamProbability) && !(s.probability >= 0 && s.probability <= 1)) {
    return bad(fmt::format("--probability {}: not in 0..1", s.probability));
  }
  if (params & kParamDelay) {
    if (s.delay.count() <= 0) return bad(fmt::format("--ms {}: must be > 0", s.delay.count()));
    if (s.jitter.count() < 0 || s.jitter > s.delay) {
      return bad(fmt::format("--jitter-ms {}: must be in 0..--ms", s.jitter.count()));
    }
  }
  if ((params & kParamKbit) && s.kbit <= 0) {
    return bad(fmt::format("--kbit {}: must be > 0", s.kbit));
  }
  if (params & kParamCorrupt) {
    if (s.corrupt.files.empty()) return bad("--files: a corrupt fault needs file globs");
    if (s.corrupt.count < 0) return bad(fmt::format("--count {}: must be >= 0", s.corrupt.count));
  }
  if (params & kParamSiege) {
    if (s.siege.empty()) return bad("needs --cpu-percent, --memory-mb or --disk-ops");
    if (s.siege.cpu_percent && !(*s.siege.cpu_percent > 0))
      return bad("--cpu-percent: must be > 0");
    if (s.siege.memory_mb && *s.siege.memory_mb <= 0) return bad("--memory-mb: must be > 0");
    if (s.siege.disk_ops && !(*s.siege.disk_ops > 0)) return bad("--disk-ops: must be > 0");
  }
  if (params & kParamShare) {
    if (!(s.proxy.share >= 0 && s.proxy.share <= 1)) {
      return bad(fmt::format("--share {}: not in 0..1", s.proxy.share));
    }
    if (s.kind == FaultKind::kHttpDelay && s.jitter.count() != 0) {
      return bad("--jitter-ms: http-delay holds each request exactly --ms (no jitter)");
    }
    if (s.proxy.bytes < 0) return bad(fmt::format("--bytes {}: must be >= 0", s.proxy.bytes));
    for (const auto& [flag, value] :
         {std::pair{"--body", &s.proxy.body}, std::pair{"--method", &s.proxy.method},
          std::pair{"--path", &s.proxy.path}, std::pair{"--header", &s.proxy.header},
          std::pair{"--header-value", &s.proxy.header_value}}) {
      if (value->find_first_of(" \t\n") != std::string::npos) {
        return bad(
            fmt::format("{} '{}': no spaces (the spec string splits on them)", flag, *value));
      }
    }
  }
  if (params & kParamClockOffset) {
    const std::int64_t ms = s.clock_offset.count();
    if (ms == 0 || ms > kMaxClockOffsetMs || ms < -kMaxClockOffsetMs) {
      return bad(fmt::format("--offset-ms {}: must be non-zero and within ±{} (a day)", ms,
                             kMaxClockOffsetMs));
    }
  }
  if (params & kParamClockPeriod) {
    const std::int64_t ms = s.clock_period.count();
    if (ms < kMinClockPeriodMs || ms > kMaxClockOffsetMs) {
      return bad(fmt::format("--period-ms {}: must be in {}..{}", ms, kMinClockPeriodMs,
                             kMaxClockOffsetMs));
    }
  }
  if (s.duration.count() < 0) return bad("--for-ms: must be >= 0");
  // A parameter the kind does not take must be at its default, or printing would lose it.
  FaultSpec defaults;
  defaults.kind = s.kind;
  for (const Param& p : Params()) {
    if (!Takes(s.kind, p) && p.get(s) != p.get(defaults)) return NotTaken(s.kind, p.flag);
  }
  return OkStatus();
}

std::string FormatFaultSpec(const FaultSpec& s) {
  std::string out(FaultKindName(s.kind));
  for (const Param& p : Params()) {
    if (!Takes(s.kind, p)) continue;
    std::optional<std::string> v = p.get(s);
    if (!v) continue;
    if (p.key == "targets") {
      out += " " + *v;  // positional, as the CLI's process commands take it
    } else if (p.type == JsonType::kBool) {
      out += fmt::format(" {}", p.flag);
    } else {
      out += fmt::format(" {} {}", p.flag, *v);
    }
  }
  return out;
}

Result<FaultSpec> ParseFaultSpec(std::string_view text) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    size_t end = text.find(' ', i);
    if (end == std::string_view::npos) end = text.size();
    if (end > i) words.emplace_back(text.substr(i, end - i));
    i = end;
  }
  if (words.empty()) return Invalid("fault: empty spec (expected a kind, e.g. \"kill n1\")");
  FaultSpec s;
  FAULTLINE_ASSIGN_OR_RETURN(s.kind, ParseFaultKind(words[0]));
  const std::string_view kind = FaultKindName(s.kind);
  for (size_t w = 1; w < words.size(); ++w) {
    const std::string& word = words[w];
    if (!word.starts_with("--")) {
      if (!(KindInfo(s.kind).params & kParamTargets)) {
        return Invalid(
            fmt::format("fault {}: '{}': a {} fault takes no targets", kind, word, kind));
      }
      if (!s.targets.empty()) {
        return Invalid(fmt::format("fault {}: '{}': targets given twice", kind, word));
      }
      s.targets = word;
      continue;
    }
    const Param* p = FindParam(word, false);
    if (p == nullptr) return Invalid(fmt::format("fault {}: unknown flag {}", kind, word));
    if (!Takes(s.kind, *p)) return NotTaken(s.kind, word);
    std::string value = "true";
    if (p->type != JsonType::kBool) {
      if (w + 1 >= words.size())
        return Invalid(fmt::format("fault {}: {} needs a value", kind, word));
      value = words[++w];
    }
    Status set = p->set(s, value);
    if (!set) return std::move(set).error().WithContext(fmt::format("fault {}", kind));
  }
  FAULTLINE_RETURN_IF_ERROR(ValidateFaultSpec(s));
  return s;
}

std::string DescribeFault(const FaultSpec& s) {
  const std::string targets = s.targets.empty() ? std::string("all") : s.targets;
  switch (s.kind) {
    case FaultKind::kPartition:
      return fmt::format("partition {}", GrudgeSpecString(s.grudge));
    case FaultKind::kIsolate:
      return fmt::format("partition isolate:{}", s.targets);
    case FaultKind::kIsolateLeader:
      return "partition isolate:leader";
    case FaultKind::kKill:
    case FaultKind::kCrash:
    case FaultKind::kStart:
    case FaultKind::kRestart:
    case FaultKind::kPause:
    case FaultKind::kResume:
      return fmt::format("{} {}", FaultKindName(s.kind), s.targets);
    case FaultKind::kMemberRemove:
    case FaultKind::kMemberAdd:
      return fmt::format("{} {}", FaultKindName(s.kind), targets);
    case FaultKind::kLoss:
      return fmt::format("loss {:.0f}% from {}", s.probability * 100, targets);
    case FaultKind::kDelay:
      return fmt::format("delay {}±{} ms from {}", s.delay.count(), s.jitter.count(), targets);
    case FaultKind::kBandwidth:
      return fmt::format("bandwidth {} kbit/s from {}", s.kbit, targets);
    case FaultKind::kDuplicate:
    case FaultKind::kPacketCorrupt:
      return fmt::format("{} {:.0f}% from {}", FaultKindName(s.kind), s.probability * 100, targets);
    case FaultKind::kReorder:
      return fmt::format("reorder {:.0f}% held {}±{} ms from {}", s.probability * 100,
                         s.delay.count(), s.jitter.count(), targets);
    case FaultKind::kCorrupt:
      return fmt::format("corrupt {} {} on {}", CorruptModeName(s.corrupt.mode),
                         fmt::join(s.corrupt.files, " "), s.targets);
    case FaultKind::kSiege: {
      std::vector<std::string> parts;
      if (s.siege.cpu_percent) parts.push_back(fmt::format("cpu {}%", *s.siege.cpu_percent));
      if (s.siege.memory_mb) parts.push_back(fmt::format("memory {} MiB", *s.siege.memory_mb));
      if (s.siege.disk_ops) parts.push_back(fmt::format("disk {} ops/s", *s.siege.disk_ops));
      return fmt::format("siege {} ({})", s.targets, fmt::join(parts, ", "));
    }
    case FaultKind::kHttpStatus:
    case FaultKind::kHttpDelay:
    case FaultKind::kHttpDrop:
    case FaultKind::kHttpTruncate: {
      std::string what = s.kind == FaultKind::kHttpStatus
                             ? fmt::format("http-status {}", s.proxy.status)
                             : std::string(FaultKindName(s.kind));
      if (s.kind == FaultKind::kHttpDelay) what += fmt::format(" {} ms", s.delay.count());
      if (s.kind == FaultKind::kHttpTruncate) what += fmt::format(" to {} bytes", s.proxy.bytes);
      std::string scope;
      if (!s.proxy.method.empty()) scope += " " + s.proxy.method;
      if (!s.proxy.path.empty()) scope += " " + s.proxy.path;
      if (!s.proxy.header.empty()) {
        scope += fmt::format(" with {}{}{}", s.proxy.header,
                             s.proxy.header_value.empty() ? "" : ": ", s.proxy.header_value);
      }
      return fmt::format("{} on {:.4g}% of requests{} to {}", what, s.proxy.share * 100, scope,
                         targets);
    }
    case FaultKind::kProxyLatency:
      return fmt::format("proxy-latency {}±{} ms on {:.4g}% of connections to {}", s.delay.count(),
                         s.jitter.count(), s.proxy.share * 100, targets);
    case FaultKind::kClockBump:
      return fmt::format("clock-bump {:+} ms on {}", s.clock_offset.count(), s.targets);
    case FaultKind::kClockStrobe:
      return fmt::format("clock-strobe {:+} ms every {} ms on {}", s.clock_offset.count(),
                         s.clock_period.count(), s.targets);
    case FaultKind::kClockReset:
      return fmt::format("clock-reset {}", s.targets);
    case FaultKind::kLoseUnsynced:
      return "lose-unsynced (power cut of every node)";
    case FaultKind::kLoseUnsyncedOne:
      return fmt::format("lose-unsynced on {}", s.targets.empty() ? "one" : s.targets);
    case FaultKind::kTornWrite:
      return fmt::format("torn-write on {}", targets);
    case FaultKind::kFsyncError:
      return fmt::format("fsync-error {:.4g}% on {}", s.probability * 100, targets);
    case FaultKind::kSlowDisk:
      return fmt::format("slow-disk {}±{} ms on {}", s.delay.count(), s.jitter.count(), targets);
    case FaultKind::kHeal:
      return "heal";
  }
  // Only a value outside the enum gets here (the switch names every kind); indexing the kind table
  // with it would read past its end.
  return "unknown fault";
}

Result<std::vector<std::string>> FaultTargets(const FaultSpec& spec,
                                              const std::vector<std::string>& nodes,
                                              const LeaderFn& leader) {
  const unsigned params = KindInfo(spec.kind).params;
  std::string target = spec.targets;
  if (spec.kind == FaultKind::kIsolateLeader) {
    target = "leader";
  } else if (!(params & kParamTargets)) {
    return std::vector<std::string>{};
  }
  if (target.empty()) target = spec.kind == FaultKind::kLoseUnsyncedOne ? "one" : "all";
  std::optional<std::string> known;
  if (target.find("leader") != std::string::npos) {
    known = leader ? leader() : std::nullopt;
    if (!known) {
      return Error(ErrorCode::kUnavailable,
                   fmt::format("{} the leader: no leader is known now",
                               spec.kind == FaultKind::kIsolateLeader ? std::string_view("isolate")
                                                                      : FaultKindName(spec.kind)));
    }
  }
  return ResolveTarget(target, nodes, known, spec.seed);
}

Result<Grudge> FaultGrudge(const FaultSpec& spec, const std::vector<std::string>& nodes,
                           const LeaderFn& leader) {
  if (spec.kind == FaultKind::kPartition) {
    if (spec.grudge.kind != GrudgeKind::kLeaderMinority) {
      return MakeGrudge(spec.grudge, nodes, spec.seed);
    }
    const std::optional<std::string> known = leader ? leader() : std::nullopt;
    if (!known) {
      return Error(ErrorCode::kUnavailable, "partition leader-minority: no leader is known now");
    }
    return MakeGrudge(spec.grudge, nodes, spec.seed, *known);
  }
  if (spec.kind != FaultKind::kIsolate && spec.kind != FaultKind::kIsolateLeader) {
    return Invalid(fmt::format("a {} fault is not a partition", FaultKindName(spec.kind)));
  }
  FAULTLINE_ASSIGN_OR_RETURN(std::vector<std::string> cut, FaultTargets(spec, nodes, leader));
  if (cut.empty()) {
    return Invalid(fmt::format("{}: no node to isolate", FaultKindName(spec.kind)));
  }
  if (cut.size() == 1) {
    return MakeGrudge(GrudgeSpec{.kind = GrudgeKind::kIsolate, .node = cut.front(), .to = ""},
                      nodes, spec.seed);
  }
  // Several targets: each is cut off from every other node, the targets from each other too.
  std::vector<NodeSet> parts;
  NodeSet rest(nodes.begin(), nodes.end());
  for (const std::string& n : cut) {
    parts.push_back({n});
    rest.erase(n);
  }
  if (!rest.empty()) parts.push_back(std::move(rest));
  return CompleteGrudge(parts);
}

std::string FaultSpecToJson(const FaultSpec& s) {
  Json j = Json::object();
  j["fault"] = std::string(FaultKindName(s.kind));
  for (const Param& p : Params()) {
    if (!Takes(s.kind, p)) continue;
    std::optional<std::string> v = p.get(s);
    if (!v) continue;
    const std::string key(p.key);
    switch (p.type) {
      case JsonType::kString:
        j[key] = *v;
        break;
      case JsonType::kInt:
        if (p.key == "seed") {
          j[key] = s.seed;
        } else {
          j[key] = std::stoll(*v);
        }
        break;
      case JsonType::kDouble:
        j[key] = std::stod(*v);
        break;
      case JsonType::kBool:
        j[key] = *v == "true";
        break;
      case JsonType::kList:
        j[key] = SplitCommas(*v);
        break;
    }
  }
  return j.dump();
}

Result<FaultSpec> FaultSpecFromJson(std::string_view text) {
  Json j;
  try {
    j = Json::parse(text);
  } catch (const Json::exception& e) {
    return Invalid(fmt::format("fault: not JSON: {}", e.what()));
  }
  if (!j.is_object()) return Invalid("fault: expected a JSON object");
  if (!j.contains("fault") || !j["fault"].is_string()) {
    return Invalid("fault: \"fault\" missing (a kind name is required)");
  }
  FaultSpec s;
  FAULTLINE_ASSIGN_OR_RETURN(s.kind, ParseFaultKind(j["fault"].get<std::string>()));
  const std::string_view kind = FaultKindName(s.kind);
  for (const auto& [key, value] : j.items()) {
    if (key == "fault") continue;
    const Param* p = FindParam(key, true);
    if (p == nullptr) return Invalid(fmt::format("fault {}: unknown key \"{}\"", kind, key));
    if (!Takes(s.kind, *p)) return NotTaken(s.kind, "\"" + key + "\"");
    std::string text_value;
    auto wrong = [&](std::string_view expected) {
      return Invalid(fmt::format("fault {}: \"{}\": expected {}", kind, key, expected));
    };
    switch (p->type) {
      case JsonType::kString:
        if (!value.is_string()) return wrong("a string");
        text_value = value.get<std::string>();
        break;
      case JsonType::kInt:
        if (!value.is_number_integer()) return wrong("an integer");
        text_value = value.dump();
        break;
      case JsonType::kDouble:
        if (!value.is_number()) return wrong("a number");
        text_value = value.dump();
        break;
      case JsonType::kBool:
        if (!value.is_boolean()) return wrong("true or false");
        text_value = value.get<bool>() ? "true" : "false";
        break;
      case JsonType::kList: {
        if (!value.is_array()) return wrong("an array of strings");
        std::vector<std::string> items;
        for (const Json& e : value) {
          if (!e.is_string()) return wrong("an array of strings");
          items.push_back(e.get<std::string>());
        }
        text_value = JoinCommas(items);
        break;
      }
    }
    Status set = p->set(s, text_value);
    if (!set) return std::move(set).error().WithContext(fmt::format("fault {}", kind));
  }
  FAULTLINE_RETURN_IF_ERROR(ValidateFaultSpec(s));
  return s;
}

}  // namespace faultline::nemesis
