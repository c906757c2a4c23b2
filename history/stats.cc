#include "history/stats.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <string>

#include "history/txn.h"

namespace faultline::history {

namespace {

// What one op adds whatever its pairing: its type, f and process, and the time span.
void CountOp(HistoryStats& s, const Op& op) {
  ++s.ops;
  ++s.by_type[std::string(OpTypeName(op.type))];
  ++s.by_f[op.f];
  ++s.by_process[op.process];
  if (!op.is_client()) ++s.nemesis_ops;
  if (op.time_ns >= 0) {
    if (s.first_time_ns < 0) s.first_time_ns = op.time_ns;
    s.last_time_ns = op.time_ns;
  }
}

}  // namespace

StatsBuilder::StatsBuilder(std::string source_name) : pairer_(std::move(source_name)) {}

Status StatsBuilder::Add(Op&& op, int64_t line) {
  const size_t i = stats_.ops;
  FAULTLINE_ASSIGN_OR_RETURN(const size_t partner, pairer_.Add(op, i, line));
  CountOp(stats_, op);
  const int64_t size = op.value.is_sequential() ? static_cast<int64_t>(op.value.size()) : -1;
  if (partner != OpPairer::kNone) {
    // A completion: the transaction counts here, with the micro-ops of either half.
    Opened opened;
    if (auto it = open_.find(partner); it != open_.end()) {
      opened = it->second;
      open_.erase(it);
    }
    ++stats_.completions;
    if (IsTxnOp(op)) {
      ++stats_.txns;
      if (size >= 0) {
        stats_.micro_ops += static_cast<size_t>(size);
      } else if (opened.micro_ops >= 0) {
        stats_.micro_ops += static_cast<size_t>(opened.micro_ops);
      }
    }
    return OkStatus();
  }
  // A bare completion (a minimal history's op without a process) stands alone.
  if (op.is_completion() && op.process.is_none()) {
    ++stats_.completions;
    if (IsTxnOp(op)) {
      ++stats_.txns;
      if (size >= 0) stats_.micro_ops += static_cast<size_t>(size);
    }
    return OkStatus();
  }
  ++stats_.invocations;
  open_.emplace(i, Opened{.txn = IsTxnOp(op), .micro_ops = size});
  return OkStatus();
}

HistoryStats StatsBuilder::Finish() {
  // Invocations that never completed; a transaction among them counts once, here.
  for (const auto& [position, opened] : open_) {
    stats_.open_ops.push_back(position);
    if (opened.txn) {
      ++stats_.txns;
      if (opened.micro_ops >= 0) stats_.micro_ops += static_cast<size_t>(opened.micro_ops);
    }
  }
  open_.clear();
  if (stats_.first_time_ns >= 0) stats_.time_span_ns = stats_.last_time_ns - stats_.first_time_ns;
  return std::move(stats_);
}

std::string StatsBuilder::TimeRegressionNote() const { return pairer_.TimeRegressionNote(); }

HistoryStats ComputeStats(const History& history) {
  // The same counting as a streamed read: the ops of a built History pair as they did then.
  StatsBuilder builder(history.source_name());
  for (size_t i = 0; i < history.size(); ++i) {
    // Cannot fail: History::Build paired these ops by the same rules.
    (void)builder.Add(Op(history[i]), history.line(i));
  }
  return builder.Finish();
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
