// The pure half of DrillClusters: which cluster spec a scenario pins, and when a running cluster
// no longer matches it (and a cluster of the run's own is brought up again).
#include "dirt/cluster_session.h"

#include <gtest/gtest.h>

namespace faultline::dirt {
namespace {

Scenario Pinned() {
  Scenario s;
  s.id = "DIRT99";
  s.nodes = 3;
  s.db.pre_vote = false;
  s.db.heartbeat_ms = 20;
  s.db.election_ms = 200;
  s.db.snapshot_count = 100;
  s.db.corrupt_check = true;
  return s;
}

cluster::ClusterState StateOf(const cluster::ClusterSpec& spec) {
  cluster::ClusterState state;
  state.name = spec.name;
  state.etcd = spec.etcd;
  state.nodes.resize(static_cast<size_t>(spec.nodes));
  return state;
}

TEST(DrillClustersTest, SpecPinsTheScenarioFlags) {
  const cluster::ClusterSpec spec = SpecFor(Pinned(), "dirt", "/tmp/state");
  EXPECT_EQ(spec.name, "dirt");
  EXPECT_EQ(spec.state_root, "/tmp/state");
  EXPECT_EQ(spec.nodes, 3);
  EXPECT_EQ(spec.db, cluster::Db::kEtcd);
  EXPECT_FALSE(spec.etcd.pre_vote);
  EXPECT_EQ(spec.etcd.heartbeat_ms, 20);
  EXPECT_EQ(spec.etcd.election_ms, 200);
  EXPECT_EQ(spec.etcd.snapshot_count, 100);
  EXPECT_TRUE(spec.etcd.corrupt_check);
  // The owner is set by the session that brings it up, never by the spec.
  EXPECT_EQ(spec.owner_pid, 0);
}

TEST(DrillClustersTest, AnyPinnedDifferenceIsAMismatch) {
  const Scenario s = Pinned();
  const cluster::ClusterState same = StateOf(SpecFor(s, "dirt", ""));
  EXPECT_TRUE(Matches(same, s));
  auto differs = [&](auto change) {
    Scenario other = s;
    change(other);
    return !Matches(same, other);
  };
  EXPECT_TRUE(differs([](Scenario& o) { o.nodes = 5; }));
  EXPECT_TRUE(differs([](Scenario& o) { o.db.pre_vote = true; }));
  EXPECT_TRUE(differs([](Scenario& o) { o.db.heartbeat_ms = 100; }));
  EXPECT_TRUE(differs([](Scenario& o) { o.db.election_ms = 1000; }));
  EXPECT_TRUE(differs([](Scenario& o) { o.db.snapshot_count = 10000; }));
  EXPECT_TRUE(differs([](Scenario& o) { o.db.corrupt_check = false; }));
}

}  // namespace
}  // namespace faultline::dirt
