// A local cluster for the length of one campaign or drill run. Open() uses the cluster of that
// name if one is up (as it is; it is left up afterwards), or else brings one up from the spec
// with the calling process as its owner, so that the cluster's supervisor tears it down if the
// process dies before Close() (cluster/cluster.h, "Owners"). Close() tears down a cluster the
// session brought up, or with keep leaves it running without owner.
//
// Thread-safety: a Session is used from one thread at a time.
#ifndef FAULTLINE_CLUSTER_SESSION_H_
#define FAULTLINE_CLUSTER_SESSION_H_

#include <optional>
#include <string>

#include "cluster/cluster.h"
#include "common/result.h"

namespace faultline::cluster {

class Session {
 public:
  // spec.owner_pid is ignored: the owner of a cluster brought up here is this process.
  [[nodiscard]] static Result<Session> Open(ClusterSpec spec, const Progress& progress = {});

  Session(Session&& other) noexcept;
  Session& operator=(Session&& other) noexcept;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  // Tears down a cluster this session brought up and that was not closed, ignoring errors (its
  // supervisor would do the same once this process exits). Call Close() to see them.
  ~Session();

  // REQUIRES: open (not moved from, not closed).
  const ClusterState& state() const { return *state_; }
  // The cluster was brought up by this session (and is torn down by Close()).
  bool owned() const { return owned_; }
  bool open() const { return state_.has_value(); }

  // A cluster this session brought up: torn down, or with keep disowned and left running (it
  // then stays until `faultline cluster down`). A cluster found up: left as it is. Idempotent.
  [[nodiscard]] Result<DownReport> Close(bool keep = false);

 private:
  Session(ClusterState state, bool owned, std::string state_root)
      : state_(std::move(state)), owned_(owned), state_root_(std::move(state_root)) {}

  std::optional<ClusterState> state_;
  bool owned_ = false;
  std::string state_root_;
};

}  // namespace faultline::cluster

#endif  // FAULTLINE_CLUSTER_SESSION_H_
