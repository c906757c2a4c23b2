#include "nemesis/corrupt.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <ostream>
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

// The undo of a corruption (CorruptWithUndo / RestoreCorruption), one row per mode: the damage is
// the same as Corrupt's for the seed, and a restore gives every byte (and the size) back.
struct UndoRow {
  const char* name;
  CorruptMode mode;
  std::int64_t count;
  std::int64_t offset;
};

void PrintTo(const UndoRow& row, std::ostream* os) { *os << row.name; }

class CorruptUndoTest : public CorruptTest, public ::testing::WithParamInterface<UndoRow> {
 protected:
  void SetUp() override {
    CorruptTest::SetUp();
    std::string varied(5000, '\0');
    for (size_t i = 0; i < varied.size(); ++i) varied[i] = static_cast<char>('a' + i % 23);
    Write("member/snap/db", varied);
    original_ = varied;
    undo_ = (dir_ / "undo").string();
  }
  CorruptSpec RowSpec() {
    const UndoRow& row = GetParam();
    return Spec({"member/snap/db"}, row.mode, row.count, row.offset);
  }
  std::string original_;
  std::string undo_;
};

TEST_P(CorruptUndoTest, RestoreGivesEveryByteBack) {
  auto r = CorruptWithUndo(RowSpec(), undo_, {});
  ASSERT_TRUE(r) << r.error().message();
  const std::string damaged = Read("member/snap/db");
  EXPECT_NE(damaged, original_);
  EXPECT_GT(r->bytes_altered, 0);
  EXPECT_TRUE(fs::exists(undo_));
  EXPECT_EQ(r->damaged_hash, HashDamage(r->files));

  // Corrupt without undo, same seed, same file: the same damage.
  Write("member/snap/db", original_);
  ASSERT_TRUE(Corrupt(RowSpec()));
  EXPECT_EQ(Read("member/snap/db"), damaged);

  auto restored = RestoreCorruption(undo_, r->damaged_hash);
  ASSERT_TRUE(restored) << restored.error().message();
  EXPECT_EQ(Read("member/snap/db"), original_);
  EXPECT_EQ(restored->ranges_restored, r->ranges());
  EXPECT_EQ(restored->ranges_rewritten, 0);
  EXPECT_FALSE(fs::exists(undo_)) << "removed once restored";
  // A second heal finds nothing to do.
  auto again = RestoreCorruption(undo_, r->damaged_hash);
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(again->ranges_restored, 0);
}

TEST_P(CorruptUndoTest, NothingIsDamagedWhenRecordingFails) {
  auto r = CorruptWithUndo(RowSpec(), undo_, [](const CorruptReport&) -> Status {
    return MakeError(ErrorCode::kUnavailable, "ledger: disk full");
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(Read("member/snap/db"), original_);
}

INSTANTIATE_TEST_SUITE_P(Modes, CorruptUndoTest,
                         ::testing::Values(UndoRow{"BitFlip", CorruptMode::kBitFlip, 12, 0},
                                           UndoRow{"Overwrite", CorruptMode::kOverwrite, 300, 100},
                                           UndoRow{"Truncate", CorruptMode::kTruncate, 0, 1234}),
                         [](const ::testing::TestParamInfo<UndoRow>& p) { return p.param.name; });

TEST_F(CorruptTest, ARangeRewrittenSinceIsLeftAloneAndCounted) {
  std::string varied(2000, '\0');
  for (size_t i = 0; i < varied.size(); ++i) varied[i] = static_cast<char>('A' + i % 26);
  Write("member/snap/db", varied);
  const std::string undo = (dir_ / "undo").string();
  auto r = CorruptWithUndo(Spec({"member/snap/db"}, CorruptMode::kBitFlip, 5), undo, {});
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->ranges(), 5);
  // The database rewrote the second damaged byte since.
  const std::int64_t at = r->files[0].ranges[1].offset;
  std::string now = Read("member/snap/db");
  now[static_cast<size_t>(at)] = '#';
  Write("member/snap/db", now);
  auto restored = RestoreCorruption(undo, r->damaged_hash);
  ASSERT_TRUE(restored) << restored.error().message();
  EXPECT_EQ(restored->ranges_restored, 4);
  EXPECT_EQ(restored->ranges_rewritten, 1);
  EXPECT_EQ(restored->bytes_restored, 4);
  std::string expected = varied;
  expected[static_cast<size_t>(at)] = '#';
  EXPECT_EQ(Read("member/snap/db"), expected);
}

TEST_F(CorruptTest, ATruncationIsUndoneOnlyAtTheCutSize) {
  const std::string wal = "member/wal/0000000000000000-0000000000000000.wal";
  const std::string undo = (dir_ / "undo").string();
  auto r = CorruptWithUndo(Spec({"member/wal/*.wal"}, CorruptMode::kTruncate, 0, 600), undo, {});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(Read(wal).size(), 600u);
  // The database appended since: the old tail would overwrite its new records.
  Write(wal, std::string(600, 'w') + "new record");
  auto restored = RestoreCorruption(undo, r->damaged_hash);
  ASSERT_TRUE(restored) << restored.error().message();
  EXPECT_EQ(restored->ranges_restored, 0);
  EXPECT_EQ(restored->ranges_rewritten, 1);
  EXPECT_EQ(Read(wal), std::string(600, 'w') + "new record");
}

TEST_F(CorruptTest, AnUndoFileThatIsNotTheLedgersIsNotApplied) {
  const std::string undo = (dir_ / "undo").string();
  auto r = CorruptWithUndo(Spec({"member/snap/*.snap"}, CorruptMode::kBitFlip, 3), undo, {});
  ASSERT_TRUE(r) << r.error().message();
  const std::string damaged = Read("member/snap/0000000000000002-0000000000000010.snap");
  auto restored = RestoreCorruption(undo, "0123456789abcdef");
  ASSERT_FALSE(restored);
  EXPECT_EQ(restored.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(Read("member/snap/0000000000000002-0000000000000010.snap"), damaged);
  EXPECT_TRUE(fs::exists(undo));
}

}  // namespace
}  // namespace faultline::nemesis
