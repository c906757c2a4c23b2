// The built-in systems' constructors, for the registry.
#ifndef FAULTLINE_SYSTEMS_INTERNAL_BUILTIN_H_
#define FAULTLINE_SYSTEMS_INTERNAL_BUILTIN_H_

#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "systems/system.h"

namespace faultline::systems::internal {

std::unique_ptr<System> MakeEtcdSystem();
std::unique_ptr<System> MakeZooKeeperSystem();
// Options as systems/registry.h's OpenSystem takes them.
Result<std::unique_ptr<System>> MakeRedisSystem(const std::vector<std::string>& options);

}  // namespace faultline::systems::internal

#endif  // FAULTLINE_SYSTEMS_INTERNAL_BUILTIN_H_
