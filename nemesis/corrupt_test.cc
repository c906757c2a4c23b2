#include "nemesis/corrupt.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace faultline::nemesis {
namespace {

namespace fs = std::filesystem;

class CorruptTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/faultline-corrupt-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    fs::create_directories(dir_ / "member/snap");
    fs::create_directories(dir_ / "member/wal");
    Write("member/snap/0000000000000002-0000000000000010.snap", std::string(4096, 'a'));
    Write("member/snap/db", std::string(8192, '\0'));
    Write("member/wal/0000000000000000-0000000000000000.wal", std::string(1000, 'w'));
  }
  void TearDown() override { fs::remove_all(dir_); }

  CorruptSpec Spec(std::vector<std::string> patterns, CorruptMode mode, std::int64_t count,
                   std::int64_t offset = 0) {
    CorruptSpec s;
    s.directory = dir_;
    s.patterns = std::move(patterns);
    s.mode = mode;
    s.count = count;
    s.offset = offset;
    s.seed = 7;
    return s;
  }
  void Write(const std::string& rel, const std::string& data) {
    std::ofstream(dir_ / rel, std::ios::binary) << data;
  }
  std::string Read(const std::string& rel) {
    std::ifstream in(dir_ / rel, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  fs::path dir_;
};

TEST_F(CorruptTest, BitFlipsCountAlteredBytes) {
  std::string before = Read("member/snap/db");
  auto r = Corrupt(Spec({"member/snap/db"}, CorruptMode::kBitFlip, 16));
  ASSERT_TRUE(r) << r.error().message();
  std::string after = Read("member/snap/db");
  int diff = 0;
  for (size_t i = 0; i < after.size(); ++i) diff += after[i] != before[i];
  EXPECT_EQ(diff, 16);
  EXPECT_EQ(r->bytes_altered, 16);
  ASSERT_EQ(r->files.size(), 1u);
  EXPECT_EQ(r->files[0].size_after, 8192);
}

TEST_F(CorruptTest, OverwriteCountsOnlyChangedBytes) {
  // Random bytes over 'a's: about 1/256 of them happen to be 'a' again and must not count.
  auto r = Corrupt(Spec({"member/snap/*.snap"}, CorruptMode::kOverwrite, 0));
  ASSERT_TRUE(r) << r.error().message();
  std::string after = Read("member/snap/0000000000000002-0000000000000010.snap");
  std::int64_t diff = 0;
  for (char c : after) diff += c != 'a';
  EXPECT_EQ(r->bytes_altered, diff);
  EXPECT_GT(diff, 4000);
  EXPECT_LT(diff, 4096);
}

TEST_F(CorruptTest, TruncateCountsRemovedBytes) {
  auto r =
      Corrupt(Spec({"member/wal/*.wal", "member/snap/none*"}, CorruptMode::kTruncate, 0, -300));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->bytes_altered, 300);
  EXPECT_EQ(Read("member/wal/0000000000000000-0000000000000000.wal").size(), 700u);
  ASSERT_EQ(r->unmatched.size(), 1u);
  EXPECT_EQ(r->unmatched[0], "member/snap/none*");
}

TEST_F(CorruptTest, NothingMatchedIsAnError) {
  auto r = Corrupt(Spec({"member/snap/*.nope"}, CorruptMode::kBitFlip, 8));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
}

TEST_F(CorruptTest, ParsesModes) {
  EXPECT_EQ(*ParseCorruptMode("truncate"), CorruptMode::kTruncate);
  EXPECT_FALSE(ParseCorruptMode("shred"));
}

}  // namespace
}  // namespace faultline::nemesis
