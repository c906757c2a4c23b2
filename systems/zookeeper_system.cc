// ZooKeeper 3.8 as a System: Debian's zookeeper package (the JVM started in each node's namespace
// by commands, as a system file's servers are) and client/zookeeper.h's client.
#include <fmt/format.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <thread>

#include "client/zookeeper.h"
#include "common/asio.h"
#include "systems/internal/builtin.h"
#include "systems/internal/zookeeper.h"
#include "systems/registry.h"

namespace faultline::systems::internal {

Result<std::string> ZooCfg(const SystemCluster& cluster, size_t index, const ZkTuning& tuning) {
  if (index >= cluster.nodes.size()) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        fmt::format("zookeeper: node index {} of {} nodes", index, cluster.nodes.size()));
  }
  const SystemNode& self = cluster.nodes[index];
  return fmt::format(
      "# written by faultline for {} (myid {})\n"
      "tickTime={}\ninitLimit={}\nsyncLimit={}\n"
      "dataDir={}\n"
      "reconfigEnabled=true\nstandaloneEnabled=false\nskipACL=yes\n"
      "dynamicConfigFile={}/zoo.cfg.dynamic\n"
      "admin.enableServer=false\n"
      "4lw.commands.whitelist=srvr,ruok\n"
      "autopurge.purgeInterval=0\n",
      self.name, index + 1, tuning.tick_ms, tuning.init_limit, tuning.sync_limit, self.data_dir,
      self.data_dir);
}

std::string ZkServerSpec(const SystemNode& node) {
  return fmt::format("{}:{}:{}:participant;{}:{}", node.address, kZkQuorumPort, kZkElectionPort,
                     node.address, node.port);
}

ZkServers ZkAllServers(const SystemCluster& cluster) {
  ZkServers out;
  for (size_t i = 0; i < cluster.nodes.size(); ++i) {
    out[static_cast<int>(i) + 1] = ZkServerSpec(cluster.nodes[i]);
  }
  return out;
}

std::string ZkDynamicConfig(const ZkServers& servers) {
  std::string out;
  for (const auto& [id, spec] : servers) out += fmt::format("server.{}={}\n", id, spec);
  return out;
}

Result<ZkConfig> ParseZkConfig(std::string_view text) {
  ZkConfig out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (line.empty()) continue;
    const size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("zookeeper config: line '{}' has no '='", line));
    }
    const std::string_view key = line.substr(0, eq);
    const std::string_view value = line.substr(eq + 1);
    if (key.starts_with("server.")) {
      int id = 0;
      const std::string_view digits = key.substr(7);
      auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
      if (ec != std::errc() || p != digits.data() + digits.size() || id <= 0 || value.empty()) {
        return MakeError(ErrorCode::kInvalidArgument,
                         fmt::format("zookeeper config: bad server line '{}'", line));
      }
      out.servers[id] = std::string(value);
    } else if (key == "version") {
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), out.version, 16);
      if (ec != std::errc() || p != value.data() + value.size()) {
        return MakeError(ErrorCode::kInvalidArgument,
                         fmt::format("zookeeper config: bad version '{}'", value));
      }
    }
  }
  if (out.servers.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "zookeeper config: no server listed");
  }
  return out;
}

SystemFile ZooKeeperCommands(const ZkTuning& tuning) {
  // Strings built as std::string and moved in: GCC 12 at -O2 reports a false -Wrestrict on
  // assigning a literal to a default-initialized member here.
  SystemFile f;
  f.path = std::string("built-in zookeeper");
  f.dir = std::string("/");
  f.name = std::string("zookeeper");
  f.nodes = 3;
  f.client_port = kZkClientPort;
  const std::string pidfile = "{data_dir}/zookeeper.pid";
  const std::string read_pid = fmt::format("p=$(cat {} 2>/dev/null)", pidfile);
  f.commands.start = fmt::format(
      "setsid java -Xms32m -Xmx{}m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 "
      "-Dzookeeper.log.dir={{log_dir}} -Dzookeeper.root.logger=INFO,CONSOLE "
      "-cp /etc/zookeeper/conf:/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-log4j12.jar:"
      "/usr/share/java/log4j-1.2.jar "
      "org.apache.zookeeper.server.quorum.QuorumPeerMain {{data_dir}}/zoo.cfg "
      ">>{{log_dir}}/zookeeper.log 2>&1 </dev/null & echo $! >{}",
      tuning.heap_mb, pidfile);
  f.commands.pid = fmt::format(
      "{} && grep -q QuorumPeerMain /proc/\"$p\"/cmdline 2>/dev/null && echo \"$p\"; true",
      read_pid);
  f.commands.stop = fmt::format(
      "{} && kill \"$p\" 2>/dev/null; for i in $(seq 50); do kill -0 \"$p\" 2>/dev/null || "
      "exit 0; sleep 0.1; done; exit 1",
      read_pid);
  f.commands.kill = fmt::format(
      "{} && kill -9 \"$p\" 2>/dev/null; for i in $(seq 20); do kill -0 \"$p\" 2>/dev/null || "
      "exit 0; sleep 0.1; done; true",
      read_pid);
  f.commands.wipe = fmt::format("rm -rf {{data_dir}}/version-2 {}", pidfile);
  // srvr answers "Mode: leader|follower" only while the server is part of a quorum.
  f.commands.is_up = std::string(
      "bash -c 'exec 3<>/dev/tcp/{address}/{port} && echo srvr >&3 && cat <&3' 2>/dev/null | "
      "grep -q -E '^Mode: (leader|follower)'");
  f.logs = std::vector<std::string>{"{log_dir}/zookeeper.log"};
  f.workloads = std::vector<std::string>{"register"};
  f.client = std::string("exec:false");  // unused: the ZooKeeper system has its own client
  // The JVM's wall clock (System.currentTimeMillis: znode mtimes, log times) comes from libc.
  f.clock = std::string("libfaketime");
  return f;
}

Status WriteZooKeeperNodeConfig(const SystemCluster& cluster, size_t index,
                                const ZkServers& servers, const ZkTuning& tuning) {
  FAULTLINE_ASSIGN_OR_RETURN(std::string cfg, ZooCfg(cluster, index, tuning));
  const SystemNode& n = cluster.nodes[index];
  std::error_code ec;
  std::filesystem::create_directories(n.data_dir, ec);
  for (const auto& [name, text] : {std::pair<std::string, std::string>{"zoo.cfg", cfg},
                                   {"zoo.cfg.dynamic", ZkDynamicConfig(servers)},
                                   {"myid", fmt::format("{}\n", index + 1)}}) {
    const std::string path = fmt::format("{}/{}", n.data_dir, name);
    std::ofstream out(path, std::ios::trunc);
    out << text;
    out.close();
    if (ec || !out) {
      return MakeError(ErrorCode::kUnavailable,
                       fmt::format("zookeeper: node {}: cannot write {}", n.name, path));
    }
  }
  return OkStatus();
}

Status WriteZooKeeperConfig(const SystemCluster& cluster, const ZkTuning& tuning) {
  const ZkServers all = ZkAllServers(cluster);
  for (size_t i = 0; i < cluster.nodes.size(); ++i) {
    FAULTLINE_RETURN_IF_ERROR(WriteZooKeeperNodeConfig(cluster, i, all, tuning));
  }
  return OkStatus();
}

Result<std::string> ZkFourLetterWord(const std::string& address, int port, std::string_view word,
                                     std::chrono::milliseconds timeout) {
  namespace asio = boost::asio;
  using tcp = asio::ip::tcp;
  boost::system::error_code ec;
  const asio::ip::address ip = asio::ip::make_address(address, ec);
  if (ec) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("zookeeper: address '{}': {}", address, ec.message()));
  }
  asio::io_context io;
  tcp::socket socket(io);
  std::string out;
  const std::string request(word);
  bool done = false;
  boost::system::error_code result;
  auto finish = [&](boost::system::error_code e) {
    result = e == asio::error::eof ? boost::system::error_code() : e;
    done = true;
  };
  socket.async_connect(
      tcp::endpoint(ip, static_cast<std::uint16_t>(port)), [&](boost::system::error_code e) {
        if (e) return finish(e);
        asio::async_write(socket, asio::buffer(request), [&](boost::system::error_code w, size_t) {
          if (w) return finish(w);
          asio::async_read(socket, asio::dynamic_buffer(out),
                           [&](boost::system::error_code r, size_t) { finish(r); });
        });
      });
  io.run_for(timeout);
  if (!done) {
    return MakeError(
        ErrorCode::kDeadlineExceeded,
        fmt::format("{}:{}: {}: no answer within {} ms", address, port, request, timeout.count()));
  }
  if (result) {
    return MakeError(ErrorCode::kUnavailable,
                     fmt::format("{}:{}: {}: {}", address, port, request, result.message()));
  }
  return out;
}

std::string ZkMode(std::string_view answer) {
  for (std::string_view mode : {"leader", "follower"}) {
    if (answer.find(fmt::format("Mode: {}\n", mode)) != std::string_view::npos) {
      return std::string(mode);
    }
  }
  return "";
}

namespace {

// How long a srvr probe waits for its answer.
constexpr std::chrono::milliseconds kSrvrTimeout{500};
// How long a getconfig or reconfig waits for its answer (a session of its own included).
constexpr std::chrono::milliseconds kAdminTimeout{5000};

// The commands' system, with ZooKeeper's configuration written before it starts and its own
// client.
class ZooKeeperSystem final : public System {
 public:
  ZooKeeperSystem()
      : commands_(MakeFileSystem(ZooKeeperCommands(tuning_))), admin_(MakeZkAdmin(kAdminTimeout)) {
    info_ = commands_->Info();
    info_.name = "zookeeper";
    info_.has_leader = true;  // the ensemble's leader (Leader() asks the servers)
    // The JVM reads the wall clock through libc's clock_gettime, so libfaketime reaches it
    // (ZooKeeperCommands: clock libfaketime; nemesis::FaketimeEnv says why
    // FAKETIME_FORCE_MONOTONIC_FIX=0 is needed for a JVM).
  }

  const SystemInfo& Info() const override { return info_; }

  Status Form(const SystemCluster& cluster, nemesis::NodeControl& shell,
              std::chrono::milliseconds timeout, const Progress& progress) override {
    if (cluster.local != nullptr) {
      FAULTLINE_RETURN_IF_ERROR(WriteZooKeeperConfig(cluster, tuning_));
    } else {
      // Nodes over SSH: the files are written on each node.
      for (size_t i = 0; i < cluster.nodes.size(); ++i) {
        const SystemNode& n = cluster.nodes[i];
        FAULTLINE_ASSIGN_OR_RETURN(std::string cfg, ZooCfg(cluster, i, tuning_));
        for (const auto& [name, text] : {std::pair<std::string, std::string>{"zoo.cfg", cfg},
                                         {"myid", fmt::format("{}\n", i + 1)}}) {
          Status written =
              WriteNodeFile(shell, cluster, n, fmt::format("{}/{}", n.data_dir, name), text);
          if (!written) return written.error().WithContext("zookeeper");
        }
      }
    }
    return commands_->Form(cluster, shell, timeout, progress);
  }
  Result<std::unique_ptr<nemesis::NodeControl>> Control(const SystemCluster& cluster,
                                                        nemesis::NodeControl& base) override {
    return commands_->Control(cluster, base);
  }
  // srvr sent from here to every node's client port, in parallel: a few ms per node, where the
  // is_up command (a shell in the node's namespace) costs hundreds on a busy machine. Nodes over
  // SSH keep the command.
  Status Ready(const SystemCluster& cluster, nemesis::NodeControl& shell) override {
    if (cluster.local == nullptr) return commands_->Ready(cluster, shell);
    std::vector<std::string> why(cluster.nodes.size());
    std::vector<std::thread> probes;
    for (size_t i = 0; i < cluster.nodes.size(); ++i) {
      probes.emplace_back([&, i] {
        const SystemNode& n = cluster.nodes[i];
        Result<std::string> answer = ZkFourLetterWord(n.address, n.port, "srvr", kSrvrTimeout);
        if (!answer) {
          why[i] = fmt::format("{}: {}", n.name, answer.error().message());
        } else if (ZkMode(*answer).empty()) {
          why[i] = fmt::format("{}: not serving (no quorum)", n.name);
        }
      });
    }
    for (std::thread& t : probes) t.join();
    std::string all;
    for (const std::string& w : why) {
      if (!w.empty()) all += (all.empty() ? "" : "; ") + w;
    }
    if (all.empty()) return OkStatus();
    return MakeError(ErrorCode::kUnavailable, all);
  }
  std::optional<std::string> Leader(const SystemCluster& cluster) override {
    for (const SystemNode& n : cluster.nodes) {
      Result<std::string> answer = ZkFourLetterWord(n.address, n.port, "srvr", kSrvrTimeout);
      if (answer && ZkMode(*answer) == "leader") return n.name;
    }
    return std::nullopt;
  }
  Result<std::unique_ptr<client::ClientFactory>> Clients(const SystemCluster& cluster,
                                                         const ClientSetup& setup) override {
    FAULTLINE_RETURN_IF_ERROR(CheckWorkload(setup.workload));
    client::ZkClientOptions o;
    FAULTLINE_ASSIGN_OR_RETURN(o.read_mode, client::ParseZkReadMode(setup.read_mode));
    for (const SystemNode& n : cluster.nodes) {
      o.endpoints.push_back({.node = n.name, .address = n.address, .port = n.port});
    }
    o.timeout = setup.timeout;
    o.session_timeout = std::chrono::milliseconds(20 * tuning_.tick_ms);  // the server's maximum
    o.key_prefix = setup.key_prefix;
    return client::MakeZkClientFactory(std::move(o));
  }
  // Dynamic reconfig (MakeZkMembership). The nodes' configuration files are written on this
  // machine, so a local cluster only.
  Result<std::unique_ptr<nemesis::Membership>> Membership(const SystemCluster& cluster,
                                                          nemesis::NodeControl& control) override {
    if (cluster.local == nullptr) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "system zookeeper: membership changes need a local cluster (faultline "
                       "writes the joining server's configuration into its data directory)");
    }
    return MakeZkMembership(cluster, control, *admin_, tuning_);
  }

  Status Teardown(const SystemCluster& cluster, nemesis::NodeControl& shell) override {
    return commands_->Teardown(cluster, shell);
  }
  std::vector<std::string> LogFiles(const SystemCluster& cluster,
                                    const SystemNode& node) const override {
    return commands_->LogFiles(cluster, node);
  }

 private:
  ZkTuning tuning_;
  std::unique_ptr<System> commands_;
  std::unique_ptr<ZkAdmin> admin_;
  SystemInfo info_;
};

}  // namespace

std::unique_ptr<System> MakeZooKeeperSystem() { return std::make_unique<ZooKeeperSystem>(); }

}  // namespace faultline::systems::internal
