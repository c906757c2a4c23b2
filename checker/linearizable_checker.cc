#include "checker/linearizable_checker.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "checker/internal/ops.h"
#include "checker/report.h"
#include "checker/stale_reads.h"
#include "history/fields.h"

namespace faultline::checker {
namespace {

using history::History;
using history::Op;
using internal::ExtraText;
using Json = nlohmann::ordered_json;

// Where the failing op was served, and the highest revision of an acknowledged write to the same
// key that completed before it began: a read served below that revision was stale.
std::string ServedBy(const History& h, size_t failing) {
  const Op& inv = h[failing];
  const size_t p = h.partner(failing);
  if (p == History::kNone) return fmt::format("op {} never completed", inv.index);
  const Op& done = h[p];
  std::string line = fmt::format(
      "op {} ({} {} {} -> {}) was served by {} at revision {}", inv.index, inv.process.ToString(),
      inv.f, inv.key ? inv.key->ToEdn() : std::string("-"), done.value.ToEdn(),
      ExtraText(done, history::field::kNode), ExtraText(done, history::field::kRevision));
  int64_t best = -1;
  int64_t best_index = -1;
  for (size_t i = 0; i < failing; ++i) {
    const Op& w = h[i];
    if (!w.is_client() || !w.is_completion() || w.type != history::OpType::kOk) continue;
    if (w.f != "write" && w.f != "cas") continue;
    if (w.key != inv.key) continue;
    const history::Value* rev = w.FindExtra(history::field::kRevision);
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

// Reads that are stale by the system's own versions (etcd's revisions, ZooKeeper's zxids),
// counted by the node that served them: an ok read whose version is below that of an acknowledged
// write (or cas) to the same key that completed before the read was invoked. This is evidence
// independent of the linearizability search, and it says which members served stale data (with
// serializable reads, an isolated member, but also a lagging follower: FindStaleReads tells which).
Json StaleReadsByNode(const StaleReadReport& report) {
  std::map<std::string, int64_t> count;
  std::map<std::string, std::string> example;
  for (const StaleRead& r : report.reads) {
    if (count[r.node]++ == 0) {
      example[r.node] = fmt::format("op {} read {} -> {} at revision {} < acknowledged {}", r.index,
                                    r.key, r.value, r.revision, r.floor);
    }
  }
  Json j = Json::object();
  for (const auto& [node, n] : count) j[node] = {{"count", n}, {"example", example[node]}};
  return j;
}

// A history checked per key, in the independent form of a model ("independent/cas-register").
struct KeyedSearch {
  History keyed;  // the history checked: values written [key value]
  CheckResult result;
};

Result<KeyedSearch> SearchPerKey(const History& h, std::string model, double time_limit_s) {
  FAULTLINE_ASSIGN_OR_RETURN(History keyed, internal::AsIndependent(h));
  CheckOptions search;
  search.model = std::move(model);
  search.time_limit_s = time_limit_s;
  FAULTLINE_ASSIGN_OR_RETURN(CheckResult result, checker::Check(keyed, search));
  return KeyedSearch{.keyed = std::move(keyed), .result = std::move(result)};
}

Result<Verdict> LinearizableVerdict(const History& h, const SearchCheckerOptions& options) {
  Verdict v;
  v.name = "linearizable";
  FAULTLINE_ASSIGN_OR_RETURN(KeyedSearch search,
                             SearchPerKey(h, "independent/cas-register", options.time_limit_s));
  const CheckResult& r = search.result;
  v.validity = r.validity;
  v.summary = fmt::format("{} ({} ops, {} keys, {:.0f} ms)", ValidityName(r.validity), r.ops,
                          r.partitions, r.check_ms);
  v.detail = RenderText(r, h);
  Json j = Json::parse(RenderJson(r, h));
  if (r.counterexample) {
    v.anomalies["nonlinearizable"] = 1;
    v.examples.push_back(r.counterexample->explanation);
    const std::string served = ServedBy(h, r.counterexample->failing_op);
    v.detail += served + "\n";
    j["served_by"] = served;
  }
  const StaleReadReport stale_reads = FindStaleReads(h);
  Json stale = StaleReadsByNode(stale_reads);
  if (!stale.empty()) {
    std::vector<std::string> parts;
    int64_t total = 0;
    for (const auto& [node, e] : stale.items()) {
      total += e["count"].get<int64_t>();
      parts.push_back(fmt::format("{} {} (e.g. {})", node, e["count"].get<int64_t>(),
                                  e["example"].get<std::string>()));
      v.examples.push_back(e["example"].get<std::string>());
    }
    v.anomalies["stale-read"] = total;
    v.detail +=
        fmt::format("stale reads by revision, per serving node: {}\n", fmt::join(parts, "; "));
  }
  j["stale_reads_by_node"] = std::move(stale);
  // Why each was stale: cut off from the majority by a partition, or lagging in the majority.
  j["stale_reads"] = Json::parse(StaleReadReportToJson(stale_reads, 5));
  if (const std::string line = StaleReadSummary(stale_reads); !line.empty()) {
    v.summary.pop_back();  // the summary's closing parenthesis
    v.summary += fmt::format(
        "; stale reads: {} cut off, {} lag{})", stale_reads.cut_off, stale_reads.lag,
        stale_reads.unknown > 0 ? fmt::format(", {} unknown", stale_reads.unknown) : std::string());
    v.detail += line + "\n";
    // The first of each cause, so both kinds show with their numbers.
    for (StaleReadCause cause :
         {StaleReadCause::kCutOff, StaleReadCause::kLag, StaleReadCause::kUnknown}) {
      auto it = std::find_if(stale_reads.reads.begin(), stale_reads.reads.end(),
                             [&](const StaleRead& s) { return s.cause == cause; });
      if (it != stale_reads.reads.end()) v.detail += "  e.g. " + it->Describe() + "\n";
    }
  }
  v.json = j.dump();
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
  for (std::string_view name : {history::field::kKeepalives, history::field::kTtl,
                                history::field::kLost, history::field::kKeepaliveErrors}) {
    if (const history::Value* x = op.FindExtra(name))
      text += fmt::format(", {} {}", name, x->ToEdn());
  }
  return text;
}

struct Overlaps {
  int64_t count = 0;
  std::string example;  // the first, empty when there is none
};

Overlaps OverlappingHolds(const History& h) {
  std::map<int64_t, LockCycle> open;  // by process number
  std::vector<LockCycle> cycles;
  for (size_t i = 0; i < h.size(); ++i) {
    const Op& op = h[i];
    if (!op.is_client()) continue;
    const int64_t p = op.process.number;
    if (op.f == "acquire" && op.type == history::OpType::kOk) {
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
  Overlaps out;
  for (const LockCycle& a : cycles) {
    for (const LockCycle& b : cycles) {
      if (a.key != b.key || b.acquired <= a.acquired || b.acquired >= a.released) continue;
      if (out.count++ > 0) continue;
      const Op& a_done = h[a.acquired];
      const Op& b_done = h[b.acquired];
      const Op& a_rel = h[a.released];
      out.example = fmt::format(
          "lock {}: {} acquired it at {:.3f} s (op {}, via {}); {} acquired it at {:.3f} s "
          "(op {}, via {}) while {} still held it: {}'s release was invoked only at {:.3f} s "
          "(op {}){}",
          a.key, a_done.process.ToString(), Seconds(a_done), h[h.partner(a.acquired)].index,
          ExtraText(a_done, history::field::kNode), b_done.process.ToString(), Seconds(b_done),
          h[h.partner(b.acquired)].index, ExtraText(b_done, history::field::kNode),
          a_done.process.ToString(), a_done.process.ToString(), Seconds(a_rel), a_rel.index,
          a.hold.empty() ? std::string()
                         : fmt::format("; {}'s {}", a_done.process.ToString(), a.hold));
    }
  }
  return out;
}

Result<Verdict> MutexVerdict(const History& h, const SearchCheckerOptions& options) {
  Verdict v;
  v.name = "mutex";
  std::vector<Op> ops;
  for (const Op& op : h.ops()) {
    if (op.is_client() && op.f == "hold") continue;
    ops.push_back(op);
  }
  Result<History> filtered =
      History::Build(std::move(ops), history::Source{.name = h.source_name(), .lines = {}});
  if (!filtered) {
    return std::move(filtered).error().WithContext("without hold ops");
  }
  FAULTLINE_ASSIGN_OR_RETURN(KeyedSearch search,
                             SearchPerKey(*filtered, "independent/mutex", options.time_limit_s));
  const CheckResult& r = search.result;
  const History& keyed = search.keyed;
  const Overlaps overlaps = OverlappingHolds(h);
  v.validity = r.validity;
  v.summary =
      fmt::format("{} ({} ops, {} locks, {} overlapping holds, {:.0f} ms)",
                  ValidityName(r.validity), r.ops, r.partitions, overlaps.count, r.check_ms);
  v.detail = RenderText(r, keyed);
  if (!overlaps.example.empty()) v.detail += overlaps.example + "\n";
  if (overlaps.count > 0) v.anomalies["overlapping-holds"] = overlaps.count;
  if (r.counterexample) v.examples.push_back(r.counterexample->explanation);
  if (!overlaps.example.empty()) v.examples.push_back(overlaps.example);
  Json j = Json::parse(RenderJson(r, keyed));
  j["overlapping_holds"] = overlaps.count;
  if (!overlaps.example.empty()) j["overlap_example"] = overlaps.example;
  v.json = j.dump();
  return v;
}

}  // namespace

std::unique_ptr<Checker> MakeLinearizableChecker(SearchCheckerOptions options) {
  return internal::MakeChecker(
      "linearizable", {.check = [options = std::move(options)](
                                    const History& h) { return LinearizableVerdict(h, options); },
                       .applies = {},
                       .disagreement = {}});
}

std::unique_ptr<Checker> MakeMutexChecker(SearchCheckerOptions options) {
  return internal::MakeChecker("mutex",
                               {.check = [options = std::move(options)](
                                             const History& h) { return MutexVerdict(h, options); },
                                .applies = {},
                                .disagreement = {}});
}

}  // namespace faultline::checker
