#include "cluster/internal/supervisor.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

// glibc 2.36's <sys/pidfd.h> lacks C linkage declarations for C++.
extern "C" {
#include <sys/pidfd.h>
}

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <memory>

#include "cluster/internal/state.h"
#include "cluster/internal/util.h"
#include "common/clock.h"
#include "common/fd.h"
#include "common/file.h"
#include "common/ports.h"
#include "common/process.h"

extern char** environ;

namespace faultline::cluster::internal {

using nlohmann::json;

namespace {

constexpr const char* kEnvRunDir = "FAULTLINE_CLUSTER_SUPERVISOR";
constexpr const char* kEnvReadyFd = "FAULTLINE_CLUSTER_SUPERVISOR_FD";

void Log(const std::string& line) {
  const std::string text = fmt::format("{} {}\n", WallNow().count() / 1000000, line);
  (void)!::write(2, text.data(), text.size());
}

}  // namespace

Status SaveSupervisorConfig(const std::string& run_dir, const SupervisorConfig& c) {
  json j = {{"sshd_argv", c.sshd_argv}};
  return WriteFileAtomic(fmt::format("{}/{}", run_dir, kSupervisorConfig), j.dump(2) + "\n");
}

std::vector<std::string> EtcdArgv(const ClusterState& state, const NodeState& node, bool existing) {
  std::string initial;
  for (const NodeState& n : state.nodes) {
    initial += fmt::format("{}{}={}", initial.empty() ? "" : ",", n.name, n.PeerUrl());
  }
  std::vector<std::string> argv = {
      "etcd",
      "--name",
      node.name,
      "--data-dir",
      node.data_dir,
      "--listen-peer-urls",
      node.PeerUrl(),
      "--listen-client-urls",
      fmt::format("{},http://127.0.0.1:{}", node.ClientUrl(), kEtcdClientPort),
      "--advertise-client-urls",
      node.ClientUrl(),
      "--initial-advertise-peer-urls",
      node.PeerUrl(),
      "--initial-cluster",
      initial,
      "--initial-cluster-token",
      fmt::format("fl-{}-{}", state.name, state.created_unix_ms),
      "--initial-cluster-state",
      existing ? "existing" : "new",
      "--heartbeat-interval",
      std::to_string(state.etcd.heartbeat_ms),
      "--election-timeout",
      std::to_string(state.etcd.election_ms),
      fmt::format("--pre-vote={}", state.etcd.pre_vote ? "true" : "false"),
      "--snapshot-count",
      std::to_string(state.etcd.snapshot_count),
      "--logger",
      "zap",
      "--log-outputs",
      node.log_path,
  };
  if (state.etcd.corrupt_check) {
    argv.push_back("--experimental-initial-corrupt-check=true");
    argv.push_back("--experimental-corrupt-check-time=1m");
  }
  argv.insert(argv.end(), state.etcd.extra_flags.begin(), state.etcd.extra_flags.end());
  return argv;
}

// ---------------------------------------------------------------------------------------------
// Client side.

Result<json> SupervisorCall(const std::string& socket_path, const json& request,
                            std::chrono::milliseconds timeout) {
  const std::string ctx = fmt::format("supervisor {}", socket_path);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(addr.sun_path)) {
    return MakeError(ErrorCode::kInvalidArgument, ctx + ": socket path too long");
  }
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return ErrnoError(errno, ctx + ": socket");
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    const int e = errno;
    Error err = ErrnoError(e, ctx + ": connect");
    if (e == ENOENT || e == ECONNREFUSED) {
      return Error(ErrorCode::kUnavailable,
                   err.message() + " (is the cluster up? see 'faultline cluster status')");
    }
    return err;
  }
  const std::string line = request.dump() + "\n";
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::send(fd.get(), line.data() + done, line.size() - done, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, ctx + ": send");
    }
    done += static_cast<size_t>(n);
  }
  std::string in;
  char buf[65536];
  while (in.find('\n') == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return MakeError(ErrorCode::kDeadlineExceeded,
                       fmt::format("{}: no answer to {} within {} ms", ctx,
                                   request.value("cmd", "?"), timeout.count()));
    }
    pollfd p{.fd = fd.get(), .events = POLLIN, .revents = 0};
    const int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    const ssize_t n = ::recv(fd.get(), buf, sizeof(buf), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, ctx + ": recv");
    }
    if (n == 0) return MakeError(ErrorCode::kUnavailable, ctx + ": closed without an answer");
    in.append(buf, static_cast<size_t>(n));
  }
  try {
    json reply = json::parse(in.substr(0, in.find('\n')));
    if (!reply.value("ok", false)) {
      return MakeError(ErrorCode::kUnavailable,
                       fmt::format("{}: {}", ctx, reply.value("error", "request failed")));
    }
    return reply;
  } catch (const json::exception& e) {
    return MakeError(ErrorCode::kInternal, fmt::format("{}: malformed answer: {}", ctx, e.what()));
  }
}

// ---------------------------------------------------------------------------------------------
// Spawning.

Result<SupervisorIdentity> SpawnSupervisor(const ClusterState& state,
                                           std::chrono::milliseconds timeout) {
  const std::string log_path = state.run_dir + "/supervisor.log";
  std::array<int, 2> p{-1, -1};
  if (::pipe2(p.data(), O_CLOEXEC) != 0) return ErrnoError(errno, "supervisor: pipe");
  UniqueFd ready_r(p[0]), ready_w(p[1]);

  // Everything the children need is prepared before fork: they may only make async-signal-safe
  // calls, as the caller may have threads.
  std::vector<std::string> env_store;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "FAULTLINE_CLUSTER_SUPERVISOR", 28) == 0) continue;
    if (std::strncmp(*e, "FAULTLINE_CRASH_AT=", 19) == 0) continue;
    env_store.emplace_back(*e);
  }
  env_store.push_back(fmt::format("{}={}", kEnvRunDir, state.run_dir));
  env_store.push_back(fmt::format("{}=3", kEnvReadyFd));
  std::vector<char*> envp;
  for (auto& s : env_store) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string arg0 = "faultline-supervisor";
  std::string arg1 = state.name;
  std::array<char*, 3> argv{arg0.data(), arg1.data(), nullptr};

  const pid_t mid = ::fork();
  if (mid < 0) return ErrnoError(errno, "supervisor: fork");
  if (mid == 0) {
    ::setsid();
    const pid_t daemon = ::fork();
    if (daemon != 0) _exit(daemon < 0 ? 1 : 0);
    const int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    const int null = ::open("/dev/null", O_RDONLY);
    if (log < 0 || null < 0) _exit(1);
    ::dup2(null, 0);
    ::dup2(log, 1);
    ::dup2(log, 2);
    ::dup2(ready_w.get(), 3);  // dup2 clears O_CLOEXEC on the copy
    ::close_range(4, ~0U, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve("/proc/self/exe", argv.data(), envp.data());
    _exit(127);
  }
  ready_w.Reset();
  int status = 0;
  while (::waitpid(mid, &status, 0) < 0 && errno == EINTR) {
  }
  std::string got;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[256];
  while (got.find('\n') == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return MakeError(
          ErrorCode::kDeadlineExceeded,
          fmt::format("supervisor: not ready within {} ms (see {})", timeout.count(), log_path));
    }
    pollfd pf{.fd = ready_r.get(), .events = POLLIN, .revents = 0};
    if (::poll(&pf, 1, static_cast<int>(left.count())) <= 0) continue;
    const ssize_t n = ::read(ready_r.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  int pid = 0;
  unsigned long long start = 0;
  if (std::sscanf(got.c_str(), "ready %d %llu", &pid, &start) != 2) {
    std::string tail;
    if (auto text = ReadFile(log_path)) {
      tail = *text;
      while (!tail.empty() && tail.back() == '\n') tail.pop_back();
      const auto nl = tail.rfind('\n');
      if (nl != std::string::npos) tail = tail.substr(nl + 1);
    }
    return MakeError(ErrorCode::kInternal, fmt::format("supervisor: failed to start: {} (see {})",
                                                       tail.empty() ? got : tail, log_path));
  }
  return SupervisorIdentity{.pid = pid, .start_time = start};
}

// ---------------------------------------------------------------------------------------------
// The daemon.

namespace {

struct Child {
  int pid = 0;
  std::uint64_t start_time = 0;
  UniqueFd pidfd;
  bool running() const { return pid > 0; }
};

struct Node {
  size_t index = 0;  // into state.nodes
  Child db;
  Child sshd;
  std::vector<std::string> sshd_argv;
  bool started_once = false;
  bool failed = false;
  int restarts = 0;
  std::string last_exit = "not started";
  std::deque<std::int64_t> safeguard_restarts;  // mono ns
  std::int64_t restart_due_ns = 0;              // 0: none pending
  std::string restart_detail;
};

struct Conn {
  UniqueFd fd;
  std::string in;
};

class Supervisor {
 public:
  Supervisor(ClusterState state, SupervisorConfig config)
      : state_(std::move(state)), config_(std::move(config)) {}

  int Run(int ready_fd);

 private:
  Status Listen();
  Status StartDb(Node& n, bool by_safeguard, const std::string& kind, const std::string& detail);
  Status StartSshd(Node& n);
  Result<Child> Spawn(const std::vector<std::string>& argv, const NodeState& ns,
                      const std::string& out_path, bool in_cgroups);
  void Reap(Node& n, bool by_command);
  void AfterExit(Node& n);
  void Event(const std::string& node, const std::string& kind, const std::string& detail, int pid,
             bool by_safeguard);
  void Persist();
  json Handle(const json& req);
  json StatusJson();
  json Process(const std::string& action, const std::vector<std::string>& nodes);
  json ProcessOne(Node& n, const std::string& action);
  bool WaitExit(Node& n, int timeout_ms);
  void Shutdown(json* killed);
  Node* Find(const std::string& name);
  void WatchOwner();

  ClusterState state_;
  SupervisorConfig config_;
  std::vector<Node> nodes_;
  UniqueFd listen_;
  std::vector<std::unique_ptr<Conn>> conns_;
  std::deque<json> events_;
  std::uint64_t next_seq_ = 1;
  RestartPolicy policy_;
  bool stop_ = false;
  // A pidfd on the owner while it is watched; invalid without owner or once disowned.
  UniqueFd owner_;
  bool owner_gone_ = false;
};

Node* Supervisor::Find(const std::string& name) {
  for (Node& n : nodes_) {
    if (state_.nodes[n.index].name == name) return &n;
  }
  return nullptr;
}

void Supervisor::Event(const std::string& node, const std::string& kind, const std::string& detail,
                       int pid, bool by_safeguard) {
  json e = {{"seq", next_seq_++},
            {"mono_ns", MonotonicNow().count()},
            {"wall_ns", WallNow().count()},
            {"node", node},
            {"kind", kind},
            {"detail", detail},
            {"pid", pid},
            {"by_safeguard", by_safeguard}};
  Log(fmt::format("event {} {} {} pid {}{}", node, kind, detail, pid,
                  by_safeguard ? " (safeguard)" : ""));
  events_.push_back(std::move(e));
  // Bounded: a flapping node under a long campaign must not grow the daemon without limit.
  while (events_.size() > 100000) events_.pop_front();
}

void Supervisor::Persist() {
  for (const Node& n : nodes_) {
    NodeState& ns = state_.nodes[n.index];
    ns.db_pid = n.db.pid;
    ns.db_start_time = n.db.start_time;
    ns.sshd_pid = n.sshd.pid;
    ns.sshd_start_time = n.sshd.start_time;
  }
  if (Status s = SaveState(state_); !s) Log("persist state: " + s.error().message());
}

Result<Child> Supervisor::Spawn(const std::vector<std::string>& argv, const NodeState& ns,
                                const std::string& out_path, bool in_cgroups) {
  const std::string program = ResolveProgram(argv[0]);
  if (program.empty()) {
    return MakeError(ErrorCode::kNotFound,
                     fmt::format("start {} on {}: {} not found (apt-get install etcd-server "
                                 "openssh-server)",
                                 argv[0], ns.name, argv[0]));
  }
  UniqueFd netns(::open(fmt::format("/var/run/netns/{}", ns.netns).c_str(), O_RDONLY | O_CLOEXEC));
  if (!netns.valid()) return ErrnoError(errno, fmt::format("start {}: open netns", ns.name));
  std::vector<UniqueFd> procs;
  if (in_cgroups) {
    for (const auto& [ctl, path] : ns.cgroups) {
      UniqueFd f(::open((path + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
      if (!f.valid()) {
        return ErrnoError(errno, fmt::format("start {}: open {}/cgroup.procs", ns.name, path));
      }
      procs.push_back(std::move(f));
    }
  }
  UniqueFd out(::open(out_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!out.valid()) return ErrnoError(errno, fmt::format("start {}: open {}", ns.name, out_path));
  std::array<int, 2> p{-1, -1};
  if (::pipe2(p.data(), O_CLOEXEC) != 0) return ErrnoError(errno, "start: pipe");
  UniqueFd err_r(p[0]), err_w(p[1]);
  std::vector<std::string> args_store = argv;
  std::vector<char*> args;
  for (auto& a : args_store) args.push_back(a.data());
  args.push_back(nullptr);
  const pid_t parent = ::getpid();

  const pid_t pid = ::fork();
  if (pid < 0) return ErrnoError(errno, "start: fork");
  if (pid == 0) {
    auto fail = [&](int st) {
      int msg[2] = {st, errno};
      (void)!::write(err_w.get(), msg, sizeof(msg));
      _exit(127);
    };
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) _exit(1);
    ::setpgid(0, 0);
    if (::setns(netns.get(), CLONE_NEWNET) != 0) fail(1);
    for (const UniqueFd& f : procs) {
      if (::write(f.get(), "0", 1) < 0) fail(2);
    }
    const int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, 0);
    ::dup2(out.get(), 1);
    ::dup2(out.get(), 2);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(program.c_str(), args.data(), environ);
    fail(3);
  }
  err_w.Reset();
  Child c;
  c.pid = pid;
  c.pidfd.Reset(static_cast<int>(::pidfd_open(pid, 0)));
  int msg[2] = {0, 0};
  ssize_t n = 0;
  do {
    n = ::read(err_r.get(), msg, sizeof(msg));
  } while (n < 0 && errno == EINTR);
  if (n > 0) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    static constexpr const char* kStage[] = {"", "enter network namespace", "join cgroup", "exec"};
    return ErrnoError(msg[1], fmt::format("start {} on {}: {}", argv[0], ns.name,
                                          kStage[std::clamp(msg[0], 0, 3)]));
  }
  if (!c.pidfd.valid()) return ErrnoError(errno, "start: pidfd_open");
  c.start_time = ProcessStartTime(pid).value_or(0);
  return c;
}

Status Supervisor::StartDb(Node& n, bool by_safeguard, const std::string& kind,
                           const std::string& detail) {
  const NodeState& ns = state_.nodes[n.index];
  const bool existing =
      n.started_once || std::filesystem::exists(std::filesystem::path(ns.data_dir) / "member");
  auto c = Spawn(EtcdArgv(state_, ns, existing), ns, ns.log_path, true);
  if (!c) return std::move(c).error();
  n.db = std::move(*c);
  n.started_once = true;
  n.last_exit.clear();
  Event(ns.name, kind,
        detail.empty() ? fmt::format("etcd, cluster state {}", existing ? "existing" : "new")
                       : detail,
        n.db.pid, by_safeguard);
  Persist();
  return OkStatus();
}

Status Supervisor::StartSshd(Node& n) {
  const NodeState& ns = state_.nodes[n.index];
  auto c =
      Spawn(n.sshd_argv, ns, std::filesystem::path(ns.log_path).parent_path() / "sshd.log", false);
  if (!c) return std::move(c).error();
  n.sshd = std::move(*c);
  Event(ns.name, "started", "sshd", n.sshd.pid, false);
  return OkStatus();
}

void Supervisor::Reap(Node& n, bool by_command) {
  int status = 0;
  pid_t r = 0;
  do {
    r = ::waitpid(n.db.pid, &status, 0);
  } while (r < 0 && errno == EINTR);
  std::string how = r < 0                 ? "exited"
                    : WIFSIGNALED(status) ? fmt::format("signal {}", WTERMSIG(status))
                                          : fmt::format("exit code {}", WEXITSTATUS(status));
  const int pid = n.db.pid;
  n.db = Child{};
  n.last_exit = how;
  Event(state_.nodes[n.index].name, by_command ? "killed" : "exited", how, pid, false);
  Persist();
}

// The safeguard: schedule a restart with backoff, or escalate after max_restarts in the window.
void Supervisor::AfterExit(Node& n) {
  if (!policy_.enabled || n.failed || stop_) return;
  const std::int64_t now = MonotonicNow().count();
  const std::int64_t window_ns = static_cast<std::int64_t>(policy_.window.count()) * 1000000;
  while (!n.safeguard_restarts.empty() && now - n.safeguard_restarts.front() > window_ns) {
    n.safeguard_restarts.pop_front();
  }
  const int done = static_cast<int>(n.safeguard_restarts.size());
  const std::string& name = state_.nodes[n.index].name;
  if (done >= policy_.max_restarts) {
    n.failed = true;
    n.restart_due_ns = 0;
    Event(name, "escalated",
          fmt::format("{} restarts within {} ms: node marked failed", done, policy_.window.count()),
          0, true);
    return;
  }
  std::int64_t backoff = policy_.initial_backoff.count();
  for (int i = 0; i < done && backoff < policy_.max_backoff.count(); ++i) backoff *= 2;
  backoff = std::min<std::int64_t>(backoff, policy_.max_backoff.count());
  n.restart_due_ns = now + backoff * 1000000;
  n.restart_detail =
      fmt::format("backoff {} ms, attempt {} of {}", backoff, done + 1, policy_.max_restarts);
}

bool Supervisor::WaitExit(Node& n, int timeout_ms) {
  pollfd p{.fd = n.db.pidfd.get(), .events = POLLIN, .revents = 0};
  const std::int64_t deadline =
      MonotonicNow().count() + static_cast<std::int64_t>(timeout_ms) * 1000000;
  for (;;) {
    const std::int64_t left = (deadline - MonotonicNow().count()) / 1000000;
    if (left <= 0) return false;
    const int r = ::poll(&p, 1, static_cast<int>(left));
    if (r > 0) return true;
    if (r < 0 && errno != EINTR) return false;
  }
}

json Supervisor::ProcessOne(Node& n, const std::string& action) {
  const NodeState& ns = state_.nodes[n.index];
  json rep = {{"node", ns.name}, {"ok", true}, {"pid_before", n.db.pid}};
  const std::int64_t t0 = MonotonicNow().count();
  auto fail = [&](const std::string& msg) {
    rep["ok"] = false;
    rep["error"] = fmt::format("{} {}: {}", action, ns.name, msg);
  };
  const auto wait_state = [&](bool stopped) {
    for (int i = 0; i < 1000; ++i) {
      const char st = ProcessState(n.db.pid);
      if ((st == 'T') == stopped) return true;
      ::usleep(1000);
    }
    return false;
  };
  if ((action == "start" || action == "restart") && state_.db != Db::kEtcd) {
    fail("this cluster runs no database (--db none)");
  } else if (action == "pause" || action == "resume") {
    if (!n.db.running()) {
      fail("no database process is running");
    } else {
      const int sig = action == "pause" ? SIGSTOP : SIGCONT;
      if (::pidfd_send_signal(n.db.pidfd.get(), sig, nullptr, 0) != 0) {
        fail(fmt::format("pidfd_send_signal: {}", std::strerror(errno)));
      } else if (!wait_state(action == "pause")) {
        fail(fmt::format("process state did not become {} within 1 s",
                         action == "pause" ? "stopped" : "running"));
      } else {
        rep["mechanism"] =
            fmt::format("{} through pidfd to etcd pid {} (start time {})",
                        action == "pause" ? "SIGSTOP" : "SIGCONT", n.db.pid, n.db.start_time);
        Event(ns.name, action == "pause" ? "paused" : "resumed",
              action == "pause" ? "SIGSTOP" : "SIGCONT", n.db.pid, false);
      }
    }
  } else if (action == "kill" || action == "restart") {
    std::string mech;
    if (n.db.running()) {
      const int pid = n.db.pid;
      const std::uint64_t st = n.db.start_time;
      if (::pidfd_send_signal(n.db.pidfd.get(), SIGKILL, nullptr, 0) != 0) {
        fail(fmt::format("pidfd_send_signal: {}", std::strerror(errno)));
      } else if (!WaitExit(n, 10000)) {
        fail(fmt::format("pid {} did not exit within 10 s of SIGKILL", pid));
      } else {
        n.restart_due_ns = 0;
        Reap(n, true);
        mech = fmt::format("SIGKILL through pidfd to etcd pid {} (start time {})", pid, st);
        if (action == "kill") AfterExit(n);
      }
    } else {
      mech = "no database process was running";
    }
    if (rep["ok"].get<bool>() && action == "restart") {
      n.failed = false;
      n.safeguard_restarts.clear();
      n.restart_due_ns = 0;
      if (Status s = StartDb(n, false, "restarted", "on command"); !s) {
        fail(s.error().message());
      } else {
        ++n.restarts;
        mech += fmt::format(", then started etcd pid {} (cluster state existing)", n.db.pid);
      }
    }
    rep["mechanism"] = mech;
  } else if (action == "start") {
    if (n.db.running()) {
      rep["mechanism"] = fmt::format("already running as pid {}", n.db.pid);
    } else {
      n.failed = false;
      n.safeguard_restarts.clear();
      n.restart_due_ns = 0;
      const bool had = n.started_once;
      if (Status s = StartDb(n, false, "started", ""); !s) {
        fail(s.error().message());
      } else {
        if (had) ++n.restarts;
        rep["mechanism"] = fmt::format("fork+exec etcd pid {} in netns {}", n.db.pid, ns.netns);
      }
    }
  } else {
    fail("unknown action");
  }
  rep["pid_after"] = n.db.pid;
  rep["took_ns"] = MonotonicNow().count() - t0;
  return rep;
}

json Supervisor::Process(const std::string& action, const std::vector<std::string>& nodes) {
  json reports = json::array();
  std::vector<Node*> targets;
  for (const auto& name : nodes) targets.push_back(Find(name));
  // Kills go out to every node first, so nodes die together rather than one after another.
  if (action == "kill" || action == "restart") {
    for (Node* n : targets) {
      if (n != nullptr && n->db.running()) {
        (void)::pidfd_send_signal(n->db.pidfd.get(), SIGKILL, nullptr, 0);
      }
    }
  }
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (targets[i] == nullptr) {
      reports.push_back({{"node", nodes[i]},
                         {"ok", false},
                         {"error", fmt::format("{} {}: no such node", action, nodes[i])}});
      continue;
    }
    reports.push_back(ProcessOne(*targets[i], action));
  }
  return {{"ok", true}, {"reports", reports}};
}

json Supervisor::StatusJson() {
  json nodes = json::array();
  for (const Node& n : nodes_) {
    const NodeState& ns = state_.nodes[n.index];
    const char st = n.db.running() ? ProcessState(n.db.pid) : 0;
    const bool paused = st == 'T' || st == 't';
    std::string state = n.failed          ? "failed"
                        : n.db.running()  ? (paused ? "paused" : "running")
                        : !n.started_once ? "not started"
                                          : fmt::format("exited ({})", n.last_exit);
    nodes.push_back({{"node", ns.name},
                     {"pid", n.db.pid},
                     {"start_time", n.db.start_time},
                     {"alive", n.db.running()},
                     {"paused", paused},
                     {"restarts", n.restarts},
                     {"state", state},
                     {"failed", n.failed},
                     {"sshd_pid", n.sshd.pid},
                     {"sshd_start_time", n.sshd.start_time}});
  }
  return {{"ok", true}, {"nodes", nodes}, {"pid", ::getpid()}};
}

void Supervisor::Shutdown(json* killed) {
  stop_ = true;
  for (Node& n : nodes_) {
    for (Child* c : {&n.db, &n.sshd}) {
      if (c->running()) (void)::pidfd_send_signal(c->pidfd.get(), SIGKILL, nullptr, 0);
    }
  }
  for (Node& n : nodes_) {
    const std::string& name = state_.nodes[n.index].name;
    for (Child* c : {&n.db, &n.sshd}) {
      if (!c->running()) continue;
      pollfd p{.fd = c->pidfd.get(), .events = POLLIN, .revents = 0};
      (void)::poll(&p, 1, 10000);
      int status = 0;
      const bool reaped = ::waitpid(c->pid, &status, WNOHANG) == c->pid;
      if (killed != nullptr) {
        killed->push_back(fmt::format("{} {} pid {}{}", c == &n.db ? "etcd" : "sshd", name, c->pid,
                                      reaped ? "" : " (not yet exited)"));
      }
      *c = Child{};
    }
  }
  Persist();
}

void Supervisor::WatchOwner() {
  if (state_.owner_pid <= 0) return;
  owner_.Reset(static_cast<int>(::pidfd_open(state_.owner_pid, 0)));
  // Checked after opening: while the pidfd is held the pid cannot be reused, so a start time that
  // still matches means the pidfd refers to the owner itself.
  if (!owner_.valid() ||
      ProcessStartTime(state_.owner_pid).value_or(0) != state_.owner_start_time) {
    owner_.Reset();
    owner_gone_ = true;
    return;
  }
  Log(fmt::format("watching owner pid {}: the cluster goes when it does", state_.owner_pid));
}

json Supervisor::Handle(const json& req) {
  const std::string cmd = req.value("cmd", "");
  if (cmd == "status") return StatusJson();
  if (cmd == "process") {
    return Process(req.value("action", ""), req.value("nodes", std::vector<std::string>{}));
  }
  if (cmd == "set-restart-policy") {
    policy_.enabled = req.value("enabled", false);
    policy_.initial_backoff = std::chrono::milliseconds(req.value("initial_backoff_ms", 100));
    policy_.max_backoff = std::chrono::milliseconds(req.value("max_backoff_ms", 2000));
    policy_.max_restarts = req.value("max_restarts", 5);
    policy_.window = std::chrono::milliseconds(req.value("window_ms", 60000));
    if (!policy_.enabled) {
      for (Node& n : nodes_) n.restart_due_ns = 0;
    }
    Log(fmt::format("restart policy: enabled {} backoff {}..{} ms, max {} in {} ms",
                    policy_.enabled, policy_.initial_backoff.count(), policy_.max_backoff.count(),
                    policy_.max_restarts, policy_.window.count()));
    return {{"ok", true}};
  }
  if (cmd == "events") {
    const std::uint64_t after = req.value("after", std::uint64_t{0});
    json out = json::array();
    for (const json& e : events_) {
      if (e["seq"].get<std::uint64_t>() > after) out.push_back(e);
    }
    return {{"ok", true}, {"events", out}};
  }
  if (cmd == "disown") {
    if (owner_.valid()) {
      Log(fmt::format("disowned by pid {}: stays until cluster down", state_.owner_pid));
    }
    owner_.Reset();
    state_.owner_pid = 0;
    state_.owner_start_time = 0;
    Persist();
    return {{"ok", true}};
  }
  if (cmd == "shutdown") {
    json killed = json::array();
    Shutdown(&killed);
    return {{"ok", true}, {"killed", killed}};
  }
  return {{"ok", false}, {"error", fmt::format("unknown command '{}'", cmd)}};
}

Status Supervisor::Listen() {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (state_.socket_path.size() >= sizeof(addr.sun_path)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("supervisor: socket path {} is too long (use a shorter "
                                 "--state-dir)",
                                 state_.socket_path));
  }
  std::memcpy(addr.sun_path, state_.socket_path.c_str(), state_.socket_path.size() + 1);
  ::unlink(state_.socket_path.c_str());
  listen_.Reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!listen_.valid()) return ErrnoError(errno, "supervisor: socket");
  if (::bind(listen_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return ErrnoError(errno, "supervisor: bind " + state_.socket_path);
  }
  ::chmod(state_.socket_path.c_str(), 0600);
  if (::listen(listen_.get(), 64) != 0) return ErrnoError(errno, "supervisor: listen");
  return OkStatus();
}

int Supervisor::Run(int ready_fd) {
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGHUP, SIG_IGN);
  // SIGTERM/SIGINT shut down cleanly through a signalfd-free self-pipe: block them and poll.
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  sigaddset(&term, SIGINT);
  ::sigprocmask(SIG_BLOCK, &term, nullptr);

  state_.supervisor_pid = ::getpid();
  state_.supervisor_start_time = ProcessStartTime(::getpid()).value_or(0);
  Persist();
  if (Status s = Listen(); !s) {
    Log(s.error().message());
    return 1;
  }
  for (size_t i = 0; i < state_.nodes.size(); ++i) {
    Node n;
    n.index = i;
    auto it = config_.sshd_argv.find(state_.nodes[i].name);
    if (it != config_.sshd_argv.end()) n.sshd_argv = it->second;
    nodes_.push_back(std::move(n));
  }
  for (Node& n : nodes_) {
    if (!n.sshd_argv.empty()) {
      if (Status s = StartSshd(n); !s) {
        Log(s.error().message());
        Shutdown(nullptr);
        return 1;
      }
    }
    if (state_.db == Db::kEtcd) {
      if (Status s = StartDb(n, false, "started", ""); !s) {
        Log(s.error().message());
        Shutdown(nullptr);
        return 1;
      }
    }
  }
  Persist();
  const std::string ready =
      fmt::format("ready {} {}\n", state_.supervisor_pid, state_.supervisor_start_time);
  (void)!::write(ready_fd, ready.data(), ready.size());
  ::close(ready_fd);
  Log(fmt::format("supervisor of cluster {} ready, pid {}", state_.name, ::getpid()));
  WatchOwner();

  while (!stop_ && !owner_gone_) {
    sigset_t pending;
    sigpending(&pending);
    if (sigismember(&pending, SIGTERM) != 0 || sigismember(&pending, SIGINT) != 0) {
      Log("signal: shutting down");
      Shutdown(nullptr);
      break;
    }
    std::vector<pollfd> fds;
    fds.push_back({.fd = listen_.get(), .events = POLLIN, .revents = 0});
    for (const auto& c : conns_) fds.push_back({.fd = c->fd.get(), .events = POLLIN, .revents = 0});
    const size_t child_base = fds.size();
    std::vector<std::pair<Node*, bool>> child_of;  // node, is_db
    for (Node& n : nodes_) {
      if (n.db.running()) {
        fds.push_back({.fd = n.db.pidfd.get(), .events = POLLIN, .revents = 0});
        child_of.emplace_back(&n, true);
      }
      if (n.sshd.running()) {
        fds.push_back({.fd = n.sshd.pidfd.get(), .events = POLLIN, .revents = 0});
        child_of.emplace_back(&n, false);
      }
    }
    const size_t owner_index = fds.size();
    if (owner_.valid()) fds.push_back({.fd = owner_.get(), .events = POLLIN, .revents = 0});
    // Wake for the next due restart, and at least every 200 ms to notice SIGTERM.
    std::int64_t timeout_ms = 200;
    const std::int64_t now = MonotonicNow().count();
    for (const Node& n : nodes_) {
      if (n.restart_due_ns != 0) {
        timeout_ms =
            std::clamp<std::int64_t>((n.restart_due_ns - now) / 1000000 + 1, 0, timeout_ms);
      }
    }
    const int r = ::poll(fds.data(), fds.size(), static_cast<int>(timeout_ms));
    if (r < 0 && errno != EINTR) {
      Log(fmt::format("poll: {}", std::strerror(errno)));
      break;
    }
    if (r > 0 && owner_.valid() && fds[owner_index].revents != 0) {
      Log(fmt::format("owner pid {} is gone", state_.owner_pid));
      owner_gone_ = true;
      break;
    }
    // Child exits.
    for (size_t i = 0; r > 0 && i < child_of.size(); ++i) {
      if (fds[child_base + i].revents == 0) continue;
      auto [n, is_db] = child_of[i];
      if (is_db) {
        Reap(*n, false);
        AfterExit(*n);
      } else {
        int status = 0;
        ::waitpid(n->sshd.pid, &status, 0);
        Event(state_.nodes[n->index].name, "exited", "sshd", n->sshd.pid, false);
        n->sshd = Child{};
      }
    }
    // Due restarts.
    for (Node& n : nodes_) {
      if (n.restart_due_ns == 0 || MonotonicNow().count() < n.restart_due_ns || n.db.running())
        continue;
      n.restart_due_ns = 0;
      n.safeguard_restarts.push_back(MonotonicNow().count());
      if (Status s = StartDb(n, true, "restarted", n.restart_detail); !s) {
        Event(state_.nodes[n.index].name, "restart-failed", s.error().message(), 0, true);
        AfterExit(n);
      } else {
        ++n.restarts;
      }
    }
    // Requests.
    for (size_t i = 0; r > 0 && i < conns_.size(); ++i) {
      if (fds[1 + i].revents == 0) continue;
      Conn& c = *conns_[i];
      char buf[65536];
      const ssize_t got = ::recv(c.fd.get(), buf, sizeof(buf), 0);
      if (got <= 0) {
        c.fd.Reset();
        continue;
      }
      c.in.append(buf, static_cast<size_t>(got));
      size_t nl = 0;
      while ((nl = c.in.find('\n')) != std::string::npos) {
        const std::string line = c.in.substr(0, nl);
        c.in.erase(0, nl + 1);
        json reply;
        try {
          reply = Handle(json::parse(line));
        } catch (const json::exception& e) {
          reply = {{"ok", false}, {"error", fmt::format("bad request: {}", e.what())}};
        }
        const std::string out = reply.dump() + "\n";
        // Replies are small; a client that does not read them loses its connection.
        (void)::send(c.fd.get(), out.data(), out.size(), MSG_NOSIGNAL);
      }
    }
    std::erase_if(conns_, [](const std::unique_ptr<Conn>& c) { return !c->fd.valid(); });
    if (r > 0 && (fds[0].revents & POLLIN) != 0) {
      for (;;) {
        const int fd = ::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) break;
        auto c = std::make_unique<Conn>();
        c->fd.Reset(fd);
        conns_.push_back(std::move(c));
      }
    }
  }
  ::unlink(state_.socket_path.c_str());
  conns_.clear();
  if (owner_gone_) {
    Log("owner gone: tearing the cluster down");
    Shutdown(nullptr);
    listen_.Reset();
    const DownReport down = DownBySupervisor(state_);
    for (const std::string& w : down.warnings) Log("teardown: " + w);
    Log(fmt::format("teardown: removed {}", fmt::join(down.removed, ", ")));
  }
  Log("supervisor exits");
  return 0;
}

int SupervisorMain(const char* run_dir, int ready_fd) {
  auto state = LoadStateFile(fmt::format("{}/{}", run_dir, kStateFile));
  if (!state) {
    Log("supervisor: " + state.error().message());
    return 1;
  }
  SupervisorConfig config;
  if (auto text = ReadFile(fmt::format("{}/{}", run_dir, kSupervisorConfig))) {
    try {
      json j = json::parse(*text);
      j.at("sshd_argv").get_to(config.sshd_argv);
    } catch (const json::exception& e) {
      Log(fmt::format("supervisor: {}: {}", kSupervisorConfig, e.what()));
      return 1;
    }
  }
  Supervisor s(std::move(*state), std::move(config));
  return s.Run(ready_fd);
}

// Runs before main() in any binary that links this library; see supervisor.h.
[[maybe_unused]] const bool kSupervisorHook = [] {
  const char* run_dir = std::getenv(kEnvRunDir);
  if (run_dir == nullptr) return false;
  const std::string dir = run_dir;
  const char* fd = std::getenv(kEnvReadyFd);
  const int ready_fd = fd != nullptr ? std::atoi(fd) : -1;
  // Children (etcd, sshd) must not inherit these and turn into supervisors themselves.
  ::unsetenv(kEnvRunDir);
  ::unsetenv(kEnvReadyFd);
  const int code = SupervisorMain(dir.c_str(), ready_fd);
  std::fflush(nullptr);
  _exit(code);
}();

}  // namespace

}  // namespace faultline::cluster::internal
