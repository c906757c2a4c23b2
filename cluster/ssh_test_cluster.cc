#include "cluster/ssh_test_cluster.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

extern char** environ;

namespace faultline::cluster::testing {
namespace {

// True once a TCP connect to address:22 from this (the root) namespace succeeds.
bool Listens(const std::string& address) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return false;
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(22);
  ::inet_pton(AF_INET, address.c_str(), &sa.sin_addr);
  bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof(sa)) == 0;
  if (!ok && errno == EINPROGRESS) {
    pollfd p{.fd = fd, .events = POLLOUT, .revents = 0};
    if (::poll(&p, 1, 200) == 1) {
      int err = 0;
      socklen_t len = sizeof(err);
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      ok = err == 0;
    }
  }
  ::close(fd);
  return ok;
}

// Whether any sshd runs (then /run/sshd is still needed).
bool OtherSshdRuns() {
  DIR* d = ::opendir("/proc");
  if (d == nullptr) return true;
  bool found = false;
  while (dirent* e = ::readdir(d)) {
    const pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid <= 0) continue;
    std::ifstream comm(fmt::format("/proc/{}/comm", pid));
    std::string name;
    if (std::getline(comm, name) && name == "sshd") {
      found = true;
      break;
    }
  }
  ::closedir(d);
  return found;
}

}  // namespace

Result<std::unique_ptr<SshTestCluster>> SshTestCluster::Create(
    int nodes, const std::function<DbCommands(const std::string& node)>& db) {
  std::unique_ptr<SshTestCluster> c(new SshTestCluster());
  FAULTLINE_ASSIGN_OR_RETURN(c->netns_, nemesis::testing::NetnsCluster::Create(nodes));
  std::string tmpl = "/tmp/fl-sshtest-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    return MakeError(ErrorCode::kInternal, fmt::format("mkdtemp: {}", std::strerror(errno)));
  }
  c->dir_ = tmpl;
  FAULTLINE_RETURN_IF_ERROR(EnsureRunSshdDir());
  FAULTLINE_ASSIGN_OR_RETURN(SshClientKey key, EnsureClientKey(c->dir_ + "/client"));
  c->file_.cluster = c->netns_->prefix();
  for (const auto& n : c->netns_->nodes()) {
    FAULTLINE_ASSIGN_OR_RETURN(std::vector<std::string> sshd,
                               PrepareSshd(fmt::format("{}/{}", c->dir_, n.name), n.address, key));
    std::vector<std::string> argv = {"/usr/sbin/ip", "netns", "exec", n.netns};
    argv.insert(argv.end(), sshd.begin(), sshd.end());
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    // sshd -e logs to stderr; keep the test output quiet unless asked.
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    const std::string log = fmt::format("{}/{}/sshd.log", c->dir_, n.name);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    pid_t pid = 0;
    const int rc = ::posix_spawn(&pid, argv[0].c_str(), &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      return MakeError(ErrorCode::kInternal,
                       fmt::format("start sshd on {}: {}", n.name, std::strerror(rc)));
    }
    c->sshd_pids_.push_back(pid);
    SshNode node = SshNodeFor(n.name, n.address, key);
    node.db = db(n.name);
    c->file_.nodes.push_back(std::move(node));
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  for (size_t i = 0; i < c->netns_->nodes().size(); ++i) {
    const auto& n = c->netns_->nodes()[i];
    while (!Listens(n.address)) {
      int status = 0;
      if (::waitpid(c->sshd_pids_[i], &status, WNOHANG) == c->sshd_pids_[i]) {
        c->sshd_pids_[i] = 0;
        std::ifstream log(fmt::format("{}/{}/sshd.log", c->dir_, n.name));
        std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
        return MakeError(ErrorCode::kUnavailable,
                         fmt::format("sshd on {} exited (status {:#x}): {}", n.name, status, text));
      }
      if (std::chrono::steady_clock::now() > deadline) {
        return MakeError(ErrorCode::kDeadlineExceeded,
                         fmt::format("sshd on {} ({}:22) does not accept connections after 15 s",
                                     n.name, n.address));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  return c;
}

SshTestCluster::~SshTestCluster() {
  for (pid_t& pid : sshd_pids_) {
    if (pid <= 0) continue;
    // Our own child, not yet reaped, so the PID cannot have been reused.
    ::kill(pid, SIGTERM);
    int status = 0;
    bool gone = false;
    for (int i = 0; i < 300 && !gone; ++i) {
      gone = ::waitpid(pid, &status, WNOHANG) == pid;
      if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!gone) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
    }
    pid = 0;
  }
  // Whichever faultline user made /run/sshd (this cluster or a concurrent test's), the last one
  // out removes it: the marker says faultline made it, and no sshd needs it any more.
  if (!OtherSshdRuns()) (void)RemoveRunSshdDirIfMade();
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  netns_.reset();
}

}  // namespace faultline::cluster::testing
