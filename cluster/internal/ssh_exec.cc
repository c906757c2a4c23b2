#include "cluster/internal/ssh_exec.h"

#include <fmt/format.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

namespace faultline::cluster::internal {

Result<std::unique_ptr<Session>> Session::Start(const std::vector<std::string>& argv) {
  if (argv.empty()) return MakeError(ErrorCode::kInvalidArgument, "session: empty command");
  auto child = Spawn(argv, SpawnOptions{.err = Stdio::kNull});
  if (!child) return std::move(child).error().WithContext("session");
  return std::unique_ptr<Session>(new Session(std::move(child).value()));
}

Session::~Session() {
  if (child_.pid <= 0) return;
  // Closing its stdin asks the shell to exit; it gets a second before SIGKILL.
  child_.in.Reset();
  child_.out.Reset();
  (void)WaitExitFor(child_, std::chrono::seconds(1));
}

Status Session::Write(std::string_view data, std::chrono::steady_clock::time_point deadline) {
  size_t done = 0;
  while (done < data.size()) {
    if (!child_.in.valid()) return MakeError(ErrorCode::kUnavailable, "session: stdin closed");
    ssize_t w = 0;
    int err = 0;
    {
      // A shell that has exited must give EPIPE here, not kill the process with SIGPIPE.
      sigset_t pipe_set;
      sigset_t old_set;
      sigemptyset(&pipe_set);
      sigaddset(&pipe_set, SIGPIPE);
      pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
      w = ::write(child_.in.get(), data.data() + done, data.size() - done);
      err = errno;
      if (w < 0 && err == EPIPE && sigismember(&old_set, SIGPIPE) == 0) {
        const timespec zero{0, 0};
        ::sigtimedwait(&pipe_set, nullptr, &zero);
      }
      pthread_sigmask(SIG_SETMASK, &old_set, nullptr);
    }
    if (w > 0) {
      done += static_cast<size_t>(w);
      continue;
    }
    if (w < 0 && err != EAGAIN && err != EINTR) {
      child_.in.Reset();
      return MakeError(ErrorCode::kUnavailable,
                       fmt::format("session: write: {}", std::strerror(err)));
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return MakeError(ErrorCode::kDeadlineExceeded, "session: write timed out");
    }
    pollfd p{.fd = child_.in.get(), .events = POLLOUT, .revents = 0};
    ::poll(&p, 1, static_cast<int>(left.count()) + 1);
  }
  return OkStatus();
}

Result<std::string> Session::ReadUntil(std::string_view terminator,
                                       std::chrono::steady_clock::time_point deadline) {
  size_t scanned = 0;
  while (true) {
    const size_t at = buffer_.find(terminator, scanned);
    if (at != std::string::npos) {
      std::string before = buffer_.substr(0, at);
      buffer_.erase(0, at + terminator.size());
      return before;
    }
    scanned = buffer_.size() >= terminator.size() ? buffer_.size() - terminator.size() + 1 : 0;
    if (!child_.out.valid()) return MakeError(ErrorCode::kUnavailable, "session: output closed");
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return MakeError(ErrorCode::kDeadlineExceeded, "session: no answer in time");
    }
    pollfd p{.fd = child_.out.get(), .events = POLLIN, .revents = 0};
    if (::poll(&p, 1, static_cast<int>(left.count()) + 1) <= 0) continue;
    std::array<char, 8192> buf{};
    const ssize_t r = ::read(child_.out.get(), buf.data(), buf.size());
    if (r > 0) {
      buffer_.append(buf.data(), static_cast<size_t>(r));
    } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
      child_.out.Reset();
    }
  }
}

}  // namespace faultline::cluster::internal
