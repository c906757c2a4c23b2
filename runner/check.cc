// CheckHistory: the checkers a workload needs, the sanity checks, and the figures of a history.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "checker/report.h"
#include "runner/campaign.h"

namespace faultline::runner {
namespace {

using checker::Validity;
using history::History;
using history::Op;
using history::OpType;
using history::Value;
using Json = nlohmann::ordered_json;

double Percentile(std::vector<int64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  const size_t i =
      std::min(sorted.size() - 1, static_cast<size_t>(q * static_cast<double>(sorted.size())));
  return static_cast<double>(sorted[i]) / 1e6;
}

HistoryFigures Figures(const History& h) {
  HistoryFigures fig;
  std::vector<int64_t> latencies;
  int64_t first = -1;
  int64_t last = -1;
  for (size_t i = 0; i < h.size(); ++i) {
    const Op& op = h[i];
    if (!op.is_client()) {
      if (op.is_completion() && h.partner(i) != History::kNone && h.partner(i) < i &&
          op.f != "heal") {
        ++fig.faults;
      }
      continue;
    }
    if (op.time_ns >= 0) {
      if (first < 0) first = op.time_ns;
      last = op.time_ns;
    }
    if (!op.is_invoke()) continue;
    ++fig.client_ops;
    FCounts& c = fig.by_f[op.f];
    const size_t p = h.partner(i);
    if (p == History::kNone) {
      ++c.info;
      continue;
    }
    const Op& done = h[p];
    switch (done.type) {
      case OpType::kOk:
        ++c.ok;
        if (op.time_ns >= 0 && done.time_ns >= op.time_ns) {
          latencies.push_back(done.time_ns - op.time_ns);
        }
        break;
      case OpType::kFail:
        ++c.fail;
        break;
      default:
        ++c.info;
        break;
    }
  }
  std::sort(latencies.begin(), latencies.end());
  fig.latency_p50_ms = Percentile(latencies, 0.50);
  fig.latency_p99_ms = Percentile(latencies, 0.99);
  fig.latency_max_ms = latencies.empty() ? 0 : static_cast<double>(latencies.back()) / 1e6;
  if (first >= 0 && last > first) {
    fig.span_s = static_cast<double>(last - first) / 1e9;
    fig.ops_per_s = static_cast<double>(fig.client_ops) / fig.span_s;
  }
  return fig;
}

// The same history with every keyed client op's value written [key value], the form the checker's
// independent split reads. Positions and indexes are unchanged.
Result<History> AsIndependent(const History& h) {
  std::vector<Op> ops(h.ops().begin(), h.ops().end());
  for (Op& op : ops) {
    if (!op.is_client() || !op.key) continue;
    op.value = Value::Vector({*op.key, std::move(op.value)});
  }
  return History::Build(std::move(ops), history::Source{.name = h.source_name(), .lines = {}});
}

std::string ExtraText(const Op& op, std::string_view name) {
  const Value* v = op.FindExtra(name);
  if (v == nullptr) return "?";
  return v->kind() == history::ValueKind::kString ? v->text() : v->ToEdn();
}

// Where the failing op was served, and the highest revision of an acknowledged write to the same
// key that completed before it began: a read served below that revision was stale.
std::string ServedBy(const History& h, size_t failing) {
  const Op& inv = h[failing];
  const size_t p = h.partner(failing);
  if (p == History::kNone) return fmt::format("op {} never completed", inv.index);
  const Op& done = h[p];
  std::string line =
      fmt::format("op {} ({} {} {} -> {}) was served by {} at revision {}", inv.index,
                  inv.process.ToString(), inv.f, inv.key ? inv.key->ToEdn() : std::string("-"),
                  done.value.ToEdn(), ExtraText(done, "node"), ExtraText(done, "revision"));
  int64_t best = -1;
  int64_t best_index = -1;
  for (size_t i = 0; i < failing; ++i) {
    const Op& w = h[i];
    if (!w.is_client() || !w.is_completion() || w.type != OpType::kOk) continue;
    if (w.f != "write" && w.f != "cas") continue;
    if (w.key != inv.key) continue;
    const Value* rev = w.FindExtra("revision");
    if (rev == nullptr || !rev->is_int()) continue;
    if (rev->as_int() > best) {
      best = rev->as_int();
      best_index = w.index;
    }
  }
  if (best >= 0) {
    line += fmt::format(
        "; the last acknowledged write to that key before it began (op {}) was at "
        "revision {}",
        best_index, best);
  }
  return line;
}

// Reads that are stale by etcd's own revisions, counted by the node that served them: an ok read
// whose reply header revision is below the revision of an acknowledged write (or cas) to the
// same key that completed before the read was invoked. This is evidence independent of the
// linearizability search, and it says which members served stale data (with serializable reads,
// an isolated member, but also a lagging follower).
Json StaleReadsByNode(const History& h) {
  std::map<std::string, int64_t> acked;       // key (EDN) -> highest acknowledged write revision
  std::map<size_t, int64_t> floor_at_invoke;  // read invocation position -> acked revision then
  std::map<std::string, int64_t> count;
  std::map<std::string, std::string> example;
  for (size_t i = 0; i < h.size(); ++i) {
    const Op& op = h[i];
    if (!op.is_client() || !op.key) continue;
    const std::string key = op.key->ToEdn();
    if (op.type == OpType::kInvoke) {
      if (op.f == "read") {
        auto it = acked.find(key);
        if (it != acked.end()) floor_at_invoke[i] = it->second;
      }
      continue;
    }
    if (op.type != OpType::kOk) continue;
    const Value* rev = op.FindExtra("revision");
    if (rev == nullptr || !rev->is_int()) continue;
    if (op.f == "write" || op.f == "cas") {
      int64_t& best = acked[key];
      best = std::max(best, rev->as_int());
      continue;
    }
    if (op.f != "read") continue;
    const size_t inv = h.partner(i);
    auto floor = floor_at_invoke.find(inv);
    if (floor == floor_at_invoke.end() || rev->as_int() >= floor->second) continue;
    const std::string node = ExtraText(op, "node");
    if (count[node]++ == 0) {
      example[node] =
          fmt::format("op {} read {} -> {} at revision {} < acknowledged {}", h[inv].index, key,
                      op.value.ToEdn(), rev->as_int(), floor->second);
    }
  }
  Json j = Json::object();
  for (const auto& [node, n] : count) j[node] = {{"count", n}, {"example", example[node]}};
  return j;
}

CheckerVerdict Linearizable(const History& h, const CampaignConfig& config, Result<void>& error) {
  CheckerVerdict v;
  v.name = "linearizable";
  Result<History> keyed = AsIndependent(h);
  if (!keyed) {
    error = std::move(keyed).error().WithContext("check: linearizable");
    return v;
  }
  checker::CheckOptions options;
  options.model = "independent/cas-register";
  options.time_limit_s = config.check_time_limit_s;
  Result<checker::CheckResult> r = checker::Check(*keyed, options);
  if (!r) {
    error = std::move(r).error().WithContext("check: linearizable");
    return v;
  }
  v.validity = r->validity;
  v.summary = fmt::format("{} ({} ops, {} keys, {:.0f} ms)", checker::ValidityName(r->validity),
                          r->ops, r->partitions, r->check_ms);
  v.detail = checker::RenderText(*r, h);
  Json j = Json::parse(checker::RenderJson(*r, h));
  if (r->counterexample) {
    const std::string served = ServedBy(h, r->counterexample->failing_op);
    v.detail += served + "\n";
    j["served_by"] = served;
  }
  Json stale = StaleReadsByNode(h);
  if (!stale.empty()) {
    std::vector<std::string> parts;
    for (const auto& [node, e] : stale.items()) {
      parts.push_back(fmt::format("{} {} (e.g. {})", node, e["count"].get<int64_t>(),
                                  e["example"].get<std::string>()));
    }
    v.detail +=
        fmt::format("stale reads by revision, per serving node: {}\n", fmt::join(parts, "; "));
  }
  j["stale_reads_by_node"] = std::move(stale);
  v.json = j.dump();
  return v;
}

CheckerVerdict SetVerdict(const History& h, const CampaignConfig& config, Result<void>& error) {
  CheckerVerdict v;
  v.name = "set";
  Result<SetCheckResult> r = CheckSet(
      h,
      SetCheckOptions{.stale_is_invalid = config.read_mode == "linearizable", .max_examples = 10});
  if (!r) {
    error = std::move(r).error().WithContext("check: set");
    return v;
  }
  v.validity = r->validity;
  v.summary = fmt::format(
      "{} ({} adds, {} acknowledged, {} lost, {} unexpected, {} stale, {} "
      "recovered; {} final reads)",
      checker::ValidityName(r->validity), r->attempted, r->acknowledged, r->lost, r->unexpected,
      r->stale, r->recovered, r->final_reads);
  v.detail = r->explanation + "\n";
  v.json = SetCheckResultToJson(*r);
  return v;
}

CheckerVerdict Sanity(const History& h, const HistoryFigures& fig, const CampaignConfig& config) {
  CheckerVerdict v;
  v.name = "sanity";
  std::vector<std::string> problems;
  std::vector<std::string> expected = config.workload == Workload::kSet
                                          ? std::vector<std::string>{"add", "read"}
                                          : std::vector<std::string>{"read", "write", "cas"};
  int64_t completions = 0;
  int64_t infos = 0;
  for (const std::string& f : expected) {
    auto it = fig.by_f.find(f);
    if (it == fig.by_f.end() || it->second.ok == 0) {
      problems.push_back(fmt::format("no {} completed ok", f));
    }
  }
  for (const auto& [f, c] : fig.by_f) {
    completions += c.ok + c.fail + c.info;
    infos += c.info;
  }
  const double share = completions == 0 ? 0 : static_cast<double>(infos) / completions;
  if (completions == 0) problems.push_back("no client op was recorded");
  if (share > config.info_ceiling) {
    problems.push_back(fmt::format("{:.1f}% of ops ended info (ceiling {:.0f}%)", share * 100,
                                   config.info_ceiling * 100));
  }
  int64_t faults = 0;
  for (size_t i = 0; i < h.size(); ++i) {
    const Op& op = h[i];
    if (op.is_client() || h.partner(i) == History::kNone || h.partner(i) > i) continue;
    const Value* ok = op.FindExtra("ok");
    const bool good = ok != nullptr && ok->kind() == history::ValueKind::kBool && ok->as_bool();
    if (op.f != "heal") ++faults;
    if (!good) {
      problems.push_back(fmt::format("{} at {:.1f} s did not take effect: {}", op.f,
                                     static_cast<double>(op.time_ns) / 1e9,
                                     op.value.is_string() ? op.value.text() : op.value.ToEdn()));
    }
  }
  if (!config.nemesis.empty() && faults == 0) {
    problems.push_back("faults were scheduled but none was recorded (run shorter than heal_s?)");
  }
  v.validity = problems.empty() ? Validity::kValid : Validity::kUnknown;
  v.summary = problems.empty()
                  ? fmt::format(
                        "valid (every f has ok completions; info {:.1f}% <= {:.0f}%; {} "
                        "fault{}, each took effect)",
                        share * 100, config.info_ceiling * 100, faults, faults == 1 ? "" : "s")
                  : fmt::format("unknown ({})", fmt::join(problems, "; "));
  Json j;
  j["valid"] = std::string(checker::ValidityName(v.validity));
  j["info_share"] = share;
  j["faults"] = faults;
  j["problems"] = problems;
  v.json = j.dump();
  return v;
}

}  // namespace

Result<RunVerdict> CheckHistory(const History& h, const CampaignConfig& config) {
  RunVerdict out;
  out.figures = Figures(h);
  Result<void> error;
  if (config.workload == Workload::kRegister) {
    out.checkers.push_back(Linearizable(h, config, error));
  } else {
    out.checkers.push_back(SetVerdict(h, config, error));
  }
  if (!error) return std::move(error).error();
  out.checkers.push_back(Sanity(h, out.figures, config));
  out.validity = Validity::kValid;
  for (const CheckerVerdict& c : out.checkers) {
    out.validity = checker::Merge(out.validity, c.validity);
  }
  return out;
}

int ExitCodeFor(Validity validity) {
  switch (validity) {
    case Validity::kValid:
      return 0;
    case Validity::kInvalid:
      return 1;
    case Validity::kUnknown:
      return 2;
  }
  return 2;
}

}  // namespace faultline::runner
