// CampaignConfig <-> JSON and its validation, all driven by the field table.
#include "runner/config.h"

#include <fmt/format.h>

#include <array>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "checker/log_patterns.h"
#include "nemesis/fault.h"
#include "runner/campaign.h"
#include "systems/registry.h"

namespace faultline::runner {
namespace {

using Json = nlohmann::ordered_json;
using C = CampaignConfig;

Status ParseWorkloadField(C& c, std::string_view text) {
  FAULTLINE_ASSIGN_OR_RETURN(c.workload, ParseWorkload(text));
  return OkStatus();
}
std::string PrintWorkloadField(const C& c) { return std::string(WorkloadName(c.workload)); }

Status ParseNemesisField(C& c, std::string_view text) {
  FAULTLINE_ASSIGN_OR_RETURN(c.nemesis, ParseScheduleKinds(text));
  return OkStatus();
}
std::string PrintNemesisField(const C& c) { return nemesis::FormatFaultKindList(c.nemesis); }

// The rules. Each names its field, so the first broken rule in table order is the one reported.
std::string CheckDb(const C& c) {
  return c.db == "etcd" ? "" : fmt::format("db '{}' is not supported (expected etcd)", c.db);
}
std::string CheckSystem(const C& c) {
  return c.system.empty() ? "system must not be empty (etcd or a system file)" : "";
}
std::string CheckSystemOptions(const C& c) {
  if (c.system_options.empty()) return "";
  Result<std::unique_ptr<systems::System>> system = systems::OpenSystem(c.system, c.system_options);
  return system ? "" : system.error().message();
}
std::string CheckNodes(const C& c) {
  return c.nodes >= 1 && c.nodes <= 9 ? "" : fmt::format("nodes {} is not in 1..9", c.nodes);
}
std::string CheckCluster(const C& c) {
  if (c.cluster == "local" || c.cluster.rfind("ssh:", 0) == 0) return "";
  return fmt::format("cluster '{}' (expected local or ssh:FILE)", c.cluster);
}
std::string CheckTimeLimit(const C& c) {
  return c.time_limit_s > 0 ? "" : "time limit must be positive";
}
std::string CheckConcurrency(const C& c) {
  if (c.concurrency >= 1 && c.concurrency <= 1000) return "";
  return fmt::format("concurrency {} is not in 1..1000", c.concurrency);
}
std::string CheckRate(const C& c) { return c.rate >= 0 ? "" : "rate must not be negative"; }
std::string CheckReadMode(const C& c) {
  // plain and sync are ZooKeeper's (systems/zookeeper_system.cc); the system refuses modes it
  // does not have.
  for (const char* mode : {"linearizable", "serializable", "plain", "sync"}) {
    if (c.read_mode == mode) return "";
  }
  return fmt::format("read mode '{}' (expected linearizable, serializable, plain or sync)",
                     c.read_mode);
}
std::string CheckTestCount(const C& c) {
  return c.test_count >= 1 ? "" : "test count must be at least 1";
}
std::string CheckPerKeyLimit(const C& c) {
  return c.per_key_limit >= 1 ? "" : "per_key_limit must be at least 1";
}
std::string CheckOpsPerKey(const C& c) {
  return c.ops_per_key >= 1 ? "" : "ops_per_key must be at least 1";
}
std::string CheckValueDomain(const C& c) {
  return c.value_domain >= 1 ? "" : "value_domain must be at least 1";
}
std::string CheckClientTimeout(const C& c) {
  return c.client_timeout_ms >= 1 ? "" : "client timeout must be positive";
}
std::string CheckLockTtl(const C& c) {
  return c.lock_ttl_s >= 1 ? "" : "lock_ttl_s must be at least 1 (etcd leases count whole seconds)";
}
std::string CheckLockAcquireTimeout(const C& c) {
  return c.lock_acquire_timeout_ms >= 1 ? "" : "lock_acquire_timeout_ms must be positive";
}
std::string CheckFault(const C& c) { return c.fault_s > 0 ? "" : "fault_s must be positive"; }
std::string CheckHeal(const C& c) { return c.heal_s > 0 ? "" : "heal_s must be positive"; }
std::string CheckInfoCeiling(const C& c) {
  return c.info_ceiling >= 0 && c.info_ceiling <= 1 ? "" : "info_ceiling must be in 0..1";
}
std::string CheckFinalPhase(const C& c) {
  return c.final_phase_s >= 0 ? "" : "final_phase_s must not be negative";
}
std::string CheckCheckTimeLimit(const C& c) {
  return c.check_time_limit_s >= 0 ? "" : "check_time_limit_s must not be negative";
}
std::string CheckLogPatterns(const C& c) {
  Result<std::vector<checker::LogPattern>> p =
      checker::MakeLogPatterns(c.log_patterns, c.log_pattern_max);
  return p ? "" : p.error().message();
}

// clang-format off
const std::array kFields{
  ConfigField{.key = "db", .flag = "--db", .help = "Database (etcd)", .member = &C::db,
              .check = CheckDb},
  ConfigField{.key = "system", .flag = "--system",
              .help = "System under test: etcd, zookeeper, or FILE, a system file (JSON: commands, "
                      "client; see below)",
              .member = &C::system, .check = CheckSystem},
  ConfigField{.key = "system_options", .flag = "--system-option",
              .help = "KEY=VALUE (repeatable): an option of the system under test (redis: "
                      "min-replicas-to-write=N, wait=N, appendonly=yes, ...; see below)",
              .member = &C::system_options, .check = CheckSystemOptions, .show_default = false},
  ConfigField{.key = "nodes", .flag = "--nodes", .help = "Nodes of a new local cluster (1-9)",
              .member = &C::nodes, .check = CheckNodes},
  ConfigField{.key = "cluster", .flag = "--cluster",
              .help = "local (a namespace cluster on this machine) or ssh:FILE (nodes reached "
                      "over ssh, described by the nodes file FILE; see below)",
              .member = &C::cluster, .check = CheckCluster},
  ConfigField{.key = "name", .flag = "--name", .help = "Local cluster name (1-8 of a-z0-9)",
              .member = &C::name},
  ConfigField{.key = "workload", .flag = "--workload", .help = "register|set|counter|lock|append|rw-register",
              .parse = ParseWorkloadField, .print = PrintWorkloadField},
  ConfigField{.key = "nemesis", .flag = "--nemesis",
              .help = "Comma-separated faults: partition (a random grudge; for systems with "
                      "a leader half are leader-minority: the leader on the minority side), "
                      "isolate, isolate-leader, kill, pause, "
                      "loss, duplicate, reorder, packet-corrupt (30% of the packets of one node "
                      "or a minority), and through proxies http-status, http-delay, http-drop, "
                      "http-truncate, proxy-latency; clock-bump, clock-strobe (libfaketime on a "
                      "local cluster, for systems that declare it; date -s over ssh; a jump puts "
                      "Redis Sentinel into TILT mode for 30 s); on a faulty filesystem mounted "
                      "over each node's data dir (local clusters) lose-unsynced (power cut of "
                      "every node), lose-unsynced-one, torn-write, fsync-error, slow-disk; "
                      "member-remove (systems with membership changes: etcd, zookeeper); or none",
              .parse = ParseNemesisField, .print = PrintNemesisField},
  ConfigField{.key = "isolate_node", .flag = "--isolate-node",
              .help = "Node that 'isolate' always cuts off (e.g. n3)",
              .member = &C::isolate_node, .show_default = false},
  ConfigField{.key = "time_limit", .flag = "--time-limit", .help = "Seconds of generated load",
              .member = &C::time_limit_s, .check = CheckTimeLimit},
  ConfigField{.key = "concurrency", .flag = "--concurrency",
              .help = "Concurrent clients (workers)", .member = &C::concurrency,
              .check = CheckConcurrency},
  ConfigField{.key = "rate", .flag = "--rate",
              .help = "Ops/s over all workers, with jitter (0 = unlimited)", .member = &C::rate,
              .check = CheckRate},
  ConfigField{.key = "read_mode", .flag = "--read-mode", .help = "linearizable or serializable (etcd); plain or sync (zookeeper)",
              .member = &C::read_mode, .check = CheckReadMode},
  ConfigField{.key = "seed", .flag = "--seed",
              .help = "Seed of the generator and the nemesis (default: random, printed and "
                      "recorded)",
              .member = &C::seed, .show_default = false},
  ConfigField{.key = "out", .flag = "--out", .help = "Directory for run directories",
              .member = &C::out},
  ConfigField{.key = "test_count", .flag = "--test-count",
              .help = "Run the campaign N times (seeds S, S+1, ...)", .member = &C::test_count,
              .check = CheckTestCount},
  ConfigField{.key = "leave_db_running", .flag = "--leave-db-running",
              .help = "Keep a cluster this command brought up running afterwards",
              .member = &C::leave_db_running, .show_default = false},
  ConfigField{.key = "proxy", .flag = "--proxy",
              .help = "Route the clients through a proxy in front of each node's client port on "
                      "this host (on by itself when --nemesis names an http-* or proxy-latency "
                      "fault)",
              .member = &C::proxy, .show_default = false},
  ConfigField{.key = "disk", .flag = "--disk",
              .help = "Put each node's data dir on faultline's FUSE filesystem, which tracks "
                      "writes not yet fsync'd (on by itself when --nemesis names lose-unsynced, "
                      "lose-unsynced-one, torn-write, fsync-error or slow-disk; local clusters)",
              .member = &C::disk, .show_default = false},
  ConfigField{.key = "per_key_limit", .help = "register: workers on one key at once",
              .member = &C::per_key_limit, .check = CheckPerKeyLimit},
  ConfigField{.key = "ops_per_key",
              .help = "register: invocations on a key before its group moves on",
              .member = &C::ops_per_key, .check = CheckOpsPerKey},
  ConfigField{.key = "value_domain", .help = "register: values 0..value_domain-1",
              .member = &C::value_domain, .check = CheckValueDomain},
  ConfigField{.key = "client_timeout_ms", .flag = "--client-timeout-ms",
              .help = "Client timeout (below etcd's 7 s, so timeouts end as info first)",
              .member = &C::client_timeout_ms, .check = CheckClientTimeout},
  ConfigField{.key = "lock_ttl_s", .help = "lock: lease TTL in seconds",
              .member = &C::lock_ttl_s, .check = CheckLockTtl},
  ConfigField{.key = "lock_acquire_timeout_ms", .help = "lock: client timeout of an acquire",
              .member = &C::lock_acquire_timeout_ms, .check = CheckLockAcquireTimeout},
  ConfigField{.key = "fault_s", .flag = "--fault-s", .help = "Seconds each fault lasts (a system with a slower failover, redis, "
                      "raises the default to fit it)",
              .member = &C::fault_s, .check = CheckFault},
  ConfigField{.key = "heal_s", .flag = "--heal-s", .help = "Seconds healed between faults",
              .member = &C::heal_s, .check = CheckHeal},
  ConfigField{.key = "info_ceiling",
              .help = "sanity: share of info completions above which a run is unknown",
              .member = &C::info_ceiling, .check = CheckInfoCeiling},
  ConfigField{.key = "final_phase_s",
              .help = "bound on waiting for the cluster and the final reads",
              .member = &C::final_phase_s, .check = CheckFinalPhase},
  ConfigField{.key = "check_time_limit_s", .help = "bound on checking, in seconds",
              .member = &C::check_time_limit_s, .check = CheckCheckTimeLimit},
  ConfigField{.key = "log_patterns", .flag = "--log-pattern",
              .help = "NAME=REGEX (repeatable): also count lines matching REGEX (Perl syntax) in "
                      "each node's log after the run; unlimited unless --log-pattern-max gives a "
                      "maximum. Built-ins: panic, fatal, data-race (max 0), permission-denied "
                      "(unlimited)",
              .member = &C::log_patterns, .show_default = false},
  ConfigField{.key = "log_pattern_max", .flag = "--log-pattern-max",
              .help = "NAME=N or NAME=unlimited (repeatable): the most lines of pattern NAME "
                      "allowed; more make the run invalid",
              .member = &C::log_pattern_max, .check = CheckLogPatterns, .show_default = false},
};
// clang-format on

// A list field may be written as a JSON array of names as well as a comma-separated string.
std::string TextOf(const Json& v) {
  if (!v.is_array()) return v.get<std::string>();
  return fmt::format("{}", fmt::join(v.get<std::vector<std::string>>(), ","));
}

Status ReadField(const ConfigField& field, const Json& v, C& c) {
  if (field.is_text()) return field.parse(c, TextOf(v));
  std::visit(
      [&](auto m) {
        if constexpr (!std::is_same_v<decltype(m), std::monostate>) {
          using T = std::remove_reference_t<decltype(c.*m)>;
          c.*m = v.get<T>();
        }
      },
      field.member);
  return OkStatus();
}

void WriteField(const ConfigField& field, const C& c, Json& j) {
  if (field.is_text()) {
    j[std::string(field.key)] = field.print(c);
    return;
  }
  std::visit(
      [&](auto m) {
        if constexpr (!std::is_same_v<decltype(m), std::monostate>) {
          j[std::string(field.key)] = c.*m;
        }
      },
      field.member);
}

}  // namespace

std::span<const ConfigField> ConfigFields() { return kFields; }

void CopyField(const ConfigField& field, const CampaignConfig& from, CampaignConfig& to) {
  if (field.is_text()) {
    // The text form round-trips exactly, and keeps this function free of per-field cases.
    (void)field.parse(to, field.print(from));
    return;
  }
  std::visit(
      [&](auto m) {
        if constexpr (!std::is_same_v<decltype(m), std::monostate>) to.*m = from.*m;
      },
      field.member);
}

std::string FieldText(const ConfigField& field, const CampaignConfig& config) {
  if (field.is_text()) return field.print(config);
  Json j;
  WriteField(field, config, j);
  const Json& v = j[std::string(field.key)];
  return v.is_string() ? v.get<std::string>() : v.dump();
}

Status SetFieldText(const ConfigField& field, CampaignConfig& config, std::string_view text) {
  return field.parse(config, text);
}

std::string ConfigToJson(const CampaignConfig& c) {
  Json j = Json::object();
  for (const ConfigField& field : kFields) WriteField(field, c, j);
  return j.dump(2);
}

Result<CampaignConfig> ConfigFromJson(std::string_view text) {
  CampaignConfig c;
  try {
    const Json j = Json::parse(text);
    if (!j.is_object()) {
      return MakeError(ErrorCode::kInvalidArgument, "campaign config: expected a JSON object");
    }
    for (const auto& [key, v] : j.items()) {
      const ConfigField* field = nullptr;
      for (const ConfigField& f : kFields) {
        if (f.key == key) field = &f;
      }
      if (field == nullptr) {
        return MakeError(ErrorCode::kInvalidArgument,
                         fmt::format("campaign config: unknown field \"{}\"", key));
      }
      FAULTLINE_RETURN_IF_ERROR(ReadField(*field, v, c));
    }
  } catch (const nlohmann::json::exception& e) {
    return MakeError(ErrorCode::kInvalidArgument, fmt::format("campaign config: {}", e.what()));
  }
  FAULTLINE_RETURN_IF_ERROR(ValidateConfig(c));
  return c;
}

Status ValidateConfig(const CampaignConfig& c) {
  for (const ConfigField& field : kFields) {
    if (field.check == nullptr) continue;
    if (std::string what = field.check(c); !what.empty()) {
      return MakeError(ErrorCode::kInvalidArgument, "campaign config: " + what);
    }
  }
  return OkStatus();
}

}  // namespace faultline::runner
