// Nemesis: the fault injector the CLI (`faultline nemesis ...`), the campaign runner and DiRT
// drills use. It composes a Net backend (partitions), a NodeControl (process faults, commands on
// nodes) and packet faults (loss, delay, bandwidth), and writes every fault, with its inverse, to
// an fsync'd ledger BEFORE applying it, so that HealAll() — in this process, in a later one
// (`faultline nemesis heal`), or in the deadline watchdog — can undo it even after a crash.
//
// Heal means: partitions removed, packet-fault rules/qdiscs/queues removed, paused processes
// resumed, killed database processes started again. Afterwards no rule, route, qdisc, queue or
// paused process of faultline's remains, and nothing faultline did not create was touched.
//
// Thread-safety: not thread-safe; one caller at a time.
#ifndef FAULTLINE_NEMESIS_NEMESIS_H_
#define FAULTLINE_NEMESIS_NEMESIS_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "nemesis/clock.h"
#include "nemesis/fault.h"
#include "nemesis/grudge.h"
#include "nemesis/membership.h"
#include "nemesis/net.h"
#include "nemesis/node_control.h"

namespace faultline::nemesis {

// What one fault (or heal) did; the runner records it as an :info op of process `nemesis`.
struct FaultReport {
  std::uint64_t ledger_id = 0;  // 0 for reports without a ledger record (status, heal)
  // kPartition, kKill, kPause, kResume, kStart, kRestart, kLoss, kDelay, kBandwidth or kHeal;
  // printed by its name (FaultKindName).
  FaultKind kind = FaultKind::kHeal;
  std::string description;           // e.g. "halves n1,n2 | n3,n4,n5 (drop)"
  std::vector<std::string> nodes;    // nodes acted on, in cluster order
  bool ok = false;                   // every node done
  std::vector<std::string> failed;   // nodes where it failed (their error is in details)
  std::vector<std::string> details;  // per node: the mechanism really used, or the error
  std::vector<std::string> notes;    // caveats (e.g. what new-only did to established flows)
  // Partitions, as the campaign records them: the nodes the grudge cut off from a majority of
  // the cluster (CutOffFromMajority); empty for other kinds and when nobody was.
  std::vector<std::string> cut_off;
  // What the fault did, by name (disk faults: writes_dropped, bytes_dropped, torn_bytes,
  // fsync_errors); written into the fault's entry of nemesis.json.
  std::map<std::string, std::int64_t> counts;
  std::int64_t start_mono_ns = 0;  // CLOCK_MONOTONIC when applying began
  std::int64_t end_mono_ns = 0;    // and when it returned
  std::string Describe() const;    // one line, then details
};

struct NemesisOptions {
  NetConfig net;  // nodes and the run id for the backends' objects
  BackendKind backend = BackendKind::kAuto;
  std::string ledger_path;         // e.g. <run_dir>/nemesis.ledger
  NodeControl* control = nullptr;  // borrowed; required for process and packet faults
  // A fault still open this long after it was applied is healed by the watchdog even if this
  // process hangs or dies; zero = no deadline.
  std::chrono::milliseconds deadline{0};
  // Added for packet faults and CLI use (additive):
  // The controller's address on the cluster network; packet faults spare it unless asked.
  std::string control_address;
  // The node device tbf shapes.
  std::string device = "eth0";
  // Heal, in Open, the faults whose owner process is gone. The CLI turns this off: its faults
  // are meant to outlive the command that applied them, until `faultline nemesis heal`.
  bool heal_on_open = true;
  // If set, partitions go through the Net it makes (e.g. MakeCommandNet over an SSH control)
  // instead of `backend`, and heals of partitions recorded under that Net's name use it too.
  std::function<Result<std::unique_ptr<Net>>(const NetConfig& config)> make_net;
  // How clock faults reach the nodes (nemesis/clock.h): on a local cluster, each node's
  // libfaketime timestamp file and why the system cannot be reached, if it cannot.
  ClockAccess clock;
  // Borrowed; the system's membership (System::Membership), for member-remove and member-add and
  // for healing removals. Null: this system cannot change its membership, and open removals in
  // the ledger fail to heal (and stay open) until a heal that has one.
  Membership* membership = nullptr;
};

class Nemesis {
 public:
  // Opens (creating if needed) the ledger. Faults left open in it by a process that is gone are
  // healed first; the result's `recovered` says what that did.
  [[nodiscard]] static Result<std::unique_ptr<Nemesis>> Open(const NemesisOptions& options);
  virtual ~Nemesis() = default;
  Nemesis() = default;
  Nemesis(const Nemesis&) = delete;
  Nemesis& operator=(const Nemesis&) = delete;

  [[nodiscard]] virtual Result<FaultReport> Partition(const Grudge& grudge, PartitionMode mode) = 0;
  [[nodiscard]] virtual Result<FaultReport> Process(const std::vector<std::string>& nodes,
                                                    ProcessAction action) = 0;
  // Packets leaving `nodes` toward `peers` (empty = every other node; the control address is
  // spared unless include_control) are dropped with this probability (0..1).
  [[nodiscard]] virtual Result<FaultReport> Loss(const std::vector<std::string>& nodes,
                                                 const std::vector<std::string>& peers,
                                                 double probability, bool include_control) = 0;
  // Packets leaving `nodes` toward `peers` are held delay ± jitter (NFQUEUE helper process).
  [[nodiscard]] virtual Result<FaultReport> Delay(const std::vector<std::string>& nodes,
                                                  const std::vector<std::string>& peers,
                                                  std::chrono::milliseconds delay,
                                                  std::chrono::milliseconds jitter,
                                                  bool include_control) = 0;
  // A share of the packets leaving `nodes` toward `peers` duplicated, reordered or corrupted
  // (nemesis/packet_mangle.h), through NFQUEUE and a helper process as for Delay. The heal that
  // ends the helper reports its counts (FaultReport::counts).
  struct Mangling {
    FaultKind kind = FaultKind::kDuplicate;  // kDuplicate, kReorder or kPacketCorrupt
    double share = 0.3;                      // 0..1
    std::chrono::milliseconds delay{0};      // kReorder: how long a packet is held (> 0)
    std::chrono::milliseconds jitter{0};     // kReorder: ± this much (at most the delay)
  };
  [[nodiscard]] virtual Result<FaultReport> Mangle(const std::vector<std::string>& nodes,
                                                   const std::vector<std::string>& peers,
                                                   const Mangling& mangling,
                                                   bool include_control) = 0;
  // Egress of `nodes` limited to kbit_per_s (tbf on the node's eth0).
  [[nodiscard]] virtual Result<FaultReport> Bandwidth(const std::vector<std::string>& nodes,
                                                      std::int64_t kbit_per_s) = 0;
  // Removes `nodes` from the cluster's membership (kRemove: recorded in the ledger first, refused
  // by the guard of nemesis/membership.h) or adds them back (kAdd: closes the removals it undid),
  // one node at a time through NemesisOptions::membership. Added (additive, not pure): a Nemesis
  // without membership refuses.
  [[nodiscard]] virtual Result<FaultReport> Member(const std::vector<std::string>& nodes,
                                                   MemberAction action);
  // Heals every fault open in the ledger (also ones recorded by other processes).
  virtual FaultReport HealAll() = 0;
  // A clock fault (clock-bump, clock-strobe, clock-reset; nemesis/clock.h) on resolved `targets`.
  // Added (additive): the default refuses, for injectors that have no clocks.
  [[nodiscard]] virtual Result<FaultReport> Clock(const FaultSpec& spec,
                                                  const std::vector<std::string>& targets) {
    (void)targets;
    return MakeError(ErrorCode::kUnavailable, "nemesis: " + std::string(FaultKindName(spec.kind)) +
                                                  ": this nemesis cannot reach clocks");
  }
  // Faults open in the ledger now, one line each with the mechanism used.
  [[nodiscard]] virtual Result<std::vector<std::string>> OpenFaults() const = 0;
  // What Open healed of faults left by processes that are gone (nullopt if nothing was open).
  // Added (additive): the result of Open had no other place to say it.
  virtual std::optional<FaultReport> recovered() const { return std::nullopt; }
};

class DrillFaults;  // nemesis/drill_faults.h
class ProxyFaults;  // nemesis/proxy_faults.h
class DiskFaults;   // nemesis/disk.h

// What ApplyFault needs beyond the Nemesis for the faults that are not the Nemesis's own.
struct FaultContext {
  DrillFaults* drill_faults = nullptr;  // borrowed; kCrash
  ProxyFaults* proxy_faults = nullptr;  // borrowed; proxy fault kinds (IsProxyFaultKind)
  DiskFaults* disk_faults = nullptr;    // borrowed; disk fault kinds and corrupt (AppliesOnDisk)
};

// Applies one fault through `nemesis`, the path every caller with a FaultSpec takes: partitions
// (FaultGrudge over `nodes`, in the spec's partition mode), process faults through the node
// controller (kill, pause, resume, start, restart), packet faults (loss, delay, bandwidth,
// duplicate, reorder, packet-corrupt), clocks through Nemesis::Clock, heal, kCrash through
// `context.drill_faults`, member-remove / member-add through Nemesis::Member, disk faults through
// `context.disk_faults` and proxy faults (http-status, ..., proxy-latency) through
// `context.proxy_faults` (InvalidArgument without one). Targets are resolved by
// FaultTargets (`leader` is asked only for "leader"). The spec is validated first.
//
// kCorrupt goes through `context.disk_faults` when there is one (the data dirs are on the faulty
// filesystem: the corruption keeps an undo, nemesis/disk.h). Otherwise kCorrupt and kSiege are
// not applied here (InvalidArgument): a drill applies them through
// DrillFaults (nemesis/drill_faults.h), which records them in the same ledger. They do not fit
// one call returning a FaultReport without contortions:
// - a corruption is a sequence around the drill's own state: record, stop the member with the
//   cluster's restart safeguard held off, damage the files in the node's data dir (which only the
//   cluster state knows), start it, restore the safeguard; the drill judges detection from what
//   it altered and when;
// - a siege is a running thing: Start returns live burners (a Siege) that the caller stops at the
//   step's end and whose figures it reports, and it needs the node's cgroups from the cluster
//   state. A FaultReport cannot carry either.
[[nodiscard]] Result<FaultReport> ApplyFault(Nemesis& nemesis, const FaultSpec& spec,
                                             const std::vector<std::string>& nodes,
                                             const LeaderFn& leader,
                                             const FaultContext& context = {});

}  // namespace faultline::nemesis

#endif  // FAULTLINE_NEMESIS_NEMESIS_H_
