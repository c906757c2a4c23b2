// Log patterns: parsing the flags, counting matching lines per node, and the verdict.
#include "checker/log_patterns.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <boost/regex.hpp>
#include <charconv>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <utility>

namespace faultline::checker {
namespace {

using Json = nlohmann::ordered_json;

constexpr size_t kMaxExamples = 5;
constexpr size_t kMaxExampleBytes = 500;

bool ValidName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
  });
}

Result<std::pair<std::string, std::string>> SplitNameValue(std::string_view flag,
                                                           std::string_view text,
                                                           std::string_view expected) {
  const size_t eq = text.find('=');
  if (eq == std::string_view::npos) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("{} '{}': no '=' (expected {})", flag, text, expected));
  }
  std::string name(text.substr(0, eq));
  if (!ValidName(name)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("{} '{}': name '{}' must be 1-64 of A-Za-z0-9_.- (expected {})",
                                 flag, text, name, expected));
  }
  return std::pair{std::move(name), std::string(text.substr(eq + 1))};
}

Result<boost::regex> Compile(const LogPattern& p) {
  try {
    return boost::regex(p.regex, boost::regex::perl);
  } catch (const std::exception& e) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        fmt::format("log pattern {}: regex '{}' does not compile: {}", p.name, p.regex, e.what()));
  }
}

std::string Cut(std::string_view line) {
  if (line.size() <= kMaxExampleBytes) return std::string(line);
  return fmt::format("{}...", line.substr(0, kMaxExampleBytes));
}

std::string MaxText(const LogPattern& p) {
  return p.max ? std::to_string(*p.max) : std::string("unlimited");
}

std::string NodesText(const LogPatternCount& c) {
  std::vector<std::string> parts;
  for (const auto& [node, n] : c.by_node) {
    if (n > 0) parts.push_back(fmt::format("{} {}", node, n));
  }
  return fmt::format("{}", fmt::join(parts, ", "));
}

}  // namespace

std::vector<LogPattern> BuiltinLogPatterns() {
  return {
      LogPattern{.name = "panic", .regex = R"(^panic: )", .max = 0, .builtin = true},
      LogPattern{
          .name = "fatal",
          .regex = R"("level":"fatal"|^fatal error: |^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ C \| )",
          .max = 0,
          .builtin = true},
      LogPattern{.name = "data-race", .regex = R"(^WARNING: DATA RACE)", .max = 0, .builtin = true},
      LogPattern{.name = "permission-denied",
                 .regex = R"((?i)permission denied)",
                 .max = std::nullopt,
                 .builtin = true},
  };
}

Result<std::vector<LogPattern>> MakeLogPatterns(std::span<const std::string> added,
                                                std::span<const std::string> maxima) {
  std::vector<LogPattern> patterns = BuiltinLogPatterns();
  auto find = [&](const std::string& name) {
    return std::find_if(patterns.begin(), patterns.end(),
                        [&](const LogPattern& p) { return p.name == name; });
  };
  for (const std::string& text : added) {
    FAULTLINE_ASSIGN_OR_RETURN(auto nv, SplitNameValue("--log-pattern", text, "NAME=REGEX"));
    if (nv.second.empty()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("--log-pattern '{}': empty regex (expected NAME=REGEX)", text));
    }
    LogPattern p{.name = nv.first, .regex = nv.second, .max = std::nullopt, .builtin = false};
    if (Result<boost::regex> re = Compile(p); !re) {
      return std::move(re).error().WithContext(fmt::format("--log-pattern '{}'", text));
    }
    auto it = find(p.name);
    if (it == patterns.end()) {
      patterns.push_back(std::move(p));
    } else if (it->builtin) {
      it->regex = std::move(p.regex);  // keeps the built-in's maximum
    } else {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("--log-pattern '{}': pattern {} is given twice", text, p.name));
    }
  }
  for (const std::string& text : maxima) {
    FAULTLINE_ASSIGN_OR_RETURN(
        auto nv, SplitNameValue("--log-pattern-max", text, "NAME=N or NAME=unlimited"));
    auto it = find(nv.first);
    if (it == patterns.end()) {
      std::vector<std::string> names;
      for (const LogPattern& p : patterns) names.push_back(p.name);
      return MakeError(
          ErrorCode::kInvalidArgument,
          fmt::format("--log-pattern-max '{}': no pattern named {} (known: {}; add one "
                      "with --log-pattern NAME=REGEX)",
                      text, nv.first, fmt::join(names, ", ")));
    }
    if (nv.second == "unlimited") {
      it->max = std::nullopt;
      continue;
    }
    int64_t n = -1;
    const char* end = nv.second.data() + nv.second.size();
    auto [ptr, ec] = std::from_chars(nv.second.data(), end, n);
    if (nv.second.empty() || ec != std::errc() || ptr != end || n < 0) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("--log-pattern-max '{}': '{}' is not a count (expected NAME=N "
                                   "with N >= 0, or NAME=unlimited)",
                                   text, nv.second));
    }
    it->max = n;
  }
  return patterns;
}

struct LogPatternScanner::Compiled {
  std::optional<boost::regex> re;
};

LogPatternScanner::LogPatternScanner(std::vector<LogPattern> patterns) {
  for (LogPattern& p : patterns) {
    auto c = std::make_unique<Compiled>();
    if (Result<boost::regex> re = Compile(p)) c->re = std::move(*re);
    compiled_.push_back(std::move(c));
    LogPatternCount count;
    count.pattern = std::move(p);
    report_.patterns.push_back(std::move(count));
  }
}

LogPatternScanner::~LogPatternScanner() = default;

void LogPatternScanner::AddNode(const std::string& node) {
  for (LogPatternCount& c : report_.patterns) c.by_node.try_emplace(node, 0);
}

void LogPatternScanner::Feed(const std::string& node, std::string_view line) {
  ++report_.lines;
  report_.bytes += static_cast<int64_t>(line.size()) + 1;
  for (size_t i = 0; i < compiled_.size(); ++i) {
    if (!compiled_[i]->re) continue;
    bool hit = false;
    try {
      hit = boost::regex_search(line.begin(), line.end(), *compiled_[i]->re);
    } catch (const std::exception& e) {
      if (report_.warnings.size() < 20) {
        report_.warnings.push_back(fmt::format("log pattern {}: gave up on a line of {}: {}",
                                               report_.patterns[i].pattern.name, node, e.what()));
      }
    }
    if (!hit) continue;
    LogPatternCount& c = report_.patterns[i];
    ++c.count;
    ++c.by_node[node];
    if (c.examples.size() < kMaxExamples) {
      c.examples.push_back(LogPatternExample{.node = node, .line = Cut(line)});
    }
  }
}

void LogPatternScanner::Unread(const std::string& node, std::string why) {
  report_.unread.push_back(fmt::format("{}: {}", node, why));
}

LogPatternReport LogPatternScanner::Report() const { return report_; }

uint64_t LogOffsetNow(const std::string& path) {
  struct stat st {};
  if (path.empty() || ::stat(path.c_str(), &st) != 0) return 0;
  return static_cast<uint64_t>(st.st_size);
}

Result<LogPatternReport> ScanNodeLogs(std::span<const NodeLog> logs,
                                      std::span<const LogPattern> patterns) {
  for (const LogPattern& p : patterns) {
    if (Result<boost::regex> re = Compile(p); !re) return std::move(re).error();
  }
  LogPatternScanner scanner({patterns.begin(), patterns.end()});
  for (const NodeLog& log : logs) {
    scanner.AddNode(log.node);
    if (log.path.empty()) {
      scanner.Unread(log.node, "no log file known");
      continue;
    }
    std::ifstream in(log.path, std::ios::binary);
    if (!in) {
      scanner.Unread(log.node, fmt::format("cannot open {}", log.path));
      continue;
    }
    const uint64_t size = LogOffsetNow(log.path);
    // A log shorter than the offset was replaced since the run began: all of it is the run's.
    if (log.offset > 0 && log.offset <= size) in.seekg(static_cast<std::streamoff>(log.offset));
    for (std::string line; std::getline(in, line);) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      scanner.Feed(log.node, line);
    }
    if (in.bad()) scanner.Unread(log.node, fmt::format("read error in {}", log.path));
  }
  return scanner.Report();
}

std::string LogPatternsJson(const LogPatternReport& report) {
  Json j = Json::object();
  for (const LogPatternCount& c : report.patterns) {
    Json one;
    one["count"] = c.count;
    one["max"] = c.pattern.max ? Json(*c.pattern.max) : Json(nullptr);
    one["exceeded"] = c.exceeded();
    one["regex"] = c.pattern.regex;
    one["builtin"] = c.pattern.builtin;
    one["by_node"] = Json(c.by_node);
    Json examples = Json::array();
    for (const LogPatternExample& e : c.examples) {
      examples.push_back(Json{{"node", e.node}, {"line", e.line}});
    }
    one["examples"] = std::move(examples);
    j[c.pattern.name] = std::move(one);
  }
  return j.dump();
}

std::string ExceededLine(const LogPatternReport& report) {
  std::vector<std::string> parts;
  for (const LogPatternCount& c : report.patterns) {
    if (c.exceeded()) {
      parts.push_back(
          fmt::format("log pattern {}: {} > max {}", c.pattern.name, c.count, MaxText(c.pattern)));
    }
  }
  return fmt::format("{}", fmt::join(parts, "; "));
}

Verdict LogPatternVerdict(const LogPatternReport& report) {
  Verdict v;
  v.name = "log-patterns";
  v.json = LogPatternsJson(report);
  std::vector<std::string> exceeded;
  std::vector<std::string> counts;
  for (const LogPatternCount& c : report.patterns) {
    counts.push_back(fmt::format("{} {}", c.pattern.name, c.count));
    if (!c.exceeded()) continue;
    exceeded.push_back(fmt::format("{} {} > max {} ({})", c.pattern.name, c.count,
                                   MaxText(c.pattern), NodesText(c)));
    v.anomalies[c.pattern.name] = c.count;
    for (const LogPatternExample& e : c.examples) {
      v.examples.push_back(fmt::format("{} on {}: {}", c.pattern.name, e.node, e.line));
    }
  }
  if (!exceeded.empty()) {
    v.validity = Validity::kInvalid;
    v.summary = fmt::format("invalid: {}", fmt::join(exceeded, "; "));
    v.detail = fmt::format("{}\n", fmt::join(v.examples, "\n"));
    return v;
  }
  if (!report.unread.empty()) {
    v.validity = Validity::kUnknown;
    v.summary = fmt::format("unknown: log not read on {}; counted {} in {} lines",
                            fmt::join(report.unread, "; "), fmt::join(counts, ", "), report.lines);
    return v;
  }
  v.summary = fmt::format("valid: {} in {} lines, no maximum exceeded", fmt::join(counts, ", "),
                          report.lines);
  return v;
}

}  // namespace faultline::checker
