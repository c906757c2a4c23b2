#include "client/testing/local_etcd.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

namespace faultline::client::testing {
namespace {

std::string Errno(int err) { return std::strerror(err); }

}  // namespace

Result<std::uint16_t> PickFreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return MakeError(ErrorCode::kInternal, "pick port: socket: " + Errno(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const int err = errno;
    ::close(fd);
    return MakeError(ErrorCode::kUnavailable, "pick port: bind 127.0.0.1:0: " + Errno(err));
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

Result<std::unique_ptr<LocalEtcd>> LocalEtcd::Start(std::chrono::milliseconds ready_timeout) {
  std::string last_error = "not started";
  // A port picked free may be taken before etcd binds it: retry with new ports.
  for (int attempt = 0; attempt < 3; ++attempt) {
    std::unique_ptr<LocalEtcd> etcd(new LocalEtcd());
    std::string pattern =
        (std::filesystem::temp_directory_path() / "faultline-etcd-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      return MakeError(ErrorCode::kInternal, "local etcd: mkdtemp: " + Errno(errno));
    }
    etcd->dir_ = pattern;
    FAULTLINE_ASSIGN_OR_RETURN(etcd->client_port_, PickFreePort());
    FAULTLINE_ASSIGN_OR_RETURN(const std::uint16_t peer_port, PickFreePort());
    const std::string client_url = fmt::format("http://127.0.0.1:{}", etcd->client_port_);
    const std::string peer_url = fmt::format("http://127.0.0.1:{}", peer_port);
    std::vector<std::string> args = {"etcd",
                                     "--name",
                                     "n1",
                                     "--data-dir",
                                     etcd->dir_ + "/data",
                                     "--listen-client-urls",
                                     client_url,
                                     "--advertise-client-urls",
                                     client_url,
                                     "--listen-peer-urls",
                                     peer_url,
                                     "--initial-advertise-peer-urls",
                                     peer_url,
                                     "--initial-cluster",
                                     "n1=" + peer_url,
                                     "--initial-cluster-token",
                                     "faultline-test",
                                     "--initial-cluster-state",
                                     "new",
                                     "--logger",
                                     "zap",
                                     "--log-outputs",
                                     etcd->dir_ + "/etcd.log"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const std::string out_path = etcd->dir_ + "/etcd.out";
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) return MakeError(ErrorCode::kInternal, "local etcd: fork: " + Errno(errno));
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (out >= 0) {
        ::dup2(out, STDOUT_FILENO);
        ::dup2(out, STDERR_FILENO);
      }
      ::execvp("etcd", argv.data());
      ::_exit(127);
    }
    etcd->pid_ = pid;
    const auto deadline = std::chrono::steady_clock::now() + ready_timeout;
    bool exited = false;
    while (std::chrono::steady_clock::now() < deadline) {
      int wstatus = 0;
      if (::waitpid(pid, &wstatus, WNOHANG) == pid) {
        etcd->pid_ = -1;
        exited = true;
        last_error = fmt::format("etcd exited early (status {:#x}; see {})", wstatus, out_path);
        break;
      }
      auto status = EtcdStatus(etcd->endpoint(), std::chrono::milliseconds(500));
      if (status && status->leader != 0) return etcd;
      last_error = status ? "no leader yet" : status.error().message();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (!exited) {
      return MakeError(
          ErrorCode::kDeadlineExceeded,
          fmt::format("local etcd: not ready within {} ms: {}", ready_timeout.count(), last_error));
    }
  }
  return MakeError(ErrorCode::kUnavailable, "local etcd: " + last_error);
}

LocalEtcd::~LocalEtcd() {
  Kill();
  if (!dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

void LocalEtcd::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);  // SIGKILL also ends a stopped process
  int wstatus = 0;
  while (::waitpid(pid_, &wstatus, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

EtcdEndpoint LocalEtcd::endpoint() const {
  return EtcdEndpoint{.node = "n1", .host = "127.0.0.1", .port = client_port_};
}

Status LocalEtcd::Pause() {
  if (pid_ <= 0 || ::kill(pid_, SIGSTOP) != 0) {
    return MakeError(ErrorCode::kInternal, "local etcd: SIGSTOP: " + Errno(errno));
  }
  // kill() returns before every thread has stopped: a thread running on another CPU may still
  // answer a request. Wait until each thread's state is 'T'.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  const std::filesystem::path tasks = fmt::format("/proc/{}/task", pid_);
  while (std::chrono::steady_clock::now() < deadline) {
    bool all_stopped = true;
    std::error_code ec;
    for (const auto& task : std::filesystem::directory_iterator(tasks, ec)) {
      std::ifstream stat(task.path() / "stat");
      std::string line;
      std::getline(stat, line);
      const auto paren = line.rfind(')');
      if (paren == std::string::npos || paren + 2 >= line.size() || line[paren + 2] != 'T') {
        all_stopped = false;
        break;
      }
    }
    if (!ec && all_stopped) return OkStatus();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return MakeError(ErrorCode::kDeadlineExceeded, "local etcd: SIGSTOP: threads still running");
}

Status LocalEtcd::Resume() {
  if (pid_ <= 0 || ::kill(pid_, SIGCONT) != 0) {
    return MakeError(ErrorCode::kInternal, "local etcd: SIGCONT: " + Errno(errno));
  }
  return OkStatus();
}

}  // namespace faultline::client::testing
