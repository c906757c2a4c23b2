// Unprivileged tests of the nodes file parser and of the nodes file a local cluster writes.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "cluster/cluster.h"
#include "cluster/nodes_file.h"
#include "cluster/sshd.h"

namespace faultline::cluster {
namespace {

using ::testing::HasSubstr;

constexpr char kGood[] = R"({
  "cluster": "lab",
  "nodes": [
    {"name": "n1", "host": "198.18.7.1", "port": 22, "user": "root",
     "identity_file": "/k/id", "known_hosts": "/k/kh",
     "ssh_options": ["ConnectTimeout=3"],
     "db": {"start": "svc start", "kill": "svc kill", "pid": "cat /run/db.pid",
            "data_dir": "/var/lib/db"}},
    {"name": "n2", "host": "db2.example", "port": 2222, "user": "admin",
     "identity_file": "/k/id", "known_hosts": "/k/kh", "address": "198.18.7.2",
     "db": {"start": "a", "kill": "b", "pid": "c"}}
  ]
})";

TEST(NodesFile, ParsesAGoodFile) {
  auto file = ParseNodesFile(kGood, "good.json");
  ASSERT_TRUE(file) << file.error().message();
  EXPECT_EQ(file->cluster, "lab");
  ASSERT_EQ(file->nodes.size(), 2u);
  const SshNode& n1 = file->nodes[0];
  EXPECT_EQ(n1.name, "n1");
  EXPECT_EQ(n1.host, "198.18.7.1");
  EXPECT_EQ(n1.address, "198.18.7.1");  // defaulted from host
  EXPECT_EQ(n1.port, 22);
  EXPECT_EQ(n1.user, "root");
  EXPECT_EQ(n1.identity_file, "/k/id");
  EXPECT_EQ(n1.known_hosts, "/k/kh");
  EXPECT_THAT(n1.ssh_options, ::testing::ElementsAre("ConnectTimeout=3"));
  EXPECT_EQ(n1.db.start, "svc start");
  EXPECT_EQ(n1.db.kill, "svc kill");
  EXPECT_EQ(n1.db.pid, "cat /run/db.pid");
  EXPECT_EQ(n1.db.data_dir, "/var/lib/db");
  const SshNode& n2 = file->nodes[1];
  EXPECT_EQ(n2.host, "db2.example");
  EXPECT_EQ(n2.address, "198.18.7.2");
  EXPECT_EQ(n2.port, 2222);
  EXPECT_FALSE(n2.db.data_dir.has_value());

  // Formatting and parsing again gives the same file.
  auto again = ParseNodesFile(FormatNodesFile(*file), "formatted");
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(*again, *file);
}

struct Removal {
  std::string pointer;   // JSON pointer of the field to remove
  std::string expected;  // what the error must say
};

void PrintTo(const Removal& r, std::ostream* os) { *os << r.pointer; }

class NodesFileMissingField : public ::testing::TestWithParam<Removal> {};

TEST_P(NodesFileMissingField, ErrorNamesFileAndField) {
  auto doc = nlohmann::json::parse(kGood);
  const nlohmann::json::json_pointer ptr(GetParam().pointer);
  doc[ptr.parent_pointer()].erase(ptr.back());
  auto file = ParseNodesFile(doc.dump(), "/etc/lab/nodes.json");
  ASSERT_FALSE(file) << "parsed without " << GetParam().pointer;
  EXPECT_EQ(file.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(file.error().message(), HasSubstr("nodes file /etc/lab/nodes.json: "));
  EXPECT_THAT(file.error().message(), HasSubstr(GetParam().expected));
  EXPECT_THAT(file.error().message(), HasSubstr("missing"));
}

INSTANTIATE_TEST_SUITE_P(
    Fields, NodesFileMissingField,
    ::testing::Values(Removal{"/cluster", "field \"cluster\""},
                      Removal{"/nodes", "field \"nodes\""},
                      Removal{"/nodes/0/name", "nodes[0]: field \"name\""},
                      Removal{"/nodes/0/host", "nodes[0] (n1): field \"host\""},
                      Removal{"/nodes/0/port", "nodes[0] (n1): field \"port\""},
                      Removal{"/nodes/1/user", "nodes[1] (n2): field \"user\""},
                      Removal{"/nodes/0/identity_file", "nodes[0] (n1): field \"identity_file\""},
                      Removal{"/nodes/0/known_hosts", "nodes[0] (n1): field \"known_hosts\""},
                      Removal{"/nodes/1/address", "nodes[1] (n2): field \"address\""},
                      Removal{"/nodes/0/db", "nodes[0] (n1): field \"db\""},
                      Removal{"/nodes/0/db/start", "nodes[0] (n1): db: field \"start\""},
                      Removal{"/nodes/0/db/kill", "nodes[0] (n1): db: field \"kill\""},
                      Removal{"/nodes/1/db/pid", "nodes[1] (n2): db: field \"pid\""}),
    [](const ::testing::TestParamInfo<Removal>& p) {
      std::string name;
      bool upper = true;
      for (char c : p.param.pointer) {
        if (c == '/' || c == '_') {
          upper = true;
          continue;
        }
        name += upper ? static_cast<char>(std::toupper(c)) : c;
        upper = false;
      }
      return name;
    });

TEST(NodesFile, RejectsBadValues) {
  const auto with = [](const std::string& pointer, nlohmann::json value) {
    auto doc = nlohmann::json::parse(kGood);
    doc[nlohmann::json::json_pointer(pointer)] = std::move(value);
    return ParseNodesFile(doc.dump(), "f.json");
  };
  auto port = with("/nodes/0/port", 70000);
  ASSERT_FALSE(port);
  EXPECT_THAT(port.error().message(), HasSubstr("nodes[0] (n1): field \"port\": expected an "
                                                "integer in 1..65535, got 70000"));
  auto host = with("/nodes/0/host", 5);
  ASSERT_FALSE(host);
  EXPECT_THAT(host.error().message(), HasSubstr("field \"host\": expected a string, got number"));
  auto dup = with("/nodes/1/name", "n1");
  ASSERT_FALSE(dup);
  EXPECT_THAT(dup.error().message(), HasSubstr("node name n1 used twice"));
  auto address = with("/nodes/1/address", "db2");
  ASSERT_FALSE(address);
  EXPECT_THAT(address.error().message(), HasSubstr("\"db2\" is not an IPv4 address"));
  auto opt = with("/nodes/0/ssh_options", nlohmann::json::array({"NoEquals"}));
  ASSERT_FALSE(opt);
  EXPECT_THAT(opt.error().message(), HasSubstr("expected a string \"Key=Value\""));
  auto json = ParseNodesFile("{\"cluster\": ", "broken.json");
  ASSERT_FALSE(json);
  EXPECT_THAT(json.error().message(), HasSubstr("nodes file broken.json: json: "));
  auto missing = ReadNodesFile("/nonexistent/nodes.json");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_THAT(missing.error().message(), HasSubstr("/nonexistent/nodes.json"));
}

// A nodes file for a system of the user's: no db commands, client addresses and ports per node.
constexpr char kSystemFile[] = R"({
  "cluster": "lab",
  "system": "systems/kv.json",
  "nodes": [
    {"name": "n1", "host": "198.18.7.1", "port": 22, "user": "root",
     "identity_file": "/k/id", "known_hosts": "/k/kh",
     "client_address": "198.18.9.1", "client_port": 7101,
     "data_dir": "/srv/kv/data", "log_dir": "/srv/kv/logs"},
    {"name": "n2", "host": "198.18.7.2", "port": 22, "user": "root",
     "identity_file": "/k/id", "known_hosts": "/k/kh"}
  ]
})";

TEST(NodesFile, SystemAndClientEndpoints) {
  auto file = ParseNodesFile(kSystemFile, "/etc/lab/nodes.json");
  ASSERT_TRUE(file) << file.error().message();
  // A system file's path is taken from the nodes file's directory.
  EXPECT_EQ(file->system, "/etc/lab/systems/kv.json");
  const SshNode& n1 = file->nodes[0];
  EXPECT_EQ(n1.address, "198.18.7.1");
  EXPECT_EQ(ClientAddress(n1), "198.18.9.1");
  EXPECT_EQ(n1.client_port, 7101);
  EXPECT_EQ(n1.data_dir, "/srv/kv/data");
  EXPECT_EQ(n1.log_dir, "/srv/kv/logs");
  EXPECT_TRUE(n1.db.start.empty());  // the system's own commands apply
  // Defaults: the node's address, the system's port (0 here), the runner's directories.
  const SshNode& n2 = file->nodes[1];
  EXPECT_EQ(ClientAddress(n2), "198.18.7.2");
  EXPECT_EQ(n2.client_port, 0);
  EXPECT_EQ(n2.data_dir, "");
  auto again = ParseNodesFile(FormatNodesFile(*file), "/elsewhere/formatted.json");
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(*again, *file);

  // A built-in name stays a name; an absolute path stays as it is.
  auto doc = nlohmann::json::parse(kSystemFile);
  doc["system"] = "redis";
  auto redis = ParseNodesFile(doc.dump(), "/etc/lab/nodes.json");
  ASSERT_TRUE(redis) << redis.error().message();
  EXPECT_EQ(redis->system, "redis");
  doc["system"] = "/opt/kv/kv.json";
  auto absolute = ParseNodesFile(doc.dump(), "/etc/lab/nodes.json");
  ASSERT_TRUE(absolute) << absolute.error().message();
  EXPECT_EQ(absolute->system, "/opt/kv/kv.json");

  // Old nodes files (no system) parse as before: no system named, client endpoint = address.
  auto old = ParseNodesFile(kGood, "good.json");
  ASSERT_TRUE(old);
  EXPECT_EQ(old->system, "");
  EXPECT_EQ(ClientAddress(old->nodes[1]), "198.18.7.2");
  EXPECT_EQ(old->nodes[1].client_port, 0);
}

TEST(NodesFile, SystemFieldErrorsNameFileAndField) {
  const auto with = [](const std::string& pointer, nlohmann::json value) {
    auto doc = nlohmann::json::parse(kSystemFile);
    if (value.is_null()) {
      const nlohmann::json::json_pointer ptr(pointer);
      doc[ptr.parent_pointer()].erase(ptr.back());
    } else {
      doc[nlohmann::json::json_pointer(pointer)] = std::move(value);
    }
    return ParseNodesFile(doc.dump(), "/etc/lab/nodes.json");
  };
  struct Case {
    std::string pointer;
    nlohmann::json value;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"/nodes/0/client_port", 0,
       "nodes[0] (n1): field \"client_port\": expected an integer in 1..65535, got 0"},
      {"/nodes/1/client_port", "7001",
       "nodes[1] (n2): field \"client_port\": expected an integer in 1..65535, got \"7001\""},
      {"/nodes/0/client_address", "kv1.example",
       "nodes[0] (n1): field \"client_address\": \"kv1.example\" is not an IPv4 address"},
      {"/nodes/0/client_address", "", "nodes[0] (n1): field \"client_address\": empty"},
      {"/nodes/0/data_dir", "srv/kv",
       "nodes[0] (n1): field \"data_dir\": \"srv/kv\" is not an absolute path"},
      {"/system", 3, "field \"system\": expected a string, got number"},
      {"/system", "", "field \"system\": empty"},
      // Without a system (or with etcd), etcd's db commands are required.
      {"/system", nullptr, "nodes[0] (n1): field \"db\": missing"},
      {"/system", "etcd", "nodes[0] (n1): field \"db\": missing"},
  };
  for (const Case& c : cases) {
    auto file = with(c.pointer, c.value);
    ASSERT_FALSE(file) << c.pointer << " = " << c.value.dump();
    EXPECT_EQ(file.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(file.error().message(), HasSubstr("nodes file /etc/lab/nodes.json: "));
    EXPECT_THAT(file.error().message(), HasSubstr(c.expected)) << c.pointer;
  }
}

TEST(NodesFile, LocalClusterFileUsesCtlCommandsAndFindsEtcdByDataDir) {
  std::string tmpl = "/tmp/fl-nodesfile-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  const std::string dir = tmpl;
  ClusterState state;
  state.name = "lab";
  state.run_dir = dir + "/root/clusters/lab";
  state.db = Db::kEtcd;
  state.ssh_nodes_file = dir + "/nodes.json";
  for (int k = 1; k <= 3; ++k) {
    NodeState n;
    n.name = fmt::format("n{}", k);
    n.address = fmt::format("198.18.3.{}", k);
    n.data_dir = fmt::format("{}/n{}/data", state.run_dir, k);
    state.nodes.push_back(n);
  }
  const SshClientKey key{.private_key = "/k/id", .public_key = "/k/id.pub", .known_hosts = "/k/kh"};
  ASSERT_TRUE(WriteNodesFile(state, key, "/opt/faultline/bin/faultline"));
  auto file = ReadNodesFile(state.ssh_nodes_file);
  ASSERT_TRUE(file) << file.error().message();
  EXPECT_EQ(file->cluster, "lab");
  ASSERT_EQ(file->nodes.size(), 3u);
  const SshNode& n2 = file->nodes[1];
  EXPECT_EQ(n2.name, "n2");
  EXPECT_EQ(n2.host, "198.18.3.2");
  EXPECT_EQ(n2.user, "root");
  EXPECT_EQ(n2.port, 22);
  EXPECT_EQ(n2.identity_file, "/k/id");
  EXPECT_EQ(n2.known_hosts, "/k/kh");
  EXPECT_EQ(n2.db.start, fmt::format("FAULTLINE_STATE_DIR='{}/root' '/opt/faultline/bin/faultline' "
                                     "cluster ctl n2 start --name lab",
                                     dir));
  EXPECT_EQ(n2.db.kill, fmt::format("FAULTLINE_STATE_DIR='{}/root' '/opt/faultline/bin/faultline' "
                                    "cluster ctl n2 kill --name lab",
                                    dir));
  EXPECT_THAT(n2.db.pid, HasSubstr("pgrep -o -f -- 'etcd.*--data-dir[= ]"));
  EXPECT_THAT(n2.db.pid, HasSubstr("/n2/data( |$)'"));
  EXPECT_EQ(n2.db.data_dir, state.nodes[1].data_dir);

  // The default overload names the running binary.
  ASSERT_TRUE(WriteNodesFile(state, key));
  auto self = ReadNodesFile(state.ssh_nodes_file);
  ASSERT_TRUE(self);
  EXPECT_THAT(self->nodes[0].db.start,
              HasSubstr(std::filesystem::read_symlink("/proc/self/exe").string()));
  std::filesystem::remove_all(dir);
}

TEST(NodesFile, ClientKeyIsMadeOnceAndKept) {
  std::string tmpl = "/tmp/fl-sshkey-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  auto key = EnsureClientKey(tmpl + "/ssh");
  ASSERT_TRUE(key) << key.error().message();
  ASSERT_TRUE(std::filesystem::exists(key->private_key));
  ASSERT_TRUE(std::filesystem::exists(key->public_key));
  ASSERT_TRUE(std::filesystem::exists(key->known_hosts));
  const auto written = std::filesystem::last_write_time(key->private_key);
  auto again = EnsureClientKey(tmpl + "/ssh");
  ASSERT_TRUE(again);
  EXPECT_EQ(std::filesystem::last_write_time(again->private_key), written);
  std::filesystem::remove_all(tmpl);
}

}  // namespace
}  // namespace faultline::cluster
