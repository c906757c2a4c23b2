// The fault vocabulary: one type that names a fault (its kind, targets, parameters and duration),
// parsed and printed here and nowhere else. The campaign schedule, DiRT scenarios, the `nemesis`
// command, FaultReport, nemesis.json and results.json use it, so a kind's name and the history
// `f` it is recorded under cannot disagree between modules.
//
// Adding a kind starts here: an enumerator in FaultKind and its row in kFaultKinds (name, history
// f, the parameters it takes); parsing, printing, JSON and validation follow the table. -Wswitch
// then names the two switches that must say how to describe and apply it (DescribeFault in
// fault.cc, ApplyFault in nemesis.cc). A new parameter is one entry of Params() in fault.cc.
//
// Two printed forms:
// - the spec string, in the `faultline nemesis` command's syntax (FormatFaultSpec /
//   ParseFaultSpec round-trip): "partition --grudge halves", "kill n1,n3",
//   "loss minority --probability 0.2 --peers n2", "reorder n1 --probability 0.3 --ms 50",
//   "corrupt n1 --files member/snap/db --mode bitflip
//   --count 8", "siege n2 --cpu-percent 80 --for-ms 5000",
//   "http-status --share 0.2 --status 503 --method GET --path /v3/kv/range";
// - the description people read in histories and reports (DescribeFault): "partition halves",
//   "kill n2", "loss 30% from n1,n4", the strings campaigns have always recorded.
// JSON (FaultSpecToJson / FaultSpecFromJson) uses the keys of DiRT scenario steps: "fault",
// "targets", "duration_ms", "files", "mode", "count", "offset", "cpu_percent", "memory_mb",
// "disk_ops", plus "grudge", "probability", "delay_ms", "jitter_ms", "kbit", "peers",
// "include_control", "seed", for proxy faults "share", "status", "body", "bytes", "method",
// "path", "header", "header_value", and for clock faults "offset_ms", "period_ms"
// ("clock-strobe n1 --offset-ms 500 --period-ms 200").
//
// Thread-safety: plain values and pure functions.
#ifndef FAULTLINE_NEMESIS_FAULT_H_
#define FAULTLINE_NEMESIS_FAULT_H_

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "nemesis/corrupt.h"
#include "nemesis/grudge.h"
#include "nemesis/net.h"
#include "nemesis/node_control.h"

namespace faultline::nemesis {

enum class FaultKind {
  kPartition,      // a grudge (halves, majority, majorities-ring, bridge, minority-third,
                   // leader-minority, isolate:N, oneway:A>B); recorded under f "partition"
  kIsolate,        // the target nodes cut off from the others; f "partition"
  kIsolateLeader,  // the leader cut off (resolved when applied); f "partition"
  kKill,           // SIGKILL through the node controller; the process stays down until a start
  kCrash,          // SIGKILL sent straight to the process, as a crash: the supervisor sees it exit
  kStart,          // start a stopped database process
  kRestart,        // kill, then start
  kPause,          // SIGSTOP (or a cgroup freeze)
  kResume,         // SIGCONT (or thaw)
  kLoss,           // random loss of packets leaving the targets toward peers
  kDelay,          // packets leaving the targets held delay ± jitter
  kBandwidth,      // egress of the targets limited to kbit/s
  kCorrupt,        // damage data files (bitflip / overwrite / truncate)
  kSiege,          // CPU / memory / disk pressure in the targets' cgroups
  // FIT faults: a toxic on the proxy in front of each target's client port (nemesis/proxy.h,
  // applied through ProxyFaults, nemesis/proxy_faults.h), on a share of requests (HTTP kinds) or
  // connections (proxy-latency).
  kHttpStatus,    // reply with a status (default 503) instead of forwarding the request
  kHttpDelay,     // hold the request --ms before forwarding it
  kHttpDrop,      // close the connection without a reply
  kHttpTruncate,  // keep --bytes of the reply's body, then close
  kProxyLatency,  // delay ± jitter on every chunk of the replies (Toxiproxy's latency)
  // Packet faults through NFQUEUE and the helper process (nemesis/packet_mangle.h), on a share
  // (--probability) of the packets leaving the targets toward peers:
  kDuplicate,      // each sent twice (the copy through a raw socket, marked so it is not queued)
  kReorder,        // held delay ± jitter while later packets pass
  kPacketCorrupt,  // a payload bit flipped, checksum recomputed ("corrupt" is file corruption)
  // Clock faults (nemesis/clock.h): the targets' wall clock moved by --offset-ms (libfaketime on
  // a local cluster, clock_settime over ssh); CLOCK_MONOTONIC is left alone, as NTP leaves it.
  kClockBump,    // moved once by --offset-ms (negative: back), until reset or healed
  kClockStrobe,  // alternates between +--offset-ms and the true time every --period-ms
  kClockReset,   // the true time again (what a heal does for every node)
  // Disk faults: through the faulty filesystem over the nodes' data dirs (nemesis/disk.h,
  // applied through DiskFaults).
  kLoseUnsynced,     // power cut of the whole cluster: kill all, drop unsynced writes, restart
  kLoseUnsyncedOne,  // the same on the targets (default: one node)
  kFsyncError,       // fsync answers EIO for a share (--probability) of calls
  kTornWrite,        // a crash of the targets that keeps a prefix of each file's last write
  kSlowDisk,         // every read, write and fsync waits delay ± jitter
  // Membership (nemesis/membership.h), for systems that can grow and shrink their cluster (etcd
  // member remove / add): never below a majority of the original nodes; heal adds them back.
  kMemberRemove,  // take the targets out of the cluster (removed, stopped, their data wiped)
  kMemberAdd,     // put the targets back (added, started); "all": every removed node
  kHeal,          // undo every open fault
};

// The parameters a kind takes, as bits of FaultKindInfo::params. A parameter a kind does not take
// is an error when parsed (a typo or a misplaced flag must not pass silently).
inline constexpr unsigned kParamTargets = 1u << 0;  // targets (ResolveTarget syntax)
inline constexpr unsigned kParamGrudge = 1u << 1;
inline constexpr unsigned kParamPartitionMode = 1u << 2;
inline constexpr unsigned kParamPeers = 1u << 3;  // peers, include_control
inline constexpr unsigned kParamProbability = 1u << 4;
inline constexpr unsigned kParamDelay = 1u << 5;  // delay, jitter
inline constexpr unsigned kParamKbit = 1u << 6;
inline constexpr unsigned kParamCorrupt = 1u << 7;  // files, mode, count, offset
inline constexpr unsigned kParamSiege = 1u << 8;    // cpu_percent, memory_mb, disk_ops
inline constexpr unsigned kParamDuration = 1u << 9;
inline constexpr unsigned kParamShare = 1u << 10;        // share of requests or connections
inline constexpr unsigned kParamHttpScope = 1u << 11;    // method, path, header, header_value
inline constexpr unsigned kParamStatus = 1u << 12;       // status, body
inline constexpr unsigned kParamBytes = 1u << 13;        // bytes
inline constexpr unsigned kParamClockOffset = 1u << 14;  // offset_ms
inline constexpr unsigned kParamClockPeriod = 1u << 15;  // period_ms

struct FaultKindInfo {
  FaultKind kind;
  std::string_view name;  // as written in scenarios, --nemesis lists, the CLI and FaultReport
  std::string_view f;     // the history :f a fault of this kind is recorded under
  unsigned params;        // kParam* bits
};

// Clock faults: --offset-ms within ±a day, --period-ms at least 10 ms (a shorter strobe only
// measures how often the node rereads its clock).
inline constexpr std::int64_t kMaxClockOffsetMs = 86'400'000;
inline constexpr std::int64_t kMinClockPeriodMs = 10;

inline constexpr unsigned kProcessParams = kParamTargets | kParamDuration;
inline constexpr unsigned kPacketParams = kParamTargets | kParamPeers | kParamDuration;
inline constexpr unsigned kHttpParams =
    kParamTargets | kParamShare | kParamHttpScope | kParamDuration;

// One row per FaultKind, in enumerator order (checked below).
inline constexpr std::array kFaultKinds = {
    FaultKindInfo{FaultKind::kPartition, "partition", "partition",
                  kParamGrudge | kParamPartitionMode | kParamDuration},
    FaultKindInfo{FaultKind::kIsolate, "isolate", "partition",
                  kParamTargets | kParamPartitionMode | kParamDuration},
    FaultKindInfo{FaultKind::kIsolateLeader, "isolate-leader", "partition",
                  kParamPartitionMode | kParamDuration},
    FaultKindInfo{FaultKind::kKill, "kill", "kill", kProcessParams},
    FaultKindInfo{FaultKind::kCrash, "crash", "crash", kProcessParams},
    FaultKindInfo{FaultKind::kStart, "start", "start", kParamTargets},
    FaultKindInfo{FaultKind::kRestart, "restart", "restart", kParamTargets},
    FaultKindInfo{FaultKind::kPause, "pause", "pause", kProcessParams},
    FaultKindInfo{FaultKind::kResume, "resume", "resume", kParamTargets},
    FaultKindInfo{FaultKind::kLoss, "loss", "loss", kPacketParams | kParamProbability},
    FaultKindInfo{FaultKind::kDelay, "delay", "delay", kPacketParams | kParamDelay},
    FaultKindInfo{FaultKind::kBandwidth, "bandwidth", "bandwidth",
                  kParamTargets | kParamKbit | kParamDuration},
    FaultKindInfo{FaultKind::kCorrupt, "corrupt", "corrupt", kParamTargets | kParamCorrupt},
    FaultKindInfo{FaultKind::kSiege, "siege", "siege",
                  kParamTargets | kParamSiege | kParamDuration},
    FaultKindInfo{FaultKind::kHttpStatus, "http-status", "http-status", kHttpParams | kParamStatus},
    FaultKindInfo{FaultKind::kHttpDelay, "http-delay", "http-delay", kHttpParams | kParamDelay},
    FaultKindInfo{FaultKind::kHttpDrop, "http-drop", "http-drop", kHttpParams},
    FaultKindInfo{FaultKind::kHttpTruncate, "http-truncate", "http-truncate",
                  kHttpParams | kParamBytes},
    FaultKindInfo{FaultKind::kProxyLatency, "proxy-latency", "proxy-latency",
                  kParamTargets | kParamShare | kParamDelay | kParamDuration},
    FaultKindInfo{FaultKind::kDuplicate, "duplicate", "duplicate",
                  kPacketParams | kParamProbability},
    FaultKindInfo{FaultKind::kReorder, "reorder", "reorder",
                  kPacketParams | kParamProbability | kParamDelay},
    FaultKindInfo{FaultKind::kPacketCorrupt, "packet-corrupt", "packet-corrupt",
                  kPacketParams | kParamProbability},
    FaultKindInfo{FaultKind::kClockBump, "clock-bump", "clock-bump",
                  kParamTargets | kParamClockOffset | kParamDuration},
    FaultKindInfo{FaultKind::kClockStrobe, "clock-strobe", "clock-strobe",
                  kParamTargets | kParamClockOffset | kParamClockPeriod | kParamDuration},
    FaultKindInfo{FaultKind::kClockReset, "clock-reset", "clock-reset", kParamTargets},
    FaultKindInfo{FaultKind::kLoseUnsynced, "lose-unsynced", "lose-unsynced", 0},
    FaultKindInfo{FaultKind::kLoseUnsyncedOne, "lose-unsynced-one", "lose-unsynced-one",
                  kParamTargets},
    FaultKindInfo{FaultKind::kFsyncError, "fsync-error", "fsync-error",
                  kParamTargets | kParamProbability | kParamDuration},
    FaultKindInfo{FaultKind::kTornWrite, "torn-write", "torn-write", kParamTargets},
    FaultKindInfo{FaultKind::kSlowDisk, "slow-disk", "slow-disk",
                  kParamTargets | kParamDelay | kParamDuration},
    FaultKindInfo{FaultKind::kMemberRemove, "member-remove", "member-remove",
                  kParamTargets | kParamDuration},
    FaultKindInfo{FaultKind::kMemberAdd, "member-add", "member-add", kParamTargets},
    FaultKindInfo{FaultKind::kHeal, "heal", "heal", 0},
};

namespace internal {
constexpr bool KindTableInOrder() {
  for (size_t i = 0; i < kFaultKinds.size(); ++i) {
    if (static_cast<size_t>(kFaultKinds[i].kind) != i) return false;
  }
  return static_cast<size_t>(FaultKind::kHeal) + 1 == kFaultKinds.size();
}
}  // namespace internal
static_assert(internal::KindTableInOrder(), "kFaultKinds must list every FaultKind in order");

constexpr const FaultKindInfo& KindInfo(FaultKind kind) {
  return kFaultKinds[static_cast<size_t>(kind)];
}
constexpr std::string_view FaultKindName(FaultKind kind) { return KindInfo(kind).name; }
// The f a fault is recorded under in histories and nemesis.json: its kind's name, except that the
// isolate kinds are partitions ("partition").
constexpr std::string_view FaultF(FaultKind kind) { return KindInfo(kind).f; }
// The kinds recorded as partitions: kPartition, kIsolate, kIsolateLeader (FaultGrudge applies).
constexpr bool IsPartitionKind(FaultKind kind) {
  return FaultF(kind) == FaultF(FaultKind::kPartition);
}

// The kind of a process fault, and the action of a process kind (nullopt for other kinds and for
// kCrash, which signals the process directly instead of going through the node controller).
constexpr FaultKind ProcessFaultKind(ProcessAction action) {
  switch (action) {
    case ProcessAction::kKill:
      return FaultKind::kKill;
    case ProcessAction::kPause:
      return FaultKind::kPause;
    case ProcessAction::kResume:
      return FaultKind::kResume;
    case ProcessAction::kStart:
      return FaultKind::kStart;
    case ProcessAction::kRestart:
      return FaultKind::kRestart;
  }
  return FaultKind::kKill;
}
std::optional<ProcessAction> ProcessActionOf(FaultKind kind);
// The clock kinds (kClockBump, kClockStrobe, kClockReset; nemesis/clock.h).
constexpr bool IsClockFaultKind(FaultKind kind) {
  return kind == FaultKind::kClockBump || kind == FaultKind::kClockStrobe ||
         kind == FaultKind::kClockReset;
}
// The kinds applied as a toxic on the proxies in front of the nodes (kHttpStatus ..
// kProxyLatency); they need proxies (`campaign --proxy`, FIT runs).
constexpr bool IsProxyFaultKind(FaultKind kind) {
  return (KindInfo(kind).params & kParamShare) != 0;
}

// Any kind's name. The error lists every kind.
[[nodiscard]] Result<FaultKind> ParseFaultKind(std::string_view name);
// A kind among `allowed` (a command or a scenario supports a subset). NotFound-free: an unknown or
// unsupported name is InvalidArgument, "unknown fault 'X' (expected a, b or c)".
[[nodiscard]] Result<FaultKind> ParseFaultKind(std::string_view name,
                                               std::span<const FaultKind> allowed);
// "a, b or c": the kinds' names, for error messages and help texts.
std::string FaultKindList(std::span<const FaultKind> kinds);
// A comma-separated list such as "partition,kill,pause,loss", each among `allowed`; "none" or ""
// means no faults. Kept in the order given, duplicates removed.
[[nodiscard]] Result<std::vector<FaultKind>> ParseFaultKindList(std::string_view list,
                                                                std::span<const FaultKind> allowed);
// "partition,kill" or "none"; ParseFaultKindList reads it back.
std::string FormatFaultKindList(std::span<const FaultKind> kinds);

struct CorruptParams {
  std::vector<std::string> files;  // globs in the node's data dir
  CorruptMode mode = CorruptMode::kOverwrite;
  std::int64_t count = 0;  // bits (bitflip) or bytes (overwrite, 0 = whole file)
  std::int64_t offset = 0;
  bool operator==(const CorruptParams&) const = default;
};

// The toxic of a proxy fault kind. The HTTP scope (method, path glob, request header) limits
// which requests it acts on; empty = any.
struct ProxyParams {
  double share = 1.0;      // 0..1: of matching requests (HTTP kinds) or of connections
  int status = 503;        // http-status
  std::string body;        // http-status: the reply's body
  std::int64_t bytes = 0;  // http-truncate: bytes of the body kept
  std::string method;
  std::string path;
  std::string header;
  std::string header_value;
  bool operator==(const ProxyParams&) const = default;
};

struct SiegeParams {
  std::optional<double> cpu_percent;  // of one CPU, the node's cgroup total
  std::optional<std::int64_t> memory_mb;
  std::optional<double> disk_ops;  // fsync'd 4 KiB writes per second in the node's data dir
  bool empty() const { return !cpu_percent && !memory_mb && !disk_ops; }
  bool operator==(const SiegeParams&) const = default;
};

// One fault, concrete except for what is resolved when it is applied (targets such as "leader" or
// "minority", random grudges). Fields a kind does not take (KindInfo(kind).params) keep their
// defaults.
struct FaultSpec {
  FaultKind kind = FaultKind::kPartition;
  // "n1,n3", "one", "minority", "majority", "all" or "leader" (nemesis::ResolveTarget). Empty:
  // "all" for packet faults; for kIsolateLeader the leader.
  std::string targets;
  GrudgeSpec grudge;  // kPartition
  PartitionMode partition_mode = PartitionMode::kDrop;
  // loss, delay, duplicate, reorder, packet-corrupt: toward these nodes only (empty = every other)
  std::vector<std::string> peers;
  bool include_control = false;        // and also toward the controller
  double probability = 0.3;            // loss; duplicate, reorder, packet-corrupt: the share; 0..1
  std::chrono::milliseconds delay{0};  // delay, reorder (how long a packet is held), proxy kinds
  std::chrono::milliseconds jitter{0};
  std::int64_t kbit = 0;  // bandwidth, kbit/s
  CorruptParams corrupt;
  SiegeParams siege;
  ProxyParams proxy;  // http-status, http-delay, http-drop, http-truncate, proxy-latency
  // clock-bump, clock-strobe: how far the wall clock is moved (negative: back), and for a strobe
  // how long each of its two states lasts.
  std::chrono::milliseconds clock_offset{0};
  std::chrono::milliseconds clock_period{0};
  std::chrono::milliseconds duration{0};  // how long the fault is held (0 = until healed)
  std::uint64_t seed = 0;                 // random grudges and one/minority/majority targets
  bool operator==(const FaultSpec&) const = default;
};

// Checks the parameters against the kind (ranges, and that corrupt names files and siege some
// pressure); messages name the parameter as the spec string does ("--probability 1.5: not in
// 0..1").
[[nodiscard]] Status ValidateFaultSpec(const FaultSpec& spec);

// The spec string (see the top of this file). Only parameters that differ from FaultSpec{}'s
// defaults are printed; ParseFaultSpec(FormatFaultSpec(s)) == s for every valid s.
std::string FormatFaultSpec(const FaultSpec& spec);
[[nodiscard]] Result<FaultSpec> ParseFaultSpec(std::string_view text);

// What people read: "partition halves", "partition isolate:n3", "partition isolate:leader",
// "kill n2", "loss 30% from n1,n4", "delay 50±10 ms from n1", "bandwidth 1000 kbit/s from n5",
// "corrupt bitflip member/snap/db on n1", "siege n2 (cpu 80%)", "member-remove n2", "heal".
std::string DescribeFault(const FaultSpec& spec);

// The nodes a fault acts on: its targets resolved against the cluster's `nodes` (ResolveTarget,
// with the spec's seed). kIsolateLeader targets the leader; packet faults without targets act on
// every node, lose-unsynced-one one node. `leader` is asked only when the targets name the leader;
// nullopt = none known (Unavailable). Kinds without targets give an empty list.
using LeaderFn = std::function<std::optional<std::string>()>;
[[nodiscard]] Result<std::vector<std::string>> FaultTargets(const FaultSpec& spec,
                                                            const std::vector<std::string>& nodes,
                                                            const LeaderFn& leader);
// The grudge a partition kind installs (kPartition: its grudge; kIsolate / kIsolateLeader: each
// target cut off from every other node, as DiRT's isolate steps do). Random grudges are drawn
// with the spec's seed, so the same spec gives the same grudge; leader-minority asks `leader` once
// (Unavailable when none is known). InvalidArgument for other kinds.
[[nodiscard]] Result<Grudge> FaultGrudge(const FaultSpec& spec,
                                         const std::vector<std::string>& nodes,
                                         const LeaderFn& leader);

// One JSON object (the keys listed at the top); unknown keys and parameters the kind does not take
// are errors.
std::string FaultSpecToJson(const FaultSpec& spec);
[[nodiscard]] Result<FaultSpec> FaultSpecFromJson(std::string_view json);

}  // namespace faultline::nemesis

#endif  // FAULTLINE_NEMESIS_FAULT_H_
