// The part of a campaign that is the same for every kind of cluster (local namespaces, nodes over
// SSH): once the caller has a Nemesis, the nodes, the system under test and a readiness probe,
// this builds the fault injector, the system's client factory and the campaign's dependencies, and
// runs ExecuteCampaign. The caller brings the cluster up (or not), copies node files and tears
// down.
//
// Thread-safety: one call per campaign; the callbacks are called from the campaign's threads.
#ifndef FAULTLINE_RUNNER_INTERNAL_CLUSTER_CAMPAIGN_H_
#define FAULTLINE_RUNNER_INTERNAL_CLUSTER_CAMPAIGN_H_

#include <chrono>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "nemesis/disk.h"
#include "nemesis/nemesis.h"
#include "runner/campaign.h"
#include "systems/system.h"

namespace faultline::runner::internal {

struct ClusterCampaign {
  nemesis::Nemesis* nemesis = nullptr;  // required; borrowed
  std::vector<std::string> nodes;       // cluster order
  // The current leader's node name, or nullopt (for kIsolateLeader).
  std::function<std::optional<std::string>()> leader;
  ProbeTargets probes;                  // what the fault probes reach the nodes through
  systems::System* system = nullptr;    // required; borrowed
  systems::SystemCluster system_nodes;  // what the system's clients connect to
  // Returns once the cluster answers (true) or the deadline passes (false).
  std::function<bool(std::chrono::steady_clock::time_point deadline)> wait_ready;
  std::function<void(std::string_view)> note;  // may be empty
  // The faulty filesystem over the nodes' data dirs, mounted by the caller (disk fault kinds);
  // null when the campaign has none. Borrowed.
  nemesis::DiskFaults* disks = nullptr;
};

// Runs the campaign in `files` (made by MakeRunDir) against the cluster. The report's text is not
// rendered (the caller adds its warnings first).
[[nodiscard]] Result<RunReport> RunClusterCampaign(const CampaignConfig& config,
                                                   const ClusterCampaign& cluster,
                                                   const RunFiles& files, std::stop_token stop,
                                                   const ProgressFn& progress);

}  // namespace faultline::runner::internal

#endif  // FAULTLINE_RUNNER_INTERNAL_CLUSTER_CAMPAIGN_H_
