#include "tools/commands.h"

namespace faultline::tools {

// Placeholder: filled by the dirt work.
void RegisterDirtCommands(CLI::App& /*app*/, Action& /*run*/) {}

}  // namespace faultline::tools
