#include "checker/log_patterns.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace faultline::checker {
namespace {

namespace fs = std::filesystem;

// Lines as etcd 3.4.23 (zap logger, stderr in the same file) and the Go runtime print them. The
// permission-denied line is what etcd logged for a put by a user without a write grant.
constexpr std::string_view kInfo =
    R"({"level":"info","ts":"2026-12-06T23:49:09.051Z","caller":"embed/etcd.go:127","msg":"configuring client listeners"})";
constexpr std::string_view kDenied =
    R"({"level":"warn","ts":"2026-12-06T23:49:58.518Z","caller":"etcdserver/util.go:121","msg":"failed to apply request","took":"13.983µs","request":"header:<ID:8327897115839539727 username:\"bob\" auth_revision:7 > put:<key:\"/x\" value_size:1 >","response":"","error":"auth: permission denied"})";
constexpr std::string_view kZapPanic =
    R"({"level":"panic","ts":"2026-12-06T21:18:01.000Z","caller":"backend/backend.go:145","msg":"failed to open database","path":"/d/member/snap/db","error":"invalid database"})";
constexpr std::string_view kGoPanic = "panic: failed to open database";
constexpr std::string_view kGoroutine = "goroutine 1 [running]:";
constexpr std::string_view kZapFatal =
    R"({"level":"fatal","ts":"2026-12-06T21:18:01.000Z","caller":"etcdmain/etcd.go:271","msg":"discovery failed","error":"listen tcp 198.18.0.1:2380: bind: address already in use"})";
constexpr std::string_view kRuntimeFatal = "fatal error: concurrent map writes";
constexpr std::string_view kCapnslogCritical =
    "2026-12-06 21:18:01.123456 C | etcdmain: listen tcp 127.0.0.1:2380: bind: address in use";
constexpr std::string_view kRace = "WARNING: DATA RACE";

const LogPatternCount& Find(const LogPatternReport& r, std::string_view name) {
  for (const LogPatternCount& c : r.patterns) {
    if (c.pattern.name == name) return c;
  }
  ADD_FAILURE() << "no pattern " << name;
  static const LogPatternCount kNone;
  return kNone;
}

LogPatternReport Scan(const std::vector<std::pair<std::string, std::string_view>>& lines,
                      std::vector<LogPattern> patterns = BuiltinLogPatterns()) {
  LogPatternScanner s(std::move(patterns));
  for (const char* n : {"n1", "n2", "n3"}) s.AddNode(n);
  for (const auto& [node, line] : lines) s.Feed(node, line);
  return s.Report();
}

TEST(LogPatterns, BuiltinsMatchWhatEtcdAndGoPrint) {
  const LogPatternReport r = Scan({{"n1", kInfo},
                                   {"n2", kZapPanic},
                                   {"n2", kGoPanic},
                                   {"n2", ""},
                                   {"n2", kGoroutine},
                                   {"n3", kZapFatal},
                                   {"n3", kRuntimeFatal},
                                   {"n3", kCapnslogCritical},
                                   {"n1", kRace},
                                   {"n1", kDenied}});
  // zap's panic line is followed by Go's "panic: ": one panic, counted once.
  EXPECT_EQ(Find(r, "panic").count, 1);
  EXPECT_EQ(Find(r, "panic").by_node.at("n2"), 1);
  EXPECT_EQ(Find(r, "panic").by_node.at("n1"), 0);  // every node is listed
  EXPECT_EQ(Find(r, "fatal").count, 3);
  EXPECT_EQ(Find(r, "fatal").by_node.at("n3"), 3);
  EXPECT_EQ(Find(r, "data-race").count, 1);
  EXPECT_EQ(Find(r, "permission-denied").count, 1);
  EXPECT_EQ(r.lines, 10);
  // Built-ins that mean a crash allow none; permission-denied is counted, unlimited.
  EXPECT_TRUE(Find(r, "panic").exceeded());
  EXPECT_TRUE(Find(r, "fatal").exceeded());
  EXPECT_TRUE(Find(r, "data-race").exceeded());
  EXPECT_FALSE(Find(r, "permission-denied").exceeded());
}

TEST(LogPatterns, QuietLogIsValid) {
  const LogPatternReport r = Scan({{"n1", kInfo}, {"n2", kInfo}, {"n3", kGoroutine}});
  for (const LogPatternCount& c : r.patterns) EXPECT_EQ(c.count, 0) << c.pattern.name;
  const Verdict v = LogPatternVerdict(r);
  EXPECT_EQ(v.validity, Validity::kValid);
  EXPECT_EQ(v.name, "log-patterns");
  EXPECT_EQ(ExceededLine(r), "");
}

TEST(LogPatterns, ExceededMaximumIsInvalidAndNamed) {
  const LogPatternReport r = Scan({{"n2", kGoPanic}, {"n2", kGoPanic}, {"n1", kDenied}});
  const Verdict v = LogPatternVerdict(r);
  EXPECT_EQ(v.validity, Validity::kInvalid);
  EXPECT_NE(v.summary.find("panic 2 > max 0 (n2 2)"), std::string::npos) << v.summary;
  EXPECT_EQ(v.anomalies.at("panic"), 2);
  EXPECT_EQ(v.anomalies.count("permission-denied"), 0u);
  EXPECT_EQ(ExceededLine(r), "log pattern panic: 2 > max 0");
}

TEST(LogPatterns, ExamplesAreTheFirstFiveCut) {
  std::vector<std::pair<std::string, std::string_view>> lines;
  const std::string long_line = "permission denied " + std::string(2000, 'x');
  for (int i = 0; i < 8; ++i) lines.emplace_back(i % 2 ? "n1" : "n3", long_line);
  const LogPatternReport r = Scan(lines);
  const LogPatternCount& c = Find(r, "permission-denied");
  EXPECT_EQ(c.count, 8);
  ASSERT_EQ(c.examples.size(), 5u);
  EXPECT_EQ(c.examples[0].node, "n3");
  EXPECT_EQ(c.examples[1].node, "n1");
  EXPECT_LE(c.examples[0].line.size(), 503u);
  EXPECT_EQ(c.by_node.at("n1"), 4);
  EXPECT_EQ(c.by_node.at("n3"), 4);
}

TEST(LogPatterns, JsonHasCountMaxByNodeAndExamples) {
  const LogPatternReport r = Scan({{"n2", kGoPanic}, {"n1", kDenied}});
  const nlohmann::json j = nlohmann::json::parse(LogPatternsJson(r));
  ASSERT_TRUE(j.contains("panic"));
  EXPECT_EQ(j["panic"]["count"], 1);
  EXPECT_EQ(j["panic"]["max"], 0);
  EXPECT_EQ(j["panic"]["exceeded"], true);
  EXPECT_EQ(j["panic"]["by_node"]["n2"], 1);
  EXPECT_EQ(j["panic"]["by_node"]["n3"], 0);
  EXPECT_EQ(j["panic"]["examples"][0]["node"], "n2");
  EXPECT_EQ(j["panic"]["examples"][0]["line"], std::string(kGoPanic));
  EXPECT_TRUE(j["permission-denied"]["max"].is_null());  // unlimited
  EXPECT_EQ(j["permission-denied"]["count"], 1);
  // In pattern order: built-ins first, in their order.
  const auto ordered = nlohmann::ordered_json::parse(LogPatternsJson(r));
  EXPECT_EQ(ordered.begin().key(), "panic");
}

TEST(LogPatternsOptions, AddedPatternIsUnlimitedUnlessGivenAMaximum) {
  const std::vector<std::string> added = {"slow=apply request took too long",
                                          "leader=(?i)lost leader"};
  const std::vector<std::string> maxima = {"leader=2", "permission-denied=0", "panic=unlimited"};
  Result<std::vector<LogPattern>> p = MakeLogPatterns(added, maxima);
  ASSERT_TRUE(p) << p.error().message();
  ASSERT_EQ(p->size(), 6u);
  EXPECT_EQ((*p)[4].name, "slow");
  EXPECT_FALSE((*p)[4].max.has_value());
  EXPECT_FALSE((*p)[4].builtin);
  EXPECT_EQ((*p)[5].max, 2);
  EXPECT_EQ((*p)[3].name, "permission-denied");
  EXPECT_EQ((*p)[3].max, 0);  // the access-control monitor: no denial allowed
  EXPECT_FALSE((*p)[0].max.has_value());
  const LogPatternReport r =
      Scan({{"n1", "LOST LEADER"}, {"n1", "lost leader"}, {"n2", "lost leader"}}, *p);
  EXPECT_TRUE(Find(r, "leader").exceeded());
  EXPECT_EQ(ExceededLine(r), "log pattern leader: 3 > max 2");
}

TEST(LogPatternsOptions, BuiltinNameReplacesRegexKeepsMaximum) {
  const std::vector<std::string> added = {"panic=^PANIC "};
  Result<std::vector<LogPattern>> p = MakeLogPatterns(added, {});
  ASSERT_TRUE(p) << p.error().message();
  ASSERT_EQ(p->size(), 4u);
  EXPECT_EQ((*p)[0].regex, "^PANIC ");
  EXPECT_EQ((*p)[0].max, 0);
}

TEST(LogPatternsOptions, BadInputIsNamed) {
  auto error = [](std::vector<std::string> added, std::vector<std::string> maxima) {
    Result<std::vector<LogPattern>> p = MakeLogPatterns(added, maxima);
    return p ? std::string("(accepted)") : p.error().message();
  };
  EXPECT_NE(error({"noequals"}, {}).find("no '=' (expected NAME=REGEX)"), std::string::npos);
  EXPECT_NE(error({"=x"}, {}).find("name ''"), std::string::npos);
  EXPECT_NE(error({"a b=x"}, {}).find("name 'a b'"), std::string::npos);
  EXPECT_NE(error({"x="}, {}).find("empty regex"), std::string::npos);
  EXPECT_NE(error({"x=(unclosed"}, {}).find("log pattern x: regex '(unclosed' does not compile"),
            std::string::npos);
  EXPECT_NE(error({"x=a", "x=b"}, {}).find("given twice"), std::string::npos);
  EXPECT_NE(error({}, {"nosuch=1"}).find("no pattern named nosuch"), std::string::npos);
  EXPECT_NE(error({}, {"panic=-1"}).find("'-1' is not a count"), std::string::npos);
  EXPECT_NE(error({}, {"panic=two"}).find("'two' is not a count"), std::string::npos);
  EXPECT_NE(error({}, {"panic="}).find("'' is not a count"), std::string::npos);
}

class LogPatternsFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("logpat-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& text) {
    const fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
  }
  fs::path dir_;
};

TEST_F(LogPatternsFiles, ScansFromTheRunsOffset) {
  // A cluster that served an earlier run: its panic is before the offset and not this run's.
  const std::string before = std::string(kGoPanic) + "\n" + std::string(kInfo) + "\n";
  const std::string n1 = Write("n1.log", before + std::string(kDenied) + "\r\n" +
                                             std::string(kRuntimeFatal));  // no final newline
  const std::string n2 = Write("n2.log", std::string(kInfo) + "\n");
  const uint64_t offset = before.size();
  const std::vector<NodeLog> logs = {{.node = "n1", .path = n1, .offset = offset},
                                     {.node = "n2", .path = n2, .offset = 0}};
  Result<LogPatternReport> r = ScanNodeLogs(logs, BuiltinLogPatterns());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(Find(*r, "panic").count, 0);
  EXPECT_EQ(Find(*r, "fatal").count, 1);
  EXPECT_EQ(Find(*r, "permission-denied").count, 1);
  EXPECT_EQ(Find(*r, "permission-denied").examples[0].line, std::string(kDenied));  // no \r
  EXPECT_EQ(r->lines, 3);
  EXPECT_TRUE(r->unread.empty());
  EXPECT_EQ(LogOffsetNow(n2), std::string(kInfo).size() + 1);
  EXPECT_EQ(LogOffsetNow((dir_ / "missing").string()), 0u);
}

TEST_F(LogPatternsFiles, ShorterThanOffsetIsReadFromTheStart) {
  const std::string n1 = Write("n1.log", std::string(kGoPanic) + "\n");
  const std::vector<NodeLog> logs = {{.node = "n1", .path = n1, .offset = 1u << 20}};
  Result<LogPatternReport> r = ScanNodeLogs(logs, BuiltinLogPatterns());
  ASSERT_TRUE(r);
  EXPECT_EQ(Find(*r, "panic").count, 1);
}

TEST_F(LogPatternsFiles, MissingLogIsUnknownUnlessAMaximumIsExceeded) {
  const std::string n1 = Write("n1.log", std::string(kInfo) + "\n");
  std::vector<NodeLog> logs = {{.node = "n1", .path = n1, .offset = 0},
                               {.node = "n2", .path = (dir_ / "gone.log").string(), .offset = 0},
                               {.node = "n3", .path = "", .offset = 0}};
  Result<LogPatternReport> r = ScanNodeLogs(logs, BuiltinLogPatterns());
  ASSERT_TRUE(r);
  ASSERT_EQ(r->unread.size(), 2u);
  EXPECT_NE(r->unread[0].find("n2: cannot open"), std::string::npos);
  EXPECT_EQ(r->unread[1], "n3: no log file known");
  EXPECT_EQ(LogPatternVerdict(*r).validity, Validity::kUnknown);

  Write("n1.log", std::string(kGoPanic) + "\n");
  r = ScanNodeLogs(logs, BuiltinLogPatterns());
  ASSERT_TRUE(r);
  EXPECT_EQ(LogPatternVerdict(*r).validity, Validity::kInvalid);
}

TEST_F(LogPatternsFiles, PatternThatDoesNotCompileIsAnError) {
  const std::vector<LogPattern> bad = {{.name = "x", .regex = "[", .max = 0, .builtin = false}};
  Result<LogPatternReport> r = ScanNodeLogs({}, bad);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("log pattern x"), std::string::npos);
}

}  // namespace
}  // namespace faultline::checker
