// Redis as a built-in system, without servers: the options, the generated redis.conf and
// sentinel.conf, the commands, the registry entry, and the account of a run (failovers and the
// acknowledged writes a deposed primary lost) from a made-up history.
#include "systems/internal/redis.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "history/edn.h"
#include "history/fields.h"
#include "systems/registry.h"

namespace faultline::systems {
namespace {

using history::Op;
using history::OpType;
using history::Process;
using history::Value;
using ::testing::HasSubstr;
using ::testing::Not;

SystemCluster ThreeNodes() {
  SystemCluster c;
  c.name = "default";
  for (int i = 1; i <= 3; ++i) {
    c.nodes.push_back(SystemNode{.name = fmt::format("n{}", i),
                                 .address = fmt::format("198.18.0.{}", i),
                                 .port = 6379,
                                 .data_dir = fmt::format("/tmp/r/n{}/data", i),
                                 .log_dir = fmt::format("/tmp/r/n{}/logs", i)});
  }
  return c;
}

TEST(RedisOptions, ParsesEveryKeyAndRefusesTypos) {
  Result<internal::RedisOptions> o = internal::ParseRedisOptions(
      {"min-replicas-to-write=1", "min-replicas-max-lag=2", "wait=2", "wait-timeout-ms=300",
       "appendonly=yes", "appendfsync=always", "down-after-ms=800", "failover-timeout-ms=4000"});
  ASSERT_TRUE(o) << o.error().message();
  EXPECT_EQ(o->min_replicas_to_write, 1);
  EXPECT_EQ(o->min_replicas_max_lag, 2);
  EXPECT_EQ(o->wait, 2);
  EXPECT_EQ(o->wait_timeout_ms, 300);
  EXPECT_TRUE(o->appendonly);
  EXPECT_EQ(o->appendfsync, "always");
  EXPECT_EQ(o->down_after_ms, 800);
  EXPECT_EQ(o->failover_timeout_ms, 4000);
  Result<internal::RedisOptions> typo = internal::ParseRedisOptions({"min-replica-to-write=1"});
  ASSERT_FALSE(typo);
  EXPECT_THAT(typo.error().message(), HasSubstr("unknown option 'min-replica-to-write'"));
  EXPECT_THAT(typo.error().message(), HasSubstr("min-replicas-to-write"));
  EXPECT_FALSE(internal::ParseRedisOptions({"failover-timeout-ms=20000"}));
  EXPECT_FALSE(internal::ParseRedisOptions({"appendfsync=sometimes"}));
  EXPECT_FALSE(internal::ParseRedisOptions({"wait"}));
}

TEST(RedisOptions, OnlyRedisTakesOptions) {
  EXPECT_TRUE(OpenSystem("redis", {"wait=1"}));
  Result<std::unique_ptr<System>> etcd = OpenSystem("etcd", {"wait=1"});
  ASSERT_FALSE(etcd);
  EXPECT_THAT(etcd.error().message(), HasSubstr("takes no system options"));
  Result<std::unique_ptr<System>> redis = OpenSystem("redis");
  ASSERT_TRUE(redis);
  EXPECT_EQ((*redis)->Info().name, "redis");
  EXPECT_EQ((*redis)->Info().client_port, 6379);
  EXPECT_EQ((*redis)->Info().default_nodes, 3);
  EXPECT_TRUE((*redis)->CheckWorkload("set"));
  EXPECT_FALSE((*redis)->CheckWorkload("lock"));
  EXPECT_FALSE(SystemOptionHelp("redis").empty());
}

TEST(RedisConf, PrimaryReplicasAndOptions) {
  internal::RedisOptions o;
  o.min_replicas_to_write = 1;
  o.appendonly = true;
  Result<std::string> primary = internal::RedisConf(ThreeNodes(), 0, o);
  ASSERT_TRUE(primary);
  EXPECT_THAT(*primary, HasSubstr("bind 198.18.0.1\nport 6379\nprotected-mode no\n"));
  EXPECT_THAT(*primary, HasSubstr("dir /tmp/r/n1/data\n"));
  EXPECT_THAT(*primary, HasSubstr("logfile /tmp/r/n1/logs/redis.log\n"));
  EXPECT_THAT(*primary, HasSubstr("appendonly yes\nappendfsync everysec\n"));
  EXPECT_THAT(*primary, HasSubstr("min-replicas-to-write 1\nmin-replicas-max-lag 10\n"));
  EXPECT_EQ(primary->find("\nreplicaof "), std::string::npos);
  Result<std::string> replica = internal::RedisConf(ThreeNodes(), 2, o);
  ASSERT_TRUE(replica);
  EXPECT_THAT(*replica, HasSubstr("replicaof 198.18.0.1 6379\n"));
  EXPECT_FALSE(internal::RedisConf(ThreeNodes(), 3, o));
}

TEST(SentinelConf, MonitorsTheFirstNodeWithAMajorityQuorum) {
  internal::RedisOptions o;
  Result<std::string> s = internal::SentinelConf(ThreeNodes(), 1, o);
  ASSERT_TRUE(s);
  EXPECT_THAT(*s, HasSubstr("bind 198.18.0.2\nport 26379\nprotected-mode no\n"));
  EXPECT_THAT(*s, HasSubstr("sentinel monitor faultline 198.18.0.1 6379 2\n"));
  EXPECT_THAT(*s, HasSubstr("sentinel down-after-milliseconds faultline 1000\n"));
  EXPECT_THAT(*s, HasSubstr("sentinel failover-timeout faultline 2000\n"));
  EXPECT_THAT(*s, HasSubstr("pidfile /tmp/r/n2/data/sentinel.pid\n"));
}

// The leader a `faultline nemesis` asks for on a cluster another process formed: the primary a
// majority of all the Sentinels name, not a plurality of those that answered.
TEST(SentinelMajorityPrimary, AMajorityOfAllNodesNamesIt) {
  const SystemCluster c = ThreeNodes();
  EXPECT_EQ(internal::SentinelMajorityPrimary(c, {"198.18.0.2", "198.18.0.2", ""}), "n2");
  EXPECT_EQ(internal::SentinelMajorityPrimary(c, {"198.18.0.1", "198.18.0.2", "198.18.0.2"}), "n2");
  EXPECT_EQ(internal::SentinelMajorityPrimary(c, {"198.18.0.1", "", ""}), std::nullopt);
  EXPECT_EQ(internal::SentinelMajorityPrimary(c, {"198.18.0.1", "198.18.0.2", "198.18.0.3"}),
            std::nullopt);
  EXPECT_EQ(internal::SentinelMajorityPrimary(c, {"", "", ""}), std::nullopt);
  // An address that is no node's (a stale configuration) is no leader.
  EXPECT_EQ(internal::SentinelMajorityPrimary(c, {"10.0.0.9", "10.0.0.9", "10.0.0.9"}),
            std::nullopt);
}

TEST(RedisCommands, PidIsTheServersNotTheSentinels) {
  SystemFile f = internal::RedisCommands();
  EXPECT_THAT(f.commands.start, HasSubstr("redis-server {data_dir}/redis.conf"));
  EXPECT_THAT(f.commands.pid, HasSubstr("{data_dir}/redis.pid"));
  EXPECT_THAT(f.commands.pid, HasSubstr("! grep -q sentinel"));
  EXPECT_EQ(f.logs, (std::vector<std::string>{"{log_dir}/redis.log", "{log_dir}/sentinel.log"}));
}

constexpr int64_t kStart = 1'000'000'000'000;
constexpr int64_t kSec = 1'000'000'000;

// Ops of the set workload: an add acknowledged by `node` at second `t`, and final reads.
class HistoryBuilder {
 public:
  void Add(int64_t element, double t, std::string node) {
    const Process p = Process::Client(next_++);
    Op inv{.index = -1,
           .time_ns = static_cast<int64_t>(t * kSec) - 1000,
           .type = OpType::kInvoke,
           .process = p,
           .f = "add",
           .key = Value::Int(0),
           .value = Value::Int(element),
           .error = std::nullopt,
           .extras = {}};
    Op ok = inv.Complete(OpType::kOk, Value::Int(element));
    ok.time_ns = static_cast<int64_t>(t * kSec);
    ok.AddExtra(history::field::kNode, Value::String(std::move(node)));
    ops_.push_back(inv);
    ops_.push_back(ok);
  }
  void FinalRead(std::vector<int64_t> elements, double t) {
    Op inv{.index = -1,
           .time_ns = static_cast<int64_t>(t * kSec) - 1000,
           .type = OpType::kInvoke,
           .process = Process::Client(next_++),
           .f = "read",
           .key = Value::Int(0),
           .value = Value::Nil(),
           .error = std::nullopt,
           .extras = {}};
    inv.AddExtra(history::field::kFinal, Value::Bool(true));
    std::vector<Value> items;
    for (int64_t e : elements) items.push_back(Value::Int(e));
    Op ok = inv.Complete(OpType::kOk, Value::Set(std::move(items)));
    ok.time_ns = static_cast<int64_t>(t * kSec);
    ops_.push_back(inv);
    ops_.push_back(ok);
  }
  // A transaction of the append workload (EDN micro-ops, reads filled in) acknowledged by `node`
  // at second `t`.
  void Txn(std::string_view micro_ops, double t, std::string node, bool final = false) {
    Result<Value> v = history::ParseEdn(micro_ops);
    ASSERT_TRUE(v) << micro_ops;
    Op inv{.index = -1,
           .time_ns = static_cast<int64_t>(t * kSec) - 1000,
           .type = OpType::kInvoke,
           .process = Process::Client(next_++),
           .f = "txn",
           .key = std::nullopt,
           .value = *v,
           .error = std::nullopt,
           .extras = {}};
    if (final) inv.AddExtra(history::field::kFinal, Value::Bool(true));
    Op ok = inv.Complete(OpType::kOk, *v);
    ok.time_ns = static_cast<int64_t>(t * kSec);
    ok.AddExtra(history::field::kNode, Value::String(std::move(node)));
    ops_.push_back(inv);
    ops_.push_back(ok);
  }
  // A power cut applied at second `t` (the nemesis's plan op, then its done op naming the nodes).
  void PowerCut(double t, std::string f, std::vector<std::string> nodes, bool ok = true) {
    Op plan{.index = -1,
            .time_ns = static_cast<int64_t>(t * kSec),
            .type = OpType::kInfo,
            .process = Process::Nemesis(),
            .f = f,
            .key = std::nullopt,
            .value = Value::String(f),
            .error = std::nullopt,
            .extras = {}};
    Op done = plan;
    done.time_ns += kSec / 10;
    done.AddExtra(history::field::kOk, Value::Bool(ok));
    done.AddExtra(history::field::kNodes, Value::Strings(std::move(nodes)));
    ops_.push_back(plan);
    ops_.push_back(done);
  }
  history::History Build() {
    Result<history::History> h = history::History::Build(ops_);
    EXPECT_TRUE(h) << h.error().message();
    return h ? *h : history::History();
  }

 private:
  std::vector<Op> ops_;
  int64_t next_ = 0;
};

TEST(RedisAccount, NamesTheFailoverThePrimaryAndTheLostWrites) {
  HistoryBuilder b;
  b.Add(1, 1.0, "n1");
  b.Add(2, 5.5, "n1");  // n1 cut off at 5 s, deposed at 6.5 s: 2 and 3 never reach n3
  b.Add(3, 7.0, "n1");
  b.Add(4, 8.0, "n3");
  b.FinalRead({1, 4}, 20.0);
  const std::vector<internal::RedisFailover> failovers = {{.time_ns = kStart + 6 * kSec + kSec / 2,
                                                           .epoch = 1,
                                                           .from = "n1",
                                                           .to = "n3",
                                                           .seen_by = "n2"}};
  const std::vector<internal::RedisRoleChange> roles = {
      {.time_ns = kStart + 12 * kSec, .node = "n1", .role = "slave", .primary = "n3"}};
  SystemAccount a = internal::RedisAccount(b.Build(), kStart, failovers, roles, {});
  ASSERT_EQ(a.lines.size(), 2u) << fmt::format("{}", fmt::join(a.lines, "\n"));
  EXPECT_EQ(a.lines[0], "redis: Sentinel failover at 6.5 s (epoch 1): primary n1 -> n3");
  EXPECT_THAT(a.lines[1], HasSubstr("redis: 2 acknowledged writes lost (2, 3): primary n1 "
                                    "acknowledged them between 5.5 s and 7.0 s"));
  EXPECT_THAT(a.lines[1], HasSubstr("promoted n3 at 6.5 s (epoch 1)"));
  EXPECT_THAT(a.lines[1], HasSubstr("rejoined as a replica of n3 at 12.0 s"));
  EXPECT_THAT(a.lines[1], HasSubstr("min-replicas-to-write"));
  const nlohmann::json j = nlohmann::json::parse(a.json);
  EXPECT_EQ(j["lost_acknowledged_writes"], 2);
  EXPECT_EQ(j["failovers"][0]["to"], "n3");
  EXPECT_EQ(j["lost_by_primary"][0]["primary"], "n1");
  EXPECT_EQ(j["lost_by_primary"][0]["count"], 2);
}

// Writes a power cut dropped are told as the cut and the fsync policy in force, not as
// replication.
TEST(RedisAccount, NamesThePowerCutAndTheFsyncPolicy) {
  HistoryBuilder b;
  b.Add(1, 1.0, "n1");
  b.PowerCut(2.0, "lose-unsynced-one", {"n2"});  // not the primary: no part in the loss
  b.Add(2, 4.5, "n1");
  b.Add(3, 4.9, "n1");
  b.PowerCut(5.0, "lose-unsynced", {"n1", "n2", "n3"}, false);  // failed: not a cut
  b.PowerCut(5.2, "lose-unsynced", {"n1", "n2", "n3"});
  b.FinalRead({1}, 20.0);
  const history::History h = b.Build();
  const std::vector<internal::RedisPowerCut> cuts = internal::RedisPowerCuts(h);
  ASSERT_EQ(cuts.size(), 2u);
  EXPECT_EQ(cuts[1].time_ns, static_cast<int64_t>(5.2 * kSec));
  EXPECT_EQ(cuts[1].fault, "lose-unsynced");

  internal::RedisOptions aof;
  aof.appendonly = true;
  SystemAccount a = internal::RedisAccount(h, kStart, {}, {}, aof);
  ASSERT_EQ(a.lines.size(), 2u) << fmt::format("{}", fmt::join(a.lines, "\n"));
  EXPECT_THAT(a.lines[1], HasSubstr("2 acknowledged writes lost (2, 3): primary n1"));
  EXPECT_THAT(a.lines[1], HasSubstr("lost power at 5.2 s (lose-unsynced on n1,n2,n3"));
  EXPECT_THAT(a.lines[1], HasSubstr("appendfsync everysec"));
  EXPECT_THAT(a.lines[1], Not(HasSubstr("replicates asynchronously")));
  EXPECT_THAT(a.lines[1], Not(HasSubstr("no failover")));
  const nlohmann::json j = nlohmann::json::parse(a.json);
  EXPECT_EQ(j["lost_by_primary"][0]["power_cut"]["fault"], "lose-unsynced");

  // Without the append-only file, the account says nothing reached the disk.
  SystemAccount none = internal::RedisAccount(h, kStart, {}, {}, {});
  EXPECT_THAT(none.lines[1], HasSubstr("appendonly no"));
  // A failover from n1 before the cut: replication lost them, as before.
  const std::vector<internal::RedisFailover> failovers = {
      {.time_ns = kStart + 5 * kSec, .epoch = 1, .from = "n1", .to = "n2", .seen_by = "n3"}};
  SystemAccount f = internal::RedisAccount(h, kStart, failovers, {}, aof);
  ASSERT_EQ(f.lines.size(), 2u);
  EXPECT_THAT(f.lines[1], HasSubstr("promoted n2"));
  EXPECT_THAT(f.lines[1], Not(HasSubstr("lost power")));
}

TEST(RedisAccount, NothingLostWithoutAFailover) {
  HistoryBuilder b;
  b.Add(1, 1.0, "n1");
  b.FinalRead({1}, 3.0);
  SystemAccount a = internal::RedisAccount(b.Build(), kStart, {}, {}, {});
  EXPECT_EQ(a.lines, (std::vector<std::string>{"redis: no Sentinel failover during the run",
                                               "redis: no acknowledged write was lost"}));
  EXPECT_EQ(nlohmann::json::parse(a.json)["lost_acknowledged_writes"], 0);
}

TEST(RedisAccount, AppendsAbsentFromTheFinalReadOfTheirKeyAreLost) {
  HistoryBuilder b;
  b.Txn("[[:append 1 1] [:r 2 []]]", 1.0, "n1");
  b.Txn("[[:append 1 2] [:append 2 1]]", 5.5, "n1");  // lost: n1 was cut off
  b.Txn("[[:append 1 3]]", 8.0, "n3");
  b.Txn("[[:append 3 1]]", 8.5, "n3");  // no final read of key 3: undecidable
  b.Txn("[[:r 1 [1 3]] [:r 2 []]]", 20.0, "n3", /*final=*/true);
  SystemAccount a = internal::RedisAccount(b.Build(), kStart, {}, {}, {});
  ASSERT_EQ(a.lines.size(), 2u) << fmt::format("{}", fmt::join(a.lines, "\n"));
  EXPECT_THAT(a.lines[1], HasSubstr("redis: 2 acknowledged writes lost ([:append 1 2], "
                                    "[:append 2 1]): primary n1 acknowledged them"));
  EXPECT_EQ(nlohmann::json::parse(a.json)["lost_acknowledged_writes"], 2);
}

}  // namespace
}  // namespace faultline::systems
