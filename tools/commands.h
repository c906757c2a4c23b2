// The faultline command line: each command group registers its subcommands on the CLI11 app and
// runs them. main() only parses, dispatches and maps internal errors to exit code 3.
#ifndef FAULTLINE_TOOLS_COMMANDS_H_
#define FAULTLINE_TOOLS_COMMANDS_H_

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/file.h"
#include "common/result.h"
#include "history/history.h"

namespace faultline::tools {

// Exit codes shared by every command. check: 0 valid, 1 invalid, 2 unknown, 3 could not check.
inline constexpr int kExitOk = 0;
inline constexpr int kExitInvalid = 1;
inline constexpr int kExitUnknown = 2;
inline constexpr int kExitError = 3;

// A registered command sets `run` to the action chosen on the command line.
using Action = std::function<int()>;

void RegisterHistoryCommands(CLI::App& app, Action& run);
void RegisterAuditCommands(CLI::App& app, Action& run);
void RegisterCheckCommand(CLI::App& app, Action& run);
void RegisterClusterCommands(CLI::App& app, Action& run);   // cluster up|down|status
void RegisterNemesisCommands(CLI::App& app, Action& run);   // nemesis partition|kill|...|heal
void RegisterCampaignCommands(CLI::App& app, Action& run);  // campaign, analyze
void RegisterDirtCommands(CLI::App& app, Action& run);      // dirt run
void RegisterProxyCommand(CLI::App& app, Action& run);      // proxy (Toxiproxy's API)
void RegisterFitCommands(CLI::App& app, Action& run);       // fit run
void RegisterReportCommand(CLI::App& app, Action& run);     // report PATH
void RegisterWaveCommand(CLI::App& app, Action& run);       // wave (drill + FIT + campaign)

void RegisterGenerateCommand(CLI::App& history, Action& run);

// A history file's text for reading op by op: mapped, so the pages already parsed can be given
// back (Release), or read whole from standard input ("-"). Errors name the path.
class HistoryText {
 public:
  [[nodiscard]] static Result<HistoryText> Open(const std::string& path);
  std::string_view text() const { return piped_ ? std::string_view(*piped_) : mapped_.text(); }
  // Gives back the pages before `upto` (a pointer into text()); nothing for standard input.
  void Release(const char* upto) { mapped_.Release(upto); }

 private:
  MappedFile mapped_;
  std::unique_ptr<std::string> piped_;  // on the heap: text() stays valid when this moves
};

// Verifies a tamper-evident log before `check` reads it. Returns a note for the report ("sealed,
// 812 records, signatures good" or "crash prefix: ..."), or an error when it is tampered or cannot
// be authenticated.
Result<std::string> VerifyLogForCheck(std::string_view content, const std::string& path,
                                      const std::string& public_key_path);
// `history convert ... --to log`: writes a new log holding the history's ops, after meta records
// for `metadata` (each a {"faultline":{...}} object). With a private key path, checkpoints and
// the seal are signed.
int ConvertToLog(const history::History& history, const std::vector<std::string>& metadata,
                 const std::string& path, const std::string& sign_key_path);

// Writes DIR/report.html at the end of a run; a failure is printed, not fatal (the run's own
// files are written already).
void WriteRunReport(const std::string& dir);
// Where WriteReport puts a report of `path` by default.
std::string WrittenReportPath(const std::string& path);

// --log-pattern NAME=REGEX and --log-pattern-max NAME=N (checker/log_patterns.h) on `cmd`, whose
// logs are searched "over the <over>" and where more than a maximum "<exceeded>".
void AddLogPatternOptions(CLI::App* cmd, std::vector<std::string>& patterns,
                          std::vector<std::string>& maxima, std::string_view over,
                          std::string_view exceeded);

// Prints "faultline: <message>" to stderr (through spdlog).
void PrintError(const std::string& message);
void PrintNote(const std::string& message);

}  // namespace faultline::tools

#endif  // FAULTLINE_TOOLS_COMMANDS_H_
