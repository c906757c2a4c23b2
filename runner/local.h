// A campaign against the local test cluster (cluster/cluster.h): bring the cluster up (or use the
// one of that name that is already up, and leave it up), open the nemesis and the etcd clients,
// run ExecuteCampaign, copy each node's etcd log and flags into the run directory, and tear the
// cluster down again unless it was already there or config.leave_db_running is set. A cluster
// brought up here is owned by this process (cluster/session.h): if the process dies mid-run, the
// cluster's supervisor tears it down.
//
// Needs root (namespaces, the supervisor, netlink).
//
// Thread-safety: one call at a time per cluster name.
#ifndef FAULTLINE_RUNNER_LOCAL_H_
#define FAULTLINE_RUNNER_LOCAL_H_

#include <functional>
#include <stop_token>
#include <string>
#include <string_view>

#include "common/result.h"
#include "runner/campaign.h"

namespace faultline::runner {

struct LocalCampaignOptions {
  std::string state_root;                      // empty: cluster::DefaultStateRoot()
  std::function<void(std::string_view)> note;  // one line per step ("cluster up: ...")
};

// config.cluster must be "local" (an error otherwise; ssh:FILE clusters: runner/ssh.h).
[[nodiscard]] Result<RunReport> RunLocalCampaign(const CampaignConfig& config, std::stop_token stop,
                                                 const ProgressFn& progress = {},
                                                 const LocalCampaignOptions& options = {});

}  // namespace faultline::runner

#endif  // FAULTLINE_RUNNER_LOCAL_H_
