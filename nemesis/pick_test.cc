// Backend choice for `auto`, with fake probe results: no root needed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nemesis/net.h"

namespace faultline::nemesis {
namespace {

using std::chrono::microseconds;
using ::testing::HasSubstr;

ProbeResult Works(BackendKind kind, microseconds cost, std::set<PartitionMode> modes) {
  ProbeResult p;
  p.backend = kind;
  p.works = true;
  p.modes = std::move(modes);
  p.cost = cost;
  return p;
}

ProbeResult Fails(BackendKind kind, std::string why) {
  ProbeResult p;
  p.backend = kind;
  p.error = Error(ErrorCode::kUnavailable, std::move(why));
  return p;
}

const std::set<PartitionMode> kAll = {PartitionMode::kDrop, PartitionMode::kReject,
                                      PartitionMode::kNewOnly};

TEST(PickBackend, PicksTheFastestThatWorks) {
  const std::vector<ProbeResult> probes = {
      Works(BackendKind::kNft, microseconds(700), kAll),
      Works(BackendKind::kNetlink, microseconds(20),
            {PartitionMode::kDrop, PartitionMode::kReject}),
      Works(BackendKind::kIptables, microseconds(20000), kAll)};
  EXPECT_EQ(*PickBackend(probes, PartitionMode::kDrop), BackendKind::kNetlink);
  EXPECT_EQ(*PickBackend(probes, PartitionMode::kNewOnly), BackendKind::kNft);
}

TEST(PickBackend, FallsBackWhenTheFastestFails) {
  const std::vector<ProbeResult> probes = {
      Fails(BackendKind::kNetlink, "netlink: Operation not permitted"),
      Fails(BackendKind::kNft, "nft: Could not process rule"),
      Works(BackendKind::kIptables, microseconds(20000), kAll)};
  EXPECT_EQ(*PickBackend(probes, PartitionMode::kReject), BackendKind::kIptables);
}

TEST(PickBackend, NoBackendExplainsEachFailure) {
  const std::vector<ProbeResult> probes = {
      Fails(BackendKind::kNft, "nft: boom"),
      Works(BackendKind::kNetlink, microseconds(20), {PartitionMode::kDrop})};
  auto picked = PickBackend(probes, PartitionMode::kNewOnly);
  ASSERT_FALSE(picked);
  EXPECT_EQ(picked.error().code(), ErrorCode::kUnavailable);
  EXPECT_THAT(picked.error().message(), HasSubstr("nft: nft: boom"));
  EXPECT_THAT(picked.error().message(), HasSubstr("netlink: does not support new-only"));
}

TEST(ParseNames, ModesAndBackendsRoundTrip) {
  for (auto m : {PartitionMode::kDrop, PartitionMode::kReject, PartitionMode::kNewOnly}) {
    EXPECT_EQ(*ParsePartitionMode(PartitionModeName(m)), m);
  }
  for (auto k :
       {BackendKind::kAuto, BackendKind::kNft, BackendKind::kNetlink, BackendKind::kIptables}) {
    EXPECT_EQ(*ParseBackendKind(BackendName(k)), k);
  }
  EXPECT_THAT(ParsePartitionMode("blackhole").error().message(), HasSubstr("expected drop"));
  EXPECT_THAT(ParseBackendKind("tc").error().message(), HasSubstr("expected auto"));
}

TEST(NetFactories, RejectBadConfigsBeforeTouchingAnything) {
  const NetConfig bad_run{.run_id = "Bad-Run",
                          .nodes = {{.name = "n1", .netns = "x", .address = "198.19.77.1"}}};
  const NetConfig bad_address{.run_id = "r1",
                              .nodes = {{.name = "n1", .netns = "x", .address = "n1.local"}}};
  const NetConfig duplicate{.run_id = "r1",
                            .nodes = {{.name = "n1", .netns = "x", .address = "198.19.77.1"},
                                      {.name = "n1", .netns = "y", .address = "198.19.77.2"}}};
  for (auto kind : {BackendKind::kNft, BackendKind::kNetlink}) {
    auto a = MakeNet(kind, bad_run);
    ASSERT_FALSE(a);
    EXPECT_THAT(a.error().message(), HasSubstr("run id \"Bad-Run\""));
    auto b = MakeNet(kind, bad_address);
    ASSERT_FALSE(b);
    EXPECT_THAT(b.error().message(), HasSubstr("not an IPv4 address"));
    auto c = MakeNet(kind, duplicate);
    ASSERT_FALSE(c);
    EXPECT_THAT(c.error().message(), HasSubstr("listed twice"));
  }
}

TEST(NetFactories, ApplyRejectsGrudgesNamingUnknownNodes) {
  const NetConfig config{.run_id = "r1",
                         .nodes = {{.name = "n1", .netns = "x", .address = "198.19.77.1"},
                                   {.name = "n2", .netns = "y", .address = "198.19.77.2"}}};
  auto net = MakeNftNet(config);
  ASSERT_TRUE(net);
  auto applied = (*net)->Apply({{"n1", {"n9"}}}, PartitionMode::kDrop);
  ASSERT_FALSE(applied);
  EXPECT_THAT(applied.error().message(), HasSubstr("node n9, which is not in the cluster"));
  auto netlink = MakeNetlinkNet(config);
  ASSERT_TRUE(netlink);
  EXPECT_FALSE((*netlink)->Supports(PartitionMode::kNewOnly));
  auto refused = (*netlink)->Apply({{"n1", {"n2"}}}, PartitionMode::kNewOnly);
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message(), HasSubstr("new-only"));
}

}  // namespace
}  // namespace faultline::nemesis
