#include "dirt/internal/event_log.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <utility>

#include "history/fields.h"

namespace faultline::dirt::internal {
namespace {

namespace field = history::field;
using history::Op;
using history::OpType;
using history::Process;
using history::Value;

Op MakeOp(OpType type, Process process, std::string_view f, std::string value) {
  return Op{.index = -1,
            .time_ns = -1,
            .type = type,
            .process = std::move(process),
            .f = std::string(f),
            .key = std::nullopt,
            .value = Value::String(std::move(value)),
            .error = std::nullopt,
            .extras = {}};
}

}  // namespace

Process ActorOf(std::string_view source) {
  if (source == "fault") return Process::Nemesis();
  return Process::Named(std::string(source.empty() ? "drill" : source));
}

std::string DrillLogMeta(const Scenario& scenario, std::string_view cluster_name,
                         const std::vector<std::string>& nodes) {
  nlohmann::json j = {
      {"faultline",
       {{"dirt",
         {{"scenario", scenario.id},
          {"title", scenario.title},
          {"source", scenario.source},
          {"cluster", std::string(cluster_name)},
          {"nodes", nodes},
          {"workload", scenario.workload.enabled ? scenario.workload.kind : "none"}}}}}};
  return j.dump();
}

Status EventLog::Record(const DrillEvent& e) {
  const Process actor = ActorOf(e.source);
  const bool nemesis = actor == Process::Nemesis();
  Op invoke = MakeOp(nemesis ? OpType::kInfo : OpType::kInvoke, actor, e.kind,
                     e.node.empty() ? e.kind : e.kind + " " + e.node);
  if (!e.node.empty()) invoke.AddExtra(field::kNode, Value::String(e.node));
  Op done = invoke.Complete(nemesis ? OpType::kInfo : (e.ok ? OpType::kOk : OpType::kFail),
                            Value::String(e.detail));
  done.AddExtra(field::kOk, Value::Bool(e.ok));
  done.AddExtra(field::kSource, Value::String(e.source));
  if (!e.node.empty()) done.AddExtra(field::kNode, Value::String(e.node));
  if (e.pid > 0) done.AddExtra(field::kPid, Value::Int(e.pid));
  done.AddExtra(field::kWallNs, Value::Int(e.wall_ns));
  done.AddExtra(field::kOffsetMs, Value::Int(e.offset_ms));
  if (!e.ok) done.error = Value::String(e.detail);
  std::lock_guard lock(mu_);
  FAULTLINE_RETURN_IF_ERROR(log_.Append(invoke));
  return log_.Append(done);
}

Status EventLog::BeginStep(size_t index, std::string_view f, std::string_view targets,
                           std::string description) {
  Op invoke = MakeOp(OpType::kInfo, Process::Nemesis(), f, std::move(description));
  invoke.AddExtra(field::kStep, Value::Int(static_cast<std::int64_t>(index)));
  invoke.AddExtra(field::kTargets, Value::String(std::string(targets)));
  std::lock_guard lock(mu_);
  return log_.Append(invoke);
}

Status EventLog::EndStep(size_t index, std::string_view f, bool ok,
                         const std::vector<std::string>& nodes,
                         const std::vector<std::string>& details) {
  std::string summary;
  for (const std::string& d : details) summary.append(summary.empty() ? "" : "; ").append(d);
  Op done = MakeOp(OpType::kInfo, Process::Nemesis(), f, summary);
  done.AddExtra(field::kStep, Value::Int(static_cast<std::int64_t>(index)));
  done.AddExtra(field::kOk, Value::Bool(ok));
  done.AddExtra(field::kSource, Value::String("fault"));
  done.AddExtra(field::kNodes, Value::Strings(nodes));
  done.AddExtra(field::kDetails, Value::Strings(details));
  if (!ok) done.error = Value::String(summary);
  std::lock_guard lock(mu_);
  return log_.Append(done);
}

}  // namespace faultline::dirt::internal
