#include "history/log.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <thread>
#include <utility>

#include "common/clock.h"
#include "fmt/core.h"
#include "history/audit.h"
#include "history/jsonl.h"
#include "nlohmann/json.hpp"

namespace faultline::history {
namespace {

constexpr std::string_view kIndexPrefix = "{\"index\":";
// While records keep arriving, the writer polls at this period instead of being woken by every
// Append, so that an Append costs a lock, a copy and an unlock.
constexpr int64_t kPollNs = 1'000'000;

// Writers into a buffer known to be large enough; each returns the end of what it wrote.
char* PutDecimal(char* p, int64_t v) { return std::to_chars(p, p + 20, v).ptr; }
char* Put(char* p, std::string_view s) {
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

Status CheckMeta(std::string_view json) {
  if (json.find_first_of("\r\n") != std::string_view::npos) {
    return MakeError(ErrorCode::kInvalidArgument, "log: meta record: contains a raw newline");
  }
  nlohmann::json parsed = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object() || !parsed.contains("faultline")) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        fmt::format("log: meta record: expected a JSON object {{\"faultline\":{{...}}}}, "
                    "got {}",
                    json.substr(0, 80)));
  }
  return OkStatus();
}

std::string ErrnoMessage(std::string_view what, const std::string& path, int err) {
  return fmt::format("log: {} {}: {}", what, path, std::strerror(err));
}

}  // namespace

std::string_view LogRecordKindName(LogRecordKind kind) {
  switch (kind) {
    case LogRecordKind::kMeta:
      return "meta";
    case LogRecordKind::kOp:
      return "op";
    case LogRecordKind::kCheckpoint:
      return "checkpoint";
    case LogRecordKind::kSeal:
      return "seal";
  }
  return "unknown";
}

std::string_view FsyncPolicyName(FsyncPolicy policy) {
  switch (policy) {
    case FsyncPolicy::kEveryRecord:
      return "every-record";
    case FsyncPolicy::kInterval:
      return "interval";
    case FsyncPolicy::kNever:
      return "never";
  }
  return "unknown";
}

int64_t MonotonicNowNs() { return MonotonicNow().count(); }

struct LogWriter::Impl {
  // A record queued by a caller: its payload is queue_bytes[offset, offset + size).
  struct Pending {
    size_t offset;
    size_t size;
    LogRecordKind kind;
    bool assign_index;
    int64_t time_ns;  // stamped at enqueue when the op had none, else -1
  };

  std::string path;
  LogOptions options;
  int fd = -1;
  int64_t start_ns = 0;

  // Shared between callers and the writer thread, guarded by mu.
  std::mutex mu;
  std::condition_variable writer_cv;  // wakes the writer
  std::condition_variable caller_cv;  // progress (durable, space, error) for waiting callers
  std::string queue_bytes;
  std::vector<Pending> queue;
  int64_t enqueued = 0;        // records enqueued by callers (tickets 1, 2, ...)
  int64_t synced = 0;          // tickets written and fsynced
  int64_t sync_requested = 0;  // a Sync waits for this ticket to be durable
  int waiting_callers = 0;     // callers blocked on caller_cv
  bool writer_idle = false;    // the writer waits for a notification
  bool closing = false;
  std::optional<Error> error;
  std::thread thread;
  bool joined = false;
  LogSummary summary;

  // Writer thread only.
  Sha256Digest prev{};
  int64_t seq = 0;
  int64_t ops = 0;
  int64_t checkpoints = 0;
  int64_t records_since_checkpoint = 0;
  int64_t last_checkpoint_ns = 0;
  int64_t last_sync_ns = 0;
  bool dirty = false;  // written but not fsynced
  std::string out;

  // Frames one record into out. An op payload without "index" (assign_index) gets "index":<ops>
  // as its first field, and one without "time" (time_ns >= 0) gets "time":<time_ns> after the
  // index.
  void Frame(LogRecordKind kind, std::string_view payload, bool assign_index = false,
             int64_t time_ns = -1) {
    // The fields to insert, if any, and where: after '{', or after an existing index field.
    char fragment[96];
    char* f = fragment;
    size_t at = 0;
    if (assign_index || time_ns >= 0) {
      at = 1;
      if (assign_index) {
        f = Put(f, kIndexPrefix.substr(1));
        f = PutDecimal(f, ops);
      } else {
        at = kIndexPrefix.size();
        while (at < payload.size() && payload[at] >= '0' && payload[at] <= '9') ++at;
        if (at < payload.size() && payload[at] == ',') {
          ++at;
        } else {
          *f++ = ',';
        }
      }
      if (time_ns >= 0) {
        if (assign_index) *f++ = ',';
        f = Put(f, "\"time\":");
        f = PutDecimal(f, time_ns);
      }
      if (at < payload.size() && payload[at] != '}') *f++ = ',';
    }
    const size_t fragment_size = static_cast<size_t>(f - fragment);
    const size_t payload_size = payload.size() + fragment_size;
    // Written in place: at most 20 + 1 + 10 + 1 + 20 + 1 bytes before the payload, and a space,
    // the hash and the LF after it.
    const size_t line_start = out.size();
    out.resize(line_start + 53 + payload_size + 2 + 2 * kSha256Size);
    char* p = out.data() + line_start;
    p = PutDecimal(p, seq);
    *p++ = ' ';
    p = Put(p, LogRecordKindName(kind));
    *p++ = ' ';
    p = PutDecimal(p, static_cast<int64_t>(payload_size));
    *p++ = ' ';
    p = Put(p, payload.substr(0, at));
    p = Put(p, std::string_view(fragment, fragment_size));
    p = Put(p, payload.substr(at));
    *p++ = ' ';
    const size_t hashed = static_cast<size_t>(p - (out.data() + line_start));
    prev = ChainHash(prev, std::string_view(out.data() + line_start, hashed));
    HexEncodeTo(prev, p);
    p += 2 * kSha256Size;
    *p++ = '\n';
    out.resize(static_cast<size_t>(p - out.data()));
    ++seq;
    ++records_since_checkpoint;
    if (kind == LogRecordKind::kOp) ++ops;
  }

  std::string HeadHex() const { return HexEncode(prev); }

  Status Checkpoint(int64_t now_ns) {
    std::string head = HeadHex();
    int64_t covered = seq - 1;
    FAULTLINE_ASSIGN_OR_RETURN(Ed25519Signature sig, options.signing_key->Sign(fmt::format(
                                                         "{} {} checkpoint {} {}", kLogMagic,
                                                         kLogFormatVersion, covered, head)));
    std::string payload =
        fmt::format(R"({{"seq":{},"head":"{}","sig":"{}"}})", covered, head, HexEncode(sig));
    Frame(LogRecordKind::kCheckpoint, payload);
    records_since_checkpoint = 0;
    last_checkpoint_ns = now_ns;
    ++checkpoints;
    return OkStatus();
  }

  Status Seal() {
    std::string head = HeadHex();
    int64_t covered = seq - 1;
    std::string payload;
    if (options.signing_key.has_value()) {
      FAULTLINE_ASSIGN_OR_RETURN(Ed25519Signature sig, options.signing_key->Sign(fmt::format(
                                                           "{} {} seal {} {} {}", kLogMagic,
                                                           kLogFormatVersion, covered, ops, head)));
      payload = fmt::format(R"({{"seq":{},"ops":{},"head":"{}","sig":"{}"}})", covered, ops, head,
                            HexEncode(sig));
    } else {
      payload = fmt::format(R"({{"seq":{},"ops":{},"head":"{}"}})", covered, ops, head);
    }
    Frame(LogRecordKind::kSeal, payload);
    return OkStatus();
  }

  Status WriteOut() {
    size_t done = 0;
    while (done < out.size()) {
      ssize_t n = write(fd, out.data() + done, out.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        return MakeError(ErrorCode::kUnavailable, ErrnoMessage("write", path, errno));
      }
      done += static_cast<size_t>(n);
    }
    out.clear();
    dirty = true;
    return OkStatus();
  }

  Status SyncFile(int64_t now_ns) {
    if (!dirty) return OkStatus();
    if (fdatasync(fd) != 0) {
      return MakeError(ErrorCode::kUnavailable, ErrnoMessage("fsync", path, errno));
    }
    dirty = false;
    last_sync_ns = now_ns;
    return OkStatus();
  }

  bool signing() const { return options.signing_key.has_value(); }

  // The next time the writer must act without new records: an interval fsync or a checkpoint.
  int64_t NextDeadline(int64_t now_ns) const {
    int64_t deadline = INT64_MAX;
    if (dirty && options.fsync == FsyncPolicy::kInterval) {
      deadline = std::min(deadline, last_sync_ns + options.fsync_interval.count() * 1'000'000);
    }
    if (signing() && records_since_checkpoint > 0) {
      deadline =
          std::min(deadline, last_checkpoint_ns + options.checkpoint_interval.count() * 1'000'000);
    }
    if (options.fsync != FsyncPolicy::kEveryRecord && !writer_idle) {
      deadline = std::min(deadline, now_ns + kPollNs);
    }
    return deadline;
  }

  void Fail(Error e) {
    std::lock_guard<std::mutex> lk(mu);
    if (!error.has_value()) error = std::move(e);
    caller_cv.notify_all();
  }

  void Run() {
    std::string batch_bytes;
    std::vector<Pending> batch;
    for (;;) {
      bool closing_now = false;
      bool sync_now = false;
      int64_t batch_end = 0;
      {
        std::unique_lock<std::mutex> lk(mu);
        bool idle_poll = false;
        for (;;) {
          if (!queue.empty() || closing || sync_requested > synced) break;
          int64_t now = MonotonicNowNs();
          int64_t deadline = NextDeadline(now);
          if (deadline <= now) break;
          if (idle_poll && options.fsync != FsyncPolicy::kEveryRecord) {
            // A whole poll period passed with nothing to do: sleep until woken.
            writer_idle = true;
            deadline = NextDeadline(now);
            if (deadline <= now) break;
          }
          if (options.fsync == FsyncPolicy::kEveryRecord) writer_idle = true;
          if (deadline == INT64_MAX) {
            writer_cv.wait(lk);
          } else {
            writer_cv.wait_for(lk, std::chrono::nanoseconds(deadline - now));
          }
          writer_idle = false;
          idle_poll = queue.empty();
        }
        writer_idle = false;
        batch_bytes.swap(queue_bytes);
        batch.swap(queue);
        queue_bytes.clear();
        queue.clear();
        batch_end = enqueued;
        closing_now = closing;
        sync_now = sync_requested > synced;
        if (waiting_callers > 0) caller_cv.notify_all();
      }
      Status s = OkStatus();
      for (const Pending& p : batch) {
        Frame(p.kind, std::string_view(batch_bytes).substr(p.offset, p.size), p.assign_index,
              p.time_ns);
        if (signing() && records_since_checkpoint >= options.checkpoint_every_records) {
          s = Checkpoint(MonotonicNowNs());
          if (!s) break;
        }
        // Keep the write buffer small enough to stay in cache.
        if (out.size() >= (size_t{1} << 20)) {
          s = WriteOut();
          if (!s) break;
        }
      }
      int64_t now = MonotonicNowNs();
      if (s && signing() && records_since_checkpoint > 0 &&
          now - last_checkpoint_ns >= options.checkpoint_interval.count() * 1'000'000) {
        s = Checkpoint(now);
      }
      if (s && closing_now) s = Seal();
      if (s) s = WriteOut();
      if (s && (closing_now || sync_now || options.fsync == FsyncPolicy::kEveryRecord ||
                (options.fsync == FsyncPolicy::kInterval &&
                 now - last_sync_ns >= options.fsync_interval.count() * 1'000'000))) {
        s = SyncFile(now);
      }
      if (!s) {
        Fail(std::move(s).error());
        return;
      }
      {
        std::lock_guard<std::mutex> lk(mu);
        if (!dirty) synced = batch_end;
        if (waiting_callers > 0) caller_cv.notify_all();
      }
      if (closing_now) return;
    }
  }

  Status Enqueue(LogRecordKind kind, std::string_view payload, bool assign_index,
                 bool assign_time) {
    if (payload.empty() || payload.front() != '{' ||
        std::memchr(payload.data(), '\n', payload.size()) != nullptr) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("log {}: append: a record is one JSON object without raw "
                                   "newlines, got {}",
                                   path, payload.substr(0, 80)));
    }
    std::unique_lock<std::mutex> lk(mu);
    if (error.has_value()) return *error;
    if (closing) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("log {}: append after Close", path));
    }
    if (queue_bytes.size() >= options.max_queued_bytes) {
      ++waiting_callers;
      writer_cv.notify_one();
      caller_cv.wait(
          lk, [&] { return queue_bytes.size() < options.max_queued_bytes || error.has_value(); });
      --waiting_callers;
      if (error.has_value()) return *error;
    }
    queue.push_back(Pending{.offset = queue_bytes.size(),
                            .size = payload.size(),
                            .kind = kind,
                            .assign_index = assign_index,
                            .time_ns = assign_time ? MonotonicNowNs() - start_ns : -1});
    queue_bytes.append(payload);
    int64_t ticket = ++enqueued;
    bool wake = writer_idle;
    writer_idle = false;
    if (options.fsync != FsyncPolicy::kEveryRecord) {
      lk.unlock();
      if (wake) writer_cv.notify_one();
      return OkStatus();
    }
    if (wake) writer_cv.notify_one();
    ++waiting_callers;
    caller_cv.wait(lk, [&] { return synced >= ticket || error.has_value(); });
    --waiting_callers;
    if (synced < ticket) return *error;
    return OkStatus();
  }
};

LogWriter::LogWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

LogWriter::~LogWriter() {
  if (impl_ != nullptr && !impl_->joined) (void)Close();
}

Result<std::unique_ptr<LogWriter>> LogWriter::Create(const std::string& path, LogOptions options) {
  std::string meta = options.meta.empty() ? std::string(R"({"faultline":{}})") : options.meta;
  FAULTLINE_RETURN_IF_ERROR(CheckMeta(meta));
  if (options.checkpoint_every_records < 1) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "log: checkpoint_every_records must be at least 1");
  }
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    int err = errno;
    if (err == EEXIST) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("log: create {}: file exists (a log is append-only and never "
                                   "rewritten; choose a new path)",
                                   path));
    }
    return MakeError(err == EACCES   ? ErrorCode::kPermissionDenied
                     : err == ENOENT ? ErrorCode::kNotFound
                                     : ErrorCode::kInvalidArgument,
                     ErrnoMessage("create", path, err));
  }
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->fd = fd;
  impl->options = std::move(options);
  impl->start_ns = MonotonicNowNs();
  impl->last_checkpoint_ns = impl->start_ns;
  impl->last_sync_ns = impl->start_ns;
  std::string header = impl->signing()
                           ? fmt::format("{} {} ed25519 {}\n", kLogMagic, kLogFormatVersion,
                                         impl->options.signing_key->public_key().Hex())
                           : fmt::format("{} {} unsigned\n", kLogMagic, kLogFormatVersion);
  impl->prev = Sha256Of(header);
  impl->out = header;
  impl->Frame(LogRecordKind::kMeta, meta);
  Status s = impl->WriteOut();
  if (s && impl->options.fsync != FsyncPolicy::kNever) {
    s = impl->SyncFile(impl->start_ns);
    // The new directory entry must survive a crash too. Best effort: some file systems refuse
    // fsync on a directory.
    std::string dir = std::filesystem::path(path).parent_path().string();
    int dir_fd = open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd >= 0) {
      (void)fsync(dir_fd);
      close(dir_fd);
    }
  }
  if (!s) {
    close(fd);
    return std::move(s).error();
  }
  Impl* raw = impl.get();
  raw->thread = std::thread([raw] {
    // Named so that top and perf show the log's writer apart from the callers.
    pthread_setname_np(pthread_self(), "faultline-log");
    raw->Run();
  });
  return std::unique_ptr<LogWriter>(new LogWriter(std::move(impl)));
}

Status LogWriter::Append(const Op& op) {
  thread_local std::string scratch;
  scratch.clear();
  AppendJsonOp(scratch, op);
  return impl_->Enqueue(LogRecordKind::kOp, scratch, op.index < 0, op.time_ns < 0);
}

Status LogWriter::AppendOpJson(std::string_view json) {
  bool has_index = json.starts_with(kIndexPrefix);
  size_t at = 1;
  if (has_index) {
    at = kIndexPrefix.size();
    while (at < json.size() && json[at] >= '0' && json[at] <= '9') ++at;
    ++at;  // the comma
  }
  bool has_time = at <= json.size() && json.substr(at).starts_with("\"time\":");
  return impl_->Enqueue(LogRecordKind::kOp, json, !has_index, !has_time);
}

Status LogWriter::AppendMeta(std::string_view json) {
  FAULTLINE_RETURN_IF_ERROR(CheckMeta(json));
  return impl_->Enqueue(LogRecordKind::kMeta, json, false, false);
}

Status LogWriter::Sync() {
  Impl& m = *impl_;
  std::unique_lock<std::mutex> lk(m.mu);
  if (m.error.has_value()) return *m.error;
  int64_t target = m.enqueued;
  m.sync_requested = std::max(m.sync_requested, target);
  m.writer_idle = false;
  m.writer_cv.notify_one();
  ++m.waiting_callers;
  m.caller_cv.wait(lk, [&] { return m.synced >= target || m.error.has_value(); });
  --m.waiting_callers;
  if (m.error.has_value()) return *m.error;
  return OkStatus();
}

Result<LogSummary> LogWriter::Close() {
  Impl& m = *impl_;
  if (m.joined) {
    return MakeError(ErrorCode::kInvalidArgument, fmt::format("log {}: closed twice", m.path));
  }
  {
    std::lock_guard<std::mutex> lk(m.mu);
    m.closing = true;
    m.writer_idle = false;
  }
  m.writer_cv.notify_one();
  m.thread.join();
  m.joined = true;
  int rc = close(m.fd);
  int err = errno;
  m.fd = -1;
  if (m.error.has_value()) return *m.error;
  if (rc != 0) return MakeError(ErrorCode::kUnavailable, ErrnoMessage("close", m.path, err));
  return LogSummary{
      .records = m.seq, .ops = m.ops, .head = m.HeadHex(), .checkpoints = m.checkpoints};
}

const std::string& LogWriter::path() const { return impl_->path; }

int64_t LogWriter::start_ns() const { return impl_->start_ns; }

Result<LogSummary> WriteHistoryLog(const std::string& path, const History& history,
                                   const std::vector<std::string>& metadata, LogOptions options) {
  if (!metadata.empty()) options.meta = metadata.front();
  FAULTLINE_ASSIGN_OR_RETURN(std::unique_ptr<LogWriter> writer,
                             LogWriter::Create(path, std::move(options)));
  for (size_t i = 1; i < metadata.size(); ++i) {
    FAULTLINE_RETURN_IF_ERROR(writer->AppendMeta(metadata[i]));
  }
  std::string json;
  for (const Op& op : history.ops()) {
    json.clear();
    AppendJsonOp(json, op);
    FAULTLINE_RETURN_IF_ERROR(writer->AppendOpJson(json));
  }
  return writer->Close();
}

namespace {

struct CollectedRecord {
  LogRecordKind kind;
  std::string_view payload;
  int64_t line;
};

// Verifies the chain and collects the meta and op records of the intact prefix.
Result<std::vector<CollectedRecord>> CollectIntact(std::string_view content,
                                                   std::string_view source, std::string* note) {
  std::vector<CollectedRecord> records;
  AuditReport report = VerifyLog(content, {}, [&](const LogRecordView& r) {
    if (r.kind == LogRecordKind::kOp || r.kind == LogRecordKind::kMeta) {
      records.push_back(CollectedRecord{.kind = r.kind, .payload = r.payload, .line = r.line});
    }
  });
  switch (report.status) {
    case AuditStatus::kIntact:
      break;
    case AuditStatus::kCrashPrefix:
      if (note != nullptr) *note = report.message;
      break;
    case AuditStatus::kTampered:
    case AuditStatus::kUnreadable:
      return MakeError(
          ErrorCode::kInvalidArgument,
          fmt::format("{}: {} log: {}", source, AuditStatusName(report.status), report.message));
  }
  return records;
}

}  // namespace

Status ForEachLogOp(std::string_view content, std::string_view source, std::string* note,
                    std::vector<std::string>* meta, const OpSink& sink) {
  FAULTLINE_ASSIGN_OR_RETURN(std::vector<CollectedRecord> records,
                             CollectIntact(content, source, note));
  for (const CollectedRecord& r : records) {
    if (r.kind == LogRecordKind::kMeta && meta != nullptr) {
      // Checked when written (CheckMeta) and covered by the chain: an object with "faultline".
      nlohmann::json parsed = nlohmann::json::parse(r.payload, nullptr, /*allow_exceptions=*/false);
      if (parsed.is_object() && parsed.contains("faultline")) {
        meta->push_back(parsed["faultline"].dump());
      }
    }
    if (r.kind != LogRecordKind::kOp) continue;
    Result<Op> op = ParseJsonOp(r.payload);
    if (!op) {
      return MakeError(op.error().code(),
                       fmt::format("{}: line {}: {}", source, r.line, op.error().message()));
    }
    FAULTLINE_RETURN_IF_ERROR(sink(std::move(op).value(), r.line, r.payload.data()));
  }
  return OkStatus();
}

Result<History> ReadLogHistory(std::string_view content, std::string_view source, std::string* note,
                               std::vector<std::string>* meta) {
  std::vector<Op> ops;
  Source src{.name = std::string(source), .lines = {}};
  FAULTLINE_RETURN_IF_ERROR(
      ForEachLogOp(content, source, note, meta, [&](Op&& op, int64_t line, const char*) -> Status {
        ops.push_back(std::move(op));
        src.lines.push_back(line);
        return OkStatus();
      }));
  return History::Build(std::move(ops), src);
}

Result<std::string> ExportJsonl(std::string_view content, std::string_view source,
                                std::string* note) {
  FAULTLINE_ASSIGN_OR_RETURN(std::vector<CollectedRecord> records,
                             CollectIntact(content, source, note));
  std::string out;
  for (const CollectedRecord& r : records) {
    out.append(r.payload);
    out.push_back('\n');
  }
  return out;
}

}  // namespace faultline::history
