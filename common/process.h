// Running programs: spawn a child with pipes, wait for it with a deadline (pidfd_open + poll), kill
// and reap it when the deadline passes. The one place the project forks; callers add their own
// context (ssh, nft, the namespace they run in) to the errors.
//
// Thread-safety: all functions are safe to call from several threads at once. Every descriptor
// made here is close-on-exec, so concurrent children never hold each other's pipes open. A
// Child is a plain value, used from one thread at a time.
#ifndef FAULTLINE_COMMON_PROCESS_H_
#define FAULTLINE_COMMON_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/fd.h"
#include "common/result.h"

namespace faultline {

// Absolute path of an executable: `name` itself if it holds a '/', else the first match in
// /usr/sbin, /sbin, /usr/bin, /bin, then $PATH (the system directories first, since faultline runs
// as root with a user's PATH and wants the system's nft and ip). "" if there is none.
std::string ResolveProgram(const std::string& name);

// Where a child's stdin, stdout or stderr goes.
enum class Stdio {
  kPipe,  // a pipe whose other end the parent gets in Child
  kNull,  // /dev/null
};

struct SpawnOptions {
  Stdio in = Stdio::kPipe;
  Stdio out = Stdio::kPipe;
  Stdio err = Stdio::kPipe;
  // Path of a network namespace file (/var/run/netns/NAME) the child enters before exec; "" keeps
  // the namespace of the calling thread. A child that cannot enter it exits 126.
  std::string netns_path{};
  // Start the child in a session of its own (setsid), so that it outlives this process's
  // terminal and process group: for helpers that must survive a SIGKILL of their parent.
  bool new_session = false;
  // Control group directories (v1 or v2) the child joins before exec, so that it and everything
  // it starts (daemons included) stay in them: a node's groups, whose cgroup.kill then ends
  // whatever a command left running. A group that cannot be joined is skipped (best effort).
  std::vector<std::string> cgroups{};
};

// A started child. The parent's pipe ends are non-blocking; an unused one is invalid.
struct Child {
  pid_t pid = -1;
  UniqueFd pidfd;  // readable once the child has exited (not reaped)
  UniqueFd in;     // the child's stdin
  UniqueFd out;    // the child's stdout
  UniqueFd err;    // the child's stderr
};

// Starts argv (argv[0] resolved by ResolveProgram) with default signal dispositions, an empty
// signal mask, and no descriptors but 0, 1 and 2, whatever the caller set or leaked. NotFound if
// the program does not exist. The caller must reap the child (WaitExit, or RunProcess does it).
[[nodiscard]] Result<Child> Spawn(const std::vector<std::string>& argv,
                                  const SpawnOptions& options = {});

// Blocks until the child `pid` (of this process) exits and reaps it: its exit code, or 128+N if
// signal N killed it.
int WaitExit(pid_t pid);

// Waits up to `timeout` for the child to exit and reaps it; otherwise SIGKILLs and reaps it and
// returns nullopt.
std::optional<int> WaitExitFor(Child& child, std::chrono::milliseconds timeout);

// What /proc/PID/stat says of a process that matters for telling it apart from a later one with
// the same PID: its state and its start time (clock ticks after boot, field 22).
struct ProcStat {
  char state = '?';  // R, S, D, T (stopped), t, Z (zombie), X
  std::uint64_t start_time = 0;
};

// /proc/PID/stat of a process, or nullopt if there is none.
std::optional<ProcStat> ReadProcStat(int pid);

// True if PID exists, is not a zombie, and started at start_time.
bool IsSameProcess(int pid, std::uint64_t start_time);

struct ProcessOutput {
  int exit_code = -1;  // 128+N if killed by signal N
  std::string out;
  std::string err;
};

struct RunOptions {
  std::string_view input{};  // written to the child's stdin, which is then closed
  // nullopt: wait as long as it takes. Past it the child is SIGKILLed, reaped, and the call
  // returns DeadlineExceeded.
  std::optional<std::chrono::milliseconds> timeout{};
  // Give the child /dev/null as stdout and stderr and wait only for its exit, not for the end of
  // its output: for programs that leave a daemon holding their stdio (ssh -f with ControlPersist).
  bool detach_output = false;
  std::string netns_path{};            // as in SpawnOptions
  std::vector<std::string> cgroups{};  // as in SpawnOptions
};

// Runs argv to completion and collects its output. An error only if it cannot be started or runs
// past the timeout; a non-zero exit is a value.
[[nodiscard]] Result<ProcessOutput> RunProcess(const std::vector<std::string>& argv,
                                               const RunOptions& options = {});

// RunProcess, then an error naming the command line and the first line of its stderr unless it
// exited 0; the child's stdout otherwise.
[[nodiscard]] Result<std::string> RunProcessOk(const std::vector<std::string>& argv,
                                               const RunOptions& options = {});

}  // namespace faultline

#endif  // FAULTLINE_COMMON_PROCESS_H_
