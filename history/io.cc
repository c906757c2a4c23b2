#include "history/io.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "common/file.h"
#include "history/edn.h"
#include "history/jsonl.h"
#include "history/log.h"
#include "history/porcupine.h"

namespace faultline::history {
namespace {

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

Unexpected ErrnoError(std::string_view what, std::string_view path, int err) {
  return MakeError(ErrorCodeFromErrno(err),
                   fmt::format("{} {}: {}", what, path, std::strerror(err)));
}

// Reads standard input to its end (files go through common/file.h).
Result<std::string> ReadAll(std::FILE* f, std::string_view path) {
  std::string out;
  char buf[1 << 16];
  for (;;) {
    const size_t n = std::fread(buf, 1, sizeof(buf), f);
    out.append(buf, n);
    if (n < sizeof(buf)) {
      if (std::ferror(f)) return ErrnoError("read", path, errno);
      return out;
    }
  }
}

}  // namespace

std::string_view FormatName(Format format) {
  switch (format) {
    case Format::kAuto:
      return "auto";
    case Format::kJsonl:
      return "jsonl";
    case Format::kEdn:
      return "edn";
    case Format::kEtcdLog:
      return "etcd-log";
    case Format::kLog:
      return "log";
  }
  return "?";
}

Result<Format> ParseFormat(std::string_view name) {
  for (Format f : {Format::kAuto, Format::kJsonl, Format::kEdn, Format::kEtcdLog, Format::kLog}) {
    if (name == FormatName(f)) return f;
  }
  return MakeError(ErrorCode::kInvalidArgument,
                   fmt::format("unknown history format \"{}\" (expected auto, jsonl, edn, "
                               "etcd-log or log)",
                               name));
}

Format DetectFormat(std::string_view content) {
  if (content.substr(0, kUtf8Bom.size()) == kUtf8Bom) content.remove_prefix(kUtf8Bom.size());
  size_t i = 0;
  while (i < content.size() && IsSpace(content[i])) ++i;
  const std::string_view rest = content.substr(i);
  if (rest.substr(0, kLogMagic.size()) == kLogMagic) return Format::kLog;
  if (rest.substr(0, 4) == "INFO") return Format::kEtcdLog;
  if (!rest.empty() && rest.front() == '{') {
    // JSON objects start with a quoted field name or close at once; EDN ops with a keyword.
    size_t j = 1;
    while (j < rest.size() && (rest[j] == ' ' || rest[j] == '\t')) ++j;
    if (j < rest.size() && (rest[j] == '"' || rest[j] == '}')) return Format::kJsonl;
  }
  return Format::kEdn;
}

namespace {

Result<History> ReadHistoryAs(Format format, std::string_view content, std::string_view source,
                              ReadReport* report) {
  switch (format) {
    case Format::kJsonl: {
      JsonlReadInfo info;
      auto history = ReadJsonlHistory(content, source, &info);
      if (history && info.truncated_tail && report != nullptr) {
        report->note = fmt::format("truncated last line {} ignored", info.truncated_line);
      }
      return history;
    }
    case Format::kEdn:
      return ReadEdnHistory(content, source);
    case Format::kEtcdLog:
      return ReadEtcdLog(content, source);
    case Format::kLog: {
      std::string note;
      auto history = ReadLogHistory(content, source, &note);
      if (report != nullptr) report->note = std::move(note);
      return history;
    }
    case Format::kAuto:
      break;
  }
  return MakeError(ErrorCode::kInternal, "read history: no format chosen");
}

}  // namespace

Result<History> ReadHistory(std::string_view content, std::string_view source,
                            const ReadOptions& options, ReadReport* report) {
  const Format format = options.format == Format::kAuto ? DetectFormat(content) : options.format;
  if (report != nullptr) {
    report->format = format;
    report->note.clear();
  }
  auto history = ReadHistoryAs(format, content, source, report);
  // One warning for the whole file, whatever the format, joined to the reader's own note.
  if (history && report != nullptr) {
    std::string warning = TimeRegressionNote(*history);
    if (!warning.empty()) {
      report->note += (report->note.empty() ? "" : "; ") + warning;
    }
  }
  return history;
}

Result<std::string> ReadFileToString(const std::string& path) {
  if (path == "-") return ReadAll(stdin, "<stdin>");
  return ReadFile(path);
}

Result<History> ReadHistoryFile(const std::string& path, const ReadOptions& options,
                                ReadReport* report) {
  FAULTLINE_ASSIGN_OR_RETURN(std::string content, ReadFileToString(path));
  return ReadHistory(content, path == "-" ? "<stdin>" : path, options, report);
}

}  // namespace faultline::history
