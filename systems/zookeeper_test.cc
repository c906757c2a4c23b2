// ZooKeeper as a built-in system, without servers: the generated zoo.cfg, the commands and the
// registry entry.
#include "systems/internal/zookeeper.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "systems/registry.h"

namespace faultline::systems {
namespace {

SystemCluster ThreeNodes(const std::string& root = "/tmp/zk") {
  SystemCluster c;
  c.name = "default";
  for (int i = 1; i <= 3; ++i) {
    c.nodes.push_back(SystemNode{.name = fmt::format("n{}", i),
                                 .address = fmt::format("198.18.0.{}", i),
                                 .port = internal::kZkClientPort,
                                 .data_dir = fmt::format("{}/n{}/data", root, i),
                                 .log_dir = fmt::format("{}/n{}/logs", root, i)});
  }
  return c;
}

TEST(ZooCfg, DynamicReconfigWithTheServersInTheirOwnFile) {
  internal::ZkTuning t;
  Result<std::string> cfg = internal::ZooCfg(ThreeNodes(), 1, t);
  ASSERT_TRUE(cfg) << cfg.error().message();
  for (const char* line :
       {"tickTime=200\n", "initLimit=10\n", "syncLimit=5\n", "dataDir=/tmp/zk/n2/data\n",
        "reconfigEnabled=true\n", "standaloneEnabled=false\n", "skipACL=yes\n",
        "dynamicConfigFile=/tmp/zk/n2/data/zoo.cfg.dynamic\n",
        "4lw.commands.whitelist=srvr,ruok\n"}) {
    EXPECT_NE(cfg->find(line), std::string::npos) << line << " missing from\n" << *cfg;
  }
  // Servers and client ports live in the dynamic file only (ZooKeeper refuses both places).
  EXPECT_EQ(cfg->find("server."), std::string::npos) << *cfg;
  EXPECT_EQ(cfg->find("clientPort"), std::string::npos) << *cfg;
  const std::string dynamic = internal::ZkDynamicConfig(internal::ZkAllServers(ThreeNodes()));
  EXPECT_EQ(dynamic,
            "server.1=198.18.0.1:2888:3888:participant;198.18.0.1:2181\n"
            "server.2=198.18.0.2:2888:3888:participant;198.18.0.2:2181\n"
            "server.3=198.18.0.3:2888:3888:participant;198.18.0.3:2181\n");
}

TEST(ZooCfg, TuningAndBadIndex) {
  internal::ZkTuning t{.tick_ms = 100, .init_limit = 7, .sync_limit = 3, .heap_mb = 64};
  Result<std::string> cfg = internal::ZooCfg(ThreeNodes(), 0, t);
  ASSERT_TRUE(cfg);
  EXPECT_NE(cfg->find("tickTime=100\ninitLimit=7\nsyncLimit=3\n"), std::string::npos) << *cfg;
  Result<std::string> bad = internal::ZooCfg(ThreeNodes(), 3, t);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("index 3 of 3"), std::string::npos);
}

TEST(ZooCfg, WritesConfigAndMyid) {
  const std::string root =
      (std::filesystem::temp_directory_path() / fmt::format("zk-cfg-{}", ::getpid())).string();
  SystemCluster c = ThreeNodes(root);
  ASSERT_TRUE(internal::WriteZooKeeperConfig(c, {}));
  for (int i = 1; i <= 3; ++i) {
    std::ifstream myid(fmt::format("{}/n{}/data/myid", root, i));
    std::string id;
    myid >> id;
    EXPECT_EQ(id, std::to_string(i));
    std::ifstream cfg(fmt::format("{}/n{}/data/zoo.cfg", root, i));
    std::stringstream text;
    text << cfg.rdbuf();
    EXPECT_NE(text.str().find(fmt::format("dataDir={}/n{}/data", root, i)), std::string::npos);
    std::ifstream dyn(fmt::format("{}/n{}/data/zoo.cfg.dynamic", root, i));
    std::stringstream servers;
    servers << dyn.rdbuf();
    EXPECT_EQ(servers.str(), internal::ZkDynamicConfig(internal::ZkAllServers(c)));
  }
  std::filesystem::remove_all(root);
}

TEST(ZooKeeperCommands, EveryPlaceholderKnownAndHeapSet) {
  SystemFile f = internal::ZooKeeperCommands({.heap_mb = 96});
  SystemCluster c = ThreeNodes();
  Placeholders p{{"peers", c.Peers()}, {"cluster", "default"},    {"dir", "/"},
                 {"node", "n1"},       {"address", "198.18.0.1"}, {"port", "2181"},
                 {"data_dir", "/d"},   {"log_dir", "/l"}};
  for (const std::string* cmd : {&f.commands.start, &f.commands.stop, &f.commands.kill,
                                 &f.commands.pid, &f.commands.wipe, &f.commands.is_up}) {
    Result<std::string> e = ExpandPlaceholders(*cmd, p);
    ASSERT_TRUE(e) << *cmd << ": " << e.error().message();
  }
  Result<std::string> start = ExpandPlaceholders(f.commands.start, p);
  EXPECT_NE(start->find("-Xmx96m"), std::string::npos);
  EXPECT_NE(start->find("QuorumPeerMain /d/zoo.cfg"), std::string::npos);
  EXPECT_NE(start->find(">/d/zookeeper.pid"), std::string::npos);
  EXPECT_NE(ExpandPlaceholders(f.commands.is_up, p)->find("/dev/tcp/198.18.0.1/2181"),
            std::string::npos);
}

TEST(ZooKeeperSystem, BuiltInWithRegisterOnlyAndItsReadModes) {
  std::vector<std::string> names = BuiltinSystems();
  EXPECT_NE(std::find(names.begin(), names.end(), "zookeeper"), names.end());
  Result<std::unique_ptr<System>> s = OpenSystem("zookeeper");
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ((*s)->Info().name, "zookeeper");
  EXPECT_EQ((*s)->Info().client_port, 2181);
  EXPECT_EQ((*s)->Info().local_db, cluster::Db::kNone);
  EXPECT_TRUE((*s)->CheckWorkload("register"));
  EXPECT_FALSE((*s)->CheckWorkload("set"));
  ClientSetup setup;
  setup.read_mode = "plain";
  EXPECT_TRUE((*s)->Clients(ThreeNodes(), setup));
  setup.read_mode = "sync";
  EXPECT_TRUE((*s)->Clients(ThreeNodes(), setup));
  setup.read_mode = "sometimes";
  Result<std::unique_ptr<client::ClientFactory>> bad = (*s)->Clients(ThreeNodes(), setup);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("plain or sync"), std::string::npos);
}

}  // namespace
}  // namespace faultline::systems

namespace faultline::systems::internal {
namespace {

// srvr's answer names the role only while the server is part of a quorum.
TEST(ZkModeTest, NamesLeaderOrFollowerElseNothing) {
  EXPECT_EQ(ZkMode("Zookeeper version: 3.8.0\nLatency min/avg/max: 0/0.0/0\nMode: leader\n"
                   "Node count: 5\n"),
            "leader");
  EXPECT_EQ(ZkMode("Zookeeper version: 3.8.0\nMode: follower\n"), "follower");
  EXPECT_EQ(ZkMode("This ZooKeeper instance is not currently serving requests\n"), "");
  EXPECT_EQ(ZkMode(""), "");
}

// A port nobody listens on: an error, never a hang.
TEST(ZkFourLetterWordTest, RefusedConnectionIsUnavailable) {
  Result<std::string> r = ZkFourLetterWord("127.0.0.1", 1, "srvr", std::chrono::milliseconds(500));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace faultline::systems::internal
