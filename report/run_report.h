// faultline::report: one self-contained HTML page per run (issue 15 §1), made from the files a
// run leaves behind, so it works on run directories written by any earlier version too:
//
// - campaign directories: results.json, nemesis.json, config.json, history.jsonl (or history.log);
// - drill directories (`dirt run --out`): test_summary.json, incident-<id>.json,
//   resource_metrics_timeline.json, history-<id>.log;
// - FIT runs and waves: results.json with `hypothesis`, `kpis.control` / `kpis.experiment`,
// `abort`,
//   and the per-second KPI timeline (JSON Lines) it names; a wave's `parts.campaign`,
//   `parts.drill`, `parts.fit`, drawn on one time axis;
// - a bare history file (EDN, JSON Lines, Porcupine, log): checked with CheckOptions::model first.
//
// What the page holds: a header (each checker's verdict and anomaly counts, the system, the faults,
// the seed, the command that repeats the run, each log's head hash and whether `audit verify`
// passes); latency over time (one point per op, colour = outcome, shape = f, log scale) with every
// fault window shaded and labelled and the per-second p50 / p95 / p99 / max; throughput per second
// by outcome; one card per anomaly with its ops on a per-process timeline and the checker's
// explanation; drill, FIT and wave sections when the directory has them.
//
// Made to be checked: on the latency plot each fault interval of nemesis.json's `faults` array
// (for a drill: each fault event of its incident files) is exactly one element with
// data-fault="KIND" data-start-s data-end-s; each anomaly is one <a data-anomaly>; the body
// carries data-anomaly-count, data-fault-count, data-points-drawn and, after the load event,
// data-load-ms. The page forbids every network request (Content-Security-Policy).
//
// Large histories: at most ReportOptions::max_points points per plot, thinned by keeping one point
// per pixel cell and outcome (outliers stay); the ops an anomaly names are always drawn.
//
// Thread-safety: pure functions of the files they read.
#ifndef FAULTLINE_REPORT_RUN_REPORT_H_
#define FAULTLINE_REPORT_RUN_REPORT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"

namespace faultline::report {

struct ReportOptions {
  std::string model = "cas-register";  // for a bare history file
  std::string command_line;            // shown in the header; empty: the command that repeats it
  size_t max_points = 20000;           // scatter points per plot (anomaly ops come on top)
  size_t max_timelines = 60;           // anomaly cards drawn with a timeline (others: text only)
};

struct ReportFigures {
  std::string kind;  // "campaign", "drill", "fit", "wave", "history"
  int64_t anomaly_count = 0;
  size_t fault_windows = 0;
  size_t ops = 0;           // client ops (invocations) in the history
  size_t points_drawn = 0;  // on the latency plot
  size_t html_bytes = 0;
};

// Renders the report of a run directory or a history file. Errors name the file and what was
// expected in it.
[[nodiscard]] Result<std::string> RenderReport(const std::string& path,
                                               const ReportOptions& options,
                                               ReportFigures* figures = nullptr);

// RenderReport, written atomically to `out` (empty: PATH/report.html for a directory,
// PATH.report.html for a file).
[[nodiscard]] Result<ReportFigures> WriteReport(const std::string& path, std::string out,
                                                const ReportOptions& options = {});

// The anomaly count of a results.json text: its `anomaly_count`, or for a results.json written
// before that field the sum of what its checkers' JSON shows (counterexamples, stale reads by
// node, revision-order violations, sanity problems).
[[nodiscard]] Result<int64_t> AnomalyCountOf(const std::string& results_json_text);

// The page ending `campaign --test-count N`: found in k of N runs overall and per checker, one row
// per run (seed, verdict, each checker, links to its report) and, for each failing seed, the exact
// command that reruns it. `run_dirs` are read as files (results.json, config.json).
[[nodiscard]] Result<std::string> RenderSummaryPage(const std::vector<std::string>& run_dirs,
                                                    const std::string& command_line);
// ... and its plain-text table (the same rows), for the terminal.
[[nodiscard]] Result<std::string> RenderSummaryText(const std::vector<std::string>& run_dirs);

}  // namespace faultline::report

#endif  // FAULTLINE_REPORT_RUN_REPORT_H_
