// The resource metrics timeline of a drill: per node from its cgroups (cpu, memory, blkio) and
// /proc/<pid>/net/dev, and for the host from /proc (stat, meminfo, diskstats, net/dev); rates
// between two readings. Not part of the public API.
//
// Thread-safety: not thread-safe; one sampling thread.
#ifndef FAULTLINE_DIRT_INTERNAL_METRICS_H_
#define FAULTLINE_DIRT_INTERNAL_METRICS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "dirt/internal/time.h"
#include "nemesis/siege.h"

namespace faultline::cluster {
struct ClusterState;
}  // namespace faultline::cluster
namespace faultline::nemesis {
class NodeControl;
}  // namespace faultline::nemesis

namespace faultline::dirt::internal {

class ResourceMetrics {
 public:
  // Borrows state and control; finds each node's cgroups once.
  ResourceMetrics(const cluster::ClusterState& state, nemesis::NodeControl& control,
                  std::string scenario_id);
  ~ResourceMetrics();
  ResourceMetrics(const ResourceMetrics&) = delete;
  ResourceMetrics& operator=(const ResourceMetrics&) = delete;

  // Reads the counters at `t` and returns the sample (a JSON object tagged with the scenario id),
  // or nullopt on the first call: rates need an earlier reading.
  std::optional<std::string> Sample(MonoTime t, std::int64_t offset_ms);

  // Cumulative counters of one node (or the host) at one reading.
  struct Counters {
    std::uint64_t cpu_ns = 0;
    std::uint64_t rbytes = 0, wbytes = 0, rops = 0, wops = 0, net_rx = 0, net_tx = 0;
  };

 private:
  const cluster::ClusterState& state_;
  nemesis::NodeControl& control_;
  std::string scenario_id_;
  std::vector<std::optional<nemesis::SiegeTarget>> targets_;
  std::map<std::string, Counters> prev_;
  std::uint64_t prev_busy_ = 0;
  std::uint64_t prev_total_ = 0;
  std::optional<MonoTime> prev_t_;
};

}  // namespace faultline::dirt::internal

#endif  // FAULTLINE_DIRT_INTERNAL_METRICS_H_
