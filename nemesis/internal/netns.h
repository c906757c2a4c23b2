// Helpers for the Net backends and their tests: entering network namespaces on dedicated threads,
// mapping errno with hints (programs run through common/process.h). Not part of the public API.
//
// Thread-safety: all functions are safe to call from several threads at once.
#ifndef FAULTLINE_NEMESIS_INTERNAL_NETNS_H_
#define FAULTLINE_NEMESIS_INTERNAL_NETNS_H_

#include <sys/types.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/result.h"

namespace faultline::nemesis::internal {

// "n1" -> "/var/run/netns/n1"; an absolute path is returned unchanged.
std::string NetnsPath(std::string_view netns);

// An Error for errno `err`: EPERM/EACCES -> kPermissionDenied, ENOENT -> kNotFound, and so on.
Error ErrnoError(int err, std::string_view context);

// Runs fn on a new thread that first enters the network namespace at NetnsPath(netns), and waits
// for it. The calling thread never changes namespace; the helper thread ends after fn.
[[nodiscard]] Status RunInNetns(std::string_view netns, const std::function<Status()>& fn);

// Runs fn(i) for every i in [0, netns.size()), in parallel, each on its own thread inside
// netns[i]. Returns one Status per index.
std::vector<Status> RunInNetnsParallel(const std::vector<std::string>& netns,
                                       const std::function<Status(size_t)>& fn);

// One thread per node that entered the node's namespace once and runs jobs there, so that repeated
// work on a node pays neither thread creation nor setns, and per-thread state (a libnftables
// context) survives between jobs. A worker whose namespace file now names another namespace (the
// node was rebuilt under the same name) is replaced on the next ForEach.
//
// A worker keeps its namespace alive: destroy the owner before expecting a deleted namespace to be
// freed. Thread-safety: ForEach is not reentrant; call it from one thread at a time.
class NodeWorkers {
 public:
  explicit NodeWorkers(std::vector<std::string> netns);
  ~NodeWorkers();
  NodeWorkers(const NodeWorkers&) = delete;
  NodeWorkers& operator=(const NodeWorkers&) = delete;

  // Runs fn(i) for every node i on that node's worker, all nodes in parallel, and waits.
  std::vector<Status> ForEach(const std::function<Status(size_t)>& fn);

 private:
  class Worker;
  std::vector<std::string> netns_;
  std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace faultline::nemesis::internal

#endif  // FAULTLINE_NEMESIS_INTERNAL_NETNS_H_
