#include "history/stats.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <string>

#include "history/txn.h"

namespace faultline::history {

HistoryStats ComputeStats(const History& history) {
  HistoryStats s;
  s.ops = history.size();
  for (size_t i = 0; i < history.size(); ++i) {
    const Op& op = history[i];
    ++s.by_type[std::string(OpTypeName(op.type))];
    ++s.by_f[op.f];
    ++s.by_process[op.process];
    if (!op.is_client()) ++s.nemesis_ops;
    // The nemesis writes :info on both halves, so the pairing, not the type, tells which half
    // opens an operation: a completion always has its invocation before it.
    const size_t partner = history.partner(i);
    // A transaction counts once: at its completion, or at its invocation when it never completes.
    if (IsTxnOp(op) && (partner == History::kNone || partner < i)) {
      ++s.txns;
      if (op.value.is_sequential()) {
        s.micro_ops += op.value.size();
      } else if (partner != History::kNone && history[partner].value.is_sequential()) {
        s.micro_ops += history[partner].value.size();  // a completion without its micro-ops
      }
    }
    // A bare completion (a minimal history's op without a process) has no invocation at all.
    const bool bare = partner == History::kNone && op.is_completion() && op.process.is_none();
    if (!bare && (partner == History::kNone || partner > i)) {
      ++s.invocations;
      if (partner == History::kNone) s.open_ops.push_back(i);
    } else {
      ++s.completions;
    }
    if (op.time_ns >= 0) {
      if (s.first_time_ns < 0) s.first_time_ns = op.time_ns;
      s.last_time_ns = op.time_ns;
    }
  }
  if (s.first_time_ns >= 0) s.time_span_ns = s.last_time_ns - s.first_time_ns;
  return s;
}

std::string FormatStats(const HistoryStats& s) {
  std::string out;
  auto line = [&out](std::string_view label, const std::string& text) {
    out += fmt::format("{:<12} {}\n", label, text);
  };
  line("ops", fmt::format("{}", s.ops));
  line("invocations", fmt::format("{}", s.invocations));
  line("completions", fmt::format("{}", s.completions));
  std::string open = fmt::format("{}", s.open_ops.size());
  if (!s.open_ops.empty()) {
    open += " (op";
    constexpr size_t kShown = 10;
    for (size_t i = 0; i < s.open_ops.size() && i < kShown; ++i) {
      open += fmt::format(" {}", s.open_ops[i]);
    }
    if (s.open_ops.size() > kShown) open += " ...";
    open += ")";
  }
  line("open", open);
  line("nemesis ops", fmt::format("{}", s.nemesis_ops));
  std::string types;
  for (const auto& [name, n] : s.by_type) {
    types += fmt::format("{}{} {}", types.empty() ? "" : ", ", name, n);
  }
  line("by type", types.empty() ? "-" : types);
  std::string fs;
  for (const auto& [name, n] : s.by_f) {
    fs += fmt::format("{}{} {}", fs.empty() ? "" : ", ", name.empty() ? "(no f)" : name, n);
  }
  line("by f", fs.empty() ? "-" : fs);
  std::string procs;
  for (const auto& [process, n] : s.by_process) {
    procs += fmt::format("{}{} {}", procs.empty() ? "" : ", ", process.ToString(), n);
  }
  line("by process", procs.empty() ? "-" : procs);
  if (s.first_time_ns >= 0) {
    line("time", fmt::format("{} ns to {} ns (span {:.3f} s)", s.first_time_ns, s.last_time_ns,
                             static_cast<double>(s.time_span_ns) / 1e9));
  } else {
    line("time", "unknown");
  }
  if (s.txns > 0) line("txns", fmt::format("{} ({} micro-ops)", s.txns, s.micro_ops));
  return out;
}

std::string StatsToJson(const HistoryStats& s) {
  nlohmann::ordered_json j;
  j["ops"] = s.ops;
  j["by_type"] = nlohmann::ordered_json::object();
  for (const auto& [name, n] : s.by_type) j["by_type"][name] = n;
  j["by_f"] = nlohmann::ordered_json::object();
  for (const auto& [name, n] : s.by_f) j["by_f"][name] = n;
  j["by_process"] = nlohmann::ordered_json::object();
  for (const auto& [process, n] : s.by_process) j["by_process"][process.ToString()] = n;
  j["invocations"] = s.invocations;
  j["completions"] = s.completions;
  j["open_ops"] = s.open_ops;
  j["nemesis_ops"] = s.nemesis_ops;
  j["first_time_ns"] = s.first_time_ns;
  j["last_time_ns"] = s.last_time_ns;
  j["time_span_ns"] = s.time_span_ns;
  if (s.txns > 0) {
    j["txns"] = s.txns;
    j["micro_ops"] = s.micro_ops;
  }
  // Process and f names come from input and may hold bytes that are not UTF-8.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace faultline::history
