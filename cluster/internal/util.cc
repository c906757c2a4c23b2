#include "cluster/internal/util.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "common/fd.h"
#include "common/file.h"

namespace faultline::cluster::internal {
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
