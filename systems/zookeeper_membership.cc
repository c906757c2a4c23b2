// ZooKeeper membership through dynamic reconfig (systems/internal/zookeeper.h, issue 17 §4).
#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <thread>

#include "client/zookeeper_admin.h"
#include "common/shell.h"
#include "systems/internal/zookeeper.h"

namespace faultline::systems::internal {
namespace {

class RealZkAdmin final : public ZkAdmin {
 public:
  explicit RealZkAdmin(std::chrono::milliseconds timeout) : timeout_(timeout) {}
  Result<std::string> GetConfig(const SystemNode& node) override {
    return client::ZkGetConfig(fmt::format("{}:{}", node.address, node.port), timeout_);
  }
  Result<std::string> Reconfig(const std::vector<SystemNode>& via, std::string_view joining,
                               std::string_view leaving) override {
    std::vector<std::string> hosts;
    for (const SystemNode& n : via) hosts.push_back(fmt::format("{}:{}", n.address, n.port));
    return client::ZkReconfig(fmt::format("{}", fmt::join(hosts, ",")), joining, leaving, timeout_);
  }
  Result<std::string> Srvr(const SystemNode& node) override {
    return ZkFourLetterWord(node.address, node.port, "srvr", std::min(timeout_, kSrvr));
  }

 private:
  static constexpr std::chrono::milliseconds kSrvr{1000};
  std::chrono::milliseconds timeout_;
};

class ZkMembership final : public nemesis::Membership {
 public:
  ZkMembership(SystemCluster cluster, nemesis::NodeControl& control, ZkAdmin& admin,
               ZkTuning tuning, ZkMembershipOptions options)
      : cluster_(std::move(cluster)),
        control_(control),
        admin_(admin),
        tuning_(tuning),
        options_(options) {}

  std::string_view Name() const override { return "zookeeper reconfig"; }

  Result<std::vector<std::string>> Members() override {
    FAULTLINE_ASSIGN_OR_RETURN(Current cur, Config(""));
    std::vector<std::string> out;
    for (size_t i = 0; i < cluster_.nodes.size(); ++i) {
      if (cur.config.servers.contains(Id(i))) out.push_back(cluster_.nodes[i].name);
    }
    return out;
  }

  Result<std::string> Remove(const std::string& name, const nemesis::MemberStep& step) override {
    FAULTLINE_ASSIGN_OR_RETURN(size_t index, Index(name));
    FAULTLINE_ASSIGN_OR_RETURN(Current cur, Config(name));
    std::vector<std::string> done;
    if (cur.config.servers.contains(Id(index))) {
      FAULTLINE_ASSIGN_OR_RETURN(ZkConfig now, Change(cur, "", std::to_string(Id(index)), name));
      done.push_back(fmt::format("reconfig -remove {} through {} (config version {:x})", Id(index),
                                 fmt::join(Names(cur.config, name), ","), now.version));
    } else {
      done.push_back("no member any more");
    }
    if (step) step("removed");
    FAULTLINE_ASSIGN_OR_RETURN(std::string stopped, StopAndWipe(index, step));
    done.push_back(std::move(stopped));
    return fmt::format("{}", fmt::join(done, "; "));
  }

  Result<std::string> Add(const std::string& name, const nemesis::MemberStep& step) override {
    FAULTLINE_ASSIGN_OR_RETURN(size_t index, Index(name));
    const SystemNode& node = cluster_.nodes[index];
    FAULTLINE_ASSIGN_OR_RETURN(Current cur, Config(name));
    std::vector<std::string> done;
    if (cur.config.servers.contains(Id(index))) {
      // A member already (a heal after the add went through): only make sure it runs.
      done.push_back(fmt::format("{} a member already", name));
      FAULTLINE_ASSIGN_OR_RETURN(std::string started, Start(index));
      done.push_back(std::move(started));
    } else {
      // A node that is no member must not come back with the data of its old membership (a
      // removal killed half way left its server running, or its data unwiped; a start killed
      // before the reconfig left it syncing as a non-voting follower).
      FAULTLINE_ASSIGN_OR_RETURN(std::string stopped, StopAndWipe(index, {}));
      done.push_back(std::move(stopped));
      ZkServers servers = cur.config.servers;
      servers[Id(index)] = ZkServerSpec(node);
      FAULTLINE_RETURN_IF_ERROR(WriteZooKeeperNodeConfig(cluster_, index, servers, tuning_));
      FAULTLINE_ASSIGN_OR_RETURN(std::string started, Start(index));
      done.push_back(fmt::format("configured with {} and started: {}",
                                 fmt::join(Names(cur.config, ""), ","), started));
      if (step) step("started");
      const std::string joining = fmt::format("server.{}={}", Id(index), ZkServerSpec(node));
      FAULTLINE_ASSIGN_OR_RETURN(ZkConfig now, Change(cur, joining, "", name));
      done.push_back(fmt::format("reconfig -add {} through {} (config version {:x})", joining,
                                 fmt::join(Names(cur.config, name), ","), now.version));
      if (step) step("added");
    }
    // Joined: the ensemble lists it and it serves (srvr: leader or follower).
    const auto deadline = std::chrono::steady_clock::now() + options_.start_timeout;
    std::string last;
    while (true) {
      last.clear();
      Result<Current> now = Config(name);
      if (!now) {
        last = now.error().message();
      } else if (!now->config.servers.contains(Id(index))) {
        last = fmt::format("{} not in the configuration of {}", name, now->via);
      } else {
        Result<std::string> srvr = admin_.Srvr(node);
        if (!srvr) {
          last = srvr.error().message();
        } else if (ZkMode(*srvr).empty()) {
          last = fmt::format("{} not serving yet", name);
        }
      }
      if (last.empty()) break;
      if (std::chrono::steady_clock::now() >= deadline) {
        return MakeError(ErrorCode::kDeadlineExceeded,
                         fmt::format("zookeeper: {} did not join within {} ms: {}", name,
                                     options_.start_timeout.count(), last));
      }
      std::this_thread::sleep_for(options_.poll);
    }
    done.push_back("serving");
    return fmt::format("{}", fmt::join(done, "; "));
  }

 private:
  struct Current {
    ZkConfig config;
    std::string via;  // the node that answered
  };

  static int Id(size_t index) { return static_cast<int>(index) + 1; }

  Result<size_t> Index(const std::string& name) const {
    for (size_t i = 0; i < cluster_.nodes.size(); ++i) {
      if (cluster_.nodes[i].name == name) return i;
    }
    return MakeError(ErrorCode::kNotFound, fmt::format("zookeeper: no node named '{}'", name));
  }

  // The member nodes of `config` but `avoid`, by name.
  std::vector<std::string> Names(const ZkConfig& config, const std::string& avoid) const {
    std::vector<std::string> out;
    for (size_t i = 0; i < cluster_.nodes.size(); ++i) {
      if (config.servers.contains(Id(i)) && cluster_.nodes[i].name != avoid) {
        out.push_back(cluster_.nodes[i].name);
      }
    }
    return out;
  }

  // The newest configuration among those of the nodes that list themselves (a removed server
  // still running, or one syncing before its add, does not speak for the ensemble), asking every
  // node but `avoid`, and `avoid` only if none answered.
  Result<Current> Config(const std::string& avoid) {
    std::vector<std::string> why;
    std::optional<Current> best;
    for (int pass = 0; pass < 2 && !best; ++pass) {
      for (size_t i = 0; i < cluster_.nodes.size(); ++i) {
        const SystemNode& n = cluster_.nodes[i];
        if ((n.name == avoid) != (pass == 1)) continue;
        Result<std::string> text = admin_.GetConfig(n);
        if (!text) {
          why.push_back(fmt::format("{}: {}", n.name, text.error().message()));
          continue;
        }
        Result<ZkConfig> config = ParseZkConfig(*text);
        if (!config) {
          why.push_back(fmt::format("{}: {}", n.name, config.error().message()));
          continue;
        }
        if (!config->servers.contains(Id(i))) {
          why.push_back(fmt::format("{}: not a member itself", n.name));
          continue;
        }
        if (!best || config->version > best->config.version) {
          best = Current{.config = std::move(*config), .via = n.name};
        }
      }
    }
    if (!best) {
      return MakeError(
          ErrorCode::kUnavailable,
          fmt::format("zookeeper: configuration: no member answered ({})", fmt::join(why, "; ")));
    }
    return *best;
  }

  // A reconfig through the members of `cur` but `avoid`, retried while ZooKeeper refuses it for
  // now (no quorum of the new configuration synced yet, another reconfig in progress).
  Result<ZkConfig> Change(const Current& cur, const std::string& joining,
                          const std::string& leaving, const std::string& avoid) {
    std::vector<SystemNode> via;
    for (size_t i = 0; i < cluster_.nodes.size(); ++i) {
      if (cur.config.servers.contains(Id(i)) && cluster_.nodes[i].name != avoid) {
        via.push_back(cluster_.nodes[i]);
      }
    }
    if (via.empty()) {
      return MakeError(ErrorCode::kUnavailable,
                       fmt::format("zookeeper: reconfig: no member but {} to send it to", avoid));
    }
    const auto deadline = std::chrono::steady_clock::now() + options_.change_timeout;
    while (true) {
      Result<std::string> r = admin_.Reconfig(via, joining, leaving);
      if (r) return ParseZkConfig(*r);
      if (r.error().code() != ErrorCode::kUnavailable ||
          std::chrono::steady_clock::now() >= deadline) {
        return r.error();
      }
      std::this_thread::sleep_for(options_.poll);
    }
  }

  Result<std::string> Start(size_t index) {
    const std::string& name = cluster_.nodes[index].name;
    const std::vector<nemesis::ProcessReport> started =
        control_.Process({name}, nemesis::ProcessAction::kStart);
    if (started.empty() || !started[0].ok) {
      return MakeError(ErrorCode::kUnavailable, fmt::format("zookeeper: start {}: {}", name,
                                                            started.empty() || !started[0].error
                                                                ? std::string("no report")
                                                                : started[0].error->message()));
    }
    return started[0].mechanism;
  }

  // Kills the node's server and removes its database (version-2) and its dynamic configuration,
  // so that its next start joins afresh.
  Result<std::string> StopAndWipe(size_t index, const nemesis::MemberStep& step) {
    const SystemNode& node = cluster_.nodes[index];
    const std::vector<nemesis::ProcessReport> killed =
        control_.Process({node.name}, nemesis::ProcessAction::kKill);
    if (killed.empty() || !killed[0].ok) {
      return MakeError(ErrorCode::kUnavailable, fmt::format("zookeeper: stop {}: {}", node.name,
                                                            killed.empty() || !killed[0].error
                                                                ? std::string("no report")
                                                                : killed[0].error->message()));
    }
    if (step) step("stopped");
    if (node.data_dir.empty()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("zookeeper: wipe {}: its data dir is not known", node.name));
    }
    const std::string dir = ShellQuote(node.data_dir);
    FAULTLINE_ASSIGN_OR_RETURN(
        nemesis::CommandOutput out,
        control_.Run(node.name,
                     fmt::format("rm -rf -- {}/version-2 {}/zoo.cfg.dynamic*", dir, dir)));
    if (out.exit_code != 0) {
      return MakeError(ErrorCode::kUnavailable, fmt::format("zookeeper: wipe {}: exit {}: {}",
                                                            node.name, out.exit_code, out.err));
    }
    if (step) step("wiped");
    return fmt::format("{}; wiped version-2 and zoo.cfg.dynamic*", killed[0].mechanism);
  }

  SystemCluster cluster_;
  nemesis::NodeControl& control_;
  ZkAdmin& admin_;
  ZkTuning tuning_;
  ZkMembershipOptions options_;
};

}  // namespace

std::unique_ptr<ZkAdmin> MakeZkAdmin(std::chrono::milliseconds timeout) {
  return std::make_unique<RealZkAdmin>(timeout);
}

std::unique_ptr<nemesis::Membership> MakeZkMembership(const SystemCluster& cluster,
                                                      nemesis::NodeControl& control, ZkAdmin& admin,
                                                      const ZkTuning& tuning,
                                                      ZkMembershipOptions options) {
  return std::make_unique<ZkMembership>(cluster, control, admin, tuning, options);
}

}  // namespace faultline::systems::internal
