// DiskFaults: mounts of the faulty filesystem and the faults applied through them, each through
// the ledger before it takes effect.
#include "nemesis/disk.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "common/fd.h"
#include "nemesis/internal/heal.h"
#include "nemesis/internal/proc.h"

namespace faultline::nemesis {
namespace {

constexpr std::string_view kMountKind = "disk";

LedgerObject DiskObject(std::string type, const DiskNode& n) {
  LedgerObject o;
  o.type = std::move(type);
  o.node = n.node;
  o.name = n.dir;
  o.address = n.socket;
  return o;
}

// /proc/self/mounts escapes space, tab, newline and backslash as \ooo.
std::string Unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() &&
        s.substr(i + 1, 3).find_first_not_of("01234567") == std::string::npos &&
        s.substr(i + 1, 3).size() == 3) {
      out.push_back(static_cast<char>(std::stoi(s.substr(i + 1, 3), nullptr, 8)));
      i += 3;
      continue;
    }
    out.push_back(s[i]);
  }
  return out;
}

}  // namespace

Result<std::string> DiskRequest(const std::string& socket, const std::string& line) {
  const std::string ctx = fmt::format("disk {}: {}", socket, line);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket.size() >= sizeof(addr.sun_path)) {
    return MakeError(ErrorCode::kInvalidArgument, ctx + ": socket path too long");
  }
  std::memcpy(addr.sun_path, socket.c_str(), socket.size() + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return ErrnoError(errno, ctx + ": socket");
  timeval tv{.tv_sec = 10, .tv_usec = 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    const int e = errno;
    return MakeError(
        ErrorCode::kUnavailable,
        fmt::format("{}: connect: {} (is the filesystem mounted?)", ctx, std::strerror(e)));
  }
  // The server ends by itself once its mount is gone: one that resets the connection, or closes
  // it without a reply, while it ends is a server that is not there (a heal racing an unmount).
  auto failed = [&ctx](int err, const char* step) -> Error {
    if (err == ECONNRESET || err == EPIPE) {
      return Error(ErrorCode::kUnavailable,
                   fmt::format("{}: {}: {} (the server is ending)", ctx, step, std::strerror(err)));
    }
    return ErrnoError(err, fmt::format("{}: {}", ctx, step));
  };
  const std::string request = line + "\n";
  if (::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    return failed(errno, "write");
  }
  std::string reply;
  char buf[512];
  while (reply.find('\n') == std::string::npos) {
    const ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return failed(errno, "read");
    if (n == 0) break;
    reply.append(buf, static_cast<size_t>(n));
  }
  if (reply.empty()) {
    return MakeError(ErrorCode::kUnavailable,
                     ctx + ": closed without a reply (the server is ending)");
  }
  if (auto nl = reply.find('\n'); nl != std::string::npos) reply.resize(nl);
  if (reply == "ok") return std::string();
  if (reply.starts_with("ok ")) return reply.substr(3);
  return MakeError(ErrorCode::kInternal, fmt::format("{}: {}", ctx, reply));
}

std::map<std::string, std::int64_t> ParseDiskCounters(const std::string& reply) {
  std::map<std::string, std::int64_t> out;
  std::istringstream in(reply);
  for (std::string word; in >> word;) {
    const size_t eq = word.find('=');
    if (eq == std::string::npos) continue;
    try {
      out[word.substr(0, eq)] = std::stoll(word.substr(eq + 1));
    } catch (const std::exception&) {
      // Not a number: not a counter.
    }
  }
  return out;
}

bool IsDiskMounted(const std::string& dir) {
  std::ifstream in("/proc/self/mounts");
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string source;
    std::string target;
    std::string type;
    words >> source >> target >> type;
    if (type == "fuse.faultline" && Unescape(target) == dir) return true;
  }
  return false;
}

Result<std::string> UnmountDisk(const std::string& dir) {
  if (!IsDiskMounted(dir)) return fmt::format("{}: not mounted (already healed)", dir);
  // Lazy: a database that still holds files open keeps being served until it closes them.
  if (::umount2(dir.c_str(), MNT_DETACH) != 0) {
    return ErrnoError(errno, fmt::format("disk: umount {}", dir));
  }
  return fmt::format("{}: unmounted (lazily)", dir);
}

Result<CorruptReport> CorruptWithLedger(const Ledger& ledger, std::uint64_t id,
                                        const std::string& node, const CorruptSpec& spec) {
  const std::string undo = fmt::format("{}.{}-{}.undo", ledger.path(), id, node);
  return CorruptWithUndo(spec, undo, [&](const CorruptReport& planned) -> Status {
    LedgerObject o;
    o.type = "disk-corruption";
    o.node = node;
    o.name = spec.directory;
    o.value = undo;
    o.set_to = planned.damaged_hash;
    FAULTLINE_RETURN_IF_ERROR(ledger.Amend(id, {o}));
    internal::MaybeCrash("disk:before-corrupt");
    return OkStatus();
  });
}

namespace internal {

Result<std::string> HealDiskObject(const LedgerObject& o) {
  if (o.type == "disk-mount") {
    // The server ends by itself once its mount is gone.
    return UnmountDisk(o.name);
  }
  Result<std::string> r = DiskRequest(o.address, "normal");
  if (!r && r.error().code() == ErrorCode::kUnavailable) {
    return fmt::format("{}: no filesystem server (unmounted: nothing to restore)", o.name);
  }
  if (!r) return std::move(r).error();
  return fmt::format("{}: fsync errors, latency and power cut off", o.name);
}

}  // namespace internal

Result<std::unique_ptr<DiskFaults>> DiskFaults::Open(Options options) {
  if (options.control == nullptr) {
    return MakeError(ErrorCode::kInvalidArgument, "disk: no node control given");
  }
  FAULTLINE_ASSIGN_OR_RETURN(Ledger ledger, Ledger::Open(options.ledger_path));
  return std::unique_ptr<DiskFaults>(new DiskFaults(std::move(options), std::move(ledger)));
}

DiskFaults::~DiskFaults() = default;

LedgerEntry DiskFaults::BaseEntry(FaultKind kind, std::string kind_name) const {
  LedgerEntry e;
  e.kind = kind_name.empty() ? std::string(FaultKindName(kind)) : std::move(kind_name);
  e.run_id = options_.run_id;
  e.owner_pid = internal::SelfPid();
  e.owner_start_time = internal::SelfStartTime();
  e.opened_unix_ms = UnixMillis();
  return e;
}

const DiskNode* DiskFaults::Find(const std::string& node) const {
  for (const DiskNode& n : options_.nodes) {
    if (n.node == node) return &n;
  }
  return nullptr;
}

Result<FaultReport> DiskFaults::Mount(bool restart) {
  FaultReport report;
  report.kind = FaultKind::kHeal;
  report.start_mono_ns = internal::MonoNanos();
  FAULTLINE_ASSIGN_OR_RETURN(std::string helper, internal::HelperPath());
  std::vector<std::string> nodes;
  LedgerEntry entry = BaseEntry(FaultKind::kHeal, std::string(kMountKind));
  for (const DiskNode& n : options_.nodes) {
    nodes.push_back(n.node);
    entry.objects.push_back(DiskObject("disk-mount", n));
  }
  entry.nodes = nodes;
  entry.description =
      fmt::format("faulty filesystem over the data dirs of {}", fmt::join(nodes, ","));
  FAULTLINE_ASSIGN_OR_RETURN(entry, ledger_.Append(std::move(entry)));
  // The databases are down while the mounts are made: a heal starts them again.
  LedgerEntry down = BaseEntry(FaultKind::kKill, "");
  down.nodes = nodes;
  down.description = "databases stopped to mount the faulty filesystem";
  for (const auto& n : nodes) {
    LedgerObject k;
    k.type = "killed";
    k.node = n;
    down.objects.push_back(k);
  }
  if (restart) {
    FAULTLINE_ASSIGN_OR_RETURN(down, ledger_.Append(std::move(down)));
  }
  mount_id_ = entry.id;
  report.ledger_id = entry.id;
  report.description = entry.description;
  report.nodes = nodes;
  if (restart) {
    for (const ProcessReport& p : options_.control->Process(nodes, ProcessAction::kKill)) {
      if (!p.ok) {
        return MakeError(ErrorCode::kUnavailable,
                         fmt::format("disk: mount: stop {}: {}", p.node,
                                     p.error ? p.error->message() : std::string("failed")));
      }
    }
  }
  internal::MaybeCrash("disk:before-mount");
  std::vector<LedgerObject> servers;
  for (const DiskNode& n : options_.nodes) {
    if (IsDiskMounted(n.dir)) {
      report.details.push_back(fmt::format("{}: {} already mounted", n.node, n.dir));
      continue;
    }
    Result<int> pid = internal::SpawnHelper({helper, "disk", "--dir", n.dir, "--socket", n.socket},
                                            std::chrono::seconds(10));
    if (!pid) {
      report.failed.push_back(n.node);
      report.details.push_back(fmt::format("{}: {}", n.node, pid.error().message()));
      continue;
    }
    LedgerObject o = DiskObject("disk-mount", n);
    o.pid = *pid;
    const auto st = internal::ReadProcStat(*pid);
    o.start_time = st ? st->start_time : 0;
    servers.push_back(o);
    report.details.push_back(
        fmt::format("{}: FUSE over {} (server pid {}, control {})", n.node, n.dir, *pid, n.socket));
    internal::MaybeCrash("disk:between-mounts");
  }
  if (!servers.empty()) FAULTLINE_RETURN_IF_ERROR(ledger_.Amend(entry.id, servers));
  if (restart) {
    for (const ProcessReport& p : options_.control->Process(nodes, ProcessAction::kStart)) {
      if (!p.ok) {
        report.failed.push_back(p.node);
        report.details.push_back(
            fmt::format("{}: start: {}", p.node, p.error ? p.error->message() : "failed"));
      }
    }
    if (report.failed.empty()) (void)ledger_.Close(down.id, "started on the faulty filesystem");
  }
  report.ok = report.failed.empty();
  report.end_mono_ns = internal::MonoNanos();
  return report;
}

Result<FaultReport> DiskFaults::Apply(const FaultSpec& spec,
                                      const std::vector<std::string>& targets_in) {
  if (!AppliesOnDisk(spec.kind)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("disk: {} is not a disk fault", FaultKindName(spec.kind)));
  }
  std::vector<std::string> targets = targets_in;
  if (spec.kind == FaultKind::kLoseUnsynced) {
    targets.clear();
    for (const DiskNode& n : options_.nodes) targets.push_back(n.node);
  }
  if (targets.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("disk: {}: no target nodes", FaultKindName(spec.kind)));
  }
  std::vector<const DiskNode*> disks;
  for (const std::string& t : targets) {
    const DiskNode* d = Find(t);
    if (d == nullptr) {
      return MakeError(ErrorCode::kNotFound, fmt::format("disk: {}: no faulty filesystem on {}",
                                                         FaultKindName(spec.kind), t));
    }
    disks.push_back(d);
  }
  FaultReport report;
  report.kind = spec.kind;
  report.start_mono_ns = internal::MonoNanos();
  report.nodes = targets;
  LedgerEntry entry = BaseEntry(spec.kind, "");
  entry.nodes = targets;
  entry.description = DescribeFault(spec);
  const bool crash = spec.kind == FaultKind::kLoseUnsynced ||
                     spec.kind == FaultKind::kLoseUnsyncedOne || spec.kind == FaultKind::kTornWrite;
  // Heal order: the filesystem back to normal (power on) before a killed database starts again.
  if (spec.kind != FaultKind::kCorrupt) {
    for (const DiskNode* d : disks) entry.objects.push_back(DiskObject("disk-fault", *d));
  }
  if (crash || spec.kind == FaultKind::kCorrupt) {
    for (const DiskNode* d : disks) {
      LedgerObject k;
      k.type = "killed";
      k.node = d->node;
      entry.objects.push_back(k);
    }
  }
  FAULTLINE_ASSIGN_OR_RETURN(entry, ledger_.Append(std::move(entry)));
  if (spec.kind == FaultKind::kCorrupt) return ApplyCorrupt(spec, targets, disks, entry);
  report.ledger_id = entry.id;
  report.description = entry.description;

  if (!crash) {
    std::string request;
    if (spec.kind == FaultKind::kFsyncError) {
      request = fmt::format("fsync-error {} {}", spec.probability, spec.seed | 1);
    } else {
      request = fmt::format("slow {} {}", spec.delay.count() * 1000, spec.jitter.count() * 1000);
    }
    for (size_t i = 0; i < disks.size(); ++i) {
      Result<std::string> r = DiskRequest(disks[i]->socket, request);
      if (r) {
        report.details.push_back(fmt::format("{}: {} (FUSE server {})", disks[i]->node,
                                             DescribeFault(spec), disks[i]->socket));
      } else {
        report.failed.push_back(disks[i]->node);
        report.details.push_back(fmt::format("{}: {}", disks[i]->node, r.error().message()));
      }
      if (i == 0 && disks.size() > 1) internal::MaybeCrash("between-nodes");
    }
    report.ok = report.failed.empty();
    report.end_mono_ns = internal::MonoNanos();
    return report;
  }

  // A crash: the power goes on every target at once (nothing more reaches its disk, and fsyncs
  // in flight do not count), the databases die, unsynced writes are dropped, and they start again.
  for (const DiskNode* d : disks) {
    if (Result<std::string> r = DiskRequest(d->socket, "cut"); !r) {
      report.failed.push_back(d->node);
      report.details.push_back(fmt::format("{}: cut: {}", d->node, r.error().message()));
    }
  }
  for (const ProcessReport& p : options_.control->Process(targets, ProcessAction::kKill)) {
    // A database that died of the EIO after the cut is as down as a killed one.
    if (!p.ok) {
      report.notes.push_back(
          fmt::format("{}: kill: {}", p.node, p.error ? p.error->message() : "failed"));
    }
  }
  internal::MaybeCrash("disk:after-kill");
  const std::uint64_t torn = spec.kind == FaultKind::kTornWrite ? (spec.seed | 1) : 0;
  for (size_t i = 0; i < disks.size(); ++i) {
    Result<std::string> r =
        DiskRequest(disks[i]->socket, torn != 0 ? fmt::format("drop {}", torn + i) : "drop");
    if (!r) {
      report.failed.push_back(disks[i]->node);
      report.details.push_back(fmt::format("{}: drop: {}", disks[i]->node, r.error().message()));
      continue;
    }
    const auto c = ParseDiskCounters(*r);
    auto get = [&](const char* k) {
      auto it = c.find(k);
      return it == c.end() ? std::int64_t{0} : it->second;
    };
    report.counts["writes_dropped"] += get("writes");
    report.counts["bytes_dropped"] += get("bytes");
    if (torn != 0) report.counts["torn_bytes"] += get("torn_bytes");
    report.details.push_back(
        fmt::format("{}: power cut, killed; dropped {} unsynced writes ({} "
                    "bytes) in {} files (of {} writes, {} fsyncs seen){}; "
                    "started again",
                    disks[i]->node, get("writes"), get("bytes"), get("files"), get("total_writes"),
                    get("fsyncs"),
                    torn != 0 ? fmt::format(", kept {} bytes of last writes", get("torn_bytes"))
                              : std::string()));
    if (i == 0 && disks.size() > 1) internal::MaybeCrash("between-nodes");
  }
  internal::MaybeCrash("disk:after-drop");
  for (const ProcessReport& p : options_.control->Process(targets, ProcessAction::kStart)) {
    if (!p.ok) {
      report.failed.push_back(p.node);
      report.details.push_back(
          fmt::format("{}: start: {}", p.node, p.error ? p.error->message() : "failed"));
    }
  }
  report.ok = report.failed.empty();
  if (report.ok) (void)ledger_.Close(entry.id, "restarted");
  report.end_mono_ns = internal::MonoNanos();
  return report;
}

FaultReport DiskFaults::ApplyCorrupt(const FaultSpec& spec, const std::vector<std::string>& targets,
                                     const std::vector<const DiskNode*>& disks,
                                     const LedgerEntry& entry) {
  FaultReport report;
  report.kind = spec.kind;
  report.start_mono_ns = internal::MonoNanos();
  report.nodes = targets;
  report.ledger_id = entry.id;
  report.description = entry.description;
  // A live database could rewrite a range between the read of its original and the damage: the
  // targets are stopped first, and a target that did not stop is not touched.
  std::set<std::string> down;
  for (const ProcessReport& p : options_.control->Process(targets, ProcessAction::kKill)) {
    if (p.ok) {
      down.insert(p.node);
      continue;
    }
    report.failed.push_back(p.node);
    report.details.push_back(
        fmt::format("{}: stop: {}", p.node, p.error ? p.error->message() : "failed"));
  }
  for (size_t i = 0; i < disks.size(); ++i) {
    const DiskNode& d = *disks[i];
    if (!down.contains(d.node)) continue;
    const CorruptSpec cs{.directory = d.dir,
                         .patterns = spec.corrupt.files,
                         .mode = spec.corrupt.mode,
                         .count = spec.corrupt.count,
                         .offset = spec.corrupt.offset,
                         .seed = spec.seed + i,
                         .max_files = 0};
    Result<CorruptReport> r = CorruptWithLedger(ledger_, entry.id, d.node, cs);
    if (!r) {
      report.failed.push_back(d.node);
      report.details.push_back(fmt::format("{}: {}", d.node, r.error().message()));
      continue;
    }
    report.counts["bytes_corrupted"] += r->bytes_altered;
    report.counts["ranges_corrupted"] += r->ranges();
    report.counts["files_corrupted"] += static_cast<std::int64_t>(r->files.size());
    report.details.push_back(
        fmt::format("{}: {} (through the mount, undo kept)", d.node, r->Describe()));
    internal::MaybeCrash("disk:after-corrupt");
  }
  // A member that refuses its damaged data is what the fault is for, not a failure to apply it;
  // the heal starts it again after the restore.
  for (const ProcessReport& p : options_.control->Process(targets, ProcessAction::kStart)) {
    if (!p.ok) {
      report.notes.push_back(
          fmt::format("{}: start: {}", p.node, p.error ? p.error->message() : "failed"));
    }
  }
  report.ok = report.failed.empty();
  report.end_mono_ns = internal::MonoNanos();
  return report;
}

Result<DiskFaults::FsyncSeen> DiskFaults::ProbeFsync(const std::string& node, int tries) {
  const DiskNode* d = Find(node);
  if (d == nullptr) {
    return MakeError(ErrorCode::kNotFound, fmt::format("disk probe: no filesystem on {}", node));
  }
  const std::string path = d->dir + "/.faultline-disk-probe";
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd.valid()) return ErrnoError(errno, fmt::format("disk probe: open {}", path));
  FsyncSeen seen;
  for (int i = 0; i < tries && seen.errors == 0; ++i) {
    const auto start = std::chrono::steady_clock::now();
    const char byte = 'p';
    if (::pwrite(fd.get(), &byte, 1, i) != 1) {
      ::unlink(path.c_str());
      return ErrnoError(errno, fmt::format("disk probe: write {}", path));
    }
    ++seen.fsyncs;
    if (::fsync(fd.get()) != 0) ++seen.errors;
    seen.slowest_ms =
        std::max(seen.slowest_ms,
                 std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                     .count());
  }
  ::unlink(path.c_str());
  return seen;
}

Result<std::map<std::string, std::int64_t>> DiskFaults::Counters() {
  std::map<std::string, std::int64_t> sum;
  for (const DiskNode& n : options_.nodes) {
    FAULTLINE_ASSIGN_OR_RETURN(std::string reply, DiskRequest(n.socket, "status"));
    for (const auto& [k, v] : ParseDiskCounters(reply)) sum[k] += v;
  }
  return sum;
}

FaultReport DiskFaults::Unmount() {
  std::vector<std::unique_ptr<Net>> nets;
  const std::uint64_t id = mount_id_;
  FaultReport r = internal::HealEntries(
      ledger_, options_.control, internal::FreshNets(nets),
      [id](const LedgerEntry& e) { return e.id == id; }, /*membership=*/nullptr,
      /*include_live_mounts=*/true);
  mount_id_ = 0;
  return r;
}

}  // namespace faultline::nemesis
