// Grudges: who drops whose packets during a network partition (Jepsen's word).
//
// A Grudge maps a node name to the set of nodes whose packets that node drops. A node that drops
// nothing may be absent or map to an empty set; Normalize() makes every node a key. All functions
// here are pure, deterministic for a given seed, and return ordered containers, so they can be
// tested without root and their output is stable across runs.
//
// The grudge is stated on the *receiving* side, as in Jepsen: {"n2": {"n1"}} means n2 drops packets
// from n1 (a one-way cut). Backends that act on the sending side (routes) apply Invert(grudge).
//
// Thread-safety: pure functions over values; safe to call from any thread.
#ifndef FAULTLINE_NEMESIS_GRUDGE_H_
#define FAULTLINE_NEMESIS_GRUDGE_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace faultline::nemesis {

using NodeSet = std::set<std::string>;
using Grudge = std::map<std::string, NodeSet>;

// Every node drops every node outside its own component. Nodes in no component are left alone.
// REQUIRES: components are pairwise disjoint.
Grudge CompleteGrudge(const std::vector<NodeSet>& components);

// Splits nodes (in the given order) into the first floor(n/2) and the rest, as Jepsen's bisect.
std::vector<NodeSet> Bisect(const std::vector<std::string>& nodes);

// Returns nodes shuffled by a deterministic generator seeded with seed (same seed, same order,
// on every platform: the shuffle does not use std::shuffle's unspecified algorithm).
std::vector<std::string> SeededShuffle(std::vector<std::string> nodes, uint64_t seed);

// Cuts node off from all other nodes, both ways.
[[nodiscard]] Result<Grudge> IsolateOne(const std::vector<std::string>& nodes,
                                        std::string_view node);

// Jepsen's partition-random-halves: shuffle, split into floor(n/2) and the rest, cut both ways.
[[nodiscard]] Result<Grudge> RandomHalves(const std::vector<std::string>& nodes, uint64_t seed);

// A random strict minority of (n-1)/2 nodes against a strict majority, both ways. Needs n >= 3.
// Equal to RandomHalves for odd n; for even n the majority side keeps a quorum (4 nodes: 3 against
// 1).
[[nodiscard]] Result<Grudge> MajorityMinority(const std::vector<std::string>& nodes, uint64_t seed);

// Jepsen's majorities-ring: nodes are placed on a ring in shuffled order and each sees the nodes
// within distance k = floor(m/2) of itself, m being a majority (floor(n/2)+1); it drops the rest.
// Every node sees a majority including itself, no two see the same set, and the grudge is
// symmetric. For 5 nodes each node reaches exactly its two ring neighbours. Needs n >= 4.
[[nodiscard]] Result<Grudge> MajoritiesRing(const std::vector<std::string>& nodes, uint64_t seed);

// Jepsen's bridge: shuffle, bisect, and let the first node of the larger half (the bridge) talk to
// both halves, which are cut from each other. Needs n >= 3.
[[nodiscard]] Result<Grudge> Bridge(const std::vector<std::string>& nodes, uint64_t seed);

// Cuts a random floor(n/3) nodes (at least one) off from the rest, both ways. Needs n >= 2.
[[nodiscard]] Result<Grudge> MinorityThird(const std::vector<std::string>& nodes, uint64_t seed);

// Jepsen's leader-aware majority/minority split: the leader and (n-1)/2 - 1 random others (a
// strict minority, at least the leader alone) against the rest, both ways. For 3 nodes it isolates
// the leader. Needs n >= 3 and leader among nodes.
[[nodiscard]] Result<Grudge> LeaderMinority(const std::vector<std::string>& nodes,
                                            std::string_view leader, uint64_t seed);

// An asymmetric cut: `to` drops packets from `from`; nothing else is dropped.
[[nodiscard]] Result<Grudge> OneWay(const std::vector<std::string>& nodes, std::string_view from,
                                    std::string_view to);

// Turns "X drops packets from Y" into "Y does not send to X", for backends acting on the sending
// side. Every node of the input (key or value) is a key of the output. Invert(Invert(g)) ==
// Normalize(g).
Grudge Invert(const Grudge& grudge);

// Adds every node named in the grudge (key or value) as a key, with an empty set if it drops
// nothing. Also drops self-references (a node never drops itself).
Grudge Normalize(const Grudge& grudge);

// True if the node at `from` can send packets that `to` accepts, under the grudge.
bool Accepts(const Grudge& grudge, std::string_view to, std::string_view from);

// The nodes cut off from a majority of the cluster by the grudge: those that exchange packets both
// ways with fewer than a majority of `nodes` (themselves included), in the order of `nodes`. Such
// a node cannot be part of a quorum, so whatever it serves comes from its own, possibly stale,
// copy. An isolated node and the smaller side of halves are cut off; under majorities-ring or
// bridge no node is (each still reaches a majority, if not the same one).
std::vector<std::string> CutOffFromMajority(const Grudge& grudge,
                                            const std::vector<std::string>& nodes);

// A parsed grudge spec, as the command line takes it.
enum class GrudgeKind {
  kIsolate,         // "isolate:N"
  kHalves,          // "halves"
  kMajority,        // "majority"
  kMajoritiesRing,  // "majorities-ring"
  kBridge,          // "bridge"
  kMinorityThird,   // "minority-third"
  kLeaderMinority,  // "leader-minority" (the leader is resolved when the grudge is made)
  kOneWay,          // "oneway:FROM>TO"
};

struct GrudgeSpec {
  GrudgeKind kind = GrudgeKind::kHalves;
  std::string node;  // kIsolate: the node; kOneWay: FROM
  std::string to;    // kOneWay: TO
  bool operator==(const GrudgeSpec&) const = default;
};

// Parses "isolate:n1", "halves", "majority", "majorities-ring", "bridge", "minority-third",
// "leader-minority" or "oneway:n1>n2". Node names are checked against a cluster only by MakeGrudge.
[[nodiscard]] Result<GrudgeSpec> ParseGrudgeSpec(std::string_view spec);

// The canonical spec string ("oneway:n1>n2"); ParseGrudgeSpec(GrudgeSpecString(s)) == s.
std::string GrudgeSpecString(const GrudgeSpec& spec);

// Computes the grudge of a spec for the given nodes; random kinds use seed. `leader` is the
// current leader's node for kLeaderMinority, which is Unavailable without one; others ignore it.
[[nodiscard]] Result<Grudge> MakeGrudge(const GrudgeSpec& spec,
                                        const std::vector<std::string>& nodes, uint64_t seed,
                                        std::string_view leader = {});

// "n1 drops {n2 n3}; n2 drops {n1}" in node order, for logs and reports; "no grudge" if empty.
std::string DescribeGrudge(const Grudge& grudge);

}  // namespace faultline::nemesis

#endif  // FAULTLINE_NEMESIS_GRUDGE_H_
