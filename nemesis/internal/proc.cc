#include "nemesis/internal/proc.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>

#include "common/file.h"
#include "nemesis/internal/netns.h"

namespace faultline::nemesis::internal {
namespace {

bool GoneOrZombie(int pid) {
  const auto st = ReadProcStat(pid);
  return !st.has_value() || st->state == 'Z' || st->state == 'X';
}

}  // namespace

bool SignalIfSame(int pid, std::uint64_t start_time, int sig) {
  if (!IsSameProcess(pid, start_time)) return false;
  return ::kill(pid, sig) == 0;
}

std::string EndProcess(int pid, std::uint64_t start_time, std::chrono::milliseconds grace) {
  if (!IsSameProcess(pid, start_time)) {
    int status = 0;
    ::waitpid(pid, &status, WNOHANG);  // our zombie, if it is one
    return fmt::format("pid {} already gone", pid);
  }
  ::kill(pid, SIGTERM);
  ::kill(pid, SIGCONT);  // a stopped process acts on SIGTERM only once continued
  const auto start = std::chrono::steady_clock::now();
  bool killed = false;
  while (true) {
    int status = 0;
    ::waitpid(pid, &status, WNOHANG);
    if (GoneOrZombie(pid)) break;
    const auto waited = std::chrono::steady_clock::now() - start;
    if (!killed && waited > grace) {
      SignalIfSame(pid, start_time, SIGKILL);
      killed = true;
    }
    if (waited > grace + std::chrono::seconds(5)) {
      return fmt::format("pid {} did not end within {} ms of SIGKILL", pid, grace.count() + 5000);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  int status = 0;
  ::waitpid(pid, &status, WNOHANG);
  return fmt::format("pid {} ended ({})", pid, killed ? "SIGKILL" : "SIGTERM");
}

int SelfPid() { return static_cast<int>(::getpid()); }

std::uint64_t SelfStartTime() {
  static const std::uint64_t start = [] {
    const auto st = ReadProcStat(static_cast<int>(::getpid()));
    return st ? st->start_time : 0;
  }();
  return start;
}

std::vector<int> FindProcesses(const std::vector<std::string>& needles) {
  std::vector<int> out;
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return out;
  while (const dirent* e = ::readdir(dir)) {
    char* end = nullptr;
    const long pid = std::strtol(e->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    std::string cmdline = ReadFile(fmt::format("/proc/{}/cmdline", pid)).value_or("");
    for (char& c : cmdline) {
      if (c == '\0') c = ' ';
    }
    bool all = !cmdline.empty();
    for (const auto& n : needles) {
      if (cmdline.find(n) == std::string::npos) all = false;
    }
    if (all && !GoneOrZombie(static_cast<int>(pid))) out.push_back(static_cast<int>(pid));
  }
  ::closedir(dir);
  return out;
}

Result<std::string> HelperPath() {
  constexpr std::string_view kHelper = "faultline-nemesis-helper";
  if (const char* env = std::getenv("FAULTLINE_NEMESIS_HELPER"); env != nullptr && *env != 0) {
    if (::access(env, X_OK) == 0) return std::string(env);
    return MakeError(
        ErrorCode::kNotFound,
        fmt::format("nemesis helper: FAULTLINE_NEMESIS_HELPER={} is not executable", env));
  }
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) {
    return MakeError(ErrorCode::kInternal,
                     fmt::format("nemesis helper: read /proc/self/exe: {}", ec.message()));
  }
  const auto dir = self.parent_path();
  for (const auto& candidate : {dir / kHelper, dir / ".." / "nemesis" / kHelper}) {
    if (::access(candidate.c_str(), X_OK) == 0) {
      return std::filesystem::weakly_canonical(candidate, ec).string();
    }
  }
  return MakeError(ErrorCode::kNotFound,
                   fmt::format("nemesis helper: no {} next to {} (build the target "
                               "faultline-nemesis-helper, or set FAULTLINE_NEMESIS_HELPER)",
                               kHelper, self.string()));
}

Result<int> SpawnHelper(const std::vector<std::string>& argv,
                        std::chrono::milliseconds ready_timeout) {
  if (argv.empty()) return MakeError(ErrorCode::kInternal, "spawn: empty command line");
  std::array<int, 2> pipe_fds{-1, -1};
  if (::pipe2(pipe_fds.data(), O_CLOEXEC) != 0) {
    return ErrnoError(errno, "spawn " + argv[0] + ": pipe");
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  // Only async-signal-safe calls between fork and exec: the parent may have other threads.
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int err = errno;
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    if (devnull >= 0) ::close(devnull);
    return ErrnoError(err, "spawn " + argv[0] + ": fork");
  }
  if (pid == 0) {
    ::setsid();
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig : {SIGTERM, SIGINT, SIGPIPE, SIGHUP}) ::sigaction(sig, &dfl, nullptr);
    ::dup2(pipe_fds[1], 1);
    if (devnull >= 0) {
      ::dup2(devnull, 0);
      ::dup2(devnull, 2);
    }
    ::syscall(SYS_close_range, 3U, ~0U, 0U);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  if (devnull >= 0) ::close(devnull);
  std::string line;
  const auto deadline = std::chrono::steady_clock::now() + ready_timeout;
  bool eof = false;
  while (line.find('\n') == std::string::npos && !eof) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{.fd = pipe_fds[0], .events = POLLIN, .revents = 0};
    const int rc = ::poll(&p, 1, static_cast<int>(left.count()));
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) break;
    std::array<char, 512> buf{};
    const ssize_t n = ::read(pipe_fds[0], buf.data(), buf.size());
    if (n <= 0) {
      eof = true;
    } else {
      line.append(buf.data(), static_cast<size_t>(n));
    }
  }
  ::close(pipe_fds[0]);
  const auto nl = line.find('\n');
  const std::string first = line.substr(0, nl);
  if (first == "ready") return static_cast<int>(pid);
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (first.empty()) {
    return MakeError(ErrorCode::kUnavailable,
                     fmt::format("spawn {}: no ready line within {} ms{}", argv[0],
                                 ready_timeout.count(), eof ? " (it exited)" : ""));
  }
  return MakeError(ErrorCode::kUnavailable, fmt::format("spawn {}: {}", argv[0], first));
}

void MaybeCrash(const char* point) {
  const char* at = std::getenv("FAULTLINE_CRASH_AT");
  if (at == nullptr || std::strcmp(at, point) != 0) return;
  ::kill(::getpid(), SIGKILL);
  while (true) ::pause();
}

}  // namespace faultline::nemesis::internal
