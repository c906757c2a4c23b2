// The immutable log: an append-only, hash-chained, signed text file that a campaign writes while it
// runs, so that a history which passes the checker can be shown to be the history that was
// recorded.
//
// File format (version 1), readable by people, one line per record, LF-terminated:
//
//   FAULTLINE-LOG 1 ed25519 <64 hex: public key>      header of a signed log, or
//   FAULTLINE-LOG 1 unsigned                           header of an unsigned log
//   <seq> <kind> <len> <payload> <hash>                one line per record
//
// - seq: 0, 1, 2, ... in decimal; kind: meta | op | checkpoint | seal; len: the payload's size in
//   bytes, in decimal; payload: one JSON object without raw newlines; hash: 64 lowercase hex.
// - hash = SHA-256(prev || the line's bytes up to and including the space before the hash), where
//   prev is the raw hash of the previous record, or SHA-256 of the header line (with its LF) for
//   record 0. The hash of the last record is the log's head.
// - meta: run metadata, a JSON object {"faultline":{...}} (the run-metadata form of JSON Lines).
//   op: one op as written by AppendJsonOp (history/jsonl.h).
//   checkpoint: {"seq":S,"head":"<hex>","sig":"<128 hex>"}: S is the previous record's seq, head
//   its hash, sig the Ed25519 signature of the text "FAULTLINE-LOG 1 checkpoint S HEAD". seal:
//   {"seq":S,"ops":N,"head":"<hex>","sig":"<hex>"}: the last record; N op records precede it; sig
//   signs "FAULTLINE-LOG 1 seal S N HEAD" (no "sig" in an unsigned log). Nothing follows it.
// - The length prefix and the hash at the end make a torn tail detectable: a crash leaves a last
//   line without its LF, which is reported with its byte offset while the prefix before it stays
//   readable. A log without its seal is a crash prefix, never a complete run. Checkpoints are
//   signed every N records or T ms, so a crashed run is authenticated up to its last checkpoint.
//
// Verification lives in history/audit.h.
//
// Thread-safety: LogWriter is documented below; the free functions have no shared state.
#ifndef FAULTLINE_HISTORY_LOG_H_
#define FAULTLINE_HISTORY_LOG_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "history/crypto.h"
#include "history/history.h"
#include "history/op.h"

namespace faultline::history {

inline constexpr std::string_view kLogMagic = "FAULTLINE-LOG";
inline constexpr int kLogFormatVersion = 1;

enum class LogRecordKind { kMeta, kOp, kCheckpoint, kSeal };
// "meta", "op", "checkpoint", "seal".
std::string_view LogRecordKindName(LogRecordKind kind);

// Nanoseconds from CLOCK_MONOTONIC. Ops carry time since the run started: MonotonicNowNs() minus
// the log's start_ns().
int64_t MonotonicNowNs();

enum class FsyncPolicy {
  kEveryRecord,  // Append returns after its record is written and fsynced (group commit)
  kInterval,     // the writer fsyncs at most every `fsync_interval`, Append does not wait
  kNever,        // written to the kernel only; fsynced on Close
};
// "every-record", "interval", "never".
std::string_view FsyncPolicyName(FsyncPolicy policy);

struct LogOptions {
  FsyncPolicy fsync = FsyncPolicy::kInterval;
  std::chrono::milliseconds fsync_interval{10};
  // Signed checkpoints (only with a signing key): after this many records or this much time since
  // the previous checkpoint, whichever comes first (and only when records were added).
  int64_t checkpoint_every_records = 100000;
  std::chrono::milliseconds checkpoint_interval{1000};
  // Signs checkpoints and the seal. Without a key the log is unsigned: chained and sealed only.
  std::optional<PrivateKey> signing_key;
  // Written as record 0 (kind meta) when not empty: a JSON object {"faultline":{...}}.
  std::string meta;
  // Appends wait while this many bytes are queued and not yet written (back-pressure).
  size_t max_queued_bytes = size_t{64} << 20;
};

struct LogSummary {
  int64_t records = 0;  // all records, the seal included
  int64_t ops = 0;
  std::string head;  // hex hash of the last record (the seal)
  int64_t checkpoints = 0;
};

// Writes one log file. Records appear in the file in the order of the Append calls that enqueued
// them (a total order over all threads); a writer thread hashes, frames and writes them in batches.
//
// Thread-safety: Append, AppendOpJson, AppendMeta, Sync and the accessors may be called from many
// threads at once. Close must be called once, after every other call has returned.
class LogWriter {
 public:
  // Creates path (which must not exist: the log is append-only and never rewritten), writes the
  // header and the meta record, and starts the writer thread. The run's start time is now.
  static Result<std::unique_ptr<LogWriter>> Create(const std::string& path, LogOptions options);

  // Closes (writes the seal) if Close was not called; errors are lost then.
  ~LogWriter();
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;

  // Appends one op; returns once it is queued (kEveryRecord: once it is fsynced). An op whose index
  // is -1 gets the number of ops appended before it. An op whose time_ns is -1 is stamped with
  // ElapsedNs() under the queue's lock, so that times never decrease in file order (History::Build
  // checks that); a time the caller stamped itself is kept, and concurrent callers may then land
  // slightly out of time order. Either way, call it before sending an invocation's request and
  // after reading a completion's reply: the file order is the Append order.
  // Errors: a previous write failure (kUnavailable), Close already called (kInvalidArgument).
  Status Append(const Op& op);
  // Appends an op already serialized by AppendJsonOp (one JSON object, no newline), with the same
  // rules: a missing "index" or "time" field is filled in (index first, then time).
  Status AppendOpJson(std::string_view json);
  // Appends a meta record: a JSON object {"faultline":{...}} (checked).
  Status AppendMeta(std::string_view json);

  // Waits until every record appended before the call is written and fsynced.
  Status Sync();

  // Writes the seal, fsyncs, closes the file and joins the writer thread.
  Result<LogSummary> Close();

  const std::string& path() const;
  // MonotonicNowNs() when the log was created.
  int64_t start_ns() const;
  // Nanoseconds since start_ns(): the time to stamp on ops.
  int64_t ElapsedNs() const { return MonotonicNowNs() - start_ns(); }

 private:
  struct Impl;
  explicit LogWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Writes a whole history as a new, sealed log at path (for `history convert --to log`). Ops keep
// their indexes; metadata objects ({"faultline":{...}}) become meta records first.
Result<LogSummary> WriteHistoryLog(const std::string& path, const History& history,
                                   const std::vector<std::string>& metadata,
                                   LogOptions options = {});

// Reads the ops of a log. The chain is verified (signatures are not: use VerifyLog with a key for
// that). A crash prefix or a torn tail gives the ops of the intact prefix and sets *note, e.g.
// "crash prefix: 812 records intact, torn record at byte offset 90321"; a tampered or unreadable
// log is an error (kInvalidArgument) naming the source, the record and its byte offset.
// `meta`, when given, receives each meta record's "faultline" value as JSON text, in order.
Result<History> ReadLogHistory(std::string_view content, std::string_view source, std::string* note,
                               std::vector<std::string>* meta = nullptr);

// ReadLogHistory op by op, without building a History. The chain is verified first, as there.
Status ForEachLogOp(std::string_view content, std::string_view source, std::string* note,
                    std::vector<std::string>* meta, const OpSink& sink);

// The log as JSON Lines, losslessly for its history: every meta and op payload, in order, one per
// line (checkpoints and the seal are chain data and are left out). Same errors and note as
// ReadLogHistory.
Result<std::string> ExportJsonl(std::string_view content, std::string_view source,
                                std::string* note = nullptr);

}  // namespace faultline::history

#endif  // FAULTLINE_HISTORY_LOG_H_
