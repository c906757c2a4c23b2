// A throwaway namespace cluster for privileged tests and benchmarks of the Net backends.
//
// Layout (PLATFORM.md §3): one network namespace per node (<prefix>n1..), each with `lo` and an
// `eth0` veth whose peer is a port of a bridge in its own namespace (<prefix>br); the root
// namespace gets one veth (<prefix>h) onto the bridge with the control address .254. Addresses are
// 198.19.X.K/24 with X in 64..127, chosen so that no address of the root namespace is in that /24
// and held with a lock file under /run/lock, so concurrent test processes never share a subnet.
// No namespace gets a default route and nothing enables forwarding.
//
// The prefix is "fnm<pid>". Create() first removes leftovers of dead processes (namespaces and
// root links named fnm<N>... where process N no longer exists); the destructor always removes
// everything the cluster made.
//
// Thread-safety: not thread-safe; accessors may be called concurrently once Create returned.
#ifndef FAULTLINE_NEMESIS_TESTING_NETNS_CLUSTER_H_
#define FAULTLINE_NEMESIS_TESTING_NETNS_CLUSTER_H_

#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "nemesis/net.h"

namespace faultline::nemesis::testing {

class NetnsCluster {
 public:
  // Builds a cluster of `nodes` (1..9) nodes named n1..nN. Needs root.
  [[nodiscard]] static Result<std::unique_ptr<NetnsCluster>> Create(int nodes);
  ~NetnsCluster();
  NetnsCluster(const NetnsCluster&) = delete;
  NetnsCluster& operator=(const NetnsCluster&) = delete;

  // A NetConfig for the backends, with the given run id.
  NetConfig Config(const std::string& run_id) const;
  const std::vector<NetNode>& nodes() const { return nodes_; }
  std::vector<std::string> NodeNames() const;
  const std::string& control_address() const { return control_address_; }
  const std::string& prefix() const { return prefix_; }
  const std::string& bridge_netns() const { return bridge_netns_; }

  // Removes namespaces and root links of dead fnm<pid> processes. Returns what it removed.
  static std::vector<std::string> CleanupLeftovers();

 private:
  NetnsCluster() = default;
  void Teardown();

  std::string prefix_;
  std::string bridge_netns_;
  std::string host_link_;
  std::string control_address_;
  std::vector<NetNode> nodes_;
  std::vector<std::string> created_netns_;
  bool created_host_link_ = false;
  int lock_fd_ = -1;
};

}  // namespace faultline::nemesis::testing

#endif  // FAULTLINE_NEMESIS_TESTING_NETNS_CLUSTER_H_
