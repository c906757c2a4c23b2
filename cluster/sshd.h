// sshd in the local cluster's namespaces, so the SSH control path can be tested as if the nodes
// were VMs (PLATFORM.md §9), and the nodes file that describes a cluster reached over SSH.
//
// Thread-safety: functions are thread-safe for different directories.
#ifndef FAULTLINE_CLUSTER_SSHD_H_
#define FAULTLINE_CLUSTER_SSHD_H_

#include <string>
#include <vector>

#include "cluster/nodes_file.h"
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

// The nodes-file entry for a node reached through the sshd PrepareSshd configured: root@address:22
// with the cluster's key and known_hosts, no database commands (the caller sets db).
SshNode SshNodeFor(const std::string& name, const std::string& address, const SshClientKey& key);

// Writes state.ssh_nodes_file: a nodes file (cluster/nodes_file.h) describing this local
// cluster's nodes as SSH hosts (root@<node address>:22, the cluster's key and known_hosts), with
// database commands that work through them:
//   start  FAULTLINE_STATE_DIR=<root> <faultline> cluster ctl <node> start --name <cluster>
//   kill   FAULTLINE_STATE_DIR=<root> <faultline> cluster ctl <node> kill --name <cluster>
//   pid    pgrep -o -f 'etcd.*--data-dir[= ]<node data dir>' (the live process, found by its data
//          directory; the state file's pid may be stale, and the pattern cannot match the shell
//          running it)
// <faultline> is the running binary (/proc/self/exe resolved), as the caller is `faultline cluster
// up`; the overload takes it explicitly (tests, or a binary that moved). <root> is the state root
// the run directory lives under.
[[nodiscard]] Status WriteNodesFile(const ClusterState& state, const SshClientKey& key);
[[nodiscard]] Status WriteNodesFile(const ClusterState& state, const SshClientKey& key,
                                    const std::string& faultline_binary);

// sshd needs its privilege separation directory /run/sshd. PrepareSshd creates it if missing and
// then records that faultline made it, in the marker file kRunSshdMarker, so that teardown removes
// it only then. Returns whether this call created it.
inline constexpr char kRunSshdDir[] = "/run/sshd";
inline constexpr char kRunSshdMarker[] = "/run/faultline-made-run-sshd";
[[nodiscard]] Result<bool> EnsureRunSshdDir();
// Removes /run/sshd (if empty) and the marker, if the marker says faultline made it. Call after
// the last sshd faultline started is gone (other faultline clusters with --ssh may still need it:
// the caller knows whether any is up). Returns whether it removed the directory.
[[nodiscard]] Result<bool> RemoveRunSshdDirIfMade();

}  // namespace faultline::cluster

#endif  // FAULTLINE_CLUSTER_SSHD_H_
