#include "dirt/internal/workload.h"

#include <fmt/format.h>

#include "client/etcd.h"
#include "common/clock.h"
#include "common/ports.h"
#include "dirt/internal/consistency.h"
#include "dirt/internal/time.h"

namespace faultline::dirt::internal {
namespace {

// etcd's register client on every node of the cluster.
Result<std::unique_ptr<client::ClientFactory>> EtcdFactory(const cluster::ClusterState& state,
                                                           const runner::CampaignConfig& config,
                                                           const std::string& key_prefix) {
  client::EtcdClientOptions o;
  for (const auto& n : state.nodes) {
    o.endpoints.push_back(
        client::EtcdEndpoint{.node = n.name, .host = n.address, .port = kEtcdClientPort});
  }
  o.timeout = std::chrono::milliseconds(config.client_timeout_ms);
  o.workload = client::EtcdWorkload::kRegister;
  o.key_prefix = key_prefix;
  return client::MakeEtcdClientFactory(o);
}

}  // namespace

void DrillWorkload::Start(const cluster::ClusterState& state, const Scenario& s,
                          const DrillOptions& options, DrillRecord& record) {
  if (!s.workload.enabled) return;
  if (record.log() == nullptr) {
    record.Update([](DrillResult& r) {
      r.notes.push_back(
          "workload not run: it records into the drill's history log, and there "
          "is none (give DrillOptions::history_dir)");
    });
    return;
  }
  config_.db = "etcd";
  config_.nodes = static_cast<int>(state.nodes.size());
  config_.name = state.name;
  config_.workload = runner::Workload::kRegister;
  config_.nemesis = {};
  config_.time_limit_s = 24 * 3600;  // the drill stops it
  config_.concurrency = s.workload.concurrency;
  config_.rate = s.workload.rate;
  config_.seed = s.seed;
  config_.final_phase_s = 0;
  const std::string key_prefix = fmt::format("faultline/dirt/{}/{}/", s.id, WallNow().count());
  Result<std::unique_ptr<client::ClientFactory>> factory = [&] {
    if (options.system != nullptr) {
      config_.system = options.system->Info().name;
      systems::ClientSetup setup;
      setup.workload = "register";
      setup.timeout = std::chrono::milliseconds(config_.client_timeout_ms);
      setup.key_prefix = key_prefix;
      return options.system->Clients(*options.system_nodes, setup);
    }
    return EtcdFactory(state, config_, key_prefix);
  }();
  Status st = OkStatus();
  if (!factory) {
    st = factory.error().WithContext("dirt: " + s.id + ": workload");
  } else {
    factory_ = std::move(*factory);
    deps_.clients = factory_.get();
    deps_.log = record.log();
    deps_.stop = stop_.get_token();
    thread_ = std::thread([this] { stats_ = runner::RunCampaign(config_, deps_); });
  }
  record.AddEvent(
      "check", "workload-start", "",
      st ? fmt::format("{} workload, {} workers, rate {}", s.workload.kind, s.workload.concurrency,
                       s.workload.rate > 0 ? fmt::format("{} ops/s", s.workload.rate)
                                           : std::string("unlimited"))
         : st.error().message(),
      static_cast<bool>(st));
}

void DrillWorkload::Stop() {
  if (!thread_.joinable()) return;
  stop_.request_stop();
  thread_.join();
}

void DrillWorkload::Check(const Scenario& s, DrillRecord& record) {
  if (!s.workload.enabled) return;
  ConsistencyResult c;
  c.workload = s.workload.kind;
  if (record.log() == nullptr || factory_ == nullptr) {
    c.summary = "the workload did not run (see the notes)";
  } else if (Status synced = record.log()->Sync(); !synced) {
    c.summary = "the history log could not be synced: " + synced.error().message();
  } else if (!stats_ || !*stats_) {
    c.summary = "the workload did not run: " +
                (stats_ ? stats_->error().message() : std::string("it was never started"));
  } else {
    const std::string path = record.Snapshot().history_log->path;
    c = CheckLoggedConsistency(path, config_, (*stats_)->warnings);
  }
  record.Update([&](DrillResult& r) { r.consistency = c; });
  record.AddEvent("check", "consistency", "",
                  fmt::format("{}: {} ops on {} keys (ok {}, fail {}, info {}): {}",
                              checker::ValidityName(c.validity), c.ops, c.keys, c.ok, c.fail,
                              c.info, c.summary),
                  c.validity == checker::Validity::kValid);
}

}  // namespace faultline::dirt::internal
