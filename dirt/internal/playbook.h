// The repair playbook for a member that cannot start on its own data, and the checks after a
// drill's rollback. Not part of the public API.
//
// Thread-safety: RepairMember may run on its own thread beside the stepping loop (it reaches the
// nemesis only through FaultApplier::Process); PostChecks from one thread.
#ifndef FAULTLINE_DIRT_INTERNAL_PLAYBOOK_H_
#define FAULTLINE_DIRT_INTERNAL_PLAYBOOK_H_

#include <string>

#include "cluster/cluster.h"
#include "dirt/internal/faults.h"
#include "dirt/internal/record.h"
#include "dirt/scenario.h"
#include "nemesis/node_control.h"

namespace faultline::dirt::internal {

// Removes the member from the cluster through a healthy peer, wipes its data, adds it back, starts
// it (state existing) and waits until it serves. Every action is a "playbook" event with its
// outcome. True when the member serves again.
bool RepairMember(const cluster::ClusterState& state, const Scenario& s, const std::string& name,
                  nemesis::NodeControl& control, FaultApplier& faults, DrillRecord& record,
                  const FaultApplier::SetPolicy& set_policy);

// After rollback: the cluster serves a write then a read (DrillResult::serves_after), and every
// member's HashKV agrees at one revision (DrillResult::hashes_equal).
void PostChecks(const cluster::ClusterState& state, const Scenario& s, DrillRecord& record);
// The same for a system that is not etcd (DrillOptions::system): a register write then read
// through the system's client; HashKV is etcd's, so hashes_equal stays unset (a note says so).
void SystemPostChecks(const DrillOptions& options, const Scenario& s, DrillRecord& record);

}  // namespace faultline::dirt::internal

#endif  // FAULTLINE_DIRT_INTERNAL_PLAYBOOK_H_
