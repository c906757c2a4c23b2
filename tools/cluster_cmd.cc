#include "tools/commands.h"

namespace faultline::tools {

// Placeholder: filled by the cluster work.
void RegisterClusterCommands(CLI::App& /*app*/, Action& /*run*/) {}

}  // namespace faultline::tools
