// Corrupt: damages files on disk the way failing storage does — bit flips, overwritten ranges,
// truncation — and says exactly what it did, down to the number of bytes whose value really
// changed (a "corruption" that altered nothing must not count as one).
//
// Used by DiRT drills against a stopped (or running) database's data directory; for etcd the
// interesting files are member/snap/*.snap, member/snap/db and member/wal/*.wal.
//
// CorruptWithUndo also keeps what it damaged, in an undo file written and fsync'd before the first
// byte changes (for a directory on the faulty filesystem, nemesis/disk.h, whose ledger names it),
// and RestoreCorruption puts it back compare-and-swap: a range that still holds the damaged bytes
// gets its original bytes back; a range something rewrote since is left alone and counted.
//
// Thread-safety: Corrupt is thread-safe for disjoint files.
#ifndef FAULTLINE_NEMESIS_CORRUPT_H_
#define FAULTLINE_NEMESIS_CORRUPT_H_

#include <cstdint>
#include <functional>
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

// One damaged range of a file: where, what it held, what it holds after the damage. A truncation
// is one range at the cut: `original` is the cut tail, `damaged` is empty.
struct CorruptedRange {
  std::int64_t offset = 0;
  std::string original;
  std::string damaged;
};

struct CorruptedFile {
  std::string path;
  std::int64_t size_before = 0;
  std::int64_t size_after = 0;
  std::int64_t bytes_altered = 0;  // bytes whose value changed, plus bytes removed by truncation
  std::string detail;              // "flipped 8 bits at 17,203,...", "cut 4096 -> 2048"
  std::vector<CorruptedRange> ranges;
};

struct CorruptReport {
  CorruptMode mode = CorruptMode::kBitFlip;
  std::vector<CorruptedFile> files;    // sorted by path
  std::int64_t bytes_altered = 0;      // sum over files
  std::vector<std::string> unmatched;  // patterns that matched no file
  std::string damaged_hash;            // HashDamage of the files' ranges (CorruptWithUndo)
  std::int64_t ranges() const;         // damaged ranges over all files
  std::string Describe() const;
};

// Damages every regular file matching the patterns, fsyncs each, and reports. NotFound when no
// pattern matched anything (a drill that corrupted nothing is not a corruption drill).
[[nodiscard]] Result<CorruptReport> Corrupt(const CorruptSpec& spec);

// A hash (FNV-1a 64, hex) of the damaged bytes of every range with its file and offset, so an undo
// file can be checked against the ledger object that names it.
std::string HashDamage(const std::vector<CorruptedFile>& files);

// Corrupt, keeping an undo: the files are read and the damage is computed first; then `undo_path`
// is written (every damaged range's original bytes and its damaged bytes, each file's size before
// and after) and fsync'd with its directory; then `before_damage` runs with the planned report
// (damaged_hash set; a caller records the undo file in its ledger there, and an error from it
// stops everything before any byte is damaged); then the ranges are written and each file is
// fsync'd.
[[nodiscard]] Result<CorruptReport> CorruptWithUndo(
    const CorruptSpec& spec, const std::string& undo_path,
    const std::function<Status(const CorruptReport& planned)>& before_damage);

// What RestoreCorruption did.
struct RestoreReport {
  std::int64_t ranges_restored = 0;   // held the damaged bytes: original bytes written back
  std::int64_t ranges_rewritten = 0;  // held neither: rewritten since (or the file gone), left
  std::int64_t ranges_already = 0;    // held the original bytes already (an earlier restore)
  std::int64_t bytes_restored = 0;
  std::vector<std::string> details;  // one per file
};

// Restores the undo file at `undo_path` compare-and-swap, file by file, and removes it once done.
// A byte range is written back only while it still holds the damaged bytes; a truncated file gets
// its tail back only while its size is still the cut size. No undo file: nothing to restore (an
// earlier restore finished). `expected_hash` (the ledger's; empty: not checked) must match the
// undo file's damage, else nothing is touched (InvalidArgument).
[[nodiscard]] Result<RestoreReport> RestoreCorruption(const std::string& undo_path,
                                                      const std::string& expected_hash);

}  // namespace faultline::nemesis

#endif  // FAULTLINE_NEMESIS_CORRUPT_H_
