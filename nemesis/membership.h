// Membership: growing and shrinking a cluster during a run, as Jepsen's etcd test does (remove a
// member, stop it and wipe its data; later add it back and start it on an empty data dir). The
// nemesis applies the member-remove and member-add fault kinds (nemesis/fault.h) through this
// small interface; a system that supports membership changes (systems/system.h,
// System::Membership) implements it, so the nemesis and the runner never name a system.
//
// Every removal goes through the ledger first (an object "member-removed" per node), so a heal —
// in this process, in `faultline nemesis heal`, or in a later Nemesis::Open after a SIGKILL — adds
// the node back and the cluster returns to its original membership. The deadline watchdog has no
// Membership: an open removal it meets fails to heal there and stays open for the next heal.
//
// Guard: a removal may never leave fewer members than a majority of the original cluster
// (floor(N/2)+1 of its N nodes; 3 of 5, 2 of 3), whatever else has been removed already, so the
// cluster keeps a quorum it could have had at the start (CheckShrink).
//
// Thread-safety: implementations are used by one caller at a time.
#ifndef FAULTLINE_NEMESIS_MEMBERSHIP_H_
#define FAULTLINE_NEMESIS_MEMBERSHIP_H_

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace faultline::nemesis {

enum class MemberAction { kRemove, kAdd };

// Called by a Membership after each step of a change ("removed", "stopped", "wiped", "added",
// "started"), so the nemesis can name kill points between the steps (FAULTLINE_CRASH_AT
// "member-removed", ...).
using MemberStep = std::function<void(std::string_view step)>;

class Membership {
 public:
  Membership() = default;
  virtual ~Membership() = default;
  Membership(const Membership&) = delete;
  Membership& operator=(const Membership&) = delete;

  // What changes the membership, for reports ("etcd member API").
  virtual std::string_view Name() const = 0;
  // How many nodes may be out of the membership at once (a limit of the system's, below the
  // majority guard's).
  virtual size_t MaxOut() const { return static_cast<size_t>(-1); }
  // The nodes that are members now, in cluster order (a member added but not yet started counts).
  [[nodiscard]] virtual Result<std::vector<std::string>> Members() = 0;
  // Takes `node` out of the cluster: removes it from the membership, stops its server and wipes
  // what would keep it from joining again. Idempotent: a node that is no member any more is only
  // stopped and wiped. Returns what was done, one line.
  [[nodiscard]] virtual Result<std::string> Remove(const std::string& node,
                                                   const MemberStep& step) = 0;
  // Puts `node` back: adds it to the membership (unless it is a member) and starts its server,
  // returning once it serves as a member or with an error. Idempotent.
  [[nodiscard]] virtual Result<std::string> Add(const std::string& node,
                                                const MemberStep& step) = 0;
};

// The guard (see the top): Ok if every node of `removing` is a member now and the members left,
// `members` minus `removing`, are at least floor(N/2)+1 of the N `original` nodes; otherwise
// InvalidArgument saying how many may still go ("member-remove n1,n2,n3: would leave 2 of the 5
// original members, fewer than a majority (3); at most 2 may be removed now"). Pure.
// `max_out` (Membership::MaxOut) also bounds how many of `original` may be out at once.
[[nodiscard]] Status CheckShrink(const std::vector<std::string>& original,
                                 const std::vector<std::string>& members,
                                 const std::vector<std::string>& removing,
                                 size_t max_out = static_cast<size_t>(-1));

}  // namespace faultline::nemesis

#endif  // FAULTLINE_NEMESIS_MEMBERSHIP_H_
