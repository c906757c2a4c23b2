// Test and benchmark helper: a campaign-shaped run directory with a synthetic history, for the
// report's tests and its benchmark (report/run_report.h reads it as it reads a real run).
//
// Thread-safety: writes files; one caller per directory.
#ifndef FAULTLINE_REPORT_TESTING_SYNTHETIC_RUN_H_
#define FAULTLINE_REPORT_TESTING_SYNTHETIC_RUN_H_

#include <fmt/format.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

namespace faultline::report::testing {

struct SyntheticRun {
  int ops = 1000;  // client ops (each an invocation and a completion)
  int processes = 5;
  int keys = 4;
  int64_t spacing_ns = 2000000;                   // between invocations
  std::vector<std::pair<double, double>> faults;  // (start_s, end_s), written to nemesis.json
};

// Writes dir/history.jsonl and dir/nemesis.json. Op i (invocation index 2i) is by process
// i % processes on key "k<i % keys>", f write / read / cas in turn; one in 50 fails, one in 200
// ends info, and one in 997 takes 300 ms longer.
inline void WriteSyntheticRun(const std::filesystem::path& dir, const SyntheticRun& run) {
  std::filesystem::create_directories(dir);
  std::ofstream h(dir / "history.jsonl");
  int64_t index = 0;
  for (int i = 0; i < run.ops; ++i) {
    const int64_t t0 = static_cast<int64_t>(i) * run.spacing_ns;
    const int64_t t1 = t0 + 1000000 + (i % 7) * 300000 + (i % 997 == 996 ? 300000000 : 0);
    const char* f = i % 3 == 0 ? "write" : i % 3 == 1 ? "read" : "cas";
    const char* type = i % 200 == 199 ? "info" : i % 50 == 49 ? "fail" : "ok";
    const int p = i % run.processes;
    h << fmt::format(
        "{{\"index\":{},\"time\":{},\"type\":\"invoke\",\"process\":{},\"f\":\"{}\","
        "\"key\":\"k{}\",\"value\":{}}}\n",
        index++, t0, p, f, i % run.keys, i % 3 == 1 ? "null" : "1");
    h << fmt::format(
        "{{\"index\":{},\"time\":{},\"type\":\"{}\",\"process\":{},\"f\":\"{}\",\"key\":\"k{}\","
        "\"value\":1}}\n",
        index++, t1, type, p, f, i % run.keys);
  }
  std::string faults;
  for (const auto& [start, end] : run.faults) {
    faults += fmt::format(
        "{}{{\"f\":\"partition\",\"plan\":\"partition halves\",\"ok\":true,\"start_s\":{},"
        "\"heal_s\":{},\"end_s\":{}}}",
        faults.empty() ? "" : ",", start, end, end);
  }
  std::ofstream(dir / "nemesis.json") << "{\"faults\":[" << faults << "]}\n";
}

}  // namespace faultline::report::testing

#endif  // FAULTLINE_REPORT_TESTING_SYNTHETIC_RUN_H_
