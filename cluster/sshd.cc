// sshd per node namespace (PLATFORM.md §9) and the nodes file of a local cluster.
#include "cluster/sshd.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "cluster/cluster.h"
#include "cluster/internal/ssh_exec.h"
#include "cluster/nodes_file.h"
#include "common/file.h"
#include "common/process.h"
#include "common/shell.h"

namespace faultline::cluster {
namespace {

namespace fs = std::filesystem;

Status MakeDirs(const std::string& dir, fs::perms perms) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return MakeError(ErrorCode::kInternal, fmt::format("mkdir {}: {}", dir, ec.message()));
  }
  fs::permissions(dir, perms, ec);
  return OkStatus();
}

Status KeyGen(const std::string& path, const std::string& comment) {
  FAULTLINE_ASSIGN_OR_RETURN(ProcessOutput out, RunProcess({"ssh-keygen", "-q", "-t", "ed25519",
                                                            "-N", "", "-C", comment, "-f", path},
                                                           {.timeout = std::chrono::seconds(30)}));
  if (out.exit_code != 0) {
    return MakeError(ErrorCode::kInternal, fmt::format("ssh-keygen -t ed25519 -f {}: exit {}: {}",
                                                       path, out.exit_code, out.err));
  }
  return OkStatus();
}

// Extended regular expression that matches `s` literally.
std::string RegexEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (std::strchr(".[]()*+?{}|^$\\", c) != nullptr) out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

Result<SshClientKey> EnsureClientKey(const std::string& dir) {
  FAULTLINE_RETURN_IF_ERROR(MakeDirs(dir, fs::perms::owner_all));
  SshClientKey key{.private_key = dir + "/id_ed25519",
                   .public_key = dir + "/id_ed25519.pub",
                   .known_hosts = dir + "/known_hosts"};
  if (!fs::exists(key.private_key) || !fs::exists(key.public_key)) {
    std::error_code ec;
    fs::remove(key.private_key, ec);
    fs::remove(key.public_key, ec);
    auto made = KeyGen(key.private_key, "faultline-client");
    if (!made) return std::move(made).error().WithContext("ssh client key");
  }
  if (!fs::exists(key.known_hosts)) {
    FAULTLINE_RETURN_IF_ERROR(WriteFileAtomic(key.known_hosts, "", 0600));
  }
  return key;
}

Result<bool> EnsureRunSshdDir() {
  if (::mkdir(kRunSshdDir, 0755) == 0) {
    // sshd refuses a privilege separation directory writable by group or others.
    ::chmod(kRunSshdDir, 0755);
    FAULTLINE_RETURN_IF_ERROR(
        WriteFileAtomic(kRunSshdMarker, "made by faultline for sshd\n", 0644));
    return true;
  }
  if (errno == EEXIST) return false;
  const int err = errno;
  return MakeError(
      err == EACCES || err == EPERM ? ErrorCode::kPermissionDenied : ErrorCode::kInternal,
      fmt::format("mkdir {}: {} (run as root)", kRunSshdDir, std::strerror(err)));
}

Result<bool> RemoveRunSshdDirIfMade() {
  if (::access(kRunSshdMarker, F_OK) != 0) return false;
  bool removed = false;
  if (::rmdir(kRunSshdDir) == 0) {
    removed = true;
  } else if (errno != ENOENT && errno != ENOTEMPTY) {
    return MakeError(ErrorCode::kInternal,
                     fmt::format("rmdir {}: {}", kRunSshdDir, std::strerror(errno)));
  }
  if (errno == ENOTEMPTY && !removed) return false;  // someone put files there: leave both
  ::unlink(kRunSshdMarker);
  return removed;
}

Result<std::vector<std::string>> PrepareSshd(const std::string& node_dir,
                                             const std::string& address, const SshClientKey& key) {
  const auto context = [&](Error e) {
    return e.WithContext(fmt::format("prepare sshd for {} in {}", address, node_dir));
  };
  if (auto s = MakeDirs(node_dir, fs::perms::owner_all); !s) return context(std::move(s).error());
  const std::string host_key = node_dir + "/ssh_host_ed25519_key";
  if (!fs::exists(host_key)) {
    if (auto s = KeyGen(host_key, "faultline-host-" + address); !s) {
      return context(std::move(s).error());
    }
  }
  std::ifstream pub(key.public_key);
  if (!pub) {
    return context(
        Error(ErrorCode::kNotFound,
              fmt::format("read {}: cannot open (EnsureClientKey first)", key.public_key)));
  }
  std::string line;
  std::getline(pub, line);
  const std::string authorized = node_dir + "/authorized_keys";
  if (auto s = WriteFileAtomic(authorized, line + "\n", 0600); !s)
    return context(std::move(s).error());
  const std::string conf = node_dir + "/sshd_config";
  const std::string text = fmt::format(
      "# Written by faultline: sshd for one node of a local cluster (PLATFORM.md section 9).\n"
      "ListenAddress {}\n"
      "Port 22\n"
      "HostKey {}\n"
      "AuthorizedKeysFile {}\n"
      "PermitRootLogin prohibit-password\n"
      "PubkeyAuthentication yes\n"
      "PasswordAuthentication no\n"
      "KbdInteractiveAuthentication no\n"
      "UsePAM no\n"
      "StrictModes no\n"
      "UseDNS no\n"
      "PrintMotd no\n"
      "X11Forwarding no\n"
      "PidFile none\n"
      "LogLevel ERROR\n"
      "# Many clients at once (nemesis fan-out, multiplexed sessions) must not be refused.\n"
      "MaxStartups 200:30:400\n"
      "MaxSessions 200\n"
      "# Debian's bash sources ~/.bashrc for ssh commands when SHLVL < 2 (about 250 ms here).\n"
      "SetEnv SHLVL=1\n",
      address, host_key, authorized);
  if (auto s = WriteFileAtomic(conf, text, 0600); !s) return context(std::move(s).error());
  if (auto made = EnsureRunSshdDir(); !made) return context(std::move(made).error());
  return std::vector<std::string>{"/usr/sbin/sshd", "-D", "-e", "-f", conf};
}

SshNode SshNodeFor(const std::string& name, const std::string& address, const SshClientKey& key) {
  return SshNode{.name = name,
                 .host = address,
                 .port = 22,
                 .user = "root",
                 .identity_file = key.private_key,
                 .known_hosts = key.known_hosts,
                 .address = address,
                 .ssh_options = {},
                 .client_address = {},
                 .client_port = 0,
                 .data_dir = {},
                 .log_dir = {},
                 .db = {}};
}

Status WriteNodesFile(const ClusterState& state, const SshClientKey& key) {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) {
    return MakeError(ErrorCode::kInternal,
                     fmt::format("nodes file: resolve /proc/self/exe: {}", ec.message()));
  }
  return WriteNodesFile(state, key, self.string());
}

Status WriteNodesFile(const ClusterState& state, const SshClientKey& key,
                      const std::string& faultline_binary) {
  if (state.ssh_nodes_file.empty()) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        fmt::format("nodes file: cluster {}: no ssh_nodes_file path in its state", state.name));
  }
  // run_dir is <state_root>/clusters/<name>; the ctl commands must find the same state root.
  std::string env;
  const fs::path run_dir(state.run_dir);
  if (run_dir.filename() == state.name && run_dir.parent_path().filename() == "clusters") {
    env = fmt::format("FAULTLINE_STATE_DIR={} ",
                      ShellQuote(run_dir.parent_path().parent_path().string()));
  }
  const std::string bin = ShellQuote(faultline_binary);
  NodesFile file;
  file.cluster = state.name;
  for (const auto& n : state.nodes) {
    SshNode node = SshNodeFor(n.name, n.address, key);
    const auto ctl = [&](std::string_view action) {
      return fmt::format("{}{} cluster ctl {} {} --name {}", env, bin, n.name, action, state.name);
    };
    node.db.start = ctl("start");
    node.db.kill = ctl("kill");
    if (state.db == Db::kEtcd && !n.data_dir.empty()) {
      // pgrep -f matches the full command line; the bracket keeps the pattern from matching the
      // shell that runs it (whose command line holds "[= ]", not "=" or " ").
      node.db.pid = fmt::format("pgrep -o -f -- {}", ShellQuote("etcd.*--data-dir[= ]" +
                                                                RegexEscape(n.data_dir) + "( |$)"));
      node.db.data_dir = n.data_dir;
    } else {
      node.db.pid = "true";  // no database process: prints no pid
    }
    file.nodes.push_back(std::move(node));
  }
  return WriteFileAtomic(state.ssh_nodes_file, FormatNodesFile(file), 0644);
}

}  // namespace faultline::cluster
