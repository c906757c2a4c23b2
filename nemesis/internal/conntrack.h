// Deleting conntrack entries, so that a "new connections only" partition also cuts flows opened
// before it. Not part of the public API.
//
// Thread-safety: call on a thread inside the target network namespace (the netlink socket is
// opened in the calling thread's namespace); calls on different threads are independent.
#ifndef FAULTLINE_NEMESIS_INTERNAL_CONNTRACK_H_
#define FAULTLINE_NEMESIS_INTERNAL_CONNTRACK_H_

#include <set>
#include <string>

#include "common/result.h"

namespace faultline::nemesis::internal {

// Deletes every IPv4 conntrack entry whose original source address is in `sources` (the flows
// those hosts opened towards this namespace). Returns how many were deleted.
[[nodiscard]] Result<int> DeleteConntrackFrom(const std::set<std::string>& sources);

}  // namespace faultline::nemesis::internal

#endif  // FAULTLINE_NEMESIS_INTERNAL_CONNTRACK_H_
