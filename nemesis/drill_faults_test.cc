// DrillFaults without root: crashes and corruptions of dummy database processes (`sleep`s of this
// test, through the fake NodeControl), and the heal of a siege's objects (a setting file, a scratch
// file and a burner) recorded in a ledger by hand.
#include "nemesis/drill_faults.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "nemesis/internal/proc.h"
#include "nemesis/testing/fake_node_control.h"

namespace faultline::nemesis {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class DrillFaultsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           fmt::format("faultline-drill-faults-{}-{}", ::getpid(),
                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    ledger_ = (dir_ / "nemesis.ledger").string();
    for (int i = 0; i < 2; ++i) {
      const pid_t pid = testing::SpawnSleep();
      ASSERT_GT(pid, 0);
      sleeps_.push_back(pid);
    }
    control_ = std::make_unique<testing::FakeNodeControl>(
        std::vector<NetNode>{{.name = "n1", .netns = "", .address = "198.18.0.1"},
                             {.name = "n2", .netns = "", .address = "198.18.0.2"}},
        std::vector<int>(sleeps_.begin(), sleeps_.end()));
  }
  void TearDown() override {
    for (pid_t pid : sleeps_) {
      if (pid <= 0) continue;  // already reaped by the test
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    std::filesystem::remove_all(dir_);
  }

  std::vector<LedgerEntry> Open() const {
    auto ledger = Ledger::Open(ledger_);
    EXPECT_TRUE(ledger);
    auto state = ledger->Read();
    EXPECT_TRUE(state);
    return state ? state->open : std::vector<LedgerEntry>{};
  }

  std::filesystem::path dir_;
  std::string ledger_;
  std::vector<pid_t> sleeps_;
  std::unique_ptr<testing::FakeNodeControl> control_;
};

TEST_F(DrillFaultsTest, ACrashIsRecordedOwnedAndHealedOnlyOnceTheNodeRuns) {
  auto faults = DrillFaults::Open(ledger_, *control_, "r1");
  ASSERT_TRUE(faults) << faults.error().message();
  auto crash = (*faults)->Crash({"n1"});
  ASSERT_TRUE(crash) << crash.error().message();
  EXPECT_TRUE(crash->ok) << crash->Describe();
  EXPECT_NE(crash->ledger_id, 0u);
  int status = 0;
  ASSERT_EQ(::waitpid(sleeps_[0], &status, 0), sleeps_[0]);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  sleeps_[0] = 0;
  auto open = Open();
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0].kind, "crash");
  EXPECT_TRUE(OwnedByThisProcess(open[0]));
  ASSERT_EQ(open[0].objects.size(), 1u);
  EXPECT_EQ(open[0].objects[0].type, "killed");
  EXPECT_EQ(open[0].objects[0].node, "n1");
  // The fake control cannot start n1 again: the heal says so and the entry stays open.
  const FaultReport healed = (*faults)->Heal({});
  EXPECT_FALSE(healed.ok) << healed.Describe();
  EXPECT_EQ(Open().size(), 1u);
}

// A Nemesis that applies nothing: ApplyFault must not reach it for a crash.
class NoNemesis : public Nemesis {
 public:
  Result<FaultReport> Partition(const Grudge&, PartitionMode) override { return Unused(); }
  Result<FaultReport> Process(const std::vector<std::string>&, ProcessAction) override {
    return Unused();
  }
  Result<FaultReport> Loss(const std::vector<std::string>&, const std::vector<std::string>&, double,
                           bool) override {
    return Unused();
  }
  Result<FaultReport> Delay(const std::vector<std::string>&, const std::vector<std::string>&,
                            std::chrono::milliseconds, std::chrono::milliseconds, bool) override {
    return Unused();
  }
  Result<FaultReport> Bandwidth(const std::vector<std::string>&, std::int64_t) override {
    return Unused();
  }
  Result<FaultReport> Mangle(const std::vector<std::string>&, const std::vector<std::string>&,
                             const Mangling&, bool) override {
    return Unused();
  }
  FaultReport HealAll() override {
    ADD_FAILURE() << "HealAll called";
    return {};
  }
  Result<std::vector<std::string>> OpenFaults() const override {
    return std::vector<std::string>{};
  }

 private:
  static Result<FaultReport> Unused() {
    ADD_FAILURE() << "the nemesis was asked to apply a crash";
    return Error(ErrorCode::kInternal, "unused");
  }
};

// ApplyFault crashes through the DrillFaults its context gives, and refuses a crash without one.
TEST_F(DrillFaultsTest, ApplyFaultCrashesThroughTheContextsDrillFaults) {
  auto faults = DrillFaults::Open(ledger_, *control_, "r1");
  ASSERT_TRUE(faults) << faults.error().message();
  NoNemesis nemesis;
  FaultSpec spec;
  spec.kind = FaultKind::kCrash;
  spec.targets = "n1";
  const std::vector<std::string> nodes = {"n1", "n2"};
  auto refused = ApplyFault(nemesis, spec, nodes, nullptr);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(Open().empty());

  auto crash = ApplyFault(nemesis, spec, nodes, nullptr, {.drill_faults = faults->get()});
  ASSERT_TRUE(crash) << crash.error().message();
  EXPECT_TRUE(crash->ok) << crash->Describe();
  EXPECT_EQ(crash->kind, FaultKind::kCrash);
  EXPECT_EQ(crash->nodes, std::vector<std::string>{"n1"});
  int status = 0;
  ASSERT_EQ(::waitpid(sleeps_[0], &status, 0), sleeps_[0]);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  sleeps_[0] = 0;
  auto open = Open();
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0].kind, "crash");
}

TEST_F(DrillFaultsTest, ACorruptionOfARunningNodeHealsAndCloses) {
  auto faults = DrillFaults::Open(ledger_, *control_, "r1");
  ASSERT_TRUE(faults) << faults.error().message();
  auto id = (*faults)->RecordCorruption("n2", "corrupt n2: bitflip of member/snap/db");
  ASSERT_TRUE(id) << id.error().message();
  auto open = Open();
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0].kind, "corrupt");
  const FaultReport healed = (*faults)->Heal([&](const LedgerEntry& e) { return e.id == *id; });
  EXPECT_TRUE(healed.ok) << healed.Describe();
  EXPECT_TRUE(Open().empty());
}

// A corruption with an undo (what the drill does on the faulty filesystem, here on a plain
// directory): the ledger names the undo file before any damage, and the heal restores every range
// that still holds the damage before it starts the node, counting what it restored.
TEST_F(DrillFaultsTest, AnUndoableCorruptionIsRestoredByTheHeal) {
  const std::filesystem::path data = dir_ / "n2";
  std::filesystem::create_directories(data);
  std::string original(3000, '\0');
  for (size_t i = 0; i < original.size(); ++i) original[i] = static_cast<char>(i * 7);
  std::ofstream(data / "db", std::ios::binary) << original;
  auto faults = DrillFaults::Open(ledger_, *control_, "r1");
  ASSERT_TRUE(faults) << faults.error().message();
  auto id = (*faults)->RecordCorruption("n2", "corrupt n2: overwrite of db");
  ASSERT_TRUE(id) << id.error().message();
  auto damaged = (*faults)->CorruptUndoable(*id, "n2",
                                            CorruptSpec{.directory = data.string(),
                                                        .patterns = {"db"},
                                                        .mode = CorruptMode::kOverwrite,
                                                        .count = 64,
                                                        .offset = 1000,
                                                        .seed = 5,
                                                        .max_files = 0});
  ASSERT_TRUE(damaged) << damaged.error().message();
  EXPECT_NE(Slurp((data / "db").string()), original);
  auto open = Open();
  ASSERT_EQ(open.size(), 1u);
  ASSERT_EQ(open[0].objects.size(), 2u);
  const LedgerObject& undo = open[0].objects[1];
  EXPECT_EQ(undo.type, "disk-corruption");
  EXPECT_EQ(undo.set_to, damaged->damaged_hash);
  EXPECT_TRUE(std::filesystem::exists(undo.value)) << undo.value;
  const FaultReport healed = (*faults)->Heal([&](const LedgerEntry& e) { return e.id == *id; });
  EXPECT_TRUE(healed.ok) << healed.Describe();
  EXPECT_EQ(Slurp((data / "db").string()), original);
  EXPECT_EQ(healed.counts.at("ranges_restored"), 1) << healed.Describe();
  EXPECT_EQ(healed.counts.at("bytes_restored"), 64) << healed.Describe();
  EXPECT_EQ(healed.counts.at("ranges_rewritten"), 0) << healed.Describe();
  EXPECT_FALSE(std::filesystem::exists(undo.value));
  EXPECT_TRUE(Open().empty());
}

TEST_F(DrillFaultsTest, ASiegesObjectsAreUndone) {
  const std::string setting = (dir_ / "cpu.shares").string();
  std::ofstream(setting) << "8192\n";
  const std::string scratch = (dir_ / ".faultline-siege-1-0").string();
  std::ofstream(scratch) << "x";
  const pid_t burner = testing::SpawnSleep();
  ASSERT_GT(burner, 0);
  const auto stat = internal::ReadProcStat(burner);
  ASSERT_TRUE(stat.has_value());
  auto ledger = Ledger::Open(ledger_);
  ASSERT_TRUE(ledger);
  LedgerEntry e;
  e.kind = "siege";
  e.nodes = {"n1"};
  e.run_id = "r1";
  e.owner_pid = 1;  // not this process: healed like a dead drill's entry
  LedgerObject s;
  s.type = "setting";
  s.name = setting;
  s.value = "1024";
  s.set_to = "8192";
  // A setting someone changed after the siege raised it is theirs now.
  const std::string changed = (dir_ / "cpu.shares.changed").string();
  std::ofstream(changed) << "4096\n";
  LedgerObject c = s;
  c.name = changed;
  LedgerObject f;
  f.type = "scratch-file";
  f.name = scratch;
  LedgerObject b;
  b.type = "burner";
  b.pid = burner;
  b.start_time = stat->start_time;
  e.objects = {s, c, b, f};
  ASSERT_TRUE(ledger->Append(e));
  auto faults = DrillFaults::Open(ledger_, *control_, "r1");
  ASSERT_TRUE(faults) << faults.error().message();
  const FaultReport healed = (*faults)->Heal({});
  EXPECT_TRUE(healed.ok) << healed.Describe();
  EXPECT_EQ(Slurp(setting), "1024");
  EXPECT_EQ(Slurp(changed), "4096\n");
  EXPECT_FALSE(std::filesystem::exists(scratch));
  EXPECT_FALSE(internal::IsSameProcess(burner, stat->start_time));
  EXPECT_TRUE(Open().empty());
}

// A pause healed before its SIGSTOP took effect (the target not yet scheduled: the heal of a
// crashed campaign can come within milliseconds) must still be resumed: SIGCONT cancels the
// pending stop. Here the "paused" process runs, as it does in that window, and traps SIGCONT.
TEST_F(DrillFaultsTest, APauseWhoseStopHasNotTakenEffectIsStillResumed) {
  const std::string mark = (dir_ / "continued").string();
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const std::string script =
        fmt::format("trap 'echo cont > {}' CONT; while :; do sleep 0.02; done", mark);
    ::execl("/bin/sh", "sh", "-c", script.c_str(), nullptr);
    ::_exit(127);
  }
  sleeps_.push_back(pid);  // reaped by TearDown
  // The shell must have set its trap before the heal signals it.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto stat = internal::ReadProcStat(pid);
  ASSERT_TRUE(stat.has_value());
  ASSERT_NE(stat->state, 'T');
  testing::FakeNodeControl control({{.name = "n1", .netns = "", .address = "198.18.0.1"}}, {pid});
  auto ledger = Ledger::Open(ledger_);
  ASSERT_TRUE(ledger);
  LedgerEntry e;
  e.kind = "pause";
  e.nodes = {"n1"};
  e.run_id = "r1";
  e.owner_pid = 1;  // not this process: healed like a crashed campaign's entry
  LedgerObject o;
  o.type = "paused";
  o.node = "n1";
  o.pid = pid;
  o.start_time = stat->start_time;
  o.flag = true;  // a local process
  e.objects = {o};
  ASSERT_TRUE(ledger->Append(e));
  auto faults = DrillFaults::Open(ledger_, control, "r1");
  ASSERT_TRUE(faults) << faults.error().message();
  const FaultReport healed = (*faults)->Heal({});
  EXPECT_TRUE(healed.ok) << healed.Describe();
  EXPECT_NE(healed.Describe().find(fmt::format("signal {} to pid {}", SIGCONT, pid)),
            std::string::npos)
      << healed.Describe();
  EXPECT_NE(healed.Describe().find("not seen stopped"), std::string::npos) << healed.Describe();
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!std::filesystem::exists(mark) && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(std::filesystem::exists(mark)) << "the heal sent no SIGCONT";
  EXPECT_TRUE(Open().empty());

  // A process that is gone is not "resumed": its pid may be someone else's now.
  ASSERT_TRUE(ledger->Append(e));
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  sleeps_.back() = 0;
  std::filesystem::remove(mark);
  const FaultReport gone = (*faults)->Heal({});
  EXPECT_TRUE(gone.ok) << gone.Describe();
  EXPECT_NE(gone.Describe().find("not paused (nothing to resume)"), std::string::npos)
      << gone.Describe();
  EXPECT_TRUE(Open().empty());
}

}  // namespace
}  // namespace faultline::nemesis
