// Whole-file read and write.
//
// Thread-safety: all functions are safe to call from several threads at once; two writers of the
// same path race (the last rename wins, and both use the same temporary name).
#ifndef FAULTLINE_COMMON_FILE_H_
#define FAULTLINE_COMMON_FILE_H_

#include <sys/types.h>

#include <string>
#include <string_view>

#include "common/result.h"

namespace faultline {

// The whole content of path. Errors read "open PATH: why" or "read PATH: why", coded from errno
// (NotFound if it does not exist).
[[nodiscard]] Result<std::string> ReadFile(const std::string& path);

// Replaces path with `content` so that a reader (or a crash) sees the old file or the new one,
// never half of either: writes path.tmp with `mode`, fsyncs it, renames it over path, and fsyncs
// the directory.
[[nodiscard]] Status WriteFileAtomic(const std::string& path, std::string_view content,
                                     mode_t mode = 0644);

// A file mapped read-only, for reading inputs larger than one wants resident: the pages read are
// counted in the process's resident set until Release gives them back (they stay in the page
// cache). Move-only; unmapped on destruction.
class MappedFile {
 public:
  // Errors read "open PATH: why" (NotFound if it does not exist) or "mmap PATH: why".
  [[nodiscard]] static Result<MappedFile> Open(const std::string& path);

  MappedFile() = default;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  std::string_view text() const { return {data_, size_}; }
  // Drops the whole pages that lie before `upto` (a pointer into text()) from the resident set, in
  // steps of 32 MiB (or all the way to the end); a later read faults them back in from the page
  // cache. A pointer below an earlier one starts a new pass over the text.
  void Release(const char* upto);

 private:
  const char* data_ = nullptr;
  size_t size_ = 0;
  size_t released_ = 0;  // bytes from the start already released
};

}  // namespace faultline

#endif  // FAULTLINE_COMMON_FILE_H_
