// Tests of the report renderings (report.h). The results are built by hand, so that these tests do
// not depend on the engine. Built twice: checker_report_test runs the text, JSON and HTML-structure
// tests; checker_report_browser_test (FAULTLINE_REPORT_BROWSER_TEST, CTest label "browser") opens
// the HTML page in headless Chromium and checks what a person would see.
#include "checker/report.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "checker/testing/chromium.h"
#include "history/history.h"

namespace faultline::checker {
namespace {

using history::History;
using history::Op;
using history::OpType;
using history::Process;
using history::Value;
using testing::HasSubstr;
using testing::Not;

Op Invoke(Process p, std::string f, Value v) {
  return Op{.index = -1,
            .time_ns = -1,
            .type = OpType::kInvoke,
            .process = std::move(p),
            .f = std::move(f),
            .key = std::nullopt,
            .value = std::move(v),
            .error = std::nullopt,
            .extras = {}};
}

// A small cas-register history with a stale read (position 12: process 2 reads 1 after the cas
// to 3 completed), a failed cas, an info write, an open read and a partition.
History SmallHistory() {
  Process p0 = Process::Client(0);
  Process p1 = Process::Client(1);
  Process p2 = Process::Client(2);
  Op w1 = Invoke(p0, "write", Value::Int(1));
  Op c13 = Invoke(p1, "cas", Value::Vector({Value::Int(1), Value::Int(3)}));
  Op c02 = Invoke(p2, "cas", Value::Vector({Value::Int(0), Value::Int(2)}));
  Op w4 = Invoke(p0, "write", Value::Int(4));
  Op r2 = Invoke(p2, "read", Value());
  Op r1 = Invoke(p1, "read", Value());
  Op nem = Invoke(Process::Nemesis(), "start-partition", Value::Keyword("majority"));
  nem.type = OpType::kInfo;
  Op nem_done = nem;
  nem_done.value = Value::Keyword("isolated");
  Op r3 = Invoke(Process::Client(3), "read", Value());
  std::vector<Op> ops = {
      w1,                                         // 0
      c13,                                        // 1
      w1.Complete(OpType::kOk, Value::Int(1)),    // 2
      c02,                                        // 3
      c13.Complete(OpType::kOk, c13.value),       // 4
      c02.Complete(OpType::kFail, c02.value),     // 5
      nem,                                        // 6
      w4,                                         // 7
      r1,                                         // 8
      r1.Complete(OpType::kOk, Value::Int(3)),    // 9
      w4.Complete(OpType::kInfo, Value::Int(4)),  // 10
      r2,                                         // 11
      r2.Complete(OpType::kOk, Value::Int(1)),    // 12
      nem_done,                                   // 13
      r3,                                         // 14: never completes
  };
  Result<History> h = History::Build(std::move(ops), {.name = "small.edn", .lines = {}});
  EXPECT_TRUE(h) << h.error().message();
  return h ? *std::move(h) : History();
}

CheckResult InvalidResult() {
  CheckResult r;
  r.validity = Validity::kInvalid;
  r.ops = 6;
  r.partitions = 1;
  r.configurations = 42;
  r.check_ms = 0.25;
  r.peak_memory_bytes = 4096;
  r.counterexample = Counterexample{.key = "",
                                    .failing_op = 11,
                                    .prefixes = {{0, 1, 8}, {0, 1, 7, 8}},
                                    .states = {"3", "4"},
                                    .explanation = "read() -> 1, but the register holds 3 or 4"};
  return r;
}

#ifndef FAULTLINE_REPORT_BROWSER_TEST
TEST(RenderTextTest, ValidIsOneLine) {
  CheckResult r;
  r.ops = 6;
  r.partitions = 1;
  r.configurations = 7;
  std::string text = RenderText(r, SmallHistory());
  EXPECT_EQ(text.rfind("valid: 6 ops, 1 partition, 7 configurations", 0), 0u) << text;
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << text;
}

TEST(RenderTextTest, InvalidExplainsTheFailingOp) {
  std::string text = RenderText(InvalidResult(), SmallHistory());
  EXPECT_EQ(text.rfind("invalid: ", 0), 0u) << text;
  EXPECT_THAT(text, HasSubstr("op 11 cannot be linearized: 2 invoke read nil -> 2 ok read 1"));
  EXPECT_THAT(text, HasSubstr("why: read() -> 1, but the register holds 3 or 4"));
  EXPECT_THAT(text, HasSubstr("longest linearizable prefix (3 ops):"));
  EXPECT_THAT(text, HasSubstr("1. 0 invoke write 1 -> 0 ok write 1"));
  EXPECT_THAT(text, HasSubstr("3. 1 invoke read nil -> 1 ok read 3"));
  EXPECT_THAT(text, HasSubstr("another linearizable prefix (4 ops)"));
  EXPECT_THAT(text, HasSubstr("ops 0, 1, 7, 8"));
  EXPECT_THAT(text, HasSubstr("states just before it: 3 | 4"));
}

TEST(RenderTextTest, UnknownSaysWhy) {
  CheckResult r;
  r.validity = Validity::kUnknown;
  r.unknown_reason = "time limit of 0.001 s reached after 1200 configurations";
  r.unknown_keys = {"1", "7"};
  std::string text = RenderText(r, SmallHistory());
  EXPECT_EQ(text.rfind("unknown: ", 0), 0u) << text;
  EXPECT_THAT(text, HasSubstr("why unknown: time limit of 0.001 s reached"));
  EXPECT_THAT(text, HasSubstr("undecided keys: 1, 7"));
  EXPECT_THAT(text, Not(HasSubstr("cannot be linearized")));
}

TEST(RenderJsonTest, InvalidHasEveryField) {
  std::string text = RenderJson(InvalidResult(), SmallHistory());
  EXPECT_EQ(text.find('\n'), std::string::npos) << "one line by default";
  nlohmann::json j = nlohmann::json::parse(text);
  EXPECT_EQ(j["verdict"], "invalid");
  EXPECT_EQ(j["ops"], 6);
  EXPECT_EQ(j["partitions"], 1);
  EXPECT_EQ(j["configurations"], 42);
  EXPECT_DOUBLE_EQ(j["check_ms"].get<double>(), 0.25);
  EXPECT_EQ(j["peak_memory_bytes"], 4096);
  EXPECT_EQ(j["unknown_reason"], "");
  EXPECT_TRUE(j["unknown_keys"].is_array());
  const nlohmann::json& c = j["counterexample"];
  EXPECT_EQ(c["key"], "");
  EXPECT_EQ(c["failing_op"]["index"], 11);
  EXPECT_EQ(c["failing_op"]["position"], 11);
  EXPECT_EQ(c["failing_op"]["op"], "2 invoke read nil");
  EXPECT_EQ(c["failing_op"]["completion"], "2 ok read 1");
  EXPECT_EQ(c["prefixes"], nlohmann::json::parse("[[0, 1, 8], [0, 1, 7, 8]]"));
  EXPECT_EQ(c["states"], nlohmann::json::parse(R"(["3", "4"])"));
  EXPECT_EQ(c["explanation"], "read() -> 1, but the register holds 3 or 4");
}

TEST(RenderJsonTest, PrefixesUseOpIndicesNotPositions) {
  std::vector<Op> ops;
  for (int i = 0; i < 4; ++i) {
    Op w = Invoke(Process::Client(0), "write", Value::Int(i));
    w.index = 100 + 2 * i;
    Op done = w.Complete(OpType::kOk, w.value);
    done.index = 101 + 2 * i;
    ops.push_back(w);
    ops.push_back(done);
  }
  Result<History> h = History::Build(std::move(ops));
  ASSERT_TRUE(h) << h.error().message();
  CheckResult r;
  r.validity = Validity::kInvalid;
  r.counterexample = Counterexample{
      .key = "5", .failing_op = 6, .prefixes = {{0, 2, 4}}, .states = {"2"}, .explanation = "x"};
  nlohmann::json j = nlohmann::json::parse(RenderJson(r, *h, 2));
  EXPECT_EQ(j["counterexample"]["failing_op"]["index"], 106);
  EXPECT_EQ(j["counterexample"]["failing_op"]["position"], 6);
  EXPECT_EQ(j["counterexample"]["key"], "5");
  EXPECT_EQ(j["counterexample"]["prefixes"], nlohmann::json::parse("[[100, 102, 104]]"));
}

TEST(RenderJsonTest, UnknownHasNoCounterexample) {
  CheckResult r;
  r.validity = Validity::kUnknown;
  r.unknown_reason = "memory limit of 1 MB reached";
  r.unknown_keys = {"3"};
  nlohmann::json j = nlohmann::json::parse(RenderJson(r, SmallHistory()));
  EXPECT_EQ(j["verdict"], "unknown");
  EXPECT_EQ(j["unknown_reason"], "memory limit of 1 MB reached");
  EXPECT_EQ(j["unknown_keys"], nlohmann::json::parse(R"(["3"])"));
  EXPECT_TRUE(j["counterexample"].is_null());
}

#endif  // !FAULTLINE_REPORT_BROWSER_TEST

// Counts elements whose class list starts with the token "op" (every bar, nothing else).
size_t CountBars(const std::string& html) {
  std::regex bar(R"re(class="op( [^"]*)?")re");
  return static_cast<size_t>(
      std::distance(std::sregex_iterator(html.begin(), html.end(), bar), std::sregex_iterator()));
}

// The data-op-index of the element whose class contains "failing", or "" when none.
std::string FailingIndex(const std::string& html) {
  std::smatch m;
  std::regex failing(R"re(class="op [^"]*\bfailing\b[^"]*" data-op-index="(-?\d+)")re");
  return std::regex_search(html, m, failing) ? m[1].str() : "";
}

size_t OpsDrawn(const std::string& html) {
  std::smatch m;
  std::regex drawn(R"re(data-ops-drawn="(\d+)")re");
  return std::regex_search(html, m, drawn) ? std::stoul(m[1].str()) : 0;
}

#ifndef FAULTLINE_REPORT_BROWSER_TEST
TEST(RenderHtmlTest, DrawsOneBarPerOpAndHighlightsTheFailingOne) {
  History h = SmallHistory();
  std::string html = RenderHtml(InvalidResult(), h);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  // 7 client invocations and one nemesis op.
  EXPECT_EQ(OpsDrawn(html), 8u);
  EXPECT_EQ(CountBars(html), 8u);
  EXPECT_EQ(FailingIndex(html), "11");
  EXPECT_THAT(html, HasSubstr("read() -&gt; 1, but the register holds 3 or 4"));
  EXPECT_THAT(html, HasSubstr("class=\"lin\""));
  EXPECT_THAT(html, HasSubstr(">nemesis</text>"));
  EXPECT_THAT(html, Not(HasSubstr("window-note")));
  // Self-contained: nothing is fetched.
  EXPECT_THAT(html, Not(HasSubstr("src=")));
  EXPECT_THAT(html, Not(HasSubstr("href=")));
  EXPECT_THAT(html, Not(HasSubstr("@import")));
}

TEST(RenderHtmlTest, DimsOpsOfOtherKeys) {
  std::vector<Op> ops;
  for (int key = 0; key < 3; ++key) {
    Op w = Invoke(Process::Client(key), "write", Value::Vector({Value::Int(key), Value::Int(1)}));
    ops.push_back(w);
    ops.push_back(w.Complete(OpType::kOk, w.value));
  }
  Result<History> h = History::Build(std::move(ops));
  ASSERT_TRUE(h) << h.error().message();
  CheckResult r;
  r.validity = Validity::kInvalid;
  r.counterexample = Counterexample{
      .key = "1", .failing_op = 2, .prefixes = {{}}, .states = {"nil"}, .explanation = "x"};
  std::string html = RenderHtml(r, *h);
  EXPECT_EQ(CountBars(html), 3u);
  EXPECT_EQ(FailingIndex(html), "2");
  std::regex dim(R"re(class="op [^"]*other-key[^"]*" data-op-index="(\d+)")re");
  std::vector<std::string> dimmed;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), dim); it != std::sregex_iterator();
       ++it) {
    dimmed.push_back((*it)[1].str());
  }
  EXPECT_THAT(dimmed, testing::ElementsAre("0", "4"));
}

TEST(RenderHtmlTest, EscapesText) {
  std::vector<Op> ops = {Invoke(Process::Client(0), "write", Value::String("<b>&\"x\"</b>"))};
  ops.push_back(ops[0].Complete(OpType::kOk, ops[0].value));
  Result<History> h = History::Build(std::move(ops));
  ASSERT_TRUE(h) << h.error().message();
  CheckResult r;
  r.validity = Validity::kUnknown;
  r.unknown_reason = "<script>alert(1)</script>";
  std::string html = RenderHtml(r, *h, {.title = "a < b", .max_ops = 100});
  EXPECT_THAT(html, Not(HasSubstr("<b>")));
  EXPECT_THAT(html, Not(HasSubstr("<script>alert")));
  EXPECT_THAT(html, HasSubstr("&lt;script&gt;alert(1)&lt;/script&gt;"));
  EXPECT_THAT(html, HasSubstr("a &lt; b"));
}

#endif  // !FAULTLINE_REPORT_BROWSER_TEST

// A 10,000-op history (10 processes, a few info ops) whose failing op sits in the middle.
History LargeHistory(size_t* failing) {
  std::vector<Op> ops;
  std::vector<std::optional<Op>> open(10);
  std::vector<int64_t> process(10);
  for (size_t i = 0; i < 10; ++i) process[i] = static_cast<int64_t>(i);
  size_t invoked = 0;
  for (size_t step = 0; invoked < 10000 || step % 10 != 0; ++step) {
    size_t s = (step * 7) % 10;
    if (open[s]) {
      OpType t = (step % 97 == 0) ? OpType::kInfo : OpType::kOk;
      ops.push_back(open[s]->Complete(t, open[s]->value));
      if (t == OpType::kInfo) process[s] += 10;
      open[s].reset();
    } else if (invoked < 10000) {
      Op inv =
          Invoke(Process::Client(process[s]), "write", Value::Int(static_cast<int64_t>(step % 5)));
      if (invoked == 5000) *failing = ops.size();
      ops.push_back(inv);
      open[s] = inv;
      ++invoked;
    }
  }
  Result<History> h = History::Build(std::move(ops));
  EXPECT_TRUE(h) << h.error().message();
  return h ? *std::move(h) : History();
}

#ifndef FAULTLINE_REPORT_BROWSER_TEST
TEST(RenderHtmlTest, LargeHistoriesAreWindowedAroundTheFailingOp) {
  size_t failing = 0;
  History h = LargeHistory(&failing);
  ASSERT_EQ(h.invocation_count(), 10000u);
  CheckResult r = InvalidResult();
  r.counterexample->failing_op = failing;
  r.counterexample->prefixes = {{failing - 20, failing - 10, failing - 2}};
  std::string html = RenderHtml(r, h, {.title = "large", .max_ops = 1000});
  size_t drawn = OpsDrawn(html);
  EXPECT_GE(drawn, 1000u);
  EXPECT_LT(drawn, 1200u) << "a window, not the whole history";
  EXPECT_EQ(CountBars(html), drawn);
  EXPECT_EQ(FailingIndex(html), std::to_string(h[failing].index));
  EXPECT_THAT(html, HasSubstr("id=\"window-note\""));
  EXPECT_THAT(html, HasSubstr("of 10000 ops"));
  EXPECT_LT(html.size(), 2u << 20) << "stays small enough to open quickly";
}

#endif  // !FAULTLINE_REPORT_BROWSER_TEST

#ifdef FAULTLINE_REPORT_BROWSER_TEST

using browser::BigEndian32;
using browser::BodyTag;
using browser::kChromium;
using browser::KeepScreenshot;
using browser::ReadAll;

class ReportBrowserTest : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(kChromium))
        << kChromium << " is missing (apt-get install chromium)";
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "faultline-report-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (!dir_.empty() && !HasFailure()) std::filesystem::remove_all(dir_);
  }

  int RunChromium(const std::filesystem::path& page, const std::string& flags,
                  const std::string& name) {
    return browser::RunChromium(dir_, page, flags, name);
  }

  std::filesystem::path dir_;
};

TEST_F(ReportBrowserTest, PageShowsEveryOpTheFailingOpAndNoErrors) {
  History h = SmallHistory();
  std::filesystem::path page = dir_ / "report.html";
  std::ofstream(page) << RenderHtml(InvalidResult(), h, {.title = "small.edn", .max_ops = 1500});

  ASSERT_EQ(RunChromium(page, "--dump-dom", "dom"), 0) << ReadAll(dir_ / "dom.err");
  std::string dom = ReadAll(dir_ / "dom.out");
  std::string err = ReadAll(dir_ / "dom.err");
  std::string body = BodyTag(dom);
  ASSERT_THAT(body, HasSubstr("data-ready=\"true\"")) << "the page's script did not run: " << body;
  EXPECT_THAT(body, Not(HasSubstr("data-js-error"))) << body;
  EXPECT_THAT(err, Not(HasSubstr("Uncaught"))) << err;
  EXPECT_EQ(OpsDrawn(dom), 8u);
  EXPECT_EQ(CountBars(dom), 8u) << "one bar per op in view";
  EXPECT_EQ(FailingIndex(dom), "11") << "the failing op is highlighted by its index";
  EXPECT_THAT(dom, HasSubstr("op 11: 2 invoke read nil -&gt; 2 ok read 1"))
      << "the details line shows the failing op";

  std::filesystem::path shot = dir_ / "report.png";
  ASSERT_EQ(RunChromium(page,
                        fmt::format("--screenshot='{}' --window-size=1400,800 "
                                    "--hide-scrollbars",
                                    shot.string()),
                        "shot"),
            0)
      << ReadAll(dir_ / "shot.err");
  std::string png = ReadAll(shot);
  ASSERT_GE(png.size(), 24u) << shot;
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_EQ(BigEndian32(png, 16), 1400u);
  EXPECT_EQ(BigEndian32(png, 20), 800u);
  EXPECT_GT(png.size(), 20000u) << "a blank page compresses to far less";
  KeepScreenshot(shot);
}

TEST_F(ReportBrowserTest, LargePageShowsTheWindowWithoutErrors) {
  size_t failing = 0;
  History h = LargeHistory(&failing);
  CheckResult r = InvalidResult();
  r.counterexample->failing_op = failing;
  r.counterexample->prefixes = {{failing - 20, failing - 10, failing - 2}};
  std::filesystem::path page = dir_ / "large.html";
  std::ofstream(page) << RenderHtml(r, h, {.title = "large", .max_ops = 1500});

  ASSERT_EQ(RunChromium(page, "--dump-dom", "dom"), 0) << ReadAll(dir_ / "dom.err");
  std::string dom = ReadAll(dir_ / "dom.out");
  std::string body = BodyTag(dom);
  ASSERT_THAT(body, HasSubstr("data-ready=\"true\"")) << body;
  EXPECT_THAT(body, Not(HasSubstr("data-js-error"))) << body;
  EXPECT_THAT(ReadAll(dir_ / "dom.err"), Not(HasSubstr("Uncaught")));
  size_t drawn = OpsDrawn(dom);
  EXPECT_GE(drawn, 1500u);
  EXPECT_EQ(CountBars(dom), drawn);
  EXPECT_EQ(FailingIndex(dom), std::to_string(h[failing].index));

  std::filesystem::path shot = dir_ / "large.png";
  ASSERT_EQ(RunChromium(page,
                        fmt::format("--screenshot='{}' --window-size=1400,800 "
                                    "--hide-scrollbars",
                                    shot.string()),
                        "shot"),
            0)
      << ReadAll(dir_ / "shot.err");
  EXPECT_GT(ReadAll(shot).size(), 20000u);
  KeepScreenshot(shot);
}

#endif  // FAULTLINE_REPORT_BROWSER_TEST

}  // namespace
}  // namespace faultline::checker
