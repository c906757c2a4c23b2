#include "nemesis/internal/netns.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <thread>

extern char** environ;

namespace faultline::nemesis::internal {
namespace {

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      Reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  ~Fd() { Reset(); }
  int get() const { return fd_; }
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

std::string ResolveProgram(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  std::vector<std::string> dirs = {"/usr/sbin", "/sbin", "/usr/bin", "/bin"};
  if (const char* path = std::getenv("PATH")) {
    std::string_view p(path);
    while (!p.empty()) {
      const auto colon = p.find(':');
      dirs.emplace_back(p.substr(0, colon));
      p = colon == std::string_view::npos ? "" : p.substr(colon + 1);
    }
  }
  for (const auto& d : dirs) {
    std::string candidate = d + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

}  // namespace

std::string NetnsPath(std::string_view netns) {
  if (!netns.empty() && netns.front() == '/') return std::string(netns);
  return "/var/run/netns/" + std::string(netns);
}

Error ErrnoError(int err, std::string_view context) {
  std::string_view hint;
  if (err == EPERM || err == EACCES) {
    hint = " (run as root or grant CAP_NET_ADMIN and CAP_SYS_ADMIN)";
  } else if (err == EOPNOTSUPP || err == EAFNOSUPPORT || err == EPROTONOSUPPORT) {
    hint = " (not supported by this kernel)";
  }
  return Error(ErrorCodeFromErrno(err), fmt::format("{}: {}{}", context, std::strerror(err), hint));
}

Status RunInNetns(std::string_view netns, const std::function<Status()>& fn) {
  const std::string path = NetnsPath(netns);
  std::optional<Status> result;
  // setns acts on the calling thread only, and the thread ends right after fn, so no other code
  // ever runs in the node's namespace by accident.
  std::thread worker([&] {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      result = ErrnoError(errno, fmt::format("enter network namespace {}: open", path));
      return;
    }
    const int rc = ::setns(fd, CLONE_NEWNET);
    const int err = errno;
    ::close(fd);
    if (rc != 0) {
      result = ErrnoError(err, fmt::format("enter network namespace {}: setns", path));
      return;
    }
    result = fn();
  });
  worker.join();
  return std::move(*result);
}

std::vector<Status> RunInNetnsParallel(const std::vector<std::string>& netns,
                                       const std::function<Status(size_t)>& fn) {
  std::vector<std::optional<Status>> results(netns.size());
  std::vector<std::thread> threads;
  threads.reserve(netns.size());
  for (size_t i = 0; i < netns.size(); ++i) {
    threads.emplace_back([&, i] { results[i] = RunInNetns(netns[i], [&] { return fn(i); }); });
  }
  for (auto& t : threads) t.join();
  std::vector<Status> out;
  out.reserve(results.size());
  for (auto& r : results) out.push_back(std::move(*r));
  return out;
}

class NodeWorkers::Worker {
 public:
  // Starts the thread and waits until it is inside the namespace (or failed to get there).
  explicit Worker(const std::string& netns) : path_(NetnsPath(netns)) {
    std::promise<Status> entered;
    auto entered_future = entered.get_future();
    thread_ = std::thread([this, promise = std::move(entered)]() mutable {
      const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        promise.set_value(
            ErrnoError(errno, fmt::format("enter network namespace {}: open", path_)));
        return;
      }
      struct stat st {};
      const bool stat_ok = ::fstat(fd, &st) == 0;
      const int rc = ::setns(fd, CLONE_NEWNET);
      const int err = errno;
      ::close(fd);
      if (rc != 0 || !stat_ok) {
        promise.set_value(ErrnoError(err, fmt::format("enter network namespace {}: setns", path_)));
        return;
      }
      dev_ = st.st_dev;
      ino_ = st.st_ino;
      promise.set_value(OkStatus());
      Loop();
    });
    status_ = entered_future.get();
  }

  ~Worker() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  const Status& status() const { return status_; }

  // True if the worker runs and its namespace file still names the namespace it is in.
  bool Current() const {
    struct stat st {};
    return status_.has_value() && ::stat(path_.c_str(), &st) == 0 && st.st_dev == dev_ &&
           st.st_ino == ino_;
  }

  std::future<Status> Submit(std::function<Status()> job) {
    std::packaged_task<Status()> task(std::move(job));
    auto done = task.get_future();
    {
      std::lock_guard lock(mu_);
      jobs_.push_back(std::move(task));
    }
    cv_.notify_all();
    return done;
  }

 private:
  void Loop() {
    while (true) {
      std::packaged_task<Status()> task;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
        if (jobs_.empty()) return;
        task = std::move(jobs_.front());
        jobs_.pop_front();
      }
      task();
    }
  }

  std::string path_;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  Status status_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::packaged_task<Status()>> jobs_;
  bool stop_ = false;
  std::thread thread_;
};

NodeWorkers::NodeWorkers(std::vector<std::string> netns)
    : netns_(std::move(netns)), workers_(netns_.size()) {}

NodeWorkers::~NodeWorkers() = default;

std::vector<Status> NodeWorkers::ForEach(const std::function<Status(size_t)>& fn) {
  // (Re)start the workers that are missing, failed, or sit in a namespace the file no longer
  // names, in parallel: each start enters a namespace.
  std::vector<std::thread> starting;
  for (size_t i = 0; i < workers_.size(); ++i) {
    if (workers_[i] && workers_[i]->Current()) continue;
    starting.emplace_back([this, i] {
      workers_[i].reset();
      workers_[i] = std::make_unique<Worker>(netns_[i]);
    });
  }
  for (auto& t : starting) t.join();
  std::vector<std::optional<std::future<Status>>> pending(workers_.size());
  std::vector<Status> out(workers_.size(), OkStatus());
  for (size_t i = 0; i < workers_.size(); ++i) {
    if (!workers_[i]->status()) {
      out[i] = workers_[i]->status();
      continue;
    }
    pending[i] = workers_[i]->Submit([&fn, i] { return fn(i); });
  }
  for (size_t i = 0; i < workers_.size(); ++i) {
    if (pending[i]) out[i] = pending[i]->get();
  }
  return out;
}

Result<ExecResult> Exec(const std::vector<std::string>& argv, std::string_view input) {
  if (argv.empty()) return MakeError(ErrorCode::kInternal, "exec: empty command line");
  const std::string program = ResolveProgram(argv[0]);
  if (program.empty()) {
    return MakeError(ErrorCode::kNotFound,
                     fmt::format("exec {}: program not found (install it or fix PATH)", argv[0]));
  }
  std::array<int, 2> in{-1, -1};
  std::array<int, 2> out{-1, -1};
  std::array<int, 2> err{-1, -1};
  if (::pipe2(in.data(), O_CLOEXEC) != 0) return ErrnoError(errno, "exec " + argv[0] + ": pipe");
  Fd in_r(in[0]), in_w(in[1]);
  if (::pipe2(out.data(), O_CLOEXEC) != 0) return ErrnoError(errno, "exec " + argv[0] + ": pipe");
  Fd out_r(out[0]), out_w(out[1]);
  if (::pipe2(err.data(), O_CLOEXEC) != 0) return ErrnoError(errno, "exec " + argv[0] + ": pipe");
  Fd err_r(err[0]), err_w(err[1]);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_r.get(), 0);
  posix_spawn_file_actions_adddup2(&actions, out_w.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, err_w.get(), 2);
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  // posix_spawn clones the calling thread, so the child starts in this thread's namespaces.
  const int rc = ::posix_spawn(&pid, program.c_str(), &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return ErrnoError(rc, "exec " + program);
  in_r.Reset();
  out_w.Reset();
  err_w.Reset();

  // A child that exits without reading its input would make write() raise SIGPIPE, which kills
  // the whole process by default: block it on this thread and swallow the one write() raised.
  sigset_t pipe_set;
  sigset_t old_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
  bool broken_pipe = false;

  ExecResult result;
  size_t written = 0;
  if (input.empty()) in_w.Reset();
  std::array<char, 4096> buf{};
  while (out_r.get() >= 0 || err_r.get() >= 0 || in_w.get() >= 0) {
    std::array<pollfd, 3> fds{};
    fds[0] = {.fd = in_w.get(), .events = POLLOUT, .revents = 0};
    fds[1] = {.fd = out_r.get(), .events = POLLIN, .revents = 0};
    fds[2] = {.fd = err_r.get(), .events = POLLIN, .revents = 0};
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[0].revents != 0) {
      const ssize_t n = ::write(in_w.get(), input.data() + written, input.size() - written);
      if (n > 0) written += static_cast<size_t>(n);
      if (n < 0 && errno == EPIPE) broken_pipe = true;
      if (n < 0 || written == input.size()) in_w.Reset();
    }
    for (int i = 1; i <= 2; ++i) {
      if (fds[i].revents == 0) continue;
      const ssize_t n = ::read(fds[i].fd, buf.data(), buf.size());
      if (n > 0) {
        (i == 1 ? result.out : result.err).append(buf.data(), static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        (i == 1 ? out_r : err_r).Reset();
      }
    }
  }
  if (broken_pipe && sigismember(&old_set, SIGPIPE) == 0) {
    const timespec zero{};
    ::sigtimedwait(&pipe_set, nullptr, &zero);
  }
  pthread_sigmask(SIG_SETMASK, &old_set, nullptr);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return ErrnoError(errno, "exec " + program + ": waitpid");
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

Result<std::string> ExecOk(const std::vector<std::string>& argv, std::string_view input) {
  FAULTLINE_ASSIGN_OR_RETURN(ExecResult r, Exec(argv, input));
  if (r.exit_code == 0) return std::move(r.out);
  std::string cmd;
  for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
  std::string why = r.err.empty() ? r.out : r.err;
  while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
  for (auto& c : why) {
    if (c == '\n') c = ';';
  }
  const ErrorCode code = why.find("ermission denied") != std::string::npos ||
                                 why.find("Operation not permitted") != std::string::npos
                             ? ErrorCode::kPermissionDenied
                             : ErrorCode::kUnavailable;
  return MakeError(code, fmt::format("{}: exit {}: {}", cmd, r.exit_code, why));
}

}  // namespace faultline::nemesis::internal
