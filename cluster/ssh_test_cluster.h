// A throwaway namespace cluster with sshd on every node, for the privileged SSH tests and the SSH
// benchmark (not part of the library). Builds a nemesis::testing::NetnsCluster, a client key and
// one sshd per node (PrepareSshd, started with `ip netns exec NS sshd ...`, which execs in place,
// so sshd is this process's child), waits until every sshd accepts connections, and describes the
// nodes in a NodesFile. The destructor stops each sshd by its PID (SIGTERM, then waitpid), removes
// the files and the namespaces, and removes /run/sshd if faultline made it and no sshd runs any
// more.
//
// Destroy every SshControl using it first: its masters hold sessions on the nodes' sshd.
//
// Thread-safety: not thread-safe; accessors may be called concurrently once Create returned.
#ifndef FAULTLINE_CLUSTER_SSH_TEST_CLUSTER_H_
#define FAULTLINE_CLUSTER_SSH_TEST_CLUSTER_H_

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cluster/nodes_file.h"
#include "cluster/sshd.h"
#include "common/result.h"
#include "nemesis/testing/netns_cluster.h"

namespace faultline::cluster::testing {

class SshTestCluster {
 public:
  // `db` gives each node's database commands (the test's fake database), by node name.
  [[nodiscard]] static Result<std::unique_ptr<SshTestCluster>> Create(
      int nodes, const std::function<DbCommands(const std::string& node)>& db);
  ~SshTestCluster();
  SshTestCluster(const SshTestCluster&) = delete;
  SshTestCluster& operator=(const SshTestCluster&) = delete;

  const nemesis::testing::NetnsCluster& netns() const { return *netns_; }
  const NodesFile& nodes_file() const { return file_; }
  const std::vector<pid_t>& sshd_pids() const { return sshd_pids_; }
  const std::string& dir() const { return dir_; }

 private:
  SshTestCluster() = default;

  std::unique_ptr<nemesis::testing::NetnsCluster> netns_;
  std::string dir_;
  NodesFile file_;
  std::vector<pid_t> sshd_pids_;
};

}  // namespace faultline::cluster::testing

#endif  // FAULTLINE_CLUSTER_SSH_TEST_CLUSTER_H_
