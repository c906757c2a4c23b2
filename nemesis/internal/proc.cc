#include "nemesis/internal/proc.h"

#include <dirent.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>

#include "common/file.h"

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
  auto started = Spawn(argv, SpawnOptions{.in = Stdio::kNull,
                                          .out = Stdio::kPipe,
                                          .err = Stdio::kNull,
                                          .netns_path = "",
                                          .new_session = true});
  if (!started) return std::move(started).error().WithContext("spawn " + argv[0]);
  Child child = std::move(started).value();
  std::string line;
  const auto deadline = std::chrono::steady_clock::now() + ready_timeout;
  bool eof = false;
  // The first line that is not "starting" (a helper's word that it runs, before it changes
  // anything) answers.
  static constexpr std::string_view kStarting = "starting\n";
  const auto answered = [&line] {
    while (line.starts_with(kStarting)) line.erase(0, kStarting.size());
    return line.find('\n') != std::string::npos;
  };
  while (!answered() && !eof) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{.fd = child.out.get(), .events = POLLIN, .revents = 0};
    const int rc = ::poll(&p, 1, static_cast<int>(left.count()));
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) break;
    std::array<char, 512> buf{};
    const ssize_t n = ::read(child.out.get(), buf.data(), buf.size());
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) {
      eof = true;
    } else {
      line.append(buf.data(), static_cast<size_t>(n));
    }
  }
  const std::string first = line.substr(0, line.find('\n'));
  // Not reaped here: EndProcess reaps it when called from this process; if this process exits
  // first, init does.
  if (first == "ready") return static_cast<int>(child.pid);
  ::kill(child.pid, SIGKILL);
  WaitExit(child.pid);
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
