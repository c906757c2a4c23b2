// Clock faults without root: libfaketime offsets and environments, the commands run over SSH, the
// refusals, and a bump / strobe / reset / heal through a real Nemesis whose "database
// processes" are `sleep`s of this test started under libfaketime (local), or through a fake SSH
// control that records the commands it is asked to run.
#include "nemesis/clock.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include "common/file.h"
#include "common/process.h"
#include "nemesis/internal/proc.h"
#include "nemesis/machine_check.h"
#include "nemesis/nemesis.h"

namespace faultline::nemesis {
namespace {

using std::chrono::milliseconds;

TEST(FaketimeOffset, FormatsAndParsesBack) {
  EXPECT_EQ(FaketimeOffset(milliseconds(0)), "+0");
  EXPECT_EQ(FaketimeOffset(milliseconds(500)), "+0.500");
  EXPECT_EQ(FaketimeOffset(milliseconds(-2250)), "-2.250");
  EXPECT_EQ(FaketimeOffset(milliseconds(86'400'000)), "+86400.000");
  for (std::int64_t ms : {1LL, -1LL, 999LL, -1000LL, 123456LL, -86'400'000LL}) {
    auto back = ParseFaketimeOffset(FaketimeOffset(milliseconds(ms)));
    ASSERT_TRUE(back) << ms << ": " << back.error().message();
    EXPECT_EQ(back->count(), ms);
  }
  EXPECT_EQ(ParseFaketimeOffset("+0")->count(), 0);
  EXPECT_EQ(ParseFaketimeOffset("-0.5\n")->count(), -500);
  for (const char* bad : {"", "0.5", "+", "+x", "+1.2345", "@2020-01-01", "+1d"}) {
    EXPECT_FALSE(ParseFaketimeOffset(bad)) << bad;
  }
}

TEST(FaketimeEnv, NamesTheFileAndLeavesMonotonicAlone) {
  const auto env = FaketimeEnv("/lib/libfaketime.so.1", "/run/n1/faketime.rc");
  ASSERT_EQ(env.size(), 5u);
  EXPECT_EQ(env[0], (std::pair<std::string, std::string>{"LD_PRELOAD", "/lib/libfaketime.so.1"}));
  EXPECT_EQ(env[1].second, "/run/n1/faketime.rc");
  EXPECT_EQ(env[2], (std::pair<std::string, std::string>{"FAKETIME_NO_CACHE", "1"}));
  EXPECT_EQ(env[3], (std::pair<std::string, std::string>{"FAKETIME_DONT_FAKE_MONOTONIC", "1"}));
  // Without it a JVM's timed waits spin (see FaketimeEnv).
  EXPECT_EQ(env[4], (std::pair<std::string, std::string>{"FAKETIME_FORCE_MONOTONIC_FIX", "0"}));
  EXPECT_EQ(FaketimeExports("/l.so", "/r/f.rc"),
            "export LD_PRELOAD='/l.so' FAKETIME_TIMESTAMP_FILE='/r/f.rc' FAKETIME_NO_CACHE='1' "
            "FAKETIME_DONT_FAKE_MONOTONIC='1' FAKETIME_FORCE_MONOTONIC_FIX='0'; ");
  EXPECT_EQ(FaketimeFile("/var/lib/faultline/clusters/default", "n2"),
            "/var/lib/faultline/clusters/default/n2/faketime.rc");
}

std::string Environ(std::vector<std::string> vars) {
  std::string out;
  for (const auto& v : vars) out += v + '\0';
  return out;
}

TEST(CheckFaketimeEnviron, AcceptsOnlyTheNodesFile) {
  const std::string file = "/run/n1/faketime.rc";
  EXPECT_TRUE(CheckFaketimeEnviron(
      Environ({"PATH=/bin", "LD_PRELOAD=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
               "FAKETIME_TIMESTAMP_FILE=" + file}),
      file));
  // etcd's environment: nothing preloaded.
  auto none = CheckFaketimeEnviron(Environ({"PATH=/bin", "HOME=/root"}), file);
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message().find("preloads no libfaketime"), std::string::npos);
  auto other = CheckFaketimeEnviron(
      Environ({"LD_PRELOAD=libfaketime.so.1", "FAKETIME_TIMESTAMP_FILE=/run/n2/faketime.rc"}),
      file);
  ASSERT_FALSE(other);
  EXPECT_NE(other.error().message().find("/run/n2/faketime.rc"), std::string::npos);
  EXPECT_FALSE(CheckFaketimeEnviron(
      Environ({"LD_PRELOAD=libfaketime.so.1", "FAKETIME_TIMESTAMP_FILE=" + file, "FAKETIME=+1"}),
      file));
}

TEST(CheckOtherKernel, RefusesThisMachinesBootId) {
  auto ours = OurBootId();
  ASSERT_TRUE(ours) << ours.error().message();
  auto same = CheckOtherKernel("n1", *ours + "\n", *ours);
  ASSERT_FALSE(same);
  EXPECT_EQ(same.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(same.error().message().find("this machine's kernel"), std::string::npos);
  EXPECT_TRUE(CheckOtherKernel("n1", "0f1e2d3c-0000-4000-8000-000000000000", *ours));
  EXPECT_FALSE(CheckOtherKernel("n1", "", *ours));
}

TEST(SettimeCommands, SetTheClockFromTheBootReference) {
  EXPECT_EQ(SetClockCommand("1700000000.250", milliseconds(-1500)),
            "date -s \"@$(awk -v r='1700000000.250' -v d=-1.500 '{ printf \"%.3f\", $1 + r + d "
            "}' /proc/uptime)\" >/dev/null");
  EXPECT_EQ(StopServicesCommand({"chrony", "ntp"}), "systemctl stop 'chrony' 'ntp'");
  EXPECT_EQ(StartServicesCommand({"chrony"}), "systemctl start 'chrony'");
  const std::string loop = StrobeLoopCommand("5.000", milliseconds(200), milliseconds(50), "r-7");
  EXPECT_NE(loop.find("faultline-clock-strobe-r-7"), std::string::npos);
  EXPECT_NE(loop.find("sleep 0.050"), std::string::npos);
  EXPECT_NE(loop.find("& echo $!"), std::string::npos);
  // The command that ends the loop never names it in one piece (it would match itself).
  const std::string end = EndStrobeLoopCommand(42, "r-7");
  EXPECT_EQ(end.find("faultline-clock-strobe-r-7"), std::string::npos);
  // The commands are valid sh, and the reference command prints realtime - uptime.
  auto ref = RunProcess({"/bin/sh", "-c", ClockReferenceCommand()});
  ASSERT_TRUE(ref);
  ASSERT_EQ(ref->exit_code, 0) << ref->err;
  const double reference = std::stod(ref->out);
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_GT(reference, 1e9);
  EXPECT_LT(reference, now);
  auto syntax = RunProcess({"/bin/sh", "-n", "-c", loop + "\n" + end + "\n" + ActiveNtpCommand()});
  ASSERT_TRUE(syntax);
  EXPECT_EQ(syntax->exit_code, 0) << syntax->err;
}

TEST(ClockFaultSpecs, DescribeTheOffset) {
  FaultSpec bump;
  bump.kind = FaultKind::kClockBump;
  bump.targets = "n2";
  bump.clock_offset = milliseconds(-1500);
  EXPECT_EQ(DescribeFault(bump), "clock-bump -1500 ms on n2");
  EXPECT_EQ(FormatFaultSpec(bump), "clock-bump n2 --offset-ms -1500");
}

// ---- through a Nemesis ----

// A control whose "database processes" are the given PIDs and whose commands run here (local), or
// which answers like an SSH node and records the commands (ssh).
class TestControl final : public NodeControl {
 public:
  TestControl(std::string name, std::vector<std::string> nodes, std::vector<int> pids)
      : name_(std::move(name)), nodes_(std::move(nodes)), pids_(std::move(pids)) {}
  std::string_view Name() const override { return name_; }
  std::vector<std::string> Nodes() const override { return nodes_; }
  std::vector<ProcessReport> Process(const std::vector<std::string>&, ProcessAction) override {
    return {};
  }
  Result<std::vector<DbProcess>> Databases() override {
    std::vector<DbProcess> out;
    for (size_t i = 0; i < nodes_.size(); ++i) {
      DbProcess d;
      d.node = nodes_[i];
      d.pid = pids_[i];
      const auto st = internal::ReadProcStat(d.pid);
      d.alive = st && st->state != 'Z';
      d.start_time = st ? st->start_time : 0;
      out.push_back(d);
    }
    return out;
  }
  Result<CommandOutput> Run(std::string_view node, std::string_view command,
                            std::string_view) override {
    if (name_ != "ssh") {
      FAULTLINE_ASSIGN_OR_RETURN(ProcessOutput r,
                                 RunProcess({"/bin/sh", "-c", std::string(command)}));
      return CommandOutput{.exit_code = r.exit_code, .out = r.out, .err = r.err};
    }
    std::lock_guard lock(mu_);
    commands_.push_back(fmt::format("{}: {}", node, command));
    CommandOutput out;
    if (command.find("boot_id") != std::string_view::npos) out.out = boot_id + "\n";
    if (command.find("/proc/uptime && now") != std::string_view::npos) out.out = "1700000000.000\n";
    if (command.find("systemctl is-active") != std::string_view::npos) out.out = "chrony\n";
    if (command.find("nohup") != std::string_view::npos) out.out = "4242\n";
    return out;
  }
  std::vector<std::string> commands() {
    std::lock_guard lock(mu_);
    return commands_;
  }
  std::string boot_id = "0f1e2d3c-0000-4000-8000-000000000000";

 private:
  std::string name_;
  std::vector<std::string> nodes_;
  std::vector<int> pids_;
  std::mutex mu_;
  std::vector<std::string> commands_;
};

class ClockNemesisTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           fmt::format("faultline-clock-test-{}-{}", ::getpid(), counter_++);
    std::filesystem::create_directories(dir_);
    ::setenv("FAULTLINE_NEMESIS_HELPER", FAULTLINE_NEMESIS_HELPER, 1);
  }
  void TearDown() override {
    if (nemesis_) (void)nemesis_->HealAll();
    nemesis_.reset();
    for (pid_t pid : children_) {
      ::kill(pid, SIGKILL);
      int status = 0;
      ::waitpid(pid, &status, 0);
    }
    std::filesystem::remove_all(dir_);
  }

  std::string File(const std::string& node) const { return (dir_ / (node + ".rc")).string(); }

  // A `sleep` whose environment runs it under libfaketime with `file` (or not at all).
  pid_t Sleeper(const std::string& file) {
    const std::optional<std::string> lib = FindLibfaketime();
    const pid_t pid = ::fork();
    if (pid == 0) {
      if (!file.empty() && lib) {
        for (const auto& [k, v] : FaketimeEnv(*lib, file)) ::setenv(k.c_str(), v.c_str(), 1);
      }
      ::execl("/bin/sleep", "sleep", "600", nullptr);
      ::_exit(127);
    }
    children_.push_back(pid);
    // Until it has exec'd, its environ is ours.
    for (int i = 0; i < 200; ++i) {
      auto env = ReadFile(fmt::format("/proc/{}/cmdline", pid));
      if (env && env->starts_with("sleep")) break;
      std::this_thread::sleep_for(milliseconds(5));
    }
    return pid;
  }

  void Open(const std::string& control, std::vector<int> pids, ClockAccess access) {
    control_ = std::make_unique<TestControl>(control, std::vector<std::string>{"n1", "n2", "n3"},
                                             std::move(pids));
    NemesisOptions o;
    o.net.run_id = "clk";
    for (const char* n : {"n1", "n2", "n3"}) {
      o.net.nodes.push_back(NetNode{.name = n, .netns = "none", .address = "198.19.0.1"});
    }
    o.ledger_path = (dir_ / "nemesis.ledger").string();
    o.control = control_.get();
    o.clock = std::move(access);
    o.heal_on_open = false;
    auto n = Nemesis::Open(o);
    ASSERT_TRUE(n) << n.error().message();
    nemesis_ = std::move(*n);
  }

  ClockAccess Access() const {
    ClockAccess a;
    for (const char* n : {"n1", "n2", "n3"}) a.faketime_files[n] = File(n);
    return a;
  }

  milliseconds Offset(const std::string& node) {
    auto text = ReadFile(File(node));
    EXPECT_TRUE(text) << node;
    auto ms = ParseFaketimeOffset(text ? *text : "");
    EXPECT_TRUE(ms) << node;
    return ms ? *ms : milliseconds(-1);
  }

  static inline int counter_ = 0;
  std::filesystem::path dir_;
  std::vector<pid_t> children_;
  std::unique_ptr<TestControl> control_;
  std::unique_ptr<Nemesis> nemesis_;
};

FaultSpec Spec(FaultKind kind, std::string targets, int offset_ms, int period_ms = 0) {
  FaultSpec s;
  s.kind = kind;
  s.targets = std::move(targets);
  if (kind != FaultKind::kClockReset) s.clock_offset = milliseconds(offset_ms);
  s.clock_period = milliseconds(period_ms);
  return s;
}

TEST_F(ClockNemesisTest, BumpIsSeenByAProcessUnderLibfaketimeAndHealed) {
  ASSERT_TRUE(FindLibfaketime()) << "libfaketime is not installed (apt-get install libfaketime)";
  std::vector<int> pids;
  for (const char* n : {"n1", "n2", "n3"}) pids.push_back(Sleeper(File(n)));
  Open("local", pids, Access());
  const std::vector<std::string> nodes = {"n1", "n2", "n3"};
  auto r = ApplyFault(*nemesis_, Spec(FaultKind::kClockBump, "n2", 4000), nodes, {});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(r->ok) << r->Describe();
  EXPECT_NE(r->ledger_id, 0u);
  EXPECT_EQ(Offset("n2"), milliseconds(4000));
  // A process on the node with n2's server's clock environment reads the offset...
  auto seen = MeasureClockOffset(*control_, "n2");
  ASSERT_TRUE(seen) << seen.error().message();
  EXPECT_NEAR(static_cast<double>(seen->offset.count()), 4000, 300) << seen->how;
  // ...n1's does not.
  auto other = MeasureClockOffset(*control_, "n1");
  ASSERT_TRUE(other) << other.error().message();
  EXPECT_NEAR(static_cast<double>(other->offset.count()), 0, 300) << other->how;
  // A second bump replaces the first (offsets are from the true time).
  auto again = ApplyFault(*nemesis_, Spec(FaultKind::kClockBump, "n2,n3", -700), nodes, {});
  ASSERT_TRUE(again && again->ok) << (again ? again->Describe() : again.error().message());
  EXPECT_EQ(Offset("n2"), milliseconds(-700));
  EXPECT_EQ(Offset("n3"), milliseconds(-700));
  auto open = nemesis_->OpenFaults();
  ASSERT_TRUE(open);
  EXPECT_EQ(open->size(), 1u) << "the first bump's entry is closed";
  const FaultReport healed = nemesis_->HealAll();
  EXPECT_TRUE(healed.ok) << healed.Describe();
  EXPECT_EQ(Offset("n2"), milliseconds(0));
  EXPECT_EQ(Offset("n3"), milliseconds(0));
  auto after = MeasureClockOffset(*control_, "n2");
  ASSERT_TRUE(after);
  EXPECT_NEAR(static_cast<double>(after->offset.count()), 0, 300) << after->how;
}

TEST_F(ClockNemesisTest, StrobeAlternatesUntilHealedAndResetCloses) {
  ASSERT_TRUE(FindLibfaketime());
  std::vector<int> pids;
  for (const char* n : {"n1", "n2", "n3"}) pids.push_back(Sleeper(File(n)));
  Open("local", pids, Access());
  const std::vector<std::string> nodes = {"n1", "n2", "n3"};
  auto r = ApplyFault(*nemesis_, Spec(FaultKind::kClockStrobe, "n1", 3000, 40), nodes, {});
  ASSERT_TRUE(r && r->ok) << (r ? r->Describe() : r.error().message());
  std::set<std::int64_t> seen;
  for (int i = 0; i < 40 && seen.size() < 2; ++i) {
    seen.insert(Offset("n1").count());
    std::this_thread::sleep_for(milliseconds(13));
  }
  EXPECT_EQ(seen, (std::set<std::int64_t>{0, 3000}));
  const std::string tag = fmt::format("{}#{}", (dir_ / "nemesis.ledger").string(), r->ledger_id);
  EXPECT_EQ(internal::FindProcesses({"faultline-nemesis-helper", tag}).size(), 1u);
  auto reset = ApplyFault(*nemesis_, Spec(FaultKind::kClockReset, "n1", 0), nodes, {});
  ASSERT_TRUE(reset && reset->ok) << (reset ? reset->Describe() : reset.error().message());
  EXPECT_TRUE(internal::FindProcesses({"faultline-nemesis-helper", tag}).empty());
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(Offset("n1"), milliseconds(0));
    std::this_thread::sleep_for(milliseconds(20));
  }
  auto open = nemesis_->OpenFaults();
  ASSERT_TRUE(open);
  EXPECT_TRUE(open->empty()) << (*open)[0];
}

TEST_F(ClockNemesisTest, RefusesAServerThatDoesNotReadItsClockThroughTheFile) {
  std::vector<int> pids = {Sleeper(""), Sleeper(""), Sleeper("")};
  ClockAccess access = Access();
  access.refusal = "system etcd: etcd is a Go program";
  Open("local", pids, access);
  auto r = ApplyFault(*nemesis_, Spec(FaultKind::kClockBump, "n1", 1000), {"n1", "n2", "n3"}, {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(r.error().message().find("etcd is a Go program"), std::string::npos)
      << r.error().message();
  EXPECT_NE(r.error().message().find("preloads no libfaketime"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(File("n1"))) << "a refused fault touches nothing";
  auto open = nemesis_->OpenFaults();
  ASSERT_TRUE(open);
  EXPECT_TRUE(open->empty());
}

TEST_F(ClockNemesisTest, OverSshRefusesANodeOnThisKernel) {
  Open("ssh", {0, 0, 0}, {});
  auto ours = OurBootId();
  ASSERT_TRUE(ours);
  control_->boot_id = *ours;
  auto r = ApplyFault(*nemesis_, Spec(FaultKind::kClockBump, "n2", 1000), {"n1", "n2", "n3"}, {});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("this machine's kernel"), std::string::npos)
      << r.error().message();
  for (const auto& c : control_->commands()) {
    EXPECT_EQ(c.find("date -s"), std::string::npos) << "the clock was touched: " << c;
  }
}

TEST_F(ClockNemesisTest, OverSshStopsNtpSetsTheClockAndHealRestoresBoth) {
  Open("ssh", {0, 0, 0}, {});
  auto r = ApplyFault(*nemesis_, Spec(FaultKind::kClockBump, "n2", -2500), {"n1", "n2", "n3"}, {});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(r->ok) << r->Describe();
  std::vector<std::string> cmds = control_->commands();
  auto has = [&](const std::string& needle) {
    return std::any_of(cmds.begin(), cmds.end(),
                       [&](const std::string& c) { return c.find(needle) != std::string::npos; });
  };
  EXPECT_TRUE(has("n2: systemctl stop 'chrony'"));
  EXPECT_TRUE(has("n2: " + SetClockCommand("1700000000.000", milliseconds(-2500))));
  EXPECT_FALSE(has("n1: "));
  const FaultReport healed = nemesis_->HealAll();
  EXPECT_TRUE(healed.ok) << healed.Describe();
  cmds = control_->commands();
  EXPECT_TRUE(has("n2: " + SetClockCommand("1700000000.000", milliseconds(0))));
  EXPECT_TRUE(has("n2: systemctl start 'chrony'"));
  // A strobe starts a loop on the node; the heal ends it before it resets the clock.
  auto s =
      ApplyFault(*nemesis_, Spec(FaultKind::kClockStrobe, "n3", 800, 100), {"n1", "n2", "n3"}, {});
  ASSERT_TRUE(s && s->ok) << (s ? s->Describe() : s.error().message());
  cmds = control_->commands();
  EXPECT_TRUE(has("n3: nohup sh -c"));
  const size_t before = cmds.size();
  EXPECT_TRUE(nemesis_->HealAll().ok);
  cmds = control_->commands();
  ASSERT_GT(cmds.size(), before);
  EXPECT_NE(cmds[before].find("n3: n='faultline-'"), std::string::npos) << cmds[before];
}

TEST(MachineCheck, NamesWhatIsMissingAndHowToInstallIt) {
  MachinePaths missing{.dev_fuse = "/nonexistent/fuse",
                       .proc_filesystems = "/nonexistent/filesystems",
                       .nfqueue_proc = "/nonexistent/nfnetlink_queue",
                       .fusermount = "/nonexistent/fusermount3",
                       .iptables = "/nonexistent/iptables",
                       .libfaketime = "/nonexistent/libfaketime.so.1"};
  const std::vector<MachineFact> facts = CheckMachine(missing);
  ASSERT_EQ(facts.size(), 3u);
  EXPECT_EQ(facts[0].name, "fuse");
  EXPECT_EQ(facts[1].name, "libfaketime");
  EXPECT_EQ(facts[2].name, "nfqueue");
  for (const auto& f : facts) EXPECT_FALSE(f.ok) << f.name;
  EXPECT_NE(facts[0].fix.find("apt-get install fuse3"), std::string::npos);
  EXPECT_NE(facts[1].fix.find("apt-get install libfaketime"), std::string::npos);
  EXPECT_NE(facts[2].fix.find("modprobe nfnetlink_queue"), std::string::npos);
  const std::string text = DescribeMachine(facts);
  EXPECT_NE(text.find("MISSING libfaketime"), std::string::npos) << text;
  const std::vector<FaultKind> kinds = {FaultKind::kClockBump, FaultKind::kPartition};
  auto refused = RequireMachine(kinds, true, facts);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message().find("clock-bump needs libfaketime"), std::string::npos)
      << refused.error().message();
  EXPECT_EQ(refused.error().message().find("nfqueue"), std::string::npos);
  EXPECT_TRUE(RequireMachine(kinds, false, facts)) << "over ssh clocks need no libfaketime";
  const std::vector<FaultKind> partition = {FaultKind::kPartition};
  EXPECT_TRUE(RequireMachine(partition, true, facts));
  // This machine (tools/setup.sh installs all three).
  for (const auto& f : CheckMachine()) EXPECT_TRUE(f.ok) << f.name << ": " << f.detail;
}

}  // namespace
}  // namespace faultline::nemesis
