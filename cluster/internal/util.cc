#include "cluster/internal/util.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>

#include "common/fd.h"
#include "common/file.h"
#include "common/process.h"

namespace faultline::cluster::internal {

std::optional<std::uint64_t> ProcessStartTime(int pid) {
  const auto st = ReadProcStat(pid);
  if (!st) return std::nullopt;
  return st->start_time;
}

char ProcessState(int pid) {
  const auto st = ReadProcStat(pid);
  return st ? st->state : 0;
}

bool ProcessAlive(int pid, std::uint64_t start_time) { return IsSameProcess(pid, start_time); }

Status WriteExisting(const std::string& path, std::string_view content) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
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
