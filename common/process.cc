#include "common/process.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "common/file.h"

extern char** environ;

namespace faultline {
namespace {

struct Pipe {
  UniqueFd read;
  UniqueFd write;
};

Result<Pipe> MakePipe(std::string_view what) {
  std::array<int, 2> fds{-1, -1};
  if (::pipe2(fds.data(), O_CLOEXEC) != 0) return ErrnoError(errno, fmt::format("{}: pipe", what));
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// Blocks SIGPIPE in the calling thread while alive, and discards one raised meanwhile, so that
// writing to a child that has exited gives EPIPE instead of killing the process.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeGuard() {
    const int saved = errno;  // the caller still looks at write's errno
    if (sigismember(&old_, SIGPIPE) == 0) {
      const timespec zero{0, 0};
      while (sigtimedwait(&pipe_, nullptr, &zero) > 0) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
    errno = saved;
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t pipe_;
  sigset_t old_;
};

int ExitCode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

std::string CommandLine(const std::vector<std::string>& argv) {
  std::string cmd;
  for (const auto& a : argv) {
    if (!cmd.empty()) cmd += ' ';
    cmd += a;
  }
  return cmd;
}

// The child side of a fork: only async-signal-safe calls, as the parent may have other threads.
[[noreturn]] void ExecChild(int netns_fd, bool new_session, const std::array<int, 3>& stdio,
                            const std::vector<int>& cgroup_procs, const char* program,
                            char* const* args) {
  // "0" moves the writer; its children follow it.
  for (int fd : cgroup_procs) (void)!::write(fd, "0", 1);
  if (netns_fd >= 0 && ::setns(netns_fd, CLONE_NEWNET) != 0) ::_exit(126);
  if (new_session) ::setsid();
  for (int i = 0; i < 3; ++i) ::dup2(stdio[static_cast<size_t>(i)], i);
  ::syscall(SYS_close_range, 3U, ~0U, 0U);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::execve(program, args, environ);
  ::_exit(127);
}

}  // namespace

std::string ResolveProgram(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  std::vector<std::string> dirs = {"/usr/sbin", "/sbin", "/usr/bin", "/bin"};
  if (const char* path = std::getenv("PATH")) {
    std::string_view p(path);
    while (!p.empty()) {
      const auto colon = p.find(':');
      dirs.emplace_back(p.substr(0, colon));
      p = colon == std::string_view::npos ? "" : p.substr(colon + 1);
    }
  }
  for (const auto& d : dirs) {
    if (d.empty()) continue;
    std::string candidate = fmt::format("{}/{}", d, name);
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

Result<Child> Spawn(const std::vector<std::string>& argv, const SpawnOptions& options) {
  if (argv.empty()) return MakeError(ErrorCode::kInvalidArgument, "run: empty command line");
  const std::string what = "run " + argv[0];
  const std::string program = ResolveProgram(argv[0]);
  if (program.empty()) {
    return MakeError(ErrorCode::kNotFound,
                     fmt::format("{}: program not found (install it or fix PATH)", what));
  }
  UniqueFd netns;
  if (!options.netns_path.empty()) {
    netns.Reset(::open(options.netns_path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!netns.valid())
      return ErrnoError(errno, fmt::format("{}: open {}", what, options.netns_path));
  }
  UniqueFd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!devnull.valid()) return ErrnoError(errno, what + ": open /dev/null");
  // child_ends[i] is what the child gets as descriptor i; parent_ends[i] what the parent keeps.
  std::array<UniqueFd, 3> child_ends;
  std::array<UniqueFd, 3> parent_ends;
  const std::array<Stdio, 3> modes = {options.in, options.out, options.err};
  for (size_t i = 0; i < 3; ++i) {
    if (modes[i] == Stdio::kNull) continue;
    FAULTLINE_ASSIGN_OR_RETURN(Pipe p, MakePipe(what));
    child_ends[i] = i == 0 ? std::move(p.read) : std::move(p.write);
    parent_ends[i] = i == 0 ? std::move(p.write) : std::move(p.read);
  }
  std::array<int, 3> stdio{};
  for (size_t i = 0; i < 3; ++i)
    stdio[i] = child_ends[i].valid() ? child_ends[i].get() : devnull.get();
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  // Opened here: the child may only make async-signal-safe calls.
  std::vector<UniqueFd> cgroup_fds;
  std::vector<int> cgroup_procs;
  for (const std::string& dir : options.cgroups) {
    UniqueFd fd(::open((dir + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd.valid()) continue;
    cgroup_procs.push_back(fd.get());
    cgroup_fds.push_back(std::move(fd));
  }

  pid_t pid = -1;
  if (netns.valid() || !cgroup_procs.empty()) {
    // posix_spawn can neither setns nor join a group in the child, so this path forks.
    pid = ::fork();
    if (pid < 0) return ErrnoError(errno, what + ": fork");
    if (pid == 0) {
      ExecChild(netns.get(), options.new_session, stdio, cgroup_procs, program.c_str(),
                args.data());
    }
  } else {
    // posix_spawn (vfork-like) is cheap even from a large process, and the child starts in the
    // calling thread's namespaces.
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    for (int i = 0; i < 3; ++i)
      posix_spawn_file_actions_adddup2(&actions, stdio[static_cast<size_t>(i)], i);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigset_t all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    // Descriptors a library opened without O_CLOEXEC must not leak into a long-lived child.
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    if (options.new_session) flags |= POSIX_SPAWN_SETSID;
    posix_spawnattr_setflags(&attr, flags);
    const int rc = ::posix_spawn(&pid, program.c_str(), &actions, &attr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) return ErrnoError(rc, what);
  }
  Child child;
  child.pid = pid;
  child.pidfd.Reset(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!child.pidfd.valid()) {
    const int err = errno;
    ::kill(pid, SIGKILL);
    WaitExit(pid);
    return ErrnoError(err, what + ": pidfd_open");
  }
  for (auto& fd : parent_ends) {
    if (fd.valid()) ::fcntl(fd.get(), F_SETFL, O_NONBLOCK);
  }
  child.in = std::move(parent_ends[0]);
  child.out = std::move(parent_ends[1]);
  child.err = std::move(parent_ends[2]);
  return child;
}

std::optional<ProcStat> ReadProcStat(int pid) {
  if (pid <= 0) return std::nullopt;
  const std::string stat = ReadFile(fmt::format("/proc/{}/stat", pid)).value_or("");
  // The command name (field 2) may hold spaces and parentheses: parse after the last ')'.
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream in(stat.substr(close + 1));
  ProcStat out;
  std::string field;
  in >> out.state;
  // Fields 4..21 come before the start time (field 22).
  for (int i = 4; i <= 21; ++i) in >> field;
  in >> out.start_time;
  if (!in) return std::nullopt;
  return out;
}

bool IsSameProcess(int pid, std::uint64_t start_time) {
  const auto st = ReadProcStat(pid);
  return st.has_value() && st->start_time == start_time && st->state != 'Z' && st->state != 'X';
}

int WaitExit(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return ExitCode(status);
}

std::optional<int> WaitExitFor(Child& child, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{.fd = child.pidfd.get(), .events = POLLIN, .revents = 0};
    const int n = ::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(left.count(), 0)));
    if (n > 0) return WaitExit(child.pid);
    if (n < 0 && errno == EINTR) continue;
    if (left.count() <= 0 || n < 0) break;
  }
  ::kill(child.pid, SIGKILL);
  WaitExit(child.pid);
  return std::nullopt;
}

Result<ProcessOutput> RunProcess(const std::vector<std::string>& argv, const RunOptions& options) {
  const Stdio out_mode = options.detach_output ? Stdio::kNull : Stdio::kPipe;
  FAULTLINE_ASSIGN_OR_RETURN(Child child, Spawn(argv, SpawnOptions{.in = Stdio::kPipe,
                                                                   .out = out_mode,
                                                                   .err = out_mode,
                                                                   .netns_path = options.netns_path,
                                                                   .new_session = false,
                                                                   .cgroups = options.cgroups}));
  const std::string_view input = options.input;
  if (input.empty()) child.in.Reset();
  const auto deadline = options.timeout ? std::chrono::steady_clock::now() + *options.timeout
                                        : std::chrono::steady_clock::time_point::max();
  ProcessOutput result;
  size_t written = 0;
  bool exited = false;
  bool timed_out = false;
  std::array<char, 8192> buf{};
  // Until the output pipes reach end of file (a child's output may outlive it in a grandchild,
  // which is what detach_output is for) and the child has exited.
  while (child.out.valid() || child.err.valid() || !exited) {
    int wait_ms = -1;
    if (options.timeout) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        timed_out = true;
        break;
      }
      wait_ms = static_cast<int>(left.count()) + 1;
    }
    std::array<pollfd, 4> fds = {
        pollfd{.fd = child.in.get(), .events = POLLOUT, .revents = 0},
        pollfd{.fd = child.out.get(), .events = POLLIN, .revents = 0},
        pollfd{.fd = child.err.get(), .events = POLLIN, .revents = 0},
        pollfd{.fd = exited ? -1 : child.pidfd.get(), .events = POLLIN, .revents = 0}};
    const int n = ::poll(fds.data(), fds.size(), wait_ms);
    if (n < 0 && errno != EINTR) return ErrnoError(errno, "run " + argv[0] + ": poll");
    if (n <= 0) continue;
    if (fds[0].revents != 0) {
      if ((fds[0].revents & (POLLERR | POLLHUP)) != 0) {
        child.in.Reset();  // it closed its stdin: what it does not read is its business
      } else {
        const SigpipeGuard guard;
        const ssize_t w = ::write(child.in.get(), input.data() + written, input.size() - written);
        if (w > 0) written += static_cast<size_t>(w);
        if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == input.size()) {
          child.in.Reset();
        }
      }
    }
    for (size_t i = 1; i <= 2; ++i) {
      if (fds[i].revents == 0) continue;
      UniqueFd& fd = i == 1 ? child.out : child.err;
      const ssize_t r = ::read(fd.get(), buf.data(), buf.size());
      if (r > 0) {
        (i == 1 ? result.out : result.err).append(buf.data(), static_cast<size_t>(r));
      } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
        fd.Reset();
      }
    }
    if (fds[3].revents != 0) {
      exited = true;
      child.in.Reset();
    }
  }
  if (timed_out) {
    ::kill(child.pid, SIGKILL);
    WaitExit(child.pid);
    return MakeError(
        ErrorCode::kDeadlineExceeded,
        fmt::format("run {}: no exit within {} ms (killed it)", argv[0], options.timeout->count()));
  }
  result.exit_code = WaitExit(child.pid);
  if (result.exit_code == 126 && !options.netns_path.empty() && result.err.empty()) {
    result.err = fmt::format("could not enter network namespace {}", options.netns_path);
  }
  return result;
}

Result<std::string> RunProcessOk(const std::vector<std::string>& argv, const RunOptions& options) {
  FAULTLINE_ASSIGN_OR_RETURN(ProcessOutput r, RunProcess(argv, options));
  if (r.exit_code == 0) return std::move(r.out);
  std::string why = r.err.empty() ? r.out : r.err;
  while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
  for (auto& c : why) {
    if (c == '\n') c = ';';
  }
  const ErrorCode code = why.find("ermission denied") != std::string::npos ||
                                 why.find("Operation not permitted") != std::string::npos
                             ? ErrorCode::kPermissionDenied
                             : ErrorCode::kUnavailable;
  return MakeError(code, fmt::format("{}{}{}: exit {}: {}", CommandLine(argv),
                                     options.netns_path.empty() ? "" : " in netns ",
                                     options.netns_path, r.exit_code, why));
}

}  // namespace faultline
