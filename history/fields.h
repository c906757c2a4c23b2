// The names of the extra fields that ops carry beyond Jepsen's own (index, time, type, process, f,
// value, error). Clients, the campaign and drills write them; checkers read them. One spelling
// each, so a writer and a reader cannot drift apart; the strings are what histories on disk hold,
// so they never change.
//
// Thread-safety: constants only.
#ifndef FAULTLINE_HISTORY_FIELDS_H_
#define FAULTLINE_HISTORY_FIELDS_H_

#include <string_view>

namespace faultline::history::field {

// Client completions (client/etcd.cc, runner/campaign.cc).
inline constexpr std::string_view kNode = "node";           // the member that answered
inline constexpr std::string_view kMemberId = "member_id";  // its etcd member id (decimal)
// etcd: the reply header's revision; ZooKeeper: a write's zxid (its znode's new mzxid).
inline constexpr std::string_view kRevision = "revision";
// The version a read saw: etcd's mod_revision, ZooKeeper's mzxid (0: the key did not exist).
inline constexpr std::string_view kModRevision = "mod_revision";
// A transaction's completion (append and rw-register workloads): [[key mod_revision] ...], the
// version of each key the transaction read before its own writes (0: the key was absent).
inline constexpr std::string_view kModRevisions = "mod_revisions";
inline constexpr std::string_view kRaftTerm = "raft_term";
inline constexpr std::string_view kLatencyNs = "latency_ns";
// A final read's invocation (:final true).
inline constexpr std::string_view kFinal = "final";
// The lock workload's hold completions.
inline constexpr std::string_view kKeepalives = "keepalives";
inline constexpr std::string_view kTtl = "ttl";
inline constexpr std::string_view kLost = "lost";
inline constexpr std::string_view kKeepaliveErrors = "keepalive_errors";
inline constexpr std::string_view kKeepaliveError = "keepalive_error";  // the last one

// Nemesis completions: whether the fault took effect, where, and what an independent probe saw.
inline constexpr std::string_view kOk = "ok";
inline constexpr std::string_view kNodes = "nodes";
inline constexpr std::string_view kFailed = "failed";
inline constexpr std::string_view kConfirmed = "confirmed";
inline constexpr std::string_view kProbe = "probe";
// A partition's completion: the nodes its grudge cut off from a majority of the cluster (they
// cannot be part of a quorum until the next heal); [] when none was.
inline constexpr std::string_view kCutOff = "cut_off";

// Drill event logs (dirt/internal/event_log.cc).
inline constexpr std::string_view kSource = "source";
inline constexpr std::string_view kPid = "pid";
inline constexpr std::string_view kWallNs = "wall_ns";
inline constexpr std::string_view kOffsetMs = "offset_ms";
inline constexpr std::string_view kStep = "step";
inline constexpr std::string_view kTargets = "targets";
inline constexpr std::string_view kDetails = "details";

}  // namespace faultline::history::field

#endif  // FAULTLINE_HISTORY_FIELDS_H_
