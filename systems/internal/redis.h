// Redis 7 with Sentinel as a built-in system (issue 14 §2): its options, the configuration files of
// its servers and Sentinels, the commands that run the servers, and the account of a run (the
// failovers the Sentinels made and the acknowledged writes they cost), apart from the System so
// that they can be tested without a cluster.
#ifndef FAULTLINE_SYSTEMS_INTERNAL_REDIS_H_
#define FAULTLINE_SYSTEMS_INTERNAL_REDIS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "history/history.h"
#include "systems/system.h"
#include "systems/system_file.h"

namespace faultline::systems::internal {

// The system options of --system redis (--system-option KEY=VALUE).
struct RedisOptions {
  int min_replicas_to_write = 0;  // the primary refuses writes with fewer good replicas
  int min_replicas_max_lag = 10;  // seconds since a replica's last ack for it to count as good
  int wait = 0;                   // the client sends WAIT <wait> after each write
  int wait_timeout_ms = 500;      // WAIT's timeout
  bool appendonly = false;
  std::string appendfsync = "everysec";  // always | everysec | no
  int down_after_ms = 1000;              // Sentinel: a primary silent this long is down
  int failover_timeout_ms = 2000;        // Sentinel: at most 10000
};

// One line per option for --help: "min-replicas-to-write=N  ...".
std::vector<std::string> RedisOptionHelp();

// Parses KEY=VALUE options; an error names the option and the keys accepted.
[[nodiscard]] Result<RedisOptions> ParseRedisOptions(const std::vector<std::string>& options);

// The redis.conf of cluster.nodes[index]: bound to the node's address, a replica of the first
// node unless it is the first.
[[nodiscard]] Result<std::string> RedisConf(const SystemCluster& cluster, size_t index,
                                            const RedisOptions& options);
// The sentinel.conf of cluster.nodes[index] (Sentinel rewrites it): monitors the first node with
// quorum a majority of the nodes.
[[nodiscard]] Result<std::string> SentinelConf(const SystemCluster& cluster, size_t index,
                                               const RedisOptions& options);

// The commands that start, stop, kill, probe and wipe one node's redis-server (its pid in
// {data_dir}/redis.pid, its log {log_dir}/redis.log). The Sentinel is not theirs.
SystemFile RedisCommands();

// The node a majority of the cluster's Sentinels name as primary: `named[i]` is the address the
// Sentinel on cluster.nodes[i] names ("" when it did not answer). nullopt when no address has a
// majority of all nodes or the address is no node's. What Leader() says when no poller runs (a
// `faultline nemesis` on a cluster another process formed).
std::optional<std::string> SentinelMajorityPrimary(const SystemCluster& cluster,
                                                   const std::vector<std::string>& named);

// A failover as the control host saw it, polling the Sentinels: the first Sentinel that named a
// new primary with a higher configuration epoch.
struct RedisFailover {
  int64_t time_ns = 0;  // MonotonicNowNs()
  int64_t epoch = 0;
  std::string from;  // the node that was primary ("" when unknown)
  std::string to;
  std::string seen_by;  // the Sentinel's node
};

// A node's replication role changed (ROLE polled on every server).
struct RedisRoleChange {
  int64_t time_ns = 0;
  std::string node;
  std::string role;     // "master" | "slave"
  std::string primary;  // a replica's primary node
};

// A power cut the campaign's nemesis made (lose-unsynced, lose-unsynced-one; nemesis/disk.h): the
// servers killed, the writes not yet fsynced dropped, the servers started again.
struct RedisPowerCut {
  int64_t time_ns = 0;             // the fault's start, as the history's times (since its start)
  std::string fault;               // "lose-unsynced" | "lose-unsynced-one"
  std::vector<std::string> nodes;  // the nodes it hit (empty: every node)
};
// The power cuts applied in a run's history (its nemesis ops), in order.
std::vector<RedisPowerCut> RedisPowerCuts(const history::History& history);
// What a power cut costs under the options in force (appendonly, appendfsync), in Redis's words.
std::string RedisDurabilityWords(const RedisOptions& options);

// Lines and results.json's "system" object for a run: the failovers, and for the set workload
// the acknowledged adds absent from the final reads (append workload: the appends of committed
// transactions absent from the final read of their key, named "[:append k v]"), grouped by the
// primary that acknowledged them, each tied to the failover that deposed that primary, or to the
// power cut (lose-unsynced) that hit it first. A set or key without a final read is left out.
// `start_ns`: the run's log start.
SystemAccount RedisAccount(const history::History& history, int64_t start_ns,
                           const std::vector<RedisFailover>& failovers,
                           const std::vector<RedisRoleChange>& roles, const RedisOptions& options);

}  // namespace faultline::systems::internal

#endif  // FAULTLINE_SYSTEMS_INTERNAL_REDIS_H_
