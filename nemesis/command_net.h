// A Net backend that installs partitions through a command runner rather than in-process: for each
// node, in parallel, one `iptables-restore --noflush` fed on stdin through NodeControl::Run (over
// SSH with cluster/ssh_control.h, or through the local control). Same chain naming and semantics
// as the in-process iptables backend (nemesis/net.h): rules in a chain `faultline_<run>` of the
// filter table, jumped to from INPUT; drop, reject and new-only; heal deletes the jump, then
// flushes and deletes that chain only. Reports name the mechanism, e.g. "iptables-restore over
// ssh".
//
// Round trips per node: apply 1 (for new-only, `conntrack -D -s PEER` per peer runs in the same
// command, after the rules are in place); heal 1 when this Net applied the partition it heals
// (it knows exactly one jump and the chain are there), else 2 (`iptables-save -t filter`, then a
// restore that removes only what it shows of ours), and also 2 if the 1-round-trip heal failed.
//
// Unlike the in-process backend, it does not remove the nft table `ip filter` that iptables-nft
// creates on first use in an empty namespace (its base chains stay, empty, with policy ACCEPT).
//
// Thread-safety: like every Net, one caller at a time. The NodeControl must be thread-safe for
// different nodes (as the interface promises) and must outlive the Net.
#ifndef FAULTLINE_NEMESIS_COMMAND_NET_H_
#define FAULTLINE_NEMESIS_COMMAND_NET_H_

#include <memory>
#include <string>

#include "common/result.h"
#include "nemesis/net.h"
#include "nemesis/node_control.h"

namespace faultline::nemesis {

struct CommandNetOptions {
  // New-only: delete the conntrack entries of flows the filtered peers opened (`conntrack -D -s`
  // on the node), so that established flows are cut too; NetReport::notes says what happened.
  bool delete_conntrack = true;
};

// A Net over control.Run. Config nodes are matched to control nodes by name; a node's `netns` is
// not used (it may be empty) and `address` is the address its peers' packets come from.
// Errors (InvalidArgument) for a bad config or a node the control does not know.
// REQUIRES: control outlives the returned Net.
[[nodiscard]] Result<std::unique_ptr<Net>> MakeCommandNet(const NetConfig& config,
                                                          NodeControl& control,
                                                          const CommandNetOptions& options = {});

}  // namespace faultline::nemesis

#endif  // FAULTLINE_NEMESIS_COMMAND_NET_H_
