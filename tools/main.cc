// faultline: find consistency bugs in distributed systems and measure how fast they recover.
#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <exception>

#include "tools/commands.h"

namespace faultline::tools {

void PrintError(const std::string& message) { spdlog::error("{}", message); }

void AddLogPatternOptions(CLI::App* cmd, std::vector<std::string>& patterns,
                          std::vector<std::string>& maxima, std::string_view over,
                          std::string_view exceeded) {
  cmd->add_option("--log-pattern", patterns,
                  fmt::format("NAME=REGEX (Perl syntax, repeatable): also count lines matching "
                              "REGEX in each node's log over the {}; unlimited unless "
                              "--log-pattern-max gives a maximum. A built-in's NAME replaces its "
                              "regex",
                              over))
      ->type_name("NAME=REGEX");
  cmd->add_option("--log-pattern-max", maxima,
                  fmt::format("NAME=N or NAME=unlimited (repeatable): the most lines of pattern "
                              "NAME allowed; more {}",
                              exceeded))
      ->type_name("NAME=N");
}
void PrintNote(const std::string& message) { spdlog::info("{}", message); }

namespace {

// A command's help text is written as one block; its first line describes it in its parent's
// list, the rest (details, exit codes, examples) is the footer of its own --help.
void SplitHelpTexts(CLI::App& app) {
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    std::string d = sub->get_description();
    size_t nl = d.find('\n');
    if (nl != std::string::npos) {
      sub->footer("\n" + d.substr(nl + 1));
      std::string first = d.substr(0, nl);
      if (!first.empty() && first.back() == '.') first.pop_back();
      sub->description(first);
    }
    SplitHelpTexts(*sub);
  }
}

}  // namespace
}  // namespace faultline::tools

int main(int argc, char** argv) {
  using namespace faultline::tools;  // NOLINT: main only
  auto logger = spdlog::stderr_color_mt("faultline");
  logger->set_pattern("faultline: %^%l%$: %v");
  spdlog::set_default_logger(logger);

  CLI::App app{
      "faultline: Jepsen-style consistency checking and DiRT-style recovery drills.\n"
      "\n"
      "Offline: read, convert and summarise histories (Jepsen EDN, Porcupine logs, faultline\n"
      "JSON Lines and the tamper-evident log), check them (check), verify audit logs in CI\n"
      "(audit). Against a cluster, as root: bring up a local etcd cluster in network namespaces\n"
      "(cluster), inject faults by hand (nemesis), run a campaign and check it (campaign,\n"
      "analyze), run DiRT recovery drills (dirt run), and all at once with a FIT experiment "
      "(wave).\n"
      "\n"
      "How the parts fit: a fault has one name and shape (kind, targets, parameters, duration)\n"
      "in campaigns, drills, the nemesis command, histories and results.json; whatever applies\n"
      "it records it in the nemesis ledger first, so 'nemesis status' lists it and 'nemesis\n"
      "heal' undoes it even after a crash. Verdicts come from the checkers (linearizability,\n"
      "set, counter, mutex, revision order, sanity and fault probes), merged invalid > unknown >\n"
      "valid. A cluster that a campaign or drill brings up for itself goes when that process\n"
      "does; one made with 'cluster up' stays until 'cluster down'.\n"
      "Exit status of check, campaign, analyze: 0 valid, 1 invalid, 2 unknown, 3 error.\n"
      "Run 'faultline COMMAND --help' for the details of each command.",
      "faultline"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "faultline 0.1.0");
  Action run;
  RegisterHistoryCommands(app, run);
  RegisterAuditCommands(app, run);
  RegisterCheckCommand(app, run);
  RegisterClusterCommands(app, run);
  RegisterNemesisCommands(app, run);
  RegisterCampaignCommands(app, run);
  RegisterDirtCommands(app, run);
  RegisterProxyCommand(app, run);
  RegisterFitCommands(app, run);
  RegisterReportCommand(app, run);
  RegisterWaveCommand(app, run);
  SplitHelpTexts(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : kExitError;
  }
  try {
    return run ? run() : kExitError;
  } catch (const std::exception& e) {
    PrintError(std::string("internal error (please report): ") + e.what());
    return kExitError;
  }
}
