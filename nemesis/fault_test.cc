#include "nemesis/fault.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace faultline::nemesis {
namespace {

TEST(FaultKindTest, NamesRoundTrip) {
  for (const FaultKindInfo& info : kFaultKinds) {
    Result<FaultKind> k = ParseFaultKind(info.name);
    ASSERT_TRUE(k) << info.name;
    EXPECT_EQ(*k, info.kind);
    EXPECT_EQ(FaultKindName(info.kind), info.name);
  }
}

// The strings histories, nemesis.json and FaultReport have always carried.
TEST(FaultKindTest, NamesAndFsAreTheRecordedOnes) {
  const std::vector<std::pair<FaultKind, std::string>> names = {
      {FaultKind::kPartition, "partition"},
      {FaultKind::kIsolate, "isolate"},
      {FaultKind::kIsolateLeader, "isolate-leader"},
      {FaultKind::kKill, "kill"},
      {FaultKind::kCrash, "crash"},
      {FaultKind::kStart, "start"},
      {FaultKind::kRestart, "restart"},
      {FaultKind::kPause, "pause"},
      {FaultKind::kResume, "resume"},
      {FaultKind::kLoss, "loss"},
      {FaultKind::kDelay, "delay"},
      {FaultKind::kBandwidth, "bandwidth"},
      {FaultKind::kCorrupt, "corrupt"},
      {FaultKind::kSiege, "siege"},
      {FaultKind::kHttpStatus, "http-status"},
      {FaultKind::kHttpDelay, "http-delay"},
      {FaultKind::kHttpDrop, "http-drop"},
      {FaultKind::kHttpTruncate, "http-truncate"},
      {FaultKind::kProxyLatency, "proxy-latency"},
      {FaultKind::kDuplicate, "duplicate"},
      {FaultKind::kReorder, "reorder"},
      {FaultKind::kPacketCorrupt, "packet-corrupt"},
      {FaultKind::kClockBump, "clock-bump"},
      {FaultKind::kClockStrobe, "clock-strobe"},
      {FaultKind::kClockReset, "clock-reset"},
      {FaultKind::kLoseUnsynced, "lose-unsynced"},
      {FaultKind::kLoseUnsyncedOne, "lose-unsynced-one"},
      {FaultKind::kFsyncError, "fsync-error"},
      {FaultKind::kTornWrite, "torn-write"},
      {FaultKind::kSlowDisk, "slow-disk"},
      {FaultKind::kMemberRemove, "member-remove"},
      {FaultKind::kMemberAdd, "member-add"},
      {FaultKind::kHeal, "heal"}};
  ASSERT_EQ(names.size(), kFaultKinds.size());
  for (const auto& [kind, name] : names) EXPECT_EQ(FaultKindName(kind), name);
  EXPECT_EQ(FaultF(FaultKind::kIsolate), "partition");
  EXPECT_EQ(FaultF(FaultKind::kIsolateLeader), "partition");
  EXPECT_EQ(FaultF(FaultKind::kKill), "kill");
  EXPECT_EQ(FaultF(FaultKind::kLoss), "loss");
}

// The disk kinds (nemesis/disk.h) as written on the command line, and their targets' defaults.
TEST(FaultKindTest, DiskKindsParseAndTarget) {
  Result<FaultSpec> eio = ParseFaultSpec("fsync-error n2 --probability 0.5 --for-ms 3000");
  ASSERT_TRUE(eio) << eio.error().message();
  EXPECT_EQ(DescribeFault(*eio), "fsync-error 50% on n2");
  EXPECT_EQ(*ParseFaultSpec(FormatFaultSpec(*eio)), *eio);
  Result<FaultSpec> slow = ParseFaultSpec("slow-disk all --ms 20");
  ASSERT_TRUE(slow) << slow.error().message();
  EXPECT_EQ(DescribeFault(*slow), "slow-disk 20±0 ms on all");
  EXPECT_FALSE(ParseFaultSpec("lose-unsynced n1")) << "lose-unsynced is every node";
  EXPECT_FALSE(ParseFaultSpec("torn-write --probability 0.5"));
  const std::vector<std::string> nodes = {"n1", "n2", "n3"};
  FaultSpec one;
  one.kind = FaultKind::kLoseUnsyncedOne;  // as a campaign schedules it, without targets
  auto targets = FaultTargets(one, nodes, {});
  ASSERT_TRUE(targets);
  EXPECT_EQ(targets->size(), 1u) << "lose-unsynced-one: one node by default";
  FaultSpec all;
  all.kind = FaultKind::kTornWrite;
  auto torn = FaultTargets(all, nodes, {});
  ASSERT_TRUE(torn);
  EXPECT_EQ(torn->size(), 3u);
}

TEST(FaultKindTest, ParseAmongAllowed) {
  const std::vector<FaultKind> allowed = {FaultKind::kKill, FaultKind::kPause, FaultKind::kLoss};
  EXPECT_EQ(*ParseFaultKind("pause", allowed), FaultKind::kPause);
  Result<FaultKind> bad = ParseFaultKind("siege", allowed);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad.error().message(), "unknown fault 'siege' (expected kill, pause or loss)");
  EXPECT_FALSE(ParseFaultKind("flood"));
  EXPECT_FALSE(ParseFaultKind(""));
}

TEST(FaultKindTest, Lists) {
  const std::vector<FaultKind> allowed = {FaultKind::kPartition, FaultKind::kKill,
                                          FaultKind::kLoss};
  Result<std::vector<FaultKind>> k = ParseFaultKindList("partition,kill,partition,loss", allowed);
  ASSERT_TRUE(k) << k.error().message();
  EXPECT_EQ(*k, allowed);
  EXPECT_TRUE(ParseFaultKindList("none", allowed)->empty());
  EXPECT_TRUE(ParseFaultKindList("", allowed)->empty());
  Result<std::vector<FaultKind>> flood = ParseFaultKindList("partition,flood", allowed);
  ASSERT_FALSE(flood);
  EXPECT_EQ(flood.error().message(),
            "unknown fault 'flood' (expected partition, kill, loss or none)");
  EXPECT_FALSE(ParseFaultKindList("partition,", allowed));
  EXPECT_EQ(FormatFaultKindList(*k), "partition,kill,loss");
  EXPECT_EQ(FormatFaultKindList(std::vector<FaultKind>{}), "none");
  EXPECT_EQ(FaultKindList(allowed), "partition, kill or loss");
}

FaultSpec Spec(FaultKind kind, std::string targets = "") {
  FaultSpec s;
  s.kind = kind;
  s.targets = std::move(targets);
  return s;
}

GrudgeSpec GSpec(GrudgeKind kind, std::string node = "", std::string to = "") {
  return GrudgeSpec{.kind = kind, .node = std::move(node), .to = std::move(to)};
}

// One valid spec of every kind, with parameters away from their defaults.
std::vector<FaultSpec> Examples() {
  std::vector<FaultSpec> out;
  FaultSpec oneway = Spec(FaultKind::kPartition);
  oneway.grudge = GSpec(GrudgeKind::kOneWay, "n1", "n2");
  oneway.partition_mode = PartitionMode::kNewOnly;
  oneway.duration = std::chrono::milliseconds(5000);
  oneway.seed = 7;
  out.push_back(oneway);
  out.push_back(Spec(FaultKind::kPartition));
  out.push_back(Spec(FaultKind::kIsolate, "n3"));
  FaultSpec leader = Spec(FaultKind::kIsolateLeader);
  leader.partition_mode = PartitionMode::kReject;
  out.push_back(leader);
  for (FaultKind k : {FaultKind::kKill, FaultKind::kCrash, FaultKind::kStart, FaultKind::kRestart,
                      FaultKind::kPause, FaultKind::kResume}) {
    out.push_back(Spec(k, "n1,n3"));
  }
  FaultSpec pause = Spec(FaultKind::kPause, "leader");
  pause.duration = std::chrono::milliseconds(1500);
  pause.seed = 18446744073709551615ull;
  out.push_back(pause);
  FaultSpec loss = Spec(FaultKind::kLoss, "minority");
  loss.peers = {"n2", "n4"};
  loss.include_control = true;
  loss.probability = 0.125;
  out.push_back(loss);
  out.push_back(Spec(FaultKind::kLoss));
  FaultSpec delay = Spec(FaultKind::kDelay, "n1");
  delay.delay = std::chrono::milliseconds(50);
  delay.jitter = std::chrono::milliseconds(10);
  out.push_back(delay);
  FaultSpec bandwidth = Spec(FaultKind::kBandwidth, "n5");
  bandwidth.kbit = 1000;
  out.push_back(bandwidth);
  FaultSpec bump = Spec(FaultKind::kClockBump, "minority");
  bump.clock_offset = std::chrono::milliseconds(-2500);
  bump.duration = std::chrono::milliseconds(4000);
  out.push_back(bump);
  FaultSpec strobe = Spec(FaultKind::kClockStrobe, "n2");
  strobe.clock_offset = std::chrono::milliseconds(86'400'000);
  strobe.clock_period = std::chrono::milliseconds(10);
  out.push_back(strobe);
  out.push_back(Spec(FaultKind::kClockReset, "all"));
  FaultSpec corrupt = Spec(FaultKind::kCorrupt, "n2");
  corrupt.corrupt.files = {"member/snap/db", "member/wal/*.wal"};
  corrupt.corrupt.mode = CorruptMode::kBitFlip;
  corrupt.corrupt.count = 8;
  corrupt.corrupt.offset = -4096;
  out.push_back(corrupt);
  FaultSpec siege = Spec(FaultKind::kSiege, "one");
  siege.siege.cpu_percent = 80.5;
  siege.siege.memory_mb = 512;
  siege.duration = std::chrono::milliseconds(5000);
  out.push_back(siege);
  FaultSpec status = Spec(FaultKind::kHttpStatus, "n1,n2");
  status.proxy.share = 0.2;
  status.proxy.status = 500;
  status.proxy.body = "injected";
  status.proxy.method = "GET";
  status.proxy.path = "/v3/kv/*";
  status.proxy.header = "X-Fault";
  status.proxy.header_value = "on";
  status.duration = std::chrono::milliseconds(3000);
  out.push_back(status);
  out.push_back(Spec(FaultKind::kHttpDrop));
  FaultSpec http_delay = Spec(FaultKind::kHttpDelay, "one");
  http_delay.delay = std::chrono::milliseconds(200);
  http_delay.proxy.share = 0.05;
  out.push_back(http_delay);
  FaultSpec truncate = Spec(FaultKind::kHttpTruncate);
  truncate.proxy.bytes = 10;
  out.push_back(truncate);
  FaultSpec latency = Spec(FaultKind::kProxyLatency, "n3");
  latency.delay = std::chrono::milliseconds(40);
  latency.jitter = std::chrono::milliseconds(4);
  latency.proxy.share = 0.5;
  out.push_back(latency);
  FaultSpec duplicate = Spec(FaultKind::kDuplicate, "n1");
  duplicate.probability = 0.2;
  duplicate.peers = {"n2"};
  out.push_back(duplicate);
  FaultSpec reorder = Spec(FaultKind::kReorder, "minority");
  reorder.delay = std::chrono::milliseconds(50);
  reorder.jitter = std::chrono::milliseconds(10);
  out.push_back(reorder);
  FaultSpec packet_corrupt = Spec(FaultKind::kPacketCorrupt);
  packet_corrupt.probability = 0.05;
  packet_corrupt.include_control = true;
  out.push_back(packet_corrupt);
  FaultSpec remove = Spec(FaultKind::kMemberRemove, "n2,n4");
  remove.duration = std::chrono::milliseconds(3000);
  out.push_back(remove);
  out.push_back(Spec(FaultKind::kMemberAdd, "all"));
  out.push_back(Spec(FaultKind::kHeal));
  return out;
}

TEST(FaultSpecTest, SpecStringRoundTrips) {
  for (const FaultSpec& s : Examples()) {
    ASSERT_TRUE(ValidateFaultSpec(s)) << FormatFaultSpec(s);
    const std::string text = FormatFaultSpec(s);
    Result<FaultSpec> back = ParseFaultSpec(text);
    ASSERT_TRUE(back) << text << ": " << back.error().message();
    EXPECT_EQ(*back, s) << text;
  }
}

TEST(FaultSpecTest, JsonRoundTrips) {
  for (const FaultSpec& s : Examples()) {
    const std::string json = FaultSpecToJson(s);
    Result<FaultSpec> back = FaultSpecFromJson(json);
    ASSERT_TRUE(back) << json << ": " << back.error().message();
    EXPECT_EQ(*back, s) << json;
  }
}

TEST(FaultSpecTest, SpecStringsReadAsTheCli) {
  EXPECT_EQ(FormatFaultSpec(Spec(FaultKind::kPartition)), "partition --grudge halves");
  EXPECT_EQ(FormatFaultSpec(Spec(FaultKind::kKill, "n1,n3")), "kill n1,n3");
  FaultSpec loss = Spec(FaultKind::kLoss, "minority");
  loss.probability = 0.2;
  EXPECT_EQ(FormatFaultSpec(loss), "loss minority --probability 0.2");
  Result<FaultSpec> s = ParseFaultSpec("  delay --ms 50 --jitter-ms 10 --nodes n1 --peers n2,n3 ");
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->kind, FaultKind::kDelay);
  EXPECT_EQ(s->targets, "n1");
  EXPECT_EQ(s->peers, (std::vector<std::string>{"n2", "n3"}));
  EXPECT_EQ(s->delay, std::chrono::milliseconds(50));
  EXPECT_EQ(s->jitter, std::chrono::milliseconds(10));
  Result<FaultSpec> r = ParseFaultSpec("reorder n1 --probability 0.3 --ms 50");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->kind, FaultKind::kReorder);
  EXPECT_EQ(r->probability, 0.3);
  EXPECT_EQ(r->delay, std::chrono::milliseconds(50));
  EXPECT_EQ(DescribeFault(*r), "reorder 30% held 50±0 ms from n1");
  Result<FaultSpec> pc = ParseFaultSpec("packet-corrupt n2 --probability 0.05 --peers n1");
  ASSERT_TRUE(pc) << pc.error().message();
  EXPECT_EQ(pc->kind, FaultKind::kPacketCorrupt);
  EXPECT_EQ(DescribeFault(*pc), "packet-corrupt 5% from n2");
  EXPECT_EQ(FaultF(FaultKind::kPacketCorrupt), "packet-corrupt");
  Result<FaultSpec> p = ParseFaultSpec("partition --grudge isolate:n2 --mode reject");
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(p->grudge, GSpec(GrudgeKind::kIsolate, "n2"));
  EXPECT_EQ(p->partition_mode, PartitionMode::kReject);
  Result<FaultSpec> c = ParseFaultSpec("corrupt n1 --files member/snap/db --mode truncate");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->corrupt.mode, CorruptMode::kTruncate);
}

TEST(FaultSpecTest, BadSpecsAreRejectedWithTheReason) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "empty spec"},
      {"flood n1", "unknown fault 'flood'"},
      {"kill", "no targets"},
      {"kill n1 n2", "targets given twice"},
      {"kill n1 --probability 0.5", "--probability does not apply to a kill fault"},
      {"clock-bump n1", "--offset-ms 0: must be non-zero and within ±86400000"},
      {"clock-bump n1 --offset-ms 86400001", "--offset-ms 86400001: must be non-zero"},
      {"clock-bump n1 --offset-ms 5 --period-ms 100",
       "--period-ms does not apply to a clock-bump fault"},
      {"clock-strobe n1 --offset-ms 5", "--period-ms 0: must be in 10..86400000"},
      {"clock-strobe n1 --offset-ms 5 --period-ms 9", "--period-ms 9: must be in 10..86400000"},
      {"clock-reset n1 --offset-ms 5", "--offset-ms does not apply to a clock-reset fault"},
      {"clock-reset", "no targets"},
      {"loss --probability 1.5", "--probability 1.5: not in 0..1"},
      {"loss --probability", "--probability needs a value"},
      {"loss --probability x", "--probability x: not a number"},
      {"loss --bogus 1", "unknown flag --bogus"},
      {"delay n1", "--ms 0: must be > 0"},
      {"delay n1 --ms 10 --jitter-ms 20", "--jitter-ms 20: must be in 0..--ms"},
      {"bandwidth n1", "--kbit 0: must be > 0"},
      {"reorder n1", "--ms 0: must be > 0"},
      {"duplicate n1 --probability 2", "--probability 2: not in 0..1"},
      {"duplicate n1 --ms 5", "--ms does not apply to a duplicate fault"},
      {"packet-corrupt n1 --files db", "--files does not apply to a packet-corrupt fault"},
      {"corrupt n1", "needs file globs"},
      {"corrupt n1 --files db --mode melt", "melt"},
      {"siege n1", "needs --cpu-percent, --memory-mb or --disk-ops"},
      {"partition --grudge thirds", "thirds"},
      {"partition n1", "takes no targets"},
      {"isolate-leader n2", "takes no targets"},
      {"heal --seed 1", "--seed does not apply to a heal fault"},
  };
  for (const auto& [text, want] : cases) {
    Result<FaultSpec> s = ParseFaultSpec(text);
    ASSERT_FALSE(s) << text;
    EXPECT_EQ(s.error().code(), ErrorCode::kInvalidArgument) << text;
    EXPECT_NE(s.error().message().find(want), std::string::npos)
        << text << ": " << s.error().message();
  }
}

TEST(FaultSpecTest, BadJsonIsRejectedWithTheReason) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[1]", "expected a JSON object"},
      {"{", "not JSON"},
      {R"({"targets": "n1"})", "\"fault\" missing"},
      {R"({"fault": "kill", "targets": "n1", "colour": 1})", "unknown key \"colour\""},
      {R"({"fault": "kill", "targets": 3})", "\"targets\": expected a string"},
      {R"({"fault": "kill", "targets": "n1", "kbit": 3})", "\"kbit\" does not apply"},
      {R"({"fault": "corrupt", "targets": "n1", "files": "db"})", "an array of strings"},
      {R"({"fault": "loss", "include_control": 1})", "expected true or false"},
  };
  for (const auto& [text, want] : cases) {
    Result<FaultSpec> s = FaultSpecFromJson(text);
    ASSERT_FALSE(s) << text;
    EXPECT_NE(s.error().message().find(want), std::string::npos)
        << text << ": " << s.error().message();
  }
}

// DescribeFault gives the strings campaigns have always written into histories and nemesis.json.
TEST(FaultSpecTest, DescriptionsAreTheRecordedOnes) {
  FaultSpec ring = Spec(FaultKind::kPartition);
  ring.grudge = GSpec(GrudgeKind::kMajoritiesRing);
  EXPECT_EQ(DescribeFault(ring), "partition majorities-ring");
  EXPECT_EQ(DescribeFault(Spec(FaultKind::kIsolate, "n3")), "partition isolate:n3");
  EXPECT_EQ(DescribeFault(Spec(FaultKind::kIsolateLeader)), "partition isolate:leader");
  EXPECT_EQ(DescribeFault(Spec(FaultKind::kKill, "n2")), "kill n2");
  EXPECT_EQ(DescribeFault(Spec(FaultKind::kPause, "n1,n4")), "pause n1,n4");
  EXPECT_EQ(DescribeFault(Spec(FaultKind::kLoss, "n1,n4")), "loss 30% from n1,n4");
  EXPECT_EQ(DescribeFault(Spec(FaultKind::kHeal)), "heal");
  EXPECT_EQ(DescribeFault(Spec(FaultKind::kMemberRemove, "n2")), "member-remove n2");
  EXPECT_EQ(DescribeFault(Spec(FaultKind::kMemberAdd)), "member-add all");
  FaultSpec status = Spec(FaultKind::kHttpStatus);
  status.proxy.share = 0.2;
  status.proxy.method = "GET";
  status.proxy.path = "/v3/kv/range";
  EXPECT_EQ(DescribeFault(status), "http-status 503 on 20% of requests GET /v3/kv/range to all");
}

TEST(FaultSpecTest, ProxyFaultParameters) {
  EXPECT_TRUE(IsProxyFaultKind(FaultKind::kHttpStatus));
  EXPECT_TRUE(IsProxyFaultKind(FaultKind::kProxyLatency));
  EXPECT_FALSE(IsProxyFaultKind(FaultKind::kDelay));
  Result<FaultSpec> json =
      FaultSpecFromJson(R"({"fault":"http-status","share":0.2,"status":503,"path":"/v3/*"})");
  ASSERT_TRUE(json) << json.error().message();
  EXPECT_EQ(json->proxy.share, 0.2);
  EXPECT_EQ(json->proxy.path, "/v3/*");
  EXPECT_EQ(FormatFaultSpec(*json), "http-status --share 0.2 --path /v3/*");
  auto error = [](std::string_view text) {
    Result<FaultSpec> r = ParseFaultSpec(text);
    return r ? std::string("parsed") : r.error().message();
  };
  EXPECT_EQ(error("http-status --share 1.5"), "fault http-status: --share 1.5: not in 0..1");
  EXPECT_EQ(error("http-status --status 99"), "fault http-status: --status 99: not in 100..599");
  EXPECT_EQ(
      error("http-delay --ms 10 --jitter-ms 2"),
      "fault http-delay: --jitter-ms: http-delay holds each request exactly --ms (no jitter)");
  EXPECT_EQ(error("http-drop --status 500"),
            "fault http-drop: --status does not apply to a http-drop fault");
  EXPECT_EQ(error("kill n1 --share 0.5"), "fault kill: --share does not apply to a kill fault");
  Result<FaultSpec> spaced = FaultSpecFromJson(R"({"fault":"http-status","body":"a b"})");
  ASSERT_FALSE(spaced);
  EXPECT_THAT(spaced.error().message(), ::testing::HasSubstr("no spaces"));
}

TEST(FaultSpecTest, TargetsAndGrudges) {
  const std::vector<std::string> nodes = {"n1", "n2", "n3", "n4", "n5"};
  const LeaderFn leader = [] { return std::optional<std::string>("n4"); };
  const LeaderFn none = [] { return std::optional<std::string>(); };
  EXPECT_EQ(*FaultTargets(Spec(FaultKind::kKill, "n3,n1"), nodes, none),
            (std::vector<std::string>{"n1", "n3"}));
  EXPECT_EQ(*FaultTargets(Spec(FaultKind::kLoss), nodes, none), nodes);
  EXPECT_EQ(*FaultTargets(Spec(FaultKind::kPause, "leader"), nodes, leader),
            (std::vector<std::string>{"n4"}));
  Result<std::vector<std::string>> unknown =
      FaultTargets(Spec(FaultKind::kIsolateLeader), nodes, none);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(unknown.error().message(), "isolate the leader: no leader is known now");
  EXPECT_TRUE(FaultTargets(Spec(FaultKind::kHeal), nodes, none)->empty());

  Result<Grudge> isolated = FaultGrudge(Spec(FaultKind::kIsolateLeader), nodes, leader);
  ASSERT_TRUE(isolated) << isolated.error().message();
  EXPECT_EQ(*isolated, *MakeGrudge(GSpec(GrudgeKind::kIsolate, "n4"), nodes, 0));
  FaultSpec halves = Spec(FaultKind::kPartition);
  halves.seed = 3;
  EXPECT_EQ(*FaultGrudge(halves, nodes, none), *MakeGrudge(halves.grudge, nodes, 3));
  // Several isolated nodes: each one alone, as a drill's isolate step cuts them.
  EXPECT_EQ(*FaultGrudge(Spec(FaultKind::kIsolate, "n1,n2"), nodes, none),
            CompleteGrudge({{"n1"}, {"n2"}, {"n3", "n4", "n5"}}));
  EXPECT_EQ(*FaultGrudge(Spec(FaultKind::kIsolate, "n2"), nodes, none),
            CompleteGrudge({{"n2"}, {"n1", "n3", "n4", "n5"}}));
  EXPECT_FALSE(FaultGrudge(Spec(FaultKind::kKill, "n1"), nodes, none));
  // leader-minority asks the leader, once.
  FaultSpec around = Spec(FaultKind::kPartition);
  around.grudge = GSpec(GrudgeKind::kLeaderMinority);
  around.seed = 4;
  int asked = 0;
  Result<Grudge> minority = FaultGrudge(around, nodes, [&] {
    ++asked;
    return std::optional<std::string>("n4");
  });
  ASSERT_TRUE(minority) << minority.error().message();
  EXPECT_EQ(asked, 1);
  EXPECT_EQ(*minority, *LeaderMinority(nodes, "n4", 4));
  EXPECT_EQ(DescribeFault(around), "partition leader-minority");
  Result<Grudge> leaderless = FaultGrudge(around, nodes, none);
  ASSERT_FALSE(leaderless);
  EXPECT_EQ(leaderless.error().code(), ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace faultline::nemesis
