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
#include "nemesis/node_control.h"
#include "systems/system.h"

namespace faultline::dirt {

struct DrillClusterOptions {
  std::string name = "dirt";
  std::string state_root;  // empty: cluster::DefaultStateRoot()
  bool keep = false;       // leave a cluster this run brought up (disowned: until cluster down)
  std::function<void(std::string_view)> note;      // one line per decision ("bringing up ...")
  std::function<void(std::string_view)> progress;  // cluster::Up's progress lines
  // A system that is not etcd (systems/system.h): the cluster is brought up without etcd and the
  // system's servers are started on it (System::Form) and stopped before it goes (Teardown).
  // Scenarios' etcd flags then do not apply; only their node counts do. Null: etcd. Borrowed.
  systems::System* system = nullptr;
};

// The cluster spec that pins a scenario's node count and etcd flags (with a system that is not
// etcd: its node count, and no etcd).
cluster::ClusterSpec SpecFor(const Scenario& scenario, std::string name, std::string state_root,
                             const systems::System* system = nullptr);

// Whether a running cluster has the node count and etcd flags the scenario pins (with a system
// that is not etcd: the node count).
bool Matches(const cluster::ClusterState& state, const Scenario& scenario,
             const systems::System* system = nullptr);

class DrillClusters {
 public:
  explicit DrillClusters(DrillClusterOptions options) : options_(std::move(options)) {}

  // The cluster to run the scenario on. The reference stays valid until the next call or
  // Finish().
  [[nodiscard]] Result<std::reference_wrapper<const cluster::ClusterState>> For(
      const Scenario& scenario);

  // Tears down (or with keep, leaves) a cluster this run brought up. Idempotent.
  [[nodiscard]] Status Finish();

  // With a system: the nodes of the cluster For returned as the system sees them, and the
  // cluster's control that runs the system's commands. Valid until the next For or Finish.
  // REQUIRES: For succeeded and options.system is set.
  const systems::SystemCluster& system_nodes() const { return *nodes_; }
  nemesis::NodeControl& shell() const { return *shell_; }

 private:
  // Starts the system's servers on a cluster this run brought up; the nodes and shell either way.
  [[nodiscard]] Status AttachSystem();

  DrillClusterOptions options_;
  std::optional<cluster::Session> session_;
  std::optional<systems::SystemCluster> nodes_;
  std::unique_ptr<nemesis::NodeControl> shell_;
  bool formed_ = false;  // servers this run started (stopped at Finish unless keep)
};

}  // namespace faultline::dirt

#endif  // FAULTLINE_DIRT_CLUSTER_SESSION_H_
