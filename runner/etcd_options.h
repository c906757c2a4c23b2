// The etcd client settings that follow from a campaign's workload, shared by every place that
// builds client::EtcdClientOptions for a campaign (local and remote clusters).
//
// Thread-safety: pure functions.
#ifndef FAULTLINE_RUNNER_ETCD_OPTIONS_H_
#define FAULTLINE_RUNNER_ETCD_OPTIONS_H_

#include "client/etcd.h"
#include "runner/campaign.h"

namespace faultline::runner {

client::EtcdWorkload EtcdWorkloadFor(Workload workload);

// Sets options.workload, and for the lock workload the lease TTL (config.lock_ttl_s, rounded up
// to whole seconds: etcd leases count seconds) and the acquire timeout
// (config.lock_acquire_timeout_ms). Endpoints, timeout, read mode and key prefix are left alone.
void ApplyWorkloadOptions(const CampaignConfig& config, client::EtcdClientOptions& options);

}  // namespace faultline::runner

#endif  // FAULTLINE_RUNNER_ETCD_OPTIONS_H_
