// faultline report PATH: flags and output only; the page is made in report/run_report.h.
#include <fmt/format.h>

#include <filesystem>
#include <memory>
#include <string>

#include "report/run_report.h"
#include "tools/commands.h"

namespace faultline::tools {
namespace {

struct ReportArgs {
  std::string path;
  std::string out;
  std::string model = "cas-register";
  size_t max_points = 20000;
};

int RunReport(const ReportArgs& a) {
  report::ReportOptions options;
  options.model = a.model;
  options.max_points = a.max_points;
  Result<report::ReportFigures> figures = report::WriteReport(a.path, a.out, options);
  if (!figures) {
    PrintError(figures.error().message());
    return kExitError;
  }
  std::fputs(fmt::format("report: {} ({} run, {} ops, {} points drawn, {} fault windows, {} "
                         "anomalies, {:.1f} KiB)\n",
                         a.out.empty() ? WrittenReportPath(a.path) : a.out, figures->kind,
                         figures->ops, figures->points_drawn, figures->fault_windows,
                         figures->anomaly_count, static_cast<double>(figures->html_bytes) / 1024.0)
                 .c_str(),
             stdout);
  return kExitOk;
}

}  // namespace

std::string WrittenReportPath(const std::string& path) {
  return std::filesystem::is_directory(path)
             ? (std::filesystem::path(path) / "report.html").string()
             : path + ".report.html";
}

void WriteRunReport(const std::string& dir) {
  Result<report::ReportFigures> figures = report::WriteReport(dir, "");
  if (!figures) {
    PrintError(figures.error().WithContext("report").message());
    return;
  }
  PrintNote(fmt::format("report: {}", WrittenReportPath(dir)));
}

void RegisterReportCommand(CLI::App& app, Action& run) {
  auto a = std::make_shared<ReportArgs>();
  CLI::App* r = app.add_subcommand(
      "report",
      "Write one self-contained HTML page for a run (no network needed to open it).\n"
      "PATH is a campaign run directory, a drill's --out directory, a FIT run or a wave\n"
      "(read from their files, so directories of earlier versions work too), or a history file\n"
      "(checked with --model first). The page shows each checker's verdict and anomalies, latency\n"
      "over time with the fault windows shaded, per-second quantiles and throughput, a timeline\n"
      "of the ops around each anomaly, and the drill / FIT / wave sections the directory has.\n"
      "Campaigns and drills write DIR/report.html themselves at the end of a run.\n"
      "Examples:\n"
      "  faultline report runs/20260101T120000-register-1        # -> runs/.../report.html\n"
      "  faultline report drills/ --out drill.html\n"
      "  faultline report examples/stale-read.edn --model cas-register\n"
      "Exit codes: 0 written, 3 error (no such path, not a run directory, unreadable file).");
  r->add_option("path", a->path, "Run directory or history file")->required();
  r->add_option("--out", a->out,
                "Where to write (default PATH/report.html, or PATH.report.html for a file)");
  r->add_option("--model", a->model, "Model for a history file")->capture_default_str();
  r->add_option("--max-points", a->max_points,
                "Points per plot before thinning (one per pixel and outcome; anomaly ops always)")
      ->capture_default_str();
  r->callback([&run, a] { run = [a] { return RunReport(*a); }; });
}

}  // namespace faultline::tools
