// The faulty filesystem (nemesis/disk.h) mounted over two scratch "data dirs" (root: FUSE mounts):
// each fault applies, is seen by a probe through the mount, and heals; lose-unsynced leaves every
// file as it was at its last fsync; and a process that applies faults and is SIGKILLed at each
// named point leaves a working mount (never ENOTCONN), which a heal from the ledger then removes,
// with no half-mounted directory, no server and no open entry left.
#include "nemesis/disk.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
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

// Node control without databases: every kill and start succeeds and does nothing.
class NoDatabases final : public NodeControl {
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
      r.ok = true;
      r.mechanism = "nothing to do";
      out.push_back(r);
    }
    return out;
  }
  Result<std::vector<DbProcess>> Databases() override { return std::vector<DbProcess>{}; }
  Result<CommandOutput> Run(std::string_view, std::string_view, std::string_view) override {
    return CommandOutput{};
  }

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

  Result<std::unique_ptr<DiskFaults>> Open() {
    return DiskFaults::Open(DiskFaults::Options{
        .ledger_path = ledger_, .run_id = "dt", .nodes = nodes_, .control = &control_});
  }

  // What `faultline nemesis heal` does once the process that mounted is gone.
  FaultReport HealEverything() {
    auto ledger = Ledger::Open(ledger_);
    if (!ledger) return {};
    std::vector<std::unique_ptr<Net>> nets;
    return internal::HealEntries(*ledger, &control_, internal::FreshNets(nets), {});
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
  EXPECT_NE(ReadFile(fs::path(nodes_[0].dir) / "file").find("before the mount"), std::string::npos);
  FaultReport healed = HealEverything();
  EXPECT_TRUE(healed.ok) << healed.Describe();
  for (const DiskNode& n : nodes_) EXPECT_FALSE(IsDiskMounted(n.dir)) << n.dir;
  EXPECT_TRUE(ServersGone(std::chrono::seconds(3)));
  EXPECT_EQ(OpenEntries(), 0u);
  EXPECT_NE(ReadFile(fs::path(nodes_[0].dir) / "file").find("before the mount"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(KillPoints, DiskCrashTest,
                         ::testing::Values("disk:before-mount", "disk:between-mounts",
                                           "between-nodes", "disk:after-kill", "disk:after-drop"),
                         [](const ::testing::TestParamInfo<const char*>& p) {
                           std::string name;
                           for (const char* c = p.param; *c != 0; ++c) {
                             if (std::isalnum(static_cast<unsigned char>(*c))) name += *c;
                           }
                           return name;
                         });

}  // namespace
}  // namespace faultline::nemesis
