// sshd in the local cluster's namespaces, so the SSH control path can be tested as if the nodes
// were VMs (PLATFORM.md §9), and the nodes file that describes a cluster reached over SSH.
//
// Thread-safety: functions are thread-safe for different directories.
#ifndef FAULTLINE_CLUSTER_SSHD_H_
#define FAULTLINE_CLUSTER_SSHD_H_

#include <string>
#include <vector>

#include "common/result.h"

namespace faultline::cluster {

struct ClusterState;

// The client side: a per-cluster ed25519 key pair and a private known_hosts file.
struct SshClientKey {
  std::string private_key;  // <dir>/id_ed25519
  std::string public_key;   // <dir>/id_ed25519.pub
  std::string known_hosts;  // <dir>/known_hosts
};
// Creates the key pair under dir (ssh-keygen) unless it exists.
[[nodiscard]] Result<SshClientKey> EnsureClientKey(const std::string& dir);

// Writes an sshd config, host key and authorized_keys for one node under node_dir (listening on
// address:22 only, key login for root, SetEnv SHLVL=1, no PAM, no DNS), creates /run/sshd if it
// is missing, and returns the argv to exec inside the node's namespace ("/usr/sbin/sshd", "-D",
// "-e", "-f", CONF). The caller (the supervisor) starts and owns the process.
[[nodiscard]] Result<std::vector<std::string>> PrepareSshd(const std::string& node_dir,
                                                           const std::string& address,
                                                           const SshClientKey& key);

// Writes state.ssh_nodes_file: a nodes file (cluster/ssh_control.h) describing this local
// cluster's nodes as SSH hosts, with database commands that work through them.
[[nodiscard]] Status WriteNodesFile(const ClusterState& state, const SshClientKey& key);

}  // namespace faultline::cluster

#endif  // FAULTLINE_CLUSTER_SSHD_H_
