#include "nemesis/machine_check.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/file.h"
#include "common/process.h"
#include "nemesis/clock.h"
#include "nemesis/disk.h"

namespace faultline::nemesis {
namespace {

MachineFact Fuse(const MachinePaths& p) {
  MachineFact f{.name = "fuse",
                .ok = false,
                .detail = {},
                .fix = {},
                .needed_by = "faulty filesystems under the nodes' data"};
  std::vector<std::string> missing;
  std::vector<std::string> fixes;
  const int fd = ::open(p.dev_fuse.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    missing.push_back(fmt::format("{}: {}", p.dev_fuse, std::strerror(errno)));
    fixes.push_back("modprobe fuse (or run with access to /dev/fuse)");
  } else {
    ::close(fd);
  }
  Result<std::string> fs = ReadFile(p.proc_filesystems);
  const bool kernel = fs && fs->find("\tfuse\n") != std::string::npos;
  if (!kernel) {
    missing.push_back(fmt::format("no fuse filesystem in {}", p.proc_filesystems));
    fixes.push_back("modprobe fuse");
  }
  const std::string fusermount =
      p.fusermount.empty() ? ResolveProgram("fusermount3") : p.fusermount;
  if (fusermount.empty() || ::access(fusermount.c_str(), X_OK) != 0) {
    missing.push_back("no fusermount3");
    fixes.push_back("apt-get install fuse3");
  }
  f.ok = missing.empty();
  f.detail = f.ok ? fmt::format("{}, kernel fuse, {}", p.dev_fuse, fusermount)
                  : fmt::format("{}", fmt::join(missing, "; "));
  if (!f.ok) f.fix = fmt::format("{}", fmt::join(fixes, "; "));
  return f;
}

MachineFact Faketime(const MachinePaths& p) {
  MachineFact f{.name = "libfaketime",
                .ok = false,
                .detail = {},
                .fix = {},
                .needed_by = "clock-bump, clock-strobe, clock-reset on a local cluster"};
  std::optional<std::string> lib = p.libfaketime.empty() ? FindLibfaketime() : p.libfaketime;
  if (lib && ::access(lib->c_str(), R_OK) == 0) {
    f.ok = true;
    f.detail = *lib;
    return f;
  }
  f.detail = lib ? fmt::format("{}: {}", *lib, std::strerror(errno))
                 : std::string(
                       "no libfaketime.so.1 (looked in /usr/lib/<multiarch>/faketime and "
                       "$FAULTLINE_LIBFAKETIME)");
  f.fix = "apt-get install libfaketime";
  return f;
}

MachineFact Nfqueue(const MachinePaths& p) {
  MachineFact f{.name = "nfqueue",
                .ok = false,
                .detail = {},
                .fix = {},
                .needed_by = "delay and the NFQUEUE packet faults"};
  std::vector<std::string> missing;
  std::vector<std::string> fixes;
  if (::access(p.nfqueue_proc.c_str(), F_OK) != 0) {
    missing.push_back(fmt::format("{} is absent (nfnetlink_queue not loaded)", p.nfqueue_proc));
    fixes.push_back("modprobe nfnetlink_queue xt_NFQUEUE");
  }
  const std::string iptables = p.iptables.empty() ? ResolveProgram("iptables") : p.iptables;
  if (iptables.empty() || ::access(iptables.c_str(), X_OK) != 0) {
    missing.push_back("no iptables");
    fixes.push_back("apt-get install iptables");
  }
  f.ok = missing.empty();
  f.detail = f.ok ? fmt::format("{}, {}", p.nfqueue_proc, iptables)
                  : fmt::format("{}", fmt::join(missing, "; "));
  if (!f.ok) f.fix = fmt::format("{}", fmt::join(fixes, "; "));
  return f;
}

}  // namespace

std::vector<MachineFact> CheckMachine(const MachinePaths& paths) {
  return {Fuse(paths), Faketime(paths), Nfqueue(paths)};
}

std::string DescribeMachine(const std::vector<MachineFact>& facts) {
  std::string out;
  for (const MachineFact& f : facts) {
    out += fmt::format("{:<7} {}: {}{} (for {})\n", f.ok ? "ok" : "MISSING", f.name, f.detail,
                       f.ok ? "" : fmt::format("; fix: {}", f.fix), f.needed_by);
  }
  return out;
}

std::vector<std::string> FactsNeeded(FaultKind kind, bool local) {
  if (IsClockFaultKind(kind)) {
    if (local) return {"libfaketime"};
    return {};
  }
  if (IsDiskFaultKind(kind)) return {"fuse"};
  if (kind == FaultKind::kDelay || kind == FaultKind::kDuplicate || kind == FaultKind::kReorder ||
      kind == FaultKind::kPacketCorrupt) {
    return {"nfqueue"};
  }
  return {};
}

Status RequireMachine(std::span<const FaultKind> kinds, bool local,
                      const std::vector<MachineFact>& facts) {
  std::vector<std::string> missing;
  for (const MachineFact& f : facts) {
    if (f.ok) continue;
    std::vector<std::string> users;
    for (FaultKind k : kinds) {
      const std::vector<std::string> needed = FactsNeeded(k, local);
      if (std::find(needed.begin(), needed.end(), f.name) != needed.end()) {
        users.emplace_back(FaultKindName(k));
      }
    }
    if (users.empty()) continue;
    missing.push_back(
        fmt::format("{} needs {}: {} (fix: {})", fmt::join(users, ", "), f.name, f.detail, f.fix));
  }
  if (missing.empty()) return OkStatus();
  return MakeError(ErrorCode::kUnavailable,
                   fmt::format("machine check: {}", fmt::join(missing, "; ")));
}

}  // namespace faultline::nemesis
