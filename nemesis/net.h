// Net: installs a grudge as packet filters or routes inside the nodes' network namespaces, and
// heals it (Jepsen's net protocol, reduced to what a partition needs).
//
// Backends:
//   nft       in-process libnftables, one table `inet faultline_<run>` per node on the input hook;
//             heal deletes that table only.
//   iptables  one `iptables-restore --noflush` exec per node, rules in a chain `faultline_<run>`
//             jumped to from INPUT; heal deletes the jump, then flushes and deletes that chain
//             only.
//   netlink   in-process libnl: blackhole (drop) or prohibit (reject) routes with faultline's own
//             route protocol number (kRouteProtocol). Routes act on the SENDING side, so this
//             backend installs Invert(grudge); they affect only locally sent packets, which is all
//             a node sends. It cannot do kNewOnly.
// A grudge only names cluster nodes, so the control host's address is never filtered.
//
// Namespaces: each node is reached through its network namespace file. nft and iptables work for
// a node on a worker thread that entered its namespace with setns(2) once and stays there (nodes
// in parallel; libnftables opens its socket in the running thread's namespace); netlink opens one
// rtnetlink socket per node on such a thread and keeps it (a socket stays in its namespace), then
// works from the caller's thread. The caller's thread never changes namespace. A Net thus holds a
// thread or socket in every node's namespace: destroy it before expecting deleted namespaces to
// be freed. If a namespace file is re-created (a rebuilt node), the next call re-enters it.
//
// Thread-safety: a Net instance is not thread-safe (one caller at a time); different instances may
// be used concurrently.
#ifndef FAULTLINE_NEMESIS_NET_H_
#define FAULTLINE_NEMESIS_NET_H_

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "nemesis/grudge.h"

namespace faultline::nemesis {

// How dropped packets behave.
enum class PartitionMode {
  kDrop,    // silently dropped: connects time out (both ways for TCP, as SYN-ACKs are dropped too)
  kReject,  // refused: TCP reset for TCP, ICMP admin-prohibited otherwise (netlink: EACCES locally)
  kNewOnly,  // only packets opening a new connection (conntrack state new) are dropped: a true
             // one-way cut (the filtering node can still open connections to the peer). Flows
             // the peers opened before the partition are cut by deleting their conntrack entries
             // (their next packet is then "new"); NetReport::notes says what was deleted, or
             // where deleting failed and such flows keep going.
};
std::string_view PartitionModeName(PartitionMode mode);  // "drop", "reject", "new-only"
[[nodiscard]] Result<PartitionMode> ParsePartitionMode(std::string_view name);

enum class BackendKind { kAuto, kNft, kNetlink, kIptables };
std::string_view BackendName(BackendKind kind);  // "auto", "nft", "netlink", "iptables"
[[nodiscard]] Result<BackendKind> ParseBackendKind(std::string_view name);

// The `proto` number of faultline's routes (netlink backend); `ip route` shows it as "proto 250"
// unless /etc/iproute2/rt_protos names it.
inline constexpr int kRouteProtocol = 250;

// A node as the backends see it.
struct NetNode {
  std::string name;     // grudge name, e.g. "n1"
  std::string netns;    // a name under /var/run/netns, or an absolute path to a namespace file
  std::string address;  // its IPv4 address, e.g. "198.18.0.1"
};

struct NetConfig {
  // Names the backends' own objects (table inet faultline_<run_id>, chain faultline_<run_id>).
  // 1 to 16 characters from [a-z0-9_].
  std::string run_id;
  std::vector<NetNode> nodes;  // unique names and addresses
};

// What one node has now, after an apply or a heal.
struct NodeReport {
  std::string node;
  bool ok = false;
  // The mechanism really used, e.g. "nft table inet faultline_r1: input drop ip saddr, 2 peers".
  std::string mechanism;
  // Nodes filtered on this node: whose packets it drops (nft, iptables) or to which it does not
  // send (netlink). Empty after a successful heal.
  NodeSet peers;
  // Whether faultline objects may be left on this node (true after a successful apply with peers,
  // and after any failure, since a failed step may have been half done): heal it.
  bool needs_heal = false;
  std::optional<Error> error;  // set iff !ok
};

struct NetReport {
  std::string backend;  // "nft", "netlink" or "iptables"
  std::string action;   // "apply" or "heal"
  PartitionMode mode = PartitionMode::kDrop;
  std::string grudge;              // DescribeGrudge of the grudge as given (apply only)
  std::vector<NodeReport> nodes;   // in NetConfig order
  std::vector<std::string> notes;  // caveats, e.g. what new-only did about established flows

  bool ok() const;
  std::vector<std::string> Succeeded() const;  // node names, in NetConfig order
  std::vector<std::string> Failed() const;
  // Multi-line summary: one line per node, then the notes.
  std::string Describe() const;
};

class Net {
 public:
  Net() = default;
  virtual ~Net() = default;
  Net(const Net&) = delete;
  Net& operator=(const Net&) = delete;

  virtual std::string_view Name() const = 0;
  virtual bool Supports(PartitionMode mode) const = 0;

  // Installs the grudge on every node in parallel, replacing any partition this backend applied
  // before under the same run id. Nodes that drop nothing end up with no objects of ours.
  // Returns an error, before touching any node, if the grudge names a node not in the config or
  // the mode is unsupported; otherwise a report that lists, per node, success or failure.
  [[nodiscard]] virtual Result<NetReport> Apply(const Grudge& grudge, PartitionMode mode) = 0;

  // Removes this run's objects from every node, including ones left by an earlier process with the
  // same run id. Idempotent: a node with nothing of ours counts as healed.
  virtual NetReport Heal() = 0;
};

[[nodiscard]] Result<std::unique_ptr<Net>> MakeNftNet(const NetConfig& config);
[[nodiscard]] Result<std::unique_ptr<Net>> MakeIptablesNet(const NetConfig& config);
[[nodiscard]] Result<std::unique_ptr<Net>> MakeNetlinkNet(const NetConfig& config);

// What the capability probe found for one backend.
struct ProbeResult {
  BackendKind backend = BackendKind::kNft;
  bool works = false;
  std::set<PartitionMode> modes;     // modes that installed and healed cleanly
  std::chrono::nanoseconds cost{0};  // apply + heal of one probe partition
  std::optional<Error> error;        // why it does not work (or why a mode failed)
};

// A backend the probe may try: its kind and how to make it. The real ones are DefaultCandidates();
// tests pass fakes.
struct ProbeCandidate {
  BackendKind backend = BackendKind::kNft;
  std::function<Result<std::unique_ptr<Net>>(const NetConfig&)> make;
};
std::vector<ProbeCandidate> DefaultCandidates();  // nft, netlink, iptables

// Tries each candidate, every mode it claims, applying and healing a two-node grudge in scratch
// network namespaces that exist only while the probe runs (unnamed namespaces held by threads:
// nothing can be left behind, even if the process dies). Needs CAP_SYS_ADMIN and CAP_NET_ADMIN;
// without them every candidate is reported as not working, with the reason.
std::vector<ProbeResult> ProbeBackends(const std::vector<ProbeCandidate>& candidates);
std::vector<ProbeResult> ProbeBackends();  // DefaultCandidates()

// The fastest (lowest cost) backend that works and supports the mode. Pure, for testing `auto`.
[[nodiscard]] Result<BackendKind> PickBackend(const std::vector<ProbeResult>& probes,
                                              PartitionMode mode);

// Probes the candidates, picks one for the mode, and makes it for the config.
[[nodiscard]] Result<std::unique_ptr<Net>> MakeAutoNet(
    const std::vector<ProbeCandidate>& candidates, const NetConfig& config, PartitionMode mode);

// A backend by kind; kAuto is MakeAutoNet(DefaultCandidates(), config, mode).
[[nodiscard]] Result<std::unique_ptr<Net>> MakeNet(BackendKind kind, const NetConfig& config,
                                                   PartitionMode mode = PartitionMode::kDrop);

}  // namespace faultline::nemesis

#endif  // FAULTLINE_NEMESIS_NET_H_
