// The faulty filesystem (nemesis/disk.h) mounted over two scratch "data dirs" (root: FUSE mounts):
// each fault applies, is seen by a probe through the mount, and heals; lose-unsynced leaves every
// file as it was at its last fsync; and a process that applies faults and is SIGKILLed at each
// named point leaves a working mount (never ENOTCONN), which a heal from the ledger then removes,
// with no half-mounted directory, no server and no open entry left.
#include "nemesis/disk.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "nemesis/internal/heal.h"
#include "nemesis/internal/proc.h"

namespace faultline::nemesis {
namespace {

namespace fs = std::filesystem;

// Node control without databases: every kill and start succeeds and does nothing (a subclass
// says otherwise through Act).
class NoDatabases : public NodeControl {
 public:
  explicit NoDatabases(std::vector<std::string> nodes) : nodes_(std::move(nodes)) {}
  std::string_view Name() const override { return "none"; }
  std::vector<std::string> Nodes() const override { return nodes_; }
  std::vector<ProcessReport> Process(const std::vector<std::string>& nodes,
                                     ProcessAction action) override {
    std::vector<ProcessReport> out;
    for (const auto& n : nodes) {
      ProcessReport r;
      r.node = n;
      r.action = action;
      r.ok = Act(n, action);
      r.mechanism = r.ok ? "done" : "failed";
      if (!r.ok) r.error = Error(ErrorCode::kUnavailable, fmt::format("{}: failed", n));
      out.push_back(r);
    }
    return out;
  }
  Result<std::vector<DbProcess>> Databases() override { return std::vector<DbProcess>{}; }
  Result<CommandOutput> Run(std::string_view, std::string_view, std::string_view) override {
    return CommandOutput{};
  }

 protected:
  // Does `action` to `node`'s database; true if it worked.
  virtual bool Act(const std::string& /*node*/, ProcessAction /*action*/) { return true; }

 private:
  std::vector<std::string> nodes_;
};

FaultSpec Spec(FaultKind kind, std::string targets) {
  FaultSpec s;
  s.kind = kind;
  s.targets = std::move(targets);
  return s;
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class DiskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "needs root (FUSE mounts)";
    ASSERT_EQ(::access("/dev/fuse", R_OK | W_OK), 0) << "needs /dev/fuse";
    dir_ = fs::temp_directory_path() / fmt::format("faultline-disk-test-{}", ::getpid());
    fs::remove_all(dir_);
    for (const char* n : {"n1", "n2"}) {
      fs::create_directories(dir_ / n / "data");
      nodes_.push_back(DiskNode{.node = n,
                                .dir = (dir_ / n / "data").string(),
                                .socket = (dir_ / n / "disk.sock").string()});
    }
    ledger_ = (dir_ / "nemesis.ledger").string();
  }

  void TearDown() override {
    HealEverything();
    for (const DiskNode& n : nodes_) {
      if (IsDiskMounted(n.dir)) (void)UnmountDisk(n.dir);
    }
    fs::remove_all(dir_);
  }

  // `control` null: no databases.
  Result<std::unique_ptr<DiskFaults>> Open(NodeControl* control = nullptr) {
    return DiskFaults::Open(DiskFaults::Options{.ledger_path = ledger_,
                                                .run_id = "dt",
                                                .nodes = nodes_,
                                                .control = control ? control : &control_});
  }

  // What `faultline nemesis heal` does once the process that mounted is gone.
  FaultReport HealEverything(NodeControl* control = nullptr) {
    auto ledger = Ledger::Open(ledger_);
    if (!ledger) return {};
    std::vector<std::unique_ptr<Net>> nets;
    return internal::HealEntries(*ledger, control ? control : &control_, internal::FreshNets(nets),
                                 {});
  }

  size_t OpenEntries() {
    auto ledger = Ledger::Open(ledger_);
    auto state = ledger ? ledger->Read() : Result<LedgerState>(ledger.error());
    return state ? state->open.size() : 99;
  }

  // Servers of our mounts still running (their command line names our directory).
  std::vector<int> Servers() const {
    return internal::FindProcesses({"disk", "--dir", dir_.string()});
  }

  bool ServersGone(std::chrono::milliseconds within) const {
    const auto end = std::chrono::steady_clock::now() + within;
    while (!Servers().empty()) {
      if (std::chrono::steady_clock::now() > end) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return true;
  }

  static void Append(const fs::path& p, const std::string& data, bool sync) {
    const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0) << p;
    ASSERT_EQ(::write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
    if (sync) {
      ASSERT_EQ(::fdatasync(fd), 0);
    }
    ::close(fd);
  }

  fs::path dir_;
  std::vector<DiskNode> nodes_;
  std::string ledger_;
  NoDatabases control_{{"n1", "n2"}};
};

TEST_F(DiskTest, LoseUnsyncedLeavesTheLastSyncedContents) {
  auto disks = Open();
  ASSERT_TRUE(disks) << disks.error().message();
  auto mounted = (*disks)->Mount(/*restart=*/false);
  ASSERT_TRUE(mounted && mounted->ok)
      << (mounted ? mounted->Describe() : mounted.error().message());
  ASSERT_TRUE(IsDiskMounted(nodes_[0].dir));
  const fs::path wal = fs::path(nodes_[0].dir) / "wal";
  Append(wal, "acknowledged\n", true);
  Append(wal, "not synced\n", false);
  Append(fs::path(nodes_[1].dir) / "db", std::string(5000, 'x'), false);
  EXPECT_EQ(ReadFile(wal), "acknowledged\nnot synced\n");
  auto r = (*disks)->Apply(Spec(FaultKind::kLoseUnsynced, ""), {});
  ASSERT_TRUE(r && r->ok) << (r ? r->Describe() : r.error().message());
  EXPECT_EQ(r->counts["writes_dropped"], 2) << r->Describe();
  EXPECT_EQ(r->counts["bytes_dropped"], 5011) << r->Describe();
  EXPECT_EQ(ReadFile(wal), "acknowledged\n");
  EXPECT_EQ(fs::file_size(fs::path(nodes_[1].dir) / "db"), 0u);
  EXPECT_EQ(OpenEntries(), 1u) << "only the mount stays open";
  // A heal while the mounting process lives leaves the mount.
  (void)HealEverything();
  EXPECT_TRUE(IsDiskMounted(nodes_[0].dir));
  FaultReport u = (*disks)->Unmount();
  EXPECT_TRUE(u.ok) << u.Describe();
  EXPECT_FALSE(IsDiskMounted(nodes_[0].dir));
  EXPECT_FALSE(IsDiskMounted(nodes_[1].dir));
  EXPECT_TRUE(ServersGone(std::chrono::seconds(3)));
  EXPECT_EQ(ReadFile(wal), "acknowledged\n") << "the files stay where they were";
  EXPECT_EQ(OpenEntries(), 0u);
}

TEST_F(DiskTest, WindowFaultsAreSeenByTheProbeAndHeal) {
  auto disks = Open();
  ASSERT_TRUE(disks) << disks.error().message();
  auto mounted = (*disks)->Mount(false);
  ASSERT_TRUE(mounted && mounted->ok);
  auto before = (*disks)->ProbeFsync("n1", 5);
  ASSERT_TRUE(before) << before.error().message();
  EXPECT_EQ(before->errors, 0);

  FaultSpec eio = Spec(FaultKind::kFsyncError, "n1");
  eio.probability = 0.5;
  eio.seed = 3;
  auto r = (*disks)->Apply(eio, {"n1"});
  ASSERT_TRUE(r && r->ok) << (r ? r->Describe() : r.error().message());
  auto seen = (*disks)->ProbeFsync("n1", 200);
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->errors, 1) << "the probe stops at the first EIO";
  auto other = (*disks)->ProbeFsync("n2", 20);
  ASSERT_TRUE(other);
  EXPECT_EQ(other->errors, 0) << "n2 was not a target";
  auto counters = (*disks)->Counters();
  ASSERT_TRUE(counters);
  EXPECT_GE((*counters)["fsync_errors"], 1);
  FaultReport healed = HealEverything();
  EXPECT_TRUE(healed.ok) << healed.Describe();
  auto after = (*disks)->ProbeFsync("n1", 50);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->errors, 0) << "healed";

  FaultSpec slow = Spec(FaultKind::kSlowDisk, "n2");
  slow.delay = std::chrono::milliseconds(30);
  r = (*disks)->Apply(slow, {"n2"});
  ASSERT_TRUE(r && r->ok);
  seen = (*disks)->ProbeFsync("n2", 2);
  ASSERT_TRUE(seen);
  EXPECT_GE(seen->slowest_ms, 30.0);
  (void)HealEverything();
  seen = (*disks)->ProbeFsync("n2", 2);
  ASSERT_TRUE(seen);
  EXPECT_LT(seen->slowest_ms, 30.0);
  EXPECT_TRUE((*disks)->Unmount().ok);
}

TEST_F(DiskTest, TornWriteKeepsAPrefixOfTheLastWrite) {
  auto disks = Open();
  ASSERT_TRUE(disks);
  ASSERT_TRUE((*disks)->Mount(false));
  const fs::path wal = fs::path(nodes_[0].dir) / "wal";
  Append(wal, "synced|", true);
  Append(wal, "0123456789", false);
  FaultSpec torn = Spec(FaultKind::kTornWrite, "n1");
  torn.seed = 11;
  auto r = (*disks)->Apply(torn, {"n1"});
  ASSERT_TRUE(r && r->ok) << (r ? r->Describe() : r.error().message());
  const std::string after = ReadFile(wal);
  EXPECT_GT(r->counts["torn_bytes"], 0);
  EXPECT_EQ(after.size(), 7u + static_cast<size_t>(r->counts["torn_bytes"]));
  EXPECT_EQ(after, std::string("synced|0123456789").substr(0, after.size()));
  EXPECT_TRUE((*disks)->Unmount().ok);
}

// corrupt through the mount: the damage is counted and kept in an undo file named by the ledger;
// the heal gives back every byte (and a truncated file's size) while the mount stays.
TEST_F(DiskTest, CorruptionThroughTheMountIsRestoredByTheHeal) {
  auto disks = Open();
  ASSERT_TRUE(disks) << disks.error().message();
  auto mounted = (*disks)->Mount(false);
  ASSERT_TRUE(mounted && mounted->ok);
  const fs::path db = fs::path(nodes_[0].dir) / "db";
  const fs::path wal = fs::path(nodes_[1].dir) / "wal";
  std::string original(20000, '\0');
  for (size_t i = 0; i < original.size(); ++i) original[i] = static_cast<char>(i * 31 + i / 7);
  Append(db, original, true);
  Append(wal, original.substr(0, 3000), true);

  FaultSpec flip = Spec(FaultKind::kCorrupt, "n1");
  flip.corrupt =
      CorruptParams{.files = {"db"}, .mode = CorruptMode::kBitFlip, .count = 16, .offset = 0};
  flip.seed = 9;
  auto r = (*disks)->Apply(flip, {"n1"});
  ASSERT_TRUE(r && r->ok) << (r ? r->Describe() : r.error().message());
  EXPECT_EQ(r->counts["bytes_corrupted"], 16) << r->Describe();
  EXPECT_EQ(r->counts["ranges_corrupted"], 16) << r->Describe();
  std::string damaged = ReadFile(db);
  size_t diff = 0;
  for (size_t i = 0; i < damaged.size(); ++i) diff += damaged[i] != original[i];
  EXPECT_EQ(diff, 16u);

  FaultSpec cut = Spec(FaultKind::kCorrupt, "n2");
  cut.corrupt =
      CorruptParams{.files = {"wal"}, .mode = CorruptMode::kTruncate, .count = 0, .offset = -1000};
  auto c = (*disks)->Apply(cut, {"n2"});
  ASSERT_TRUE(c && c->ok) << (c ? c->Describe() : c.error().message());
  EXPECT_EQ(c->counts["bytes_corrupted"], 1000);
  EXPECT_EQ(fs::file_size(wal), 2000u);
  EXPECT_EQ(OpenEntries(), 3u) << "the mount and both corruptions";

  const FaultReport healed = HealEverything();
  EXPECT_TRUE(healed.ok) << healed.Describe();
  EXPECT_EQ(healed.counts.at("ranges_restored"), 17) << healed.Describe();
  EXPECT_EQ(healed.counts.at("bytes_restored"), 1016) << healed.Describe();
  EXPECT_EQ(healed.counts.at("ranges_rewritten"), 0) << healed.Describe();
  EXPECT_EQ(ReadFile(db), original);
  EXPECT_EQ(ReadFile(wal), original.substr(0, 3000));
  EXPECT_TRUE(IsDiskMounted(nodes_[0].dir)) << "the heal of a fault leaves the mount";
  EXPECT_EQ(OpenEntries(), 1u);
  EXPECT_TRUE((*disks)->Unmount().ok);
}

// Node control of one real database: the example kv server (examples/kv/server.py) as n1's,
// with its data in n1's (mounted) data dir, on a free port of 127.0.0.1. Its log is kv.log in
// the test's directory.
class KvControl final : public NoDatabases {
 public:
  KvControl(std::string data_dir, std::string log)
      : NoDatabases({"n1"}), data_dir_(std::move(data_dir)), log_(std::move(log)) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    ::close(fd);
  }
  ~KvControl() override { Stop(); }
  std::string_view Name() const override { return "kv"; }
  Result<std::vector<DbProcess>> Databases() override {
    DbProcess d;
    d.node = "n1";
    d.pid = pid_;
    d.alive = pid_ > 0;
    return std::vector<DbProcess>{d};
  }

  // One request line to the server; its reply line ("" if none).
  std::string Request(const std::string& line) const {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port_);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::string reply;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
        ::write(fd, (line + "\n").data(), line.size() + 1) ==
            static_cast<ssize_t>(line.size() + 1)) {
      char c = 0;
      while (::read(fd, &c, 1) == 1 && c != '\n') reply.push_back(c);
    }
    ::close(fd);
    return reply;
  }

 protected:
  bool Act(const std::string& node, ProcessAction action) override {
    if (node != "n1") return false;
    if (action == ProcessAction::kKill) Stop();
    if (action == ProcessAction::kStart) return Start();
    return action == ProcessAction::kKill;
  }

 private:
  bool Start() {
    const std::string listen = fmt::format("127.0.0.1:{}", port_);
    const std::string server = std::string(FAULTLINE_SOURCE_DIR) + "/examples/kv/server.py";
    pid_ = ::fork();
    if (pid_ == 0) {
      const int log = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      ::dup2(log, 2);
      ::execlp("python3", "python3", server.c_str(), "--node", "n1", "--listen", listen.c_str(),
               "--peers", listen.c_str(), "--data-dir", data_dir_.c_str(), nullptr);
      ::_exit(127);
    }
    for (int i = 0; i < 200; ++i) {
      if (!Request(R"({"op": "time"})").empty()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    return false;
  }
  void Stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = 0;
  }

  std::string data_dir_;
  std::string log_;
  std::uint16_t port_ = 0;
  pid_t pid_ = 0;
};

// The example kv server on a mounted data dir: a corruption of its kv.json (a JSON file without a
// checksum) makes it start empty, logging only that the file was unreadable (its acknowledged
// writes are gone: silent loss to its clients); the heal gives the bytes back. Corrupted again and
// rewritten by the server since, the file is left as the server wrote it, and counted.
TEST_F(DiskTest, KvServersCorruptedDataIsRestoredUnlessRewritten) {
  KvControl kv(nodes_[0].dir, (dir_ / "kv.log").string());
  auto disks = Open(&kv);
  ASSERT_TRUE(disks) << disks.error().message();
  auto mounted = (*disks)->Mount(false);
  ASSERT_TRUE(mounted && mounted->ok);
  ASSERT_TRUE(kv.Process({"n1"}, ProcessAction::kStart)[0].ok) << ReadFile(dir_ / "kv.log");
  for (int i = 1; i <= 3; ++i) {
    ASSERT_EQ(kv.Request(fmt::format(R"({{"op": "write", "key": "k{}", "value": {}}})", i, i)),
              R"({"ok": true})");
  }
  const fs::path file = fs::path(nodes_[0].dir) / "kv.json";
  const std::string original = ReadFile(file);
  ASSERT_NE(original.find("\"k3\": 3"), std::string::npos) << original;
  const std::string read_k1 = R"({"op": "read", "key": "k1"})";

  FaultSpec spec = Spec(FaultKind::kCorrupt, "n1");
  spec.corrupt =
      CorruptParams{.files = {"kv.json"}, .mode = CorruptMode::kOverwrite, .count = 0, .offset = 0};
  auto r = (*disks)->Apply(spec, {"n1"});
  ASSERT_TRUE(r && r->ok) << (r ? r->Describe() : r.error().message());
  EXPECT_GT(r->counts["bytes_corrupted"], 0);
  EXPECT_EQ(kv.Request(read_k1), R"({"ok": true, "value": null})") << "started empty";
  EXPECT_NE(ReadFile(dir_ / "kv.log").find("unreadable"), std::string::npos);
  FaultReport healed = HealEverything(&kv);
  EXPECT_TRUE(healed.ok) << healed.Describe();
  EXPECT_EQ(healed.counts["ranges_restored"], 1) << healed.Describe();
  EXPECT_EQ(ReadFile(file), original);
  ASSERT_TRUE(kv.Process({"n1"}, ProcessAction::kKill)[0].ok);
  ASSERT_TRUE(kv.Process({"n1"}, ProcessAction::kStart)[0].ok);
  EXPECT_EQ(kv.Request(read_k1), R"({"ok": true, "value": 1})") << "its data is back";

  r = (*disks)->Apply(spec, {"n1"});
  ASSERT_TRUE(r && r->ok) << (r ? r->Describe() : r.error().message());
  ASSERT_EQ(kv.Request(R"({"op": "write", "key": "k4", "value": 4})"), R"({"ok": true})");
  const std::string rewritten = ReadFile(file);
  healed = HealEverything(&kv);
  EXPECT_TRUE(healed.ok) << healed.Describe();
  EXPECT_EQ(healed.counts["ranges_restored"], 0) << healed.Describe();
  EXPECT_EQ(healed.counts["ranges_rewritten"], 1) << healed.Describe();
  EXPECT_EQ(ReadFile(file), rewritten);
  EXPECT_EQ(OpenEntries(), 1u);
  ASSERT_TRUE(kv.Process({"n1"}, ProcessAction::kKill)[0].ok);
  EXPECT_TRUE((*disks)->Unmount().ok);
}

// A server whose spawner died before it said "ready" (so nobody may have recorded its mount, or a
// heal has already run) unmounts again and exits: no mount is left without a server (ENOTCONN).
TEST_F(DiskTest, AServerWhoseSpawnerIsGoneUnmountsItself) {
  const auto helper = internal::HelperPath();
  ASSERT_TRUE(helper) << helper.error().message();
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::dup2(fds[1], 1);
    ::close(fds[0]);
    ::close(fds[1]);
    ::execl(helper->c_str(), helper->c_str(), "disk", "--dir", nodes_[0].dir.c_str(), "--socket",
            nodes_[0].socket.c_str(), nullptr);
    ::_exit(127);
  }
  ::close(fds[0]);  // the spawner is gone: nobody reads its "ready"
  ::close(fds[1]);
  int status = 0;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  pid_t done = 0;
  while ((done = ::waitpid(child, &status, WNOHANG)) == 0 &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (done == 0) {
    ::kill(child, SIGKILL);
    ::waitpid(child, &status, 0);
    FAIL() << "the server still runs 10 s after its spawner was gone";
  }
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << "status " << status;
  EXPECT_FALSE(IsDiskMounted(nodes_[0].dir));
  struct stat st {};
  EXPECT_EQ(::stat(nodes_[0].dir.c_str(), &st), 0) << std::strerror(errno);
  EXPECT_FALSE(fs::exists(nodes_[0].socket));
}

// A child mounts and applies a fault, SIGKILLed at `point` (FAULTLINE_CRASH_AT).
class DiskCrashTest : public DiskTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(DiskCrashTest, KilledFaultlineLeavesAWorkingMountThatHealRemoves) {
  const std::string point = GetParam();
  Append(fs::path(nodes_[0].dir) / "file", "before the mount\n", true);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::setenv("FAULTLINE_CRASH_AT", point.c_str(), 1);
    auto disks = Open();
    if (!disks) ::_exit(2);
    if (!(*disks)->Mount(true)) ::_exit(3);
    ::unsetenv("FAULTLINE_CRASH_AT");
    if (point == "disk:before-mount" || point == "disk:between-mounts") ::_exit(4);
    Append(fs::path(nodes_[0].dir) / "file", "unsynced\n", false);
    ::setenv("FAULTLINE_CRASH_AT", point.c_str(), 1);
    FaultSpec spec =
        Spec(point == "between-nodes" ? FaultKind::kFsyncError : FaultKind::kLoseUnsynced, "n1,n2");
    spec.probability = 1;
    if (point.find("corrupt") != std::string::npos) {
      spec = Spec(FaultKind::kCorrupt, "n1");
      spec.corrupt = CorruptParams{
          .files = {"file"}, .mode = CorruptMode::kOverwrite, .count = 0, .offset = 0};
    }
    (void)(*disks)->Apply(spec, {"n1", "n2"});
    ::_exit(5);  // not reached: killed at the point
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "the child was not killed at " << point << " (status " << status << ")";
  // Whatever was mounted still serves its directory: the database would see no ENOTCONN.
  for (const DiskNode& n : nodes_) {
    struct stat st {};
    EXPECT_EQ(::stat(n.dir.c_str(), &st), 0) << n.dir << ": " << std::strerror(errno);
  }
  // Killed after the damage, the file is damaged (the whole of it overwritten); at every other
  // point it is as it was.
  EXPECT_EQ(
      ReadFile(fs::path(nodes_[0].dir) / "file").find("before the mount") == std::string::npos,
      point == "disk:after-corrupt");
  FaultReport healed = HealEverything();
  EXPECT_TRUE(healed.ok) << healed.Describe();
  for (const DiskNode& n : nodes_) EXPECT_FALSE(IsDiskMounted(n.dir)) << n.dir;
  EXPECT_TRUE(ServersGone(std::chrono::seconds(3)));
  EXPECT_EQ(OpenEntries(), 0u);
  EXPECT_NE(ReadFile(fs::path(nodes_[0].dir) / "file").find("before the mount"), std::string::npos);
  if (point.find("corrupt") != std::string::npos) {
    // Damaged or not when it was killed, the file is whole again and no undo file is left.
    EXPECT_EQ(ReadFile(fs::path(nodes_[0].dir) / "file"), "before the mount\nunsynced\n");
    for (const auto& e : fs::directory_iterator(dir_)) {
      EXPECT_NE(e.path().extension(), ".undo") << e.path();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(KillPoints, DiskCrashTest,
                         ::testing::Values("disk:before-mount", "disk:between-mounts",
                                           "between-nodes", "disk:after-kill", "disk:after-drop",
                                           "disk:before-corrupt", "disk:after-corrupt"),
                         [](const ::testing::TestParamInfo<const char*>& p) {
                           std::string name;
                           for (const char* c = p.param; *c != 0; ++c) {
                             if (std::isalnum(static_cast<unsigned char>(*c))) name += *c;
                           }
                           return name;
                         });

}  // namespace
}  // namespace faultline::nemesis
