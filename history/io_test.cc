#include "history/io.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <ostream>
#include <string>

#include "history/jsonl.h"
#include "history/log.h"
#include "history/stats.h"

namespace faultline::history {
namespace {

TEST(FormatTest, NamesRoundTrip) {
  for (Format f : {Format::kAuto, Format::kJsonl, Format::kJson, Format::kEdn, Format::kEtcdLog,
                   Format::kLog}) {
    auto parsed = ParseFormat(FormatName(f));
    ASSERT_TRUE(parsed) << parsed.error().message();
    EXPECT_EQ(*parsed, f);
  }
  EXPECT_EQ(FormatName(Format::kEtcdLog), "etcd-log");
}

TEST(FormatTest, UnknownNameIsAnError) {
  auto parsed = ParseFormat("xml");
  ASSERT_FALSE(parsed);
  EXPECT_EQ(parsed.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(parsed.error().message(),
            "unknown history format \"xml\" (expected auto, jsonl, json, edn, etcd-log or log)");
}

struct DetectCase {
  std::string name;
  std::string content;
  Format want;
};

void PrintTo(const DetectCase& c, std::ostream* os) { *os << c.content; }

class DetectFormatTest : public testing::TestWithParam<DetectCase> {};

TEST_P(DetectFormatTest, Detects) { EXPECT_EQ(DetectFormat(GetParam().content), GetParam().want); }

INSTANTIATE_TEST_SUITE_P(
    Samples, DetectFormatTest,
    testing::Values(
        DetectCase{"Log", "FAULTLINE-LOG 1 unsigned\n0 op 2 {} abc\n", Format::kLog},
        DetectCase{"SignedLog", "FAULTLINE-LOG 1 ed25519 00ff\n", Format::kLog},
        DetectCase{"EtcdLog", "INFO  jepsen.util - 0\t:invoke\t:read\tnil\n", Format::kEtcdLog},
        DetectCase{"Jsonl", "{\"index\":0,\"type\":\"invoke\"}\n", Format::kJsonl},
        DetectCase{"JsonlMetadata", "{\"faultline\":{}}\n", Format::kJsonl},
        DetectCase{"JsonlSpaced", "{ \"type\": \"ok\"}\n", Format::kJsonl},
        DetectCase{"JsonlEmptyObject", "{}\n", Format::kJsonl},
        DetectCase{"JsonlLeadingBlankLines", "\n\n  {\"type\":\"ok\"}\n", Format::kJsonl},
        DetectCase{"JsonlBom", "\xEF\xBB\xBF{\"type\":\"ok\"}\n", Format::kJsonl},
        DetectCase{"EdnMap", "{:index 0, :type :invoke}\n", Format::kEdn},
        DetectCase{"EdnSpacedMap", "{ :type :invoke}\n", Format::kEdn},
        DetectCase{"EdnKv", "{:process 0, :type :invoke, :f :get, :key \"1\", :value nil}\n",
                   Format::kEdn},
        DetectCase{"EdnVector", "[{:type :invoke}]", Format::kEdn},
        DetectCase{"JsonArray", "[{\"index\":0,\"type\":\"invoke\"}]", Format::kJson},
        DetectCase{"JsonArrayPretty", "[\n  {\n    \"type\": \"ok\"}\n]\n", Format::kJson},
        DetectCase{"JsonArrayEmptyObject", "[ {} ]", Format::kJson},
        DetectCase{"EdnEmptyVector", "[]", Format::kEdn},
        DetectCase{"EdnList", "({:type :invoke})", Format::kEdn},
        DetectCase{"EdnComment", "; a history\n{:type :invoke}", Format::kEdn},
        DetectCase{"EdnDiscard", "#_ {:x 1} {:type :invoke}", Format::kEdn},
        DetectCase{"Empty", "", Format::kEdn}, DetectCase{"Blank", " \n\t\n", Format::kEdn}),
    [](const testing::TestParamInfo<DetectCase>& p) { return p.param.name; });

constexpr char kJsonl[] =
    "{\"index\":0,\"time\":5,\"type\":\"invoke\",\"process\":0,\"f\":\"write\",\"value\":1}\n"
    "{\"index\":1,\"time\":9,\"type\":\"ok\",\"process\":0,\"f\":\"write\",\"value\":1}\n";
constexpr char kEdn[] =
    "{:index 0, :time 5, :type :invoke, :process 0, :f :write, :value 1}\n"
    "{:index 1, :time 9, :type :ok, :process 0, :f :write, :value 1}\n";
constexpr char kEtcd[] =
    "INFO  jepsen.util - 0\t:invoke\t:write\t1\n"
    "INFO  jepsen.util - 0\t:ok\t:write\t1\n";

struct ReadCase {
  std::string name;
  std::string content;
  Format format;
};

void PrintTo(const ReadCase& c, std::ostream* os) { *os << c.name; }

class ReadHistoryTest : public testing::TestWithParam<ReadCase> {};

TEST_P(ReadHistoryTest, DetectsAndReads) {
  ReadReport report;
  auto h = ReadHistory(GetParam().content, "in", {}, &report);
  ASSERT_TRUE(h) << h.error().message();
  EXPECT_EQ(report.format, GetParam().format);
  EXPECT_EQ(report.note, "");
  ASSERT_EQ(h->size(), 2u);
  EXPECT_EQ((*h)[0].f, "write");
  EXPECT_EQ((*h)[1].value, Value::Int(1));
  EXPECT_EQ(h->partner(0), 1u);
}

TEST_P(ReadHistoryTest, ReadsWithTheFormatGiven) {
  ReadReport report;
  auto h = ReadHistory(GetParam().content, "in", ReadOptions{.format = GetParam().format}, &report);
  ASSERT_TRUE(h) << h.error().message();
  EXPECT_EQ(report.format, GetParam().format);
  EXPECT_EQ(h->size(), 2u);
}

INSTANTIATE_TEST_SUITE_P(Formats, ReadHistoryTest,
                         testing::Values(ReadCase{"Jsonl", kJsonl, Format::kJsonl},
                                         ReadCase{"Edn", kEdn, Format::kEdn},
                                         ReadCase{"EtcdLog", kEtcd, Format::kEtcdLog}),
                         [](const testing::TestParamInfo<ReadCase>& p) { return p.param.name; });

TEST(ReadHistoryTest, WrongFormatGivenIsAnError) {
  auto h = ReadHistory(kEdn, "h.edn", ReadOptions{.format = Format::kJsonl});
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error().message(),
            "h.edn: line 1: expected '\"' to start a field name, got ':' at column 2");
}

// Jepsen stamps :time per process before the op reaches the log, so an invocation can carry a time
// a few ns before the op above it. Such histories used to be refused; now the file order wins and
// the reader warns once with the count, in both text formats.
TEST(ReadHistoryTest, AcceptsTimesBeforeTheOpAboveAndWarnsOnceWithTheCount) {
  const std::string jsonl =
      "{\"index\":0,\"time\":100,\"type\":\"invoke\",\"process\":0,\"f\":\"write\",\"value\":1}\n"
      "{\"index\":1,\"time\":97,\"type\":\"invoke\",\"process\":1,\"f\":\"read\",\"value\":null}\n"
      "{\"index\":2,\"time\":200,\"type\":\"ok\",\"process\":0,\"f\":\"write\",\"value\":1}\n"
      "{\"index\":3,\"time\":199,\"type\":\"ok\",\"process\":1,\"f\":\"read\",\"value\":1}\n"
      "{\"index\":4,\"time\":150,\"type\":\"invoke\",\"process\":0,\"f\":\"read\",\"value\":null}"
      "\n";
  const std::string edn =
      "{:index 0, :time 100, :type :invoke, :process 0, :f :write, :value 1}\n"
      "{:index 1, :time 97, :type :invoke, :process 1, :f :read, :value nil}\n"
      "{:index 2, :time 200, :type :ok, :process 0, :f :write, :value 1}\n"
      "{:index 3, :time 199, :type :ok, :process 1, :f :read, :value 1}\n"
      "{:index 4, :time 150, :type :invoke, :process 0, :f :read, :value nil}\n";
  for (const std::string* content : {&jsonl, &edn}) {
    ReadReport report;
    auto h = ReadHistory(*content, "h", {}, &report);
    ASSERT_TRUE(h) << h.error().message();
    ASSERT_EQ(h->size(), 5u);
    // Op 4 (time 150) is behind op 2 (200), the maximum so far, not just behind its neighbour.
    EXPECT_EQ(h->time_regressions(), 3u);
    EXPECT_EQ(h->first_time_regression(), 1u);
    // File order is kept: the read completing at line 4 pairs with its invocation at line 2.
    EXPECT_EQ(h->partner(3), 1u);
    EXPECT_EQ((*h)[4].time_ns, 150);
    EXPECT_EQ(report.note,
              "3 ops have a :time before that of an op above (first: line 2); the file order is "
              "used for real-time precedence");
  }
}

TEST(ReadHistoryTest, NoTimeWarningWhenTimesNeverGoBack) {
  ReadReport report;
  auto h = ReadHistory(
      "{:index 0, :time 5, :type :invoke, :process 0, :f :write, :value 1}\n"
      "{:index 1, :time 5, :type :ok, :process 0, :f :write, :value 1}\n",
      "h", {}, &report);
  ASSERT_TRUE(h) << h.error().message();
  EXPECT_EQ(h->time_regressions(), 0u);
  EXPECT_EQ(report.note, "");
}

TEST(ReadHistoryTest, ReportsATruncatedJsonlTail) {
  ReadReport report;
  auto h = ReadHistory(std::string(kJsonl) + "{\"index\":2,\"ty", "h.jsonl", {}, &report);
  ASSERT_TRUE(h) << h.error().message();
  EXPECT_EQ(h->size(), 2u);
  EXPECT_EQ(report.format, Format::kJsonl);
  EXPECT_EQ(report.note, "truncated last line 3 ignored");
}

class ReadHistoryFileTest : public testing::Test {
 protected:
  std::string Write(const std::string& name, const std::string& content) {
    const std::string path = testing::TempDir() + "/faultline_io_test_" + name;
    std::ofstream(path, std::ios::binary) << content;
    paths_.push_back(path);
    return path;
  }
  ~ReadHistoryFileTest() override {
    for (const auto& p : paths_) std::remove(p.c_str());
  }

 private:
  std::vector<std::string> paths_;
};

TEST_F(ReadHistoryFileTest, ReadsAFile) {
  const std::string path = Write("h.jsonl", kJsonl);
  ReadReport report;
  auto h = ReadHistoryFile(path, {}, &report);
  ASSERT_TRUE(h) << h.error().message();
  EXPECT_EQ(h->size(), 2u);
  EXPECT_EQ(h->source_name(), path);
  EXPECT_EQ(report.format, Format::kJsonl);
}

TEST_F(ReadHistoryFileTest, ErrorsNameThePath) {
  const std::string path = Write("bad.edn", "INFO jepsen.util - x\n");
  auto h = ReadHistoryFile(path);
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error().message(), path + ": line 1: expected a process number, got \"x\"");
}

TEST_F(ReadHistoryFileTest, ReadsLargeFilesWhole) {
  std::string big;
  for (int i = 0; i < 5000; ++i) {
    big += "{\"type\":\"invoke\",\"process\":0,\"f\":\"write\",\"value\":" + std::to_string(i) +
           "}\n{\"type\":\"ok\",\"process\":0,\"f\":\"write\",\"value\":" + std::to_string(i) +
           "}\n";
  }
  const std::string path = Write("big.jsonl", big);
  auto content = ReadFileToString(path);
  ASSERT_TRUE(content) << content.error().message();
  EXPECT_EQ(*content, big);
  auto h = ReadHistoryFile(path);
  ASSERT_TRUE(h) << h.error().message();
  EXPECT_EQ(h->size(), 10000u);
}

TEST_F(ReadHistoryFileTest, ReadsAnImmutableLog) {
  auto h = ReadHistory(kJsonl, "h.jsonl");
  ASSERT_TRUE(h) << h.error().message();
  const std::string path = Write("h.log", "");
  std::remove(path.c_str());  // the log writer refuses to overwrite
  auto summary = WriteHistoryLog(path, *h, {R"({"faultline":{"format":1}})"});
  ASSERT_TRUE(summary) << summary.error().message();

  ReadReport report;
  auto from_log = ReadHistoryFile(path, {}, &report);
  ASSERT_TRUE(from_log) << from_log.error().message();
  EXPECT_EQ(report.format, Format::kLog);
  EXPECT_EQ(report.note, "");
  ASSERT_EQ(from_log->size(), h->size());
  for (size_t i = 0; i < h->size(); ++i) EXPECT_EQ((*from_log)[i], (*h)[i]) << "op " << i;
}

TEST(ReadHistoryTest, ReadsLogsThroughTheLogReader) {
  ReadReport report;
  auto h = ReadHistory("FAULTLINE-LOG 1 unsigned\n0 op 5 {...} 00\n", "bad.log", {}, &report);
  EXPECT_EQ(report.format, Format::kLog);
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error().message().rfind("bad.log", 0), 0u) << h.error().message();
}

TEST(ReadFileToStringTest, MissingFileIsNotFound) {
  auto content = ReadFileToString("/nonexistent/faultline/h.jsonl");
  ASSERT_FALSE(content);
  EXPECT_EQ(content.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(content.error().message(),
            "open /nonexistent/faultline/h.jsonl: No such file or directory");
}

TEST(ReadFileToStringTest, DirectoryIsAnError) {
  auto content = ReadFileToString("/");
  ASSERT_FALSE(content);
  EXPECT_EQ(content.error().message(), "read /: Is a directory");
}

// ---------------------------------------------------------------------------------------------
// Stats.

constexpr char kStatsHistory[] =
    "{\"index\":0,\"time\":1000,\"type\":\"invoke\",\"process\":0,\"f\":\"write\",\"value\":1}\n"
    "{\"index\":1,\"time\":2000,\"type\":\"info\",\"process\":\"nemesis\",\"f\":\"start\","
    "\"value\":null}\n"
    "{\"index\":2,\"time\":3000,\"type\":\"invoke\",\"process\":1,\"f\":\"read\",\"value\":null}\n"
    "{\"index\":3,\"time\":4000,\"type\":\"ok\",\"process\":0,\"f\":\"write\",\"value\":1}\n"
    "{\"index\":4,\"time\":5000,\"type\":\"info\",\"process\":\"nemesis\",\"f\":\"start\","
    "\"value\":\"done\"}\n"
    "{\"index\":5,\"time\":6000,\"type\":\"invoke\",\"process\":10,\"f\":\"cas\",\"value\":[1,2]}\n"
    "{\"index\":6,\"time\":7000,\"type\":\"fail\",\"process\":10,\"f\":\"cas\",\"value\":[1,2]}\n"
    "{\"index\":7,\"time\":1500000000,\"type\":\"invoke\",\"process\":2,\"value\":null}\n";

TEST(StatsTest, CountsEverything) {
  auto h = ReadJsonlHistory(kStatsHistory, "stats.jsonl");
  ASSERT_TRUE(h) << h.error().message();
  const HistoryStats s = ComputeStats(*h);
  EXPECT_EQ(s.ops, 8u);
  EXPECT_EQ(s.invocations, 5u);
  EXPECT_EQ(s.completions, 3u);
  EXPECT_EQ(s.nemesis_ops, 2u);
  EXPECT_EQ(s.open_ops, (std::vector<size_t>{2, 7}));
  EXPECT_EQ(s.by_type,
            (std::map<std::string, size_t>{{"invoke", 4}, {"info", 2}, {"ok", 1}, {"fail", 1}}));
  EXPECT_EQ(s.by_f, (std::map<std::string, size_t>{
                        {"", 1}, {"cas", 2}, {"read", 1}, {"start", 2}, {"write", 2}}));
  std::vector<std::pair<Process, size_t>> procs(s.by_process.begin(), s.by_process.end());
  EXPECT_EQ(procs, (std::vector<std::pair<Process, size_t>>{{Process::Client(0), 2},
                                                            {Process::Client(1), 1},
                                                            {Process::Client(2), 1},
                                                            {Process::Client(10), 2},
                                                            {Process::Nemesis(), 2}}));
  EXPECT_EQ(s.first_time_ns, 1000);
  EXPECT_EQ(s.last_time_ns, 1500000000);
  EXPECT_EQ(s.time_span_ns, 1499999000);
}

TEST(StatsTest, FormatsText) {
  auto h = ReadJsonlHistory(kStatsHistory, "stats.jsonl");
  ASSERT_TRUE(h) << h.error().message();
  EXPECT_EQ(FormatStats(ComputeStats(*h)),
            "ops          8\n"
            "invocations  5\n"
            "completions  3\n"
            "open         2 (op 2 7)\n"
            "nemesis ops  2\n"
            "by type      fail 1, info 2, invoke 4, ok 1\n"
            "by f         (no f) 1, cas 2, read 1, start 2, write 2\n"
            "by process   0 2, 1 1, 2 1, 10 2, nemesis 2\n"
            "time         1000 ns to 1500000000 ns (span 1.500 s)\n");
}

TEST(StatsTest, WritesJson) {
  auto h = ReadJsonlHistory(kStatsHistory, "stats.jsonl");
  ASSERT_TRUE(h) << h.error().message();
  EXPECT_EQ(StatsToJson(ComputeStats(*h)),
            R"({"ops":8,"by_type":{"fail":1,"info":2,"invoke":4,"ok":1},)"
            R"("by_f":{"":1,"cas":2,"read":1,"start":2,"write":2},)"
            R"("by_process":{"0":2,"1":1,"2":1,"10":2,"nemesis":2},)"
            R"("invocations":5,"completions":3,"open_ops":[2,7],"nemesis_ops":2,)"
            R"("first_time_ns":1000,"last_time_ns":1500000000,"time_span_ns":1499999000})");
}

TEST(StatsTest, EmptyHistory) {
  const HistoryStats s = ComputeStats(History());
  EXPECT_EQ(s.ops, 0u);
  EXPECT_EQ(s.first_time_ns, -1);
  EXPECT_EQ(s.time_span_ns, 0);
  EXPECT_EQ(FormatStats(s),
            "ops          0\n"
            "invocations  0\n"
            "completions  0\n"
            "open         0\n"
            "nemesis ops  0\n"
            "by type      -\n"
            "by f         -\n"
            "by process   -\n"
            "time         unknown\n");
  EXPECT_EQ(
      StatsToJson(s),
      R"({"ops":0,"by_type":{},"by_f":{},"by_process":{},"invocations":0,"completions":0,)"
      R"("open_ops":[],"nemesis_ops":0,"first_time_ns":-1,"last_time_ns":-1,"time_span_ns":0})");
}

}  // namespace
}  // namespace faultline::history
