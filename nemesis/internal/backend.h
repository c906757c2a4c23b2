// Shared pieces of the Net backends: config and grudge validation, report building.
// Not part of the public API.
//
// Thread-safety: pure functions.
#ifndef FAULTLINE_NEMESIS_INTERNAL_BACKEND_H_
#define FAULTLINE_NEMESIS_INTERNAL_BACKEND_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "nemesis/grudge.h"
#include "nemesis/net.h"

namespace faultline::nemesis::internal {

// Checks run id, node names, addresses (dotted IPv4) and uniqueness.
[[nodiscard]] Status ValidateConfig(std::string_view backend, const NetConfig& config);

// Checks that every node the grudge names is in the config, and returns it normalized.
[[nodiscard]] Result<Grudge> ValidateGrudge(std::string_view backend, const NetConfig& config,
                                            const Grudge& grudge);

// The per-node reports an apply starts from: node i's peers are by_node[config.nodes[i].name], and
// every node needs healing until it reports success (it may hold a half-applied partition).
std::vector<NodeReport> PendingReports(const NetConfig& config, const Grudge& by_node);

// The network namespace of each node, in config order.
std::vector<std::string> NetnsOf(const NetConfig& config);

// The address of each peer (by node name), in peer order.
std::vector<std::string> PeerAddresses(const NetConfig& config, const NodeSet& peers);

// "nemesis: <action> <backend>: on <node>" context for errors.
std::string NodeContext(std::string_view backend, std::string_view action, std::string_view node);

// Builds a report from per-node outcomes; outcome[i] belongs to config.nodes[i].
NetReport MakeReport(std::string_view backend, std::string_view action, PartitionMode mode,
                     const NetConfig& config, std::vector<NodeReport> nodes);
// The same, folding in the status each node's work returned (statuses[i] for config.nodes[i]):
// a failed node is not ok and carries its error with the node named; a node whose heal failed
// still needs healing.
NetReport MakeReport(std::string_view backend, std::string_view action, PartitionMode mode,
                     const NetConfig& config, std::vector<NodeReport> nodes,
                     const std::vector<Status>& statuses);

// What a new-only apply did about established flows on one node.
struct ConntrackOutcome {
  bool ran = false;  // the node had peers and its rules were installed
  int deleted = 0;
  std::optional<Error> error;
};

// Runs on a thread inside the node's namespace, after its new-only rules are in place: deletes the
// conntrack entries of flows the peers opened, so that their next packet is "new" and dropped.
ConntrackOutcome CutEstablishedFlows(const NetConfig& config, const NodeSet& peers);

// The report note on established flows, naming per node what was deleted or what failed.
std::string ConntrackNote(const NetConfig& config, const std::vector<ConntrackOutcome>& outcomes);

// The report of a partition apply by a backend that cuts established flows itself on new-only:
// MakeReport with the statuses, the grudge described, and for new-only the note on those flows.
NetReport ApplyReport(std::string_view backend, PartitionMode mode, const NetConfig& config,
                      std::vector<NodeReport> nodes, const std::vector<Status>& statuses,
                      const Grudge& grudge, const std::vector<ConntrackOutcome>& conntrack);

}  // namespace faultline::nemesis::internal

#endif  // FAULTLINE_NEMESIS_INTERNAL_BACKEND_H_
