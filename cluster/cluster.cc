#include "cluster/cluster.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

// glibc 2.36's <sys/pidfd.h> lacks C linkage declarations for C++.
extern "C" {
#include <sys/pidfd.h>
}

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "cluster/http.h"
#include "cluster/internal/cgroups.h"
#include "cluster/internal/state.h"
#include "cluster/internal/supervisor.h"
#include "cluster/internal/util.h"
#include "cluster/sshd.h"
#include "common/clock.h"
#include "common/fd.h"
#include "common/ports.h"
#include "common/process.h"
#include "nemesis/disk.h"

namespace faultline::cluster {

using nlohmann::json;
namespace fs = std::filesystem;

std::string_view DbName(Db db) { return db == Db::kEtcd ? "etcd" : "none"; }

Result<Db> ParseDb(std::string_view name) {
  if (name == "etcd") return Db::kEtcd;
  if (name == "none") return Db::kNone;
  return MakeError(ErrorCode::kInvalidArgument,
                   fmt::format("unknown database '{}' (expected etcd or none)", name));
}

std::string NodeState::ClientUrl() const {
  return fmt::format("http://{}:{}", address, kEtcdClientPort);
}
std::string NodeState::PeerUrl() const {
  return fmt::format("http://{}:{}", address, kEtcdPeerPort);
}

std::vector<std::string> ClusterState::NodeNames() const {
  std::vector<std::string> out;
  for (const auto& n : nodes) out.push_back(n.name);
  return out;
}

std::vector<std::string> ClusterState::ClientUrls() const {
  std::vector<std::string> out;
  for (const auto& n : nodes) out.push_back(n.ClientUrl());
  return out;
}

nemesis::NetConfig ClusterState::NetConfig() const {
  nemesis::NetConfig c;
  c.run_id = "fl" + name;
  for (const auto& n : nodes) {
    c.nodes.push_back({.name = n.name, .netns = n.netns, .address = n.address});
  }
  return c;
}

std::string DefaultStateRoot() {
  const char* env = std::getenv("FAULTLINE_STATE_DIR");
  if (env != nullptr && *env != '\0') return env;
  return "/var/lib/faultline";
}

namespace {

std::string Root(std::string_view state_root) {
  return state_root.empty() ? DefaultStateRoot() : std::string(state_root);
}

std::string StatePath(const std::string& root, std::string_view name) {
  return fmt::format("{}/{}", internal::RunDir(root, name), internal::kStateFile);
}

// Serialises Up and Down of clusters on this machine while subnets are chosen and names checked.
class MachineLock {
 public:
  static Result<MachineLock> Take() {
    MachineLock l;
    l.fd_.Reset(::open("/run/lock/faultline-cluster.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    if (!l.fd_.valid()) return ErrnoError(errno, "cluster: open lock file");
    while (::flock(l.fd_.get(), LOCK_EX) != 0) {
      if (errno != EINTR) return ErrnoError(errno, "cluster: lock");
    }
    return l;
  }
  void Release() { fd_.Reset(); }

 private:
  UniqueFd fd_;
};

std::int64_t NowUnixMs() { return WallNow().count() / 1000000; }

std::string Ms(std::int64_t ns) { return fmt::format("{} ms", ns / 1000000); }

Status Ip(const std::vector<std::string>& prefix, const std::string& batch) {
  std::vector<std::string> argv = {"ip"};
  argv.insert(argv.end(), prefix.begin(), prefix.end());
  argv.push_back("-batch");
  argv.push_back("-");
  auto r = RunProcessOk(argv, {.input = batch});
  if (!r) return r.error();
  return OkStatus();
}

Status BuildTopology(const ClusterState& s) {
  // Root: namespaces and every veth (created directly in its namespaces), the host end and its
  // address; then one batch per namespace. 2 + N execs instead of ~7 per node.
  std::string root;
  root += fmt::format("netns add {}\n", s.bridge_netns);
  for (const auto& n : s.nodes) root += fmt::format("netns add {}\n", n.netns);
  for (size_t k = 0; k < s.nodes.size(); ++k) {
    root += fmt::format("link add p{} netns {} type veth peer name eth0 netns {}\n", k + 1,
                        s.bridge_netns, s.nodes[k].netns);
  }
  root +=
      fmt::format("link add {} type veth peer name host netns {}\n", s.host_link, s.bridge_netns);
  root += fmt::format("addr add {}/24 dev {}\n", s.control_address, s.host_link);
  root += fmt::format("link set {} up\n", s.host_link);
  FAULTLINE_RETURN_IF_ERROR(Ip({}, root));
  std::string br = "link set lo up\nlink add br0 type bridge\nlink set br0 up\n";
  for (size_t k = 0; k < s.nodes.size(); ++k) {
    br += fmt::format("link set p{} master br0 up\n", k + 1);
  }
  br += "link set host master br0 up\n";
  FAULTLINE_RETURN_IF_ERROR(Ip({"-n", s.bridge_netns}, br));
  for (const auto& n : s.nodes) {
    FAULTLINE_RETURN_IF_ERROR(
        Ip({"-n", n.netns},
           fmt::format("link set lo up\naddr add {}/24 dev eth0\nlink set eth0 up\n", n.address)));
  }
  return OkStatus();
}

std::set<int> TakenOctets(const std::string& root) {
  std::set<int> taken;
  for (const std::string& name : List(root)) {
    if (auto s = Load(name, root)) {
      const auto o = internal::OctetsInText(s->subnet);
      taken.insert(o.begin(), o.end());
    }
  }
  for (const std::vector<std::string>& argv :
       {std::vector<std::string>{"ip", "-4", "-o", "addr"},
        std::vector<std::string>{"ip", "-4", "route", "show", "table", "all"}}) {
    if (auto out = RunProcessOk(argv)) {
      const auto o = internal::OctetsInText(*out);
      taken.insert(o.begin(), o.end());
    }
  }
  return taken;
}

// Ends a process we started, if it still is the one we recorded. Waits up to 5 s for it to go.
void EndProcess(const std::string& what, int pid, std::uint64_t start_time, DownReport& report) {
  if (pid <= 0) return;
  const auto st = internal::ProcessStartTime(pid);
  if (!st || internal::ProcessState(pid) == 'Z') return;  // gone (or a zombie awaiting its reaper)
  if (*st != start_time) {
    report.warnings.push_back(
        fmt::format("pid {} is no longer {} (start time {} != recorded {}): left alone", pid, what,
                    *st, start_time));
    return;
  }
  UniqueFd pfd(static_cast<int>(::pidfd_open(pid, 0)));
  if (!pfd.valid()) return;
  // Re-check through the pidfd's process: the pid cannot be reused while we hold it.
  if (internal::ProcessStartTime(pid).value_or(0) != start_time) return;
  (void)::pidfd_send_signal(pfd.get(), SIGKILL, nullptr, 0);
  for (int i = 0; i < 500 && internal::ProcessAlive(pid, start_time); ++i) ::usleep(10000);
  if (internal::ProcessAlive(pid, start_time)) {
    report.warnings.push_back(fmt::format("{} pid {}: still alive 5 s after SIGKILL", what, pid));
  } else {
    report.removed.push_back(fmt::format("{} pid {} (SIGKILL)", what, pid));
  }
}

// Whether any process named sshd runs (then /run/sshd may still be needed).
bool AnySshdRuns() {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const std::string pid = e.path().filename().string();
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream comm(e.path() / "comm");
    std::string name;
    if (std::getline(comm, name) && name == "sshd") return true;
  }
  return ec.value() != 0;  // unreadable /proc: assume one runs (leaving the directory is safe)
}

}  // namespace

std::vector<std::string> List(std::string_view state_root) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(Root(state_root) + "/clusters", ec)) {
    if (fs::exists(e.path() / std::string(internal::kStateFile))) {
      out.push_back(e.path().filename().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<ClusterState> Load(std::string_view name, std::string_view state_root) {
  FAULTLINE_RETURN_IF_ERROR(internal::ValidateName(name));
  const std::string path = StatePath(Root(state_root), name);
  if (!fs::exists(path)) {
    return MakeError(ErrorCode::kNotFound,
                     fmt::format("cluster {}: not recorded under {} (see 'faultline cluster list')",
                                 name, Root(state_root)));
  }
  return internal::LoadStateFile(path);
}

namespace {

// Asks the supervisor to end its children and exit; ends it by pid if it does not answer.
void EndSupervisor(const ClusterState& s, DownReport& report) {
  if (s.supervisor_pid > 0 && internal::ProcessAlive(s.supervisor_pid, s.supervisor_start_time)) {
    auto r = internal::SupervisorCall(s.socket_path, {{"cmd", "shutdown"}},
                                      std::chrono::milliseconds(20000));
    if (r) {
      for (const auto& k : (*r)["killed"]) report.removed.push_back(k.get<std::string>());
      // It exits right after answering; a zombie awaiting its reaper counts as gone.
      for (int i = 0; i < 300 && internal::ProcessAlive(s.supervisor_pid, s.supervisor_start_time);
           ++i) {
        ::usleep(10000);
      }
    } else {
      report.warnings.push_back("supervisor shutdown: " + r.error().message() +
                                " (ending it by pid)");
    }
    if (internal::ProcessAlive(s.supervisor_pid, s.supervisor_start_time)) {
      EndProcess("supervisor", s.supervisor_pid, s.supervisor_start_time, report);
    } else {
      report.removed.push_back(fmt::format("supervisor pid {}", s.supervisor_pid));
    }
  } else if (s.supervisor_pid > 0) {
    EndProcess("supervisor", s.supervisor_pid, s.supervisor_start_time, report);
  }
}

// Everything Down() does once the state is known. by_supervisor: called by the supervisor itself,
// which has already ended its children and must not be asked (or killed) as step 1 would.
DownReport DownState(const ClusterState& s, const std::string& root, bool by_supervisor) {
  const std::string& name = s.name;
  DownReport report;
  // 1. The supervisor ends its children itself (it is their parent, so it reaps them at once),
  // unless it is the caller and has done so already.
  if (!by_supervisor) EndSupervisor(s, report);
  // 2. Children the supervisor could not end (it crashed, or was killed above).
  for (const auto& n : s.nodes) {
    EndProcess(fmt::format("etcd {}", n.name), n.db_pid, n.db_start_time, report);
    EndProcess(fmt::format("sshd {}", n.name), n.sshd_pid, n.sshd_start_time, report);
  }
  // 3. Control groups.
  for (const auto& n : s.nodes) {
    auto removed = internal::RemoveCgroups(n.cgroups, &report.warnings);
    report.removed.insert(report.removed.end(), removed.begin(), removed.end());
  }
  // 4. Namespaces (deleting one destroys its veths, and with them their peers) and the link.
  std::vector<std::string> ours;
  for (const auto& n : s.nodes) ours.push_back(n.netns);
  ours.push_back(s.bridge_netns);
  const std::string prefix = fmt::format("fl-{}-", name);
  for (const auto& ns : internal::ListNetns()) {
    // Also n6..n9 of an earlier cluster of this name whose state was lost.
    if (ns.rfind(prefix, 0) == 0 && std::find(ours.begin(), ours.end(), ns) == ours.end()) {
      const std::string rest = ns.substr(prefix.size());
      if (rest == "br" || (rest.size() == 2 && rest[0] == 'n' && rest[1] >= '1' && rest[1] <= '9'))
        ours.push_back(ns);
    }
  }
  const auto present = internal::ListNetns();
  for (const auto& ns : ours) {
    if (std::find(present.begin(), present.end(), ns) == present.end()) continue;
    auto r = RunProcessOk({"ip", "netns", "del", ns});
    if (r) {
      report.removed.push_back("netns " + ns);
    } else {
      report.warnings.push_back(r.error().message());
    }
  }
  const auto links = internal::ListRootLinks();
  if (!s.host_link.empty() && std::find(links.begin(), links.end(), s.host_link) != links.end()) {
    auto r = RunProcessOk({"ip", "link", "del", s.host_link});
    if (r) {
      report.removed.push_back("link " + s.host_link);
    } else if (fs::exists("/sys/class/net/" + s.host_link)) {
      report.warnings.push_back(r.error().message());
    }
  }
  // 5. /run/sshd, if faultline made it and no other recorded --ssh cluster still needs it, nor
  // any sshd still running (clusters under other state roots, tests' sshd, the host's own).
  if (s.ssh) {
    bool other = AnySshdRuns();
    for (const std::string& n : List(root)) {
      if (n == s.name) continue;
      auto o = Load(n, root);
      other = other || !o || o->ssh;
    }
    if (!other) {
      auto r = RemoveRunSshdDirIfMade();
      if (!r) {
        report.warnings.push_back(r.error().message());
      } else if (*r) {
        report.removed.push_back(std::string("dir ") + kRunSshdDir);
      }
    }
  }
  // 6. The faulty filesystem a campaign mounted over a data dir (nemesis/disk.h), left mounted
  // when that campaign died: unmounted (lazily) before the run directory goes, so no mount
  // outlives the cluster; its server ends once the mount is gone.
  for (const NodeState& n : s.nodes) {
    if (!nemesis::IsDiskMounted(n.data_dir)) continue;
    auto r = nemesis::UnmountDisk(n.data_dir);
    if (r) {
      report.removed.push_back("faulty filesystem over " + n.data_dir);
    } else {
      report.warnings.push_back(r.error().message());
    }
  }
  // 7. The run directory (logs included: a campaign copies what it keeps before down).
  std::error_code ec;
  if (fs::exists(s.run_dir, ec)) {
    fs::remove_all(s.run_dir, ec);
    if (ec) {
      report.warnings.push_back(fmt::format("remove {}: {}", s.run_dir, ec.message()));
    } else {
      report.removed.push_back("run dir " + s.run_dir);
    }
  }
  return report;
}

}  // namespace

Result<DownReport> Down(std::string_view name, std::string_view state_root) {
  FAULTLINE_RETURN_IF_ERROR(internal::ValidateName(name));
  const std::string root = Root(state_root);
  auto loaded = Load(name, root);
  if (!loaded && loaded.error().code() != ErrorCode::kNotFound) {
    return loaded.error().WithContext(fmt::format("cluster down {}", name));
  }
  ClusterState s;
  if (loaded) {
    s = std::move(*loaded);
  } else {
    // Not recorded: still remove namespaces and the link that carry this cluster's name.
    s.name = std::string(name);
    s.run_dir = internal::RunDir(root, name);
    s.bridge_netns = fmt::format("fl-{}-br", name);
    s.host_link = fmt::format("fl-{}", name);
  }
  return DownState(s, root, false);
}

namespace internal {

DownReport DownBySupervisor(const ClusterState& state) {
  // run_dir is <state_root>/clusters/<name> (RunDir).
  const std::string root = fs::path(state.run_dir).parent_path().parent_path().string();
  return DownState(state, root, true);
}

}  // namespace internal

Status Disown(const ClusterState& state) {
  if (state.owner_pid == 0) return OkStatus();
  auto r = internal::SupervisorCall(state.socket_path, {{"cmd", "disown"}},
                                    std::chrono::milliseconds(5000));
  if (!r) return r.error().WithContext(fmt::format("cluster {}: disown", state.name));
  return OkStatus();
}

Result<ClusterState> Up(const ClusterSpec& spec, const Progress& progress) {
  const std::string ctx = fmt::format("cluster up {}", spec.name);
  auto say = [&](const std::string& line) {
    if (progress) progress(line);
  };
  FAULTLINE_RETURN_IF_ERROR(internal::ValidateName(spec.name));
  if (spec.nodes < 1 || spec.nodes > 9) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("{}: {} nodes: expected 1 to 9", ctx, spec.nodes));
  }
  if (::geteuid() != 0) {
    return MakeError(ErrorCode::kPermissionDenied,
                     fmt::format("{}: building namespaces needs root (run as root)", ctx));
  }
  if (spec.db == Db::kEtcd && ResolveProgram("etcd").empty()) {
    return MakeError(ErrorCode::kNotFound,
                     fmt::format("{}: etcd not found (apt-get install etcd-server)", ctx));
  }
  const std::int64_t t0 = MonotonicNow().count();
  const std::string root = Root(spec.state_root);

  FAULTLINE_ASSIGN_OR_RETURN(MachineLock lock, MachineLock::Take());
  if (fs::exists(StatePath(root, spec.name))) {
    return MakeError(ErrorCode::kUnavailable,
                     fmt::format("{}: a cluster of this name is already up (faultline cluster "
                                 "down --name {})",
                                 ctx, spec.name));
  }
  const auto present = internal::ListNetns();
  const std::string prefix = fmt::format("fl-{}-", spec.name);
  for (const auto& ns : present) {
    if (ns.rfind(prefix, 0) == 0) {
      return MakeError(ErrorCode::kUnavailable,
                       fmt::format("{}: namespace {} already exists (left over? faultline cluster "
                                   "down --name {})",
                                   ctx, ns, spec.name));
    }
  }
  if (fs::exists(fmt::format("/sys/class/net/fl-{}", spec.name))) {
    return MakeError(ErrorCode::kUnavailable,
                     fmt::format("{}: link fl-{} already exists (left over? faultline cluster "
                                 "down --name {})",
                                 ctx, spec.name, spec.name));
  }
  auto octet = internal::AllocateSubnet(spec.name, TakenOctets(root));
  if (!octet) return octet.error().WithContext(ctx);

  ClusterState s;
  s.name = spec.name;
  s.run_dir = internal::RunDir(root, spec.name);
  s.subnet = fmt::format("198.18.{}.0/24", *octet);
  s.control_address = fmt::format("198.18.{}.254", *octet);
  s.bridge_netns = fmt::format("fl-{}-br", spec.name);
  s.host_link = fmt::format("fl-{}", spec.name);
  s.db = spec.db;
  s.etcd = spec.etcd;
  s.ssh = spec.ssh;
  s.socket_path = s.run_dir + "/supervisor.sock";
  s.created_unix_ms = NowUnixMs();
  if (spec.owner_pid > 0) {
    auto start = internal::ProcessStartTime(spec.owner_pid);
    if (!start) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("{}: owner pid {} is not running", ctx, spec.owner_pid));
    }
    s.owner_pid = spec.owner_pid;
    s.owner_start_time = *start;
  }
  for (int k = 1; k <= spec.nodes; ++k) {
    NodeState n;
    n.name = fmt::format("n{}", k);
    n.netns = fmt::format("fl-{}-{}", spec.name, n.name);
    n.address = fmt::format("198.18.{}.{}", *octet, k);
    n.data_dir = fmt::format("{}/{}/data", s.run_dir, n.name);
    n.log_path = fmt::format("{}/{}/etcd.log", s.run_dir, n.name);
    n.cgroups = internal::PlanCgroups(spec.name, n.name);
    s.nodes.push_back(std::move(n));
  }
  std::error_code ec;
  for (const auto& n : s.nodes) fs::create_directories(fs::path(n.data_dir).parent_path(), ec);
  if (ec) {
    return MakeError(ErrorCode::kPermissionDenied,
                     fmt::format("{}: create {}: {}", ctx, s.run_dir, ec.message()));
  }
  // From here on everything made is recorded first, so Down() can remove it after any failure or
  // crash.
  auto cleanup = [&](Error e) -> Error {
    lock.Release();
    (void)Down(spec.name, root);
    return e.WithContext(ctx);
  };
  if (Status st = internal::SaveState(s); !st) return cleanup(st.error());

  const std::int64_t t_net = MonotonicNow().count();
  if (Status st = BuildTopology(s); !st) return cleanup(st.error());
  lock.Release();  // the subnet is now visible on this machine (the .254 address)
  say(fmt::format("network: {} node namespaces, bridge {}, link {} ({}/24) in {}", s.nodes.size(),
                  s.bridge_netns, s.host_link, s.control_address,
                  Ms(MonotonicNow().count() - t_net)));
  internal::MaybeCrashAt("cluster-up:after-netns");

  std::vector<std::string> notes;
  for (auto& n : s.nodes) n.cgroups = internal::CreateCgroups(n.cgroups, &notes);
  for (const auto& note : notes) say("warning: " + note);
  if (!s.nodes.empty()) {
    std::string ctls;
    for (const auto& [c, p] : s.nodes[0].cgroups) ctls += (ctls.empty() ? "" : ",") + c;
    say(fmt::format("cgroups per node: {} (under .../faultline/{}/<node>)", ctls, s.name));
  }
  internal::SupervisorConfig config;
  if (spec.ssh) {
    auto key = EnsureClientKey(s.run_dir + "/ssh");
    if (!key) return cleanup(key.error());
    s.ssh_private_key = key->private_key;
    s.ssh_nodes_file = s.run_dir + "/nodes.json";
    for (const auto& n : s.nodes) {
      auto argv = PrepareSshd(fmt::format("{}/{}", s.run_dir, n.name), n.address, *key);
      if (!argv) return cleanup(argv.error());
      config.sshd_argv[n.name] = *argv;
    }
    if (Status st = WriteNodesFile(s, *key); !st) return cleanup(st.error());
    say(fmt::format("ssh: key {}, nodes file {}", s.ssh_private_key, s.ssh_nodes_file));
  }
  if (Status st = internal::SaveSupervisorConfig(s.run_dir, config); !st) {
    return cleanup(st.error());
  }
  if (Status st = internal::SaveState(s); !st) return cleanup(st.error());
  internal::MaybeCrashAt("cluster-up:after-state");

  const std::int64_t t_sup = MonotonicNow().count();
  auto sup = internal::SpawnSupervisor(s, std::chrono::milliseconds(20000));
  if (!sup) return cleanup(sup.error());
  say(fmt::format("supervisor pid {} started {} in {}", sup->pid,
                  s.db == Db::kEtcd ? fmt::format("etcd on {} nodes", s.nodes.size())
                                    : std::string("no database"),
                  Ms(MonotonicNow().count() - t_sup)));
  internal::MaybeCrashAt("cluster-up:after-supervisor");

  if (s.db == Db::kEtcd) {
    const std::int64_t t_wait = MonotonicNow().count();
    const std::int64_t deadline = t_wait + std::int64_t{30} * 1000000000;
    std::string last;
    for (;;) {
      auto st = ProbeStatus(s, std::chrono::milliseconds(500));
      if (st) {
        bool all = st->leader.has_value();
        for (const auto& n : st->nodes) all = all && n.healthy && n.leader_claim == st->leader;
        if (all) {
          say(fmt::format("healthy: {} members, leader {}, after {} ({} since start)",
                          st->nodes.size(), *st->leader, Ms(MonotonicNow().count() - t_wait),
                          Ms(MonotonicNow().count() - t0)));
          break;
        }
        last.clear();
        for (const auto& n : st->nodes) {
          if (!n.healthy) {
            last += fmt::format("{}{}: {}", last.empty() ? "" : "; ", n.name,
                                n.probe_error.value_or("not healthy"));
          }
        }
        if (last.empty()) last = st->disagreement.value_or("no leader agreed by all members");
      } else {
        last = st.error().message();
      }
      if (MonotonicNow().count() > deadline) {
        return cleanup(Error(
            ErrorCode::kDeadlineExceeded,
            fmt::format("not healthy within 30 s: {} (see {}/n*/etcd.log)", last, s.run_dir)));
      }
      ::usleep(100000);
    }
  }
  auto final_state = Load(spec.name, root);
  if (!final_state) return cleanup(final_state.error());
  return final_state;
}

// ---------------------------------------------------------------------------------------------
// Status probes.

namespace {

struct NodeProbe {
  bool healthy = false;
  std::optional<std::string> leader_id;
  std::uint64_t term = 0;
  std::int64_t revision = 0;
  std::map<std::string, std::string> members;  // id -> name
  std::optional<std::string> error;
  std::chrono::microseconds latency{0};
};

std::uint64_t U64(const json& j, const char* key) {
  if (!j.contains(key)) return 0;
  const json& v = j[key];
  if (v.is_string()) return std::strtoull(v.get<std::string>().c_str(), nullptr, 10);
  if (v.is_number_unsigned() || v.is_number_integer()) return v.get<std::uint64_t>();
  return 0;
}

NodeProbe ProbeNode(const NodeState& n, std::chrono::milliseconds timeout) {
  NodeProbe p;
  HttpClient http(n.address, kEtcdClientPort);
  const std::int64_t t0 = MonotonicNow().count();
  try {
    auto h = http.Request("GET", "/health", "", timeout);
    if (!h) {
      p.error = h.error().message();
      return p;
    }
    p.latency = std::chrono::microseconds((MonotonicNow().count() - t0) / 1000);
    const json hj = json::parse(h->body, nullptr, false);
    p.healthy = hj.is_object() && hj.value("health", "") == "true";
    if (!p.healthy) p.error = fmt::format("/health: {}", h->body);
    auto st = http.Request("POST", "/v3/maintenance/status", "{}", timeout);
    if (!st) {
      if (!p.error) p.error = st.error().message();
      return p;
    }
    const json sj = json::parse(st->body, nullptr, false);
    if (sj.is_object()) {
      const std::uint64_t leader = U64(sj, "leader");
      if (leader != 0) p.leader_id = std::to_string(leader);
      p.term = U64(sj, "raftTerm");
      if (sj.contains("header"))
        p.revision = static_cast<std::int64_t>(U64(sj["header"], "revision"));
    }
    auto ml = http.Request("POST", "/v3/cluster/member/list", "{}", timeout);
    if (ml) {
      const json mj = json::parse(ml->body, nullptr, false);
      if (mj.is_object() && mj.contains("members")) {
        for (const json& m : mj["members"]) {
          p.members[std::to_string(U64(m, "ID"))] = m.value("name", "");
        }
      }
    }
  } catch (const std::exception& e) {
    p.error = fmt::format("probe {}: {}", n.name, e.what());
  }
  return p;
}

}  // namespace

Result<ClusterStatus> ProbeStatus(const ClusterState& state, std::chrono::milliseconds timeout) {
  ClusterStatus out;
  out.name = state.name;
  // Database processes as the supervisor sees them; from the state file if it does not answer.
  std::map<std::string, nemesis::DbProcess> dbs;
  auto ctl = MakeLocalControl(state);
  if (ctl) {
    if (auto d = (*ctl)->Databases()) {
      for (auto& p : *d) dbs[p.node] = p;
    }
  }
  std::vector<std::future<NodeProbe>> futures;
  for (const auto& n : state.nodes) {
    if (state.db != Db::kEtcd) break;
    futures.push_back(std::async(std::launch::async, ProbeNode, n, timeout));
  }
  std::map<std::string, std::string> id_to_name;
  std::vector<NodeProbe> probes;
  for (auto& f : futures) {
    probes.push_back(f.get());
    id_to_name.insert(probes.back().members.begin(), probes.back().members.end());
  }
  std::map<std::string, int> votes;
  int reachable = 0;
  for (size_t i = 0; i < state.nodes.size(); ++i) {
    const NodeState& n = state.nodes[i];
    NodeStatus ns;
    ns.name = n.name;
    ns.netns = n.netns;
    ns.address = n.address;
    if (auto it = dbs.find(n.name); it != dbs.end()) {
      ns.db = it->second;
    } else {
      ns.db.node = n.name;
      ns.db.pid = n.db_pid;
      ns.db.start_time = n.db_start_time;
      ns.db.alive = n.db_pid > 0 && internal::ProcessAlive(n.db_pid, n.db_start_time);
      ns.db.state = ns.db.alive ? "running (supervisor unreachable)" : "unknown";
    }
    if (i < probes.size()) {
      const NodeProbe& p = probes[i];
      ns.healthy = p.healthy;
      ns.probe_latency = p.latency;
      ns.raft_term = p.term;
      ns.revision = p.revision;
      ns.probe_error = p.error;
      if (p.leader_id) {
        auto it = id_to_name.find(*p.leader_id);
        ns.leader_claim = it != id_to_name.end() && !it->second.empty()
                              ? it->second
                              : fmt::format("member {}", *p.leader_id);
      }
      if (p.latency.count() > 0) ++reachable;
      if (ns.leader_claim) ++votes[*ns.leader_claim];
    } else if (state.db == Db::kNone) {
      ns.probe_error = "no database";
    }
    out.nodes.push_back(std::move(ns));
  }
  for (const auto& [name, count] : votes) {
    if (count * 2 > reachable) out.leader = name;
  }
  std::set<std::string> claims;
  for (const auto& n : out.nodes) {
    if (n.probe_latency.count() > 0) claims.insert(n.leader_claim.value_or("none"));
  }
  if (claims.size() > 1) {
    std::string d;
    for (const auto& n : out.nodes) {
      if (n.probe_latency.count() == 0) continue;
      d += fmt::format("{}{} says {}", d.empty() ? "" : ", ", n.name,
                       n.leader_claim.value_or("none"));
    }
    out.disagreement = d;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Restart policy and events.

Status SetRestartPolicy(const ClusterState& state, const RestartPolicy& policy) {
  auto r = internal::SupervisorCall(state.socket_path,
                                    {{"cmd", "set-restart-policy"},
                                     {"enabled", policy.enabled},
                                     {"initial_backoff_ms", policy.initial_backoff.count()},
                                     {"max_backoff_ms", policy.max_backoff.count()},
                                     {"max_restarts", policy.max_restarts},
                                     {"window_ms", policy.window.count()}},
                                    std::chrono::milliseconds(5000));
  if (!r) return r.error().WithContext(fmt::format("cluster {}: set restart policy", state.name));
  return OkStatus();
}

Result<std::vector<SupervisorEvent>> Events(const ClusterState& state, std::uint64_t after_seq) {
  auto r = internal::SupervisorCall(state.socket_path, {{"cmd", "events"}, {"after", after_seq}},
                                    std::chrono::milliseconds(5000));
  if (!r) return r.error().WithContext(fmt::format("cluster {}: events", state.name));
  std::vector<SupervisorEvent> out;
  try {
    for (const json& e : (*r)["events"]) {
      out.push_back({.seq = e.at("seq").get<std::uint64_t>(),
                     .mono_ns = e.at("mono_ns").get<std::int64_t>(),
                     .wall_ns = e.at("wall_ns").get<std::int64_t>(),
                     .node = e.at("node").get<std::string>(),
                     .kind = e.at("kind").get<std::string>(),
                     .detail = e.value("detail", ""),
                     .pid = e.value("pid", 0),
                     .by_safeguard = e.value("by_safeguard", false)});
    }
  } catch (const json::exception& ex) {
    return MakeError(ErrorCode::kInternal, fmt::format("cluster {}: events: malformed answer: {}",
                                                       state.name, ex.what()));
  }
  return out;
}

}  // namespace faultline::cluster
