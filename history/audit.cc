#include "history/audit.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <string>

#include "fmt/core.h"
#include "nlohmann/json.hpp"

namespace faultline::history {
namespace {

// The fields of a checkpoint or seal payload, a flat JSON object written by the log writer.
struct SignedFields {
  int64_t seq = -1;
  int64_t ops = -1;
  std::string_view head;
  std::string_view sig;
  bool has_seq = false;
  bool has_ops = false;
  bool has_head = false;
  bool has_sig = false;
};

// Parses a non-negative decimal without leading zeros and with at most 18 digits; advances p.
bool ParseDecimal(const char*& p, const char* end, int64_t* out) {
  const char* start = p;
  int64_t v = 0;
  while (p < end && *p >= '0' && *p <= '9' && p - start < 18) {
    v = v * 10 + (*p - '0');
    ++p;
  }
  if (p == start || (*start == '0' && p - start > 1)) return false;
  if (p < end && *p >= '0' && *p <= '9') return false;
  *out = v;
  return true;
}

// Accepts exactly {"key":value,...} with keys seq, ops (integers) and head, sig (strings), each
// at most once, no whitespace: the form the writer produces. Anything else is not a valid record.
bool ParseSignedFields(std::string_view text, SignedFields* f) {
  const char* p = text.data();
  const char* end = p + text.size();
  if (p == end || *p++ != '{') return false;
  for (;;) {
    if (p == end || *p++ != '"') return false;
    const char* key_start = p;
    while (p < end && *p != '"') ++p;
    if (p == end) return false;
    std::string_view key(key_start, static_cast<size_t>(p - key_start));
    ++p;
    if (p == end || *p++ != ':') return false;
    if (key == "seq" || key == "ops") {
      bool& has = key == "seq" ? f->has_seq : f->has_ops;
      int64_t& value = key == "seq" ? f->seq : f->ops;
      if (has || !ParseDecimal(p, end, &value)) return false;
      has = true;
    } else if (key == "head" || key == "sig") {
      bool& has = key == "head" ? f->has_head : f->has_sig;
      std::string_view& value = key == "head" ? f->head : f->sig;
      if (has || p == end || *p++ != '"') return false;
      const char* s = p;
      while (p < end && *p != '"') ++p;
      if (p == end) return false;
      value = std::string_view(s, static_cast<size_t>(p - s));
      ++p;
      has = true;
    } else {
      return false;
    }
    if (p == end) return false;
    char c = *p++;
    if (c == '}') return p == end;
    if (c != ',') return false;
  }
}

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

class Verifier {
 public:
  Verifier(std::string_view content, const VerifyOptions& options, const RecordVisitor& visitor)
      : content_(content), options_(options), visitor_(visitor) {}

  AuditReport Run() {
    if (ReadHeader()) ReadRecords();
    Finish();
    // Every signature met was checked with the given key, and none failed.
    report_.signatures_checked =
        report_.signed_log && options_.key.has_value() &&
        (report_.status == AuditStatus::kIntact || report_.status == AuditStatus::kCrashPrefix);
    return std::move(report_);
  }

 private:
  // Records the first problem; later ones are not looked for.
  void Fail(AuditStatus status, int64_t seq, size_t offset, std::string message) {
    report_.status = status;
    report_.first_bad_seq = seq;
    report_.first_bad_offset = static_cast<int64_t>(offset);
    report_.message = std::move(message);
    failed_ = true;
  }

  // A record that cannot be read is torn if it is the unterminated last line (a crash while it was
  // written), and tampered otherwise.
  void BadRecord(size_t offset, std::string_view why) {
    const void* nl = std::memchr(content_.data() + offset, '\n', content_.size() - offset);
    if (nl == nullptr) {
      Fail(AuditStatus::kCrashPrefix, seq_, offset,
           fmt::format("crash prefix: {} records intact, torn record at byte offset {}", seq_,
                       offset));
      return;
    }
    Fail(AuditStatus::kTampered, seq_, offset,
         fmt::format("record {} at byte offset {}: {}", seq_, offset, why));
  }

  bool ReadHeader() {
    if (content_.empty()) {
      Fail(AuditStatus::kUnreadable, -1, 0, "empty file: not a faultline log");
      return false;
    }
    std::string magic = std::string(kLogMagic) + " ";
    if (!content_.starts_with(magic)) {
      Fail(AuditStatus::kUnreadable, -1, 0,
           fmt::format("no {} header: not a faultline log (convert a history with `faultline "
                       "history convert IN OUT --to log`)",
                       kLogMagic));
      return false;
    }
    const char* nl = static_cast<const char*>(std::memchr(content_.data(), '\n', content_.size()));
    if (nl == nullptr) {
      Fail(AuditStatus::kCrashPrefix, 0, 0,
           "crash prefix: 0 records intact, torn header at byte offset 0");
      return false;
    }
    size_t header_size = static_cast<size_t>(nl - content_.data()) + 1;
    std::string_view rest = content_.substr(magic.size(), header_size - 1 - magic.size());
    std::string version = std::to_string(kLogFormatVersion) + " ";
    if (!rest.starts_with(version)) {
      size_t sp = rest.find(' ');
      bool digits = sp != 0 && sp != std::string_view::npos &&
                    rest.substr(0, sp).find_first_not_of("0123456789") == std::string_view::npos;
      if (digits) {
        Fail(AuditStatus::kUnreadable, -1, 0,
             fmt::format("header: log format version {} is not supported (this faultline reads "
                         "version {})",
                         rest.substr(0, sp), kLogFormatVersion));
      } else {
        Fail(AuditStatus::kTampered, -1, 0, "header: malformed format version");
      }
      return false;
    }
    rest.remove_prefix(version.size());
    constexpr std::string_view kSigned = "ed25519 ";
    if (rest == "unsigned") {
      report_.signed_log = false;
    } else if (rest.starts_with(kSigned) && rest.size() == kSigned.size() + 64 &&
               IsLowerHex(rest.substr(kSigned.size()))) {
      std::array<uint8_t, kEd25519KeySize> raw{};
      if (!HexDecode(rest.substr(kSigned.size()), raw)) {
        Fail(AuditStatus::kTampered, -1, 0, "header: malformed public key");
        return false;
      }
      log_key_ = PublicKey::FromRaw(raw);
      report_.signed_log = true;
      report_.log_key_fingerprint = log_key_.Fingerprint();
    } else {
      Fail(AuditStatus::kTampered, -1, 0,
           "header: expected `unsigned` or `ed25519 <public key hex>` after the version");
      return false;
    }
    if (options_.key.has_value()) {
      if (!report_.signed_log) {
        Fail(AuditStatus::kTampered, -1, 0,
             "header: the log is unsigned but a key was given (were its signatures stripped?)");
        return false;
      }
      if (!(log_key_ == *options_.key)) {
        Fail(AuditStatus::kTampered, -1, 0,
             fmt::format("header: the log is signed by key {}, not by the given key {}",
                         log_key_.Fingerprint(), options_.key->Fingerprint()));
        return false;
      }
    }
    prev_ = Sha256Of(content_.substr(0, header_size));
    pos_ = header_size;
    report_.intact_bytes = static_cast<int64_t>(pos_);
    return true;
  }

  void ReadRecords() {
    const char* base = content_.data();
    const char* end = base + content_.size();
    char hex[64];
    while (pos_ < content_.size()) {
      if (sealed_) {
        Fail(AuditStatus::kTampered, seq_, pos_,
             fmt::format("record {} at byte offset {}: data after the seal", seq_, pos_));
        return;
      }
      const size_t offset = pos_;
      const char* p = base + offset;
      int64_t seq = 0;
      int64_t len = 0;
      if (!ParseDecimal(p, end, &seq) || p == end || *p++ != ' ') {
        return BadRecord(offset, "malformed sequence number");
      }
      LogRecordKind kind;
      size_t left = static_cast<size_t>(end - p);
      auto match = [&](std::string_view word) {
        if (left < word.size() || std::memcmp(p, word.data(), word.size()) != 0) return false;
        p += word.size();
        return true;
      };
      if (match("op ")) {
        kind = LogRecordKind::kOp;
      } else if (match("meta ")) {
        kind = LogRecordKind::kMeta;
      } else if (match("checkpoint ")) {
        kind = LogRecordKind::kCheckpoint;
      } else if (match("seal ")) {
        kind = LogRecordKind::kSeal;
      } else {
        return BadRecord(offset, "unknown record kind");
      }
      if (!ParseDecimal(p, end, &len) || p == end || *p++ != ' ') {
        return BadRecord(offset, "malformed payload length");
      }
      const char* payload = p;
      if (static_cast<size_t>(end - payload) < static_cast<size_t>(len) + 66 ||
          payload[len] != ' ' || payload[len + 65] != '\n') {
        return BadRecord(offset, "payload length does not match the line");
      }
      const char* hash_text = payload + len + 1;
      if (seq != seq_) {
        return BadRecord(offset, fmt::format("expected record {} here, found record {} (a record "
                                             "was deleted, inserted or moved)",
                                             seq_, seq));
      }
      size_t hashed = static_cast<size_t>(hash_text - (base + offset));
      Sha256Digest digest = ChainHash(prev_, std::string_view(base + offset, hashed));
      HexEncodeTo(digest, hex);
      if (std::memcmp(hex, hash_text, sizeof hex) != 0) {
        return BadRecord(offset,
                         "hash does not match the chain (the record or one before it was "
                         "edited, inserted or removed)");
      }
      std::string_view payload_view(payload, static_cast<size_t>(len));
      if (kind == LogRecordKind::kCheckpoint || kind == LogRecordKind::kSeal) {
        if (!CheckSigned(kind, payload_view, offset)) return;
      } else if (kind == LogRecordKind::kOp) {
        ++ops_;
      }
      if (visitor_) {
        visitor_(LogRecordView{.seq = seq,
                               .kind = kind,
                               .payload = payload_view,
                               .offset = static_cast<int64_t>(offset),
                               .line = seq + 2});
      }
      prev_ = digest;
      ++seq_;
      pos_ = static_cast<size_t>(hash_text + 65 - base);
      report_.intact_bytes = static_cast<int64_t>(pos_);
    }
  }

  // Checks a checkpoint or seal against the chain and, with a key, its signature.
  bool CheckSigned(LogRecordKind kind, std::string_view payload, size_t offset) {
    bool seal = kind == LogRecordKind::kSeal;
    std::string_view what = seal ? "seal" : "checkpoint";
    SignedFields f;
    if (!ParseSignedFields(payload, &f) || !f.has_seq || !f.has_head || f.has_ops != seal ||
        f.has_sig != report_.signed_log) {
      Fail(AuditStatus::kTampered, seq_, offset,
           fmt::format(
               "record {} at byte offset {}: malformed {}{}", seq_, offset, what,
               f.has_sig != report_.signed_log && f.has_seq
                   ? report_.signed_log ? " (signature missing)" : " (signature in an unsigned log)"
                   : ""));
      return false;
    }
    char prev_hex[64];
    HexEncodeTo(prev_, prev_hex);
    if (f.seq != seq_ - 1 || f.head != std::string_view(prev_hex, sizeof prev_hex)) {
      Fail(AuditStatus::kTampered, seq_, offset,
           fmt::format("record {} at byte offset {}: {} names record {} with head {}, but the "
                       "chain has record {} with head {}",
                       seq_, offset, what, f.seq, f.head, seq_ - 1,
                       std::string_view(prev_hex, sizeof prev_hex)));
      return false;
    }
    if (seal && f.ops != ops_) {
      Fail(AuditStatus::kTampered, seq_, offset,
           fmt::format("record {} at byte offset {}: seal counts {} ops, the log holds {}", seq_,
                       offset, f.ops, ops_));
      return false;
    }
    if (report_.signed_log) {
      Ed25519Signature sig{};
      if (!HexDecode(f.sig, sig)) {
        Fail(
            AuditStatus::kTampered, seq_, offset,
            fmt::format("record {} at byte offset {}: malformed {} signature", seq_, offset, what));
        return false;
      }
      if (options_.key.has_value()) {
        std::string message = seal ? fmt::format("{} {} seal {} {} {}", kLogMagic,
                                                 kLogFormatVersion, f.seq, f.ops, f.head)
                                   : fmt::format("{} {} checkpoint {} {}", kLogMagic,
                                                 kLogFormatVersion, f.seq, f.head);
        if (!options_.key->Verify(message, sig)) {
          Fail(AuditStatus::kTampered, seq_, offset,
               fmt::format("record {} at byte offset {}: {} signature does not verify with key {}",
                           seq_, offset, what, options_.key->Fingerprint()));
          return false;
        }
        ++report_.signatures_verified;
        report_.authenticated_seq = f.seq;
      }
    }
    if (seal) sealed_ = true;
    return true;
  }

  void Finish() {
    report_.records = seq_;
    report_.ops = ops_;
    report_.sealed = sealed_;
    if (report_.intact_bytes > 0 && seq_ > 0) report_.head = HexEncode(prev_);
    if (failed_ && report_.status != AuditStatus::kCrashPrefix) return;
    if (!failed_ && !sealed_) {
      Fail(AuditStatus::kCrashPrefix, seq_, pos_,
           fmt::format("crash prefix: {} records intact, no seal (the run did not finish)", seq_));
    }
    if (!options_.expected_head.empty()) {
      std::string expected = options_.expected_head;
      for (char& ch : expected)
        ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (report_.head.empty() || report_.head != expected) {
        std::string was = report_.status == AuditStatus::kCrashPrefix
                              ? fmt::format(" ({})", report_.message)
                              : "";
        int64_t last = seq_ > 0 ? seq_ - 1 : -1;
        Fail(AuditStatus::kTampered, last, last >= 0 ? last_offset() : 0,
             fmt::format("head {} is not the expected head {}{}",
                         report_.head.empty() ? "(none)" : report_.head, options_.expected_head,
                         was));
        return;
      }
    }
    std::string auth;
    if (!report_.signed_log) {
      auth = "unsigned log";
    } else if (options_.key.has_value()) {
      auth =
          report_.authenticated_seq >= 0
              ? fmt::format("signatures good ({} checked, key {}), authenticated up to record {}",
                            report_.signatures_verified, options_.key->Fingerprint(),
                            report_.authenticated_seq)
              : fmt::format("not authenticated: no signed checkpoint yet (key {})",
                            options_.key->Fingerprint());
    } else {
      auth = fmt::format("signatures not checked (signed by key {}; pass its public key)",
                         report_.log_key_fingerprint);
    }
    if (report_.status == AuditStatus::kCrashPrefix) {
      report_.message += "; " + auth;
      return;
    }
    report_.status = AuditStatus::kIntact;
    report_.message = fmt::format("chain intact, sealed: {} records, {} ops, head {}; {}", seq_,
                                  ops_, report_.head, auth);
  }

  // Offset of the last intact record's line: the start of the line that ends at intact_bytes.
  int64_t last_offset() const {
    if (report_.intact_bytes < 2) return 0;
    std::string_view prefix = content_.substr(0, static_cast<size_t>(report_.intact_bytes) - 1);
    size_t nl = prefix.rfind('\n');
    return nl == std::string_view::npos ? 0 : static_cast<int64_t>(nl + 1);
  }

  std::string_view content_;
  const VerifyOptions& options_;
  const RecordVisitor& visitor_;
  AuditReport report_;
  PublicKey log_key_;
  Sha256Digest prev_{};
  size_t pos_ = 0;
  int64_t seq_ = 0;
  int64_t ops_ = 0;
  bool sealed_ = false;
  bool failed_ = false;
};

}  // namespace

std::string_view AuditStatusName(AuditStatus status) {
  switch (status) {
    case AuditStatus::kIntact:
      return "intact";
    case AuditStatus::kTampered:
      return "tampered";
    case AuditStatus::kCrashPrefix:
      return "crash-prefix";
    case AuditStatus::kUnreadable:
      return "unreadable";
  }
  return "unknown";
}

int AuditExitCode(const AuditReport& report, bool allow_unauthenticated) {
  switch (report.status) {
    case AuditStatus::kIntact:
      if (report.signed_log && !report.signatures_checked && !allow_unauthenticated) {
        return kAuditExitUnauthenticated;
      }
      return kAuditExitIntact;
    case AuditStatus::kTampered:
      return kAuditExitTampered;
    case AuditStatus::kCrashPrefix:
      return kAuditExitCrashPrefix;
    case AuditStatus::kUnreadable:
      return kAuditExitUnreadable;
  }
  return kAuditExitUnreadable;
}

std::string AuditReportToJson(const AuditReport& report) {
  nlohmann::ordered_json j;
  j["status"] = AuditStatusName(report.status);
  j["authenticated"] = report.authenticated();
  j["message"] = report.message;
  j["first_bad_seq"] = report.first_bad_seq;
  j["first_bad_offset"] = report.first_bad_offset;
  j["records"] = report.records;
  j["ops"] = report.ops;
  j["intact_bytes"] = report.intact_bytes;
  j["head"] = report.head;
  j["signed"] = report.signed_log;
  j["key_fingerprint"] = report.log_key_fingerprint;
  j["signatures_checked"] = report.signatures_checked;
  j["signatures_verified"] = report.signatures_verified;
  j["authenticated_seq"] = report.authenticated_seq;
  j["sealed"] = report.sealed;
  // Messages quote log bytes, which need not be UTF-8: replace rather than throw.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

AuditReport VerifyLog(std::string_view content, const VerifyOptions& options,
                      const RecordVisitor& visitor) {
  return Verifier(content, options, visitor).Run();
}

AuditReport VerifyLogFile(const std::string& path, const VerifyOptions& options) {
  auto unreadable = [&](std::string why) {
    AuditReport r;
    r.status = AuditStatus::kUnreadable;
    r.first_bad_offset = 0;
    r.message = fmt::format("read {}: {}", path, why);
    return r;
  };
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return unreadable(std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    return unreadable(std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return unreadable("not a regular file");
  }
  size_t size = static_cast<size_t>(st.st_size);
  if (size == 0) {
    close(fd);
    AuditReport r = VerifyLog({}, options);
    r.message = fmt::format("{}: {}", path, r.message);
    return r;
  }
  void* map = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  int err = errno;
  close(fd);
  if (map == MAP_FAILED) return unreadable(std::strerror(err));
  (void)madvise(map, size, MADV_SEQUENTIAL);
  AuditReport r = VerifyLog(std::string_view(static_cast<const char*>(map), size), options);
  munmap(map, size);
  return r;
}

}  // namespace faultline::history
