// The synthetic load of a FIT experiment: open-loop HTTP/1.1 requests at a fixed rate, the same
// request sequence sent by each group to its own proxies, over keep-alive connections (Beast).
// Open loop: a request is due at its scheduled time whatever happened to earlier ones; when every
// connection of a node is busy it waits for one, and its latency counts from the scheduled time
// (no coordinated omission). A request without a whole reply by its timeout (from the scheduled
// time) is a failure; no request is retried. Not part of the public API.
//
// Thread-safety: RunLoad blocks its caller and calls on_sample from its own io thread; Stop may be
// called from any thread.
#ifndef FAULTLINE_FIT_INTERNAL_LOAD_H_
#define FAULTLINE_FIT_INTERNAL_LOAD_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/result.h"
#include "fit/fit.h"

namespace faultline::fit::internal {

// One request of the sequence, rendered from a template.
struct PlannedRequest {
  int template_index = 0;
  std::string method;
  std::string target;  // base path + path
  std::string body;
  const std::map<std::string, std::string>* headers = nullptr;  // the template's
  std::string name;      // the template's (a client load's op: "read" or "write")
  std::int64_t key = 0;  // {key} is k<key>
  std::int64_t seq = 0;  // {seq}
};

// Renders `count` requests from the scenario's templates, drawn by weight with its seed: every
// group sends this same sequence. Placeholders: {key} k<0..keys-1>, {key_b64}, {value} v<seq>,
// {value_b64}, {seq}.
std::vector<PlannedRequest> PlanRequests(const Scenario& scenario, std::string_view base_path,
                                         std::int64_t count);

struct Sample {
  int group = 0;  // 0 control, 1 experiment
  int template_index = 0;
  std::int64_t scheduled_ns = 0;  // since the load began
  std::int64_t done_ns = 0;       // when it completed or failed, since the load began
  int status = 0;                 // HTTP status; 0 = no reply
  bool ok = false;                // a 2xx reply
  bool timed_out = false;
};

struct LoadPlan {
  // upstreams[group][node]: "host:port" each group's requests go to (its proxies), round robin.
  std::vector<std::string> upstreams[2];
  std::vector<PlannedRequest> requests;  // per group; request i is due at i / rate_per_group
  double rate_per_group = 1;
  std::chrono::milliseconds timeout{1000};
  int connections = 16;  // most open connections per group and node
  // Target::clients' factories per group: then each request is a register op through a client
  // of the group (at most `connections` per node), not an HTTP request. Borrowed.
  client::ClientFactory* clients[2] = {nullptr, nullptr};
};

// Sends the plan from both groups, calling on_sample for every request once it completed or
// failed. Returns when every request due before `stop` was set has completed (at most one
// timeout after the last). start_ns receives MonotonicNowNs() of the load's time zero before the
// first request.
Status RunLoad(const LoadPlan& plan, std::atomic<bool>& stop,
               const std::function<void(std::int64_t start_ns)>& on_start,
               const std::function<void(const Sample&)>& on_sample);

}  // namespace faultline::fit::internal

#endif  // FAULTLINE_FIT_INTERNAL_LOAD_H_
