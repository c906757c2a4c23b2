// Test helper: opens an HTML page in headless Chromium (Debian's /usr/bin/chromium) and reads back
// what a person would see: the DOM after the load event, a screenshot, and Chromium's log, in which
// console messages and blocked requests appear. Used by the `browser` tests of the counterexample
// page (checker/) and of the run report (report/).
//
// Thread-safety: one Chromium at a time per Browser (each run gets its own profile directory).
#ifndef FAULTLINE_CHECKER_TESTING_CHROMIUM_H_
#define FAULTLINE_CHECKER_TESTING_CHROMIUM_H_

#include <fmt/format.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace faultline::checker::browser {

inline constexpr const char* kChromium = "/usr/bin/chromium";

inline std::string ReadAll(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs Chromium headless on `page` with extra flags, in `dir`; stdout and stderr land in
// dir/<name>.out and dir/<name>.err. Returns the exit status.
inline int RunChromium(const std::filesystem::path& dir, const std::filesystem::path& page,
                       const std::string& flags, const std::string& name) {
  const std::filesystem::path profile = dir / (name + "-profile");
  std::filesystem::create_directories(profile);
  const std::string cmd = fmt::format(
      "timeout 120 {} --headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
      "--disable-background-networking --disable-component-update --disable-sync "
      "--user-data-dir='{}' --enable-logging=stderr --v=0 {} 'file://{}' >'{}' 2>'{}'",
      kChromium, profile.string(), flags, std::filesystem::absolute(page).string(),
      (dir / (name + ".out")).string(), (dir / (name + ".err")).string());
  return std::system(cmd.c_str());
}

// The <body ...> start tag as Chromium serialized it: the page's script writes its state there.
inline std::string BodyTag(const std::string& dom) {
  const size_t at = dom.find("<body");
  if (at == std::string::npos) return "";
  return dom.substr(at, dom.find('>', at) - at + 1);
}

// Console messages Chromium logged at level error or above, and requests a page's
// Content-Security-Policy refused (each names the URL); empty when there were none.
inline std::string ConsoleErrors(const std::string& chromium_log) {
  std::string out;
  std::istringstream in(chromium_log);
  for (std::string line; std::getline(in, line);) {
    const bool console = line.find("CONSOLE") != std::string::npos;
    const bool bad = line.find("Uncaught") != std::string::npos ||
                     line.find("Content Security Policy") != std::string::npos ||
                     line.find("Refused to") != std::string::npos ||
                     line.find("net::ERR_") != std::string::npos;
    if ((console && line.find(":ERROR:") != std::string::npos) || bad) out += line + "\n";
  }
  return out;
}

// Count of non-overlapping occurrences of `needle`.
inline size_t Count(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) ++n;
  return n;
}

inline uint32_t BigEndian32(const std::string& s, size_t at) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(s[at + i]);
  return v;
}

// FAULTLINE_REPORT_SCREENSHOT_DIR=<dir> keeps the screenshots for a person to look at.
inline void KeepScreenshot(const std::filesystem::path& shot) {
  if (const char* dir = std::getenv("FAULTLINE_REPORT_SCREENSHOT_DIR")) {
    std::filesystem::copy_file(shot, std::filesystem::path(dir) / shot.filename(),
                               std::filesystem::copy_options::overwrite_existing);
  }
}

}  // namespace faultline::checker::browser

#endif  // FAULTLINE_CHECKER_TESTING_CHROMIUM_H_
