#include "runner/etcd_options.h"

#include <cmath>

namespace faultline::runner {

client::EtcdWorkload EtcdWorkloadFor(Workload workload) {
  switch (workload) {
    case Workload::kRegister:
      return client::EtcdWorkload::kRegister;
    case Workload::kSet:
      return client::EtcdWorkload::kSet;
    case Workload::kCounter:
      return client::EtcdWorkload::kCounter;
    case Workload::kLock:
      return client::EtcdWorkload::kLock;
    case Workload::kAppend:
      return client::EtcdWorkload::kAppend;
    case Workload::kRwRegister:
      return client::EtcdWorkload::kRwRegister;
  }
  return client::EtcdWorkload::kRegister;
}

void ApplyWorkloadOptions(const CampaignConfig& config, client::EtcdClientOptions& options) {
  options.workload = EtcdWorkloadFor(config.workload);
  if (config.workload != Workload::kLock) return;
  options.lock_ttl =
      std::chrono::seconds(static_cast<int64_t>(std::ceil(std::max(1.0, config.lock_ttl_s))));
  options.lock_acquire_timeout = std::chrono::milliseconds(config.lock_acquire_timeout_ms);
}

}  // namespace faultline::runner
