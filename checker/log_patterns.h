// Log patterns: after a run (campaign, drill, FIT run, wave), each node's own log is searched for
// lines that should not be there — panics, fatal errors, data races, "permission denied" — and for
// patterns the user adds. Each pattern has a maximum; a count above it makes the run invalid, and
// the verdict names the pattern.
//
// The one API every kind of run calls:
//   Result<std::vector<LogPattern>> patterns = MakeLogPatterns(added, maxima);  // flags
//   Result<LogPatternReport> report = ScanNodeLogs(logs, *patterns);  // {node, path, offset}
//   LogPatternsJson(*report)     -> results.json's "log_patterns" object
//   LogPatternVerdict(*report)   -> a Verdict named "log-patterns" to merge with the others
//   ExceededLine(*report)        -> "log pattern panic: 2 > max 0" for the verdict line
//
// Built-ins, written against what etcd 3.4 (zap logger, stderr in the same file) and the Go
// runtime print:
//   panic              ^panic:                         Go's line for every unrecovered panic (zap's
//                                                     Panic logs a JSON line, then panics)
//   fatal              "level":"fatal" | ^fatal error: | capnslog's " C | "   max 0
//   data-race          ^WARNING: DATA RACE             Go's race detector (-race builds)   max 0
//   permission-denied  (?i)permission denied            "auth: permission denied", EACCES unlimited
// A pattern added under a built-in's name replaces its regex and keeps its maximum.
// Regexes are Perl syntax (Boost.Regex), matched against each line without its newline.
//
// Thread-safety: pure functions; a LogPatternScanner is used by one thread at a time.
#ifndef FAULTLINE_CHECKER_LOG_PATTERNS_H_
#define FAULTLINE_CHECKER_LOG_PATTERNS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "checker/verdict.h"
#include "common/result.h"

namespace faultline::checker {

struct LogPattern {
  std::string name;  // [A-Za-z0-9_.-]+
  std::string regex;
  std::optional<int64_t> max;  // nullopt: unlimited (counted, never invalid)
  bool builtin = false;

  bool operator==(const LogPattern&) const = default;
};

// The built-ins, in their fixed order.
std::vector<LogPattern> BuiltinLogPatterns();

// The patterns of a run: the built-ins, then each of `added` ("NAME=REGEX", the --log-pattern
// flag; a built-in's NAME replaces its regex), then each of `maxima` ("NAME=N" with N >= 0, or
// "NAME=unlimited"; the --log-pattern-max flag) applied to the pattern of that name. Errors name
// the flag text and what was expected: no '=', an empty or ill-formed name, a regex that does not
// compile (with Boost's reason), a maximum that is not a count, a maximum for an unknown pattern.
[[nodiscard]] Result<std::vector<LogPattern>> MakeLogPatterns(std::span<const std::string> added,
                                                              std::span<const std::string> maxima);

struct LogPatternExample {
  std::string node;
  std::string line;  // cut to 500 bytes
  bool operator==(const LogPatternExample&) const = default;
};

struct LogPatternCount {
  LogPattern pattern;
  int64_t count = 0;
  std::map<std::string, int64_t> by_node;   // every node scanned, zeros included
  std::vector<LogPatternExample> examples;  // the first 5 matching lines, in scan order

  bool exceeded() const { return pattern.max && count > *pattern.max; }
};

struct LogPatternReport {
  std::vector<LogPatternCount> patterns;  // in the order of the patterns given
  int64_t lines = 0;                      // lines scanned over all nodes
  int64_t bytes = 0;
  // Nodes whose log could not be read (or was given no path), each "n2: why". Counts cannot show
  // that a pattern is absent there, so the verdict is unknown unless a maximum is exceeded.
  std::vector<std::string> unread;
  // Lines a regex gave up on (Boost's complexity limit): counted as not matching.
  std::vector<std::string> warnings;
};

// Counts lines one at a time; ScanNodeLogs feeds it files.
class LogPatternScanner {
 public:
  // REQUIRES: every regex compiles (MakeLogPatterns checked it); one that does not never matches.
  explicit LogPatternScanner(std::vector<LogPattern> patterns);
  ~LogPatternScanner();
  LogPatternScanner(const LogPatternScanner&) = delete;
  LogPatternScanner& operator=(const LogPatternScanner&) = delete;

  // Registers a node (its by_node entries start at 0).
  void AddNode(const std::string& node);
  // One line of `node`'s log, without its newline.
  void Feed(const std::string& node, std::string_view line);
  void Unread(const std::string& node, std::string why);
  LogPatternReport Report() const;

 private:
  struct Compiled;
  std::vector<std::unique_ptr<Compiled>> compiled_;
  LogPatternReport report_;
};

// One node's log: the file, and the byte offset where this run's part begins (the size the file
// had when the run started; a cluster used by several runs appends to one log per node). When the
// file is now shorter than the offset (rotated or replaced), it is read from its start.
struct NodeLog {
  std::string node;
  std::string path;
  uint64_t offset = 0;
};

// The size of each node's log now, for NodeLog::offset before a run (0 for a missing file).
uint64_t LogOffsetNow(const std::string& path);

// Scans each log from its offset. A file that cannot be read is listed in `unread`, not an error;
// an error only for patterns that do not compile.
[[nodiscard]] Result<LogPatternReport> ScanNodeLogs(std::span<const NodeLog> logs,
                                                    std::span<const LogPattern> patterns);

// results.json's "log_patterns": {NAME: {"count", "max" (null: unlimited), "regex", "builtin",
// "exceeded", "by_node": {node: n}, "examples": [{"node", "line"}]}}, in pattern order.
std::string LogPatternsJson(const LogPatternReport& report);

// "log-patterns": invalid when a maximum is exceeded (the summary names each such pattern with
// its count, maximum and nodes), else unknown when a log could not be read, else valid. Its json
// is LogPatternsJson's object; its anomalies count each exceeded pattern's lines.
Verdict LogPatternVerdict(const LogPatternReport& report);

// "log pattern panic: 2 > max 0; log pattern fatal: 1 > max 0", or "" when none is exceeded.
std::string ExceededLine(const LogPatternReport& report);

}  // namespace faultline::checker

#endif  // FAULTLINE_CHECKER_LOG_PATTERNS_H_
