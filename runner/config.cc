// CampaignConfig <-> JSON, and its validation.
#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runner/campaign.h"

namespace faultline::runner {
namespace {

using Json = nlohmann::ordered_json;

}  // namespace

std::string ConfigToJson(const CampaignConfig& c) {
  Json j;
  j["db"] = c.db;
  j["nodes"] = c.nodes;
  j["cluster"] = c.cluster;
  j["name"] = c.name;
  j["workload"] = std::string(WorkloadName(c.workload));
  j["nemesis"] = nemesis::FormatFaultKindList(c.nemesis);
  j["isolate_node"] = c.isolate_node;
  j["time_limit"] = c.time_limit_s;
  j["concurrency"] = c.concurrency;
  j["rate"] = c.rate;
  j["read_mode"] = c.read_mode;
  j["seed"] = c.seed;
  j["out"] = c.out;
  j["test_count"] = c.test_count;
  j["leave_db_running"] = c.leave_db_running;
  j["per_key_limit"] = c.per_key_limit;
  j["ops_per_key"] = c.ops_per_key;
  j["value_domain"] = c.value_domain;
  j["client_timeout_ms"] = c.client_timeout_ms;
  j["lock_ttl_s"] = c.lock_ttl_s;
  j["lock_acquire_timeout_ms"] = c.lock_acquire_timeout_ms;
  j["fault_s"] = c.fault_s;
  j["heal_s"] = c.heal_s;
  j["info_ceiling"] = c.info_ceiling;
  j["final_phase_s"] = c.final_phase_s;
  j["check_time_limit_s"] = c.check_time_limit_s;
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
      if (key == "db") {
        c.db = v.get<std::string>();
      } else if (key == "nodes") {
        c.nodes = v.get<int>();
      } else if (key == "cluster") {
        c.cluster = v.get<std::string>();
      } else if (key == "name") {
        c.name = v.get<std::string>();
      } else if (key == "workload") {
        FAULTLINE_ASSIGN_OR_RETURN(c.workload, ParseWorkload(v.get<std::string>()));
      } else if (key == "nemesis") {
        std::string list;
        if (v.is_array()) {
          std::vector<std::string> names = v.get<std::vector<std::string>>();
          list = fmt::format("{}", fmt::join(names, ","));
        } else {
          list = v.get<std::string>();
        }
        FAULTLINE_ASSIGN_OR_RETURN(c.nemesis, ParseScheduleKinds(list));
      } else if (key == "isolate_node") {
        c.isolate_node = v.get<std::string>();
      } else if (key == "time_limit") {
        c.time_limit_s = v.get<double>();
      } else if (key == "concurrency") {
        c.concurrency = v.get<int>();
      } else if (key == "rate") {
        c.rate = v.get<double>();
      } else if (key == "read_mode") {
        c.read_mode = v.get<std::string>();
      } else if (key == "seed") {
        c.seed = v.get<std::uint64_t>();
      } else if (key == "out") {
        c.out = v.get<std::string>();
      } else if (key == "test_count") {
        c.test_count = v.get<int>();
      } else if (key == "leave_db_running") {
        c.leave_db_running = v.get<bool>();
      } else if (key == "per_key_limit") {
        c.per_key_limit = v.get<int>();
      } else if (key == "ops_per_key") {
        c.ops_per_key = v.get<int>();
      } else if (key == "value_domain") {
        c.value_domain = v.get<int>();
      } else if (key == "client_timeout_ms") {
        c.client_timeout_ms = v.get<int>();
      } else if (key == "lock_ttl_s") {
        c.lock_ttl_s = v.get<double>();
      } else if (key == "lock_acquire_timeout_ms") {
        c.lock_acquire_timeout_ms = v.get<int>();
      } else if (key == "fault_s") {
        c.fault_s = v.get<double>();
      } else if (key == "heal_s") {
        c.heal_s = v.get<double>();
      } else if (key == "info_ceiling") {
        c.info_ceiling = v.get<double>();
      } else if (key == "final_phase_s") {
        c.final_phase_s = v.get<double>();
      } else if (key == "check_time_limit_s") {
        c.check_time_limit_s = v.get<double>();
      } else {
        return MakeError(ErrorCode::kInvalidArgument,
                         fmt::format("campaign config: unknown field \"{}\"", key));
      }
    }
  } catch (const nlohmann::json::exception& e) {
    return MakeError(ErrorCode::kInvalidArgument, fmt::format("campaign config: {}", e.what()));
  }
  FAULTLINE_RETURN_IF_ERROR(ValidateConfig(c));
  return c;
}

Status ValidateConfig(const CampaignConfig& c) {
  auto bad = [](std::string what) {
    return Status(MakeError(ErrorCode::kInvalidArgument, "campaign config: " + what));
  };
  if (c.db != "etcd") return bad(fmt::format("db '{}' is not supported (expected etcd)", c.db));
  if (c.nodes < 1 || c.nodes > 9) return bad(fmt::format("nodes {} is not in 1..9", c.nodes));
  if (c.cluster != "local" && c.cluster.rfind("ssh:", 0) != 0) {
    return bad(fmt::format("cluster '{}' (expected local or ssh:FILE)", c.cluster));
  }
  if (c.time_limit_s <= 0) return bad("time limit must be positive");
  if (c.concurrency < 1 || c.concurrency > 1000) {
    return bad(fmt::format("concurrency {} is not in 1..1000", c.concurrency));
  }
  if (c.rate < 0) return bad("rate must not be negative");
  if (c.read_mode != "linearizable" && c.read_mode != "serializable") {
    return bad(fmt::format("read mode '{}' (expected linearizable or serializable)", c.read_mode));
  }
  if (c.test_count < 1) return bad("test count must be at least 1");
  if (c.per_key_limit < 1 || c.ops_per_key < 1 || c.value_domain < 1) {
    return bad("per_key_limit, ops_per_key and value_domain must be at least 1");
  }
  if (c.client_timeout_ms < 1) return bad("client timeout must be positive");
  if (c.lock_ttl_s < 1 || c.lock_acquire_timeout_ms < 1) {
    return bad(
        "lock_ttl_s must be at least 1 (etcd leases count whole seconds) and "
        "lock_acquire_timeout_ms positive");
  }
  if (c.fault_s <= 0 || c.heal_s <= 0) return bad("fault_s and heal_s must be positive");
  if (c.info_ceiling < 0 || c.info_ceiling > 1) return bad("info_ceiling must be in 0..1");
  if (c.final_phase_s < 0 || c.check_time_limit_s < 0) {
    return bad("final_phase_s and check_time_limit_s must not be negative");
  }
  return OkStatus();
}

}  // namespace faultline::runner
