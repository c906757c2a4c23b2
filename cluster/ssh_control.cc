#include "cluster/ssh_control.h"

#include <fmt/format.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <sstream>
#include <thread>

#include "cluster/internal/ssh_exec.h"
#include "common/parallel.h"
#include "common/process.h"
#include "common/shell.h"

namespace faultline::cluster {
namespace {

using nemesis::ProcessAction;

// Markers the process scripts print, so their output can be told from the commands' own.
constexpr std::string_view kPidBefore = "faultline-pid-before";
constexpr std::string_view kPidAfter = "faultline-pid-after";
constexpr std::string_view kStat = "faultline-stat";

// The node's pid command, its output taken as the pid (empty if none).
std::string PidExpr(const DbCommands& db) {
  return fmt::format("$({{ {}\n}} 2>/dev/null)", db.pid);
}

std::string Block(std::string_view command) { return fmt::format("{{ {}\n}}", command); }

// The first integer after `marker ` in the output, or 0.
int PidAfterMarker(const std::string& out, std::string_view marker) {
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(marker, 0) != 0) continue;
    std::istringstream fields(line.substr(marker.size()));
    int pid = 0;
    fields >> pid;
    return pid;
  }
  return 0;
}

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

// A node without db commands (a nodes file naming a system other than etcd): that system's own
// commands do process faults, through its node control over this one.
Error NoDbCommands(const NodesFile& file, const SshNode& n) {
  return Error(ErrorCode::kInvalidArgument,
               fmt::format("ssh control: node {}: the nodes file of cluster {} has no db commands "
                           "(system {} runs its own commands over ssh)",
                           n.name, file.cluster, file.system.empty() ? "?" : file.system));
}

}  // namespace

struct SshControl::Node {
  std::mutex mu;  // guards master_up (starting a master is done once, under it)
  bool master_up = false;
  std::string control_path;
  std::atomic<int> restarts{0};
  std::mutex shell_mu;  // one command at a time through the persistent shell
  std::unique_ptr<internal::Session> shell;
  std::uint64_t sequence = 0;
};

SshControl::SshControl(NodesFile file, SshControlOptions options)
    : file_(std::move(file)), options_(std::move(options)) {
  for (size_t i = 0; i < file_.nodes.size(); ++i) nodes_.push_back(std::make_unique<Node>());
}

SshControl::~SshControl() { Close(); }

std::vector<std::string> SshControl::Nodes() const {
  std::vector<std::string> out;
  for (const auto& n : file_.nodes) out.push_back(n.name);
  return out;
}

Result<size_t> SshControl::Find(std::string_view node) const {
  for (size_t i = 0; i < file_.nodes.size(); ++i) {
    if (file_.nodes[i].name == node) return i;
  }
  return MakeError(
      ErrorCode::kNotFound,
      fmt::format("ssh control: node {}: not in nodes file of cluster {}", node, file_.cluster));
}

std::vector<std::string> SshControl::BaseArgv(size_t i, bool use_master) const {
  const SshNode& n = file_.nodes[i];
  std::vector<std::string> argv = {
      options_.ssh_binary,
      "-F",
      "none",
      "-T",
      "-p",
      std::to_string(n.port),
      "-i",
      n.identity_file,
      "-o",
      "IdentitiesOnly=yes",
      "-o",
      "BatchMode=yes",
      "-o",
      "StrictHostKeyChecking=no",
      "-o",
      "UserKnownHostsFile=" + n.known_hosts,
      "-o",
      "KexAlgorithms=curve25519-sha256",
      "-o",
      fmt::format("ConnectTimeout={}", options_.connect_timeout.count()),
      "-o",
      "LogLevel=ERROR"};
  if (use_master) {
    argv.insert(argv.end(),
                {"-o", "ControlMaster=no", "-o", "ControlPath=" + nodes_[i]->control_path});
  } else {
    argv.insert(argv.end(), {"-o", "ControlMaster=no", "-o", "ControlPath=none"});
  }
  for (const auto& o : n.ssh_options) argv.insert(argv.end(), {"-o", o});
  return argv;
}

Result<std::vector<std::string>> SshControl::SshArgv(std::string_view node,
                                                     std::string_view remote) const {
  FAULTLINE_ASSIGN_OR_RETURN(size_t i, Find(node));
  std::vector<std::string> argv = BaseArgv(i, !nodes_[i]->control_path.empty());
  const SshNode& n = file_.nodes[i];
  argv.push_back("--");
  argv.push_back(n.user + "@" + n.host);
  argv.push_back("sh -c " + ShellQuote(remote));
  return argv;
}

Status SshControl::EnsureMaster(size_t i) {
  Node& node = *nodes_[i];
  std::lock_guard lock(node.mu);
  struct stat st {};
  if (node.master_up && ::stat(node.control_path.c_str(), &st) == 0) return OkStatus();
  node.master_up = false;
  const SshNode& n = file_.nodes[i];
  std::vector<std::string> argv = BaseArgv(i, false);
  // BaseArgv ends its own options with ControlMaster/ControlPath for a client; a master
  // overrides them (ssh takes the first value given for an option, so put these first).
  argv.insert(argv.begin() + 1,
              {"-o", "ControlMaster=yes", "-o", "ControlPath=" + node.control_path, "-o",
               fmt::format("ControlPersist={}", options_.control_persist.count()), "-N", "-f"});
  argv.insert(argv.end(), {"--", n.user + "@" + n.host});
  // -f leaves a daemon holding whatever stdio it was given: give it /dev/null, wait for the exit.
  FAULTLINE_ASSIGN_OR_RETURN(
      ProcessOutput out,
      RunProcess(argv, {.timeout = options_.command_timeout, .detach_output = true}));
  if (out.exit_code != 0) {
    return MakeError(ErrorCode::kUnavailable,
                     fmt::format("ssh control: start master for {}@{}:{}: exit {}", n.user, n.host,
                                 n.port, out.exit_code));
  }
  node.master_up = true;
  return OkStatus();
}

Result<nemesis::CommandOutput> SshControl::Run(std::string_view node, std::string_view command,
                                               std::string_view input) {
  FAULTLINE_ASSIGN_OR_RETURN(size_t i, Find(node));
  const SshNode& n = file_.nodes[i];
  bool use_master = false;
  if (options_.multiplex) {
    {
      // The directory is made once, lazily, so a control that is never used leaves nothing.
      std::lock_guard lock(dir_mu_);
      if (control_dir_.empty()) {
        std::string tmpl = "/tmp/faultline-ssh-XXXXXX";
        if (::mkdtemp(tmpl.data()) == nullptr) {
          return MakeError(ErrorCode::kInternal,
                           fmt::format("ssh control: mkdtemp /tmp/faultline-ssh-XXXXXX: {}",
                                       std::strerror(errno)));
        }
        control_dir_ = tmpl;
        for (size_t k = 0; k < nodes_.size(); ++k) {
          nodes_[k]->control_path = fmt::format("{}/{}", control_dir_, k);
        }
      }
    }
    // A master that cannot start is not fatal: the command connects directly and reports the
    // real reason if that fails too.
    use_master = EnsureMaster(i).has_value();
  }
  if (options_.persistent_shell && (input.empty() || input.back() == '\n')) {
    if (auto out = RunInShell(i, command, input)) return std::move(*out);
    // The shell did not start: a plain ssh reports why (or runs the command if it now can).
  }
  std::vector<std::string> argv = BaseArgv(i, use_master);
  argv.push_back("--");
  argv.push_back(n.user + "@" + n.host);
  argv.push_back("sh -c " + ShellQuote(command));
  auto out = RunProcess(argv, {.input = input, .timeout = options_.command_timeout});
  if (!out) {
    return std::move(out).error().WithContext(
        fmt::format("ssh control: run on {} ({}@{}:{})", node, n.user, n.host, n.port));
  }
  if (out->exit_code == 255) {
    // ssh's own failure: the command may not have run at all.
    return MakeError(ErrorCode::kUnavailable,
                     fmt::format("ssh control: run on {} ({}@{}:{}): ssh failed: {} (is sshd "
                                 "up, and the key in its authorized_keys?)",
                                 node, n.user, n.host, n.port, Trimmed(out->err)));
  }
  return nemesis::CommandOutput{
      .exit_code = out->exit_code, .out = std::move(out->out), .err = std::move(out->err)};
}

std::optional<Result<nemesis::CommandOutput>> SshControl::RunInShell(size_t i,
                                                                     std::string_view command,
                                                                     std::string_view input) {
  const SshNode& n = file_.nodes[i];
  Node& node = *nodes_[i];
  std::lock_guard lock(node.shell_mu);
  const auto deadline = std::chrono::steady_clock::now() + options_.command_timeout;
  const auto fail = [&](Error e) -> Result<nemesis::CommandOutput> {
    node.shell.reset();  // its state is unknown now: the next command starts a new shell
    return e.WithContext(fmt::format("ssh control: run on {} ({}@{}:{}) through its shell", n.name,
                                     n.user, n.host, n.port));
  };
  // A random tag per command frames its output; a command's output cannot guess it.
  static std::atomic<std::uint64_t> salt{
      static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count())};
  const std::string tag =
      fmt::format("{:016x}{:x}", salt.fetch_add(0x9e3779b97f4a7c15ULL), ++node.sequence);
  std::string script = fmt::format("( {}\n) 2>\"$FLERR\" ", command);
  if (input.empty()) {
    script += "</dev/null\n";
  } else {
    script += fmt::format("<<'FLIN_{0}'\n{1}FLIN_{0}\n", tag, input);
  }
  script += fmt::format(
      "printf '\\nFLOUT_{0} %d\\n' $?\ncat \"$FLERR\"\nprintf '\\nFLERR_{0}\\n'\n", tag);
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!node.shell || !node.shell->alive()) {
      std::vector<std::string> argv = BaseArgv(i, !node.control_path.empty());
      argv.insert(argv.end(), {"--", n.user + "@" + n.host, "sh"});
      auto started = internal::Session::Start(argv);
      if (!started) return fail(std::move(started).error());
      node.shell = std::move(*started);
      // The shell's own temporary file for stderr, removed when the shell exits.
      auto s = node.shell->Write(
          "FLERR=$(mktemp) || exit 1\ntrap 'rm -f \"$FLERR\"' EXIT\necho FLREADY\n", deadline);
      if (!s || !node.shell->ReadUntil("FLREADY\n", deadline)) {
        node.shell.reset();
        return std::nullopt;
      }
    }
    // A shell that died since its last command fails here, before the command ran: retry once.
    if (auto s = node.shell->Write(script, deadline); !s) {
      node.shell.reset();
      if (attempt == 0) continue;
      return fail(std::move(s).error());
    }
    auto out = node.shell->ReadUntil(fmt::format("\nFLOUT_{} ", tag), deadline);
    if (!out) return fail(std::move(out).error());
    auto rc = node.shell->ReadUntil("\n", deadline);
    if (!rc) return fail(std::move(rc).error());
    auto err = node.shell->ReadUntil(fmt::format("\nFLERR_{}\n", tag), deadline);
    if (!err) return fail(std::move(err).error());
    return nemesis::CommandOutput{
        .exit_code = std::atoi(rc->c_str()), .out = std::move(*out), .err = std::move(*err)};
  }
  return fail(Error(ErrorCode::kUnavailable, "the remote shell keeps failing"));
}

nemesis::ProcessReport SshControl::ProcessOne(size_t i, ProcessAction action) {
  const auto started = std::chrono::steady_clock::now();
  const SshNode& n = file_.nodes[i];
  nemesis::ProcessReport report;
  report.node = n.name;
  report.action = action;
  if (n.db.pid.empty()) {
    report.error = NoDbCommands(file_, n);
    return report;
  }
  std::string script = fmt::format("pid={}\necho \"{} $pid\"\n", PidExpr(n.db), kPidBefore);
  const std::string need_pid =
      "[ -n \"$pid\" ] || { echo 'no database process is running' >&2; "
      "exit 3; }\n";
  switch (action) {
    case ProcessAction::kKill:
      report.mechanism = fmt::format("db.kill over ssh: {}", n.db.kill);
      script += Block(n.db.kill) + "\n";
      break;
    case ProcessAction::kPause:
      report.mechanism = "kill -STOP <db.pid> over ssh";
      script += need_pid + "kill -STOP \"$pid\"\n";
      break;
    case ProcessAction::kResume:
      report.mechanism = "kill -CONT <db.pid> over ssh";
      script += need_pid + "kill -CONT \"$pid\"\n";
      break;
    case ProcessAction::kStart:
      report.mechanism = fmt::format("db.start over ssh: {}", n.db.start);
      script += Block(n.db.start) + "\n";
      break;
    case ProcessAction::kRestart:
      report.mechanism =
          fmt::format("db.kill then db.start over ssh: {}; {}", n.db.kill, n.db.start);
      script += Block(n.db.kill) + " || exit $?\n" + Block(n.db.start) + "\n";
      break;
  }
  script += "rc=$?\n";
  if (action == ProcessAction::kStart || action == ProcessAction::kRestart) {
    // A start command may put the server in the background and return before it runs: wait up to
    // 5 s for db.pid to name it, so pid_after is the started server's, not 0.
    script += fmt::format(
        "[ $rc -ne 0 ] || for i in $(seq 50); do [ -n \"{}\" ] && break; sleep 0.1; done\n",
        PidExpr(n.db));
  }
  script += fmt::format("echo \"{} {}\"\nexit $rc\n", kPidAfter, PidExpr(n.db));
  auto out = Run(n.name, script);
  report.took = std::chrono::steady_clock::now() - started;
  if (!out) {
    report.error = std::move(out).error().WithContext(
        fmt::format("process {} on {}", nemesis::ProcessActionName(action), n.name));
    return report;
  }
  report.pid_before = PidAfterMarker(out->out, kPidBefore);
  report.pid_after = PidAfterMarker(out->out, kPidAfter);
  if (out->exit_code != 0) {
    report.error =
        Error(ErrorCode::kUnavailable,
              fmt::format("process {} on {}: exit {}: {}", nemesis::ProcessActionName(action),
                          n.name, out->exit_code,
                          Trimmed(out->err).empty() ? "no error output" : Trimmed(out->err)));
    return report;
  }
  if (action == ProcessAction::kStart || action == ProcessAction::kRestart) ++nodes_[i]->restarts;
  if (report.pid_before != 0) report.mechanism += fmt::format(" (pid {})", report.pid_before);
  report.ok = true;
  return report;
}

std::vector<nemesis::ProcessReport> SshControl::Process(const std::vector<std::string>& nodes,
                                                        ProcessAction action) {
  std::vector<Result<nemesis::ProcessReport>> got =
      ParallelFor(nodes.size(), [&](size_t k) -> Result<nemesis::ProcessReport> {
        FAULTLINE_ASSIGN_OR_RETURN(size_t i, Find(nodes[k]));
        return ProcessOne(i, action);
      });
  std::vector<nemesis::ProcessReport> reports(nodes.size());
  for (size_t k = 0; k < nodes.size(); ++k) {
    if (got[k]) {
      reports[k] = std::move(got[k]).value();
      continue;
    }
    reports[k].node = nodes[k];
    reports[k].action = action;
    reports[k].error = got[k].error();
  }
  return reports;
}

Result<nemesis::DbProcess> SshControl::Database(size_t i) {
  const SshNode& n = file_.nodes[i];
  if (n.db.pid.empty()) return NoDbCommands(file_, n);
  const std::string script = fmt::format(
      "pid={}\necho \"{} $pid\"\n[ -n \"$pid\" ] && echo \"{} $(cat /proc/$pid/stat "
      "2>/dev/null)\"\n"
      "exit 0\n",
      PidExpr(n.db), kPidBefore, kStat);
  FAULTLINE_ASSIGN_OR_RETURN(nemesis::CommandOutput out, Run(n.name, script));
  nemesis::DbProcess db;
  db.node = n.name;
  db.restarts = nodes_[i]->restarts.load();
  db.pid = PidAfterMarker(out.out, kPidBefore);
  db.state = "not running";
  if (db.pid == 0) return db;
  // "/proc/PID/stat": "pid (comm) S ppid ... starttime(22) ..."; comm may hold spaces.
  const auto at = out.out.find(std::string(kStat) + " ");
  const std::string stat =
      at == std::string::npos
          ? ""
          : out.out.substr(at + kStat.size() + 1, out.out.find('\n', at) - at - kStat.size() - 1);
  const auto paren = stat.rfind(')');
  if (paren == std::string::npos) {
    db.state = "exited";
    return db;
  }
  std::istringstream fields(stat.substr(paren + 2));
  std::vector<std::string> f;
  std::string field;
  while (fields >> field) f.push_back(field);
  // f[0] is field 3 (state); field 22 is f[19].
  const char state = f.empty() || f[0].empty() ? '?' : f[0][0];
  if (f.size() > 19) db.start_time = std::strtoull(f[19].c_str(), nullptr, 10);
  db.alive = state != 'Z' && state != 'X';
  db.paused = state == 'T' || state == 't';
  db.state = !db.alive ? "exited" : db.paused ? "paused" : "running";
  return db;
}

Result<std::vector<nemesis::DbProcess>> SshControl::Databases() {
  std::vector<Result<nemesis::DbProcess>> got =
      ParallelFor(file_.nodes.size(), [this](size_t i) { return Database(i); });
  std::vector<nemesis::DbProcess> out;
  for (auto& g : got) {
    if (!g) return std::move(g).error().WithContext("ssh control: databases");
    out.push_back(std::move(g).value());
  }
  return out;
}

void SshControl::Close() {
  for (auto& node : nodes_) {
    std::lock_guard lock(node->shell_mu);
    node->shell.reset();
  }
  std::lock_guard dir_lock(dir_mu_);
  if (control_dir_.empty()) return;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    Node& node = *nodes_[i];
    std::lock_guard lock(node.mu);
    struct stat st {};
    if (::stat(node.control_path.c_str(), &st) == 0) {
      std::vector<std::string> argv = BaseArgv(i, true);
      argv.insert(argv.end(),
                  {"-O", "exit", "--", file_.nodes[i].user + "@" + file_.nodes[i].host});
      // Best effort: a master that is already gone needs nothing.
      (void)RunProcess(argv, {.timeout = std::chrono::seconds(5)});
    }
    node.master_up = false;
    node.control_path.clear();
  }
  // A master unlinks its socket as it exits, which can race the removal here (remove_all stops
  // at an entry that vanished under it): try again until the directory is gone.
  for (int attempt = 0; attempt < 50; ++attempt) {
    std::error_code ec;
    std::filesystem::remove_all(control_dir_, ec);
    if (!std::filesystem::exists(control_dir_, ec)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  control_dir_.clear();
}

Result<std::unique_ptr<SshControl>> MakeSshControl(NodesFile file,
                                                   const SshControlOptions& options) {
  if (file.nodes.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("ssh control: cluster {}: no nodes", file.cluster));
  }
  return std::unique_ptr<SshControl>(new SshControl(std::move(file), options));
}

Result<std::unique_ptr<SshControl>> MakeSshControl(const std::string& nodes_file_path,
                                                   const SshControlOptions& options) {
  FAULTLINE_ASSIGN_OR_RETURN(NodesFile file, ReadNodesFile(nodes_file_path));
  return MakeSshControl(std::move(file), options);
}

nemesis::NetConfig SshNetConfig(const NodesFile& file, const std::string& run_id) {
  nemesis::NetConfig config;
  config.run_id = run_id;
  for (const auto& n : file.nodes) {
    config.nodes.push_back({.name = n.name, .netns = n.name, .address = n.address});
  }
  return config;
}

}  // namespace faultline::cluster
