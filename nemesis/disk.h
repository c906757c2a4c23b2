// DiskFaults: faults below the database, through a faulty filesystem mounted over each node's
// data directory (issue 17 §1). The filesystem (nemesis/disk_server.cc, run by
// faultline-nemesis-helper as its own detached process) passes every call through to the
// directory it covers and remembers, per file, what was written since the file's last fsync or
// fdatasync. Faults:
//   lose-unsynced      a power cut of the whole cluster: every database process is killed, every
//                      unsynced write is dropped, the processes are started again
//   lose-unsynced-one  the same on the target nodes only (default: one node)
//   torn-write         the same, but a random prefix of each file's last unsynced write survives
//   fsync-error        fsync answers EIO for a share (--probability) of calls until healed
//   slow-disk          every read, write and fsync waits --ms ± --jitter-ms
//   corrupt            the drills' bitflip / overwrite / truncate (nemesis/corrupt.h) through the
//                      mount, undoable: the target's database is stopped, the original bytes of
//                      every range about to be damaged go into an undo file next to the ledger
//                      (fsync'd, then named by a "disk-corruption" object with the damage's hash),
//                      the ranges are damaged, the database starts again. The entry stays open:
//                      its heal restores compare-and-swap (a range the database rewrote since is
//                      left alone and counted) and then starts a member that refused its data
// Every mount and every fault goes into the nemesis ledger before it takes effect:
//   "disk" entry, objects "disk-mount" (node, name = directory, address = control socket, pid and
//       start time of the server): the mount itself. Heals leave it alone while the process that
//       mounted it lives (it is the ground the faults stand on, not a fault); once that process is
//       gone, a heal unmounts it (lazily: a database still holding files open keeps being served
//       until it closes them, so it never sees ENOTCONN). Unmount() removes it on purpose.
//   fault entries, objects "disk-fault" (node, address = control socket): heal restores normal
//       behaviour (no fsync errors, no latency); "killed" objects for the crash kinds and corrupt,
//       whose heal starts the database again; "disk-corruption" objects for corrupt (ledger.h).
// A mount is made while the node's database is down (Mount stops and restarts it), so no process
// holds files under the directory from before the mount.
//
// Counts: a FaultReport's `counts` carries writes_dropped, bytes_dropped and torn_bytes (crash
// kinds), bytes_corrupted, ranges_corrupted and files_corrupted (corrupt; its heal's report adds
// ranges_restored, ranges_rewritten and bytes_restored); fsync_errors and slowed_calls of window
// faults are counted by the servers and read with Counters().
//
// Thread-safety: not thread-safe; one caller at a time.
#ifndef FAULTLINE_NEMESIS_DISK_H_
#define FAULTLINE_NEMESIS_DISK_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "nemesis/corrupt.h"
#include "nemesis/fault.h"
#include "nemesis/ledger.h"
#include "nemesis/nemesis.h"
#include "nemesis/node_control.h"

namespace faultline::nemesis {

struct DiskNode {
  std::string node;    // "n1"
  std::string dir;     // the node's data directory (mounted over)
  std::string socket;  // the server's control socket (e.g. <run_dir>/disk-n1.sock)
};

// The kinds DiskFaults applies.
constexpr bool IsDiskFaultKind(FaultKind kind) {
  return kind == FaultKind::kLoseUnsynced || kind == FaultKind::kLoseUnsyncedOne ||
         kind == FaultKind::kFsyncError || kind == FaultKind::kTornWrite ||
         kind == FaultKind::kSlowDisk;
}

// Whether DiskFaults::Apply takes `kind`: the disk fault kinds and corrupt (which needs no mount
// elsewhere: a drill corrupts a directory that is not mounted directly, without undo).
constexpr bool AppliesOnDisk(FaultKind kind) {
  return IsDiskFaultKind(kind) || kind == FaultKind::kCorrupt;
}

// Corrupts `spec.directory`, `node`'s data dir, keeping an undo file next to `ledger` that a
// "disk-corruption" object, amended into the open entry `id` once the undo file is durable and
// before the first byte is damaged, names. Kill point "disk:before-corrupt" sits between the two.
[[nodiscard]] Result<CorruptReport> CorruptWithLedger(const Ledger& ledger, std::uint64_t id,
                                                      const std::string& node,
                                                      const CorruptSpec& spec);

// One request to a server on its control socket; returns the reply after "ok" (Unavailable when
// nothing listens or the server ends while answering, Internal for an "error" reply).
[[nodiscard]] Result<std::string> DiskRequest(const std::string& socket, const std::string& line);
// "a=1 b=2" -> {a: 1, b: 2}.
std::map<std::string, std::int64_t> ParseDiskCounters(const std::string& reply);
// True if `dir` is a mount point of the faulty filesystem now (/proc/self/mounts).
bool IsDiskMounted(const std::string& dir);
// Unmounts `dir` lazily if the faulty filesystem is mounted there; returns what it did.
[[nodiscard]] Result<std::string> UnmountDisk(const std::string& dir);

class DiskFaults {
 public:
  struct Options {
    std::string ledger_path;
    std::string run_id;
    std::vector<DiskNode> nodes;     // cluster order
    NodeControl* control = nullptr;  // borrowed; stops and starts the databases
  };
  [[nodiscard]] static Result<std::unique_ptr<DiskFaults>> Open(Options options);
  ~DiskFaults();
  DiskFaults(const DiskFaults&) = delete;
  DiskFaults& operator=(const DiskFaults&) = delete;

  // Mounts the filesystem over every node's directory: stops the databases, mounts, starts them
  // again. `restart` false: the databases are not running (nothing is stopped or started).
  [[nodiscard]] Result<FaultReport> Mount(bool restart = true);
  // Applies a disk fault kind or corrupt (AppliesOnDisk) on `targets` (resolved node names).
  [[nodiscard]] Result<FaultReport> Apply(const FaultSpec& spec,
                                          const std::vector<std::string>& targets);
  // What a probe file saw in `node`'s data dir (through the filesystem): up to `tries` writes,
  // each followed by fsync, stopping at the first EIO. The file is removed afterwards.
  struct FsyncSeen {
    int fsyncs = 0;
    int errors = 0;
    double slowest_ms = 0;
  };
  [[nodiscard]] Result<FsyncSeen> ProbeFsync(const std::string& node, int tries);
  // The servers' counters summed over nodes (writes_dropped, fsync_errors, slowed_calls, ...).
  [[nodiscard]] Result<std::map<std::string, std::int64_t>> Counters();
  // Heals this process's mount entry: every node unmounted (lazily) and the entry closed.
  FaultReport Unmount();

  const std::vector<DiskNode>& nodes() const { return options_.nodes; }

 private:
  DiskFaults(Options options, Ledger ledger)
      : options_(std::move(options)), ledger_(std::move(ledger)) {}
  LedgerEntry BaseEntry(FaultKind kind, std::string kind_name) const;
  const DiskNode* Find(const std::string& node) const;
  FaultReport ApplyCorrupt(const FaultSpec& spec, const std::vector<std::string>& targets,
                           const std::vector<const DiskNode*>& disks, const LedgerEntry& entry);

  Options options_;
  Ledger ledger_;
  std::uint64_t mount_id_ = 0;
};

// Ledger object inverses for "disk-mount" and "disk-fault" (used by the heal of every ledger).
namespace internal {
// Heals one object; returns what it did, or an error.
[[nodiscard]] Result<std::string> HealDiskObject(const LedgerObject& o);
}  // namespace internal

}  // namespace faultline::nemesis

#endif  // FAULTLINE_NEMESIS_DISK_H_
