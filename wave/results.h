// A wave's results: each part's outcome in the wave's terms, the exit-code ranking, where the parts
// touched, and results.json assembled from them. Pure functions over plain values, so the rules
// are tested without a cluster.
//
// Exit codes (issue 13 §3): the worst part decides, ranked
//   error (3) > invalid, refuted, aborted or limit missed (1) > unknown or inconclusive (2) >
//   valid (0).
// A part maps to them as: campaign valid 0, invalid 1, unknown 2, could not run 3; drill PASS 0,
// FAIL (recovery limit missed, an expected safeguard did not fire) 1, INVALID (a fault missed its
// target) and ABORTED (no steady state before the fault, blast radius crossed) 1, ERROR 3; FIT
// held 0, refuted or aborted 1, inconclusive 2, could not run 3.
//
// Times in "touch" are seconds on the wave log's clock (history/log.h: since the log was created),
// the one clock every part's ops are stamped with.
//
// Thread-safety: plain values and pure functions.
#ifndef FAULTLINE_WAVE_RESULTS_H_
#define FAULTLINE_WAVE_RESULTS_H_

#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "checker/checker.h"
#include "checker/log_patterns.h"
#include "common/junit.h"
#include "dirt/drill.h"
#include "dirt/recovery.h"
#include "history/history.h"

namespace faultline::wave {

using Json = nlohmann::ordered_json;

inline constexpr int kExitValid = 0;
inline constexpr int kExitInvalid = 1;
inline constexpr int kExitUnknown = 2;
inline constexpr int kExitError = 3;

// The worst of the codes by the wave's ranking (3 > 1 > 2 > 0); 0 for none. Codes outside 0..3
// count as errors.
int WorstExitCode(std::span<const int> codes);
// "valid", "invalid", "unknown", "error" for 0, 1, 2, 3.
std::string_view VerdictName(int exit_code);

int CampaignExitCode(checker::Validity validity);
int DrillExitCode(dirt::Verdict verdict);
// FIT's own exit code (0 held, 1 refuted or aborted, 2 inconclusive) in the wave's terms: as it
// is, anything else an error.
int FitExitCode(int fit_exit_code);

// One part's outcome: what parts.<name> holds in results.json, and its exit code.
struct PartResult {
  std::string name;  // "campaign", "drill", "fit"
  int exit_code = kExitError;
  std::string summary;  // one line for people: "valid", "PASS: recovered in 1.2 s ...", "held"
  Json json = Json::object();
};

// A part that could not run: {"error": message}, exit 3.
PartResult ErrorPart(std::string name, std::string message);
// `results` is the campaign's results.json (runner::RenderResultsJson), with "valid".
PartResult CampaignPart(const Json& results, checker::Validity validity);
// passed, verdict, reason, recovery_ms (null when it did not recover), limit_ms, detection_ms,
// repair_ms, safeguards, and where the incident record is (incident_file, relative to the run).
PartResult DrillPart(const dirt::DrillResult& drill, std::string incident_file);
// FIT's results as RunExperiment gave them, with its hypothesis.
PartResult FitPart(const Json& results, const std::string& hypothesis, int fit_exit_code);
// The node-log patterns over the whole wave (every node's log from the wave's start to the end of
// its last part): parts.log_patterns holds validity, summary and unread; the counts themselves go
// to results.json's top-level "log_patterns" (checker::LogPatternsJson). A maximum exceeded is
// invalid (exit 1, so the wave's verdict is invalid), a log that could not be read unknown (2).
PartResult LogPatternsPart(const checker::LogPatternReport& scan);

// JUnit: one suite per part. A part that could not run is a suite with one <error> case.
JUnitSuite ErrorPartSuite(std::string_view wave_id, const PartResult& part);
// The log patterns' suite: one case, checker::VerdictJUnitCase of checker::LogPatternVerdict.
JUnitSuite LogPatternsSuite(std::string_view wave_id, const checker::LogPatternReport& scan);

// An interval on the wave log's clock, in seconds.
struct Window {
  double start_s = 0;
  double end_s = 0;
  std::string what;
};

// How long `a` and `b` overlap, in milliseconds (0 when they do not).
double OverlapMs(const Window& a, const Window& b);

// Client ops in flight while the kill was being applied: invoked before kill.end_s and not
// completed before kill.start_s (never completed counts as in flight). `killed` names the nodes
// killed; an op counts "on a killed node" when its completion names one (:node). JSON: kill
// window, count, by completion type (ok, fail, info, open), on_killed_nodes, and up to five
// examples.
Json OpsInFlight(const history::History& history, const Window& kill,
                 const std::vector<std::string>& killed);

// When the FIT experiment's toxics were in place, read from its events in the log (process
// nemesis, f toxic-add / toxic-remove, the toxic as JSON in the completion's value): per toxic,
// from its first add to its last removal (to the last op when it was never removed).
std::vector<Window> FitFaultWindows(const history::History& history);

// The drill's recovery window [fault, fault + recovery] (to the end of observation when it did
// not recover) next to the windows when FIT faults were active and campaign faults were in force:
// overlap with each, and whether the recovery was measured while FIT faults were active.
Json RecoveryTouch(const Window& recovery, bool recovered, std::span<const Window> fit_faults,
                   std::span<const Window> campaign_faults);

// results.json: id, title, source, verdict (VerdictName of the worst part), exit_code, reasons
// (one line per part, worst first), parts.{campaign,drill,fit}, touch, and `extra`'s keys after
// them (log, ledger, files, duration_s).
Json AssembleResults(std::string_view id, std::string_view title, std::string_view source,
                     std::span<const PartResult> parts, const Json& touch, const Json& extra);

// The summary for people: one line per part, where they touched, the verdict, the run directory.
std::string RenderText(const Json& results, std::string_view dir);

}  // namespace faultline::wave

#endif  // FAULTLINE_WAVE_RESULTS_H_
