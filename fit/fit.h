// FIT experiments (Netflix's FIT and ChAP): request-level faults injected into a share of the
// requests of an experiment group, measured against a control group of equal size under the same
// synthetic load, judged by one-sided non-inferiority tests, and stopped by themselves when the
// experiment strays past an abort bound.
//
// A Scenario is one self-contained JSON file (scenarios/FIT*.json), every field checked:
//
//   {"id": "FIT02", "title": "...", "description": "...", "seed": 1,
//    "rate": 400,                  requests/s over both groups (each group gets half)
//    "duration_s": 15,             load time (<= 600)
//    "timeout_ms": 1000,           a request without a reply by then is a failure
//    "keys": 100,                  {key} ranges over k0..k99
//    "requests": [                 templates, drawn by weight with the scenario's seed
//      {"name": "read", "method": "POST", "path": "/v3/kv/range", "weight": 19,
//       "body": "{\"key\": \"{key_b64}\"}", "headers": {"Content-Type": "application/json"}}],
//    "faults": [                   toxics on the experiment group's proxies (nemesis/toxic.h)
//      {"type": "http_status", "share": 0.2, "attributes": {"status": 503, "path": "/v3/kv/range"},
//       "start_s": 0, "duration_s": 0}],          duration_s 0: until the end of the load
//    "hypothesis": {"alpha": 0.05, "success_rate": {"max_drop_points": 1},
//                   "p99_ms": {"max_ratio": 2}},
//    "abort": [{"kpi": "success_rate", "max_drop_points": 10, "for_s": 1}]}
//
// Placeholders in path and body: {key}, {key_b64}, {value}, {value_b64}, {seq}. A fault's share
// is its toxic's toxicity (the share of matching requests it acts on); nothing else is a share.
// Margins and abort bounds compare the experiment with the control: success_rate by
// `max_drop_points` (percentage points below control), p50_ms / p99_ms by `max_ratio`
// (experiment over control).
//
// Thread-safety: Scenario and Outcome are plain values. RunExperiment may run in several threads
// at once on different out_dirs and targets.
#ifndef FAULTLINE_FIT_FIT_H_
#define FAULTLINE_FIT_FIT_H_

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "client/client.h"
#include "common/result.h"
#include "history/log.h"
#include "nemesis/ledger.h"
#include "nemesis/toxic.h"
#include "systems/system.h"

namespace faultline::fit {

struct RequestTemplate {
  std::string name;
  std::string method = "GET";
  std::string path;  // with placeholders
  std::string body;  // with placeholders; empty = no body
  std::map<std::string, std::string> headers;
  double weight = 1.0;
};

// One fault of the experiment: a toxic whose toxicity is the scenario's `share`, on every
// experiment proxy, from `start` after the load began for `duration` (0: until the load ends).
struct FaultSpec {
  nemesis::Toxic toxic;  // toxic.toxicity == share
  std::chrono::milliseconds start{0};
  std::chrono::milliseconds duration{0};
};

enum class Kpi { kSuccessRate, kP50, kP99, kRps };
std::string_view KpiName(Kpi kpi);  // "success_rate", "p50_ms", "p99_ms", "rps"
Result<Kpi> ParseKpi(std::string_view name);

// How far the experiment may be from the control: for success_rate, `limit` is percentage points
// below the control's rate; for p50_ms / p99_ms, the ratio experiment / control.
struct Margin {
  Kpi kpi = Kpi::kSuccessRate;
  double limit = 0;
};

// The experiment beyond `bound` for `hold` trips the abort (each check, every 100 ms, compares
// the groups over the trailing second).
struct AbortRule {
  Margin bound;
  std::chrono::milliseconds hold{0};
};

struct Scenario {
  std::string id;
  std::string title;
  std::string description;
  std::string source;  // the file it was read from (or the name given to ParseScenario)
  std::uint64_t seed = 1;
  double rate = 100;  // requests/s over both groups
  std::chrono::milliseconds duration{10000};
  std::chrono::milliseconds timeout{1000};
  int keys = 100;
  int connections = 16;  // most open connections per group and node (open loop: requests wait)
  std::vector<RequestTemplate> requests;
  std::vector<FaultSpec> faults;
  double alpha = 0.05;
  int bootstrap_samples = 2000;
  std::vector<Margin> margins;  // in file order; at least one
  std::vector<AbortRule> abort;
};

// Errors name the source, the field and what was expected, e.g.
// "scenarios/FIT02.json: faults[0].share: expected a number in [0, 1], got 1.5".
Result<Scenario> ParseScenario(const nlohmann::json& json, std::string_view source_name);
Result<Scenario> LoadScenario(const std::filesystem::path& path);

// Makes the client factory of one group for a system without an HTTP API: `proxies` are that
// group's proxy addresses ("127.0.0.1:PORT"), one per upstream in upstream order, and process
// number p must speak to proxies[p % size] (client/client.h).
using GroupClients = std::function<Result<std::unique_ptr<client::ClientFactory>>(
    const std::vector<std::string>& proxies)>;

// Where the load goes: one proxy per upstream and group.
struct Target {
  std::vector<std::string> upstreams;  // "host:port" of each node's HTTP port (or client port)
  std::string base_path;               // prefixed to every template's path ("" for etcd)
  // Set for a system without HTTP (ZooKeeper, a system file): the load is then the system's own
  // register ops through its client, each group's through its proxies. A template's name is
  // its op, "read" or "write" (of key {key}; a write's value is the request's {seq}); its method,
  // path, body and headers are not used. The proxies still see every byte, so TCP-level toxics
  // (latency, bandwidth, slow_close, timeout, reset_peer, slicer, limit_data) apply; HTTP-level
  // ones (http_*) are refused, as there is no HTTP for them to act on. A request succeeds when
  // its op completes ok within the timeout.
  GroupClients clients;
};

// What a load of a system's own client ops (Target::clients) cannot do: an error naming the
// first HTTP-level toxic, or a request whose name is not "read" or "write". RunExperiment checks
// it too; callers check it before bringing a cluster up.
[[nodiscard]] Status CheckClientLoad(const Scenario& scenario);

// Target::clients for a system (systems/system.h): its register client, each group's nodes
// replaced by that group's proxies, with the scenario's timeout as the client's.
GroupClients SystemGroupClients(systems::System& system, systems::SystemCluster nodes,
                                std::chrono::milliseconds timeout);

struct Hooks {  // all optional
  // Every toxic added or removed is recorded in it (open before the add, closed after the
  // removal), so `nemesis status` sees it.
  nemesis::Ledger* ledger = nullptr;
  // Events into the run's tamper-evident log; without one, RunExperiment writes its own
  // out_dir/history-<id>.log.
  history::LogWriter* log = nullptr;
  std::function<void(std::string_view)> progress;  // one line per second of load and per event
};

struct Outcome {
  std::string hypothesis;  // held | refuted | inconclusive | aborted
  int exit_code = 3;       // 0 held, 1 refuted or aborted, 2 inconclusive
  // What results.json holds for the FIT part: hypothesis, kpis.control, kpis.experiment,
  // faults (windows), tests, abort, timeline and log file names.
  nlohmann::json results;
};

// Runs the control and experiment groups through in-process proxies (nemesis/proxy.h) in front of
// each upstream, writes out_dir/kpi-timeline.jsonl (and the event log unless hooks.log is given)
// and removes every toxic before returning (also on errors and on stop). A stop request ends the
// load early; the verdict is then made on what was measured. results.json itself is written by
// the caller (`fit run` writes Outcome::results; a wave nests it under parts.fit).
// Errors: the proxies cannot listen, out_dir cannot be written, the log fails.
Result<Outcome> RunExperiment(const Scenario& scenario, const Target& target,
                              const std::filesystem::path& out_dir, const Hooks& hooks,
                              std::stop_token stop);

}  // namespace faultline::fit

#endif  // FAULTLINE_FIT_FIT_H_
