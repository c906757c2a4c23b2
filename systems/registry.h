// The systems faultline knows: a built-in name ("etcd") or a system file (systems/system_file.h).
//
// Thread-safety: pure functions; the systems they return as systems/system.h says.
#ifndef FAULTLINE_SYSTEMS_REGISTRY_H_
#define FAULTLINE_SYSTEMS_REGISTRY_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "systems/system.h"
#include "systems/system_file.h"

namespace faultline::systems {

// Built-in system names, sorted ("etcd").
std::vector<std::string> BuiltinSystems();

// True when `name_or_file` names a system file rather than a built-in system (it holds a '/' or
// ends in ".json").
bool IsSystemFile(std::string_view name_or_file);

// "etcd", or the path of a system file. An error names the built-in systems and what the file
// lacks.
[[nodiscard]] Result<std::unique_ptr<System>> OpenSystem(std::string_view name_or_file);
// The same with system options ("KEY=VALUE", --system-option): only a system that takes options
// (redis) accepts any; an error names the option and the keys the system accepts.
[[nodiscard]] Result<std::unique_ptr<System>> OpenSystem(std::string_view name_or_file,
                                                         const std::vector<std::string>& options);
// One line per option a built-in system takes ("min-replicas-to-write=N  ..."), for --help.
std::vector<std::string> SystemOptionHelp(std::string_view name);

// A system run by the commands of a parsed system file.
std::unique_ptr<System> MakeFileSystem(SystemFile file);

// A local cluster whose servers a system's own commands started (`faultline cluster up --system
// NAME|FILE`, a campaign that leaves its cluster running) records that system in
// <run_dir>/system.json, so that later commands on the cluster (`faultline nemesis`, `cluster
// down`) reach the same system: its leader, its commands, its membership.
std::string LocalSystemRecordPath(const cluster::ClusterState& state);
// Writes the record (atomically): a built-in name as it is, a system file by its absolute path.
[[nodiscard]] Status RecordLocalSystem(const cluster::ClusterState& state,
                                       std::string_view name_or_file);
// The system the local cluster runs: the recorded one, else "etcd" when the cluster's supervisor
// runs etcd (state.db kEtcd). NotFound naming the cluster when neither; InvalidArgument naming the
// record when it is malformed.
[[nodiscard]] Result<std::string> LocalSystem(const cluster::ClusterState& state);

}  // namespace faultline::systems

#endif  // FAULTLINE_SYSTEMS_REGISTRY_H_
