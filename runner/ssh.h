// A campaign against a cluster reached over SSH (`--cluster ssh:FILE`): the nodes file
// (cluster/nodes_file.h; `faultline cluster up --ssh` writes one for the local cluster) names the
// nodes, how ssh reaches them, and the database commands that kill and start etcd on each. The
// cluster is the user's: the campaign neither brings it up nor tears it down, and checks first
// that every node answers over ssh and that the etcd members answer on their client port.
//
// Faults over ssh (cluster/ssh_nemesis.h): partitions (iptables-restore run over ssh on each
// node), kill and pause (the nodes file's db commands, kill -STOP/-CONT of db.pid). Packet loss is
// refused (InvalidArgument naming --nemesis): it needs the nodes' network namespaces on this
// machine. The clients talk to etcd at http://<node address>:<client_port>; the leader (for
// isolate-leader) and readiness come from each member's /v3/maintenance/status.
//
// The run directory's nodes/ holds the nodes file, and per node what could be fetched over ssh
// (best effort; warnings say what could not): etcd.log (found next to db.data_dir, else in
// /var/log, else journalctl -u etcd) and cmdline.txt (the running etcd's flags, from /proc).
//
// Thread-safety: one call at a time per nodes file.
#ifndef FAULTLINE_RUNNER_SSH_H_
#define FAULTLINE_RUNNER_SSH_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>

#include "cluster/nodes_file.h"
#include "cluster/ssh_control.h"
#include "common/ports.h"
#include "common/result.h"
#include "runner/campaign.h"

namespace faultline::runner {

struct SshCampaignOptions {
  std::function<void(std::string_view)> note;  // one line per step
  cluster::SshControlOptions ssh;
  std::uint16_t client_port = kEtcdClientPort;  // etcd's client port on every node
  // How long the members may take to answer before the campaign starts (an error after it).
  double ready_timeout_s = 15;
};

// The nodes file path of a "ssh:FILE" cluster spec, or nullopt if `cluster` is not of that form.
std::optional<std::string> SshNodesFilePath(std::string_view cluster);

// The node a majority of the file's etcd members name as leader (each asked for its
// /v3/maintenance/status at <address>:client_port, in parallel), or nullopt when none has a
// majority or no member answers. Blocks up to about `timeout`.
std::optional<std::string> SshClusterLeader(
    const cluster::NodesFile& file, std::uint16_t client_port = kEtcdClientPort,
    std::chrono::milliseconds timeout = std::chrono::milliseconds(500));

// Runs the campaign in a new run directory under config.out. Errors before a run directory is
// made: InvalidArgument when config.cluster is not "ssh:FILE", when config.nemesis holds loss, or
// when config.isolate_node is not in the nodes file; NotFound for a missing nodes file; an ssh
// error when a node does not answer; Unavailable when the members are not ready in time.
// config.nodes and config.leave_db_running do not apply (a note says so when they were set
// otherwise); the config recorded in the run directory has nodes set to the file's count.
[[nodiscard]] Result<RunReport> RunSshCampaign(const CampaignConfig& config, std::stop_token stop,
                                               const ProgressFn& progress = {},
                                               const SshCampaignOptions& options = {});

}  // namespace faultline::runner

#endif  // FAULTLINE_RUNNER_SSH_H_
