#include "checker/stale_reads.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "checker/internal/ops.h"
#include "history/fields.h"

namespace faultline::checker {
namespace {

using history::History;
using history::Op;
using history::OpType;
using Json = nlohmann::ordered_json;

constexpr size_t kOpen = static_cast<size_t>(-1);

// A partition in force from `from` (its invocation's position) to `to` (the completion of the
// next heal, kOpen when none came).
struct Window {
  size_t from = 0;
  size_t to = kOpen;
  bool known = false;  // the completion said whom it cut off
  std::vector<std::string> cut_off;
  std::string description;
};

std::vector<Window> PartitionWindows(const History& h) {
  std::vector<Window> windows;
  std::vector<size_t> open;
  for (size_t i = 0; i < h.size(); ++i) {
    const Op& op = h[i];
    if (op.is_client()) continue;
    const size_t p = h.partner(i);
    // Nemesis ops are :info pairs; the completion is the later one.
    if (p == History::kNone || p > i) continue;
    if (op.f == "heal") {
      for (size_t w : open) windows[w].to = i;
      open.clear();
      continue;
    }
    if (op.f != "partition" || op.error) continue;
    Window w;
    w.from = p;
    if (const history::Value* cut = op.FindExtra(history::field::kCutOff);
        cut != nullptr && cut->is_sequential()) {
      w.known = true;
      for (const history::Value& n : cut->items()) {
        if (n.is_string()) w.cut_off.push_back(n.text());
      }
    }
    const Op& inv = h[p];
    w.description = inv.value.is_string() ? inv.value.text() : inv.value.ToEdn();
    open.push_back(windows.size());
    windows.push_back(std::move(w));
  }
  return windows;
}

// The version an ok op carries: `first`, else `second`; nullopt when neither is an integer.
std::optional<int64_t> Version(const Op& op, std::string_view first, std::string_view second) {
  for (std::string_view name : {first, second}) {
    if (name.empty()) continue;
    const history::Value* v = op.FindExtra(name);
    if (v != nullptr && v->is_int()) return v->as_int();
  }
  return std::nullopt;
}

struct AckedWrite {
  size_t done = 0;  // completion position
  int64_t revision = 0;
};

void Classify(StaleRead& r, size_t inv, size_t done, const std::vector<Window>& windows) {
  r.cause = StaleReadCause::kLag;
  for (const Window& w : windows) {
    if (w.from > done || (w.to != kOpen && w.to < inv)) continue;
    if (!w.known) {
      if (r.cause == StaleReadCause::kLag) {
        r.cause = StaleReadCause::kUnknown;
        r.fault = w.description;
      }
      continue;
    }
    if (std::find(w.cut_off.begin(), w.cut_off.end(), r.node) != w.cut_off.end()) {
      r.cause = StaleReadCause::kCutOff;
      r.fault = w.description;
      return;
    }
  }
}

}  // namespace

std::string_view StaleReadCauseName(StaleReadCause cause) {
  switch (cause) {
    case StaleReadCause::kCutOff:
      return "cut_off";
    case StaleReadCause::kLag:
      return "lag";
    case StaleReadCause::kUnknown:
      return "unknown";
  }
  return "unknown";
}

std::string StaleRead::Describe() const {
  std::string line = fmt::format(
      "op {} read {} -> {} on {} at revision {}: missed op {} {} {} "
      "(revision {})",
      index, key, value, node, revision, missed_index, missed_f, missed_value, missed_revision);
  if (missed_by_s) {
    line += fmt::format(", acknowledged {:.3f} s before the read began", *missed_by_s);
  }
  if (missed_writes > 1) line += fmt::format(" ({} newer writes missed)", missed_writes);
  switch (cause) {
    case StaleReadCause::kCutOff:
      line += fmt::format("; {} was cut off from the majority ({})", node, fault);
      break;
    case StaleReadCause::kLag:
      line += fmt::format("; {} was in the majority (lag)", node);
      break;
    case StaleReadCause::kUnknown:
      line += fmt::format("; a partition whose cut is not recorded was in force ({})", fault);
      break;
  }
  return line;
}

StaleReadReport FindStaleReads(const History& h) {
  StaleReadReport report;
  const std::vector<Window> windows = PartitionWindows(h);
  report.partitions = static_cast<int64_t>(windows.size());
  std::map<std::string, std::vector<AckedWrite>> acked;    // key (EDN) -> in completion order
  std::map<std::string, int64_t> floor;                    // key -> highest acked revision
  std::map<size_t, std::pair<int64_t, size_t>> at_invoke;  // read position -> floor, acked count
  for (size_t i = 0; i < h.size(); ++i) {
    const Op& op = h[i];
    if (!op.is_client() || !op.key) continue;
    const std::string key = op.key->ToEdn();
    if (op.type == OpType::kInvoke) {
      if (op.f == "read" && floor.count(key) != 0) {
        at_invoke[i] = {floor[key], acked[key].size()};
      }
      continue;
    }
    if (op.type != OpType::kOk) continue;
    if (op.f == "write" || op.f == "cas") {
      const std::optional<int64_t> rev = Version(op, history::field::kRevision, "");
      if (!rev) continue;
      acked[key].push_back({.done = i, .revision = *rev});
      int64_t& best = floor[key];
      best = std::max(best, *rev);
      continue;
    }
    if (op.f != "read") continue;
    const size_t inv = h.partner(i);
    auto then = at_invoke.find(inv);
    if (then == at_invoke.end()) continue;
    const std::optional<int64_t> rev =
        Version(op, history::field::kRevision, history::field::kModRevision);
    if (!rev || *rev >= then->second.first) continue;
    StaleRead r;
    r.index = h[inv].index;
    r.node = internal::ExtraText(op, history::field::kNode);
    r.key = key;
    r.value = op.value.ToEdn();
    r.revision = *rev;
    r.floor = then->second.first;
    const std::vector<AckedWrite>& writes = acked[key];
    for (size_t k = 0; k < then->second.second; ++k) {
      if (writes[k].revision <= *rev) continue;
      if (r.missed_writes++ > 0) continue;
      // The first found is the first acknowledged: writes are kept in completion order.
      const Op& w = h[writes[k].done];
      const size_t w_inv = h.partner(writes[k].done);
      r.missed_index = w_inv == History::kNone ? w.index : h[w_inv].index;
      r.missed_f = w.f;
      r.missed_value = w.value.ToEdn();
      r.missed_revision = writes[k].revision;
      if (w.time_ns >= 0 && h[inv].time_ns >= w.time_ns) {
        r.missed_by_s = static_cast<double>(h[inv].time_ns - w.time_ns) / 1e9;
      }
    }
    Classify(r, inv, i, windows);
    switch (r.cause) {
      case StaleReadCause::kCutOff:
        ++report.cut_off;
        break;
      case StaleReadCause::kLag:
        ++report.lag;
        break;
      case StaleReadCause::kUnknown:
        ++report.unknown;
        break;
    }
    report.reads.push_back(std::move(r));
  }
  return report;
}

std::string StaleReadReportToJson(const StaleReadReport& report, size_t max_examples) {
  Json j;
  j["count"] = report.reads.size();
  j["cut_off"] = report.cut_off;
  j["lag"] = report.lag;
  j["unknown"] = report.unknown;
  j["partitions"] = report.partitions;
  std::map<std::string, std::map<std::string, int64_t>> by_node;
  Json examples = Json::object();
  for (StaleReadCause cause :
       {StaleReadCause::kCutOff, StaleReadCause::kLag, StaleReadCause::kUnknown}) {
    examples[std::string(StaleReadCauseName(cause))] = Json::array();
  }
  for (const StaleRead& r : report.reads) {
    const std::string cause(StaleReadCauseName(r.cause));
    std::map<std::string, int64_t>& n = by_node[r.node];
    for (const char* c : {"cut_off", "lag", "unknown"}) n.emplace(c, 0);
    ++n[cause];
    Json& list = examples[cause];
    if (list.size() >= max_examples) continue;
    list.push_back(Json{{"op", r.index},
                        {"node", r.node},
                        {"key", r.key},
                        {"value", r.value},
                        {"revision", r.revision},
                        {"missed_op", r.missed_index},
                        {"missed_f", r.missed_f},
                        {"missed_value", r.missed_value},
                        {"missed_revision", r.missed_revision},
                        {"missed_writes", r.missed_writes},
                        {"missed_by_ms", r.missed_by_s ? Json(*r.missed_by_s * 1e3) : Json()},
                        {"fault", r.fault},
                        {"text", r.Describe()}});
  }
  Json nodes = Json::object();
  for (const auto& [node, counts] : by_node) {
    Json c = Json::object();
    for (const char* k : {"cut_off", "lag", "unknown"}) c[k] = counts.at(k);
    nodes[node] = std::move(c);
  }
  j["by_node"] = std::move(nodes);
  j["examples"] = std::move(examples);
  return j.dump();
}

std::string StaleReadSummary(const StaleReadReport& report) {
  if (report.reads.empty()) return {};
  std::map<StaleReadCause, std::map<std::string, int64_t>> by_node;
  for (const StaleRead& r : report.reads) ++by_node[r.cause][r.node];
  auto nodes = [&](StaleReadCause cause) {
    std::vector<std::string> parts;
    for (const auto& [node, n] : by_node[cause]) parts.push_back(fmt::format("{} {}", node, n));
    return fmt::format("{}", fmt::join(parts, ", "));
  };
  std::vector<std::string> parts;
  if (report.cut_off > 0) {
    parts.push_back(fmt::format("{} from a node cut off from the majority ({})", report.cut_off,
                                nodes(StaleReadCause::kCutOff)));
  }
  if (report.lag > 0) {
    parts.push_back(fmt::format("{} from a node in the majority, lagging ({})", report.lag,
                                nodes(StaleReadCause::kLag)));
  }
  if (report.unknown > 0) {
    parts.push_back(fmt::format("{} during a partition that did not record its cut ({})",
                                report.unknown, nodes(StaleReadCause::kUnknown)));
  }
  return fmt::format("{} stale read{}: {}", report.reads.size(),
                     report.reads.size() == 1 ? "" : "s", fmt::join(parts, "; "));
}

}  // namespace faultline::checker
