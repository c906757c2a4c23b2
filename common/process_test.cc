// Spawning and waiting without root: output capture, input, exit codes, deadlines, lookup.
#include "common/process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>

namespace faultline {
namespace {

using std::chrono::milliseconds;

TEST(RunProcessTest, CapturesStdoutStderrAndExitCode) {
  auto r = RunProcess({"sh", "-c", "echo out; echo err >&2; exit 3"});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->out, "out\n");
  EXPECT_EQ(r->err, "err\n");
}

TEST(RunProcessTest, FeedsInputLargerThanAPipe) {
  const std::string input(1 << 20, 'z');
  auto r = RunProcess({"wc", "-c"}, {.input = input});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(std::stoul(r->out), input.size());
}

TEST(RunProcessTest, AChildThatIgnoresItsInputDoesNotKillUs) {
  const std::string input(1 << 20, 'z');
  auto r = RunProcess({"true"}, {.input = input});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->exit_code, 0);
}

TEST(RunProcessTest, SignalExitIs128PlusTheSignal) {
  auto r = RunProcess({"sh", "-c", "kill -TERM $$"});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->exit_code, 128 + SIGTERM);
}

TEST(RunProcessTest, KillsAndReapsPastTheTimeout) {
  const auto start = std::chrono::steady_clock::now();
  auto r = RunProcess({"sleep", "30"}, {.timeout = milliseconds(200)});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kDeadlineExceeded);
  EXPECT_NE(r.error().message().find("sleep"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(RunProcessTest, DetachedOutputDoesNotWaitForAGrandchild) {
  // The grandchild keeps the child's stdout; only the child's exit counts.
  const auto start = std::chrono::steady_clock::now();
  auto r = RunProcess({"sh", "-c", "sleep 5 & exit 4"},
                      {.timeout = milliseconds(3000), .detach_output = true});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->exit_code, 4);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

TEST(RunProcessTest, MissingProgramIsNotFound) {
  auto r = RunProcess({"faultline-no-such-program"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_FALSE(RunProcess({}));
}

TEST(RunProcessTest, UnreadableNetnsIsAnErrorBeforeStarting) {
  auto r = RunProcess({"true"}, {.netns_path = "/nonexistent/netns"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
}

TEST(RunProcessOkTest, NamesTheCommandAndItsStderr) {
  auto ok = RunProcessOk({"echo", "hi"});
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_EQ(*ok, "hi\n");
  auto bad = RunProcessOk({"sh", "-c", "echo one >&2; echo two >&2; exit 2"});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), "sh -c echo one >&2; echo two >&2; exit 2: exit 2: one;two");
}

TEST(ResolveProgramTest, SearchesSystemDirectories) {
  EXPECT_EQ(ResolveProgram("/x/y"), "/x/y");
  EXPECT_FALSE(ResolveProgram("sh").empty());
  EXPECT_EQ(ResolveProgram("faultline-no-such-program"), "");
}

TEST(SpawnTest, WaitExitForKillsAChildPastItsTime) {
  auto child =
      Spawn({"sleep", "30"}, {.in = Stdio::kNull, .out = Stdio::kNull, .err = Stdio::kNull});
  ASSERT_TRUE(child) << child.error().message();
  EXPECT_FALSE(child->in.valid());
  EXPECT_EQ(WaitExitFor(*child, milliseconds(50)), std::nullopt);
  auto quick = Spawn({"true"});
  ASSERT_TRUE(quick) << quick.error().message();
  EXPECT_EQ(WaitExitFor(*quick, milliseconds(5000)), 0);
}

// Reads a spawned child's stdout to its end (the pipe is non-blocking).
std::string ReadAll(Child& child) {
  std::string out;
  char buf[4096];
  while (true) {
    pollfd p{.fd = child.out.get(), .events = POLLIN, .revents = 0};
    if (::poll(&p, 1, 5000) <= 0) break;
    const ssize_t n = ::read(child.out.get(), buf, sizeof(buf));
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

TEST(SpawnTest, NewSessionMakesTheChildASessionLeader) {
  // Field 6 of /proc/PID/stat is the session id; a session leader's is its own pid.
  auto child = Spawn({"sh", "-c", "echo $$; cut -d' ' -f6 /proc/$$/stat"},
                     {.in = Stdio::kNull, .err = Stdio::kNull, .new_session = true});
  ASSERT_TRUE(child) << child.error().message();
  const std::string out = ReadAll(*child);
  EXPECT_EQ(WaitExit(child->pid), 0);
  const auto nl = out.find('\n');
  ASSERT_NE(nl, std::string::npos) << out;
  EXPECT_EQ(out.substr(0, nl) + "\n", out.substr(nl + 1));
}

TEST(SpawnTest, TheChildGetsNoLeakedDescriptors) {
  const int leaked = ::open("/dev/null", O_RDONLY);  // no O_CLOEXEC on purpose
  ASSERT_GE(leaked, 3);
  auto out = RunProcess({"sh", "-c", "ls /proc/self/fd"});
  ::close(leaked);
  ASSERT_TRUE(out) << out.error().message();
  // ls sees 0, 1, 2 and the directory it is reading, nothing of ours.
  EXPECT_EQ(std::count(out->out.begin(), out->out.end(), '\n'), 4) << out->out;
}

TEST(ProcStatTest, TellsALiveProcessFromAGoneOne) {
  const auto self = ReadProcStat(static_cast<int>(::getpid()));
  ASSERT_TRUE(self.has_value());
  EXPECT_EQ(self->state, 'R');
  EXPECT_GT(self->start_time, 0u);
  EXPECT_TRUE(IsSameProcess(static_cast<int>(::getpid()), self->start_time));
  EXPECT_FALSE(IsSameProcess(static_cast<int>(::getpid()), self->start_time + 1));
  EXPECT_EQ(ReadProcStat(0), std::nullopt);
  auto child = Spawn({"true"});
  ASSERT_TRUE(child) << child.error().message();
  const pid_t pid = child->pid;
  EXPECT_EQ(WaitExitFor(*child, milliseconds(5000)), 0);
  EXPECT_EQ(ReadProcStat(static_cast<int>(pid)), std::nullopt);  // reaped: gone
}

}  // namespace
}  // namespace faultline
