#include "common/junit.h"

#include <fmt/format.h>

#include <ctime>

#include "common/file.h"

namespace faultline {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// The length of the well-formed UTF-8 sequence at s[i] that XML 1.0 may hold, or 0.
size_t XmlCharLength(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  if (c < 0x80) return (c >= 0x20 || c == '\t' || c == '\n' || c == '\r') ? 1 : 0;
  auto cont = [&](size_t n) {
    if (i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((b(k) & 0xC0) != 0x80) return false;
    }
    return true;
  };
  if (c >= 0xC2 && c <= 0xDF) return cont(2) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(3)) return 0;
    const unsigned cp = ((c & 0x0Fu) << 12) | ((b(1) & 0x3Fu) << 6) | (b(2) & 0x3Fu);
    // Overlong forms, surrogates and U+FFFE / U+FFFF are not characters XML allows.
    if (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF) || cp >= 0xFFFE) return 0;
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(4)) return 0;
    const unsigned cp =
        ((c & 0x07u) << 18) | ((b(1) & 0x3Fu) << 12) | ((b(2) & 0x3Fu) << 6) | (b(3) & 0x3Fu);
    return cp >= 0x10000 && cp <= 0x10FFFF ? 4 : 0;
  }
  return 0;
}

std::string_view OutcomeCounted(JUnitOutcome o) {
  switch (o) {
    case JUnitOutcome::kFailure:
      return "failure";
    case JUnitOutcome::kError:
      return "error";
    case JUnitOutcome::kSkipped:
      return "skipped";
    case JUnitOutcome::kPassed:
      break;
  }
  return "";
}

struct Counts {
  size_t tests = 0, failures = 0, errors = 0, skipped = 0;
  double time_s = 0;
  void Add(const Counts& o) {
    tests += o.tests;
    failures += o.failures;
    errors += o.errors;
    skipped += o.skipped;
    time_s += o.time_s;
  }
};

Counts CountSuite(const JUnitSuite& s) {
  Counts c;
  double sum = 0;
  for (const JUnitCase& t : s.cases) {
    ++c.tests;
    c.failures += t.outcome == JUnitOutcome::kFailure;
    c.errors += t.outcome == JUnitOutcome::kError;
    c.skipped += t.outcome == JUnitOutcome::kSkipped;
    sum += t.time_s;
  }
  c.time_s = s.time_s > 0 ? s.time_s : sum;
  return c;
}

std::string Seconds(double s) { return fmt::format("{:.3f}", s < 0 ? 0.0 : s); }

}  // namespace

std::string XmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  AppendXmlEscaped(out, text);
  return out;
}

void AppendXmlEscaped(std::string& out, std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const size_t n = XmlCharLength(text, i);
    if (n == 0) {
      out += kReplacement;
      ++i;
      continue;
    }
    if (n == 1) {
      switch (text[i]) {
        case '&':
          out += "&amp;";
          break;
        case '<':
          out += "&lt;";
          break;
        case '>':
          out += "&gt;";
          break;
        case '"':
          out += "&quot;";
          break;
        case '\'':
          out += "&apos;";
          break;
        default:
          out += text[i];
      }
    } else {
      out.append(text.substr(i, n));
    }
    i += n;
  }
}

std::string RenderJUnit(std::span<const JUnitSuite> suites) {
  Counts total;
  std::string body;
  for (const JUnitSuite& s : suites) {
    const Counts c = CountSuite(s);
    total.Add(c);
    body += fmt::format(
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" "
        "time=\"{}\"{}>\n",
        XmlEscape(s.name), c.tests, c.failures, c.errors, c.skipped, Seconds(c.time_s),
        s.timestamp.empty() ? std::string()
                            : fmt::format(" timestamp=\"{}\"", XmlEscape(s.timestamp)));
    if (!s.properties.empty()) {
      body += "    <properties>\n";
      for (const auto& [name, value] : s.properties) {
        body += fmt::format("      <property name=\"{}\" value=\"{}\"/>\n", XmlEscape(name),
                            XmlEscape(value));
      }
      body += "    </properties>\n";
    }
    for (const JUnitCase& t : s.cases) {
      const std::string open =
          fmt::format("    <testcase name=\"{}\" classname=\"{}\" time=\"{}\"", XmlEscape(t.name),
                      XmlEscape(t.classname), Seconds(t.time_s));
      const std::string_view element = OutcomeCounted(t.outcome);
      if (element.empty()) {
        body += open + "/>\n";
        continue;
      }
      std::string attrs = fmt::format(" message=\"{}\"", XmlEscape(t.message));
      if (!t.type.empty() && t.outcome != JUnitOutcome::kSkipped) {
        attrs += fmt::format(" type=\"{}\"", XmlEscape(t.type));
      }
      body += open + ">\n";
      if (t.detail.empty()) {
        body += fmt::format("      <{}{}/>\n", element, attrs);
      } else {
        body += fmt::format("      <{}{}>{}</{}>\n", element, attrs, XmlEscape(t.detail), element);
      }
      body += "    </testcase>\n";
    }
    body += "  </testsuite>\n";
  }
  return fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<testsuites name=\"faultline\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" "
      "time=\"{}\">\n{}</testsuites>\n",
      total.tests, total.failures, total.errors, total.skipped, Seconds(total.time_s), body);
}

Status WriteJUnit(const std::string& path, std::span<const JUnitSuite> suites) {
  Status written = WriteFileAtomic(path, RenderJUnit(suites));
  if (!written) return std::move(written).error().WithContext("junit");
  return OkStatus();
}

JUnitSuite ErrorJUnitSuite(std::string suite_name, std::string classname, std::string case_name,
                           std::string error,
                           std::vector<std::pair<std::string, std::string>> properties) {
  JUnitSuite s{.name = std::move(suite_name),
               .timestamp = JUnitTimestampNow(),
               .time_s = 0,
               .properties = std::move(properties),
               .cases = {}};
  s.cases.push_back(JUnitCase{.name = std::move(case_name),
                              .classname = std::move(classname),
                              .time_s = 0,
                              .outcome = JUnitOutcome::kError,
                              .type = "error",
                              .message = std::move(error),
                              .detail = ""});
  return s;
}

std::string JUnitTimestampNow() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  return stamp;
}

}  // namespace faultline
