// The system record of a local cluster (systems/registry.h).
#include <fmt/format.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/file.h"
#include "systems/registry.h"

namespace faultline::systems {

std::string LocalSystemRecordPath(const cluster::ClusterState& state) {
  return (std::filesystem::path(state.run_dir) / "system.json").string();
}

Status RecordLocalSystem(const cluster::ClusterState& state, std::string_view name_or_file) {
  const std::string name(name_or_file);
  const nlohmann::json record = {
      {"system", IsSystemFile(name) ? std::filesystem::absolute(name).string() : name}};
  return WriteFileAtomic(LocalSystemRecordPath(state), record.dump() + "\n");
}

Result<std::string> LocalSystem(const cluster::ClusterState& state) {
  const std::string path = LocalSystemRecordPath(state);
  Result<std::string> text = ReadFile(path);
  if (!text && text.error().code() == ErrorCode::kNotFound) {
    if (state.db == cluster::Db::kEtcd) return std::string("etcd");
    return MakeError(ErrorCode::kNotFound,
                     fmt::format("cluster {}: which system it runs is not recorded (no {}; "
                                 "`faultline cluster up --system NAME|FILE` records it)",
                                 state.name, path));
  }
  if (!text) return std::move(text).error();
  try {
    const nlohmann::json record = nlohmann::json::parse(*text);
    const nlohmann::json& system = record.at("system");
    if (system.is_string() && !system.get<std::string>().empty()) {
      return system.get<std::string>();
    }
  } catch (const nlohmann::json::exception& e) {
    return MakeError(ErrorCode::kInvalidArgument, fmt::format("{}: {}", path, e.what()));
  }
  return MakeError(ErrorCode::kInvalidArgument,
                   fmt::format("{}: \"system\": expected a system's name or file", path));
}

}  // namespace faultline::systems
