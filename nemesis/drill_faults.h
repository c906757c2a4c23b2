// DrillFaults: the faults a DiRT drill adds to the Nemesis's own — a crash (SIGKILL straight to a
// database process, as the OOM killer would), an on-disk corruption and a resource siege —
// recorded in the same fsync'd ledger as the Nemesis's faults BEFORE they take effect, so that
// `faultline nemesis status` lists them and `faultline nemesis heal` (or the next Nemesis::Open,
// once the process that applied them is gone) undoes them:
//   crash, corruption  the node's database process runs again (ledger object "killed"; repairing
//                      damaged data is the drill's playbook, not a heal, except for a corruption
//                      through the faulty filesystem, CorruptUndoable, whose heal first restores
//                      the damaged ranges that still hold the damage)
//   siege              its burner processes end, the cgroup settings it raised get their old
//                      values back, and its scratch files are removed ("burner", "setting",
//                      "scratch-file")
// Entries are owned by this process (PID and start time), like every nemesis entry.
//
// Thread-safety: not thread-safe; one caller at a time. The ledger file itself may be shared
// with other processes (nemesis/ledger.h).
#ifndef FAULTLINE_NEMESIS_DRILL_FAULTS_H_
#define FAULTLINE_NEMESIS_DRILL_FAULTS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "nemesis/corrupt.h"
#include "nemesis/ledger.h"
#include "nemesis/nemesis.h"
#include "nemesis/node_control.h"
#include "nemesis/siege.h"

namespace faultline::nemesis {

// True if `entry` was opened by this process (its owner PID and start time are ours).
bool OwnedByThisProcess(const LedgerEntry& entry);

class DrillFaults {
 public:
  // Opens (creating if needed) the ledger at `ledger_path`; `control` is borrowed and must outlive
  // the DrillFaults. `run_id` tags the entries (the cluster's NetConfig::run_id).
  [[nodiscard]] static Result<std::unique_ptr<DrillFaults>> Open(const std::string& ledger_path,
                                                                 NodeControl& control,
                                                                 std::string run_id);
  DrillFaults(const DrillFaults&) = delete;
  DrillFaults& operator=(const DrillFaults&) = delete;

  // SIGKILLs each node's database process directly (checked against the start time the node
  // controller reports, so a reused PID is never signalled), all back to back. The process's
  // supervisor sees an unexpected exit. One detail per node, "<node>: <what happened>".
  [[nodiscard]] Result<FaultReport> Crash(const std::vector<std::string>& nodes);

  // Records that `node`'s data is about to be damaged (the caller stops it, damages the files and
  // starts it). Returns the ledger id; the entry stays open until healed or closed.
  [[nodiscard]] Result<std::uint64_t> RecordCorruption(const std::string& node,
                                                       const std::string& description);

  // Damages `spec.directory`, `node`'s data dir, for the open corruption entry `id` (from
  // RecordCorruption) keeping an undo file, named in the entry before the first byte changes
  // (nemesis/disk.h, CorruptWithLedger): the heal then restores the damaged ranges that still hold
  // the damage before it starts the node. For a data dir on the faulty filesystem.
  [[nodiscard]] Result<CorruptReport> CorruptUndoable(std::uint64_t id, const std::string& node,
                                                      const CorruptSpec& spec);

  struct StartedSiege {
    std::uint64_t ledger_id = 0;
    std::unique_ptr<Siege> siege;
  };
  // Starts a siege whose every change is added to its ledger entry before it is made. After
  // Siege::Stop, Close the entry. On error the siege is stopped and its entry healed.
  [[nodiscard]] Result<StartedSiege> StartSiege(const SiegeTarget& target, SiegeSpec spec);

  // Closes an entry whose fault the caller undid itself (e.g. a siege it stopped).
  [[nodiscard]] Status Close(std::uint64_t id, std::string_view how);

  // Heals (and closes) every open entry `select` accepts, whoever recorded it (Nemesis entries
  // included: partitions are healed through a fresh backend of the kind they recorded).
  FaultReport Heal(const std::function<bool(const LedgerEntry&)>& select);

  // The highest id recorded so far (0 for an empty ledger).
  [[nodiscard]] Result<std::uint64_t> LastId() const;

  const std::string& ledger_path() const { return ledger_.path(); }

 private:
  DrillFaults(Ledger ledger, NodeControl& control, std::string run_id)
      : ledger_(std::move(ledger)), control_(control), run_id_(std::move(run_id)) {}
  LedgerEntry BaseEntry(std::string kind) const;

  Ledger ledger_;
  NodeControl& control_;
  std::string run_id_;
};

}  // namespace faultline::nemesis

#endif  // FAULTLINE_NEMESIS_DRILL_FAULTS_H_
