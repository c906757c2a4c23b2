#include "tools/commands.h"

namespace faultline::tools {

// Placeholder: filled by the nemesis work.
void RegisterNemesisCommands(CLI::App& /*app*/, Action& /*run*/) {}

}  // namespace faultline::tools
