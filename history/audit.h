// Verification of an immutable log (format in history/log.h): chain, framing, signatures, seal and
// an optional pinned head. Backs `faultline audit verify` and `faultline audit head`; the CLI only
// prints the report and maps it to an exit code with AuditExitCode.
//
// Verification is a single pass over the bytes: SHA-256 through EVP (SHA-NI where present), frames
// parsed in place, no allocation per record.
//
// Thread-safety: free functions without shared state.
#ifndef FAULTLINE_HISTORY_AUDIT_H_
#define FAULTLINE_HISTORY_AUDIT_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "history/crypto.h"
#include "history/log.h"

namespace faultline::history {

enum class AuditStatus {
  kIntact,       // chain intact and sealed (see authenticated() for the signatures)
  kTampered,     // a record, hash, signature, key or head is not what was written
  kCrashPrefix,  // the chain is intact but ends early: no seal, or a torn last record
  kUnreadable,   // not a log at all (no header), or the file cannot be read
};
// "intact", "tampered", "crash-prefix", "unreadable".
std::string_view AuditStatusName(AuditStatus status);

struct AuditReport {
  AuditStatus status = AuditStatus::kUnreadable;
  // One line for people: "chain intact, sealed, 1204 records, 1200 ops, signatures good",
  // "record 17 at byte offset 2931: hash does not match the chain (edited, inserted or removed)".
  std::string message;

  // The first record that is not intact, or -1. For a problem in the header: seq -1 and offset 0.
  int64_t first_bad_seq = -1;
  int64_t first_bad_offset = -1;

  int64_t records = 0;       // intact records (the seal included)
  int64_t ops = 0;           // intact op records
  int64_t intact_bytes = 0;  // size of the intact prefix (header included)
  // Hex hash of the last intact record (the seal's, for an intact log: what `audit head` prints and
  // --expect-head pins); empty when there is none.
  std::string head;

  bool signed_log = false;          // the header names an Ed25519 key
  std::string log_key_fingerprint;  // that key's fingerprint, when signed
  bool signatures_checked = false;  // a key was given and every signature met was checked
  int64_t signatures_verified = 0;
  // The seq of the last record covered by a good signature (checkpoint or seal), or -1.
  int64_t authenticated_seq = -1;
  bool sealed = false;

  // Intact, sealed and, if the log is signed, every signature checked and good.
  bool authenticated() const {
    return status == AuditStatus::kIntact && (!signed_log || signatures_checked);
  }
};

// Suggested exit codes for `faultline audit verify`.
inline constexpr int kAuditExitIntact = 0;
inline constexpr int kAuditExitTampered = 4;
inline constexpr int kAuditExitCrashPrefix = 5;
inline constexpr int kAuditExitUnreadable = 6;
// Signed log verified without a key: "chain intact, signatures not checked".
inline constexpr int kAuditExitUnauthenticated = 7;

int AuditExitCode(const AuditReport& report, bool allow_unauthenticated);

// The report as one JSON object (for `audit verify --json`), keys as in AuditReport plus
// "status" as AuditStatusName and "authenticated".
std::string AuditReportToJson(const AuditReport& report);

struct VerifyOptions {
  // Check every signature with this key. Without it a signed log's signatures are not checked.
  // With it, an unsigned log or a log signed by another key is tampered.
  std::optional<PublicKey> key;
  // Hex head hash the log must end with (from `faultline audit head`); empty: not checked.
  std::string expected_head;
};

// A record whose hash verified, as seen by RecordVisitor. Views into the content.
struct LogRecordView {
  int64_t seq = 0;
  LogRecordKind kind = LogRecordKind::kOp;
  std::string_view payload;
  int64_t offset = 0;  // byte offset of the line
  int64_t line = 0;    // 1-based line number (the header is line 1)
};
// Called for each record in order, as soon as its hash is verified (a later record may still turn
// out bad: look at the report before trusting what was visited).
using RecordVisitor = std::function<void(const LogRecordView&)>;

AuditReport VerifyLog(std::string_view content, const VerifyOptions& options = {},
                      const RecordVisitor& visitor = nullptr);
// Maps the file read-only and verifies it; an unreadable file gives kUnreadable naming the path.
AuditReport VerifyLogFile(const std::string& path, const VerifyOptions& options = {});

}  // namespace faultline::history

#endif  // FAULTLINE_HISTORY_AUDIT_H_
