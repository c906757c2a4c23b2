// A system run by the commands of its system file (systems/system_file.h), and the registry.
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <thread>

#include "client/exec.h"
#include "common/parallel.h"
#include "common/process.h"
#include "common/shell.h"
#include "systems/internal/builtin.h"
#include "systems/internal/redis.h"
#include "systems/registry.h"

namespace faultline::systems {
namespace {

using nemesis::ProcessAction;
using Clock = std::chrono::steady_clock;

constexpr std::chrono::seconds kCommandTimeout{30};
constexpr std::chrono::seconds kProbeTimeout{5};

std::string FirstLine(std::string_view s) {
  while (!s.empty() && (s.front() == '\n' || s.front() == ' ')) s.remove_prefix(1);
  return std::string(s.substr(0, s.find('\n')));
}

class FileSystem;

// Process faults as the system file's commands.
class CommandControl final : public nemesis::NodeControl {
 public:
  CommandControl(const FileSystem& system, SystemCluster cluster, nemesis::NodeControl& base)
      : system_(system), cluster_(std::move(cluster)), base_(base) {}

  std::string_view Name() const override { return base_.Name(); }
  std::vector<std::string> Nodes() const override { return base_.Nodes(); }
  std::vector<nemesis::ProcessReport> Process(const std::vector<std::string>& nodes,
                                              ProcessAction action) override;
  Result<std::vector<nemesis::DbProcess>> Databases() override;
  Result<nemesis::CommandOutput> Run(std::string_view node, std::string_view command,
                                     std::string_view input) override {
    return base_.Run(node, command, input);
  }

 private:
  nemesis::ProcessReport OneNode(const SystemNode& node, ProcessAction action);

  const FileSystem& system_;
  const SystemCluster cluster_;
  nemesis::NodeControl& base_;
};

class FileSystem final : public System {
 public:
  explicit FileSystem(SystemFile file) : file_(std::move(file)) {
    info_.name = file_.name;
    info_.workloads = file_.workloads;
    info_.client_port = file_.client_port;
    info_.default_nodes = file_.nodes;
    info_.local_db = cluster::Db::kNone;
    if (file_.clock == "libfaketime") {
      info_.clock = ClockSupport::Libfaketime();
    } else {
      info_.clock = ClockSupport::None(fmt::format(
          "its system file {} does not declare \"clock\": \"libfaketime\" (add it if its "
          "servers read the time through libc; Go programs do not)",
          file_.path));
    }
  }

  const SystemInfo& Info() const override { return info_; }

  Placeholders Values(const SystemCluster& cluster, const SystemNode* node) const {
    Placeholders p{{"peers", cluster.Peers()}, {"cluster", cluster.name}, {"dir", file_.dir}};
    p["node"] = node ? node->name : "";
    p["address"] = node ? node->address : "";
    p["port"] = node ? std::to_string(node->port) : std::to_string(file_.client_port);
    p["data_dir"] = node ? node->data_dir : "";
    p["log_dir"] = node ? node->log_dir : "";
    return p;
  }

  // Runs one of the file's commands on the node through /bin/sh, in the file's directory, bounded
  // by `timeout`. `detach`: the output goes to {log_dir}/commands.log, not to pipes a daemon could
  // hold open (start, setup).
  Result<nemesis::CommandOutput> RunCommand(nemesis::NodeControl& shell,
                                            const SystemCluster& cluster, const SystemNode& node,
                                            std::string_view which, const std::string& command,
                                            std::chrono::seconds timeout, bool detach) const {
    FAULTLINE_ASSIGN_OR_RETURN(std::string expanded,
                               ExpandPlaceholders(command, Values(cluster, &node)));
    if (which == "start" && info_.clock.libfaketime && cluster.local != nullptr) {
      FAULTLINE_ASSIGN_OR_RETURN(std::string exports, ClockExports(cluster, node));
      expanded = exports + expanded;
    }
    std::string script = fmt::format("cd {} && {}", ShellQuote(file_.dir), expanded);
    std::string line = fmt::format("timeout -k 2 {} /bin/sh -c {} </dev/null", timeout.count(),
                                   ShellQuote(script));
    if (detach) line += fmt::format(" >>{} 2>&1", ShellQuote(node.log_dir + "/commands.log"));
    Result<nemesis::CommandOutput> out = shell.Run(node.name, line);
    if (!out) {
      return out.error().WithContext(
          fmt::format("system {}: {} on {}", info_.name, which, node.name));
    }
    return out;
  }

  // The server runs under libfaketime with the node's timestamp file when that file exists: the
  // runner makes it before the servers start when a run plans clock faults (PrepareClockFiles),
  // so servers of runs without them are left untouched.
  Result<std::string> ClockExports(const SystemCluster& cluster, const SystemNode& node) const {
    const std::string file = ClockFile(cluster, node);
    if (::access(file.c_str(), F_OK) != 0) return std::string();
    const std::optional<std::string> library = nemesis::FindLibfaketime();
    if (!library) {
      return MakeError(ErrorCode::kUnavailable,
                       fmt::format("system {}: start on {}: libfaketime.so.1 is not installed "
                                   "(apt-get install libfaketime)",
                                   info_.name, node.name));
    }
    return nemesis::FaketimeExports(*library, file);
  }

  // Like RunCommand, but a non-zero exit is an error with the command's first stderr line.
  Status RunOk(nemesis::NodeControl& shell, const SystemCluster& cluster, const SystemNode& node,
               std::string_view which, const std::string& command, std::chrono::seconds timeout,
               bool detach) const {
    FAULTLINE_ASSIGN_OR_RETURN(nemesis::CommandOutput out,
                               RunCommand(shell, cluster, node, which, command, timeout, detach));
    if (out.exit_code == 0) return OkStatus();
    std::string why = FirstLine(out.err);
    if (why.empty() && detach) why = fmt::format("see {}/commands.log", node.log_dir);
    if (out.exit_code == 124 || out.exit_code == 137) {
      why = fmt::format("timed out after {} s", timeout.count());
    }
    return MakeError(
        ErrorCode::kUnavailable,
        fmt::format("system {}: {} on {}: exit code {}{}", info_.name, which, node.name,
                    out.exit_code, why.empty() ? "" : fmt::format(": {}", why)));
  }

  // The server's pid as the file's pid command prints it; 0 when it prints nothing.
  Result<int> Pid(nemesis::NodeControl& shell, const SystemCluster& cluster,
                  const SystemNode& node) const {
    FAULTLINE_ASSIGN_OR_RETURN(
        nemesis::CommandOutput out,
        RunCommand(shell, cluster, node, "pid", file_.commands.pid, kProbeTimeout, false));
    const std::string text = FirstLine(out.out);
    if (text.empty()) return 0;
    try {
      size_t used = 0;
      const int pid = std::stoi(text, &used);
      if (used == text.size() && pid > 0) return pid;
    } catch (const std::exception&) {
    }
    return MakeError(ErrorCode::kUnavailable,
                     fmt::format("system {}: pid on {}: printed '{}' (expected a pid or nothing)",
                                 info_.name, node.name, text));
  }

  // Sends `sig` to the node's server pid: kill(2) on a local cluster (its namespaces share this
  // machine's pids), `kill -SIG PID` through the shell on a node over SSH.
  Status Signal(nemesis::NodeControl& shell, const SystemCluster& cluster, const SystemNode& node,
                int pid, int sig, std::string_view sig_name) const {
    if (cluster.local != nullptr) {
      if (::kill(pid, sig) == 0) return OkStatus();
      return MakeError(ErrorCode::kUnavailable,
                       fmt::format("kill {} pid {}: {}", sig_name, pid, std::strerror(errno)));
    }
    const std::string_view bare =
        sig_name.starts_with("SIG") ? sig_name.substr(3) : sig_name;  // "STOP"
    Result<nemesis::CommandOutput> out =
        shell.Run(node.name, fmt::format("kill -{} {}", bare, pid));
    if (!out) return out.error();
    if (out->exit_code != 0) {
      return MakeError(ErrorCode::kUnavailable, fmt::format("kill -{} {} on {}: {}", bare, pid,
                                                            node.name, FirstLine(out->err)));
    }
    return OkStatus();
  }

  // The server's /proc/PID/stat: read here on a local cluster, through the shell over SSH.
  std::optional<ProcStat> Stat(nemesis::NodeControl& shell, const SystemCluster& cluster,
                               const SystemNode& node, int pid) const {
    if (cluster.local != nullptr) return ReadProcStat(pid);
    Result<nemesis::CommandOutput> out =
        shell.Run(node.name, fmt::format("cat /proc/{}/stat 2>/dev/null", pid));
    if (!out || out->exit_code != 0) return std::nullopt;
    // "pid (comm) S ppid ... starttime(22) ..."; comm may hold spaces.
    const size_t close = out->out.rfind(')');
    if (close == std::string::npos) return std::nullopt;
    std::istringstream fields(out->out.substr(close + 1));
    ProcStat st;
    std::string field;
    fields >> st.state;
    for (int k = 4; k <= 22 && fields >> field; ++k) {
      if (k == 22) st.start_time = std::strtoull(field.c_str(), nullptr, 10);
    }
    return st;
  }

  bool IsUp(nemesis::NodeControl& shell, const SystemCluster& cluster,
            const SystemNode& node) const {
    Result<nemesis::CommandOutput> out =
        RunCommand(shell, cluster, node, "is_up", file_.commands.is_up, kProbeTimeout, false);
    return out && out->exit_code == 0;
  }

  Status Form(const SystemCluster& cluster, nemesis::NodeControl& shell,
              std::chrono::milliseconds timeout, const Progress& progress) override {
    if (progress) {
      progress(fmt::format("system {}: starting {} nodes ({})", info_.name, cluster.nodes.size(),
                           file_.path));
    }
    std::vector<Status> started = ParallelFor(cluster.nodes.size(), [&](size_t i) -> Status {
      const SystemNode& n = cluster.nodes[i];
      if (!file_.commands.setup.empty()) {
        FAULTLINE_RETURN_IF_ERROR(
            RunOk(shell, cluster, n, "setup", file_.commands.setup, kCommandTimeout * 4, true));
      }
      return RunOk(shell, cluster, n, "start", file_.commands.start, kCommandTimeout * 2, true);
    });
    for (const Status& s : started) FAULTLINE_RETURN_IF_ERROR(s);
    const Clock::time_point deadline = Clock::now() + timeout;
    while (true) {
      Status ready = Ready(cluster, shell);
      if (ready) break;
      if (Clock::now() >= deadline) {
        return MakeError(ErrorCode::kDeadlineExceeded,
                         fmt::format("system {}: not up after {} ms: {} (see the node's "
                                     "{{log_dir}})",
                                     info_.name, timeout.count(), ready.error().message()));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    if (progress) progress(fmt::format("system {}: every node is up", info_.name));
    return OkStatus();
  }

  Result<std::unique_ptr<nemesis::NodeControl>> Control(const SystemCluster& cluster,
                                                        nemesis::NodeControl& base) override {
    return std::unique_ptr<nemesis::NodeControl>(
        std::make_unique<CommandControl>(*this, cluster, base));
  }

  Status Ready(const SystemCluster& cluster, nemesis::NodeControl& shell) override {
    std::vector<Status> up = ParallelFor(cluster.nodes.size(), [&](size_t i) -> Status {
      if (IsUp(shell, cluster, cluster.nodes[i])) return OkStatus();
      return MakeError(ErrorCode::kUnavailable, "down");
    });
    std::vector<std::string> down;
    for (size_t i = 0; i < up.size(); ++i) {
      if (!up[i]) down.push_back(cluster.nodes[i].name);
    }
    if (down.empty()) return OkStatus();
    return MakeError(ErrorCode::kUnavailable,
                     fmt::format("{}: is_up did not exit 0", fmt::join(down, ", ")));
  }

  Result<std::unique_ptr<client::ClientFactory>> Clients(const SystemCluster& cluster,
                                                         const ClientSetup& setup) override {
    FAULTLINE_RETURN_IF_ERROR(CheckWorkload(setup.workload));
    client::ExecClientOptions o;
    FAULTLINE_ASSIGN_OR_RETURN(
        o.command, ExpandPlaceholders(file_.client.substr(5), Values(cluster, nullptr)));
    o.dir = file_.dir;
    for (const SystemNode& n : cluster.nodes) {
      o.endpoints.push_back({.node = n.name, .address = n.address, .port = n.port});
    }
    o.workload = setup.workload;
    o.timeout = setup.timeout;
    o.stderr_dir = setup.stderr_dir;
    return client::MakeExecClientFactory(std::move(o));
  }

  Status Teardown(const SystemCluster& cluster, nemesis::NodeControl& shell) override {
    std::vector<Status> done = ParallelFor(cluster.nodes.size(), [&](size_t i) -> Status {
      const SystemNode& n = cluster.nodes[i];
      std::vector<std::string> errors;
      // A paused server cannot stop itself.
      if (Result<int> pid = Pid(shell, cluster, n); pid && *pid > 0) {
        (void)Signal(shell, cluster, n, *pid, SIGCONT, "SIGCONT");
      }
      Status stopped =
          RunOk(shell, cluster, n, "stop", file_.commands.stop, kCommandTimeout, false);
      Result<int> pid = Pid(shell, cluster, n);
      if (!stopped.has_value() || !pid || *pid > 0) {
        Status killed =
            RunOk(shell, cluster, n, "kill", file_.commands.kill, kCommandTimeout, false);
        if (!killed.has_value()) errors.push_back(killed.error().message());
        pid = Pid(shell, cluster, n);
        if (pid && *pid > 0) {
          errors.push_back(
              fmt::format("system {}: {}: server pid {} still runs after stop and "
                          "kill",
                          info_.name, n.name, *pid));
        }
      }
      Status wiped = RunOk(shell, cluster, n, "wipe", file_.commands.wipe, kCommandTimeout, false);
      if (!wiped.has_value()) errors.push_back(wiped.error().message());
      if (errors.empty()) return OkStatus();
      return MakeError(ErrorCode::kUnavailable, fmt::format("{}", fmt::join(errors, "; ")));
    });
    std::vector<std::string> errors;
    for (const Status& s : done) {
      if (!s.has_value()) errors.push_back(s.error().message());
    }
    if (errors.empty()) return OkStatus();
    return MakeError(ErrorCode::kUnavailable, fmt::format("{}", fmt::join(errors, "; ")));
  }

  std::vector<std::string> LogFiles(const SystemCluster& cluster,
                                    const SystemNode& node) const override {
    std::vector<std::string> out;
    for (const std::string& pattern : file_.logs) {
      Result<std::string> p = ExpandPlaceholders(pattern, Values(cluster, &node));
      if (p) out.push_back(*p);
    }
    out.push_back(node.log_dir + "/commands.log");
    return out;
  }

  const SystemFile& file() const { return file_; }

 private:
  SystemFile file_;
  SystemInfo info_;
};

nemesis::ProcessReport CommandControl::OneNode(const SystemNode& node, ProcessAction action) {
  const auto start = Clock::now();
  const SystemCommands& c = system_.file().commands;
  nemesis::ProcessReport rep;
  rep.node = node.name;
  rep.action = action;
  auto fail = [&](Error e) {
    rep.ok = false;
    rep.error = std::move(e);
  };
  Result<int> before = system_.Pid(base_, cluster_, node);
  rep.pid_before = before ? *before : 0;
  auto signal = [&](std::string_view which, const std::string& command, int sig,
                    std::string_view sig_name) -> Status {
    if (!command.empty()) {
      rep.mechanism = fmt::format("commands.{}", which);
      return system_.RunOk(base_, cluster_, node, which, command, kCommandTimeout, false);
    }
    if (rep.pid_before <= 0) {
      return MakeError(
          ErrorCode::kUnavailable,
          fmt::format("{} {}: the server is not running (pid printed nothing)", which, node.name));
    }
    rep.mechanism = fmt::format("{} to pid {} (commands.pid)", sig_name, rep.pid_before);
    Status sent = system_.Signal(base_, cluster_, node, rep.pid_before, sig, sig_name);
    if (!sent) return sent.error().WithContext(fmt::format("{} {}", which, node.name));
    return OkStatus();
  };
  Status s = OkStatus();
  switch (action) {
    case ProcessAction::kKill:
      rep.mechanism = "commands.kill";
      s = system_.RunOk(base_, cluster_, node, "kill", c.kill, kCommandTimeout, false);
      break;
    case ProcessAction::kPause:
      s = signal("pause", c.pause, SIGSTOP, "SIGSTOP");
      break;
    case ProcessAction::kResume:
      s = signal("resume", c.resume, SIGCONT, "SIGCONT");
      break;
    case ProcessAction::kStart:
      rep.mechanism = "commands.start";
      if (rep.pid_before > 0) {
        rep.mechanism = "already running";
        break;
      }
      s = system_.RunOk(base_, cluster_, node, "start", c.start, kCommandTimeout * 2, true);
      break;
    case ProcessAction::kRestart:
      rep.mechanism = "commands.kill, then commands.start";
      s = system_.RunOk(base_, cluster_, node, "kill", c.kill, kCommandTimeout, false);
      if (s.has_value()) {
        s = system_.RunOk(base_, cluster_, node, "start", c.start, kCommandTimeout * 2, true);
      }
      break;
  }
  if (!s.has_value()) {
    fail(s.error());
  } else {
    rep.ok = true;
  }
  Result<int> after = system_.Pid(base_, cluster_, node);
  rep.pid_after = after ? *after : 0;
  rep.took = Clock::now() - start;
  return rep;
}

std::vector<nemesis::ProcessReport> CommandControl::Process(const std::vector<std::string>& nodes,
                                                            ProcessAction action) {
  std::vector<Result<nemesis::ProcessReport>> reports =
      ParallelFor(nodes.size(), [&](size_t i) -> Result<nemesis::ProcessReport> {
        for (const SystemNode& n : cluster_.nodes) {
          if (n.name == nodes[i]) return OneNode(n, action);
        }
        nemesis::ProcessReport rep;
        rep.node = nodes[i];
        rep.action = action;
        rep.error = Error(ErrorCode::kNotFound, fmt::format("no node {}", nodes[i]));
        return rep;
      });
  std::vector<nemesis::ProcessReport> out;
  for (size_t i = 0; i < reports.size(); ++i) {
    if (reports[i]) {
      out.push_back(std::move(*reports[i]));
      continue;
    }
    nemesis::ProcessReport rep;
    rep.node = nodes[i];
    rep.action = action;
    rep.error = reports[i].error();
    out.push_back(std::move(rep));
  }
  return out;
}

Result<std::vector<nemesis::DbProcess>> CommandControl::Databases() {
  std::vector<Result<nemesis::DbProcess>> rows =
      ParallelFor(cluster_.nodes.size(), [&](size_t i) -> Result<nemesis::DbProcess> {
        const SystemNode& n = cluster_.nodes[i];
        FAULTLINE_ASSIGN_OR_RETURN(int pid, system_.Pid(base_, cluster_, n));
        nemesis::DbProcess p;
        p.node = n.name;
        p.pid = pid;
        if (pid <= 0) {
          p.state = "not running";
          return p;
        }
        std::optional<ProcStat> st = system_.Stat(base_, cluster_, n, pid);
        if (!st || st->state == 'Z' || st->state == 'X') {
          p.state = "exited";
          return p;
        }
        p.start_time = st->start_time;
        p.alive = true;
        p.paused = st->state == 'T' || st->state == 't';
        p.state = p.paused ? "paused" : "running";
        return p;
      });
  std::vector<nemesis::DbProcess> out;
  for (auto& r : rows) {
    if (!r) return r.error();
    out.push_back(std::move(*r));
  }
  return out;
}

}  // namespace

std::vector<std::string> BuiltinSystems() { return {"etcd", "redis", "zookeeper"}; }

bool IsSystemFile(std::string_view name_or_file) {
  return name_or_file.find('/') != std::string_view::npos ||
         (name_or_file.size() > 5 && name_or_file.substr(name_or_file.size() - 5) == ".json");
}

std::unique_ptr<System> MakeFileSystem(SystemFile file) {
  return std::make_unique<FileSystem>(std::move(file));
}

Result<std::unique_ptr<System>> OpenSystem(std::string_view name_or_file) {
  return OpenSystem(name_or_file, {});
}

std::vector<std::string> SystemOptionHelp(std::string_view name) {
  if (name == "redis") return internal::RedisOptionHelp();
  return {};
}

Result<std::unique_ptr<System>> OpenSystem(std::string_view name_or_file,
                                           const std::vector<std::string>& options) {
  if (name_or_file == "redis") return internal::MakeRedisSystem(options);
  if (!options.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("system {}: takes no system options (got '{}'); redis does",
                                 name_or_file, options.front()));
  }
  if (name_or_file == "etcd") return internal::MakeEtcdSystem();
  if (name_or_file == "zookeeper") return internal::MakeZooKeeperSystem();
  if (IsSystemFile(name_or_file)) {
    FAULTLINE_ASSIGN_OR_RETURN(SystemFile file, LoadSystemFile(name_or_file));
    return MakeFileSystem(std::move(file));
  }
  return MakeError(ErrorCode::kInvalidArgument,
                   fmt::format("system '{}': not a built-in system ({}) nor a system file "
                               "(a path: holds a '/' or ends in .json)",
                               name_or_file, fmt::join(BuiltinSystems(), ", ")));
}

}  // namespace faultline::systems
