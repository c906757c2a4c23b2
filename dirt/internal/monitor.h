// Monitor: the drill's measurements while it runs. Threads probe every member's /health (plus a
// linearizable read through it), a put then a linearizable range through the gateway, a small
// throughput load, and sample them into ProbeSamples every probe interval; others take
// control-plane snapshots and a resource metrics timeline (per node from its cgroups and
// /proc/<pid>/net/dev, the host from /proc). Not part of the public API.
//
// Thread-safety: thread-safe; Start and Stop from one thread.
#ifndef FAULTLINE_DIRT_INTERNAL_MONITOR_H_
#define FAULTLINE_DIRT_INTERNAL_MONITOR_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cluster/cluster.h"
#include "dirt/drill.h"
#include "dirt/internal/time.h"
#include "dirt/recovery.h"
#include "dirt/scenario.h"
#include "nemesis/node_control.h"

namespace faultline::dirt::internal {

class Monitor {
 public:
  // Borrows every argument; they must outlive the monitor.
  Monitor(const cluster::ClusterState& state, nemesis::NodeControl& control,
          const Scenario& scenario, const DrillOptions& options);
  ~Monitor();  // stops
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;

  void Start();
  // Joins the threads; idempotent.
  void Stop();

  // Successful load ops per second over [from, to].
  double OpsPerSecond(MonoTime from, MonoTime to);
  // Load ops that failed so far, and the last one's error ("" when none failed).
  std::pair<std::uint64_t, std::string> LoadFailures();
  // The throughput the samples compare against.
  void SetBaseline(double ops);
  // The first fault's time (snapshot and metrics offsets count from it).
  void SetFault(MonoTime at);

  std::vector<ProbeSample> Samples();
  std::optional<ProbeSample> Last();
  std::vector<std::string> Dumps();    // control-plane snapshots, JSON objects
  std::vector<std::string> Metrics();  // resource metrics samples, JSON objects

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace faultline::dirt::internal

#endif  // FAULTLINE_DIRT_INTERNAL_MONITOR_H_
