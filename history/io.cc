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
    case Format::kJson:
      return "json";
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
  for (Format f : {Format::kAuto, Format::kJsonl, Format::kJson, Format::kEdn, Format::kEtcdLog,
                   Format::kLog}) {
    if (name == FormatName(f)) return f;
  }
  return MakeError(ErrorCode::kInvalidArgument,
                   fmt::format("unknown history format \"{}\" (expected auto, jsonl, json, edn, "
                               "etcd-log or log)",
                               name));
}

std::optional<Format> FormatFromExtension(std::string_view path) {
  if (path.ends_with(".jsonl")) return Format::kJsonl;
  if (path.ends_with(".json")) return Format::kJson;
  if (path.ends_with(".edn")) return Format::kEdn;
  if (path.ends_with(".log") || path.ends_with(".flog")) return Format::kLog;
  return std::nullopt;
}

Format DetectFormat(std::string_view content) {
  if (content.substr(0, kUtf8Bom.size()) == kUtf8Bom) content.remove_prefix(kUtf8Bom.size());
  size_t i = 0;
  while (i < content.size() && IsSpace(content[i])) ++i;
  const std::string_view rest = content.substr(i);
  if (rest.substr(0, kLogMagic.size()) == kLogMagic) return Format::kLog;
  if (rest.substr(0, 4) == "INFO") return Format::kEtcdLog;
  // JSON objects start with a quoted field name or close at once; EDN ops with a keyword.
  auto json_object_at = [&rest](size_t j) {
    if (j >= rest.size() || rest[j] != '{') return false;
    ++j;
    while (j < rest.size() && IsSpace(rest[j])) ++j;
    return j < rest.size() && (rest[j] == '"' || rest[j] == '}');
  };
  if (json_object_at(0)) return Format::kJsonl;
  if (!rest.empty() && rest.front() == '[') {
    size_t j = 1;
    while (j < rest.size() && IsSpace(rest[j])) ++j;
    if (json_object_at(j)) return Format::kJson;
  }
  return Format::kEdn;
}

namespace {

// Adds the metadata read since `kept` (a count of those already added) to the report as JSON.
void KeepMetadata(const JsonlReadInfo& info, size_t& kept, ReadReport& report) {
  for (; kept < info.metadata.size(); ++kept) {
    std::string json;
    AppendJsonValue(json, info.metadata[kept]);
    report.metadata.push_back(std::move(json));
  }
}

Result<History> ReadHistoryAs(Format format, std::string_view content, std::string_view source,
                              ReadReport* report) {
  switch (format) {
    case Format::kJsonl: {
      JsonlReadInfo info;
      auto history = ReadJsonlHistory(content, source, &info);
      if (history && info.truncated_tail && report != nullptr) {
        report->note = fmt::format("truncated last line {} ignored", info.truncated_line);
      }
      size_t kept = 0;
      if (report != nullptr) KeepMetadata(info, kept, *report);
      return history;
    }
    case Format::kJson: {
      JsonlReadInfo info;
      auto history = ReadJsonArrayHistory(content, source, &info);
      size_t kept = 0;
      if (report != nullptr) KeepMetadata(info, kept, *report);
      return history;
    }
    case Format::kEdn:
      return ReadEdnHistory(content, source);
    case Format::kEtcdLog:
      return ReadEtcdLog(content, source);
    case Format::kLog: {
      std::string note;
      auto history =
          ReadLogHistory(content, source, &note, report != nullptr ? &report->metadata : nullptr);
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
    report->metadata.clear();
  }
  auto history = ReadHistoryAs(format, content, source, report);
  // One warning for the whole file, whatever the format, joined to the reader's own note.
  if (history && report != nullptr) JoinNote(report->note, TimeRegressionNote(*history));
  return history;
}

Status ForEachOp(std::string_view content, std::string_view source, const ReadOptions& options,
                 const OpSink& sink, ReadReport* report) {
  const Format format = options.format == Format::kAuto ? DetectFormat(content) : options.format;
  ReadReport scratch;
  ReadReport& r = report != nullptr ? *report : scratch;
  r.format = format;
  r.note.clear();
  r.metadata.clear();
  switch (format) {
    case Format::kJsonl:
    case Format::kJson: {
      // Metadata reaches the report as it is read, ahead of the ops after it.
      JsonlReadInfo info;
      size_t kept = 0;
      OpSink with_metadata = [&](Op&& op, int64_t line, const char* at) {
        KeepMetadata(info, kept, r);
        return sink(std::move(op), line, at);
      };
      Status st = format == Format::kJsonl
                      ? ForEachJsonlOp(content, source, &info, with_metadata)
                      : ForEachJsonArrayOp(content, source, &info, with_metadata);
      KeepMetadata(info, kept, r);
      if (st && info.truncated_tail) {
        r.note = fmt::format("truncated last line {} ignored", info.truncated_line);
      }
      return st;
    }
    case Format::kEdn:
      return ForEachEdnOp(content, source, sink);
    case Format::kLog:
      return ForEachLogOp(content, source, &r.note, &r.metadata, sink);
    case Format::kEtcdLog: {
      // Porcupine's etcd logs are small register histories: read whole, then handed over.
      FAULTLINE_ASSIGN_OR_RETURN(History h, ReadEtcdLog(content, source));
      for (size_t i = 0; i < h.size(); ++i) {
        Op op = h[i];
        FAULTLINE_RETURN_IF_ERROR(sink(std::move(op), h.line(i), nullptr));
      }
      return OkStatus();
    }
    case Format::kAuto:
      break;
  }
  return MakeError(ErrorCode::kInternal, "read history: no format chosen");
}

void JoinNote(std::string& note, std::string_view more) {
  if (more.empty()) return;
  if (!note.empty()) note += "; ";
  note += more;
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
