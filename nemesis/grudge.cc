#include "nemesis/grudge.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

namespace faultline::nemesis {
namespace {

// splitmix64: a tiny generator whose output is fixed by its definition, unlike the standard
// distributions, so a seed replays the same grudge everywhere.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, bound) by rejection. REQUIRES: bound > 0.
  uint64_t Below(uint64_t bound) {
    const uint64_t limit = ~uint64_t{0} - (~uint64_t{0} % bound);
    uint64_t x = Next();
    while (x >= limit) x = Next();
    return x % bound;
  }

 private:
  uint64_t state_;
};

Status CheckNodes(const std::vector<std::string>& nodes, size_t min_count, std::string_view what) {
  std::set<std::string_view> seen;
  for (const auto& n : nodes) {
    if (n.empty()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("grudge {}: empty node name", what));
    }
    if (!seen.insert(n).second) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("grudge {}: node {} listed twice", what, n));
    }
  }
  if (nodes.size() < min_count) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        fmt::format("grudge {}: needs at least {} nodes, got {}", what, min_count, nodes.size()));
  }
  return OkStatus();
}

Status CheckMember(const std::vector<std::string>& nodes, std::string_view node,
                   std::string_view what) {
  if (std::find(nodes.begin(), nodes.end(), node) != nodes.end()) return OkStatus();
  std::string known;
  for (const auto& n : nodes) known += (known.empty() ? "" : " ") + n;
  return MakeError(ErrorCode::kInvalidArgument,
                   fmt::format("grudge {}: unknown node {} (nodes: {})", what, node, known));
}

NodeSet ToSet(const std::vector<std::string>& nodes) { return NodeSet(nodes.begin(), nodes.end()); }

// Adds every node as a key, so that reports list nodes that drop nothing.
Grudge WithAllNodes(Grudge g, const std::vector<std::string>& nodes) {
  for (const auto& n : nodes) g.try_emplace(n);
  return g;
}

}  // namespace

Grudge CompleteGrudge(const std::vector<NodeSet>& components) {
  NodeSet all;
  for (const auto& c : components) all.insert(c.begin(), c.end());
  Grudge g;
  for (const auto& c : components) {
    NodeSet others;
    std::set_difference(all.begin(), all.end(), c.begin(), c.end(),
                        std::inserter(others, others.end()));
    for (const auto& n : c) g[n] = others;
  }
  return g;
}

std::vector<NodeSet> Bisect(const std::vector<std::string>& nodes) {
  const auto half = static_cast<std::ptrdiff_t>(nodes.size() / 2);
  return {NodeSet(nodes.begin(), nodes.begin() + half), NodeSet(nodes.begin() + half, nodes.end())};
}

std::vector<std::string> SeededShuffle(std::vector<std::string> nodes, uint64_t seed) {
  SplitMix64 rng(seed);
  for (size_t i = nodes.size(); i > 1; --i) {
    std::swap(nodes[i - 1], nodes[rng.Below(i)]);
  }
  return nodes;
}

Result<Grudge> IsolateOne(const std::vector<std::string>& nodes, std::string_view node) {
  FAULTLINE_RETURN_IF_ERROR(CheckNodes(nodes, 2, "isolate"));
  FAULTLINE_RETURN_IF_ERROR(CheckMember(nodes, node, "isolate"));
  NodeSet lone{std::string(node)};
  NodeSet rest = ToSet(nodes);
  rest.erase(std::string(node));
  return CompleteGrudge({lone, rest});
}

Result<Grudge> RandomHalves(const std::vector<std::string>& nodes, uint64_t seed) {
  FAULTLINE_RETURN_IF_ERROR(CheckNodes(nodes, 2, "halves"));
  return CompleteGrudge(Bisect(SeededShuffle(nodes, seed)));
}

Result<Grudge> MajorityMinority(const std::vector<std::string>& nodes, uint64_t seed) {
  FAULTLINE_RETURN_IF_ERROR(CheckNodes(nodes, 3, "majority"));
  auto order = SeededShuffle(nodes, seed);
  const size_t minority = std::max<size_t>(1, (order.size() - 1) / 2);
  const auto cut = order.begin() + static_cast<std::ptrdiff_t>(minority);
  return CompleteGrudge({NodeSet(order.begin(), cut), NodeSet(cut, order.end())});
}

Result<Grudge> MajoritiesRing(const std::vector<std::string>& nodes, uint64_t seed) {
  FAULTLINE_RETURN_IF_ERROR(CheckNodes(nodes, 4, "majorities-ring"));
  const auto ring = SeededShuffle(nodes, seed);
  const size_t n = ring.size();
  const size_t majority = n / 2 + 1;
  // A symmetric window of 2k+1 >= majority nodes; 2k+1 < n for n >= 4, so every node drops some
  // node and the windows, being distinct rotations, are pairwise distinct.
  const size_t k = majority / 2;
  Grudge g;
  for (size_t i = 0; i < n; ++i) {
    NodeSet& drops = g[ring[i]];
    for (size_t d = k + 1; d + k < n; ++d) drops.insert(ring[(i + d) % n]);
  }
  return g;
}

Result<Grudge> Bridge(const std::vector<std::string>& nodes, uint64_t seed) {
  FAULTLINE_RETURN_IF_ERROR(CheckNodes(nodes, 3, "bridge"));
  const auto order = SeededShuffle(nodes, seed);
  // The larger half is the second one; its first node in shuffled order is the bridge.
  const std::string bridge = order[order.size() / 2];
  Grudge g = CompleteGrudge(Bisect(order));
  g.erase(bridge);
  for (auto& [node, drops] : g) drops.erase(bridge);
  return WithAllNodes(std::move(g), nodes);
}

Result<Grudge> MinorityThird(const std::vector<std::string>& nodes, uint64_t seed) {
  FAULTLINE_RETURN_IF_ERROR(CheckNodes(nodes, 2, "minority-third"));
  auto order = SeededShuffle(nodes, seed);
  const size_t third = std::max<size_t>(1, order.size() / 3);
  const auto cut = order.begin() + static_cast<std::ptrdiff_t>(third);
  return CompleteGrudge({NodeSet(order.begin(), cut), NodeSet(cut, order.end())});
}

Result<Grudge> LeaderMinority(const std::vector<std::string>& nodes, std::string_view leader,
                              uint64_t seed) {
  FAULTLINE_RETURN_IF_ERROR(CheckNodes(nodes, 3, "leader-minority"));
  FAULTLINE_RETURN_IF_ERROR(CheckMember(nodes, leader, "leader-minority"));
  std::vector<std::string> others;
  for (const auto& n : nodes) {
    if (n != leader) others.push_back(n);
  }
  others = SeededShuffle(std::move(others), seed);
  const size_t minority = std::max<size_t>(1, (nodes.size() - 1) / 2);
  NodeSet small{std::string(leader)};
  small.insert(others.begin(), others.begin() + static_cast<std::ptrdiff_t>(minority - 1));
  NodeSet rest(others.begin() + static_cast<std::ptrdiff_t>(minority - 1), others.end());
  return CompleteGrudge({small, rest});
}

Result<Grudge> OneWay(const std::vector<std::string>& nodes, std::string_view from,
                      std::string_view to) {
  FAULTLINE_RETURN_IF_ERROR(CheckNodes(nodes, 2, "oneway"));
  FAULTLINE_RETURN_IF_ERROR(CheckMember(nodes, from, "oneway"));
  FAULTLINE_RETURN_IF_ERROR(CheckMember(nodes, to, "oneway"));
  if (from == to) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("grudge oneway: {}>{}: a node cannot drop itself", from, to));
  }
  Grudge g;
  g[std::string(to)].insert(std::string(from));
  return WithAllNodes(std::move(g), nodes);
}

Grudge Normalize(const Grudge& grudge) {
  Grudge g;
  for (const auto& [node, drops] : grudge) {
    NodeSet& out = g[node];
    for (const auto& d : drops) {
      g.try_emplace(d);
      if (d != node) out.insert(d);
    }
  }
  return g;
}

Grudge Invert(const Grudge& grudge) {
  Grudge out;
  for (const auto& [node, drops] : Normalize(grudge)) {
    out.try_emplace(node);
    for (const auto& d : drops) out[d].insert(node);
  }
  return out;
}

bool Accepts(const Grudge& grudge, std::string_view to, std::string_view from) {
  if (to == from) return true;
  const auto it = grudge.find(std::string(to));
  return it == grudge.end() || it->second.count(std::string(from)) == 0;
}

std::vector<std::string> CutOffFromMajority(const Grudge& grudge,
                                            const std::vector<std::string>& nodes) {
  std::vector<std::string> out;
  for (const std::string& a : nodes) {
    size_t reach = 0;
    for (const std::string& b : nodes) {
      if (Accepts(grudge, a, b) && Accepts(grudge, b, a)) ++reach;
    }
    if (reach * 2 <= nodes.size()) out.push_back(a);
  }
  return out;
}

Result<GrudgeSpec> ParseGrudgeSpec(std::string_view spec) {
  static constexpr std::pair<std::string_view, GrudgeKind> kPlain[] = {
      {"halves", GrudgeKind::kHalves},
      {"majority", GrudgeKind::kMajority},
      {"majorities-ring", GrudgeKind::kMajoritiesRing},
      {"bridge", GrudgeKind::kBridge},
      {"minority-third", GrudgeKind::kMinorityThird},
      {"leader-minority", GrudgeKind::kLeaderMinority},
  };
  constexpr std::string_view kHint =
      "expected isolate:NODE, halves, majority, majorities-ring, bridge, minority-third, "
      "leader-minority or oneway:FROM>TO";
  for (const auto& [name, kind] : kPlain) {
    if (spec == name) return GrudgeSpec{.kind = kind, .node = "", .to = ""};
  }
  const auto colon = spec.find(':');
  const std::string_view head = spec.substr(0, colon);
  const std::string_view arg = colon == std::string_view::npos ? "" : spec.substr(colon + 1);
  if (colon != std::string_view::npos && head == "isolate") {
    if (arg.empty() || arg.find_first_of(":> ") != std::string_view::npos) {
      return MakeError(
          ErrorCode::kInvalidArgument,
          fmt::format("grudge spec \"{}\": bad node name (expected isolate:NODE)", spec));
    }
    return GrudgeSpec{.kind = GrudgeKind::kIsolate, .node = std::string(arg), .to = ""};
  }
  if (colon != std::string_view::npos && head == "oneway") {
    const auto gt = arg.find('>');
    const std::string_view from = arg.substr(0, gt);
    const std::string_view to = gt == std::string_view::npos ? "" : arg.substr(gt + 1);
    if (gt == std::string_view::npos || from.empty() || to.empty() ||
        to.find_first_of(":> ") != std::string_view::npos ||
        from.find_first_of(": ") != std::string_view::npos) {
      return MakeError(
          ErrorCode::kInvalidArgument,
          fmt::format("grudge spec \"{}\": expected oneway:FROM>TO, e.g. oneway:n1>n2", spec));
    }
    if (from == to) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("grudge spec \"{}\": FROM and TO are the same node", spec));
    }
    return GrudgeSpec{
        .kind = GrudgeKind::kOneWay, .node = std::string(from), .to = std::string(to)};
  }
  if (spec.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, fmt::format("grudge spec: empty ({})", kHint));
  }
  return MakeError(ErrorCode::kInvalidArgument,
                   fmt::format("grudge spec \"{}\": unknown kind ({})", spec, kHint));
}

std::string GrudgeSpecString(const GrudgeSpec& spec) {
  switch (spec.kind) {
    case GrudgeKind::kIsolate:
      return "isolate:" + spec.node;
    case GrudgeKind::kHalves:
      return "halves";
    case GrudgeKind::kMajority:
      return "majority";
    case GrudgeKind::kMajoritiesRing:
      return "majorities-ring";
    case GrudgeKind::kBridge:
      return "bridge";
    case GrudgeKind::kMinorityThird:
      return "minority-third";
    case GrudgeKind::kLeaderMinority:
      return "leader-minority";
    case GrudgeKind::kOneWay:
      return "oneway:" + spec.node + ">" + spec.to;
  }
  return "unknown";
}

Result<Grudge> MakeGrudge(const GrudgeSpec& spec, const std::vector<std::string>& nodes,
                          uint64_t seed, std::string_view leader) {
  switch (spec.kind) {
    case GrudgeKind::kIsolate:
      return IsolateOne(nodes, spec.node);
    case GrudgeKind::kHalves:
      return RandomHalves(nodes, seed);
    case GrudgeKind::kMajority:
      return MajorityMinority(nodes, seed);
    case GrudgeKind::kMajoritiesRing:
      return MajoritiesRing(nodes, seed);
    case GrudgeKind::kBridge:
      return Bridge(nodes, seed);
    case GrudgeKind::kMinorityThird:
      return MinorityThird(nodes, seed);
    case GrudgeKind::kLeaderMinority:
      if (leader.empty()) {
        return MakeError(ErrorCode::kUnavailable, "grudge leader-minority: no leader is known now");
      }
      return LeaderMinority(nodes, leader, seed);
    case GrudgeKind::kOneWay:
      return OneWay(nodes, spec.node, spec.to);
  }
  return MakeError(ErrorCode::kInternal, "grudge: unknown grudge kind");
}

std::string DescribeGrudge(const Grudge& grudge) {
  std::string out;
  for (const auto& [node, drops] : grudge) {
    if (drops.empty()) continue;
    if (!out.empty()) out += "; ";
    out += node + " drops {";
    bool first = true;
    for (const auto& d : drops) {
      out += (first ? "" : " ") + d;
      first = false;
    }
    out += "}";
  }
  return out.empty() ? "no grudge" : out;
}

}  // namespace faultline::nemesis
