// ProxyFaults: toxics added to and removed from proxies (nemesis/proxy.h) through the nemesis
// ledger, the way every other fault is applied: before a toxic exists, an fsync'd ledger entry
// names it (object type "toxic": proxy, toxic name, where the proxy lives), and removing it closes
// the entry. So `faultline nemesis status` lists open toxics and `faultline nemesis heal` (or the
// next Nemesis::Open, once the owner is gone) removes them:
//   - a proxy in a process that is gone (an in-process proxy of a crashed campaign or FIT run)
//     died with it: the heal says so and closes the entry;
//   - a proxy in this process is reached directly;
//   - a proxy reachable on a control address (a `faultline proxy` daemon, or an in-process server
//     that also serves the control API) gets DELETE /proxies/P/toxics/T there.
//
// Every change is also handed to Options::on_change, so the owner's event log (a campaign's
// history, a FIT run's events) records every toxic added or removed, including those removed by
// RemoveAll, Reset or an abort. nemesis/ does not write event logs itself (STYLE §2).
//
// Proxies in front of cluster nodes are named after the node ("n1" fronts n1's client port);
// ApplyProxyFault relies on that.
//
// Thread-safety: every public method is thread-safe (one mutex; the ProxyServer is thread-safe
// too). on_change is called without the mutex held, from the calling thread.
#ifndef FAULTLINE_NEMESIS_PROXY_FAULTS_H_
#define FAULTLINE_NEMESIS_PROXY_FAULTS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "nemesis/fault.h"
#include "nemesis/nemesis.h"
#include "nemesis/proxy.h"
#include "nemesis/toxic.h"

namespace faultline::nemesis {

// One toxic added or removed (or a failed attempt), for the owner's event log.
struct ToxicChange {
  enum class Action { kAdded, kRemoved };
  Action action = Action::kAdded;
  std::uint64_t ledger_id = 0;
  std::string proxy;
  Toxic toxic;  // as normalized (name, type, stream, toxicity, attributes)
  bool ok = false;
  std::string detail;  // what was done, or the error ("removed", "already gone", ...)
  // "why": "fault" (ApplyProxyFault), "api" (the control API), "remove-all", "reset", "abort",
  // or what the caller passed.
  std::string reason;
  std::int64_t mono_ns = 0;  // CLOCK_MONOTONIC when it was done
};
std::string_view ToxicActionName(ToxicChange::Action action);

class ProxyFaults {
 public:
  struct Options {
    std::string ledger_path;  // e.g. <run_dir>/nemesis.ledger (shared with the Nemesis)
    std::string run_id;       // tags the ledger entries
    // Where other processes reach these proxies' control API (a ControlServer on the same
    // ProxyServer), recorded so that a heal from another process can remove the toxics; empty =
    // nowhere (then only this process, or its death, removes them).
    std::string control_address;
    std::function<void(const ToxicChange&)> on_change;
  };

  // Toxics on the in-process `proxies` (borrowed; must outlive this object).
  [[nodiscard]] static Result<std::unique_ptr<ProxyFaults>> Open(ProxyServer& proxies,
                                                                 Options options);
  // Toxics through the Toxiproxy HTTP API at `options.control_address` (a `faultline proxy`
  // daemon, here or on another host). InvalidArgument without an address.
  [[nodiscard]] static Result<std::unique_ptr<ProxyFaults>> OpenRemote(Options options);
  ~ProxyFaults();
  ProxyFaults(const ProxyFaults&) = delete;
  ProxyFaults& operator=(const ProxyFaults&) = delete;

  // Records the toxic (normalized first: NormalizeToxic) in the ledger, then adds it to `proxy`.
  // If adding fails the entry is closed ("not applied") and the error returned. `reason` is passed
  // to on_change. Returns the toxic as added.
  [[nodiscard]] Result<Toxic> Add(std::string_view proxy, Toxic toxic,
                                  std::string_view reason = "fault");
  // Removes the toxic and closes its ledger entry. A toxic already gone counts as removed (its
  // entry is closed all the same); NotFound only for a toxic this object never recorded and the
  // proxy does not have.
  [[nodiscard]] Status Remove(std::string_view proxy, std::string_view toxic,
                              std::string_view reason = "fault");
  // Removes every toxic this object added and still holds; one detail per toxic. The report's
  // kind is kHeal.
  FaultReport RemoveAll(std::string_view reason = "remove-all");
  // Every proxy enabled and every toxic removed (POST /reset), and every ledger entry of these
  // proxies closed, also those recorded by other processes for the same proxies.
  [[nodiscard]] Status Reset(std::string_view reason = "reset");

  // Toxics added through this object and not removed yet: (proxy, toxic name, ledger id).
  struct Held {
    std::string proxy;
    std::string toxic;
    std::uint64_t ledger_id = 0;
  };
  std::vector<Held> held() const;

  const std::string& ledger_path() const;

  struct State;

 private:
  friend Result<FaultReport> ApplyProxyFault(ProxyFaults& faults, const FaultSpec& spec,
                                             const std::vector<std::string>& targets);
  explicit ProxyFaults(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// The toxic a proxy fault kind (IsProxyFaultKind) adds: type and attributes from the spec (share
// -> toxicity; status, body, delay, jitter, bytes, method, path, header, header_value), named
// `name`. InvalidArgument for other kinds.
[[nodiscard]] Result<Toxic> ToxicForFault(const FaultSpec& spec, std::string name);

// Applies a proxy fault kind: the toxic (ToxicForFault) on the proxy of each target node (proxies
// are named after nodes), named "<kind>-<n>" with n unique in this process. One detail per node;
// nodes where it failed are in `failed` (the toxics added elsewhere stay, in the ledger, for the
// fault's heal). `targets` are resolved already (FaultTargets).
[[nodiscard]] Result<FaultReport> ApplyProxyFault(ProxyFaults& faults, const FaultSpec& spec,
                                                  const std::vector<std::string>& targets);

}  // namespace faultline::nemesis

#endif  // FAULTLINE_NEMESIS_PROXY_FAULTS_H_
