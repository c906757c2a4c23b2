// A drill's log patterns (checker/log_patterns.h): where each node's log stands when the drill
// begins, and after it the counts, kept in the result, with an exceeded maximum turning a PASS
// into INVALID. Not part of the public API.
//
// Thread-safety: pure functions over their arguments (and the log files).
#ifndef FAULTLINE_DIRT_INTERNAL_LOG_SCAN_H_
#define FAULTLINE_DIRT_INTERNAL_LOG_SCAN_H_

#include <span>
#include <vector>

#include "checker/log_patterns.h"
#include "cluster/cluster.h"
#include "dirt/drill.h"

namespace faultline::dirt::internal {

// Each node's log, from its size now (the cluster may have served earlier drills).
std::vector<checker::NodeLog> NodeLogsFromNow(const cluster::ClusterState& state);

// Counts the patterns into res.log_patterns. An exceeded maximum makes a PASS INVALID with the
// pattern named in the reason (another verdict keeps its own, the reason adds the pattern); a log
// that could not be read is a note.
void JudgeLogPatterns(std::span<const checker::NodeLog> logs,
                      std::span<const checker::LogPattern> patterns, DrillResult& res);

}  // namespace faultline::dirt::internal

#endif  // FAULTLINE_DIRT_INTERNAL_LOG_SCAN_H_
