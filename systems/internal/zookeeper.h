// ZooKeeper 3.8 as a built-in system (issue 14 §3): the ensemble's configuration and the commands
// that run it, apart from the System so that they can be tested without a cluster.
#ifndef FAULTLINE_SYSTEMS_INTERNAL_ZOOKEEPER_H_
#define FAULTLINE_SYSTEMS_INTERNAL_ZOOKEEPER_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

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

// The static zoo.cfg of cluster.nodes[index] (its myid is index + 1): dynamic reconfig enabled
// (reconfigEnabled=true, standaloneEnabled=false, skipACL=yes, the servers in
// {data_dir}/zoo.cfg.dynamic), four-letter words srvr and ruok (is_up).
//
// skipACL=yes rather than a super digest: these are faultline's own ensembles, reached only in
// this run's namespaces, and the workload's znodes carry no ACLs; a digest would have to be handed
// to every admin session and kept out of the logs for nothing. Only reconfig needs it (ZooKeeper
// 3.8 allows reconfig to the super user or, with skipACL, to every client).
[[nodiscard]] Result<std::string> ZooCfg(const SystemCluster& cluster, size_t index,
                                         const ZkTuning& tuning);

// A server's part of the dynamic configuration: "198.18.0.2:2888:3888:participant;
// 198.18.0.2:2181" (quorum and election ports, voting, the client port on its address).
std::string ZkServerSpec(const SystemNode& node);

// Server id -> spec, as a dynamic configuration or /zookeeper/config lists them.
using ZkServers = std::map<int, std::string>;

// Every node of `cluster` as a voting member, ids 1..N in cluster order.
ZkServers ZkAllServers(const SystemCluster& cluster);

// "server.1=<spec>\n..." (no version line: a server starting from it takes what its peers have).
std::string ZkDynamicConfig(const ZkServers& servers);

// A configuration as /zookeeper/config holds it: server lines and "version=<hex zxid>".
struct ZkConfig {
  ZkServers servers;
  uint64_t version = 0;
};
// InvalidArgument when a line is neither (other keys are ignored) or no server is listed.
[[nodiscard]] Result<ZkConfig> ParseZkConfig(std::string_view text);

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
// Writes zoo.cfg, zoo.cfg.dynamic (`servers`) and myid into cluster.nodes[index]'s data directory.
[[nodiscard]] Status WriteZooKeeperNodeConfig(const SystemCluster& cluster, size_t index,
                                              const ZkServers& servers, const ZkTuning& tuning);

// What the membership asks the servers; the real one (MakeZkAdmin) goes through
// client/zookeeper_admin.h and srvr, tests give a fake.
class ZkAdmin {
 public:
  ZkAdmin() = default;
  virtual ~ZkAdmin() = default;
  ZkAdmin(const ZkAdmin&) = delete;
  ZkAdmin& operator=(const ZkAdmin&) = delete;
  // /zookeeper/config as `node` has committed it.
  [[nodiscard]] virtual Result<std::string> GetConfig(const SystemNode& node) = 0;
  // An incremental reconfig through any of `via` (see client::ZkReconfig); the new configuration.
  [[nodiscard]] virtual Result<std::string> Reconfig(const std::vector<SystemNode>& via,
                                                     std::string_view joining,
                                                     std::string_view leaving) = 0;
  // The node's srvr answer.
  [[nodiscard]] virtual Result<std::string> Srvr(const SystemNode& node) = 0;
};
std::unique_ptr<ZkAdmin> MakeZkAdmin(std::chrono::milliseconds timeout);

struct ZkMembershipOptions {
  std::chrono::milliseconds change_timeout{20000};  // retrying a reconfig refused for now
  std::chrono::milliseconds start_timeout{40000};   // an added server until it serves
  std::chrono::milliseconds poll{200};
};

// Membership through dynamic reconfig (nemesis/membership.h). Remove: reconfig -remove <id>
// through the other members, then kill the server and wipe version-2 and its dynamic
// configuration. Add: kill and wipe what is left of a non-member, write its configuration naming
// the current ensemble and itself, start it (it syncs as a non-voting follower), reconfig -add
// "server.<id>=<spec>", and wait until the ensemble lists it and its srvr says leader or follower.
// Both idempotent. `control` and `admin` are borrowed.
std::unique_ptr<nemesis::Membership> MakeZkMembership(const SystemCluster& cluster,
                                                      nemesis::NodeControl& control, ZkAdmin& admin,
                                                      const ZkTuning& tuning,
                                                      ZkMembershipOptions options = {});

}  // namespace faultline::systems::internal

#endif  // FAULTLINE_SYSTEMS_INTERNAL_ZOOKEEPER_H_
