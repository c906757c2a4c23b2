// Processes the nemesis starts or signals, named by PID and checked against their start time
// (/proc/PID/stat field 22) so that a reused PID is never signalled. Not part of the public API.
//
// Thread-safety: all functions are safe to call from several threads at once.
#ifndef FAULTLINE_NEMESIS_INTERNAL_PROC_H_
#define FAULTLINE_NEMESIS_INTERNAL_PROC_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/process.h"
#include "common/result.h"

namespace faultline::nemesis::internal {

// /proc/PID/stat is read in common/process.h; nemesis code names these as internal:: too.
using ::faultline::IsSameProcess;
using ::faultline::ProcStat;
using ::faultline::ReadProcStat;

// Sends sig to PID if it is still the process that started at start_time. Returns false if it is
// gone or another process now (nothing was sent).
bool SignalIfSame(int pid, std::uint64_t start_time, int sig);

// Ends the process PID (started at start_time): SIGTERM, then SIGKILL after `grace`, and waits
// until it is gone or a zombie (reaping it when it is our child). Idempotent: a process already
// gone counts as ended. Returns a description of what it did.
std::string EndProcess(int pid, std::uint64_t start_time, std::chrono::milliseconds grace);

// Our own PID and start time (the ledger's owner fields).
int SelfPid();
std::uint64_t SelfStartTime();

// PIDs of processes whose command line (NUL-separated argv) contains every one of `needles`.
std::vector<int> FindProcesses(const std::vector<std::string>& needles);

// The nemesis helper executable (faultline-nemesis-helper): $FAULTLINE_NEMESIS_HELPER, else next
// to /proc/self/exe, else in ../nemesis/ from it (the build tree layout). NotFound if absent.
[[nodiscard]] Result<std::string> HelperPath();

// Starts argv[0] (an absolute path) detached (its own session, stdin and stderr on /dev/null),
// and waits up to `ready_timeout` for it to write one line on its stdout: "ready" means started,
// anything else is an error message ("starting" lines before it are skipped). Returns its PID. The
// child is not reaped here: EndProcess reaps it when called from this process; if this process
// exits first, init does.
[[nodiscard]] Result<int> SpawnHelper(const std::vector<std::string>& argv,
                                      std::chrono::milliseconds ready_timeout);

// Test hook: if $FAULTLINE_CRASH_AT equals `point`, SIGKILLs this process.
void MaybeCrash(const char* point);

}  // namespace faultline::nemesis::internal

#endif  // FAULTLINE_NEMESIS_INTERNAL_PROC_H_
