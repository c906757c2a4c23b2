// A wave scenario (scenarios/WAVE*.json): the three parts a `faultline wave` runs at the same time
// on one cluster, each in its own format.
//
//   {"id": "WAVE01", "title": "...", "description": "...",
//    "drill": "DIRT01-process-kill.json",   a DiRT scenario (dirt/scenario.h): a file name,
//                                           relative to the wave file, or the object itself
//    "campaign": {"workload": "register", "nemesis": ["partition"], "time_limit": 25, ...},
//                                           campaign config.json keys (runner/config.h); the
//                                           cluster's keys (db, nodes, cluster, name, out,
//                                           test_count, leave_db_running) come from the wave
//    "fit": {...} or "FIT...json",          a FIT scenario (fit/fit.h), file name or object
//    "start_ms": {"drill": 0, "campaign": 0, "fit": 0}}   optional delay of each part's start
//
// The drill's scenario pins the cluster (node count, etcd flags). It may not run a workload of
// its own: the campaign is the wave's workload, and both would record client ops into the one log.
//
// Thread-safety: plain values and pure functions.
#ifndef FAULTLINE_WAVE_SCENARIO_H_
#define FAULTLINE_WAVE_SCENARIO_H_

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/result.h"
#include "dirt/scenario.h"
#include "fit/fit.h"
#include "runner/campaign.h"

namespace faultline::wave {

struct StartOffsets {
  std::chrono::milliseconds drill{0};
  std::chrono::milliseconds campaign{0};
  std::chrono::milliseconds fit{0};
};

struct Scenario {
  std::string id;
  std::string title;
  std::string description;
  std::string source;  // the file it was read from (or the name given to ParseScenario)
  dirt::Scenario drill;
  runner::CampaignConfig campaign;  // nodes and db from the drill; cluster, name, out: the wave's
  fit::Scenario fit;
  StartOffsets start;
};

// Campaign keys the wave sets itself (an error when a scenario gives them).
inline constexpr std::string_view kWaveCampaignKeys[] = {
    "db", "nodes", "cluster", "name", "out", "test_count", "leave_db_running"};

// Errors name the source and the field: "scenarios/WAVE01.json: campaign: ...". File names of
// parts are read relative to base_dir.
[[nodiscard]] Result<Scenario> ParseScenario(const nlohmann::json& json, std::string_view source,
                                             const std::string& base_dir);
[[nodiscard]] Result<Scenario> LoadScenario(const std::string& path);

}  // namespace faultline::wave

#endif  // FAULTLINE_WAVE_SCENARIO_H_
