#include "nemesis/internal/netns.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <thread>

#include "common/parallel.h"

namespace faultline::nemesis::internal {

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
  return ParallelFor(netns.size(),
                     [&](size_t i) { return RunInNetns(netns[i], [&] { return fn(i); }); });
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
  const std::vector<Status> started = ParallelFor(workers_.size(), [this](size_t i) {
    if (workers_[i] && workers_[i]->Current()) return OkStatus();
    workers_[i].reset();
    workers_[i] = std::make_unique<Worker>(netns_[i]);
    return OkStatus();
  });
  std::vector<std::optional<std::future<Status>>> pending(workers_.size());
  std::vector<Status> out(workers_.size(), OkStatus());
  for (size_t i = 0; i < workers_.size(); ++i) {
    if (!started[i]) {  // the worker's thread could not be made
      out[i] = started[i];
      continue;
    }
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

}  // namespace faultline::nemesis::internal
