// SystemProbe: the drill's probes for a system that is not etcd (systems/system.h), through the
// system's own client factory and readiness, so a drill measures recovery the way a user of that
// system would see it: a node is healthy when the system says it serves clients (its is_up
// command; ZooKeeper: `srvr` names it leader or follower), and the write+read probe, the load and
// the post-drill check are register ops (write, then read the same key) through the system's
// client to one node. Not part of the public API.
//
// Thread-safety: one thread per SystemProbe (it owns an io_context and a client per node); the
// System it borrows may be shared, as systems/system.h allows.
#ifndef FAULTLINE_DIRT_INTERNAL_SYSTEM_PROBE_H_
#define FAULTLINE_DIRT_INTERNAL_SYSTEM_PROBE_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/client.h"
#include "common/result.h"
#include "nemesis/node_control.h"
#include "systems/system.h"

namespace faultline::dirt::internal {

// Register keys the probes use, far above the workload's (runner/generator.h draws small keys).
inline constexpr std::int64_t kProbeKeyWriteRead = 1'000'001;
inline constexpr std::int64_t kProbeKeyAfter = 1'000'002;
inline constexpr std::int64_t kProbeKeyLoad = 1'000'100;  // .. + 63

class SystemProbe {
 public:
  // Borrows `system`, `nodes` and `shell` (which runs the system's commands on a node); they must
  // outlive the probe. Reads are linearizable where the system offers a choice (ZooKeeper: sync).
  [[nodiscard]] static Result<std::unique_ptr<SystemProbe>> Make(
      systems::System& system, const systems::SystemCluster& nodes, nemesis::NodeControl& shell,
      std::chrono::milliseconds timeout);
  ~SystemProbe();
  SystemProbe(const SystemProbe&) = delete;
  SystemProbe& operator=(const SystemProbe&) = delete;

  size_t size() const { return nodes_.nodes.size(); }
  // Ok when node `i` serves clients (the system's readiness for that one node).
  [[nodiscard]] Status Healthy(size_t i);
  // A register write of `value` to `key` through node i; an error unless it completed ok.
  [[nodiscard]] Status Write(size_t i, std::int64_t key, std::int64_t value);
  // A register read through node i: the value, or nullopt for a key never written.
  [[nodiscard]] Result<std::optional<std::int64_t>> Read(size_t i, std::int64_t key);

 private:
  SystemProbe(systems::System& system, const systems::SystemCluster& nodes,
              nemesis::NodeControl& shell, std::unique_ptr<client::ClientFactory> factory);
  // Runs one op through node i's client (opened on first use, replaced after an info).
  [[nodiscard]] Result<client::Completion> Invoke(size_t i, history::Op op);

  systems::System& system_;
  const systems::SystemCluster& nodes_;
  nemesis::NodeControl& shell_;
  std::unique_ptr<boost::asio::io_context> io_;
  std::unique_ptr<client::ClientFactory> factory_;
  std::vector<std::unique_ptr<client::Client>> clients_;  // per node
  std::vector<std::int64_t> generation_;                  // per node: clients replaced so far
};

}  // namespace faultline::dirt::internal

#endif  // FAULTLINE_DIRT_INTERNAL_SYSTEM_PROBE_H_
