#include "nemesis/siege.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <mutex>
#include <sstream>
#include <thread>

#include "common/clock.h"
#include "common/file.h"
#include "nemesis/internal/proc.h"

namespace faultline::nemesis {
namespace {

Error Errno(int err, std::string_view what) {
  ErrorCode code = ErrorCode::kInternal;
  if (err == EPERM || err == EACCES) code = ErrorCode::kPermissionDenied;
  if (err == ENOENT) code = ErrorCode::kNotFound;
  std::string m(what);
  m += ": ";
  m += std::strerror(err);
  if (code == ErrorCode::kPermissionDenied) m += " (run as root)";
  return Error(code, std::move(m));
}

Status WriteText(const std::string& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Errno(errno, "open " + path);
  ssize_t n = ::write(fd, text.data(), text.size());
  int err = errno;
  ::close(fd);
  if (n < 0) return Errno(err, "write " + text + " to " + path);
  return OkStatus();
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// State shared between the controller and its forked workers (MAP_SHARED, so it survives fork).
// Only lock-free atomics live here: workers never take a lock or allocate.
struct Shared {
  std::atomic<bool> stop{false};
  std::atomic<std::int64_t> cpu_busy_ns_per_period{0};  // per worker
  std::atomic<std::int64_t> cpu_period_ns{10000000};
  std::atomic<std::int64_t> mem_want_bytes{0};
  std::atomic<std::int64_t> mem_have_bytes{0};
  std::atomic<std::int64_t> disk_start_ns{0};
  std::atomic<std::int64_t> disk_interval_ns{0};  // between scheduled ops, over all workers
  std::atomic<std::int64_t> disk_next_ticket{0};
  std::atomic<std::int64_t> disk_done{0};
  std::atomic<std::int64_t> disk_errors{0};
};
static_assert(std::atomic<std::int64_t>::is_always_lock_free);

[[noreturn]] void CpuWorker(Shared* s) {
  std::int64_t start = MonotonicNow().count();
  while (!s->stop.load(std::memory_order_relaxed)) {
    std::int64_t period = s->cpu_period_ns.load(std::memory_order_relaxed);
    std::int64_t busy = s->cpu_busy_ns_per_period.load(std::memory_order_relaxed);
    // Busy is counted in this thread's CPU time, so being preempted does not count as burning.
    std::int64_t cpu0 = ThreadCpuNow().count();
    std::int64_t end = start + period;
    while (ThreadCpuNow().count() - cpu0 < busy && MonotonicNow().count() < end) {
    }
    std::int64_t now = MonotonicNow().count();
    if (now < end) {
      SleepUntilMonotonic(std::chrono::nanoseconds(end));
      start = end;
    } else {
      start = now;  // fell behind (preempted): resynchronise instead of bursting to catch up
    }
  }
  _exit(0);
}

[[noreturn]] void MemoryWorker(Shared* s) {
  // Memory is mapped in chunks of at most 8 MiB; the last chunk is only as large as the gap to
  // the target (whole pages), so the resident size can settle within a page of it rather than
  // within a chunk (8 MiB is 6% of a 128 MiB target: more than the 5-point tolerance).
  constexpr std::int64_t kChunk = 8 << 20;
  constexpr int kMaxChunks = 8192;
  void* chunks[kMaxChunks] = {};
  std::int64_t sizes[kMaxChunks] = {};
  int n = 0;
  std::int64_t have = 0;
  const std::int64_t page = sysconf(_SC_PAGESIZE);
  // Hysteresis so the worker does not map and unmap around the target forever.
  const std::int64_t slack = 16 * page;
  while (!s->stop.load(std::memory_order_relaxed)) {
    const std::int64_t want = s->mem_want_bytes.load(std::memory_order_relaxed);
    if (have + slack < want && n < kMaxChunks) {
      std::int64_t size = std::min(kChunk, (want - have) / page * page);
      void* p = mmap(nullptr, static_cast<size_t>(size), PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) {
        usleep(10000);
        continue;
      }
      // Touch every page with a non-zero byte so it is really resident (and not the zero page).
      for (std::int64_t off = 0; off < size; off += page) static_cast<char*>(p)[off] = 1;
      chunks[n] = p;
      sizes[n] = size;
      ++n;
      have += size;
    } else if (have > want + slack && n > 0) {
      --n;
      munmap(chunks[n], static_cast<size_t>(sizes[n]));
      have -= sizes[n];
    } else {
      usleep(5000);
    }
    s->mem_have_bytes.store(have, std::memory_order_relaxed);
  }
  _exit(0);
}

[[noreturn]] void DiskWorker(Shared* s, const char* path) {
  int fd = ::open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    s->disk_errors.fetch_add(1);
    _exit(1);
  }
  alignas(4096) static char buf[4096];
  std::memset(buf, 0x5a, sizeof buf);
  while (!s->stop.load(std::memory_order_relaxed)) {
    std::int64_t ticket = s->disk_next_ticket.fetch_add(1);
    std::int64_t due = s->disk_start_ns.load() + ticket * s->disk_interval_ns.load();
    std::int64_t now = MonotonicNow().count();
    // Far behind schedule (slow disk): skip the backlog rather than bursting later.
    if (now - due > 1000000000) {
      s->disk_next_ticket.store((now - s->disk_start_ns.load()) / s->disk_interval_ns.load());
      continue;
    }
    if (due > now) SleepUntilMonotonic(std::chrono::nanoseconds(due));
    if (s->stop.load(std::memory_order_relaxed)) break;
    if (pwrite(fd, buf, sizeof buf, (ticket % 256) * 4096) != sizeof buf || fsync(fd) != 0) {
      s->disk_errors.fetch_add(1);
      continue;
    }
    s->disk_done.fetch_add(1);
  }
  ::close(fd);
  _exit(0);
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

class SiegeImpl final : public Siege {
 public:
  SiegeImpl(SiegeTarget target, SiegeSpec spec) : target_(std::move(target)), spec_(spec) {}
  ~SiegeImpl() override { Stop(); }

  Status Init() {
    void* mem =
        mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) return Errno(errno, "siege: map shared state");
    shared_ = new (mem) Shared();
    start_ns_ = MonotonicNow().count();
    if (spec_.cpu) FAULTLINE_RETURN_IF_ERROR(StartCpu(*spec_.cpu));
    if (spec_.memory) FAULTLINE_RETURN_IF_ERROR(StartMemory(*spec_.memory));
    if (spec_.disk) FAULTLINE_RETURN_IF_ERROR(StartDisk(*spec_.disk));
    start_ns_ = MonotonicNow().count();
    auto cpu0 = ReadCpuUsageNs(target_);
    last_cpu_ns_ = cpu0 ? *cpu0 : 0;
    last_ns_ = start_ns_;
    control_ = std::thread([this] { ControlLoop(); });
    return OkStatus();
  }

  SiegeReport Sample() override {
    std::lock_guard lock(mu_);
    return ReportLocked();
  }

  SiegeReport Stop() override {
    {
      std::lock_guard lock(mu_);
      if (stopped_) return final_;
      stopped_ = true;
    }
    if (control_.joinable()) {
      stop_control_ = true;
      control_.join();
    }
    std::lock_guard lock(mu_);
    final_ = ReportLocked();
    if (shared_ != nullptr) shared_->stop = true;
    for (int pid : pids_) ::kill(pid, SIGKILL);
    for (int pid : pids_) {
      while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
    if (saved_quota_) {
      Status st = WriteText(target_.cpu + "/cpu.cfs_quota_us", *saved_quota_);
      if (!st) final_.notes.push_back("restore quota: " + st.error().message());
    }
    // Restored only where the weight is still ours (a concurrent siege may have changed it).
    for (const auto& [dir, old] : saved_shares_) {
      auto now = ReadFile(dir + "/cpu.shares");
      if (!now || Trim(*now) != std::to_string(spec_.cpu->shares.value_or(0))) continue;
      Status st = WriteText(dir + "/cpu.shares", old);
      if (!st) final_.notes.push_back("restore shares: " + st.error().message());
    }
    for (const std::string& f : disk_files_) ::unlink(f.c_str());
    if (shared_ != nullptr) {
      shared_->~Shared();
      munmap(shared_, sizeof(Shared));
      shared_ = nullptr;
    }
    return final_;
  }

 private:
  // Forks a worker that stops itself before doing anything, places it, then continues it.
  template <typename Fn>
  Status Spawn(Fn fn, const std::vector<std::string>& groups, bool oom_first) {
    const pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) return Errno(errno, "siege: fork worker");
    if (pid == 0) {
      // A burner must never outlive its controller (a crashed drill must not leave load behind).
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(0);
      raise(SIGSTOP);
      fn();
      _exit(0);
    }
    pids_.push_back(pid);
    int status = 0;
    if (waitpid(pid, &status, WUNTRACED) < 0 || !WIFSTOPPED(status)) {
      return Error(ErrorCode::kInternal, fmt::format("siege: worker {} did not stop", pid));
    }
    const auto stat = internal::ReadProcStat(pid);
    FAULTLINE_RETURN_IF_ERROR(Before({.kind = SiegeChange::Kind::kWorker,
                                      .path = {},
                                      .old_value = {},
                                      .new_value = {},
                                      .pid = pid,
                                      .start_time = stat ? stat->start_time : 0}));
    for (const std::string& dir : groups) {
      if (dir.empty()) continue;
      FAULTLINE_RETURN_IF_ERROR(WriteText(dir + "/cgroup.procs", std::to_string(pid)));
    }
    if (oom_first) {
      // The memcg OOM killer should take the burner, never the database beside it.
      (void)WriteText(fmt::format("/proc/{}/oom_score_adj", pid), "1000");
    }
    ::kill(pid, SIGCONT);
    return OkStatus();
  }

  Status Before(const SiegeChange& change) const {
    if (!spec_.before_change) return OkStatus();
    return spec_.before_change(change);
  }
  Status Setting(const std::string& path, const std::string& old, const std::string& now) const {
    return Before({.kind = SiegeChange::Kind::kSetting,
                   .path = path,
                   .old_value = old,
                   .new_value = now,
                   .pid = 0,
                   .start_time = 0});
  }

  std::vector<std::string> Groups(bool cpu, bool mem, bool blk) const {
    std::vector<std::string> g;
    auto add = [&](const std::string& d) {
      if (!d.empty() && std::find(g.begin(), g.end(), d) == g.end()) g.push_back(d);
    };
    // Every worker goes in every v1 group we know, so whatever it uses is charged to the target.
    add(target_.cpu);
    add(target_.cpuacct);
    add(target_.memory);
    add(target_.blkio);
    (void)cpu;
    (void)mem;
    (void)blk;
    return g;
  }

  Status StartCpu(const CpuSiegeSpec& c) {
    if (target_.cpuacct.empty()) {
      return Error(ErrorCode::kNotFound,
                   "siege: cpu on " + target_.name + ": no cpuacct group to measure it");
    }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int workers = c.workers;
    if (workers <= 0) {
      workers = static_cast<int>(std::ceil(c.target_percent / 100.0)) + 1;
      workers = std::clamp<int>(workers, 1, static_cast<int>(std::max<long>(ncpu, 1)));
    }
    cpu_workers_ = workers;
    shared_->cpu_period_ns = std::chrono::nanoseconds(c.period).count();
    duty_percent_ = c.target_percent;  // initial guess: nothing else runs in the group
    ApplyDuty();
    if (c.quota_percent) {
      auto old = ReadFile(target_.cpu + "/cpu.cfs_quota_us");
      if (!old) return old.error().WithContext("siege: cpu quota on " + target_.name);
      auto period = ReadFile(target_.cpu + "/cpu.cfs_period_us");
      if (!period) return period.error().WithContext("siege: cpu quota on " + target_.name);
      long p = std::stol(*period);
      long q = static_cast<long>(*c.quota_percent / 100.0 * static_cast<double>(p));
      FAULTLINE_RETURN_IF_ERROR(
          Setting(target_.cpu + "/cpu.cfs_quota_us", Trim(*old), std::to_string(q)));
      FAULTLINE_RETURN_IF_ERROR(WriteText(target_.cpu + "/cpu.cfs_quota_us", std::to_string(q)));
      saved_quota_ = Trim(*old);
      quota_note_ = fmt::format(", capped by cpu.cfs_quota_us {}/{}", q, p);
    }
    if (c.shares && !target_.cpu_v2 && !target_.cpu.empty()) {
      // CFS weights are hierarchical: a leaf's weight only counts against its siblings, so the
      // group and each ancestor up to the top of faultline's own tree (".../faultline") get at
      // least this weight. Groups above it are not ours (e.g. the one this process was started
      // in): raising them would favour us over other work on the machine, so they are left alone.
      const size_t own = target_.cpu.rfind("/faultline/");
      const std::string top =
          own == std::string::npos ? target_.cpu : target_.cpu.substr(0, own + 10);
      for (std::string dir = target_.cpu; dir.size() >= top.size() && dir.rfind(top, 0) == 0;
           dir = dir.substr(0, dir.rfind('/'))) {
        auto old = ReadFile(dir + "/cpu.shares");
        if (!old) return old.error().WithContext("siege: cpu shares on " + target_.name);
        if (std::stol(*old) >= *c.shares) continue;
        FAULTLINE_RETURN_IF_ERROR(
            Setting(dir + "/cpu.shares", Trim(*old), std::to_string(*c.shares)));
        FAULTLINE_RETURN_IF_ERROR(WriteText(dir + "/cpu.shares", std::to_string(*c.shares)));
        saved_shares_.emplace_back(dir, Trim(*old));
      }
      quota_note_ +=
          fmt::format(", cpu.shares {} on the group and its ancestors (restored after)", *c.shares);
    }
    for (int i = 0; i < workers; ++i) {
      Shared* s = shared_;
      FAULTLINE_RETURN_IF_ERROR(Spawn([s] { CpuWorker(s); }, Groups(true, false, false), false));
    }
    return OkStatus();
  }

  Status StartMemory(const MemorySiegeSpec& m) {
    if (target_.memory.empty()) {
      return Error(ErrorCode::kNotFound,
                   "siege: memory on " + target_.name + ": no memory group to measure it");
    }
    auto now = ReadMemoryBytes(target_);
    if (!now) return now.error().WithContext("siege: memory on " + target_.name);
    shared_->mem_want_bytes = std::max<std::int64_t>(0, m.target_bytes - *now);
    Shared* s = shared_;
    return Spawn([s] { MemoryWorker(s); }, Groups(false, true, false), true);
  }

  Status StartDisk(const DiskSiegeSpec& d) {
    if (d.target_ops_per_s <= 0) {
      return Error(ErrorCode::kInvalidArgument, "siege: disk: target ops/s must be positive");
    }
    shared_->disk_interval_ns = static_cast<std::int64_t>(1e9 / d.target_ops_per_s);
    shared_->disk_start_ns = MonotonicNow().count();
    int workers = std::max(1, d.workers);
    for (int i = 0; i < workers; ++i) {
      disk_files_.push_back(fmt::format("{}/.faultline-siege-{}-{}", d.directory, getpid(), i));
    }
    for (int i = 0; i < workers; ++i) {
      Shared* s = shared_;
      const char* path = disk_files_[static_cast<size_t>(i)].c_str();
      FAULTLINE_RETURN_IF_ERROR(Before({.kind = SiegeChange::Kind::kFile,
                                        .path = path,
                                        .old_value = {},
                                        .new_value = {},
                                        .pid = 0,
                                        .start_time = 0}));
      FAULTLINE_RETURN_IF_ERROR(
          Spawn([s, path] { DiskWorker(s, path); }, Groups(false, false, true), false));
    }
    return OkStatus();
  }

  void ApplyDuty() {
    double per_worker = std::clamp(duty_percent_ / cpu_workers_ / 100.0, 0.0, 1.0);
    shared_->cpu_busy_ns_per_period =
        static_cast<std::int64_t>(per_worker * static_cast<double>(shared_->cpu_period_ns));
  }

  void ControlLoop() {
    std::int64_t interval = std::chrono::nanoseconds(spec_.control_interval).count();
    std::int64_t warmup_end = start_ns_ + std::chrono::nanoseconds(spec_.warmup).count();
    std::int64_t next = start_ns_ + interval;
    while (!stop_control_) {
      SleepUntilMonotonic(std::chrono::nanoseconds(next));
      next += interval;
      std::int64_t now = MonotonicNow().count();
      auto cpu = ReadCpuUsageNs(target_);
      auto mem = ReadMemoryBytes(target_);
      std::lock_guard lock(mu_);
      double dt = static_cast<double>(now - last_ns_);
      if (cpu && dt > 0) {
        double pct = static_cast<double>(*cpu - last_cpu_ns_) / dt * 100.0;
        last_cpu_ns_ = *cpu;
        if (spec_.cpu) {
          // Integral control on the cgroup's own usage; clamped so it cannot wind up.
          duty_percent_ += 0.6 * (spec_.cpu->target_percent - pct);
          duty_percent_ = std::clamp(duty_percent_, 0.0, 100.0 * cpu_workers_);
          ApplyDuty();
          if (now >= warmup_end) cpu_peak_ = std::max(cpu_peak_, pct);
        }
        if (now >= warmup_end && !cpu_window_start_) cpu_window_start_ = *cpu;
        if (now >= warmup_end) cpu_window_last_ = *cpu;
      }
      if (mem && spec_.memory) {
        std::int64_t have = shared_->mem_have_bytes.load();
        std::int64_t others = *mem - have;
        shared_->mem_want_bytes = std::max<std::int64_t>(0, spec_.memory->target_bytes - others);
        if (now >= warmup_end) {
          mem_sum_ += static_cast<double>(*mem);
          ++mem_samples_;
          mem_peak_ = std::max(mem_peak_, static_cast<double>(*mem));
        }
      }
      if (now >= warmup_end && window_start_ns_ == 0) {
        window_start_ns_ = now;
        disk_window_start_ = shared_->disk_done.load();
      }
      if (now >= warmup_end) {
        window_end_ns_ = now;
        disk_window_last_ = shared_->disk_done.load();
      }
      last_ns_ = now;
    }
  }

  SiegeFigure Judge(SiegeFigure f, bool relative) const {
    f.miss = std::fabs(f.achieved - f.target);
    if (relative) f.miss = f.target > 0 ? f.miss / f.target * 100.0 : 0;
    f.within_tolerance = f.miss <= spec_.tolerance_points;
    return f;
  }

  SiegeReport ReportLocked() const {
    SiegeReport r;
    r.target = target_.name;
    r.worker_pids = pids_;
    double window = static_cast<double>(window_end_ns_ - window_start_ns_);
    r.measured = std::chrono::milliseconds(static_cast<std::int64_t>(window / 1e6));
    bool measured = window > 0;
    if (!measured) r.notes.push_back("no measurement yet: still in the warm-up");
    if (spec_.cpu) {
      SiegeFigure f;
      f.resource = "cpu";
      f.unit = "% of one CPU";
      f.target = spec_.cpu->target_percent;
      if (measured && cpu_window_start_) {
        f.achieved = static_cast<double>(cpu_window_last_ - *cpu_window_start_) / window * 100.0;
      }
      f.peak = cpu_peak_;
      f.mechanism =
          fmt::format("{} native worker(s) with a {} ms duty cycle held by feedback on {}{}{}",
                      cpu_workers_, spec_.cpu->period.count(), target_.cpuacct,
                      target_.cpu_v2 ? "/cpu.stat usage_usec" : "/cpuacct.usage", quota_note_);
      r.figures.push_back(Judge(f, false));
    }
    if (spec_.memory) {
      SiegeFigure f;
      f.resource = "memory";
      f.unit = "bytes";
      f.target = static_cast<double>(spec_.memory->target_bytes);
      if (mem_samples_ > 0) f.achieved = mem_sum_ / static_cast<double>(mem_samples_);
      f.peak = mem_peak_;
      f.mechanism = fmt::format("touched anonymous pages in 8 MiB chunks, measured from {}/{}",
                                target_.memory,
                                target_.memory_v2 ? "memory.current" : "memory.usage_in_bytes");
      r.figures.push_back(Judge(f, true));
    }
    if (spec_.disk) {
      SiegeFigure f;
      f.resource = "disk";
      f.unit = "ops/s";
      f.target = spec_.disk->target_ops_per_s;
      if (measured) {
        f.achieved = static_cast<double>(disk_window_last_ - disk_window_start_) / (window / 1e9);
      }
      f.mechanism = fmt::format("{} writer(s), 4 KiB pwrite + fsync each, in {} (blkio group {})",
                                spec_.disk->workers, spec_.disk->directory,
                                target_.blkio.empty() ? "none" : target_.blkio);
      std::int64_t errors = shared_ != nullptr ? shared_->disk_errors.load() : 0;
      if (errors > 0) r.notes.push_back(fmt::format("{} disk write(s) failed", errors));
      r.figures.push_back(Judge(f, true));
    }
    r.valid = measured && std::all_of(r.figures.begin(), r.figures.end(),
                                      [](const SiegeFigure& f) { return f.within_tolerance; });
    return r;
  }

  SiegeTarget target_;
  SiegeSpec spec_;
  Shared* shared_ = nullptr;
  std::vector<int> pids_;
  std::vector<std::string> disk_files_;
  std::optional<std::string> saved_quota_;
  std::vector<std::pair<std::string, std::string>> saved_shares_;  // dir, old weight
  std::string quota_note_;
  int cpu_workers_ = 1;
  std::thread control_;
  std::atomic<bool> stop_control_{false};

  mutable std::mutex mu_;
  bool stopped_ = false;
  SiegeReport final_;
  double duty_percent_ = 0;
  std::int64_t start_ns_ = 0;
  std::int64_t last_ns_ = 0;
  std::uint64_t last_cpu_ns_ = 0;
  std::optional<std::uint64_t> cpu_window_start_;
  std::uint64_t cpu_window_last_ = 0;
  double cpu_peak_ = 0;
  double mem_sum_ = 0;
  double mem_peak_ = 0;
  std::int64_t mem_samples_ = 0;
  std::int64_t window_start_ns_ = 0;
  std::int64_t window_end_ns_ = 0;
  std::int64_t disk_window_start_ = 0;
  std::int64_t disk_window_last_ = 0;
};

}  // namespace

std::string CgroupMounts::Describe() const {
  std::string out;
  for (const auto& [c, m] : v1) {
    if (!out.empty()) out += ", ";
    out += fmt::format("{} v1 ({})", c, m);
  }
  for (const auto& c : unified_controllers) {
    if (!out.empty()) out += ", ";
    out += fmt::format("{} v2 ({})", c, unified);
  }
  if (!unified.empty()) out += fmt::format("; cgroup2 at {}", unified);
  return out;
}

Result<CgroupMounts> DetectCgroups() {
  auto mounts = ReadFile("/proc/self/mounts");
  if (!mounts) return mounts.error().WithContext("siege: detect cgroups");
  CgroupMounts out;
  std::istringstream in(*mounts);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string dev, dir, type, opts;
    ls >> dev >> dir >> type >> opts;
    if (type == "cgroup2") {
      out.unified = dir;
    } else if (type == "cgroup") {
      std::istringstream os(opts);
      std::string opt;
      while (std::getline(os, opt, ',')) {
        if (opt == "rw" || opt == "ro" || opt.rfind("relatime", 0) == 0 || opt == "nosuid" ||
            opt == "nodev" || opt == "noexec" || opt.rfind("name=", 0) == 0 || opt == "noatime" ||
            opt.rfind("release_agent", 0) == 0 || opt == "clone_children" || opt == "xattr" ||
            opt == "nsdelegate") {
          continue;
        }
        out.v1.emplace(opt, dir);
      }
    }
  }
  if (!out.unified.empty()) {
    auto ctl = ReadFile(out.unified + "/cgroup.controllers");
    if (ctl) {
      std::istringstream cs(*ctl);
      std::string c;
      while (cs >> c) {
        if (!out.v1.contains(c)) out.unified_controllers.push_back(c);
      }
    }
  }
  auto self = ReadFile("/proc/self/cgroup");
  if (self) {
    std::istringstream ss(*self);
    while (std::getline(ss, line)) {
      // "4:memory:/process_api/x" or "0::/x"
      size_t a = line.find(':');
      size_t b = line.find(':', a + 1);
      if (a == std::string::npos || b == std::string::npos) continue;
      std::string ctrls = line.substr(a + 1, b - a - 1);
      std::string path = line.substr(b + 1);
      if (ctrls.empty()) {
        out.self[""] = path;
        continue;
      }
      std::istringstream cs(ctrls);
      std::string c;
      while (std::getline(cs, c, ',')) out.self[c] = path;
    }
  }
  if (out.v1.empty() && out.unified.empty()) {
    return Error(ErrorCode::kNotFound, "siege: detect cgroups: no cgroup hierarchy is mounted");
  }
  return out;
}

Result<SiegeTarget> TargetFromCgroups(std::string name,
                                      const std::map<std::string, std::string>& cgroups,
                                      const CgroupMounts& mounts) {
  SiegeTarget t;
  t.name = std::move(name);
  auto get = [&](const char* k) -> std::string {
    auto it = cgroups.find(k);
    return it == cgroups.end() ? std::string() : it->second;
  };
  t.cpu = get("cpu");
  t.cpuacct = get("cpuacct");
  t.memory = get("memory");
  t.blkio = get("blkio");
  if (t.cpuacct.empty() && !t.cpu.empty()) {
    if (Exists(t.cpu + "/cpuacct.usage")) {
      t.cpuacct = t.cpu;
    } else if (mounts.v1.contains("cpu") && mounts.v1.contains("cpuacct")) {
      const std::string& cm = mounts.v1.at("cpu");
      if (t.cpu.rfind(cm, 0) == 0) {
        std::string cand = mounts.v1.at("cpuacct") + t.cpu.substr(cm.size());
        if (Exists(cand + "/cpuacct.usage")) t.cpuacct = cand;
      }
    }
  }
  std::string unified = get("unified");
  auto v2has = [&](const char* c) {
    return std::find(mounts.unified_controllers.begin(), mounts.unified_controllers.end(), c) !=
           mounts.unified_controllers.end();
  };
  if (!unified.empty()) {
    if (t.cpu.empty() && v2has("cpu")) t.cpu = unified, t.cpu_v2 = true;
    if (t.cpuacct.empty() && v2has("cpu")) t.cpuacct = unified, t.cpu_v2 = true;
    if (t.memory.empty() && v2has("memory")) t.memory = unified, t.memory_v2 = true;
    if (t.blkio.empty() && v2has("io")) t.blkio = unified, t.blkio_v2 = true;
  }
  if (t.cpu.empty() && t.cpuacct.empty() && t.memory.empty() && t.blkio.empty()) {
    return Error(ErrorCode::kNotFound, "siege: target " + t.name +
                                           ": no cpu, memory or blkio group is known (is the "
                                           "cluster's supervisor placing nodes in cgroups?)");
  }
  return t;
}

Result<SiegeTarget> CreateTarget(const CgroupMounts& mounts, const std::string& relative) {
  SiegeTarget t;
  t.name = relative;
  auto make = [&](const std::string& ctrl, std::string& slot, bool& v2) -> Status {
    std::string base;
    if (mounts.v1.contains(ctrl)) {
      base = mounts.v1.at(ctrl);
      // Nest under our own group where we already sit in a non-root one (PLATFORM §2).
      auto it = mounts.self.find(ctrl);
      if (it != mounts.self.end() && it->second != "/") base += it->second;
      v2 = false;
    } else {
      std::string v2name = ctrl == "blkio" ? "io" : ctrl == "cpuacct" ? "cpu" : ctrl;
      if (std::find(mounts.unified_controllers.begin(), mounts.unified_controllers.end(), v2name) ==
          mounts.unified_controllers.end()) {
        return OkStatus();
      }
      base = mounts.unified;
      v2 = true;
    }
    std::string dir = base;
    std::istringstream ps(relative);
    std::string part;
    while (std::getline(ps, part, '/')) {
      if (part.empty()) continue;
      dir += "/" + part;
      if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
        return Errno(errno, "siege: create group " + dir);
      }
    }
    slot = dir;
    return OkStatus();
  };
  bool v2 = false;
  FAULTLINE_RETURN_IF_ERROR(make("cpu", t.cpu, t.cpu_v2));
  FAULTLINE_RETURN_IF_ERROR(make("cpuacct", t.cpuacct, v2));
  FAULTLINE_RETURN_IF_ERROR(make("memory", t.memory, t.memory_v2));
  FAULTLINE_RETURN_IF_ERROR(make("blkio", t.blkio, t.blkio_v2));
  return t;
}

Status RemoveTarget(const SiegeTarget& target) {
  std::vector<std::string> dirs = {target.cpu, target.cpuacct, target.memory, target.blkio};
  std::sort(dirs.begin(), dirs.end());
  dirs.erase(std::unique(dirs.begin(), dirs.end()), dirs.end());
  std::string errors;
  for (const std::string& d : dirs) {
    if (d.empty()) continue;
    // Workers just killed may take a moment to leave the group.
    int tries = 0;
    while (::rmdir(d.c_str()) != 0) {
      if (errno == ENOENT) break;
      if (errno != EBUSY || ++tries > 100) {
        errors.append(errors.empty() ? "" : "; ")
            .append(d)
            .append(": ")
            .append(std::strerror(errno));
        break;
      }
      usleep(10000);
    }
  }
  if (!errors.empty()) return Error(ErrorCode::kInternal, "siege: remove groups: " + errors);
  return OkStatus();
}

Result<std::uint64_t> ReadCpuUsageNs(const SiegeTarget& target) {
  if (target.cpuacct.empty()) {
    return Error(ErrorCode::kNotFound, "siege: cpu usage of " + target.name + ": no cpuacct group");
  }
  if (target.cpu_v2) {
    auto text = ReadFile(target.cpuacct + "/cpu.stat");
    if (!text) return text.error();
    std::istringstream in(*text);
    std::string k;
    std::uint64_t v = 0;
    while (in >> k >> v) {
      if (k == "usage_usec") return v * 1000;
    }
    return Error(ErrorCode::kInternal, "siege: " + target.cpuacct + "/cpu.stat: no usage_usec");
  }
  auto text = ReadFile(target.cpuacct + "/cpuacct.usage");
  if (!text) return text.error();
  return static_cast<std::uint64_t>(std::stoull(*text));
}

Result<std::int64_t> ReadMemoryBytes(const SiegeTarget& target) {
  if (target.memory.empty()) {
    return Error(ErrorCode::kNotFound, "siege: memory of " + target.name + ": no memory group");
  }
  auto text =
      ReadFile(target.memory + (target.memory_v2 ? "/memory.current" : "/memory.usage_in_bytes"));
  if (!text) return text.error();
  return static_cast<std::int64_t>(std::stoll(*text));
}

std::string SiegeReport::Describe() const {
  std::string out = fmt::format("siege on {}: {}", target, valid ? "valid" : "INVALID");
  for (const SiegeFigure& f : figures) {
    if (f.unit == "bytes") {
      out += fmt::format("; {} {:.1f} MiB of {:.1f} MiB (peak {:.1f}, miss {:.1f}%){}", f.resource,
                         f.achieved / 1048576.0, f.target / 1048576.0, f.peak / 1048576.0, f.miss,
                         f.within_tolerance ? "" : " MISSED");
    } else {
      out += fmt::format("; {} {:.1f} of {:.1f} {} (miss {:.1f}){}", f.resource, f.achieved,
                         f.target, f.unit, f.miss, f.within_tolerance ? "" : " MISSED");
    }
  }
  for (const std::string& n : notes) out += "; " + n;
  return out;
}

Result<std::unique_ptr<Siege>> Siege::Start(const SiegeTarget& target, const SiegeSpec& spec) {
  auto s = std::make_unique<SiegeImpl>(target, spec);
  Status st = s->Init();
  if (!st) {
    (void)s->Stop();
    return st.error();
  }
  return std::unique_ptr<Siege>(std::move(s));
}

}  // namespace faultline::nemesis
