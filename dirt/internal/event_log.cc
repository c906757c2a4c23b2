#include "dirt/internal/event_log.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <utility>

namespace faultline::dirt::internal {
namespace {

using history::Field;
using history::Op;
using history::OpType;
using history::Process;
using history::Value;

Field Extra(std::string_view name, Value value) {
  return Field{.key = Value::Keyword(std::string(name)), .value = std::move(value)};
}

Value Strings(const std::vector<std::string>& list) {
  std::vector<Value> items;
  items.reserve(list.size());
  for (const std::string& s : list) items.push_back(Value::String(s));
  return Value::Vector(std::move(items));
}

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
  if (!e.node.empty()) invoke.extras.push_back(Extra("node", Value::String(e.node)));
  Op done = invoke.Complete(nemesis ? OpType::kInfo : (e.ok ? OpType::kOk : OpType::kFail),
                            Value::String(e.detail));
  done.extras.push_back(Extra("ok", Value::Bool(e.ok)));
  done.extras.push_back(Extra("source", Value::String(e.source)));
  if (!e.node.empty()) done.extras.push_back(Extra("node", Value::String(e.node)));
  if (e.pid > 0) done.extras.push_back(Extra("pid", Value::Int(e.pid)));
  done.extras.push_back(Extra("wall_ns", Value::Int(e.wall_ns)));
  done.extras.push_back(Extra("offset_ms", Value::Int(e.offset_ms)));
  if (!e.ok) done.error = Value::String(e.detail);
  std::lock_guard lock(mu_);
  FAULTLINE_RETURN_IF_ERROR(log_.Append(invoke));
  return log_.Append(done);
}

Status EventLog::BeginStep(size_t index, std::string_view f, std::string_view targets,
                           std::string description) {
  Op invoke = MakeOp(OpType::kInfo, Process::Nemesis(), f, std::move(description));
  invoke.extras.push_back(Extra("step", Value::Int(static_cast<std::int64_t>(index))));
  invoke.extras.push_back(Extra("targets", Value::String(std::string(targets))));
  std::lock_guard lock(mu_);
  return log_.Append(invoke);
}

Status EventLog::EndStep(size_t index, std::string_view f, bool ok,
                         const std::vector<std::string>& nodes,
                         const std::vector<std::string>& details) {
  std::string summary;
  for (const std::string& d : details) summary.append(summary.empty() ? "" : "; ").append(d);
  Op done = MakeOp(OpType::kInfo, Process::Nemesis(), f, summary);
  done.extras.push_back(Extra("step", Value::Int(static_cast<std::int64_t>(index))));
  done.extras.push_back(Extra("ok", Value::Bool(ok)));
  done.extras.push_back(Extra("source", Value::String("fault")));
  done.extras.push_back(Extra("nodes", Strings(nodes)));
  done.extras.push_back(Extra("details", Strings(details)));
  if (!ok) done.error = Value::String(summary);
  std::lock_guard lock(mu_);
  return log_.Append(done);
}

}  // namespace faultline::dirt::internal
