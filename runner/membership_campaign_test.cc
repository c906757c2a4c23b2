// A campaign that grows and shrinks an etcd cluster (issue 17 §4): register workload, the
// member-remove fault (one member or a minority removed, stopped and wiped; the heal after each
// fault adds them back on an empty data dir). The verdict must be valid, the faults recorded in
// nemesis.json and the history, and afterwards the cluster must have its original five members,
// all started, at least one of them with a new member id (it really left and came back). Root
// only; the cluster is brought up by the test (no owner) so it can be inspected after the run, and
// torn down whether the test passes or fails.
//
// ZooKeeper (reconfig): a 3-node ensemble under member-remove (reconfig -remove, killed, wiped;
// the heal starts it on a configuration naming the ensemble and itself, then reconfig -add) and
// clock-bump planned (so the servers run under libfaketime), sync reads: valid, the removal in
// nemesis.json, the original three servers in the ensemble's configuration afterwards; then on the
// ensemble left running a -7 s bump of n2's clock shows in the times its JVM logs (issue 17 §2).
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stop_token>

#include "cluster/cluster.h"
#include "cluster/http.h"
#include "common/ports.h"
#include "nemesis/clock.h"
#include "nemesis/nemesis.h"
#include "runner/local.h"
#include "systems/registry.h"

namespace faultline::runner {
namespace {

namespace fs = std::filesystem;
using checker::Validity;

class MembershipCampaignTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "needs root (network namespaces, the cluster's supervisor)";
    root_ = fs::temp_directory_path() / fmt::format("faultline-membertest-{}", ::getpid());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override {
    (void)cluster::Down(kName, State());
    (void)cluster::Down(kZkName, State());
    fs::remove_all(root_);
  }

  std::string State() const { return (root_ / "state").string(); }

  struct Member {
    std::string id;
    std::string name;  // empty while not started
  };
  // Peer URL -> member, as the first node that answers lists them.
  static std::map<std::string, Member> Members(const cluster::ClusterState& state) {
    for (const cluster::NodeState& n : state.nodes) {
      cluster::HttpClient http(n.address, kEtcdClientPort);
      auto r = http.Request("POST", "/v3/cluster/member/list", "{}", std::chrono::seconds(2));
      if (!r || r->status != 200) continue;
      const auto j = nlohmann::json::parse(r->body, nullptr, false);
      if (j.is_discarded() || !j.contains("members")) continue;
      std::map<std::string, Member> out;
      for (const auto& m : j["members"]) {
        for (const auto& url : m.value("peerURLs", nlohmann::json::array())) {
          out[url.get<std::string>()] =
              Member{.id = m.value("ID", std::string()), .name = m.value("name", std::string())};
        }
      }
      return out;
    }
    return {};
  }

  // The time (ms, read as UTC) of the last line of `log` that contains `what`; -1 if none.
  static int64_t LastLogTimeMs(const std::string& log, std::string_view what) {
    std::ifstream in(log);
    std::string line;
    std::string last;
    while (std::getline(in, line)) {
      if (line.find(what) != std::string::npos) last = line;
    }
    std::tm tm{};
    int ms = 0;
    if (last.size() < 23 ||
        std::sscanf(last.c_str(), "%d-%d-%d %d:%d:%d,%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                    &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7) {
      return -1;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return static_cast<int64_t>(::timegm(&tm)) * 1000 + ms;
  }

  static constexpr const char* kName = "memb";
  static constexpr const char* kZkName = "membzk";
  fs::path root_;
};

TEST_F(MembershipCampaignTest, EtcdRegisterWithMemberRemoveIsValidAndEndsWithTheOriginalMembers) {
  cluster::ClusterSpec spec;
  spec.name = kName;
  spec.nodes = 5;
  spec.state_root = State();
  Result<cluster::ClusterState> state = cluster::Up(spec);
  ASSERT_TRUE(state) << state.error().message();
  const auto before = Members(*state);
  ASSERT_EQ(before.size(), 5u);

  CampaignConfig c;
  c.system = "etcd";
  c.name = kName;
  c.nodes = 5;
  c.out = (root_ / "runs").string();
  c.concurrency = 10;
  c.time_limit_s = 20;
  c.nemesis = {FaultKind::kMemberRemove};
  c.fault_s = 4;
  c.heal_s = 2;
  c.final_phase_s = 30;
  c.check_time_limit_s = 30;
  c.seed = 3;
  LocalCampaignOptions options;
  options.state_root = State();
  Result<RunReport> r = RunLocalCampaign(c, std::stop_token(), {}, options);
  ASSERT_TRUE(r) << r.error().message();
  std::printf("%s", r->text.c_str());
  EXPECT_EQ(r->verdict.validity, Validity::kValid) << r->text;
  EXPECT_GE(r->verdict.figures.faults, 2);

  // Recorded as faults are: in nemesis.json and the history, with what the member API did.
  std::stringstream nemesis_json;
  nemesis_json << std::ifstream(r->files.nemesis).rdbuf();
  EXPECT_NE(nemesis_json.str().find("member-remove"), std::string::npos) << nemesis_json.str();
  EXPECT_NE(nemesis_json.str().find("removed through"), std::string::npos) << nemesis_json.str();
  // Every heal added the removed members back and closed their ledger entries.
  EXPECT_EQ(nemesis_json.str().find("heal: incomplete"), std::string::npos) << nemesis_json.str();
  std::stringstream history;
  history << std::ifstream(r->files.jsonl).rdbuf();
  EXPECT_NE(history.str().find("\"member-remove\""), std::string::npos);

  // The original membership: the same five peer URLs, every member started (named after its
  // node), and at least one new member id (a member left and came back).
  const auto after = Members(*state);
  ASSERT_EQ(after.size(), 5u);
  int new_ids = 0;
  for (const cluster::NodeState& n : state->nodes) {
    auto it = after.find(n.PeerUrl());
    ASSERT_NE(it, after.end()) << n.name << " is no member after the campaign";
    EXPECT_EQ(it->second.name, n.name);
    if (before.at(n.PeerUrl()).id != it->second.id) ++new_ids;
  }
  EXPECT_GE(new_ids, 1);
  // And the system's own view agrees.
  auto system = systems::OpenSystem("etcd");
  ASSERT_TRUE(system);
  auto nodes = systems::LocalNodes(*state, (*system)->Info());
  ASSERT_TRUE(nodes);
  auto control = cluster::MakeLocalControl(*state);
  ASSERT_TRUE(control);
  auto membership = (*system)->Membership(*nodes, **control);
  ASSERT_TRUE(membership) << membership.error().message();
  auto members = (*membership)->Members();
  ASSERT_TRUE(members) << members.error().message();
  EXPECT_EQ(*members, state->NodeNames());
}

TEST_F(MembershipCampaignTest, ZooKeeperRegisterWithMemberRemoveIsValidAndHealsTheEnsemble) {
  ASSERT_TRUE(fs::exists("/usr/share/java/zookeeper.jar")) << "needs zookeeper (tools/setup.sh)";
  CampaignConfig c;
  c.system = "zookeeper";
  c.name = kZkName;
  c.nodes = 3;
  c.out = (root_ / "runs").string();
  c.concurrency = 6;
  c.time_limit_s = 12;
  c.read_mode = "sync";
  c.nemesis = {FaultKind::kMemberRemove, FaultKind::kClockBump};
  c.fault_s = 4;
  c.heal_s = 2;
  c.final_phase_s = 20;
  c.check_time_limit_s = 30;
  c.seed = 5;
  c.leave_db_running = true;  // inspected below, then torn down by TearDown
  LocalCampaignOptions options;
  options.state_root = State();
  Result<RunReport> r = RunLocalCampaign(c, std::stop_token(), {}, options);
  ASSERT_TRUE(r) << r.error().message();
  std::printf("%s", r->text.c_str());
  EXPECT_EQ(r->verdict.validity, Validity::kValid) << r->text;
  EXPECT_GE(r->verdict.figures.faults, 1);

  // The ensemble shrank (reconfig -remove, the server stopped and wiped) and every heal added the
  // server back and closed its ledger entry.
  std::stringstream nemesis_json;
  nemesis_json << std::ifstream(r->files.nemesis).rdbuf();
  const std::string nj = nemesis_json.str();
  EXPECT_NE(nj.find("reconfig -remove"), std::string::npos) << nj;
  EXPECT_NE(nj.find("wiped version-2"), std::string::npos) << nj;
  EXPECT_EQ(nj.find("heal: incomplete"), std::string::npos) << nj;
  std::stringstream history;
  history << std::ifstream(r->files.jsonl).rdbuf();
  EXPECT_NE(history.str().find("\"member-remove\""), std::string::npos);
  // clock-bump is planned so that the servers run under libfaketime; seed 5 draws member-remove
  // first and second, so the clock is bumped below (a clock fault the schedule drew must hold).
  for (const FaultInterval& f : r->stats.faults) {
    if (!nemesis::IsClockFaultKind(f.spec.kind)) continue;
    EXPECT_TRUE(f.ok) << f.description << ": " << fmt::format("{}", fmt::join(f.details, "; "));
    EXPECT_EQ(f.probe.confirmed, std::optional<bool>(true)) << f.plan() << ": " << f.probe.evidence;
  }

  // The ensemble's own configuration: the original three servers (the removed one added back by
  // reconfig -add), each serving.
  Result<cluster::ClusterState> state = cluster::Load(kZkName, State());
  ASSERT_TRUE(state) << state.error().message();
  auto system = systems::OpenSystem("zookeeper");
  ASSERT_TRUE(system);
  auto nodes = systems::LocalNodes(*state, (*system)->Info());
  ASSERT_TRUE(nodes);
  auto control = cluster::MakeLocalControl(*state);
  ASSERT_TRUE(control);
  auto membership = (*system)->Membership(*nodes, **control);
  ASSERT_TRUE(membership) << membership.error().message();
  auto members = (*membership)->Members();
  ASSERT_TRUE(members) << members.error().message();
  EXPECT_EQ(*members, state->NodeNames());
  EXPECT_TRUE((*system)->Ready(*nodes, **control)) << "not every server serves after the heal";

  // n2's JVM reads the bumped clock: the srvr it logs during a -7 s bump is stamped about 7 s
  // before the one it logged just earlier.
  auto commands = (*system)->Control(*nodes, **control);
  ASSERT_TRUE(commands) << commands.error().message();
  nemesis::NemesisOptions o;
  o.net = state->NetConfig();
  o.ledger_path = (root_ / "zkclock.ledger").string();
  o.control = commands->get();
  o.clock = systems::LocalClockAccess(*nodes, (*system)->Info());
  auto nem = nemesis::Nemesis::Open(o);
  ASSERT_TRUE(nem) << nem.error().message();
  const systems::SystemNode& n2 = nodes->nodes[1];
  const std::string log = n2.log_dir + "/zookeeper.log";
  const std::string srvr = fmt::format(
      "bash -c 'exec 3<>/dev/tcp/{}/{} && echo srvr >&3 && cat <&3'", n2.address, n2.port);
  ASSERT_TRUE((*control)->Run("n2", srvr));
  const int64_t before = LastLogTimeMs(log, "Processing srvr command");
  ASSERT_GT(before, 0) << log;
  nemesis::FaultSpec bump;
  bump.kind = FaultKind::kClockBump;
  bump.targets = "n2";
  bump.clock_offset = std::chrono::milliseconds(-7000);
  auto applied = nemesis::ApplyFault(**nem, bump, state->NodeNames(), {});
  ASSERT_TRUE(applied && applied->ok)
      << (applied ? applied->Describe() : applied.error().message());
  ASSERT_TRUE((*control)->Run("n2", srvr));
  const int64_t during = LastLogTimeMs(log, "Processing srvr command");
  EXPECT_NEAR(static_cast<double>(during - before), -7000, 1500) << log;
  const nemesis::FaultReport healed = (*nem)->HealAll();
  EXPECT_TRUE(healed.ok) << healed.Describe();
  ASSERT_TRUE((*control)->Run("n2", srvr));
  EXPECT_NEAR(static_cast<double>(LastLogTimeMs(log, "Processing srvr command") - before), 0, 1500);
  nem->reset();
  EXPECT_TRUE((*system)->Teardown(*nodes, **control));
}

}  // namespace
}  // namespace faultline::runner
