#include "nemesis/internal/undo_log.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <random>

namespace faultline::nemesis::internal {
namespace {

Result<std::int64_t> SizeOf(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return ErrnoError(errno, "undo log: fstat");
  return static_cast<std::int64_t>(st.st_size);
}

Status ReadAll(int fd, std::string& out, std::int64_t offset) {
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::pread(fd, out.data() + done, out.size() - done,
                              static_cast<off_t>(offset + static_cast<std::int64_t>(done)));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError(errno, "undo log: pread");
    if (n == 0) {
      out.resize(done);  // the file is shorter than its size said (a concurrent truncate)
      break;
    }
    done += static_cast<size_t>(n);
  }
  return OkStatus();
}

Status WriteAll(int fd, const char* data, size_t size, std::int64_t offset) {
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::pwrite(fd, data + done, size - done,
                               static_cast<off_t>(offset + static_cast<std::int64_t>(done)));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError(errno, "undo log: pwrite");
    done += static_cast<size_t>(n);
  }
  return OkStatus();
}

}  // namespace

std::size_t UndoLog::Pending(ino_t ino) const {
  auto it = files_.find(ino);
  return it == files_.end() ? 0 : it->second.records.size();
}

void UndoLog::Synced(ino_t ino, std::size_t changes) {
  auto it = files_.find(ino);
  if (it == files_.end()) return;
  std::vector<Record>& r = it->second.records;
  if (changes >= r.size()) {
    files_.erase(it);
    return;
  }
  r.erase(r.begin(), r.begin() + static_cast<std::ptrdiff_t>(changes));
}

Result<UndoLog::File*> UndoLog::Track(ino_t ino, int fd) {
  auto it = files_.find(ino);
  if (it != files_.end()) return &it->second;
  UniqueFd dup(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
  if (!dup.valid()) return ErrnoError(errno, "undo log: dup");
  File& f = files_[ino];
  f.fd = std::move(dup);
  return &f;
}

Status UndoLog::BeforeWrite(ino_t ino, int fd, std::int64_t offset, const char* data,
                            std::int64_t length) {
  FAULTLINE_ASSIGN_OR_RETURN(File * f, Track(ino, fd));
  FAULTLINE_ASSIGN_OR_RETURN(std::int64_t size, SizeOf(fd));
  Record r{.offset = offset, .length = length, .old_size = size, .old_bytes = {}};
  const std::int64_t overlap = std::max<std::int64_t>(0, std::min(offset + length, size) - offset);
  r.old_bytes.resize(static_cast<size_t>(overlap));
  FAULTLINE_RETURN_IF_ERROR(ReadAll(fd, r.old_bytes, offset));
  f->records.push_back(std::move(r));
  f->last_data.assign(data, static_cast<size_t>(length));
  return OkStatus();
}

Status UndoLog::BeforeResize(ino_t ino, int fd, std::int64_t new_size) {
  FAULTLINE_ASSIGN_OR_RETURN(File * f, Track(ino, fd));
  FAULTLINE_ASSIGN_OR_RETURN(std::int64_t size, SizeOf(fd));
  Record r{.offset = new_size, .length = 0, .old_size = size, .old_bytes = {}};
  if (new_size < size) {
    r.old_bytes.resize(static_cast<size_t>(size - new_size));
    FAULTLINE_RETURN_IF_ERROR(ReadAll(fd, r.old_bytes, new_size));
  }
  f->records.push_back(std::move(r));
  return OkStatus();
}

Result<DropCounts> UndoLog::Drop(std::uint64_t torn_seed) {
  DropCounts counts;
  std::optional<Error> first;
  std::mt19937_64 rng(torn_seed);
  for (auto& [ino, f] : files_) {
    if (f.records.empty()) continue;
    ++counts.files;
    const int fd = f.fd.get();
    for (auto it = f.records.rbegin(); it != f.records.rend(); ++it) {
      if (it->length > 0) {
        ++counts.writes;
        counts.bytes += it->length;
      }
      Status st = WriteAll(fd, it->old_bytes.data(), it->old_bytes.size(), it->offset);
      if (st && ::ftruncate(fd, static_cast<off_t>(it->old_size)) != 0) {
        st = ErrnoError(errno, "undo log: ftruncate");
      }
      if (!st && !first) first = st.error().WithContext(fmt::format("inode {}", ino));
    }
    // The last write, torn: a prefix of it reached the disk.
    const Record* last = nullptr;
    for (auto it = f.records.rbegin(); it != f.records.rend(); ++it) {
      if (it->length > 0) {
        last = &*it;
        break;
      }
    }
    if (torn_seed != 0 && last != nullptr && last == &f.records.back() && f.last_data.size() > 1) {
      const size_t keep = 1 + static_cast<size_t>(rng() % (f.last_data.size() - 1));
      Status st = WriteAll(fd, f.last_data.data(), keep, last->offset);
      if (st) counts.torn_bytes += static_cast<std::int64_t>(keep);
      if (!st && !first) first = st.error().WithContext(fmt::format("inode {}", ino));
    }
  }
  files_.clear();
  if (first) return *first;
  return counts;
}

std::int64_t UndoLog::unsynced_writes() const {
  std::int64_t n = 0;
  for (const auto& [ino, f] : files_) {
    for (const Record& r : f.records) n += r.length > 0 ? 1 : 0;
  }
  return n;
}

std::int64_t UndoLog::unsynced_bytes() const {
  std::int64_t n = 0;
  for (const auto& [ino, f] : files_) {
    for (const Record& r : f.records) n += r.length;
  }
  return n;
}

std::int64_t UndoLog::held_bytes() const {
  std::int64_t n = 0;
  for (const auto& [ino, f] : files_) {
    for (const Record& r : f.records) n += static_cast<std::int64_t>(r.old_bytes.size());
    n += static_cast<std::int64_t>(f.last_data.size());
  }
  return n;
}

}  // namespace faultline::nemesis::internal
