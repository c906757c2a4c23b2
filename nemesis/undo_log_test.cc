// The faulty filesystem's undo log (nemesis/internal/undo_log.h) on plain files, without root or
// FUSE: a drop leaves every file as it was at its last sync, a torn drop keeps a prefix of the
// last write, and a sync forgets only what it covered.
#include "nemesis/internal/undo_log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

namespace faultline::nemesis::internal {
namespace {

class UndoLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("faultline-undo-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  int Open(const std::string& name) {
    const int fd = ::open((dir_ / name).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    EXPECT_GE(fd, 0);
    return fd;
  }
  static ino_t Ino(int fd) {
    struct stat st {};
    ::fstat(fd, &st);
    return st.st_ino;
  }
  std::string Read(const std::string& name) {
    std::ifstream in(dir_ / name, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  // A write through the log, as the filesystem makes it.
  void Write(UndoLog& log, int fd, off_t off, const std::string& data) {
    ASSERT_TRUE(log.BeforeWrite(Ino(fd), fd, off, data.data(), static_cast<int64_t>(data.size())));
    ASSERT_EQ(::pwrite(fd, data.data(), data.size(), off), static_cast<ssize_t>(data.size()));
  }

  static bool Resize(UndoLog& log, int fd, off_t size) {
    return log.BeforeResize(Ino(fd), fd, size).has_value() && ::ftruncate(fd, size) == 0;
  }

  std::filesystem::path dir_;
};

TEST_F(UndoLogTest, DropRestoresTheLastSyncedState) {
  UndoLog log;
  const int fd = Open("wal");
  Write(log, fd, 0, "synced ");
  log.Synced(Ino(fd), log.Pending(Ino(fd)));
  Write(log, fd, 7, "lost append");
  Write(log, fd, 0, "OVER");  // an overwrite of synced bytes
  ASSERT_TRUE(Resize(log, fd, 30));
  EXPECT_EQ(log.unsynced_writes(), 2);
  Result<DropCounts> c = log.Drop();
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->writes, 2);
  EXPECT_EQ(c->bytes, 15);
  EXPECT_EQ(Read("wal"), "synced ");
  EXPECT_EQ(log.unsynced_writes(), 0);
  ::close(fd);
}

TEST_F(UndoLogTest, SyncCoversOnlyWhatWasPendingWhenItBegan) {
  UndoLog log;
  const int fd = Open("db");
  Write(log, fd, 0, "aaaa");
  const size_t pending = log.Pending(Ino(fd));
  Write(log, fd, 4, "bbbb");  // written while the fsync ran
  log.Synced(Ino(fd), pending);
  ASSERT_TRUE(log.Drop());
  EXPECT_EQ(Read("db"), "aaaa");
  ::close(fd);
}

TEST_F(UndoLogTest, TornDropKeepsAPrefixOfTheLastWrite) {
  UndoLog log;
  const int fd = Open("wal");
  Write(log, fd, 0, "base");
  log.Synced(Ino(fd), log.Pending(Ino(fd)));
  Write(log, fd, 4, "first");
  Write(log, fd, 9, "0123456789");
  Result<DropCounts> c = log.Drop(/*torn_seed=*/42);
  ASSERT_TRUE(c);
  const std::string after = Read("wal");
  ASSERT_GT(c->torn_bytes, 0);
  ASSERT_LT(c->torn_bytes, 10);
  // The earlier unsynced write is gone; the last one left a prefix at its own offset.
  EXPECT_EQ(after.substr(0, 4), "base");
  EXPECT_EQ(after.size(), 9u + static_cast<size_t>(c->torn_bytes));
  EXPECT_EQ(after.substr(9), std::string("0123456789").substr(0, c->torn_bytes));
  ::close(fd);
}

// Property: random writes, resizes and syncs on a few files, then a drop, give each file exactly
// the contents it had at its last sync (tracked independently here).
TEST_F(UndoLogTest, RandomHistoriesDropToTheSyncedContents) {
  for (std::uint64_t seed = 1; seed <= 30; ++seed) {
    UndoLog log;
    std::mt19937_64 rng(seed);
    std::vector<int> fds;
    std::vector<std::string> synced(3);
    for (int i = 0; i < 3; ++i) {
      std::filesystem::remove(dir_ / std::to_string(i));
      fds.push_back(Open(std::to_string(i)));
    }
    for (int step = 0; step < 60; ++step) {
      const size_t f = rng() % 3;
      const int fd = fds[f];
      const int what = static_cast<int>(rng() % 10);
      if (what < 6) {
        const std::string data(1 + rng() % 50, static_cast<char>('a' + rng() % 26));
        Write(log, fd, static_cast<off_t>(rng() % 120), data);
      } else if (what < 8) {
        const off_t size = static_cast<off_t>(rng() % 150);
        ASSERT_TRUE(Resize(log, fd, size));
      } else {
        log.Synced(Ino(fd), log.Pending(Ino(fd)));
        synced[f] = Read(std::to_string(f));
      }
    }
    ASSERT_TRUE(log.Drop());
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(Read(std::to_string(i)), synced[static_cast<size_t>(i)]) << "seed " << seed;
      ::close(fds[static_cast<size_t>(i)]);
    }
  }
}

}  // namespace
}  // namespace faultline::nemesis::internal
