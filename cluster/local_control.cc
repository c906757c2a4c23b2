// The local NodeControl: process faults through the cluster's supervisor, commands run inside the
// node's network namespace (fork, setns, exec /bin/sh; no `ip netns exec`).
#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "cluster/cluster.h"
#include "cluster/internal/supervisor.h"
#include "cluster/internal/util.h"
#include "common/process.h"

namespace faultline::cluster {
namespace {

using nlohmann::json;

class LocalControl final : public nemesis::NodeControl {
 public:
  explicit LocalControl(ClusterState state) : state_(std::move(state)) {}

  std::string_view Name() const override { return "local"; }
  std::vector<std::string> Nodes() const override { return state_.NodeNames(); }

  std::vector<nemesis::ProcessReport> Process(const std::vector<std::string>& nodes,
                                              nemesis::ProcessAction action) override {
    const std::string name(nemesis::ProcessActionName(action));
    std::vector<nemesis::ProcessReport> out;
    auto r = internal::SupervisorCall(state_.socket_path,
                                      {{"cmd", "process"}, {"action", name}, {"nodes", nodes}},
                                      std::chrono::milliseconds(30000));
    for (size_t i = 0; i < nodes.size(); ++i) {
      nemesis::ProcessReport rep;
      rep.node = nodes[i];
      rep.action = action;
      if (!r) {
        rep.error = r.error().WithContext(fmt::format("{} {}", name, nodes[i]));
        out.push_back(std::move(rep));
        continue;
      }
      try {
        const json& j = (*r)["reports"].at(i);
        rep.ok = j.value("ok", false);
        rep.mechanism = j.value("mechanism", "");
        rep.pid_before = j.value("pid_before", 0);
        rep.pid_after = j.value("pid_after", 0);
        rep.took = std::chrono::nanoseconds(j.value("took_ns", std::int64_t{0}));
        if (!rep.ok) {
          rep.error = Error(ErrorCode::kUnavailable, j.value("error", name + " failed"));
        }
      } catch (const json::exception& e) {
        rep.ok = false;
        rep.error =
            Error(ErrorCode::kInternal,
                  fmt::format("{} {}: malformed supervisor answer: {}", name, nodes[i], e.what()));
      }
      out.push_back(std::move(rep));
    }
    return out;
  }

  Result<std::vector<nemesis::DbProcess>> Databases() override {
    FAULTLINE_ASSIGN_OR_RETURN(json r,
                               internal::SupervisorCall(state_.socket_path, {{"cmd", "status"}},
                                                        std::chrono::milliseconds(5000)));
    std::vector<nemesis::DbProcess> out;
    try {
      for (const json& n : r.at("nodes")) {
        out.push_back({.node = n.at("node").get<std::string>(),
                       .pid = n.value("pid", 0),
                       .start_time = n.value("start_time", std::uint64_t{0}),
                       .alive = n.value("alive", false),
                       .paused = n.value("paused", false),
                       .restarts = n.value("restarts", 0),
                       .state = n.value("state", "")});
      }
    } catch (const json::exception& e) {
      return MakeError(ErrorCode::kInternal, fmt::format("cluster {}: status: malformed answer: {}",
                                                         state_.name, e.what()));
    }
    return out;
  }

  Result<nemesis::CommandOutput> Run(std::string_view node, std::string_view command,
                                     std::string_view input) override {
    const NodeState* n = nullptr;
    for (const auto& ns : state_.nodes) {
      if (ns.name == node) n = &ns;
    }
    if (n == nullptr) {
      return MakeError(ErrorCode::kNotFound,
                       fmt::format("run on {}: no such node in cluster {}", node, state_.name));
    }
    // In the node's control groups, so a server a command starts counts against the node (its
    // sieges and metrics) and goes with the node's v2 group when the cluster goes down, even
    // after faultline was killed (internal::RemoveCgroups).
    std::vector<std::string> groups;
    for (const auto& [controller, dir] : n->cgroups) {
      if (std::find(groups.begin(), groups.end(), dir) == groups.end()) groups.push_back(dir);
    }
    auto r = RunProcess({"/bin/sh", "-c", std::string(command)},
                        {.input = input,
                         .timeout = std::nullopt,
                         .detach_output = false,
                         .netns_path = n->netns.empty() ? "" : "/var/run/netns/" + n->netns,
                         .cgroups = std::move(groups)});
    if (!r) return r.error().WithContext(fmt::format("run on {}", node));
    return nemesis::CommandOutput{
        .exit_code = r->exit_code, .out = std::move(r->out), .err = std::move(r->err)};
  }

 private:
  const ClusterState state_;
};

}  // namespace

Result<std::unique_ptr<nemesis::NodeControl>> MakeLocalControl(const ClusterState& state) {
  if (state.socket_path.empty()) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        fmt::format("cluster {}: local control: no supervisor socket recorded", state.name));
  }
  return std::unique_ptr<nemesis::NodeControl>(std::make_unique<LocalControl>(state));
}

}  // namespace faultline::cluster
