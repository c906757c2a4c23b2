// The campaign config table: every field reaches JSON and back, the keys and flags users have stay
// as they were, and config.json files written by earlier runs still load.
#include "runner/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "runner/campaign.h"

namespace faultline::runner {
namespace {

using ::testing::HasSubstr;

// The config.json keys and flags of every release so far, in order: a key dropped or renamed here
// breaks `faultline campaign --config` for every run directory people kept.
const std::vector<std::string> kKeys = {"db",
                                        "system",
                                        "system_options",
                                        "nodes",
                                        "cluster",
                                        "name",
                                        "workload",
                                        "nemesis",
                                        "isolate_node",
                                        "time_limit",
                                        "concurrency",
                                        "rate",
                                        "read_mode",
                                        "seed",
                                        "out",
                                        "test_count",
                                        "leave_db_running",
                                        "proxy",
                                        "disk",
                                        "per_key_limit",
                                        "ops_per_key",
                                        "value_domain",
                                        "client_timeout_ms",
                                        "lock_ttl_s",
                                        "lock_acquire_timeout_ms",
                                        "fault_s",
                                        "heal_s",
                                        "info_ceiling",
                                        "final_phase_s",
                                        "check_time_limit_s",
                                        "log_patterns",
                                        "log_pattern_max"};
const std::set<std::string> kFlags = {"--db",
                                      "--system",
                                      "--system-option",
                                      "--nodes",
                                      "--cluster",
                                      "--name",
                                      "--workload",
                                      "--nemesis",
                                      "--isolate-node",
                                      "--time-limit",
                                      "--concurrency",
                                      "--rate",
                                      "--read-mode",
                                      "--seed",
                                      "--out",
                                      "--test-count",
                                      "--leave-db-running",
                                      "--fault-s",
                                      "--heal-s",
                                      "--client-timeout-ms",
                                      "--proxy",
                                      "--disk",
                                      "--log-pattern",
                                      "--log-pattern-max"};

TEST(ConfigTableTest, KeysAndFlagsAreThoseUsersHave) {
  std::vector<std::string> keys;
  std::set<std::string> flags;
  for (const ConfigField& f : ConfigFields()) {
    keys.emplace_back(f.key);
    if (!f.flag.empty()) {
      EXPECT_TRUE(flags.emplace(f.flag).second) << "flag twice: " << f.flag;
    }
    EXPECT_FALSE(f.help.empty()) << f.key;
    EXPECT_EQ(f.is_text(), f.parse != nullptr && f.print != nullptr) << f.key;
  }
  EXPECT_EQ(keys, kKeys);
  EXPECT_EQ(flags, kFlags);

  const nlohmann::ordered_json j = nlohmann::ordered_json::parse(ConfigToJson(CampaignConfig{}));
  std::vector<std::string> written;
  for (const auto& [key, value] : j.items()) written.push_back(key);
  EXPECT_EQ(written, kKeys);
}

TEST(ConfigTableTest, EveryFieldRoundTrips) {
  CampaignConfig c;
  c.nodes = 3;
  c.cluster = "ssh:/tmp/nodes.json";
  c.name = "lab";
  c.workload = Workload::kCounter;
  c.nemesis = {FaultKind::kPause, FaultKind::kIsolate};
  c.isolate_node = "n2";
  c.time_limit_s = 12.5;
  c.concurrency = 7;
  c.rate = 100;
  c.read_mode = "serializable";
  c.seed = 18446744073709551615u;
  c.out = "elsewhere";
  c.test_count = 4;
  c.leave_db_running = true;
  c.per_key_limit = 3;
  c.ops_per_key = 50;
  c.value_domain = 9;
  c.client_timeout_ms = 1500;
  c.lock_ttl_s = 3;
  c.lock_acquire_timeout_ms = 6000;
  c.fault_s = 2;
  c.heal_s = 3;
  c.info_ceiling = 0.25;
  c.final_phase_s = 10;
  c.check_time_limit_s = 60;
  c.log_patterns = {"slow=took too long \\(\\d+ms\\)", "leader=lost leader"};
  c.log_pattern_max = {"leader=2", "permission-denied=0"};
  ASSERT_NE(c, CampaignConfig{});
  Result<CampaignConfig> back = ConfigFromJson(ConfigToJson(c));
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(*back, c);

  // CopyField moves each field alone, so copying all of them copies the config.
  CampaignConfig copy;
  for (const ConfigField& f : ConfigFields()) CopyField(f, c, copy);
  EXPECT_EQ(copy, c);
}

TEST(ConfigTableTest, LogPatternsAreCheckedAndNamed) {
  CampaignConfig c;
  c.log_patterns = {"x=(unclosed"};
  Status s = ValidateConfig(c);
  ASSERT_FALSE(s);
  EXPECT_THAT(s.error().message(), HasSubstr("--log-pattern 'x=(unclosed'"));
  c.log_patterns = {};
  c.log_pattern_max = {"panic=lots"};
  s = ValidateConfig(c);
  ASSERT_FALSE(s);
  EXPECT_THAT(s.error().message(), HasSubstr("'lots' is not a count"));
  Result<CampaignConfig> j =
      ConfigFromJson(R"({"log_patterns": ["a=b"], "log_pattern_max": ["a=1"]})");
  ASSERT_TRUE(j) << j.error().message();
  EXPECT_EQ(j->log_pattern_max, std::vector<std::string>{"a=1"});
}

TEST(ConfigTableTest, OlderConfigFilesLoad) {
  // As written by a run before the table existed (nemesis as a string), and by hand (nemesis as
  // an array, fields missing).
  Result<CampaignConfig> old = ConfigFromJson(R"({
  "db": "etcd", "nodes": 5, "cluster": "local", "name": "default", "workload": "register",
  "nemesis": "partition,kill", "isolate_node": "", "time_limit": 30.0, "concurrency": 10,
  "rate": 0.0, "read_mode": "linearizable", "seed": 42, "out": "runs", "test_count": 1,
  "leave_db_running": false, "per_key_limit": 2, "ops_per_key": 100, "value_domain": 5,
  "client_timeout_ms": 1000, "lock_ttl_s": 2.0, "lock_acquire_timeout_ms": 5000,
  "fault_s": 5.0, "heal_s": 5.0, "info_ceiling": 0.5, "final_phase_s": 30.0,
  "check_time_limit_s": 120.0})");
  ASSERT_TRUE(old) << old.error().message();
  EXPECT_EQ(old->seed, 42u);
  EXPECT_EQ(old->nemesis, (std::vector<FaultKind>{FaultKind::kPartition, FaultKind::kKill}));

  Result<CampaignConfig> by_hand = ConfigFromJson(R"({"nemesis": ["pause", "loss"], "nodes": 3})");
  ASSERT_TRUE(by_hand) << by_hand.error().message();
  EXPECT_EQ(by_hand->nemesis, (std::vector<FaultKind>{FaultKind::kPause, FaultKind::kLoss}));
  EXPECT_EQ(by_hand->nodes, 3);
  EXPECT_EQ(by_hand->time_limit_s, CampaignConfig{}.time_limit_s);
}

TEST(ConfigTableTest, ErrorsNameTheField) {
  Result<CampaignConfig> unknown = ConfigFromJson(R"({"concurrenc": 3})");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().message(), R"(campaign config: unknown field "concurrenc")");

  Result<CampaignConfig> wrong_type = ConfigFromJson(R"({"nodes": "five"})");
  ASSERT_FALSE(wrong_type);
  EXPECT_THAT(wrong_type.error().message(), HasSubstr("campaign config: "));

  struct Case {
    const char* json;
    const char* says;
  };
  for (const Case& c : {Case{R"({"db": "redis"})", "db 'redis'"},
                        Case{R"({"nodes": 12})", "nodes 12 is not in 1..9"},
                        Case{R"({"cluster": "remote"})", "cluster 'remote'"},
                        Case{R"({"time_limit": 0})", "time limit"},
                        Case{R"({"concurrency": 0})", "concurrency 0"},
                        Case{R"({"rate": -1})", "rate"},
                        Case{R"({"read_mode": "sometimes"})", "read mode 'sometimes'"},
                        Case{R"({"test_count": 0})", "test count"},
                        Case{R"({"per_key_limit": 0})", "per_key_limit"},
                        Case{R"({"ops_per_key": 0})", "ops_per_key"},
                        Case{R"({"value_domain": 0})", "value_domain"},
                        Case{R"({"client_timeout_ms": 0})", "client timeout"},
                        Case{R"({"lock_ttl_s": 0.5})", "lock_ttl_s"},
                        Case{R"({"lock_acquire_timeout_ms": 0})", "lock_acquire_timeout_ms"},
                        Case{R"({"fault_s": 0})", "fault_s"},
                        Case{R"({"heal_s": 0})", "heal_s"},
                        Case{R"({"info_ceiling": 2})", "info_ceiling"},
                        Case{R"({"final_phase_s": -1})", "final_phase_s"},
                        Case{R"({"check_time_limit_s": -1})", "check_time_limit_s"},
                        Case{R"({"workload": "queue"})", "queue"},
                        Case{R"({"nemesis": "flood"})", "flood"}}) {
    Result<CampaignConfig> r = ConfigFromJson(c.json);
    ASSERT_FALSE(r) << c.json;
    EXPECT_THAT(r.error().message(), HasSubstr(c.says)) << c.json;
  }
}

TEST(ConfigTableTest, FieldTextShowsDefaults) {
  const std::map<std::string, std::string> expected = {{"nemesis", "partition,kill,pause,loss"},
                                                       {"workload", "register"},
                                                       {"name", "default"},
                                                       {"nodes", "5"}};
  for (const ConfigField& f : ConfigFields()) {
    auto it = expected.find(std::string(f.key));
    if (it != expected.end()) {
      EXPECT_EQ(FieldText(f, CampaignConfig{}), it->second) << f.key;
    }
  }
}

}  // namespace
}  // namespace faultline::runner
