#include "common/junit.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace faultline {
namespace {

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(JUnit, EscapesWhatXmlCannotHoldAsIs) {
  EXPECT_EQ(XmlEscape(R"(a<b && c>"d" 'e')"), "a&lt;b &amp;&amp; c&gt;&quot;d&quot; &apos;e&apos;");
  EXPECT_EQ(XmlEscape("tab\tnl\ncr\r"), "tab\tnl\ncr\r");
  // Control characters and bytes that are not UTF-8 become U+FFFD; UTF-8 stays.
  EXPECT_EQ(XmlEscape(std::string("x\x01y\x1bz", 5)), "x\xEF\xBF\xBDy\xEF\xBF\xBDz");
  EXPECT_EQ(XmlEscape("\xff\xfe"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(XmlEscape("13.983µs → ✓ 𝄞"), "13.983µs → ✓ 𝄞");
  EXPECT_EQ(XmlEscape("\xC3"), "\xEF\xBF\xBD");  // truncated sequence
  EXPECT_EQ(XmlEscape("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // a surrogate
  EXPECT_EQ(XmlEscape(std::string("\0", 1)), "\xEF\xBF\xBD");
}

TEST(JUnit, CountsAndShapesEveryOutcome) {
  JUnitSuite s{.name = "faultline campaign register seed 1",
               .timestamp = "2026-12-07T00:15:02",
               .time_s = 31.5,
               .properties = {{"seed", "1"}, {"command", "faultline campaign --seed 1"}},
               .cases = {}};
  s.cases.push_back({.name = "linearizable",
                     .classname = "faultline.campaign.register",
                     .time_s = 0.25,
                     .outcome = JUnitOutcome::kFailure,
                     .type = "invalid",
                     .message = "invalid: read() -> 4 < 3",
                     .detail = "key 7: read() -> 4, but the register holds 3\n"});
  s.cases.push_back({.name = "sanity",
                     .classname = "faultline.campaign.register",
                     .time_s = 0,
                     .outcome = JUnitOutcome::kSkipped,
                     .type = "",
                     .message = "unknown (no ok read)",
                     .detail = ""});
  s.cases.push_back({.name = "set",
                     .classname = "c",
                     .time_s = 0,
                     .outcome = JUnitOutcome::kPassed,
                     .type = "",
                     .message = "",
                     .detail = ""});
  s.cases.push_back({.name = "run",
                     .classname = "c",
                     .time_s = 0,
                     .outcome = JUnitOutcome::kError,
                     .type = "error",
                     .message = "cluster up: no root",
                     .detail = ""});
  JUnitSuite empty{.name = "none", .timestamp = "", .time_s = 0, .properties = {}, .cases = {}};
  const std::vector<JUnitSuite> suites = {s, empty};
  const std::string xml = RenderJUnit(suites);
  EXPECT_EQ(xml.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", 0), 0u) << xml;
  EXPECT_NE(xml.find("<testsuites name=\"faultline\" tests=\"4\" failures=\"1\" errors=\"1\" "
                     "skipped=\"1\" time=\"31.500\">"),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("<testsuite name=\"faultline campaign register seed 1\" tests=\"4\" "
                     "failures=\"1\" errors=\"1\" skipped=\"1\" time=\"31.500\" "
                     "timestamp=\"2026-12-07T00:15:02\">"),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("<testsuite name=\"none\" tests=\"0\" failures=\"0\" errors=\"0\" "
                     "skipped=\"0\" time=\"0.000\">"),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("<failure message=\"invalid: read() -&gt; 4 &lt; 3\" type=\"invalid\">key 7: "
                     "read() -&gt; 4, but the register holds 3\n</failure>"),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("<skipped message=\"unknown (no ok read)\"/>"), std::string::npos) << xml;
  EXPECT_NE(xml.find("<testcase name=\"set\" classname=\"c\" time=\"0.000\"/>"), std::string::npos)
      << xml;
  EXPECT_NE(xml.find("<error message=\"cluster up: no root\" type=\"error\"/>"), std::string::npos)
      << xml;
  EXPECT_NE(xml.find("<property name=\"command\" value=\"faultline campaign --seed 1\"/>"),
            std::string::npos);
  EXPECT_EQ(Count(xml, "<testcase "), 4u);
  EXPECT_EQ(Count(xml, "</testsuite>"), 2u);
  EXPECT_EQ(xml.substr(xml.size() - 14), "</testsuites>\n");
}

TEST(JUnit, SuiteTimeDefaultsToTheCasesSum) {
  JUnitSuite s{.name = "s", .timestamp = "", .time_s = 0, .properties = {}, .cases = {}};
  s.cases.push_back({.name = "a",
                     .classname = "c",
                     .time_s = 1.25,
                     .outcome = JUnitOutcome::kPassed,
                     .type = "",
                     .message = "",
                     .detail = ""});
  s.cases.push_back(s.cases[0]);
  const std::vector<JUnitSuite> suites = {s};
  EXPECT_NE(RenderJUnit(suites).find("tests=\"2\" failures=\"0\" errors=\"0\" skipped=\"0\" "
                                     "time=\"2.500\""),
            std::string::npos);
  EXPECT_EQ(JUnitTimestampNow().size(), 19u);
}

}  // namespace
}  // namespace faultline
