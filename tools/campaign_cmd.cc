#include "tools/commands.h"

namespace faultline::tools {

// Placeholder: filled by the campaign work.
void RegisterCampaignCommands(CLI::App& /*app*/, Action& /*run*/) {}

}  // namespace faultline::tools
