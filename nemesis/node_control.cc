#include "nemesis/node_control.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <set>
#include <utility>

#include "nemesis/grudge.h"

namespace faultline::nemesis {
namespace {

constexpr std::array<std::pair<ProcessAction, std::string_view>, 5> kActionNames = {{
    {ProcessAction::kKill, "kill"},
    {ProcessAction::kPause, "pause"},
    {ProcessAction::kResume, "resume"},
    {ProcessAction::kStart, "start"},
    {ProcessAction::kRestart, "restart"},
}};

// The first `count` nodes of a seeded shuffle, returned in cluster order.
std::vector<std::string> Choose(const std::vector<std::string>& nodes, size_t count,
                                std::uint64_t seed) {
  std::vector<std::string> shuffled = SeededShuffle(nodes, seed);
  std::set<std::string> chosen(shuffled.begin(),
                               shuffled.begin() + static_cast<std::ptrdiff_t>(count));
  std::vector<std::string> out;
  for (const std::string& node : nodes) {
    if (chosen.contains(node)) out.push_back(node);
  }
  return out;
}

}  // namespace

std::string_view ProcessActionName(ProcessAction action) {
  for (const auto& [a, name] : kActionNames) {
    if (a == action) return name;
  }
  return "?";
}

Result<ProcessAction> ParseProcessAction(std::string_view name) {
  for (const auto& [a, n] : kActionNames) {
    if (n == name) return a;
  }
  return MakeError(ErrorCode::kInvalidArgument,
                   fmt::format("unknown process action '{}' (expected kill, pause, resume, start "
                               "or restart)",
                               name));
}

Result<std::vector<std::string>> ResolveTarget(std::string_view target,
                                               const std::vector<std::string>& nodes,
                                               const std::optional<std::string>& leader,
                                               std::uint64_t seed) {
  if (nodes.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "target: the cluster has no nodes");
  }
  const size_t n = nodes.size();
  if (target == "all") return nodes;
  if (target == "one") return Choose(nodes, 1, seed);
  if (target == "minority") {
    if (n < 3) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("target minority: a cluster of {} nodes has no minority "
                                   "(needs at least 3)",
                                   n));
    }
    return Choose(nodes, (n - 1) / 2, seed);
  }
  if (target == "majority") return Choose(nodes, n / 2 + 1, seed);
  if (target == "leader") {
    if (!leader.has_value() || leader->empty()) {
      return MakeError(ErrorCode::kUnavailable,
                       "target leader: no leader is known (no member is named by a majority)");
    }
    if (std::find(nodes.begin(), nodes.end(), *leader) == nodes.end()) {
      return MakeError(
          ErrorCode::kInternal,
          fmt::format("target leader: leader '{}' is not a node of the cluster", *leader));
    }
    return std::vector<std::string>{*leader};
  }
  // A comma-separated list of node names.
  std::set<std::string> wanted;
  size_t start = 0;
  while (start <= target.size()) {
    size_t comma = target.find(',', start);
    if (comma == std::string_view::npos) comma = target.size();
    std::string name(target.substr(start, comma - start));
    if (name.empty()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("target '{}': empty node name (expected node names such as "
                                   "n1,n3, or one, minority, majority, all, leader)",
                                   target));
    }
    if (std::find(nodes.begin(), nodes.end(), name) == nodes.end()) {
      return MakeError(ErrorCode::kNotFound,
                       fmt::format("target '{}': no node named '{}' (nodes: {})", target, name,
                                   fmt::join(nodes, ", ")));
    }
    wanted.insert(std::move(name));
    start = comma + 1;
  }
  std::vector<std::string> out;
  for (const std::string& node : nodes) {
    if (wanted.contains(node)) out.push_back(node);
  }
  return out;
}

}  // namespace faultline::nemesis
