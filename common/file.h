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

}  // namespace faultline

#endif  // FAULTLINE_COMMON_FILE_H_
