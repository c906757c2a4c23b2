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
// Other systems (the nodes file's "system", or --system: a built-in name or a system file): the
// campaign creates each node's {data_dir} and {log_dir} over ssh, starts the servers with the
// system's own commands (setup, start; unless they already serve, then they are used as they are
// and left running), does process faults with them (kill, pause, pid, ...), and at the end stops
// the servers and wipes their data (stop, kill, wipe; not with --leave-db-running). Clients reach
// every node at its client_address:client_port (defaults: address and the system's client port);
// the system's log files (System::LogFiles), this run's part of each, land in nodes/<node>/.
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
#include "systems/system.h"

namespace faultline::runner {

struct SshCampaignOptions {
  std::function<void(std::string_view)> note;  // one line per step
  cluster::SshControlOptions ssh;
  // etcd's client port on nodes whose client_port the nodes file does not give (other systems:
  // the system's client port).
  std::uint16_t client_port = kEtcdClientPort;
  // How long the members may take to answer before the campaign starts (an error after it).
  double ready_timeout_s = 15;
};

// The nodes file path of a "ssh:FILE" cluster spec, or nullopt if `cluster` is not of that form.
std::optional<std::string> SshNodesFilePath(std::string_view cluster);

// The system a campaign (or fit run) over the nodes file puts under test: the file's "system"
// when `requested` is empty or names the same system (system files compared by their canonical
// paths), `requested` when the file names none. A file and a request naming different systems
// is InvalidArgument naming both and the nodes file.
[[nodiscard]] Result<std::string> SshSystem(const cluster::NodesFile& file,
                                            std::string_view nodes_file_path,
                                            std::string_view requested);

// The nodes of the file as the system sees them: each node's client address and port (defaults:
// its address and `default_port`), and its {data_dir} / {log_dir} (defaults under
// /var/tmp/faultline/<cluster>/<node>/; db.data_dir for data when given).
systems::SystemCluster SshSystemNodes(const cluster::NodesFile& file, std::string name,
                                      int default_port);

// Readies a system other than etcd on nodes over ssh for a run: makes every node's {data_dir}
// and {log_dir} (which also proves each node answers), then starts the servers with the system's
// commands (System::Form, within `timeout`) unless every node already serves. True when it
// started them: the caller stops them again with System::Teardown. On an error, what it started
// is stopped already.
[[nodiscard]] Result<bool> StartSshSystem(systems::System& system,
                                          const systems::SystemCluster& nodes,
                                          nemesis::NodeControl& shell,
                                          std::chrono::milliseconds timeout,
                                          const systems::Progress& note);

// Runs the campaign in a new run directory under config.out. Errors before a run directory is
// made: InvalidArgument when config.cluster is not "ssh:FILE", when config.nemesis holds loss, or
// when config.isolate_node is not in the nodes file, when config.system and the nodes file's
// system differ (SshSystem); NotFound for a missing nodes file; an ssh error when a node does not
// answer; Unavailable when the members are not ready in time (etcd) or the servers do not start
// (other systems; what the campaign started is stopped again). config.nodes does not apply, nor
// config.leave_db_running for etcd (a note says so when they were set otherwise); the config
// recorded in the run directory has nodes set to the file's count.
[[nodiscard]] Result<RunReport> RunSshCampaign(const CampaignConfig& config, std::stop_token stop,
                                               const ProgressFn& progress = {},
                                               const SshCampaignOptions& options = {});

}  // namespace faultline::runner

#endif  // FAULTLINE_RUNNER_SSH_H_
