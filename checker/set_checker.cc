#include "checker/set_checker.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "checker/internal/ops.h"
#include "history/fields.h"

namespace faultline::checker {
namespace {

using history::History;
using history::Op;
using history::Value;

struct ElementKey {
  Value set;
  Value element;
};
struct ElementLess {
  bool operator()(const ElementKey& a, const ElementKey& b) const {
    history::ValueLess less;
    if (less(a.set, b.set)) return true;
    if (less(b.set, a.set)) return false;
    return less(a.element, b.element);
  }
};

struct Add {
  size_t invoke = 0;
  std::optional<size_t> complete;                    // set for an ok completion
  history::OpType outcome = history::OpType::kInfo;  // kInfo also for an add that never completed
  bool seen = false;                                 // contained in some ok read
  bool in_final = false;                             // contained in some final read
  // The positions, in its set's list of reads, of the reads that contain it, ascending. One pass
  // over the reads fills these, so the checks per add cost what its element appears in, not the
  // number of reads (a long set run has thousands of reads of thousands of elements each).
  std::vector<uint32_t> present;
};

struct Read {
  size_t invoke = 0;
  size_t complete = 0;  // its ok completion, which holds the elements
  bool final = false;
};

Result<Verdict> SetVerdict(const History& h, const SetCheckOptions& options) {
  FAULTLINE_ASSIGN_OR_RETURN(SetCheckResult r, CheckSet(h, options));
  Verdict v{
      .name = "set",
      .validity = r.validity,
      .summary = fmt::format("{} ({} adds, {} acknowledged, {} lost, {} unexpected, {} stale, {} "
                             "recovered; {} final reads)",
                             ValidityName(r.validity), r.attempted, r.acknowledged, r.lost,
                             r.unexpected, r.stale, r.recovered, r.final_reads),
      .detail = r.explanation + "\n",
      .json = SetCheckResultToJson(r),
      .anomalies = {},
      .examples = {}};
  for (const auto& [kind, n] : {std::pair<const char*, int64_t>{"lost", r.lost},
                                {"unexpected", r.unexpected},
                                {"stale", r.stale}}) {
    if (n > 0) v.anomalies[kind] = n;
  }
  for (const auto* examples : {&r.lost_examples, &r.unexpected_examples, &r.stale_examples}) {
    v.examples.insert(v.examples.end(), examples->begin(), examples->end());
  }
  return v;
}

}  // namespace

Result<SetCheckResult> CheckSet(const History& h, const SetCheckOptions& options) {
  SetCheckResult r;
  std::map<ElementKey, Add, ElementLess> adds;
  std::map<Value, std::vector<Read>, history::ValueLess> reads;  // per set, in invocation order
  std::map<Value, bool, history::ValueLess> several_sets;
  for (size_t i = 0; i < h.size(); ++i) {
    const Op& inv = h[i];
    if (!inv.is_invoke() || !inv.is_client()) continue;
    const Value set = inv.key.value_or(Value::Nil());
    several_sets[set] = true;
    const size_t p = h.partner(i);
    const Op* comp = p == History::kNone ? nullptr : &h[p];
    if (inv.f == "add") {
      ++r.attempted;
      Add& add = adds[ElementKey{.set = set, .element = inv.value}];
      add.invoke = i;
      add.outcome = comp == nullptr ? history::OpType::kInfo : comp->type;
      if (add.outcome == history::OpType::kOk) add.complete = p;
    } else if (inv.f == "read") {
      if (comp == nullptr || comp->type != history::OpType::kOk) continue;
      const Value& v = comp->value;
      if (!v.is_collection() || v.kind() == history::ValueKind::kMap) {
        return MakeError(ErrorCode::kInvalidArgument,
                         fmt::format("set checker: op {}: a read must return a vector or set of "
                                     "elements, got {}",
                                     comp->index, v.ToEdn()));
      }
      Read read{
          .invoke = i, .complete = p, .final = internal::ExtraIsTrue(inv, history::field::kFinal)};
      ++r.reads;
      if (read.final) ++r.final_reads;
      reads[set].push_back(std::move(read));
    } else {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("set checker: op {}: unknown f '{}' (expected add or read)",
                                   inv.index, inv.f));
    }
  }
  const bool many = several_sets.size() > 1;
  auto name = [&](const ElementKey& k) {
    return many ? fmt::format("{} {}", k.set.ToEdn(), k.element.ToEdn()) : k.element.ToEdn();
  };
  auto example = [&](std::vector<std::string>& list, const ElementKey& k) {
    if (list.size() < options.max_examples) list.push_back(name(k));
  };

  // The adds of each set by element, for the pass over the reads.
  std::map<Value, std::unordered_map<Value, Add*, history::ValueHash>, history::ValueLess> by_set;
  for (auto& [k, add] : adds) by_set[k.set].emplace(k.element, &add);
  // Unexpected: read but never added, or added and failed. Every other element read marks its
  // add seen and notes the read's position.
  std::map<ElementKey, bool, ElementLess> unexpected;
  std::map<Value, bool, history::ValueLess> has_final;  // sets with a final read
  for (const auto& [set, list] : reads) {
    const auto& index = by_set[set];
    for (size_t j = 0; j < list.size(); ++j) {
      const Read& read = list[j];
      if (read.final) has_final[set] = true;
      for (const Value& e : h[read.complete].value.items()) {
        auto it = index.find(e);
        if (it == index.end() || it->second->outcome == history::OpType::kFail) {
          unexpected[ElementKey{.set = set, .element = e}] = true;
          continue;
        }
        Add& add = *it->second;
        add.seen = true;
        add.in_final = add.in_final || read.final;
        if (add.present.empty() || add.present.back() != j) {
          add.present.push_back(static_cast<uint32_t>(j));
        }
      }
    }
  }
  for (const auto& [k, unused] : unexpected) {
    ++r.unexpected;
    example(r.unexpected_examples, k);
  }

  bool undecided = false;
  for (const auto& [k, add] : adds) {
    if (add.outcome == history::OpType::kFail) {
      ++r.failed;
      continue;
    }
    if (add.outcome != history::OpType::kOk) {
      ++r.indeterminate;
      if (add.seen) {
        ++r.recovered;
        example(r.recovered_examples, k);
      }
      continue;
    }
    ++r.acknowledged;
    auto it = reads.find(k.set);
    static const std::vector<Read> kNoReads;
    const std::vector<Read>& list = it == reads.end() ? kNoReads : it->second;
    // Reads that began after the add completed (a suffix of the list, which is in invocation
    // order, from `after`): the first that lacks the element, the last that has it, and whether
    // any final read has it.
    const size_t after = static_cast<size_t>(
        std::partition_point(list.begin(), list.end(),
                             [&](const Read& read) { return read.invoke < *add.complete; }) -
        list.begin());
    const bool any_after = after < list.size();
    const bool any_final = has_final.count(k.set) > 0;
    const bool in_final = add.in_final;
    std::optional<size_t> last_present;
    std::optional<size_t> first_absent;
    auto it_present = std::lower_bound(add.present.begin(), add.present.end(), after);
    if (it_present != add.present.end()) last_present = add.present.back();
    size_t j = after;
    while (it_present != add.present.end() && *it_present == j) {
      ++it_present;
      ++j;
    }
    if (j < list.size()) first_absent = j;
    if (!any_after) ++r.never_read;
    if (first_absent && last_present && *last_present > *first_absent) {
      ++r.stale;
      example(r.stale_examples, k);
    }
    if (!any_final) {
      undecided = true;
    } else if (!in_final) {
      ++r.lost;
      example(r.lost_examples, k);
    }
  }

  std::vector<std::string> why;
  if (r.lost > 0) {
    why.push_back(fmt::format("{} acknowledged add{} lost: {} (absent from every final read)",
                              r.lost, r.lost == 1 ? "" : "s", fmt::join(r.lost_examples, ", ")));
  }
  if (r.unexpected > 0) {
    why.push_back(fmt::format("{} unexpected element{} read (never added, or the add failed): {}",
                              r.unexpected, r.unexpected == 1 ? "" : "s",
                              fmt::join(r.unexpected_examples, ", ")));
  }
  if (r.stale > 0) {
    why.push_back(fmt::format(
        "{} element{} missing from a read that began after the add was acknowledged, then read "
        "again later (stale read{}): {}",
        r.stale, r.stale == 1 ? "" : "s", options.stale_is_invalid ? "" : ", allowed here",
        fmt::join(r.stale_examples, ", ")));
  }
  if (r.lost > 0 || r.unexpected > 0 || (r.stale > 0 && options.stale_is_invalid)) {
    r.validity = checker::Validity::kInvalid;
  } else if (undecided) {
    r.validity = checker::Validity::kUnknown;
    why.push_back("no final read succeeded, so lost elements cannot be told apart");
  } else if (r.attempted == 0) {
    r.validity = checker::Validity::kUnknown;
    why.push_back("no add was attempted");
  }
  if (why.empty()) {
    why.push_back(
        fmt::format("all {} acknowledged adds present in the final reads", r.acknowledged));
  }
  r.explanation = fmt::format("{}", fmt::join(why, "; "));
  return r;
}

std::string SetCheckResultToJson(const SetCheckResult& r) {
  nlohmann::ordered_json j = internal::AddReadCountsJson(r, std::nullopt);
  j["lost_count"] = r.lost;
  j["unexpected_count"] = r.unexpected;
  j["stale_count"] = r.stale;
  j["recovered_count"] = r.recovered;
  j["never_read_count"] = r.never_read;
  j["lost"] = r.lost_examples;
  j["unexpected"] = r.unexpected_examples;
  j["stale"] = r.stale_examples;
  j["recovered"] = r.recovered_examples;
  j["explanation"] = r.explanation;
  return j.dump();
}

std::unique_ptr<Checker> MakeSetChecker(SetCheckOptions options) {
  return internal::MakeChecker(
      "set",
      {.check = [options = std::move(options)](const History& h) { return SetVerdict(h, options); },
       .applies = {},
       .disagreement = {}});
}

}  // namespace faultline::checker
