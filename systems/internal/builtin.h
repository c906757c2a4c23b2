// The built-in systems' constructors, for the registry.
#ifndef FAULTLINE_SYSTEMS_INTERNAL_BUILTIN_H_
#define FAULTLINE_SYSTEMS_INTERNAL_BUILTIN_H_

#include <memory>

#include "systems/system.h"

namespace faultline::systems::internal {

std::unique_ptr<System> MakeEtcdSystem();
std::unique_ptr<System> MakeZooKeeperSystem();

}  // namespace faultline::systems::internal

#endif  // FAULTLINE_SYSTEMS_INTERNAL_BUILTIN_H_
