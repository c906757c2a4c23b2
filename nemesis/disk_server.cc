// The faulty filesystem's server: `faultline-nemesis-helper disk --dir DIR --socket SOCK`.
//
// Mounts a pass-through FUSE filesystem over DIR itself. It opens DIR before mounting and serves
// every call relative to that descriptor, so the files stay where they were: unmounting (even a
// lazy unmount while a database still has files open) leaves DIR as it is, with no half-mounted
// directory and nothing to move back. Writes go through at once and are logged for undo
// (internal/undo_log.h) until the file is fsync'd; fsync and fdatasync are answered here (never
// ENOSYS, after which the kernel would stop sending them). Control: one line per request on the
// unix socket SOCK, one line back:
//   status                       ok unsynced_writes=N unsynced_bytes=N writes_dropped=N ...
//   cut                          the power goes: nothing reaches the disk until the next drop;
//                                writes and fsyncs (also one in flight) are held until their
//                                caller is being killed, then answered EIO it never sees
//   drop [SEED]                  undo every unsynced write (SEED != 0: keep a random prefix of
//                                each file's last write, a torn write); ok writes=N bytes=N ...
//   fsync-error SHARE SEED       fsync answers EIO for that share of calls (data stays unsynced)
//   slow US JITTER_US            every read, write and fsync waits US ± JITTER_US microseconds
//   normal                       no fsync errors, no latency, power back on (without a drop)
// The kernel's page cache keeps no dropped data: the filesystem is mounted without kernel_cache
// (each open drops the file's cached pages, mmap included) and with zero attribute and entry
// timeouts, and a drop is made while the database processes are down.
//
// It runs detached (SpawnHelper: own session), so it outlives the faultline that started it: a
// SIGKILLed campaign leaves the database with a working filesystem, never ENOTCONN. It exits when
// the mount goes (umount, or a lazy umount once the last open file closes) or on SIGTERM
// (unmounting first).
#define FUSE_USE_VERSION 312

#include "nemesis/internal/disk_server.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <fuse.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "nemesis/internal/undo_log.h"

namespace faultline::nemesis::internal {
namespace {

struct Server {
  int base = -1;  // DIR, opened before the mount covered it
  std::mutex mu;  // guards undo, rng and the fault settings
  UndoLog undo;
  std::mt19937_64 rng{1};
  double fsync_error_share = 0;
  std::int64_t slow_us = 0;
  std::int64_t jitter_us = 0;
  // The power is cut: nothing reaches the disk any more (writes and syncs answer EIO, and a sync
  // in flight when the cut came does not count) until the next drop.
  std::atomic<bool> cut{false};
  std::atomic<std::int64_t> writes_dropped{0};
  std::atomic<std::int64_t> bytes_dropped{0};
  std::atomic<std::int64_t> torn_bytes{0};
  std::atomic<std::int64_t> fsync_errors{0};
  std::atomic<std::int64_t> fsyncs{0};
  std::atomic<std::int64_t> slowed{0};
  std::atomic<std::int64_t> writes{0};
};

Server g;

// "/a/b" -> "a/b"; "/" -> ".".
std::string Rel(const char* path) {
  if (path == nullptr) return ".";
  while (*path == '/') ++path;
  return *path == 0 ? std::string(".") : std::string(path);
}

int Err() { return -errno; }

void MaybeSlow() {
  std::int64_t us = 0;
  {
    std::lock_guard lock(g.mu);
    if (g.slow_us <= 0 && g.jitter_us <= 0) return;
    us = g.slow_us;
    if (g.jitter_us > 0) {
      us += static_cast<std::int64_t>(g.rng() % static_cast<std::uint64_t>(2 * g.jitter_us + 1)) -
            g.jitter_us;
    }
  }
  ++g.slowed;
  if (us > 0) std::this_thread::sleep_for(std::chrono::microseconds(us));
}

// True if thread `tid` has a SIGKILL pending (it is being killed).
bool KillPending(pid_t tid) {
  std::ifstream in(fmt::format("/proc/{}/status", tid));
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with("SigPnd:") && !line.starts_with("ShdPnd:")) continue;
    const std::uint64_t mask = std::stoull(line.substr(7), nullptr, 16);
    if ((mask & (1ull << (SIGKILL - 1))) != 0) return true;
  }
  return false;
}

// A call after the power cut: held until its caller is being killed (then it never sees the
// answer: a database dies as in a real power cut, without logging an I/O error) or the power
// comes back, at most a few seconds; then EIO.
int AfterCut() {
  const pid_t tid = fuse_get_context()->pid;
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (g.cut && std::chrono::steady_clock::now() < end && !KillPending(tid)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return -EIO;
}

ino_t InoOf(int fd) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 ? st.st_ino : 0;
}

void* Init(fuse_conn_info* conn, fuse_config* cfg) {
  cfg->use_ino = 1;
  cfg->nullpath_ok = 1;
  cfg->hard_remove = 1;
  cfg->kernel_cache = 0;  // each open drops cached pages (dropped data must not linger in them)
  cfg->attr_timeout = 0;  // a drop changes sizes behind the kernel's back
  cfg->entry_timeout = 0;
  cfg->negative_timeout = 0;
  conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
  return nullptr;
}

int GetAttr(const char* path, struct stat* st, fuse_file_info* fi) {
  const int r = fi != nullptr ? ::fstat(static_cast<int>(fi->fh), st)
                              : ::fstatat(g.base, Rel(path).c_str(), st, AT_SYMLINK_NOFOLLOW);
  return r == 0 ? 0 : Err();
}

int Access(const char* path, int mask) {
  return ::faccessat(g.base, Rel(path).c_str(), mask, 0) == 0 ? 0 : Err();
}

int ReadLink(const char* path, char* buf, size_t size) {
  const ssize_t n = ::readlinkat(g.base, Rel(path).c_str(), buf, size - 1);
  if (n < 0) return Err();
  buf[n] = 0;
  return 0;
}

// Directories are opened once (opendir) and read from that descriptor: with nullpath_ok the
// kernel's readdir, releasedir and fsyncdir come without a path.
int OpenDir(const char* path, fuse_file_info* fi) {
  const int fd = ::openat(g.base, Rel(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Err();
  fi->fh = static_cast<std::uint64_t>(fd);
  return 0;
}

int ReadDir(const char*, void* buf, fuse_fill_dir_t fill, off_t, fuse_file_info* fi,
            fuse_readdir_flags) {
  const int fd = ::dup(static_cast<int>(fi->fh));
  if (fd < 0) return Err();
  DIR* d = ::fdopendir(fd);
  if (d == nullptr) {
    const int e = errno;
    ::close(fd);
    return -e;
  }
  ::rewinddir(d);
  while (dirent* e = ::readdir(d)) {
    struct stat st {};
    st.st_ino = e->d_ino;
    st.st_mode = static_cast<mode_t>(DTTOIF(e->d_type));
    if (fill(buf, e->d_name, &st, 0, static_cast<fuse_fill_dir_flags>(0)) != 0) break;
  }
  ::closedir(d);
  return 0;
}

int ReleaseDir(const char*, fuse_file_info* fi) {
  ::close(static_cast<int>(fi->fh));
  return 0;
}

int MkNod(const char* path, mode_t mode, dev_t rdev) {
  return ::mknodat(g.base, Rel(path).c_str(), mode, rdev) == 0 ? 0 : Err();
}
int MkDir(const char* path, mode_t mode) {
  return ::mkdirat(g.base, Rel(path).c_str(), mode) == 0 ? 0 : Err();
}
int Unlink(const char* path) { return ::unlinkat(g.base, Rel(path).c_str(), 0) == 0 ? 0 : Err(); }
int RmDir(const char* path) {
  return ::unlinkat(g.base, Rel(path).c_str(), AT_REMOVEDIR) == 0 ? 0 : Err();
}
int SymLink(const char* target, const char* path) {
  return ::symlinkat(target, g.base, Rel(path).c_str()) == 0 ? 0 : Err();
}
int Rename(const char* from, const char* to, unsigned int flags) {
  return ::renameat2(g.base, Rel(from).c_str(), g.base, Rel(to).c_str(), flags) == 0 ? 0 : Err();
}
int Link(const char* from, const char* to) {
  return ::linkat(g.base, Rel(from).c_str(), g.base, Rel(to).c_str(), 0) == 0 ? 0 : Err();
}
int ChMod(const char* path, mode_t mode, fuse_file_info* fi) {
  const int r = fi != nullptr ? ::fchmod(static_cast<int>(fi->fh), mode)
                              : ::fchmodat(g.base, Rel(path).c_str(), mode, 0);
  return r == 0 ? 0 : Err();
}
int ChOwn(const char* path, uid_t uid, gid_t gid, fuse_file_info* fi) {
  const int r = fi != nullptr
                    ? ::fchown(static_cast<int>(fi->fh), uid, gid)
                    : ::fchownat(g.base, Rel(path).c_str(), uid, gid, AT_SYMLINK_NOFOLLOW);
  return r == 0 ? 0 : Err();
}
int UTimens(const char* path, const timespec tv[2], fuse_file_info* fi) {
  const int r = fi != nullptr ? ::futimens(static_cast<int>(fi->fh), tv)
                              : ::utimensat(g.base, Rel(path).c_str(), tv, AT_SYMLINK_NOFOLLOW);
  return r == 0 ? 0 : Err();
}

// Files are opened read-write underneath (the undo log reads what a write overwrites) and without
// O_APPEND (the kernel gives every write its offset).
int OpenFlags(int flags) {
  if ((flags & O_ACCMODE) == O_WRONLY) flags = (flags & ~O_ACCMODE) | O_RDWR;
  return (flags & ~O_APPEND) | O_CLOEXEC;
}

int OpenAt(const char* path, int flags, mode_t mode, fuse_file_info* fi) {
  int fd = ::openat(g.base, Rel(path).c_str(), OpenFlags(flags), mode);
  if (fd < 0 && errno == EACCES && (flags & O_ACCMODE) == O_WRONLY) {
    fd = ::openat(g.base, Rel(path).c_str(), (flags & ~O_APPEND) | O_CLOEXEC, mode);
  }
  if (fd < 0) return Err();
  fi->fh = static_cast<std::uint64_t>(fd);
  return 0;
}

int Create(const char* path, mode_t mode, fuse_file_info* fi) {
  return OpenAt(path, fi->flags | O_CREAT, mode, fi);
}
int Open(const char* path, fuse_file_info* fi) { return OpenAt(path, fi->flags, 0, fi); }

int Read(const char*, char* buf, size_t size, off_t off, fuse_file_info* fi) {
  MaybeSlow();
  const ssize_t n = ::pread(static_cast<int>(fi->fh), buf, size, off);
  return n < 0 ? Err() : static_cast<int>(n);
}

int Write(const char*, const char* buf, size_t size, off_t off, fuse_file_info* fi) {
  MaybeSlow();
  const int fd = static_cast<int>(fi->fh);
  std::unique_lock lock(g.mu);
  if (g.cut) {
    lock.unlock();
    return AfterCut();
  }
  if (Status st = g.undo.BeforeWrite(InoOf(fd), fd, off, buf, static_cast<std::int64_t>(size));
      !st) {
    std::fprintf(stderr, "disk: %s\n", st.error().message().c_str());
    return -EIO;
  }
  ++g.writes;
  const ssize_t n = ::pwrite(fd, buf, size, off);
  return n < 0 ? Err() : static_cast<int>(n);
}

int Resize(int fd, off_t size) {
  std::unique_lock lock(g.mu);
  if (g.cut) {
    lock.unlock();
    return AfterCut();
  }
  if (Status st = g.undo.BeforeResize(InoOf(fd), fd, size); !st) return -EIO;
  return ::ftruncate(fd, size) == 0 ? 0 : Err();
}

int Truncate(const char* path, off_t size, fuse_file_info* fi) {
  if (fi != nullptr) return Resize(static_cast<int>(fi->fh), size);
  const int fd = ::openat(g.base, Rel(path).c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return Err();
  const int r = Resize(fd, size);
  ::close(fd);
  return r;
}

int FAllocate(const char*, int mode, off_t off, off_t len, fuse_file_info* fi) {
  const int fd = static_cast<int>(fi->fh);
  std::unique_lock lock(g.mu);
  if (g.cut) {
    lock.unlock();
    return AfterCut();
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Err();
  if ((mode & FALLOC_FL_KEEP_SIZE) == 0 && off + len > st.st_size) {
    if (Status s = g.undo.BeforeResize(st.st_ino, fd, off + len); !s) return -EIO;
  }
  return ::fallocate(fd, mode, off, len) == 0 ? 0 : Err();
}

int StatFs(const char*, struct statvfs* st) { return ::fstatvfs(g.base, st) == 0 ? 0 : Err(); }

int Flush(const char*, fuse_file_info*) { return 0; }

int Release(const char*, fuse_file_info* fi) {
  ::close(static_cast<int>(fi->fh));
  return 0;
}

// Answered here, always: an ENOSYS would make the kernel stop sending fsyncs for good.
int FSync(const char*, int datasync, fuse_file_info* fi) {
  MaybeSlow();
  ++g.fsyncs;
  const int fd = static_cast<int>(fi->fh);
  const ino_t ino = InoOf(fd);
  std::size_t pending = 0;
  if (g.cut) return AfterCut();
  {
    std::lock_guard lock(g.mu);
    if (g.fsync_error_share > 0 &&
        std::uniform_real_distribution<double>(0, 1)(g.rng) < g.fsync_error_share) {
      ++g.fsync_errors;
      return -EIO;  // the writes stay unsynced: a later drop loses them
    }
    pending = g.undo.Pending(ino);
  }
  const int r = datasync != 0 ? ::fdatasync(fd) : ::fsync(fd);
  if (r != 0) return Err();
  // The power went before this sync returned: it never happened.
  if (g.cut) return AfterCut();
  std::lock_guard lock(g.mu);
  g.undo.Synced(ino, pending);
  return 0;
}

int FSyncDir(const char*, int, fuse_file_info* fi) {
  return ::fsync(static_cast<int>(fi->fh)) == 0 ? 0 : Err();
}

std::string Counters() {
  return fmt::format(
      "writes={} fsyncs={} unsynced_writes={} unsynced_bytes={} held_bytes={} writes_dropped={} "
      "bytes_dropped={} torn_bytes={} fsync_errors={} slowed_calls={}",
      g.writes.load(), g.fsyncs.load(), g.undo.unsynced_writes(), g.undo.unsynced_bytes(),
      g.undo.held_bytes(), g.writes_dropped.load(), g.bytes_dropped.load(), g.torn_bytes.load(),
      g.fsync_errors.load(), g.slowed.load());
}

// One request line -> one reply line.
std::string Handle(const std::string& line) {
  std::istringstream in(line);
  std::string cmd;
  in >> cmd;
  std::lock_guard lock(g.mu);
  if (cmd == "status") return "ok " + Counters();
  if (cmd == "cut") {
    g.cut = true;
    return "ok";
  }
  if (cmd == "drop") {
    std::uint64_t seed = 0;
    in >> seed;
    Result<DropCounts> c = g.undo.Drop(seed);
    g.cut = false;  // the machine comes back
    if (!c) return "error " + c.error().message();
    g.writes_dropped += c->writes;
    g.bytes_dropped += c->bytes;
    g.torn_bytes += c->torn_bytes;
    return fmt::format("ok writes={} bytes={} files={} torn_bytes={} total_writes={} fsyncs={}",
                       c->writes, c->bytes, c->files, c->torn_bytes, g.writes.load(),
                       g.fsyncs.load());
  }
  if (cmd == "fsync-error") {
    double share = 0;
    std::uint64_t seed = 1;
    in >> share >> seed;
    if (!(share >= 0 && share <= 1)) return "error share not in 0..1";
    g.fsync_error_share = share;
    g.rng.seed(seed);
    return "ok";
  }
  if (cmd == "slow") {
    std::int64_t us = 0;
    std::int64_t jitter = 0;
    in >> us >> jitter;
    if (us < 0 || jitter < 0) return "error negative latency";
    g.slow_us = us;
    g.jitter_us = jitter;
    return "ok";
  }
  if (cmd == "normal") {
    g.cut = false;
    g.fsync_error_share = 0;
    g.slow_us = 0;
    g.jitter_us = 0;
    return "ok";
  }
  return "error unknown request '" + cmd + "'";
}

void ServeControl(int listener) {
  while (true) {
    const int c = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;
    }
    std::string line;
    char ch = 0;
    while (::read(c, &ch, 1) == 1 && ch != '\n') line.push_back(ch);
    const std::string reply = Handle(line) + "\n";
    (void)!::write(c, reply.data(), reply.size());
    ::close(c);
  }
}

fuse_operations Operations() {
  fuse_operations ops{};
  ops.init = Init;
  ops.getattr = GetAttr;
  ops.access = Access;
  ops.readlink = ReadLink;
  ops.opendir = OpenDir;
  ops.readdir = ReadDir;
  ops.releasedir = ReleaseDir;
  ops.mknod = MkNod;
  ops.mkdir = MkDir;
  ops.unlink = Unlink;
  ops.rmdir = RmDir;
  ops.symlink = SymLink;
  ops.rename = Rename;
  ops.link = Link;
  ops.chmod = ChMod;
  ops.chown = ChOwn;
  ops.utimens = UTimens;
  ops.create = Create;
  ops.open = Open;
  ops.read = Read;
  ops.write = Write;
  ops.truncate = Truncate;
  ops.fallocate = FAllocate;
  ops.statfs = StatFs;
  ops.flush = Flush;
  ops.release = Release;
  ops.fsync = FSync;
  ops.fsyncdir = FSyncDir;
  return ops;
}

}  // namespace

int RunDiskServer(const std::vector<std::string>& args, const std::function<bool()>& ready) {
  std::string dir;
  std::string socket_path;
  for (size_t i = 1; i + 1 < args.size(); i += 2) {
    if (args[i] == "--dir") dir = args[i + 1];
    if (args[i] == "--socket") socket_path = args[i + 1];
  }
  auto fail = [](const std::string& what) {
    const std::string line = "disk: " + what + "\n";
    (void)!::write(1, line.data(), line.size());
    return 1;
  };
  if (dir.empty() || socket_path.empty()) return fail("usage: disk --dir DIR --socket SOCK");
  g.base = ::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (g.base < 0) return fail(fmt::format("open {}: {}", dir, std::strerror(errno)));

  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(addr.sun_path)) return fail("socket path too long");
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  ::unlink(socket_path.c_str());
  const int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0 || ::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(listener, 16) != 0) {
    return fail(fmt::format("control socket {}: {}", socket_path, std::strerror(errno)));
  }

  // allow_other: the database may run as another user than this (root) server.
  std::vector<std::string> opts = {"faultline-disk", "-o",
                                   "fsname=faultline,subtype=faultline,allow_other"};
  std::vector<char*> argv;
  for (auto& o : opts) argv.push_back(o.data());
  fuse_args fargs = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  const fuse_operations ops = Operations();
  fuse* f = fuse_new(&fargs, &ops, sizeof(ops), nullptr);
  if (f == nullptr) return fail("fuse_new failed");
  if (fuse_mount(f, dir.c_str()) != 0) {
    fuse_destroy(f);
    return fail(fmt::format("mount {} failed (is /dev/fuse there, and are we root?)", dir));
  }
  fuse_set_signal_handlers(fuse_get_session(f));
  std::thread(ServeControl, listener).detach();
  if (!ready()) {
    fuse_remove_signal_handlers(fuse_get_session(f));
    fuse_unmount(f);
    fuse_destroy(f);
    ::unlink(socket_path.c_str());
    return 1;
  }
  fuse_loop_config* config = fuse_loop_cfg_create();
  fuse_loop_cfg_set_max_threads(config, 16);
  const int r = fuse_loop_mt(f, config);
  fuse_loop_cfg_destroy(config);
  fuse_remove_signal_handlers(fuse_get_session(f));
  fuse_unmount(f);
  fuse_destroy(f);
  ::unlink(socket_path.c_str());
  return r == 0 ? 0 : 1;
}

}  // namespace faultline::nemesis::internal
