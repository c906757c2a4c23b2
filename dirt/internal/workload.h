// The register workload beside a drill (scenario "workload"): runner::RunCampaign on its own
// thread for the drill's duration, with no fault injector (the drill's own steps are the faults)
// and the drill's history log as the campaign's log, so client ops and drill events interleave in
// one log; afterwards its client ops are checked for linearizability. Not part of the public API.
//
// Thread-safety: Start, Stop and Check from one thread.
#ifndef FAULTLINE_DIRT_INTERNAL_WORKLOAD_H_
#define FAULTLINE_DIRT_INTERNAL_WORKLOAD_H_

#include <memory>
#include <optional>
#include <stop_token>
#include <thread>

#include "client/client.h"
#include "cluster/cluster.h"
#include "common/result.h"
#include "dirt/internal/record.h"
#include "dirt/scenario.h"
#include "runner/campaign.h"

namespace faultline::dirt::internal {

class DrillWorkload {
 public:
  DrillWorkload() = default;
  ~DrillWorkload() { Stop(); }
  DrillWorkload(const DrillWorkload&) = delete;
  DrillWorkload& operator=(const DrillWorkload&) = delete;

  // Starts the scenario's workload if it has one, recording into the record's log (a note, and
  // no workload, when there is no log). The outcome is a "check" event.
  // A system that is not etcd (options.system) gets the workload through its own client factory.
  void Start(const cluster::ClusterState& state, const Scenario& s, const DrillOptions& options,
             DrillRecord& record);
  // Stops it (the stop token) and joins; idempotent.
  void Stop();
  // Checks the logged client ops and stores the ConsistencyResult (and its event).
  // REQUIRES: Stop was called.
  void Check(const Scenario& s, DrillRecord& record);

 private:
  runner::CampaignConfig config_;
  std::unique_ptr<client::ClientFactory> factory_;
  runner::CampaignDeps deps_;
  std::stop_source stop_;
  std::thread thread_;
  std::optional<Result<runner::RunStats>> stats_;
};

}  // namespace faultline::dirt::internal

#endif  // FAULTLINE_DIRT_INTERNAL_WORKLOAD_H_
