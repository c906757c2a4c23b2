#include "fit/internal/toxics.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "history/fields.h"
#include "history/op.h"
#include "nemesis/proxy_api.h"

namespace faultline::fit::internal {
namespace {

namespace field = history::field;
using history::Op;
using history::OpType;
using history::Process;
using history::Value;

std::string Describe(const nemesis::Toxic& toxic) {
  return fmt::format("{} {} share {}", toxic.name, nemesis::ToxicTypeName(toxic.type),
                     toxic.toxicity);
}

}  // namespace

nlohmann::json ToxicJson(const nemesis::Toxic& toxic) {
  // The Toxiproxy API's form of the toxic, with its toxicity under the name FIT scenarios use.
  nlohmann::json j = nlohmann::json::parse(nemesis::ToxicToJson(toxic));
  j["share"] = j["toxicity"];
  j.erase("toxicity");
  return j;
}

void ExperimentToxics::LogChange(Action action, const std::string& proxy,
                                 const nemesis::Toxic& toxic, std::string_view reason,
                                 const Status& status) {
  if (log_ == nullptr) return;
  const std::string f = action == Action::kAdd ? "toxic-add" : "toxic-remove";
  Op invoke{.index = -1,
            .time_ns = -1,
            .type = OpType::kInfo,
            .process = Process::Nemesis(),
            .f = f,
            .key = std::nullopt,
            .value = Value::String(Describe(toxic)),
            .error = std::nullopt,
            .extras = {}};
  invoke.AddExtra(field::kNode, Value::String(proxy));
  Op done = invoke.Complete(OpType::kInfo, Value::String(ToxicJson(toxic).dump()));
  done.AddExtra(field::kOk, Value::Bool(status.has_value()));
  done.AddExtra(field::kNode, Value::String(proxy));
  done.AddExtra(field::kSource, Value::String(std::string(reason)));
  if (!status) done.error = Value::String(status.error().message());
  // The event log is evidence, not control: a failed append shows as a log error at Close.
  (void)log_->Append(invoke);
  (void)log_->Append(done);
}

Result<std::unique_ptr<ExperimentToxics>> ExperimentToxics::Open(
    nemesis::ProxyServer& proxies, std::vector<std::string> experiment_proxies,
    const nemesis::Ledger* ledger, history::LogWriter* log) {
  std::unique_ptr<nemesis::ProxyFaults> faults;
  if (ledger != nullptr) {
    auto opened = nemesis::ProxyFaults::Open(
        proxies,
        {.ledger_path = ledger->path(), .run_id = "fit", .control_address = {}, .on_change = {}});
    if (!opened) return std::move(opened).error().WithContext("fit: toxics through the ledger");
    faults = std::move(*opened);
  }
  return std::unique_ptr<ExperimentToxics>(
      new ExperimentToxics(proxies, std::move(experiment_proxies), std::move(faults), log));
}

Status ExperimentToxics::Change(Action action, const std::string& proxy,
                                const nemesis::Toxic& toxic, std::string_view reason) {
  const auto key = std::make_pair(proxy, toxic.name);
  Status status = OkStatus();
  if (action == Action::kAdd) {
    auto added =
        faults_ != nullptr ? faults_->Add(proxy, toxic, reason) : proxies_.AddToxic(proxy, toxic);
    if (added) {
      held_[key] = *added;
    } else {
      status = std::move(added).error().WithContext(fmt::format("fit: add toxic on {}", proxy));
    }
  } else {
    status = faults_ != nullptr ? faults_->Remove(proxy, toxic.name, reason)
                                : proxies_.RemoveToxic(proxy, toxic.name);
    if (!status && status.error().code() == ErrorCode::kNotFound) status = OkStatus();
    if (status) {
      held_.erase(key);
    } else {
      status = std::move(status).error().WithContext(fmt::format("fit: remove toxic on {}", proxy));
    }
  }
  LogChange(action, proxy, toxic, reason, status);
  return status;
}

Status ExperimentToxics::Add(const nemesis::Toxic& toxic, std::string_view reason) {
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < targets_.size(); ++i) {
    Status st = Change(Action::kAdd, targets_[i], toxic, reason);
    if (!st) {
      for (size_t j = 0; j < i; ++j) (void)Change(Action::kRemove, targets_[j], toxic, "rollback");
      return st;
    }
  }
  return OkStatus();
}

Status ExperimentToxics::Remove(std::string_view toxic, std::string_view reason) {
  std::lock_guard lock(mu_);
  Status first = OkStatus();
  for (const std::string& proxy : targets_) {
    auto it = held_.find(std::make_pair(proxy, std::string(toxic)));
    if (it == held_.end()) continue;
    const nemesis::Toxic t = it->second;
    Status st = Change(Action::kRemove, proxy, t, reason);
    if (!st && first) first = st;
  }
  return first;
}

Status ExperimentToxics::RemoveAll(std::string_view reason) {
  std::lock_guard lock(mu_);
  Status first = OkStatus();
  std::vector<std::pair<std::string, nemesis::Toxic>> all;
  for (const auto& [key, value] : held_) all.emplace_back(key.first, value);
  for (const auto& [proxy, toxic] : all) {
    Status st = Change(Action::kRemove, proxy, toxic, reason);
    if (!st && first) first = st;
  }
  return first;
}

size_t ExperimentToxics::held() const {
  std::lock_guard lock(mu_);
  return held_.size();
}

}  // namespace faultline::fit::internal
