// Stale reads by version, and why each was stale: was the node that served it cut off from a
// majority of the cluster at the time, or in the majority and merely lagging?
//
// A register history whose ok completions carry versions (etcd's revisions, ZooKeeper's zxids;
// history/fields.h): an ok write or cas has `:revision` (the version it created), an ok read
// `:revision` (etcd's reply header) or else `:mod_revision` (the version it read; 0 when the key
// did not exist). A read is stale when it saw a version below that of an ok write or cas to the
// same key that completed before the read was invoked: that write was acknowledged, yet the node
// that answered (`:node`) had not applied it. Ops without versions are left out.
//
// The cause comes from the nemesis ops of the same history: a partition (f "partition", which
// isolate faults are recorded under too) is in force from its invocation until the completion of
// the next heal (f "heal"), and its completion names the nodes its grudge cut off from a majority
// (`:cut_off`, history::field::kCutOff). A stale read is
// - kCutOff when its node is cut off by a partition in force at some point while the read was
//   outstanding (such a node cannot be part of a quorum: it answers from its own copy);
// - kUnknown when a partition in force then did not say whom it cut off (a history recorded
//   before :cut_off existed) and the node is not known to be cut off by another;
// - kLag otherwise: the node was in the majority, or no partition was in force (a follower that
//   had not yet applied a committed write, as ZooKeeper's plain reads allow).
//
// Thread-safety: pure functions.
#ifndef FAULTLINE_CHECKER_STALE_READS_H_
#define FAULTLINE_CHECKER_STALE_READS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "history/history.h"

namespace faultline::checker {

enum class StaleReadCause { kCutOff, kLag, kUnknown };

// "cut_off", "lag", "unknown": the keys of the JSON.
std::string_view StaleReadCauseName(StaleReadCause cause);

struct StaleRead {
  int64_t index = -1;    // the read's invocation index
  std::string node;      // the node that served it ("?" when the completion names none)
  std::string key;       // EDN
  std::string value;     // what it read, EDN
  int64_t revision = 0;  // the version it saw
  int64_t floor = 0;     // the highest version acknowledged on the key when it was invoked
  // The write it missed that had been acknowledged the longest: its invocation index, f, value
  // (EDN) and version.
  int64_t missed_index = -1;
  std::string missed_f;
  std::string missed_value;
  int64_t missed_revision = 0;
  int64_t missed_writes = 0;  // acknowledged writes to the key newer than what it saw
  // How long before the read was invoked that write had been acknowledged; nullopt when the
  // history has no times.
  std::optional<double> missed_by_s;
  StaleReadCause cause = StaleReadCause::kLag;
  std::string fault;  // the partition in force (its description) when kCutOff or kUnknown

  // One line: "op 41 read "k" -> 2 on n3 at revision 17: missed op 30 write 4 (revision 19),
  // acknowledged 1.234 s before the read began (3 newer writes); n3 was cut off from the
  // majority (isolate n3)".
  std::string Describe() const;
};

struct StaleReadReport {
  std::vector<StaleRead> reads;  // every stale read, in the order of their completions
  int64_t cut_off = 0;
  int64_t lag = 0;
  int64_t unknown = 0;
  int64_t partitions = 0;  // partition faults seen in the history
};

[[nodiscard]] StaleReadReport FindStaleReads(const history::History& history);

// The report as one JSON object: "count", "cut_off", "lag", "unknown", "partitions", "by_node"
// ({"n3": {"cut_off": 2, "lag": 1, "unknown": 0}}) and "examples" (per cause, up to
// `max_examples` objects with "op", "node", "key", "value", "revision", "missed_op", "missed_f",
// "missed_value", "missed_revision", "missed_writes", "missed_by_ms" (null without times),
// "fault" and "text", the Describe line).
std::string StaleReadReportToJson(const StaleReadReport& report, size_t max_examples);

// One line for a summary, empty when there is no stale read: "3 stale reads: 2 from a node cut
// off from the majority (n3 2), 1 from a node in the majority, lagging (n1 1)".
std::string StaleReadSummary(const StaleReadReport& report);

}  // namespace faultline::checker

#endif  // FAULTLINE_CHECKER_STALE_READS_H_
