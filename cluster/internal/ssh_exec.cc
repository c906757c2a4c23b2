#include "cluster/internal/ssh_exec.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace faultline::cluster::internal {
namespace {

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { Reset(); }
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      Reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  int get() const { return fd_; }
  int Release() { return std::exchange(fd_, -1); }
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

struct Pipe {
  Fd read;
  Fd write;
};

Result<Pipe> MakePipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return MakeError(ErrorCode::kInternal, fmt::format("pipe: {}", std::strerror(errno)));
  }
  return Pipe{Fd(fds[0]), Fd(fds[1])};
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
    const timespec zero{0, 0};
    while (sigtimedwait(&pipe_, nullptr, &zero) > 0) {
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

int WaitExit(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

std::string ShellQuote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  out += "'";
  return out;
}

Result<ProgramOutput> RunProgram(const std::vector<std::string>& argv, std::string_view input,
                                 const ProgramOptions& options) {
  if (argv.empty()) return MakeError(ErrorCode::kInvalidArgument, "run: empty command");
  const std::string what = argv[0];
  FAULTLINE_ASSIGN_OR_RETURN(Pipe in, MakePipe());
  Pipe out, err;
  Fd devnull;
  if (options.detach_output) {
    devnull = Fd(::open("/dev/null", O_WRONLY | O_CLOEXEC));
    if (devnull.get() < 0) {
      return MakeError(ErrorCode::kInternal,
                       fmt::format("open /dev/null: {}", std::strerror(errno)));
    }
  } else {
    FAULTLINE_ASSIGN_OR_RETURN(out, MakePipe());
    FAULTLINE_ASSIGN_OR_RETURN(err, MakePipe());
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in.read.get(), 0);
  posix_spawn_file_actions_adddup2(&actions,
                                   options.detach_output ? devnull.get() : out.write.get(), 1);
  posix_spawn_file_actions_adddup2(&actions,
                                   options.detach_output ? devnull.get() : err.write.get(), 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // The child starts with default signal handling and an empty mask, whatever the caller set.
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, argv[0].c_str(), &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    const ErrorCode code = rc == ENOENT   ? ErrorCode::kNotFound
                           : rc == EACCES ? ErrorCode::kPermissionDenied
                                          : ErrorCode::kInternal;
    return MakeError(code, fmt::format("run {}: {}", what, std::strerror(rc)));
  }
  in.read.Reset();
  out.write.Reset();
  err.write.Reset();
  devnull.Reset();

  ProgramOutput result;
  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  size_t written = 0;
  if (input.empty()) {
    in.write.Reset();
  } else {
    ::fcntl(in.write.get(), F_SETFL, O_NONBLOCK);
  }
  bool timed_out = false;
  while (in.write.get() >= 0 || out.read.get() >= 0 || err.read.get() >= 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd fds[3] = {{.fd = in.write.get(), .events = POLLOUT, .revents = 0},
                     {.fd = out.read.get(), .events = POLLIN, .revents = 0},
                     {.fd = err.read.get(), .events = POLLIN, .revents = 0}};
    const int n = ::poll(fds, 3, static_cast<int>(left.count()) + 1);
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) continue;
    if (fds[0].revents != 0) {
      const SigpipeGuard guard;
      const ssize_t w = ::write(in.write.get(), input.data() + written, input.size() - written);
      if (w > 0) written += static_cast<size_t>(w);
      if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == input.size()) {
        in.write.Reset();  // EPIPE: the child does not read its input; that is its business
      }
    }
    for (int i = 1; i <= 2; ++i) {
      if (fds[i].revents == 0) continue;
      char buf[8192];
      const ssize_t r = ::read(fds[i].fd, buf, sizeof(buf));
      if (r > 0) {
        (i == 1 ? result.out : result.err).append(buf, static_cast<size_t>(r));
      } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
        (i == 1 ? out.read : err.read).Reset();
      }
    }
  }
  if (options.detach_output && !timed_out) {
    // Only the exit matters: poll for it until the deadline.
    while (true) {
      int status = 0;
      const pid_t w = ::waitpid(pid, &status, WNOHANG);
      if (w == pid) {
        result.exit_code = WIFEXITED(status)     ? WEXITSTATUS(status)
                           : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
                                                 : -1;
        return result;
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        timed_out = true;
        break;
      }
      ::usleep(1000);
    }
  }
  if (timed_out) {
    ::kill(pid, SIGKILL);
    WaitExit(pid);
    return MakeError(
        ErrorCode::kDeadlineExceeded,
        fmt::format("run {}: no exit within {} ms (killed it)", what, options.timeout.count()));
  }
  result.exit_code = WaitExit(pid);
  return result;
}

Result<std::unique_ptr<Session>> Session::Start(const std::vector<std::string>& argv) {
  if (argv.empty()) return MakeError(ErrorCode::kInvalidArgument, "session: empty command");
  FAULTLINE_ASSIGN_OR_RETURN(Pipe in, MakePipe());
  FAULTLINE_ASSIGN_OR_RETURN(Pipe out, MakePipe());
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in.read.get(), 0);
  posix_spawn_file_actions_adddup2(&actions, out.write.get(), 1);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, argv[0].c_str(), &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    return MakeError(rc == ENOENT ? ErrorCode::kNotFound : ErrorCode::kInternal,
                     fmt::format("session {}: {}", argv[0], std::strerror(rc)));
  }
  std::unique_ptr<Session> s(new Session());
  s->pid_ = pid;
  // Release the ends the parent keeps into the session (closed by its destructor).
  s->in_ = in.write.Release();
  s->out_ = out.read.Release();
  ::fcntl(s->in_, F_SETFL, O_NONBLOCK);
  ::fcntl(s->out_, F_SETFL, O_NONBLOCK);
  return s;
}

Session::~Session() {
  if (in_ >= 0) ::close(in_);
  if (out_ >= 0) ::close(out_);
  if (pid_ <= 0) return;
  // Our own unreaped child: the PID cannot have been reused.
  for (int i = 0; i < 100; ++i) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) return;
    ::usleep(10000);
  }
  ::kill(pid_, SIGKILL);
  WaitExit(pid_);
}

Status Session::Write(std::string_view data, std::chrono::steady_clock::time_point deadline) {
  size_t done = 0;
  while (done < data.size()) {
    if (in_ < 0) return MakeError(ErrorCode::kUnavailable, "session: stdin closed");
    ssize_t w = 0;
    {
      const SigpipeGuard guard;
      w = ::write(in_, data.data() + done, data.size() - done);
    }
    if (w > 0) {
      done += static_cast<size_t>(w);
      continue;
    }
    if (w < 0 && errno != EAGAIN && errno != EINTR) {
      ::close(in_);
      in_ = -1;
      return MakeError(ErrorCode::kUnavailable,
                       fmt::format("session: write: {}", std::strerror(errno)));
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      return MakeError(ErrorCode::kDeadlineExceeded, "session: write timed out");
    pollfd p{.fd = in_, .events = POLLOUT, .revents = 0};
    ::poll(&p, 1, static_cast<int>(left.count()) + 1);
  }
  return OkStatus();
}

Result<std::string> Session::ReadUntil(std::string_view terminator,
                                       std::chrono::steady_clock::time_point deadline) {
  size_t scanned = 0;
  while (true) {
    const size_t at = buffer_.find(terminator, scanned);
    if (at != std::string::npos) {
      std::string before = buffer_.substr(0, at);
      buffer_.erase(0, at + terminator.size());
      return before;
    }
    scanned = buffer_.size() >= terminator.size() ? buffer_.size() - terminator.size() + 1 : 0;
    if (out_ < 0) return MakeError(ErrorCode::kUnavailable, "session: output closed");
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      return MakeError(ErrorCode::kDeadlineExceeded, "session: no answer in time");
    pollfd p{.fd = out_, .events = POLLIN, .revents = 0};
    if (::poll(&p, 1, static_cast<int>(left.count()) + 1) <= 0) continue;
    char buf[8192];
    const ssize_t r = ::read(out_, buf, sizeof(buf));
    if (r > 0) {
      buffer_.append(buf, static_cast<size_t>(r));
    } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
      ::close(out_);
      out_ = -1;
    }
  }
}

}  // namespace faultline::cluster::internal
