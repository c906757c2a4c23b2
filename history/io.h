// Reading and writing history files in any supported format, with detection from content.
//
// Thread-safety: free functions without shared state.
#ifndef FAULTLINE_HISTORY_IO_H_
#define FAULTLINE_HISTORY_IO_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "history/history.h"

namespace faultline::history {

enum class Format {
  kAuto,     // detect from content
  kJsonl,    // faultline JSON Lines
  kJson,     // one JSON array of ops (elle-cli's form)
  kEdn,      // Jepsen history.edn (and Porcupine's kv files)
  kEtcdLog,  // Porcupine's jepsen etcd log
  kLog,      // faultline's immutable, hash-chained log
};

// "auto", "jsonl", "json", "edn", "etcd-log", "log".
std::string_view FormatName(Format format);
Result<Format> ParseFormat(std::string_view name);

// The format a file name's extension names: .jsonl, .json, .edn, .log or .flog; nullopt for any
// other name.
std::optional<Format> FormatFromExtension(std::string_view path);

// Detects the format from the first non-blank bytes: the log's magic line, "INFO" (etcd log),
// "{\"" or "{}" (JSON Lines), "[{\"" (a JSON array of ops), otherwise EDN ("{:", "[", "(", ";",
// "#").
Format DetectFormat(std::string_view content);

struct ReadOptions {
  Format format = Format::kAuto;
};

struct ReadReport {
  Format format = Format::kAuto;  // the format actually read
  std::string note;               // e.g. "truncated last line 812 ignored", "log: crash prefix"
  // Run metadata the file carries (JSON Lines, JSON arrays and logs): each {"faultline": V}
  // record's V as JSON text, in file order. A campaign's names its seed, workload, config and,
  // for transactional workloads, "claims" (the model and consistency it is judged by).
  std::vector<std::string> metadata;
};

// Reads a whole file (or "-" for standard input). Errors name the path.
Result<History> ReadHistoryFile(const std::string& path, const ReadOptions& options = {},
                                ReadReport* report = nullptr);
// Parses content already in memory; `source` names it in errors.
Result<History> ReadHistory(std::string_view content, std::string_view source,
                            const ReadOptions& options = {}, ReadReport* report = nullptr);

// ReadHistory op by op, without building a History (for histories too large to hold as Values:
// history/txn.h's TxnDecoder pairs and decodes as the ops come). `report` is filled as there, but
// for the time-regression warning, which is the sink's to give. Metadata records come to
// `report->metadata` as they are read, so a sink sees those written before its first op.
Status ForEachOp(std::string_view content, std::string_view source, const ReadOptions& options,
                 const OpSink& sink, ReadReport* report = nullptr);

// Appends `more` to a note of "; "-separated parts (nothing when `more` is empty): a reader's
// note, its time-regression warning, a checker's remarks.
void JoinNote(std::string& note, std::string_view more);

// Reads a file ("-": standard input) into memory. Errors name the path and errno's text.
Result<std::string> ReadFileToString(const std::string& path);

}  // namespace faultline::history

#endif  // FAULTLINE_HISTORY_IO_H_
