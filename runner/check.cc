// CheckHistory: the checkers a workload needs, the sanity checks, and the figures of a history.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "checker/report.h"
#include "runner/campaign.h"
#include "runner/counter_checker.h"
#include "runner/revision_checker.h"

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
        // A lock's hold lasts as long as it was asked to: not a latency.
        if (op.time_ns >= 0 && done.time_ns >= op.time_ns && op.f != "hold") {
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

// The revision-order checker (runner/revision_checker.h) beside the search, for etcd histories.
// Both verdicts are reported and neither overrides the other; when one says valid and the other
// invalid, both details say so loudly: that is a bug to find (in etcd, the recording or a checker).
CheckerVerdict RevisionOrder(const History& h, const CampaignConfig& config,
                             CheckerVerdict& linearizable, Result<void>& error) {
  CheckerVerdict v;
  v.name = "revision-order";
  Result<RevisionCheckResult> r = CheckRevisionOrder(h);
  if (!r) {
    error = std::move(r).error().WithContext("check: revision-order");
    return v;
  }
  v.validity = r->validity;
  v.summary =
      fmt::format("{} ({} reads, {} writes, {} keys, {:.0f} ms)",
                  checker::ValidityName(r->validity), r->reads, r->writes, r->keys, r->check_ms);
  v.detail = r->explanation + "\n";
  for (const RevisionViolation& violation : r->violations) {
    v.detail += fmt::format("{} {}: {}\n", violation.count, violation.kind,
                            fmt::join(violation.examples, "; "));
  }
  const bool disagree =
      (r->validity == Validity::kValid && linearizable.validity == Validity::kInvalid) ||
      (r->validity == Validity::kInvalid && linearizable.validity == Validity::kValid);
  if (disagree) {
    const std::string line = fmt::format(
        "!!! checkers disagree: linearizable says {}, revision-order says {} ({})\n",
        checker::ValidityName(linearizable.validity), checker::ValidityName(r->validity),
        r->validity == Validity::kValid
            ? "a linearization in revision order exists, so the search is wrong: a checker bug"
        : config.read_mode == "serializable"
            ? "the values fit some order, but not etcd's revision order: serializable reads "
              "may be stale or go back in time, and equal values hid it from the search"
            : "the values fit some order, but not etcd's revision order: a bug of etcd or of "
              "the recording");
    v.detail += line;
    linearizable.detail += line;
  }
  Json j = Json::parse(RevisionCheckResultToJson(*r));
  j["checkers_disagree"] = disagree;
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

// ---- counter and lock workloads (issue 5 §3) ----

CheckerVerdict CounterVerdict(const History& h, Result<void>& error) {
  CheckerVerdict v;
  v.name = "counter";
  Result<CounterCheckResult> r = CheckCounter(h, CounterCheckOptions{.max_examples = 10});
  if (!r) {
    error = std::move(r).error().WithContext("check: counter");
    return v;
  }
  v.validity = r->validity;
  v.summary = fmt::format(
      "{} ({} keys, {} adds: {} acknowledged, {} failed, {} indeterminate; {} reads checked, "
      "{} final; {} out of bounds)",
      checker::ValidityName(r->validity), r->keys, r->attempted, r->acknowledged, r->failed,
      r->indeterminate, r->reads, r->final_reads, r->errors);
  v.detail = r->explanation + "\n";
  v.json = CounterCheckResultToJson(*r);
  return v;
}

double Seconds(const Op& op) { return static_cast<double>(op.time_ns) / 1e9; }

// One lock cycle of a process: an ok acquire, its hold, and the release's invocation.
struct LockCycle {
  std::string key;
  size_t acquired = 0;               // position of the ok acquire's completion
  size_t released = History::kNone;  // position of the release's invocation
  std::string hold;  // what the hold op said ("held 3.1 s, 2 keepalives answered, ttl 2")
};

std::string HoldText(const History& h, size_t done) {
  const Op& op = h[done];
  const Op& inv = h[h.partner(done)];
  std::string text =
      fmt::format("hold {} ms ended {}", inv.value.ToEdn(), history::OpTypeName(op.type));
  for (std::string_view name : {"keepalives", "ttl", "lost", "keepalive_errors"}) {
    if (const Value* x = op.FindExtra(name)) text += fmt::format(", {} {}", name, x->ToEdn());
  }
  return text;
}

// Holds that overlap in real time, from the history alone: process B's acquire completed ok while
// process A still held the same lock (A's release was invoked only later). Each is a mutual-
// exclusion violation whatever the linearization; the mutex checker finds them too, this names
// them. Returns the count and fills `example` with the first.
int64_t OverlappingHolds(const History& h, std::string& example) {
  std::map<int64_t, LockCycle> open;  // by process number
  std::vector<LockCycle> cycles;
  for (size_t i = 0; i < h.size(); ++i) {
    const Op& op = h[i];
    if (!op.is_client()) continue;
    const int64_t p = op.process.number;
    if (op.f == "acquire" && op.type == OpType::kOk) {
      LockCycle cycle;
      cycle.key = op.key ? op.key->ToEdn() : "-";
      cycle.acquired = i;
      open[p] = std::move(cycle);
    } else if (op.f == "hold" && op.is_completion() && open.count(p) != 0) {
      open[p].hold = HoldText(h, i);
    } else if (op.f == "release" && op.is_invoke() && open.count(p) != 0) {
      open[p].released = i;
      cycles.push_back(std::move(open[p]));
      open.erase(p);
    }
  }
  int64_t count = 0;
  for (const LockCycle& a : cycles) {
    for (const LockCycle& b : cycles) {
      if (a.key != b.key || b.acquired <= a.acquired || b.acquired >= a.released) continue;
      if (count++ > 0) continue;
      const Op& a_done = h[a.acquired];
      const Op& b_done = h[b.acquired];
      const Op& a_rel = h[a.released];
      example = fmt::format(
          "lock {}: {} acquired it at {:.3f} s (op {}, via {}); {} acquired it at {:.3f} s "
          "(op {}, via {}) while {} still held it: {}'s release was invoked only at {:.3f} s "
          "(op {}){}",
          a.key, a_done.process.ToString(), Seconds(a_done), h[h.partner(a.acquired)].index,
          ExtraText(a_done, "node"), b_done.process.ToString(), Seconds(b_done),
          h[h.partner(b.acquired)].index, ExtraText(b_done, "node"), a_done.process.ToString(),
          a_done.process.ToString(), Seconds(a_rel), a_rel.index,
          a.hold.empty() ? std::string()
                         : fmt::format("; {}'s {}", a_done.process.ToString(), a.hold));
    }
  }
  return count;
}

// The lock workload: acquire / release checked per lock with the mutex model. Hold ops (the
// holder keeping its lease alive) are recorded for the reader but are not mutex ops: they are
// left out of the checked history.
CheckerVerdict LockVerdict(const History& h, const CampaignConfig& config, Result<void>& error) {
  CheckerVerdict v;
  v.name = "mutex";
  std::vector<Op> ops;
  for (const Op& op : h.ops()) {
    if (op.is_client() && op.f == "hold") continue;
    ops.push_back(op);
  }
  Result<History> filtered =
      History::Build(std::move(ops), history::Source{.name = h.source_name(), .lines = {}});
  if (!filtered) {
    error = std::move(filtered).error().WithContext("check: mutex: without hold ops");
    return v;
  }
  Result<History> keyed = AsIndependent(*filtered);
  if (!keyed) {
    error = std::move(keyed).error().WithContext("check: mutex");
    return v;
  }
  checker::CheckOptions options;
  options.model = "independent/mutex";
  options.time_limit_s = config.check_time_limit_s;
  Result<checker::CheckResult> r = checker::Check(*keyed, options);
  if (!r) {
    error = std::move(r).error().WithContext("check: mutex");
    return v;
  }
  std::string example;
  const int64_t overlaps = OverlappingHolds(h, example);
  v.validity = r->validity;
  v.summary =
      fmt::format("{} ({} ops, {} locks, {} overlapping holds, {:.0f} ms)",
                  checker::ValidityName(r->validity), r->ops, r->partitions, overlaps, r->check_ms);
  v.detail = checker::RenderText(*r, *keyed);
  if (!example.empty()) v.detail += example + "\n";
  Json j = Json::parse(checker::RenderJson(*r, *keyed));
  j["overlapping_holds"] = overlaps;
  if (!example.empty()) j["overlap_example"] = example;
  v.json = j.dump();
  return v;
}

CheckerVerdict Sanity(const History& h, const HistoryFigures& fig, const CampaignConfig& config) {
  CheckerVerdict v;
  v.name = "sanity";
  std::vector<std::string> problems;
  std::vector<std::string> expected;
  switch (config.workload) {
    case Workload::kRegister:
      expected = {"read", "write", "cas"};
      break;
    case Workload::kSet:
    case Workload::kCounter:
      expected = {"add", "read"};
      break;
    case Workload::kLock:
      expected = {"acquire", "release"};
      break;
  }
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
  int64_t probed = 0;    // faults an independent probe confirmed
  int64_t unprobed = 0;  // faults only the nemesis's report vouches for
  std::vector<std::string> unprobed_examples;
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
      continue;
    }
    // The independent probe's finding, when there was one (runner/campaign.h FaultProbe).
    const Value* confirmed = op.FindExtra("confirmed");
    const Value* probe = op.FindExtra("probe");
    const std::string evidence = probe != nullptr && probe->is_string() ? probe->text() : "";
    if (confirmed != nullptr && confirmed->kind() == history::ValueKind::kBool) {
      if (confirmed->as_bool()) {
        ++probed;
      } else {
        problems.push_back(
            fmt::format("{} at {:.1f} s: the nemesis reported it applied, but a "
                        "probe saw no effect: {}",
                        op.f, static_cast<double>(op.time_ns) / 1e9, evidence));
      }
    } else if (op.f != "heal") {
      ++unprobed;
      if (unprobed_examples.size() < 3 && !evidence.empty()) {
        unprobed_examples.push_back(fmt::format("{}: {}", op.f, evidence));
      }
    }
  }
  if (!config.nemesis.empty() && faults == 0) {
    problems.push_back("faults were scheduled but none was recorded (run shorter than heal_s?)");
  }
  v.validity = problems.empty() ? Validity::kValid : Validity::kUnknown;
  v.summary = problems.empty()
                  ? fmt::format(
                        "valid (every f has ok completions; info {:.1f}% <= {:.0f}%; {} "
                        "fault{}, each took effect: {} confirmed by a probe, {} by the nemesis "
                        "report only)",
                        share * 100, config.info_ceiling * 100, faults, faults == 1 ? "" : "s",
                        probed, unprobed)
                  : fmt::format("unknown ({})", fmt::join(problems, "; "));
  Json j;
  j["valid"] = std::string(checker::ValidityName(v.validity));
  j["info_share"] = share;
  j["faults"] = faults;
  j["faults_confirmed_by_probe"] = probed;
  j["faults_unprobed"] = unprobed;
  j["unprobed_examples"] = unprobed_examples;
  j["problems"] = problems;
  v.json = j.dump();
  return v;
}

}  // namespace

Result<RunVerdict> CheckHistory(const History& h, const CampaignConfig& config) {
  RunVerdict out;
  out.figures = Figures(h);
  Result<void> error;
  switch (config.workload) {
    case Workload::kRegister:
      out.checkers.push_back(Linearizable(h, config, error));
      if (error && HasRevisions(h)) {
        out.checkers.push_back(RevisionOrder(h, config, out.checkers.back(), error));
      }
      break;
    case Workload::kSet:
      out.checkers.push_back(SetVerdict(h, config, error));
      break;
    case Workload::kCounter:
      out.checkers.push_back(CounterVerdict(h, error));
      break;
    case Workload::kLock:
      out.checkers.push_back(LockVerdict(h, config, error));
      break;
  }
  if (!error) return std::move(error).error();
  out.checkers.push_back(Sanity(h, out.figures, config));
  out.validity = Validity::kValid;
  for (CheckerVerdict& c : out.checkers) {
    // The revision-order checker is a second opinion beside the search: its invalid is evidence
    // (etcd's own revisions contradict the history), but its unknown (a revision it could not
    // attribute) says nothing about a history the search decided, so it does not merge.
    if (c.name == "revision-order" && c.validity == Validity::kUnknown) {
      c.summary += " (a second opinion: its unknown leaves the verdict to the search)";
      continue;
    }
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
