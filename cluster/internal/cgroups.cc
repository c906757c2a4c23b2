#include "cluster/internal/cgroups.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>
#include <sstream>

#include "cluster/internal/util.h"
#include "common/file.h"

namespace faultline::cluster::internal {
namespace {

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(s);
  while (std::getline(in, item, sep)) out.push_back(item);
  return out;
}

}  // namespace

std::map<std::string, std::string> PlanCgroups(const std::string& cluster,
                                               const std::string& node) {
  // Our own group per hierarchy: "4:memory:/some/path", "0::/".
  std::map<std::string, std::string> own;  // controller or "" (v2) -> path
  if (auto text = ReadFile("/proc/self/cgroup")) {
    std::istringstream in(*text);
    std::string line;
    while (std::getline(in, line)) {
      const auto a = line.find(':');
      const auto b = line.find(':', a + 1);
      if (a == std::string::npos || b == std::string::npos) continue;
      const std::string ctls = line.substr(a + 1, b - a - 1);
      const std::string path = line.substr(b + 1);
      if (ctls.empty()) {
        own[""] = path;
      } else {
        for (const auto& c : Split(ctls, ',')) own[c] = path;
      }
    }
  }
  const std::string suffix = fmt::format("faultline/{}/{}", cluster, node);
  auto join = [&](const std::string& mount, const std::string& cur) {
    std::string base = mount;
    if (!cur.empty() && cur != "/") base += cur;
    return fmt::format("{}/{}", base, suffix);
  };
  std::map<std::string, std::string> plan;
  auto text = ReadFile("/proc/self/mounts");
  if (!text) return plan;
  static const std::set<std::string> kWanted = {"cpu", "cpuacct", "memory", "blkio", "freezer"};
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    const auto f = Split(line, ' ');
    if (f.size() < 4) continue;
    if (f[2] == "cgroup2") {
      plan["unified"] = join(f[1], own.count("") != 0 ? own[""] : "/");
    } else if (f[2] == "cgroup") {
      for (const auto& opt : Split(f[3], ',')) {
        if (kWanted.count(opt) != 0) plan[opt] = join(f[1], own.count(opt) != 0 ? own[opt] : "/");
      }
    }
  }
  return plan;
}

std::map<std::string, std::string> CreateCgroups(const std::map<std::string, std::string>& plan,
                                                 std::vector<std::string>* notes) {
  std::map<std::string, std::string> made;
  for (const auto& [ctl, path] : plan) {
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec || !std::filesystem::exists(path + "/cgroup.procs")) {
      if (notes != nullptr) {
        notes->push_back(fmt::format("cgroup {} {}: {}", ctl, path,
                                     ec ? ec.message() : "no cgroup.procs (not a cgroup)"));
      }
      continue;
    }
    made[ctl] = path;
  }
  return made;
}

namespace {

// Kills every process in a v2 group (cgroup.kill) and waits up to 2 s for it to empty. A line
// naming what was killed, or "" when the group was empty or is gone.
std::string KillCgroup(const std::string& dir, std::vector<std::string>* warnings) {
  Result<std::string> procs = ReadFile(dir + "/cgroup.procs");
  if (!procs || procs->empty()) return "";
  std::vector<std::string> pids = Split(*procs, '\n');
  std::erase(pids, std::string());
  if (Status st = WriteExisting(dir + "/cgroup.kill", "1"); !st) {
    if (warnings != nullptr)
      warnings->push_back(fmt::format("cgroup {}: kill: {}", dir, st.error().message()));
    return "";
  }
  for (int i = 0; i < 40; ++i) {
    Result<std::string> events = ReadFile(dir + "/cgroup.events");
    if (!events || events->find("populated 0") != std::string::npos) break;
    ::usleep(50000);
  }
  return fmt::format("killed {} process(es) left in cgroup {} (pids {})", pids.size(), dir,
                     fmt::join(pids, ","));
}

}  // namespace

std::vector<std::string> RemoveCgroups(const std::map<std::string, std::string>& groups,
                                       std::vector<std::string>* warnings) {
  std::vector<std::string> removed;
  if (auto unified = groups.find("unified"); unified != groups.end()) {
    std::string killed = KillCgroup(unified->second, warnings);
    if (!killed.empty()) removed.push_back(std::move(killed));
  }
  std::set<std::string> paths;
  for (const auto& [ctl, path] : groups) paths.insert(path);
  std::set<std::string> parents;
  for (const std::string& path : paths) {
    const std::filesystem::path p(path);
    parents.insert(p.parent_path().string());                // faultline/<cluster>
    parents.insert(p.parent_path().parent_path().string());  // faultline
    if (!std::filesystem::exists(p)) continue;
    bool ok = false;
    int err = 0;
    // Tasks that just exited may keep a group busy for a moment.
    for (int i = 0; i < 60 && !ok; ++i) {
      ok = ::rmdir(path.c_str()) == 0 || errno == ENOENT;
      err = errno;
      if (!ok && err != EBUSY) break;
      if (!ok) ::usleep(50000);
    }
    if (ok) {
      removed.push_back("cgroup " + path);
    } else if (warnings != nullptr) {
      warnings->push_back(fmt::format("cgroup {}: rmdir: {}", path, std::strerror(err)));
    }
  }
  // Deepest first: faultline/<cluster> before faultline. Busy or non-empty parents (another
  // cluster) stay.
  for (auto it = parents.rbegin(); it != parents.rend(); ++it) (void)::rmdir(it->c_str());
  return removed;
}

}  // namespace faultline::cluster::internal
