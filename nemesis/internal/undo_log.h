// UndoLog: what the faulty filesystem (nemesis/disk.h) needs to forget writes that were never
// synced. Writes go through to the backing file at once (reads see them, as they would see the page
// cache); before each one the bytes it overwrites and the file's size are kept, per file, until the
// file is fsync'd or fdatasync'd. Dropping replays that in reverse, so every file is left exactly
// as it was at its last sync; a torn drop then writes back a prefix of the last write.
//
// Not tracked: directory operations (create, rename, unlink are passed through as if durable).
// Not part of the public API.
//
// Thread-safety: not thread-safe; the filesystem holds one lock around it.
#ifndef FAULTLINE_NEMESIS_INTERNAL_UNDO_LOG_H_
#define FAULTLINE_NEMESIS_INTERNAL_UNDO_LOG_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/fd.h"
#include "common/result.h"

namespace faultline::nemesis::internal {

struct DropCounts {
  std::int64_t writes = 0;      // write calls undone
  std::int64_t bytes = 0;       // bytes those writes had written
  std::int64_t files = 0;       // files touched
  std::int64_t torn_bytes = 0;  // torn drop: bytes of last writes written back
  bool operator==(const DropCounts&) const = default;
};

class UndoLog {
 public:
  // Before writing `length` bytes at `offset` into `fd` (file identity `ino`): keeps what the
  // write will overwrite. `fd` is duplicated the first time a file is seen, so the log can undo
  // after the caller closed it. `data` is the write's own bytes (kept for the last write only).
  [[nodiscard]] Status BeforeWrite(ino_t ino, int fd, std::int64_t offset, const char* data,
                                   std::int64_t length);
  // Before the file's size changes to `new_size` (truncate, or fallocate that grows it).
  [[nodiscard]] Status BeforeResize(ino_t ino, int fd, std::int64_t new_size);
  // Unsynced changes of the file now; pass this to Synced after the sync returns, so changes made
  // while it ran stay unsynced.
  std::size_t Pending(ino_t ino) const;
  // The file's first `changes` unsynced changes are on disk: forget them.
  void Synced(ino_t ino, std::size_t changes);

  // Undoes every unsynced change, newest first, and forgets them. With `torn_seed` nonzero, a
  // random prefix (1..n-1 bytes, from the seed) of each file's last write is written back.
  // Continues past errors, returning the first one after trying every file.
  [[nodiscard]] Result<DropCounts> Drop(std::uint64_t torn_seed = 0);

  std::int64_t unsynced_writes() const;
  std::int64_t unsynced_bytes() const;
  // Backing-file bytes held to undo (a memory measure).
  std::int64_t held_bytes() const;

 private:
  struct Record {
    std::int64_t offset = 0;
    std::int64_t length = 0;    // bytes written (0 for a resize)
    std::int64_t old_size = 0;  // the file's size before
    std::string old_bytes;      // what was at [offset, offset + old_bytes.size()) before
  };
  struct File {
    UniqueFd fd;
    std::vector<Record> records;
    std::string last_data;  // the newest write's bytes
  };
  Result<File*> Track(ino_t ino, int fd);

  std::map<ino_t, File> files_;
};

}  // namespace faultline::nemesis::internal

#endif  // FAULTLINE_NEMESIS_INTERNAL_UNDO_LOG_H_
