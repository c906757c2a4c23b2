#include "nemesis/corrupt.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>
#include <set>

#include "common/fd.h"

namespace faultline::nemesis {
namespace {

Error Errno(int err, const std::string& what) {
  ErrorCode code = ErrorCode::kInternal;
  if (err == EPERM || err == EACCES) code = ErrorCode::kPermissionDenied;
  if (err == ENOENT) code = ErrorCode::kNotFound;
  return Error(code, what + ": " + std::strerror(err));
}

Result<std::string> ReadAll(int fd, std::int64_t size) {
  std::string data(static_cast<size_t>(size), '\0');
  std::int64_t off = 0;
  while (off < size) {
    ssize_t n = pread(fd, data.data() + off, static_cast<size_t>(size - off), off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Errno(n < 0 ? errno : EIO, "read");
    off += n;
  }
  return data;
}

Status WriteAll(int fd, const std::string& data, std::int64_t off) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n =
        pwrite(fd, data.data() + done, data.size() - done, off + static_cast<std::int64_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno(errno, "write");
    done += static_cast<size_t>(n);
  }
  return OkStatus();
}

Result<CorruptedFile> CorruptOne(const std::string& path, const CorruptSpec& spec,
                                 std::mt19937_64& rng) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (fd.get() < 0) return Errno(errno, "corrupt: open " + path);
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return Errno(errno, "corrupt: stat " + path);
  CorruptedFile f;
  f.path = path;
  f.size_before = st.st_size;
  f.size_after = st.st_size;
  std::int64_t size = st.st_size;
  if (spec.mode == CorruptMode::kTruncate) {
    std::int64_t to = spec.offset >= 0 ? std::min(spec.offset, size)
                                       : std::max<std::int64_t>(0, size + spec.offset);
    if (ftruncate(fd.get(), to) != 0) return Errno(errno, "corrupt: truncate " + path);
    f.size_after = to;
    f.bytes_altered = size - to;
    f.detail = fmt::format("cut {} -> {} bytes", size, to);
  } else if (size == 0) {
    f.detail = "empty file: nothing to alter";
  } else {
    auto before = ReadAll(fd.get(), size);
    if (!before) return before.error().WithContext("corrupt: " + path);
    std::string after = *before;
    if (spec.mode == CorruptMode::kBitFlip) {
      std::int64_t bits = std::min<std::int64_t>(std::max<std::int64_t>(spec.count, 1), size);
      std::set<std::int64_t> offsets;
      std::uniform_int_distribution<std::int64_t> pick(0, size - 1);
      while (static_cast<std::int64_t>(offsets.size()) < bits) offsets.insert(pick(rng));
      std::string at;
      for (std::int64_t o : offsets) {
        after[static_cast<size_t>(o)] ^= static_cast<char>(1u << (rng() % 8));
        if (at.size() < 80) at.append(at.empty() ? "" : ",").append(std::to_string(o));
      }
      f.detail =
          fmt::format("flipped {} bit(s) at byte {}{}", bits, at, at.size() >= 80 ? ",..." : "");
    } else {
      std::int64_t from = std::clamp<std::int64_t>(spec.offset, 0, size);
      std::int64_t len = spec.count <= 0 ? size - from : std::min(spec.count, size - from);
      for (std::int64_t i = from; i < from + len; ++i) {
        after[static_cast<size_t>(i)] = static_cast<char>(rng() & 0xff);
      }
      f.detail = fmt::format("overwrote bytes [{}, {}) with random data", from, from + len);
    }
    for (size_t i = 0; i < after.size(); ++i) f.bytes_altered += after[i] != (*before)[i];
    FAULTLINE_RETURN_IF_ERROR(WriteAll(fd.get(), after, 0));
  }
  if (fsync(fd.get()) != 0) return Errno(errno, "corrupt: fsync " + path);
  return f;
}

}  // namespace

std::string_view CorruptModeName(CorruptMode mode) {
  switch (mode) {
    case CorruptMode::kBitFlip:
      return "bitflip";
    case CorruptMode::kOverwrite:
      return "overwrite";
    case CorruptMode::kTruncate:
      return "truncate";
  }
  return "unknown";
}

Result<CorruptMode> ParseCorruptMode(std::string_view name) {
  for (CorruptMode m : {CorruptMode::kBitFlip, CorruptMode::kOverwrite, CorruptMode::kTruncate}) {
    if (CorruptModeName(m) == name) return m;
  }
  return Error(
      ErrorCode::kInvalidArgument,
      fmt::format("corrupt: mode \"{}\": unknown (use bitflip, overwrite or truncate)", name));
}

std::string CorruptReport::Describe() const {
  std::string out = fmt::format("{}: {} file(s), {} byte(s) altered", CorruptModeName(mode),
                                files.size(), bytes_altered);
  for (const CorruptedFile& f : files) {
    out += fmt::format("; {} ({} bytes altered: {})", f.path, f.bytes_altered, f.detail);
  }
  return out;
}

Result<CorruptReport> Corrupt(const CorruptSpec& spec) {
  CorruptReport report;
  report.mode = spec.mode;
  std::set<std::string> paths;
  for (const std::string& pattern : spec.patterns) {
    std::string full = spec.directory + "/" + pattern;
    glob_t g{};
    int rc = glob(full.c_str(), 0, nullptr, &g);
    size_t before = paths.size();
    if (rc == 0) {
      for (size_t i = 0; i < g.gl_pathc; ++i) {
        struct stat st;
        if (::stat(g.gl_pathv[i], &st) == 0 && S_ISREG(st.st_mode)) paths.insert(g.gl_pathv[i]);
      }
    }
    globfree(&g);
    if (paths.size() == before) report.unmatched.push_back(pattern);
  }
  if (paths.empty()) {
    std::string pats;
    for (const std::string& p : spec.patterns) pats.append(pats.empty() ? "" : ", ").append(p);
    return Error(ErrorCode::kNotFound,
                 fmt::format("corrupt: {} in {}: no file matched (is the snapshot count low "
                             "enough for snapshot files to exist?)",
                             pats, spec.directory));
  }
  std::mt19937_64 rng(spec.seed);
  int n = 0;
  for (const std::string& p : paths) {
    if (spec.max_files > 0 && n >= spec.max_files) break;
    ++n;
    FAULTLINE_ASSIGN_OR_RETURN(CorruptedFile f, CorruptOne(p, spec, rng));
    report.bytes_altered += f.bytes_altered;
    report.files.push_back(std::move(f));
  }
  return report;
}

}  // namespace faultline::nemesis
