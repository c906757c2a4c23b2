#include "nemesis/corrupt.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "common/base64.h"
#include "common/fd.h"
#include "common/file.h"

namespace faultline::nemesis {
namespace {

using Json = nlohmann::json;

Error Errno(int err, const std::string& what) {
  ErrorCode code = ErrorCode::kInternal;
  if (err == EPERM || err == EACCES) code = ErrorCode::kPermissionDenied;
  if (err == ENOENT) code = ErrorCode::kNotFound;
  return Error(code, what + ": " + std::strerror(err));
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

// Reads up to `len` bytes at `off`; fewer at the end of the file.
Result<std::string> ReadAt(int fd, std::int64_t off, size_t len) {
  std::string out(len, '\0');
  size_t done = 0;
  while (done < len) {
    const ssize_t n = pread(fd, out.data() + done, len - done, off + static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno(errno, "read");
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  out.resize(done);
  return out;
}

// Reads `path` (open as `fd`) and draws its damage from `rng`, writing nothing: the ranges to
// write, or the cut of a truncation.
Result<CorruptedFile> PlanOne(int fd, const std::string& path, const CorruptSpec& spec,
                              std::mt19937_64& rng) {
  struct stat st;
  if (fstat(fd, &st) != 0) return Errno(errno, "corrupt: stat " + path);
  CorruptedFile f;
  f.path = path;
  f.size_before = st.st_size;
  f.size_after = st.st_size;
  const std::int64_t size = st.st_size;
  if (spec.mode == CorruptMode::kTruncate) {
    const std::int64_t to = spec.offset >= 0 ? std::min(spec.offset, size)
                                             : std::max<std::int64_t>(0, size + spec.offset);
    auto tail = ReadAt(fd, to, static_cast<size_t>(size - to));
    if (!tail) return tail.error().WithContext("corrupt: " + path);
    f.size_after = to;
    f.bytes_altered = size - to;
    f.detail = fmt::format("cut {} -> {} bytes", size, to);
    if (to < size) f.ranges.push_back({.offset = to, .original = std::move(*tail), .damaged = ""});
    return f;
  }
  if (size == 0) {
    f.detail = "empty file: nothing to alter";
    return f;
  }
  auto before = ReadAt(fd, 0, static_cast<size_t>(size));
  if (!before) return before.error().WithContext("corrupt: " + path);
  if (spec.mode == CorruptMode::kBitFlip) {
    const std::int64_t bits = std::min<std::int64_t>(std::max<std::int64_t>(spec.count, 1), size);
    std::set<std::int64_t> offsets;
    std::uniform_int_distribution<std::int64_t> pick(0, size - 1);
    while (static_cast<std::int64_t>(offsets.size()) < bits) offsets.insert(pick(rng));
    std::string at;
    for (std::int64_t o : offsets) {
      const char was = (*before)[static_cast<size_t>(o)];
      const char now = static_cast<char>(was ^ static_cast<char>(1u << (rng() % 8)));
      f.ranges.push_back({.offset = o, .original = std::string(1, was), .damaged = {now}});
      if (at.size() < 80) at.append(at.empty() ? "" : ",").append(std::to_string(o));
    }
    f.detail =
        fmt::format("flipped {} bit(s) at byte {}{}", bits, at, at.size() >= 80 ? ",..." : "");
  } else {
    const std::int64_t from = std::clamp<std::int64_t>(spec.offset, 0, size);
    const std::int64_t len = spec.count <= 0 ? size - from : std::min(spec.count, size - from);
    CorruptedRange r{.offset = from, .original = before->substr(from, len), .damaged = {}};
    r.damaged.resize(static_cast<size_t>(len));
    for (char& c : r.damaged) c = static_cast<char>(rng() & 0xff);
    f.detail = fmt::format("overwrote bytes [{}, {}) with random data", from, from + len);
    if (len > 0) f.ranges.push_back(std::move(r));
  }
  for (const CorruptedRange& r : f.ranges) {
    for (size_t i = 0; i < r.damaged.size(); ++i) f.bytes_altered += r.damaged[i] != r.original[i];
  }
  return f;
}

// Writes the planned damage of one file and fsyncs it.
Status Damage(int fd, const CorruptedFile& f) {
  if (f.size_after < f.size_before && ftruncate(fd, f.size_after) != 0) {
    return Errno(errno, "corrupt: truncate " + f.path);
  }
  for (const CorruptedRange& r : f.ranges) {
    if (r.damaged.empty()) continue;
    if (Status s = WriteAll(fd, r.damaged, r.offset); !s) {
      return std::move(s).error().WithContext("corrupt: " + f.path);
    }
  }
  if (fsync(fd) != 0) return Errno(errno, "corrupt: fsync " + f.path);
  return OkStatus();
}

// The regular files the spec's patterns match, sorted, at most max_files; NotFound for none.
Result<std::vector<std::string>> MatchFiles(const CorruptSpec& spec,
                                            std::vector<std::string>& unmatched) {
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
    if (paths.size() == before) unmatched.push_back(pattern);
  }
  if (paths.empty()) {
    std::string pats;
    for (const std::string& p : spec.patterns) pats.append(pats.empty() ? "" : ", ").append(p);
    return Error(ErrorCode::kNotFound,
                 fmt::format("corrupt: {} in {}: no file matched (is the snapshot count low "
                             "enough for snapshot files to exist?)",
                             pats, spec.directory));
  }
  std::vector<std::string> out(paths.begin(), paths.end());
  if (spec.max_files > 0 && out.size() > static_cast<size_t>(spec.max_files)) {
    out.resize(static_cast<size_t>(spec.max_files));
  }
  return out;
}

struct Planned {
  CorruptReport report;
  std::vector<UniqueFd> fds;  // one per report.files entry, open for writing
};

Result<Planned> Plan(const CorruptSpec& spec) {
  Planned p;
  p.report.mode = spec.mode;
  FAULTLINE_ASSIGN_OR_RETURN(std::vector<std::string> paths, MatchFiles(spec, p.report.unmatched));
  std::mt19937_64 rng(spec.seed);
  for (const std::string& path : paths) {
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
    if (fd.get() < 0) return Errno(errno, "corrupt: open " + path);
    FAULTLINE_ASSIGN_OR_RETURN(CorruptedFile f, PlanOne(fd.get(), path, spec, rng));
    p.report.bytes_altered += f.bytes_altered;
    p.report.files.push_back(std::move(f));
    p.fds.push_back(std::move(fd));
  }
  return p;
}

Status DamageAll(const Planned& p) {
  for (size_t i = 0; i < p.fds.size(); ++i) {
    FAULTLINE_RETURN_IF_ERROR(Damage(p.fds[i].get(), p.report.files[i]));
  }
  return OkStatus();
}

std::string UndoText(const CorruptReport& r) {
  Json files = Json::array();
  for (const CorruptedFile& f : r.files) {
    Json ranges = Json::array();
    for (const CorruptedRange& g : f.ranges) {
      ranges.push_back({{"offset", g.offset},
                        {"original", Base64Encode(g.original)},
                        {"damaged", Base64Encode(g.damaged)}});
    }
    files.push_back({{"path", f.path},
                     {"size_before", f.size_before},
                     {"size_after", f.size_after},
                     {"ranges", std::move(ranges)}});
  }
  return Json{{"mode", CorruptModeName(r.mode)},
              {"damaged_hash", r.damaged_hash},
              {"files", std::move(files)}}
             .dump() +
         "\n";
}

Result<std::vector<CorruptedFile>> ParseUndo(const std::string& text, const std::string& path) {
  auto bad = [&path](const std::string& why) {
    return Error(ErrorCode::kInvalidArgument, fmt::format("undo file {}: {}", path, why));
  };
  try {
    const Json j = Json::parse(text);
    std::vector<CorruptedFile> files;
    for (const Json& jf : j.at("files")) {
      CorruptedFile f;
      f.path = jf.at("path").get<std::string>();
      f.size_before = jf.at("size_before").get<std::int64_t>();
      f.size_after = jf.at("size_after").get<std::int64_t>();
      for (const Json& jr : jf.at("ranges")) {
        auto original = Base64Decode(jr.at("original").get<std::string>());
        auto damaged = Base64Decode(jr.at("damaged").get<std::string>());
        if (!original || !damaged) return bad("a range is not base64");
        if (!damaged->empty() && damaged->size() != original->size()) {
          return bad("a range's damaged and original bytes differ in length");
        }
        f.ranges.push_back({.offset = jr.at("offset").get<std::int64_t>(),
                            .original = std::move(*original),
                            .damaged = std::move(*damaged)});
      }
      files.push_back(std::move(f));
    }
    return files;
  } catch (const Json::exception& e) {
    return bad(e.what());
  }
}

// Restores one file compare-and-swap into `out`.
Status RestoreOne(const CorruptedFile& f, RestoreReport& out) {
  const auto ranges = static_cast<std::int64_t>(f.ranges.size());
  UniqueFd fd(::open(f.path.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd.valid() && errno == ENOENT) {
    out.ranges_rewritten += ranges;
    out.details.push_back(fmt::format("{}: gone (removed since): left alone", f.path));
    return OkStatus();
  }
  if (!fd.valid()) return Errno(errno, "restore: open " + f.path);
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return Errno(errno, "restore: stat " + f.path);
  std::int64_t restored = 0;
  std::int64_t rewritten = 0;
  std::int64_t already = 0;
  for (const CorruptedRange& r : f.ranges) {
    const bool cut = r.damaged.empty();
    FAULTLINE_ASSIGN_OR_RETURN(std::string now, ReadAt(fd.get(), r.offset, r.original.size()));
    // A cut is undone only while the file still ends at the cut: anything appended since would be
    // overwritten by the old tail.
    const bool damaged = cut ? st.st_size == f.size_after : now == r.damaged;
    if (damaged) {
      FAULTLINE_RETURN_IF_ERROR(WriteAll(fd.get(), r.original, r.offset));
      ++restored;
      out.bytes_restored += static_cast<std::int64_t>(r.original.size());
    } else if (now == r.original && (!cut || st.st_size == f.size_before)) {
      ++already;
    } else {
      ++rewritten;
    }
  }
  if (restored > 0 && fsync(fd.get()) != 0) return Errno(errno, "restore: fsync " + f.path);
  out.ranges_restored += restored;
  out.ranges_rewritten += rewritten;
  out.ranges_already += already;
  out.details.push_back(fmt::format(
      "{}: {} of {} range(s) restored{}{}", f.path, restored, ranges,
      rewritten > 0 ? fmt::format(", {} rewritten since (left alone)", rewritten) : std::string(),
      already > 0 ? fmt::format(", {} restored before", already) : std::string()));
  return OkStatus();
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

std::int64_t CorruptReport::ranges() const {
  std::int64_t n = 0;
  for (const CorruptedFile& f : files) n += static_cast<std::int64_t>(f.ranges.size());
  return n;
}

Result<CorruptReport> Corrupt(const CorruptSpec& spec) {
  FAULTLINE_ASSIGN_OR_RETURN(Planned p, Plan(spec));
  FAULTLINE_RETURN_IF_ERROR(DamageAll(p));
  return std::move(p.report);
}

std::string HashDamage(const std::vector<CorruptedFile>& files) {
  std::uint64_t h = 14695981039346656037ull;
  auto mix = [&h](std::string_view bytes) {
    for (char c : bytes) {
      h ^= static_cast<unsigned char>(c);
      h *= 1099511628211ull;
    }
    h ^= 0xff;  // a separator, so ("ab", "c") and ("a", "bc") differ
    h *= 1099511628211ull;
  };
  for (const CorruptedFile& f : files) {
    mix(f.path);
    mix(std::to_string(f.size_after));
    for (const CorruptedRange& r : f.ranges) {
      mix(std::to_string(r.offset));
      mix(r.damaged);
    }
  }
  return fmt::format("{:016x}", h);
}

Result<CorruptReport> CorruptWithUndo(
    const CorruptSpec& spec, const std::string& undo_path,
    const std::function<Status(const CorruptReport& planned)>& before_damage) {
  FAULTLINE_ASSIGN_OR_RETURN(Planned p, Plan(spec));
  p.report.damaged_hash = HashDamage(p.report.files);
  if (Status s = WriteFileAtomic(undo_path, UndoText(p.report), 0600); !s) {
    return std::move(s).error().WithContext("corrupt: undo file");
  }
  if (before_damage) FAULTLINE_RETURN_IF_ERROR(before_damage(p.report));
  FAULTLINE_RETURN_IF_ERROR(DamageAll(p));
  return std::move(p.report);
}

Result<RestoreReport> RestoreCorruption(const std::string& undo_path,
                                        const std::string& expected_hash) {
  RestoreReport out;
  Result<std::string> text = ReadFile(undo_path);
  if (!text && text.error().code() == ErrorCode::kNotFound) {
    out.details.push_back(fmt::format("no undo file {} (restored already)", undo_path));
    return out;
  }
  if (!text) return std::move(text).error().WithContext("restore");
  FAULTLINE_ASSIGN_OR_RETURN(std::vector<CorruptedFile> files, ParseUndo(*text, undo_path));
  if (!expected_hash.empty() && HashDamage(files) != expected_hash) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("restore: undo file {}: its damage hashes to {}, the ledger says {} "
                             "(not the undo of this fault: nothing restored)",
                             undo_path, HashDamage(files), expected_hash));
  }
  for (const CorruptedFile& f : files) FAULTLINE_RETURN_IF_ERROR(RestoreOne(f, out));
  if (::unlink(undo_path.c_str()) != 0 && errno != ENOENT) {
    return Errno(errno, "restore: remove " + undo_path);
  }
  return out;
}

}  // namespace faultline::nemesis
