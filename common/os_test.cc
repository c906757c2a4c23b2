// The fd, clock, file and shell helpers of common/, without root.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "common/clock.h"
#include "common/fd.h"
#include "common/file.h"
#include "common/process.h"
#include "common/shell.h"

namespace faultline {
namespace {

namespace fs = std::filesystem;

bool IsOpen(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

TEST(UniqueFdTest, ClosesOnDestructionAndMoves) {
  int raw = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(raw, 0);
  {
    UniqueFd a(raw);
    EXPECT_TRUE(a.valid());
    UniqueFd b(std::move(a));
    EXPECT_FALSE(a.valid());  // NOLINT(bugprone-use-after-move): moved-from state is specified
    EXPECT_EQ(b.get(), raw);
    UniqueFd c;
    c = std::move(b);
    EXPECT_EQ(c.get(), raw);
    EXPECT_TRUE(IsOpen(raw));
  }
  EXPECT_FALSE(IsOpen(raw));
}

TEST(UniqueFdTest, ReleaseGivesUpOwnershipAndResetCloses) {
  UniqueFd a(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  const int raw = a.Release();
  EXPECT_FALSE(a.valid());
  EXPECT_TRUE(IsOpen(raw));
  a.Reset(raw);
  a.Reset();
  EXPECT_FALSE(IsOpen(raw));
}

TEST(ErrnoErrorTest, MapsTheCodeAndNamesTheContext) {
  const Error e = ErrnoError(ENOENT, "read /x");
  EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  EXPECT_EQ(e.message(), "read /x: No such file or directory");
  EXPECT_EQ(ErrnoError(EACCES, "x").code(), ErrorCode::kPermissionDenied);
}

TEST(ClockTest, MonotonicNeverGoesBackAndWallIsUnixTime) {
  const auto a = MonotonicNow();
  const auto b = MonotonicNow();
  EXPECT_LE(a, b);
  // 2020-01-01 in Unix seconds: a wall clock before it is not CLOCK_REALTIME.
  EXPECT_GT(WallNow(), std::chrono::seconds(1577836800));
  EXPECT_GE(ThreadCpuNow().count(), 0);
}

TEST(ClockTest, SleepUntilMonotonicWaitsForTheDeadline) {
  const auto deadline = MonotonicNow() + std::chrono::milliseconds(20);
  SleepUntilMonotonic(deadline);
  EXPECT_GE(MonotonicNow(), deadline);
  SleepUntilMonotonic(deadline - std::chrono::seconds(1));  // past: returns at once
}

class FileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("faultline-common-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(FileTest, WriteAtomicThenReadRoundTrips) {
  const std::string path = (dir_ / "f").string();
  std::string content = "line 1\n";
  content.push_back('\0');
  content += std::string(200000, 'x');  // more than one read buffer
  ASSERT_TRUE(WriteFileAtomic(path, content));
  auto back = ReadFile(path);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(*back, content);
  ASSERT_TRUE(WriteFileAtomic(path, "short"));
  EXPECT_EQ(ReadFile(path).value(), "short");
  EXPECT_FALSE(fs::exists(path + ".tmp"));
}

TEST_F(FileTest, WriteAtomicAppliesTheModeDespiteTheUmask) {
  const std::string path = (dir_ / "key").string();
  const mode_t old = ::umask(0077);
  ASSERT_TRUE(WriteFileAtomic(path, "a", 0644));
  ::umask(old);
  EXPECT_EQ(fs::status(path).permissions(), fs::perms::owner_read | fs::perms::owner_write |
                                                fs::perms::group_read | fs::perms::others_read);
  ASSERT_TRUE(WriteFileAtomic(path, "b", 0600));
  EXPECT_EQ(fs::status(path).permissions(), fs::perms::owner_read | fs::perms::owner_write);
}

TEST_F(FileTest, ErrorsNameThePathAndCode) {
  auto missing = ReadFile((dir_ / "missing").string());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(missing.error().message().find("missing"), std::string::npos);
  auto s = WriteFileAtomic((dir_ / "no-dir" / "f").string(), "x");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), ErrorCode::kNotFound);
}

TEST(ShellQuoteTest, QuotesSingleQuotes) {
  EXPECT_EQ(ShellQuote(""), "''");
  EXPECT_EQ(ShellQuote("a b"), "'a b'");
  EXPECT_EQ(ShellQuote("it's"), "'it'\\''s'");
}

TEST(ShellQuoteTest, ShellReadsBackTheExactBytes) {
  const std::string nasty = "a'b\"c $HOME `id` \\ * ; \n end '";
  auto out = RunProcess({"sh", "-c", "printf %s " + ShellQuote(nasty)});
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ(out->exit_code, 0);
  EXPECT_EQ(out->out, nasty);
}

}  // namespace
}  // namespace faultline
