// Corrupt: damages files on disk the way failing storage does — bit flips, overwritten ranges,
// truncation — and says exactly what it did, down to the number of bytes whose value really
// changed (a "corruption" that altered nothing must not count as one).
//
// Used by DiRT drills against a stopped (or running) database's data directory; for etcd the
// interesting files are member/snap/*.snap, member/snap/db and member/wal/*.wal.
//
// Thread-safety: Corrupt is thread-safe for disjoint files.
#ifndef FAULTLINE_NEMESIS_CORRUPT_H_
#define FAULTLINE_NEMESIS_CORRUPT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace faultline::nemesis {

enum class CorruptMode {
  kBitFlip,    // flip `count` random bits (distinct bytes) in each file
  kOverwrite,  // overwrite `count` bytes (0 = the whole file) from `offset` with random bytes
  kTruncate,   // cut each file to `offset` bytes (a negative offset cuts that many from the end)
};
std::string_view CorruptModeName(CorruptMode mode);  // "bitflip", "overwrite", "truncate"
[[nodiscard]] Result<CorruptMode> ParseCorruptMode(std::string_view name);

struct CorruptSpec {
  std::string directory;              // e.g. a node's data dir
  std::vector<std::string> patterns;  // globs relative to directory: "member/snap/*.snap"
  CorruptMode mode = CorruptMode::kBitFlip;
  std::int64_t count = 8;   // bits to flip, or bytes to overwrite (0 = whole file)
  std::int64_t offset = 0;  // where overwrite starts; where truncate cuts (negative: from the end)
  std::uint64_t seed = 1;   // same seed, same file contents: same damage
  // At most this many matching files (sorted by path) are damaged; 0 = all.
  int max_files = 0;
};

struct CorruptedFile {
  std::string path;
  std::int64_t size_before = 0;
  std::int64_t size_after = 0;
  std::int64_t bytes_altered = 0;  // bytes whose value changed, plus bytes removed by truncation
  std::string detail;              // "flipped 8 bits at 17,203,...", "cut 4096 -> 2048"
};

struct CorruptReport {
  CorruptMode mode = CorruptMode::kBitFlip;
  std::vector<CorruptedFile> files;    // sorted by path
  std::int64_t bytes_altered = 0;      // sum over files
  std::vector<std::string> unmatched;  // patterns that matched no file
  std::string Describe() const;
};

// Damages every regular file matching the patterns, fsyncs each, and reports. NotFound when no
// pattern matched anything (a drill that corrupted nothing is not a corruption drill).
[[nodiscard]] Result<CorruptReport> Corrupt(const CorruptSpec& spec);

}  // namespace faultline::nemesis

#endif  // FAULTLINE_NEMESIS_CORRUPT_H_
