// ZooKeeper 3.8 as a built-in system (issue 14 §3): the ensemble's configuration and the commands
// that run it, apart from the System so that they can be tested without a cluster.
#ifndef FAULTLINE_SYSTEMS_INTERNAL_ZOOKEEPER_H_
#define FAULTLINE_SYSTEMS_INTERNAL_ZOOKEEPER_H_

#include <chrono>
#include <string>
#include <string_view>

#include "common/result.h"
#include "systems/system.h"
#include "systems/system_file.h"

namespace faultline::systems::internal {

inline constexpr int kZkClientPort = 2181;
inline constexpr int kZkQuorumPort = 2888;
inline constexpr int kZkElectionPort = 3888;

// Short limits, so that a campaign of tens of seconds sees a cut-off server give up and a new
// leader elected: a follower that hears nothing from the leader for sync_limit ticks (1 s) stops
// serving; the leader that loses its quorum for as long steps down.
struct ZkTuning {
  int tick_ms = 200;
  int init_limit = 10;  // ticks a follower may take to join
  int sync_limit = 5;   // ticks without the leader before a follower gives up
  int heap_mb = 128;    // -Xmx of each server's JVM
};

// The zoo.cfg of cluster.nodes[index] (its myid is index + 1): every node a voting member at its
// address, the client port on the node's address only, four-letter words srvr and ruok (is_up).
[[nodiscard]] Result<std::string> ZooCfg(const SystemCluster& cluster, size_t index,
                                         const ZkTuning& tuning);

// The commands that start, stop, kill, probe and wipe one server (a system file without a file):
// the JVM runs QuorumPeerMain on {data_dir}/zoo.cfg, its pid in {data_dir}/zookeeper.pid, its
// log in {log_dir}/zookeeper.log.
SystemFile ZooKeeperCommands(const ZkTuning& tuning);

// A four-letter word ("srvr") sent to a server's client port, and everything it answered before
// closing; DeadlineExceeded when no whole answer came within `timeout` (a paused server accepts
// the connection and never answers), Unavailable when the connection fails.
[[nodiscard]] Result<std::string> ZkFourLetterWord(const std::string& address, int port,
                                                   std::string_view word,
                                                   std::chrono::milliseconds timeout);

// The server's role from a srvr answer: "leader", "follower", or "" when it is not serving
// (no "Mode: leader|follower" line: looking for a quorum).
std::string ZkMode(std::string_view srvr_answer);

// Writes zoo.cfg and myid into every node's data directory.
[[nodiscard]] Status WriteZooKeeperConfig(const SystemCluster& cluster, const ZkTuning& tuning);

}  // namespace faultline::systems::internal

#endif  // FAULTLINE_SYSTEMS_INTERNAL_ZOOKEEPER_H_
