// Every file of the Porcupine corpus gets its expected verdict (issue 3 §5): cas-register for the
// etcd logs, kv for the kv files. The corpus directory comes from FAULTLINE_CORPUS_DIR.
#include <gtest/gtest.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "checker/checker.h"
#include "history/io.h"

namespace faultline::checker {
namespace {

struct CorpusFile {
  std::string file;    // relative to porcupine/
  std::string format;  // jepsen-etcd-log or jepsen-kv-edn
  bool linearizable = true;
};

void PrintTo(const CorpusFile& f, std::ostream* os) { *os << f.file; }

// The environment wins; otherwise the directory CMake was configured with (gtest_discover_tests
// lists the cases by running the binary without CTest's environment).
std::string CorpusDir() {
  if (const char* dir = std::getenv("FAULTLINE_CORPUS_DIR"); dir != nullptr && *dir != '\0') {
    return std::string(dir) + "/porcupine";
  }
  return std::string(FAULTLINE_CORPUS_DIR) + "/porcupine";
}

std::vector<CorpusFile> LoadManifest() {
  std::vector<CorpusFile> files;
  const std::string dir = CorpusDir();
  if (dir.empty()) return files;
  std::ifstream in(dir + "/MANIFEST.tsv");
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::vector<std::string> cols;
    std::stringstream ss(line);
    std::string col;
    while (std::getline(ss, col, '\t')) cols.push_back(col);
    if (cols.size() < 5) continue;
    files.push_back(
        CorpusFile{.file = cols[0], .format = cols[1], .linearizable = cols[4] == "linearizable"});
  }
  return files;
}

std::string TestName(const testing::TestParamInfo<CorpusFile>& param) {
  std::string name;
  bool upper = true;
  for (char c : param.param.file) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0) {
      upper = true;
      continue;
    }
    name += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    upper = false;
  }
  return name;
}

class PorcupineCorpus : public testing::TestWithParam<CorpusFile> {};

TEST_P(PorcupineCorpus, GetsExpectedVerdict) {
  const CorpusFile& f = GetParam();
  const bool etcd = f.format == "jepsen-etcd-log";
  auto history = history::ReadHistoryFile(
      CorpusDir() + "/" + f.file,
      history::ReadOptions{.format = etcd ? history::Format::kEtcdLog : history::Format::kEdn});
  ASSERT_TRUE(history.has_value()) << history.error().message();
  auto result = Check(*history, CheckOptions{.model = etcd ? "cas-register" : "kv",
                                             .initial = std::nullopt,
                                             .time_limit_s = 60,
                                             .memory_limit_mb = 2048,
                                             .threads = 0});
  ASSERT_TRUE(result.has_value()) << result.error().message();
  EXPECT_EQ(ValidityName(result->validity), f.linearizable ? "valid" : "invalid")
      << result->unknown_reason;
  if (!f.linearizable && result->counterexample) {
    const Counterexample& cx = *result->counterexample;
    EXPECT_LT(cx.failing_op, history->size());
    EXPECT_TRUE((*history)[cx.failing_op].is_invoke());
    EXPECT_FALSE(cx.prefixes.empty());
    EXPECT_FALSE(cx.explanation.empty());
  }
}

// Issue 16 §3: the kv files checked as one history over the whole map (Porcupine's worst case:
// c50 unknown after 120 s) get the same verdicts, with the detectors and by the search alone.
class PorcupineKvWholeMap : public testing::TestWithParam<CorpusFile> {};

TEST_P(PorcupineKvWholeMap, GetsExpectedVerdict) {
  const CorpusFile& f = GetParam();
  auto history = history::ReadHistoryFile(CorpusDir() + "/" + f.file,
                                          history::ReadOptions{.format = history::Format::kEdn});
  ASSERT_TRUE(history.has_value()) << history.error().message();
  // With the detectors (the write-order detector decides c50-bad per key) and without: the
  // whole-map search alone.
  for (bool detectors : {true, false}) {
    auto result = Check(*history, CheckOptions{.model = "kv-unpartitioned",
                                               .initial = std::nullopt,
                                               .time_limit_s = 120,
                                               .memory_limit_mb = 2048,
                                               .threads = 0,
                                               .search = SearchMode::kAuto,
                                               .detectors = detectors});
    ASSERT_TRUE(result.has_value()) << result.error().message();
    EXPECT_EQ(ValidityName(result->validity), f.linearizable ? "valid" : "invalid")
        << (detectors ? "" : "search alone: ") << result->unknown_reason;
  }
}

INSTANTIATE_TEST_SUITE_P(Manifest, PorcupineCorpus, testing::ValuesIn(LoadManifest()), TestName);

std::vector<CorpusFile> KvFiles() {
  std::vector<CorpusFile> kv;
  for (const CorpusFile& f : LoadManifest()) {
    if (f.format == "jepsen-kv-edn") kv.push_back(f);
  }
  return kv;
}
INSTANTIATE_TEST_SUITE_P(Manifest, PorcupineKvWholeMap, testing::ValuesIn(KvFiles()), TestName);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(PorcupineKvWholeMap);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(PorcupineCorpus);

// The manifest must be there when the test is registered; an empty one would pass vacuously.
TEST(PorcupineCorpusManifest, HasEveryFile) { EXPECT_EQ(LoadManifest().size(), 109u); }

}  // namespace
}  // namespace faultline::checker
