// Every file of Porcupine's corpus (FAULTLINE_CORPUS_DIR/porcupine/MANIFEST.tsv) is read with the
// format detected from its content, matches the manifest's counts, and survives EDN -> JSON Lines
// -> EDN unchanged.
#include <gtest/gtest.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <set>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include "history/edn.h"
#include "history/io.h"
#include "history/jsonl.h"

namespace faultline::history {
namespace {

struct ManifestRow {
  std::string file;    // relative to porcupine/
  std::string format;  // jepsen-etcd-log | jepsen-kv-edn
  size_t ops = 0;
  size_t partitions = 0;
  size_t process_ids = 0;
  size_t indeterminate_ops = 0;
};

void PrintTo(const ManifestRow& row, std::ostream* os) { *os << row.file; }

// The environment wins; otherwise the directory CMake was configured with (the cases are listed
// by gtest_discover_tests, which runs the binary without CTest's environment).
std::string CorpusDir() {
  if (const char* dir = std::getenv("FAULTLINE_CORPUS_DIR"); dir != nullptr && *dir != '\0') {
    return std::string(dir) + "/porcupine";
  }
  return std::string(FAULTLINE_CORPUS_DIR) + "/porcupine";
}

std::vector<ManifestRow> LoadManifest() {
  std::vector<ManifestRow> rows;
  if (CorpusDir().empty()) return rows;
  std::ifstream in(CorpusDir() + "/MANIFEST.tsv");
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::vector<std::string> cols;
    std::stringstream ss(line);
    std::string col;
    while (std::getline(ss, col, '\t')) cols.push_back(col);
    if (cols.size() < 12) continue;  // the ManifestHasEveryFile test notices a short count
    rows.push_back(ManifestRow{.file = cols[0],
                               .format = cols[1],
                               .ops = std::stoul(cols[3]),
                               .partitions = std::stoul(cols[9]),
                               .process_ids = std::stoul(cols[10]),
                               .indeterminate_ops = std::stoul(cols[11])});
  }
  return rows;
}

// "jepsen/etcd_000.log" -> "JepsenEtcd000Log".
std::string TestName(const std::string& file) {
  std::string name;
  bool upper = true;
  for (char c : file) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0) {
      upper = true;
      continue;
    }
    name.push_back(upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c);
    upper = false;
  }
  return name;
}

TEST(CorpusTest, ManifestHasEveryFile) {
  ASSERT_FALSE(CorpusDir().empty()) << "FAULTLINE_CORPUS_DIR is not set";
  // 103 etcd logs and 6 kv histories (FORMATS.md §2).
  EXPECT_EQ(LoadManifest().size(), 109u) << "in " << CorpusDir() << "/MANIFEST.tsv";
}

class CorpusFileTest : public testing::TestWithParam<ManifestRow> {
 protected:
  std::string Path() const { return CorpusDir() + "/" + GetParam().file; }
};

TEST_P(CorpusFileTest, MatchesTheManifest) {
  const ManifestRow& row = GetParam();
  ReadReport report;
  auto h = ReadHistoryFile(Path(), {}, &report);
  ASSERT_TRUE(h) << h.error().message();
  // An empty file (etcd_095.log) has no content to detect a format from; it reads as an empty
  // history whatever the format.
  if (h->size() > 0) {
    EXPECT_EQ(report.format, row.format == "jepsen-etcd-log" ? Format::kEtcdLog : Format::kEdn)
        << "detected " << FormatName(report.format);
  }
  EXPECT_EQ(report.note, "");
  EXPECT_EQ(h->invocation_count(), row.ops);

  // FORMATS.md §2.1: ":info ops plus :fail :read :timed-out ops". An invocation that never
  // completes counts as an :info too (§1.3); the corpus has none, so both readings agree.
  size_t indeterminate = 0;
  std::set<Process> processes;
  std::set<std::string> keys;
  for (size_t i = 0; i < h->size(); ++i) {
    const Op& op = (*h)[i];
    processes.insert(op.process);
    if (op.key.has_value()) keys.insert(op.key->ToEdn());
    if (op.type == OpType::kInfo) ++indeterminate;
    if (op.is_invoke() && h->partner(i) == History::kNone) ++indeterminate;
    if (op.type == OpType::kFail && op.f == "read" && op.error == Value::Keyword("timed-out")) {
      ++indeterminate;
    }
  }
  EXPECT_EQ(indeterminate, row.indeterminate_ops);
  EXPECT_EQ(processes.size(), row.process_ids);
  EXPECT_EQ(keys.empty() ? size_t{1} : keys.size(), row.partitions);
}

TEST_P(CorpusFileTest, SurvivesEdnJsonlEdn) {
  auto original = ReadHistoryFile(Path());
  ASSERT_TRUE(original) << original.error().message();

  // The etcd logs are not EDN; start those from their EDN rendering.
  const std::string edn = WriteEdnHistory(*original);
  auto from_edn = ReadEdnHistory(edn, GetParam().file + ".edn");
  ASSERT_TRUE(from_edn) << from_edn.error().message();

  const std::string jsonl = WriteJsonlHistory(*from_edn);
  JsonlReadInfo info;
  auto from_jsonl = ReadJsonlHistory(jsonl, GetParam().file + ".jsonl", &info);
  ASSERT_TRUE(from_jsonl) << from_jsonl.error().message();
  EXPECT_FALSE(info.truncated_tail);

  const std::string edn_again = WriteEdnHistory(*from_jsonl);
  auto back = ReadEdnHistory(edn_again, GetParam().file + ".again.edn");
  ASSERT_TRUE(back) << back.error().message();

  ASSERT_EQ(from_edn->size(), original->size());
  ASSERT_EQ(from_jsonl->size(), original->size());
  ASSERT_EQ(back->size(), original->size());
  for (size_t i = 0; i < original->size(); ++i) {
    ASSERT_EQ((*from_edn)[i], (*original)[i]) << "op " << i << " after EDN";
    ASSERT_EQ((*from_jsonl)[i], (*original)[i]) << "op " << i << " after JSON Lines";
    ASSERT_EQ((*back)[i], (*original)[i]) << "op " << i << " after EDN again";
    ASSERT_EQ(from_jsonl->partner(i), original->partner(i)) << "op " << i;
  }
  EXPECT_EQ(edn_again, edn);
  EXPECT_EQ(WriteJsonlHistory(*back), jsonl);
}

INSTANTIATE_TEST_SUITE_P(Porcupine, CorpusFileTest, testing::ValuesIn(LoadManifest()),
                         [](const testing::TestParamInfo<ManifestRow>& p) {
                           return TestName(p.param.file);
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(CorpusFileTest);

// Porcupine's kv files go through the EDN reader's fast path for op maps; it must give exactly
// what the generic reader (every form a Value, then OpFromMap) gives.
TEST(CorpusTest, KvFilesReadTheSameThroughTheEdnFastPath) {
  int files = 0;
  for (const char* name :
       {"c01-ok.txt", "c01-bad.txt", "c10-ok.txt", "c10-bad.txt", "c50-ok.txt", "c50-bad.txt"}) {
    std::ifstream in(CorpusDir() + "/kv/" + name, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    ASSERT_FALSE(text.str().empty()) << name;
    Result<History> fast = ReadEdnHistory(text.str(), name);
    ASSERT_TRUE(fast.has_value()) << fast.error().message();
    Result<std::vector<EdnForm>> forms = ParseEdnForms(text.str(), name);
    ASSERT_TRUE(forms.has_value()) << forms.error().message();
    ASSERT_EQ(forms->size(), fast->size()) << name;
    for (size_t i = 0; i < forms->size(); ++i) {
      Result<Op> op = OpFromMap((*forms)[i].value);
      ASSERT_TRUE(op.has_value()) << name << ": " << op.error().message();
      op->index = static_cast<int64_t>(i);  // Build numbers ops without :index by position
      ASSERT_EQ((*fast)[i], *op) << name << " op " << i;
    }
    EXPECT_TRUE((*fast)[0].key.has_value()) << name;
    EXPECT_EQ(fast->open_count(), 0u) << name;
    ++files;
  }
  EXPECT_EQ(files, 6);
}

}  // namespace
}  // namespace faultline::history
