// Judging a fault probe: what an independent probe saw right after a fault was applied, turned
// into confirmed (the fault took effect), not confirmed (it did not), or inconclusive. The probing
// itself (connects between nodes, the process table) is done by the runner's nemesis adapter;
// these functions only judge what it saw, so they are tested without root. The sanity checker
// (sanity_checker.h) then reads the finding from the fault's completion (:confirmed, :probe).
//
// Thread-safety: pure functions.
#ifndef FAULTLINE_CHECKER_FAULT_PROBE_H_
#define FAULTLINE_CHECKER_FAULT_PROBE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace faultline::checker {

struct ProbeFinding {
  std::optional<bool> confirmed;  // nullopt: not probed (e.g. loss too rare) or inconclusive
  std::string evidence;           // one line: what was tried and what came back
  // What the probe counted, each a key of the fault's entry in nemesis.json next to the
  // nemesis's own counts (the datagram probe: "probe_duplicates_seen", ...). Empty for most.
  std::map<std::string, std::int64_t> counts = {};
};

// A TCP connect from one node to another's peer port and what came back: "timeout" (no answer),
// "connected", "refused" (packets flowed: a reset came back), or "error: ..." ("error: exit N
// (...)" when the connect itself failed, e.g. an unreachable route, which counts as cut).
struct ConnectSeen {
  std::string from;
  std::string to;
  std::string seen;
};

// Whether a connect across a pair that must be cut got no answer.
bool ConnectWasCut(std::string_view seen);

// A partition: `cut` across a pair the grudge cuts, `kept` (when one was tried, after a cut
// connect that got no answer) across a pair it leaves connected. Confirmed when the cut pair got
// no answer and the kept one did; not confirmed when the cut pair answered; inconclusive when the
// probe itself failed or the kept pair failed too.
ProbeFinding JudgePartitionProbe(const ConnectSeen& cut, const std::optional<ConnectSeen>& kept,
                                 int port);

// Packet loss: `tries` short connects from `from` to `to`, `lost` of which got no answer, under a
// loss `probability`. Confirmed when some were lost; inconclusive when every one was (the peer may
// be down).
struct LossProbeSeen {
  std::string from;
  std::string to;
  int port = 0;
  int tries = 0;
  int lost = 0;
  double probability = 0;
};
ProbeFinding JudgeLossProbe(const LossProbeSeen& seen);

// A kill or a pause: each target as the process table shows it.
struct ProcessSeen {
  std::string node;
  bool found = false;  // the node is in the process table
  bool alive = false;
  bool paused = false;
  std::string state;  // as the node controller reads it ("running", "stopped", "gone")
  int64_t pid = 0;
};
// Confirmed when every target is dead (kill) or paused (pause).
ProbeFinding JudgeProcessProbe(bool kill, const std::vector<ProcessSeen>& targets);

// A clock fault: each target's clock as a process on the node reads it (nemesis/clock.h
// MeasureClockOffset), minus the controller's, one or more readings per node.
struct ClockSeen {
  std::string node;
  bool read = false;           // a reading came back
  int64_t offset_ms = 0;       // what it read, minus the controller's clock
  int64_t uncertainty_ms = 0;  // half the reading's round trip
  std::string error;           // why there is no reading
};
// `expected_ms` is the fault's offset. A reading matches when it is within 100 ms plus its
// uncertainty of the expected offset. Bump (`strobe` false): confirmed when every target's
// reading matches, not confirmed when one reads the true time instead (within the same margin of
// 0); a strobe: confirmed when some reading of every target matches (the others may fall on its
// true-time half). Inconclusive when a target could not be read.
ProbeFinding JudgeClockProbe(int64_t expected_ms, bool strobe, const std::vector<ClockSeen>& seen);

// A disk fault (nemesis/disk.h) on each target. fsync-error and slow-disk: what a probe file
// written and fsync'd in the node's data dir (through the faulty filesystem) saw; the crash kinds
// (lose-unsynced, lose-unsynced-one, torn-write): the database process before and after.
enum class DiskProbeKind { kFsyncError, kSlowDisk, kCrash };
struct DiskSeen {
  std::string node;
  int fsyncs = 0;          // fsyncs tried
  int fsync_errors = 0;    // answered EIO
  double slowest_ms = 0;   // the slowest write + fsync
  int64_t pid_before = 0;  // crash kinds
  int64_t pid_after = 0;
  bool alive_after = false;
  std::string error;  // the probe could not run there
};
// Confirmed when every target shows the fault: at least one EIO (fsync-error), a write + fsync
// taking at least `delay_ms` (slow-disk), a new live database process (crash kinds).
ProbeFinding JudgeDiskProbe(DiskProbeKind kind, double delay_ms,
                            const std::vector<DiskSeen>& targets);

// A packet mangling (duplicate, reorder, packet-corrupt): what numbered datagrams sent from a
// faulted node to a peer while the fault was in force looked like at the peer
// (nemesis/mangle_probe.h). `counts` has TallyProbe's keys and "probe_sent".
enum class ManglingProbeKind { kDuplicate, kReorder, kCorrupt };
struct ManglingSeen {
  std::string from;
  std::string to;
  std::map<std::string, std::int64_t> counts;
  std::string error;  // the probe could not run
};
// Confirmed when the probe saw some of the fault's kind (a copy, a datagram overtaken, a damaged
// one); not confirmed when datagrams arrived and none was; inconclusive when the probe could not
// run or nothing arrived. The finding carries the probe's counts.
ProbeFinding JudgeManglingProbe(ManglingProbeKind kind, const ManglingSeen& seen);

}  // namespace faultline::checker

#endif  // FAULTLINE_CHECKER_FAULT_PROBE_H_
