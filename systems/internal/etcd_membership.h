// etcd's membership as a nemesis::Membership (member remove / add through the JSON gateway's
// /v3/cluster/member/*, as Jepsen's etcd test does): remove a member, stop its server and wipe its
// data dir's member/; add it back and start it, the supervisor restarting it with
// --initial-cluster-state existing on the empty data dir, so it joins as a new member with a
// snapshot from the leader. Not part of the public API.
//
// Thread-safety: one caller at a time.
#ifndef FAULTLINE_SYSTEMS_INTERNAL_ETCD_MEMBERSHIP_H_
#define FAULTLINE_SYSTEMS_INTERNAL_ETCD_MEMBERSHIP_H_

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "nemesis/membership.h"
#include "nemesis/node_control.h"
#include "systems/system.h"

namespace faultline::systems::internal {

struct EtcdMember {
  std::string id;    // decimal, as the gateway writes uint64s
  std::string name;  // empty while a member added is not started yet
  std::vector<std::string> peer_urls;
  bool operator==(const EtcdMember&) const = default;
};

struct EtcdMemberList {
  std::string asked_id;  // header.member_id: the member that answered
  std::vector<EtcdMember> members;
};

// A /v3/cluster/member/list (or add / remove) reply. InvalidArgument naming what is missing.
[[nodiscard]] Result<EtcdMemberList> ParseEtcdMembers(std::string_view body);
// "http://198.18.0.2:2380"
std::string EtcdPeerUrl(const SystemNode& node);

struct EtcdMembershipOptions {
  std::chrono::milliseconds request_timeout{2000};
  // How long a member add or remove that etcd refuses as transient ("unhealthy cluster": a
  // member connected less than 5 s ago) is retried.
  std::chrono::milliseconds change_timeout{15000};
  // How long Add waits for the member it added to start (publish its name).
  std::chrono::milliseconds start_timeout{20000};
};

// `control` is borrowed and must outlive the result; `cluster` is copied.
std::unique_ptr<nemesis::Membership> MakeEtcdMembership(const SystemCluster& cluster,
                                                        nemesis::NodeControl& control,
                                                        EtcdMembershipOptions options = {});

}  // namespace faultline::systems::internal

#endif  // FAULTLINE_SYSTEMS_INTERNAL_ETCD_MEMBERSHIP_H_
