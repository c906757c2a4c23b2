// FaultApplier: applies a drill's fault steps, every one through the nemesis and its fsync'd
// ledger BEFORE it takes effect: nemesis::ApplyFault with the step's FaultSpec for kills, starts,
// pauses, isolations and crashes (the last through nemesis::DrillFaults); DrillFaults directly
// for corruptions and sieges (nemesis.h says why). A corruption of a data dir on the faulty
// filesystem keeps an undo that the heal restores (DrillFaults::CorruptUndoable); a plain data
// dir is damaged for good. The ledger is the cluster's own,
// <run_dir>/nemesis.ledger, the one `faultline nemesis status` and `heal` read, and the entries
// are owned by this process: if the drill dies, `faultline nemesis heal` (or the next drill's
// Open) undoes what it left. The drill's rollback is a heal of the entries it opened; nothing is
// undone from memory.
//
// Test hook: FAULTLINE_KILL_POINT names a point at which the process SIGKILLs itself, right after
// a step of that kind took effect: "after-pause", "during-isolate", "during-siege", "after-crash",
// "after-kill", "after-start", "after-corrupt" (dirt/crash_test.cc).
//
// Thread-safety: Process may be called from the repair playbook's thread while the stepping loop
// calls the rest; everything else from the stepping loop's thread.
#ifndef FAULTLINE_DIRT_INTERNAL_FAULTS_H_
#define FAULTLINE_DIRT_INTERNAL_FAULTS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cluster/cluster.h"
#include "common/result.h"
#include "dirt/drill.h"
#include "dirt/internal/record.h"
#include "dirt/internal/time.h"
#include "dirt/scenario.h"
#include "nemesis/drill_faults.h"
#include "nemesis/fault.h"
#include "nemesis/nemesis.h"
#include "nemesis/node_control.h"
#include "nemesis/siege.h"

namespace faultline::dirt::internal {

// The ledger a drill on `state` records its faults in: the cluster's, shared with the CLI.
std::string LedgerPath(const cluster::ClusterState& state);

class FaultApplier {
 public:
  // Sets the restart safeguard (the drill holds it off while it damages a member's files).
  using SetPolicy = std::function<void(bool enabled, const std::string& why)>;

  // Borrows every argument; they must outlive the applier.
  FaultApplier(const cluster::ClusterState& state, nemesis::NodeControl& control,
               const Scenario& scenario, const DrillOptions& options, DrillRecord& record,
               SetPolicy set_policy);
  ~FaultApplier();
  FaultApplier(const FaultApplier&) = delete;
  FaultApplier& operator=(const FaultApplier&) = delete;

  // Opens the nemesis on the cluster's ledger; faults a process that is gone left open there are
  // healed first (a "check" event says what). An error when the ledger cannot be used: then the
  // drill must not inject anything.
  [[nodiscard]] Status Open();

  // Applies step `index` of the scenario to `nodes`; "fault" events say what happened.
  void Apply(const Step& step, size_t index, const std::vector<std::string>& nodes);
  // Ends the timed faults whose duration is over (resume, heal an isolation, stop a siege).
  void EndDue();
  // No timed fault is still waiting for its end.
  bool Ended() const;
  // A process action on `nodes` through nemesis::ApplyFault, one event of `source`/`kind` per
  // node. True when it succeeded on every node (and for no nodes).
  bool Process(const std::string& source, const std::string& kind,
               const std::vector<std::string>& nodes, nemesis::ProcessAction action);
  // Stops every siege, heals every ledger entry the drill opened, and starts any database process
  // that is still down.
  void Rollback();

  bool step_failed() const { return step_failed_; }
  // When each corrupted node's files were damaged.
  const std::map<std::string, MonoTime>& corrupted() const { return corrupted_; }

 private:
  struct Timed {
    enum class End { kResume, kHealPartition, kStopSiege };
    MonoTime due;
    End end = End::kResume;
    std::vector<std::string> nodes;
    std::uint64_t ledger_id = 0;  // kHealPartition
    size_t siege = 0;             // kStopSiege: index into sieges_
    bool done = false;
  };
  struct RunningSiege {
    std::uint64_t ledger_id = 0;
    std::unique_ptr<nemesis::Siege> siege;
  };

  // nemesis::ApplyFault with a spec whose targets are node names already.
  [[nodiscard]] Result<nemesis::FaultReport> ApplyResolved(const nemesis::FaultSpec& spec);
  // A process fault (`spec`, targets `nodes`) through ApplyResolved, one event per node.
  bool ApplyProcess(const std::string& source, const std::string& kind,
                    const nemesis::FaultSpec& spec, const std::vector<std::string>& nodes);
  void Crash(const std::vector<std::string>& nodes);
  void Isolate(const Step& step, const std::vector<std::string>& nodes);
  void CorruptNode(const Step& step, size_t index, const std::string& name);
  void StartSiege(const Step& step, const std::string& name);
  void StopSiege(size_t idx, const std::string& source);
  void HealPartition(std::uint64_t id, const std::string& nodes);
  void Failed(const std::string& kind, const std::string& node, const std::string& why);

  const cluster::ClusterState& state_;
  nemesis::NodeControl& control_;
  const Scenario& s_;
  const DrillOptions& options_;
  DrillRecord& record_;
  SetPolicy set_policy_;
  std::vector<std::string> names_;
  // The nemesis and the drill faults are not thread-safe: one caller at a time.
  std::mutex mu_;
  std::unique_ptr<nemesis::Nemesis> nemesis_;
  std::unique_ptr<nemesis::DrillFaults> drill_faults_;
  std::uint64_t first_id_ = 0;  // entries after this one, owned by this process, are the drill's
  bool step_failed_ = false;
  std::vector<Timed> timed_;
  std::vector<RunningSiege> sieges_;
  std::map<std::string, MonoTime> corrupted_;
};

}  // namespace faultline::dirt::internal

#endif  // FAULTLINE_DIRT_INTERNAL_FAULTS_H_
