// Healing ledger entries: the idempotent inverse of every object kind the nemesis records. Shared
// by Nemesis::HealAll, Nemesis::Open (orphans) and the deadline watchdog. Not part of the public
// API.
//
// Thread-safety: not thread-safe for one ledger entry; different entries may be healed at once.
#ifndef FAULTLINE_NEMESIS_INTERNAL_HEAL_H_
#define FAULTLINE_NEMESIS_INTERNAL_HEAL_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "nemesis/ledger.h"
#include "nemesis/membership.h"
#include "nemesis/nemesis.h"
#include "nemesis/net.h"
#include "nemesis/node_control.h"

namespace faultline::nemesis::internal {

// Gives the Net to heal a partition entry with (a cached one, or a new one), by the backend name
// the entry recorded ("nft", "netlink", "iptables", "iptables-over-ssh", ...).
using NetFor = std::function<Result<Net*>(const std::string& backend, const NetConfig& config)>;

struct EntryHeal {
  bool ok = true;
  std::vector<std::string> details;            // "n1: nft delete table inet faultline_r_loss3", ...
  std::vector<std::string> failed;             // node names (or "helper") whose inverse failed
  std::map<std::string, std::int64_t> counts;  // what ended helpers counted (FaultReport::counts)
};

// Undoes every object of `entry`. Objects already gone count as healed. `control` may be null:
// paused local processes are then resumed by signal, and killed ones cannot be started (failure).
// `membership` may be null: removed members then cannot be added back (failure, entry kept open).
EntryHeal HealEntry(const LedgerEntry& entry, NodeControl* control, const NetFor& net_for,
                    Membership* membership = nullptr);

// Heals every open entry `select` accepts, closing each one that healed completely. The report's
// kind is "heal". Mounts of the faulty filesystem whose owner is alive are left alone unless
// `include_live_mounts` (nemesis/disk.h).
FaultReport HealEntries(const Ledger& ledger, NodeControl* control, const NetFor& net_for,
                        const std::function<bool(const LedgerEntry&)>& select,
                        Membership* membership = nullptr, bool include_live_mounts = false);

// A NetFor that makes a new backend each time and keeps it in `keep` until the caller is done.
NetFor FreshNets(std::vector<std::unique_ptr<Net>>& keep);

// Monotonic nanoseconds (CLOCK_MONOTONIC), for FaultReport times.
inline std::int64_t MonoNanos() { return MonotonicNow().count(); }

}  // namespace faultline::nemesis::internal

#endif  // FAULTLINE_NEMESIS_INTERNAL_HEAL_H_
