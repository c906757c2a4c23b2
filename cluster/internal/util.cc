#include "cluster/internal/util.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>

extern char** environ;

namespace faultline::cluster::internal {

void Fd::Reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

Error ErrnoError(int err, std::string_view context) {
  return Error(ErrorCodeFromErrno(err), fmt::format("{}: {}", context, std::strerror(err)));
}

namespace {

// Fields of /proc/PID/stat after the command name (which may contain spaces and parentheses).
std::optional<std::vector<std::string>> StatFields(int pid) {
  if (pid <= 0) return std::nullopt;
  auto text = ReadFile(fmt::format("/proc/{}/stat", pid));
  if (!text) return std::nullopt;
  const auto close = text->rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream in(text->substr(close + 1));
  std::vector<std::string> fields;
  std::string f;
  while (in >> f) fields.push_back(f);
  return fields;  // fields[0] is field 3 (state)
}

}  // namespace

std::optional<std::uint64_t> ProcessStartTime(int pid) {
  auto f = StatFields(pid);
  if (!f || f->size() < 20) return std::nullopt;
  return std::strtoull((*f)[19].c_str(), nullptr, 10);
}

char ProcessState(int pid) {
  auto f = StatFields(pid);
  if (!f || f->empty() || (*f)[0].empty()) return 0;
  return (*f)[0][0];
}

bool ProcessAlive(int pid, std::uint64_t start_time) {
  auto f = StatFields(pid);
  if (!f || f->size() < 20) return false;
  if ((*f)[0] == "Z" || (*f)[0] == "X") return false;
  return std::strtoull((*f)[19].c_str(), nullptr, 10) == start_time;
}

std::int64_t MonoNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

std::int64_t WallNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

std::string ResolveProgram(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  for (const char* dir : {"/usr/sbin", "/sbin", "/usr/bin", "/bin"}) {
    std::string p = fmt::format("{}/{}", dir, name);
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  return "";
}

Result<ExecResult> Exec(const std::vector<std::string>& argv, std::string_view input,
                        std::string_view netns) {
  if (argv.empty()) return MakeError(ErrorCode::kInternal, "exec: empty command line");
  const std::string program = ResolveProgram(argv[0]);
  if (program.empty()) {
    return MakeError(ErrorCode::kNotFound,
                     fmt::format("exec {}: program not found (install it)", argv[0]));
  }
  Fd ns_fd;
  if (!netns.empty()) {
    const std::string path = fmt::format("/var/run/netns/{}", netns);
    ns_fd.Reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!ns_fd.valid()) return ErrnoError(errno, fmt::format("exec {}: open {}", argv[0], path));
  }
  std::array<int, 2> in{-1, -1};
  std::array<int, 2> out{-1, -1};
  std::array<int, 2> err{-1, -1};
  if (::pipe2(in.data(), O_CLOEXEC) != 0) return ErrnoError(errno, "exec " + argv[0] + ": pipe");
  Fd in_r(in[0]), in_w(in[1]);
  if (::pipe2(out.data(), O_CLOEXEC) != 0) return ErrnoError(errno, "exec " + argv[0] + ": pipe");
  Fd out_r(out[0]), out_w(out[1]);
  if (::pipe2(err.data(), O_CLOEXEC) != 0) return ErrnoError(errno, "exec " + argv[0] + ": pipe");
  Fd err_r(err[0]), err_w(err[1]);
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  // Between fork and exec only async-signal-safe calls: the caller may have threads.
  const pid_t pid = ::fork();
  if (pid < 0) return ErrnoError(errno, "exec " + argv[0] + ": fork");
  if (pid == 0) {
    if (ns_fd.valid() && ::setns(ns_fd.get(), CLONE_NEWNET) != 0) _exit(126);
    ::dup2(in_r.get(), 0);
    ::dup2(out_w.get(), 1);
    ::dup2(err_w.get(), 2);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(program.c_str(), args.data(), environ);
    _exit(127);
  }
  in_r.Reset();
  out_w.Reset();
  err_w.Reset();

  ExecResult result;
  size_t written = 0;
  if (input.empty()) in_w.Reset();
  std::array<char, 4096> buf{};
  while (out_r.valid() || err_r.valid() || in_w.valid()) {
    std::array<pollfd, 3> fds{};
    fds[0] = {.fd = in_w.get(), .events = POLLOUT, .revents = 0};
    fds[1] = {.fd = out_r.get(), .events = POLLIN, .revents = 0};
    fds[2] = {.fd = err_r.get(), .events = POLLIN, .revents = 0};
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[0].revents != 0) {
      // MSG_NOSIGNAL does not exist for pipes; a child that exits without reading makes write()
      // fail with EPIPE only if SIGPIPE is ignored, so the poll error bits are checked first.
      if ((fds[0].revents & (POLLERR | POLLHUP)) != 0) {
        in_w.Reset();
      } else {
        const ssize_t n = ::write(in_w.get(), input.data() + written, input.size() - written);
        if (n > 0) written += static_cast<size_t>(n);
        if (n < 0 || written == input.size()) in_w.Reset();
      }
    }
    for (int i = 1; i <= 2; ++i) {
      if (fds[i].revents == 0) continue;
      const ssize_t n = ::read(fds[i].fd, buf.data(), buf.size());
      if (n > 0) {
        (i == 1 ? result.out : result.err).append(buf.data(), static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        (i == 1 ? out_r : err_r).Reset();
      }
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return ErrnoError(errno, "exec " + program + ": waitpid");
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (result.exit_code == 126 && !netns.empty() && result.err.empty()) {
    result.err = fmt::format("could not enter network namespace {}", netns);
  }
  return result;
}

Result<std::string> ExecOk(const std::vector<std::string>& argv, std::string_view input,
                           std::string_view netns) {
  FAULTLINE_ASSIGN_OR_RETURN(ExecResult r, Exec(argv, input, netns));
  if (r.exit_code != 0) {
    std::string cmd;
    for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
    std::string err = r.err;
    while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
    const auto nl = err.find('\n');
    if (nl != std::string::npos) err = err.substr(0, nl);
    return MakeError(ErrorCode::kInternal,
                     fmt::format("{}{}{}: exit {}: {}", cmd, netns.empty() ? "" : " in netns ",
                                 netns, r.exit_code, err));
  }
  return std::move(r.out);
}

Status WriteFileAtomic(const std::string& path, std::string_view content) {
  const std::string tmp = path + ".tmp";
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) return ErrnoError(errno, "write " + tmp);
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd.get(), content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, "write " + tmp);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0) return ErrnoError(errno, "fsync " + tmp);
  fd.Reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) return ErrnoError(errno, "rename " + tmp);
  const std::string dir = std::filesystem::path(path).parent_path().string();
  Fd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (d.valid()) ::fsync(d.get());
  return OkStatus();
}

Result<std::string> ReadFile(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoError(errno, "read " + path);
  std::string out;
  std::array<char, 8192> buf{};
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, "read " + path);
    }
    if (n == 0) break;
    out.append(buf.data(), static_cast<size_t>(n));
  }
  return out;
}

Status WriteExisting(const std::string& path, std::string_view content) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoError(errno, "write " + path);
  if (::write(fd.get(), content.data(), content.size()) < 0) {
    return ErrnoError(errno, "write " + path);
  }
  return OkStatus();
}

std::vector<std::string> ListNetns() {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/var/run/netns", ec)) {
    out.push_back(e.path().filename().string());
  }
  return out;
}

std::vector<std::string> ListRootLinks() {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/sys/class/net", ec)) {
    out.push_back(e.path().filename().string());
  }
  return out;
}

void MaybeCrashAt(std::string_view point) {
  const char* env = std::getenv("FAULTLINE_CRASH_AT");
  if (env == nullptr) return;
  if (std::string_view(env) == point) ::kill(::getpid(), SIGKILL);
}

}  // namespace faultline::cluster::internal
