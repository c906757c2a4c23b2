// The experiment's toxics: every add and remove goes through ExperimentToxics::Change, the one
// place a FIT run touches a proxy's toxics. With a ledger it goes through nemesis::ProxyFaults
// (nemesis/proxy_faults.h), as a campaign's proxy faults do, so `nemesis status` / `nemesis heal`
// see FIT toxics like every other fault; without one (unit tests) straight to the proxies. Every
// change is also written to the run's event log. Not part of the public API.
//
// Thread-safety: every method may be called from any thread (one mutex).
#ifndef FAULTLINE_FIT_INTERNAL_TOXICS_H_
#define FAULTLINE_FIT_INTERNAL_TOXICS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/result.h"
#include "history/log.h"
#include "nemesis/ledger.h"
#include "nemesis/proxy.h"
#include "nemesis/proxy_faults.h"
#include "nemesis/toxic.h"

namespace faultline::fit::internal {

class ExperimentToxics {
 public:
  // Borrows everything; ledger and log may be null. With a ledger, toxics are recorded in the
  // same ledger file through a ProxyFaults of their own (Open fails if it cannot be opened).
  static Result<std::unique_ptr<ExperimentToxics>> Open(nemesis::ProxyServer& proxies,
                                                        std::vector<std::string> experiment_proxies,
                                                        const nemesis::Ledger* ledger,
                                                        history::LogWriter* log);

  // Adds the toxic to every experiment proxy (all or, on error, none: those added are removed).
  Status Add(const nemesis::Toxic& toxic, std::string_view reason);
  // Removes a toxic from every experiment proxy; the first error is returned after trying all.
  Status Remove(std::string_view toxic, std::string_view reason);
  // Removes every toxic added and not removed yet.
  Status RemoveAll(std::string_view reason);
  // Toxics in place now: (proxy, toxic) pairs.
  size_t held() const;

 private:
  enum class Action { kAdd, kRemove };
  // The one path to a proxy's toxics.
  Status Change(Action action, const std::string& proxy, const nemesis::Toxic& toxic,
                std::string_view reason);
  void LogChange(Action action, const std::string& proxy, const nemesis::Toxic& toxic,
                 std::string_view reason, const Status& status);

  ExperimentToxics(nemesis::ProxyServer& proxies, std::vector<std::string> targets,
                   std::unique_ptr<nemesis::ProxyFaults> faults, history::LogWriter* log)
      : proxies_(proxies), targets_(std::move(targets)), faults_(std::move(faults)), log_(log) {}

  nemesis::ProxyServer& proxies_;
  std::vector<std::string> targets_;
  std::unique_ptr<nemesis::ProxyFaults> faults_;  // null without a ledger
  history::LogWriter* log_;
  mutable std::mutex mu_;
  // (proxy, toxic name) -> toxic, as added
  std::map<std::pair<std::string, std::string>, nemesis::Toxic> held_;
};

// The JSON form of a toxic for logs and results.json (type, name, stream, share, attributes).
nlohmann::json ToxicJson(const nemesis::Toxic& toxic);

}  // namespace faultline::fit::internal

#endif  // FAULTLINE_FIT_INTERNAL_TOXICS_H_
