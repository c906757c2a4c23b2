// The consistency check of a drill that ran a workload: the client ops recorded in the drill's
// history log (between the drill's own events) are read back and checked as a campaign's would be
// (runner::CheckHistory: linearizability per key for the register workload, plus its sanity
// checks), and the result decides part of the drill's verdict. Not part of the public API.
//
// Thread-safety: free functions without shared state.
#ifndef FAULTLINE_DIRT_INTERNAL_CONSISTENCY_H_
#define FAULTLINE_DIRT_INTERNAL_CONSISTENCY_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "dirt/drill.h"
#include "runner/campaign.h"

namespace faultline::dirt::internal {

// Reads the log at log_path (it may still be open: an unsealed prefix is read as it stands),
// keeps the client ops and checks them against config. Anything that keeps the check from
// concluding (an unreadable log, client ops that do not pair, a checker error) gives unknown with
// the reason in summary. `warnings` (the workload's own) are appended to detail.
ConsistencyResult CheckLoggedConsistency(const std::string& log_path,
                                         const runner::CampaignConfig& config,
                                         const std::vector<std::string>& warnings = {});

// What a consistency result does to the drill's verdict: invalid -> FAIL (the history is not
// linearizable), unknown -> INVALID (consistency during the drill was not established; the drill
// applies it only when nothing else failed, so a late recovery still reads FAIL), valid -> nothing
// (nullopt). The string is the verdict's reason.
std::optional<std::pair<Verdict, std::string>> ConsistencyVerdict(const ConsistencyResult& c);

}  // namespace faultline::dirt::internal

#endif  // FAULTLINE_DIRT_INTERNAL_CONSISTENCY_H_
