// The faulty filesystem's FUSE server (nemesis/disk_server.cc), run as
// `faultline-nemesis-helper disk --dir DIR --socket SOCK`; its protocol is described there.
// Only the helper links it (and libfuse3). Not part of the public API.
//
// Thread-safety: RunDiskServer is called once per process.
#ifndef FAULTLINE_NEMESIS_INTERNAL_DISK_SERVER_H_
#define FAULTLINE_NEMESIS_INTERNAL_DISK_SERVER_H_

#include <functional>
#include <string>
#include <vector>

namespace faultline::nemesis::internal {

// Mounts, calls `ready` once the mount and the control socket are up, serves until the mount goes.
// Returns the process's exit code; errors before `ready` are one line on stdout. If `ready`
// returns false (the spawner is gone: nobody may have recorded the mount, or a heal already ran),
// it unmounts again and returns 1, leaving no mount without a server behind.
int RunDiskServer(const std::vector<std::string>& args, const std::function<bool()>& ready);

}  // namespace faultline::nemesis::internal

#endif  // FAULTLINE_NEMESIS_INTERNAL_DISK_SERVER_H_
