// Clock faults in campaigns on a local cluster (issue 17 §2), root only. The example key-value
// system (examples/kv/kv.json declares "clock": "libfaketime") runs clock-bump and clock-strobe
// faults: each one is confirmed by the independent probe (a process on the node with its server's
// clock environment reads the offset), results.json has each node's offsets over time, and the run
// is valid. Then, on the same cluster left running, the kv server itself answers {"op": "time"}
// with the offset while a bump holds and with the true time after the heal. etcd (a Go program)
// is refused before anything starts. Every server and cluster is stopped, also on failure.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "cluster/cluster.h"
#include "nemesis/clock.h"
#include "nemesis/nemesis.h"
#include "runner/local.h"
#include "runner/testing/local_campaign.h"
#include "systems/registry.h"

namespace faultline::runner {
namespace {

namespace fs = std::filesystem;
using checker::Validity;

class ClockCampaignTest : public testing::LocalCampaignFixture {
 protected:
  ClockCampaignTest() : LocalCampaignFixture("faultline-clocktest", "clk", {"server.py"}) {}

  CampaignConfig Config() {
    CampaignConfig c;
    c.system = std::string(FAULTLINE_SOURCE_DIR) + "/examples/kv/kv.json";
    c.name = name_;
    c.nodes = 3;
    c.out = (root_ / "runs").string();
    c.concurrency = 5;
    c.time_limit_s = 12;
    c.nemesis = {FaultKind::kClockBump, FaultKind::kClockStrobe};
    c.fault_s = 2.5;
    c.heal_s = 1.5;
    c.final_phase_s = 20;
    c.check_time_limit_s = 30;
    c.seed = 3;
    return c;
  }

  std::string State() const { return (root_ / "state").string(); }
};

// The kv server's own clock, asked over its protocol from inside the node's namespace.
Result<std::int64_t> ServerTimeMs(nemesis::NodeControl& control, const std::string& node,
                                  const std::string& address) {
  const std::string cmd = fmt::format(
      "python3 -c \"import socket,json; s=socket.create_connection(('{}', 7001), 2); "
      "s.sendall(b'{{\\\"op\\\": \\\"time\\\"}}\\n'); "
      "print(json.loads(s.makefile().readline())['value'])\"",
      address);
  FAULTLINE_ASSIGN_OR_RETURN(nemesis::CommandOutput out, control.Run(node, cmd));
  if (out.exit_code != 0) {
    return MakeError(ErrorCode::kUnavailable, fmt::format("time op on {}: {}", node, out.err));
  }
  return std::stoll(out.out);
}

std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TEST_F(ClockCampaignTest, ExampleKvClockFaultsAreProbedRecordedAndHealed) {
  CampaignConfig c = Config();
  c.leave_db_running = true;  // the servers are asked for their time afterwards
  LocalCampaignOptions options;
  options.state_root = State();
  Result<RunReport> run = RunLocalCampaign(c, std::stop_token(), {}, options);
  ASSERT_TRUE(run) << run.error().message();
  const RunReport& r = *run;
  std::printf("%s", r.text.c_str());
  EXPECT_EQ(r.verdict.validity, Validity::kValid) << r.text;
  int clock_faults = 0;
  for (const FaultInterval& f : r.stats.faults) {
    if (!nemesis::IsClockFaultKind(f.spec.kind)) continue;
    ++clock_faults;
    EXPECT_TRUE(f.ok) << f.description << ": " << fmt::format("{}", fmt::join(f.details, "; "));
    EXPECT_EQ(f.probe.confirmed, std::optional<bool>(true)) << f.plan() << ": " << f.probe.evidence;
  }
  EXPECT_GE(clock_faults, 2);
  std::ifstream in(r.files.results);
  const nlohmann::json results = nlohmann::json::parse(in);
  ASSERT_TRUE(results.contains("clock_offsets")) << results.dump(2);
  for (const auto& [node, steps] : results["clock_offsets"].items()) {
    ASSERT_GE(steps.size(), 3u) << node;
    EXPECT_EQ(steps.front()["offset_ms"], 0) << node;
    EXPECT_EQ(steps.back()["offset_ms"], 0) << node << ": healed at the end";
    EXPECT_NE(steps[1]["offset_ms"], 0) << node;
  }

  // The same cluster, still up: the kv server on n2 reads the bumped clock, then the true one.
  Result<cluster::ClusterState> state = cluster::Load(name_, State());
  ASSERT_TRUE(state) << state.error().message();
  auto system = systems::OpenSystem(c.system);
  ASSERT_TRUE(system);
  auto nodes = systems::LocalNodes(*state, (*system)->Info());
  ASSERT_TRUE(nodes);
  auto shell = cluster::MakeLocalControl(*state);
  ASSERT_TRUE(shell);
  auto control = (*system)->Control(*nodes, **shell);
  ASSERT_TRUE(control);
  nemesis::NemesisOptions o;
  o.net = state->NetConfig();
  o.ledger_path = (root_ / "clock.ledger").string();
  o.control = control->get();
  o.clock = systems::LocalClockAccess(*nodes, (*system)->Info());
  auto nem = nemesis::Nemesis::Open(o);
  ASSERT_TRUE(nem) << nem.error().message();
  const std::string n2 = state->nodes[1].address;
  auto before = ServerTimeMs(**shell, "n2", n2);
  ASSERT_TRUE(before) << before.error().message();
  EXPECT_LT(std::abs(*before - NowMs()), 500);
  nemesis::FaultSpec bump;
  bump.kind = FaultKind::kClockBump;
  bump.targets = "n2";
  bump.clock_offset = std::chrono::milliseconds(-7000);
  auto applied = nemesis::ApplyFault(**nem, bump, state->NodeNames(), {});
  ASSERT_TRUE(applied && applied->ok)
      << (applied ? applied->Describe() : applied.error().message());
  auto during = ServerTimeMs(**shell, "n2", n2);
  ASSERT_TRUE(during) << during.error().message();
  EXPECT_NEAR(static_cast<double>(*during - NowMs()), -7000, 500);
  auto n1 = ServerTimeMs(**shell, "n1", state->nodes[0].address);
  ASSERT_TRUE(n1);
  EXPECT_LT(std::abs(*n1 - NowMs()), 500) << "only n2 was bumped";
  const nemesis::FaultReport healed = (*nem)->HealAll();
  EXPECT_TRUE(healed.ok) << healed.Describe();
  auto after = ServerTimeMs(**shell, "n2", n2);
  ASSERT_TRUE(after) << after.error().message();
  EXPECT_LT(std::abs(*after - NowMs()), 500);
  nem->reset();
  EXPECT_TRUE((*system)->Teardown(*nodes, **shell));
  EXPECT_TRUE(cluster::Down(name_, State()));
}

// A system libfaketime cannot reach is refused with the reason, before anything starts: etcd (a
// Go program). (ZooKeeper is reached: runner/membership_campaign_test.cc bumps its clock.)
TEST_F(ClockCampaignTest, EtcdIsRefusedBeforeAnythingStarts) {
  for (const auto& [system, reason] :
       {std::pair<std::string, std::string>{"etcd", "etcd is a Go program"}}) {
    CampaignConfig c = Config();
    c.system = system;
    LocalCampaignOptions options;
    options.state_root = State();
    Result<RunReport> r = RunLocalCampaign(c, std::stop_token(), {}, options);
    ASSERT_FALSE(r) << system;
    EXPECT_NE(r.error().message().find(reason), std::string::npos) << r.error().message();
  }
  EXPECT_FALSE(fs::exists(root_ / "runs"));
  EXPECT_TRUE(cluster::List(State()).empty());
}

}  // namespace
}  // namespace faultline::runner
