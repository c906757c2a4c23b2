// The local clusters a `dirt run` uses, one scenario after another. A cluster of the given name
// that is already up is used as it is (its flags should match the scenarios' pinned flags; it is
// left up). Otherwise one is brought up with the first scenario's pinned etcd flags and node
// count, owned by this process (cluster/session.h: its supervisor tears it down if the process
// dies), brought up again when a later scenario pins other flags, and torn down at Finish()
// unless keep is set.
//
// Thread-safety: one thread at a time.
#ifndef FAULTLINE_DIRT_CLUSTER_SESSION_H_
#define FAULTLINE_DIRT_CLUSTER_SESSION_H_

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/cluster.h"
#include "cluster/session.h"
#include "common/result.h"
#include "dirt/scenario.h"

namespace faultline::dirt {

struct DrillClusterOptions {
  std::string name = "dirt";
  std::string state_root;  // empty: cluster::DefaultStateRoot()
  bool keep = false;       // leave a cluster this run brought up (disowned: until cluster down)
  std::function<void(std::string_view)> note;      // one line per decision ("bringing up ...")
  std::function<void(std::string_view)> progress;  // cluster::Up's progress lines
};

// The cluster spec that pins a scenario's node count and etcd flags.
cluster::ClusterSpec SpecFor(const Scenario& scenario, std::string name, std::string state_root);

// Whether a running cluster has the node count and etcd flags the scenario pins.
bool Matches(const cluster::ClusterState& state, const Scenario& scenario);

class DrillClusters {
 public:
  explicit DrillClusters(DrillClusterOptions options) : options_(std::move(options)) {}

  // The cluster to run the scenario on. The reference stays valid until the next call or
  // Finish().
  [[nodiscard]] Result<std::reference_wrapper<const cluster::ClusterState>> For(
      const Scenario& scenario);

  // Tears down (or with keep, leaves) a cluster this run brought up. Idempotent.
  [[nodiscard]] Status Finish();

 private:
  DrillClusterOptions options_;
  std::optional<cluster::Session> session_;
};

}  // namespace faultline::dirt

#endif  // FAULTLINE_DIRT_CLUSTER_SESSION_H_
