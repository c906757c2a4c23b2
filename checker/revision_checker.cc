#include "checker/revision_checker.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <limits>
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
using history::Value;

// The completion position of an op that never completed (info): after everything.
constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
// The invocation position of the initial version's "write": before everything.
constexpr int64_t kBefore = -1;

struct WriteOp {
  int64_t inv = 0;  // position of the invocation
  int64_t comp = kNever;
  int64_t index = 0;  // Op::index of the invocation
  bool ok = false;
  bool cas = false;
  const Value* value = nullptr;  // written; points into the history
  const Value* old = nullptr;    // cas only
  int64_t revision = 0;          // ok only
  int64_t floor = 0;             // info only: highest revision of an ok write completed before inv
  bool attributed = false;
};

struct ReadOp {
  int64_t inv = 0;
  int64_t comp = 0;
  int64_t index = 0;
  const Value* value = nullptr;
  int64_t mod_revision = 0;
};

struct KeyOps {
  std::vector<WriteOp> writes;
  std::vector<ReadOp> reads;
  int64_t writes_without_revision = 0;
  int64_t reads_without_mod_revision = 0;
};

struct Version {
  int64_t revision = 0;
  int write = -1;  // index into KeyOps::writes; -1 for the initial version
  const Value* value = nullptr;
  std::vector<int> reads;  // indexes into KeyOps::reads
  int64_t candidates = 1;  // info writes that could have created an attributed revision
};

const Value& NilValue() {
  static const Value nil = Value::Nil();
  return nil;
}

std::optional<int64_t> IntExtra(const Op& op, std::string_view name) {
  const Value* v = op.FindExtra(name);
  if (v == nullptr || !v->is_int()) return std::nullopt;
  return v->as_int();
}

std::string WriteText(const WriteOp& w) {
  std::string f = w.cas ? fmt::format("cas [{} {}]", w.old->ToEdn(), w.value->ToEdn())
                        : fmt::format("write {}", w.value->ToEdn());
  if (w.ok) return fmt::format("op {} {} (revision {})", w.index, f, w.revision);
  if (w.attributed)
    return fmt::format("op {} {} (info; the source of a revision read)", w.index, f);
  return fmt::format("op {} {} (info)", w.index, f);
}

std::string ReadText(const ReadOp& r) {
  return fmt::format("op {} read -> {} (mod_revision {})", r.index, r.value->ToEdn(),
                     r.mod_revision);
}

class KeyChecker {
 public:
  explicit KeyChecker(const RevisionCheckOptions& options) : options_(options) {}

  void Add(std::string_view kind, const std::function<std::string()>& example) {
    RevisionViolation& v = violations_[std::string(kind)];
    v.kind = std::string(kind);
    ++v.count;
    if (v.examples.size() < options_.max_examples) v.examples.push_back(example());
  }
  void Unknown(const std::string& reason, int64_t n = 1) { unknown_[reason] += n; }

  void CheckKey(const std::string& key, KeyOps& k, RevisionCheckResult& out);

  std::map<std::string, RevisionViolation> violations_;
  std::map<std::string, int64_t> unknown_;

 private:
  const RevisionCheckOptions& options_;
};

void KeyChecker::CheckKey(const std::string& key, KeyOps& k, RevisionCheckResult& out) {
  const std::string where = key.empty() ? std::string() : fmt::format("key {}: ", key);
  if (k.writes_without_revision > 0) {
    Unknown("ok writes or cas without :revision (their keys were not checked)",
            k.writes_without_revision);
    return;
  }
  ++out.keys_checked;
  if (k.reads_without_mod_revision > 0) {
    Unknown("ok reads without :mod_revision (left out)", k.reads_without_mod_revision);
  }

  // Known versions: the initial one and one per ok write.
  std::map<int64_t, Version> versions;
  versions[0] = Version{.revision = 0, .write = -1, .value = &NilValue(), .reads = {}};
  for (size_t i = 0; i < k.writes.size(); ++i) {
    const WriteOp& w = k.writes[i];
    if (!w.ok) continue;
    ++out.writes;
    auto [it, fresh] = versions.try_emplace(
        w.revision,
        Version{
            .revision = w.revision, .write = static_cast<int>(i), .value = w.value, .reads = {}});
    if (!fresh) {
      const WriteOp& first = k.writes[static_cast<size_t>(it->second.write)];
      Add("duplicate-revision", [&] {
        return fmt::format("{}{} and {} both created revision {}", where, WriteText(first),
                           WriteText(w), w.revision);
      });
    }
  }

  // floor of each info write: the highest revision of an ok write that completed before it was
  // invoked (an info write taking effect later must have a higher revision).
  {
    std::vector<int> by_comp;
    std::vector<int> info;
    for (size_t i = 0; i < k.writes.size(); ++i) {
      (k.writes[i].ok ? by_comp : info).push_back(static_cast<int>(i));
    }
    std::sort(by_comp.begin(), by_comp.end(),
              [&](int a, int b) { return k.writes[a].comp < k.writes[b].comp; });
    // info is in invocation order already (writes are gathered in history order).
    size_t next = 0;
    int64_t floor = 0;
    for (int i : info) {
      WriteOp& w = k.writes[static_cast<size_t>(i)];
      while (next < by_comp.size() && k.writes[by_comp[next]].comp < w.inv) {
        floor = std::max(floor, k.writes[by_comp[next]].revision);
        ++next;
      }
      w.floor = floor;
    }
  }

  // Reads by the revision they name.
  std::map<int64_t, std::vector<int>> by_revision;
  for (size_t i = 0; i < k.reads.size(); ++i) {
    by_revision[k.reads[i].mod_revision].push_back(static_cast<int>(i));
  }
  out.reads += static_cast<int64_t>(k.reads.size());

  // Info writes of each value, in invocation order: the candidate sources of unknown revisions.
  std::map<Value, std::vector<int>, history::ValueLess> info_by_value;
  for (size_t i = 0; i < k.writes.size(); ++i) {
    if (!k.writes[i].ok) info_by_value[*k.writes[i].value].push_back(static_cast<int>(i));
  }
  struct Unattributed {
    int64_t revision;
    int64_t deadline;  // earliest completion of a read of it or of a later revision
    size_t limit;      // eligible candidates: a prefix of info_by_value[value]
    int gap_for = -1;  // >= 0: not a read revision but the gap before this ok cas (a write index)
  };
  std::map<Value, std::vector<Unattributed>, history::ValueLess> wanted;

  // The earliest completion of a read of each revision or a later one: the write of a revision
  // must be invoked before it (that read saw a state that includes the write).
  std::map<int64_t, int64_t> read_deadline;
  {
    int64_t earliest = kNever;
    for (auto it = by_revision.rbegin(); it != by_revision.rend(); ++it) {
      for (int r : it->second) earliest = std::min(earliest, k.reads[static_cast<size_t>(r)].comp);
      read_deadline[it->first] = earliest;
    }
  }

  for (auto& [rev, reads] : by_revision) {
    auto known = versions.find(rev);
    if (known != versions.end()) {
      for (int r : reads) {
        const ReadOp& read = k.reads[static_cast<size_t>(r)];
        if (*read.value != *known->second.value) {
          Add("wrong-value", [&] {
            const std::string source =
                known->second.write < 0
                    ? std::string("the initial version is nil")
                    : fmt::format("{} created it",
                                  WriteText(k.writes[static_cast<size_t>(known->second.write)]));
            return fmt::format("{}{}, but {}", where, ReadText(read), source);
          });
          continue;
        }
        known->second.reads.push_back(r);
      }
      continue;
    }
    // A revision no ok write created: all its reads must agree on the value, and an info write of
    // that value must have been invoked before the first read of it (or of a later revision)
    // completed. With that and the floor, every real-time check that involves the attributed
    // write holds whichever eligible write is chosen, so the choice below cannot make a
    // violation (cas preconditions aside: see there).
    const ReadOp& first = k.reads[static_cast<size_t>(reads.front())];
    const int64_t deadline = read_deadline[rev];
    for (int r : reads) {
      const ReadOp& read = k.reads[static_cast<size_t>(r)];
      if (*read.value != *first.value) {
        Add("wrong-value", [&] {
          return fmt::format("{}{} and {} read the same revision", where, ReadText(first),
                             ReadText(read));
        });
      }
    }
    const std::vector<int>& candidates = info_by_value[*first.value];
    const auto end = std::partition_point(candidates.begin(), candidates.end(), [&](int w) {
      const WriteOp& c = k.writes[static_cast<size_t>(w)];
      return c.inv < deadline && c.floor < rev;
    });
    wanted[*first.value].push_back(
        Unattributed{.revision = rev,
                     .deadline = deadline,
                     .limit = static_cast<size_t>(end - candidates.begin())});
  }

  // Attribution: candidates of a revision are a prefix (in invocation order) of its value's info
  // writes, and the eligibility conditions make every real-time check involving the chosen write
  // hold whichever it is. Taking revisions by increasing prefix, any unused write of the prefix
  // serves as well as another for the revisions still to come (their prefixes contain it), so
  // this finds a distinct source for every revision whenever one exists. Among them, a cas whose
  // old value the previous version holds is preferred, then a blind write (good for any), so cas
  // preconditions hold where possible.
  std::map<int64_t, const Value*> all_values;  // every revision named, with its value
  for (const auto& [rev, v] : versions) all_values[rev] = v.value;
  for (const auto& [value, list] : wanted) {
    for (const Unattributed& u : list) all_values[u.revision] = &value;
  }
  // Gaps: an ok cas at R whose previous named version does not hold its old value needs an info
  // write of old to have taken effect unread between them (there must be room: revisions are
  // consecutive over the whole store). Such writes are wanted like read revisions, with the same
  // kind of eligibility (floor below R, invoked before a read of R or later completed), so both
  // share one matching. A gap left without a write is judged by the precondition check below.
  std::vector<bool> explained(k.writes.size(), false);
  for (size_t i = 0; i < k.writes.size(); ++i) {
    const WriteOp& w = k.writes[i];
    if (!w.ok || !w.cas) continue;
    const auto prev = std::prev(all_values.find(w.revision));
    if (*prev->second == *w.old || w.revision <= prev->first + 1) continue;
    auto it = info_by_value.find(*w.old);
    if (it == info_by_value.end()) continue;
    auto after = read_deadline.lower_bound(w.revision);
    const int64_t deadline = after == read_deadline.end() ? kNever : after->second;
    const auto end = std::partition_point(it->second.begin(), it->second.end(), [&](int c) {
      const WriteOp& cand = k.writes[static_cast<size_t>(c)];
      return cand.inv < deadline && cand.floor < w.revision;
    });
    if (end == it->second.begin()) continue;
    wanted[*w.old].push_back(Unattributed{.revision = w.revision,
                                          .deadline = deadline,
                                          .limit = static_cast<size_t>(end - it->second.begin()),
                                          .gap_for = static_cast<int>(i)});
  }
  for (auto& [value, list] : wanted) {
    std::sort(list.begin(), list.end(), [](const Unattributed& a, const Unattributed& b) {
      return a.limit != b.limit ? a.limit < b.limit : a.revision < b.revision;
    });
    const std::vector<int>& candidates = info_by_value[value];
    size_t used = 0;
    for (const Unattributed& u : list) {
      if (u.gap_for >= 0 && used >= u.limit) continue;
      const std::vector<int>& reads = by_revision[u.revision];
      if (used >= u.limit) {
        const ReadOp& read = k.reads[static_cast<size_t>(reads.front())];
        Add("value-never-written", [&] {
          return fmt::format(
              "{}{}: no ok write created revision {}, and {} of the {} info writes of {} "
              "could have (invoked before a read of it or of a later revision completed, "
              "above the revisions of writes acknowledged before them){}",
              where, ReadText(read), u.revision, u.limit, candidates.size(), value.ToEdn(),
              u.limit == 0 ? "" : ", all taken by other revisions");
        });
        continue;
      }
      const Value& before = *std::prev(all_values.find(u.revision))->second;
      int consistent_cas = -1;
      int blind = -1;
      int any = -1;
      for (size_t c = 0; c < u.limit && consistent_cas < 0; ++c) {
        const WriteOp& cand = k.writes[static_cast<size_t>(candidates[c])];
        if (cand.attributed) continue;
        const int id = candidates[c];
        if (any < 0) any = id;
        if (!cand.cas && blind < 0) blind = id;
        if (cand.cas && *cand.old == before) consistent_cas = id;
      }
      const int chosen = consistent_cas >= 0 ? consistent_cas : blind >= 0 ? blind : any;
      if (u.gap_for >= 0) {
        // A cas whose own precondition fails cannot fill the gap; left to the check below.
        if (consistent_cas < 0 && blind < 0) continue;
        k.writes[static_cast<size_t>(chosen)].attributed = true;
        explained[static_cast<size_t>(u.gap_for)] = true;
        ++out.inserted;
        ++used;
        continue;
      }
      WriteOp& w = k.writes[static_cast<size_t>(chosen)];
      w.attributed = true;
      ++out.attributed;
      Version v{.revision = u.revision,
                .write = chosen,
                .value = &value,
                .reads = {},
                .candidates = static_cast<int64_t>(u.limit)};
      for (int r : reads) {
        if (*k.reads[static_cast<size_t>(r)].value == value) v.reads.push_back(r);
      }
      versions.emplace(u.revision, std::move(v));
      ++used;
    }
  }
  out.versions += static_cast<int64_t>(versions.size()) - 1;

  // The linearization: versions by revision; each version's write, then its reads. A pair of ops
  // it orders a-before-b, with b completed before a was invoked, is a violation; the four sweeps
  // cover the four pairs (write, write), (write, read), (read, write), (read, read).
  std::vector<const Version*> order;
  order.reserve(versions.size());
  for (const auto& [rev, v] : versions) order.push_back(&v);
  const size_t n = order.size();
  auto write_of = [&](const Version* v) -> const WriteOp* {
    return v->write < 0 ? nullptr : &k.writes[static_cast<size_t>(v->write)];
  };

  // Suffix minimum of write completions over later versions: stale reads.
  std::vector<int64_t> later_comp(n + 1, kNever);
  std::vector<const WriteOp*> later_write(n + 1, nullptr);
  for (size_t j = n; j-- > 0;) {
    later_comp[j] = later_comp[j + 1];
    later_write[j] = later_write[j + 1];
    const WriteOp* w = write_of(order[j]);
    if (w != nullptr && w->comp < later_comp[j]) {
      later_comp[j] = w->comp;
      later_write[j] = w;
    }
  }
  int64_t max_write_inv = kBefore;  // over the writes of versions before the current one
  const WriteOp* max_write = nullptr;
  int64_t max_read_inv = kBefore;  // over the reads of versions before the current one
  const ReadOp* max_read = nullptr;
  for (size_t j = 0; j < n; ++j) {
    const Version& v = *order[j];
    const WriteOp* w = write_of(&v);
    if (w != nullptr) {
      if (w->comp < max_write_inv) {
        Add("write-order", [&] {
          return fmt::format("{}{} completed before {} was invoked, yet has the higher revision",
                             where, WriteText(*w), WriteText(*max_write));
        });
      }
      // (read of an earlier version, this write) is checked from the read's side as stale.
      if (w->inv > max_write_inv) {
        max_write_inv = w->inv;
        max_write = w;
      }
    }
    int64_t read_inv = max_read_inv;
    const ReadOp* read_max = max_read;
    for (int r : v.reads) {
      const ReadOp& read = k.reads[static_cast<size_t>(r)];
      if (later_comp[j + 1] < read.inv) {
        Add("stale-read", [&] {
          return fmt::format("{}{} was invoked after {} completed", where, ReadText(read),
                             WriteText(*later_write[j + 1]));
        });
      }
      if (max_write_inv > read.comp) {
        Add("future-read", [&] {
          return fmt::format("{}{} completed before {} was invoked", where, ReadText(read),
                             WriteText(*max_write));
        });
      }
      if (max_read_inv > read.comp) {
        Add("non-monotonic-reads", [&] {
          return fmt::format("{}{} completed before {} was invoked, yet saw the newer revision",
                             where, ReadText(read), ReadText(*max_read));
        });
      }
      if (read.inv > read_inv) {
        read_inv = read.inv;
        read_max = &read;
      }
    }
    max_read_inv = read_inv;
    max_read = read_max;
  }

  // cas preconditions: the version just before a cas's revision holds its old value.
  for (size_t j = 1; j < n; ++j) {
    const WriteOp* w = write_of(order[j]);
    if (w == nullptr || !w->cas || explained[static_cast<size_t>(order[j]->write)]) continue;
    const Version& prev = *order[j - 1];
    if (*prev.value == *w->old) continue;
    if (order[j]->candidates > 1) {
      Unknown(
          "info cas attributed to a read revision fails its precondition, while another info "
          "write of the same value could have been the source");
      continue;
    }
    // An info write of old, never read, may have taken effect between the two revisions, if
    // there is room for a revision between them (revisions are consecutive over the whole store)
    // and the write could have: not invoked after an ok write of revision >= R completed (its
    // floor) nor after a read of revision >= R completed. Found: it goes there (a linearization
    // exists); eligible but all taken: unknown; none: a violation.
    const int64_t r = order[j]->revision;
    bool eligible = false;
    WriteOp* found = nullptr;
    auto it = info_by_value.find(*w->old);
    if (r > prev.revision + 1 && it != info_by_value.end()) {
      auto after = read_deadline.lower_bound(r);
      const int64_t deadline = after == read_deadline.end() ? kNever : after->second;
      for (int c : it->second) {
        WriteOp& cand = k.writes[static_cast<size_t>(c)];
        if (cand.inv >= deadline || cand.floor >= r) break;  // so are all later candidates
        if (&cand == w || (cand.cas && *cand.old != *prev.value)) continue;
        eligible = true;
        if (!cand.attributed) {
          found = &cand;
          break;
        }
      }
    }
    if (found != nullptr) {
      found->attributed = true;
      ++out.inserted;
      continue;
    }
    if (eligible) {
      Unknown(
          "ok cas whose previous known version does not hold its old value, while an info "
          "write of that value may have taken effect in between");
      continue;
    }
    Add("cas-precondition", [&] {
      const WriteOp* p = write_of(&prev);
      return fmt::format("{}{}, but the version before it ({}) holds {}", where, WriteText(*w),
                         p == nullptr ? std::string("the initial version") : WriteText(*p),
                         prev.value->ToEdn());
    });
  }
}

}  // namespace

bool HasRevisions(const History& history) {
  bool writes = false;
  bool reads = false;
  for (const Op& op : history.ops()) {
    if (!op.is_client() || op.type != history::OpType::kOk) continue;
    if ((op.f == "write" || op.f == "cas") && IntExtra(op, history::field::kRevision))
      writes = true;
    if (op.f == "read" && IntExtra(op, history::field::kModRevision)) reads = true;
    if (writes && reads) return true;
  }
  return false;
}

Result<RevisionCheckResult> CheckRevisionOrder(const History& history,
                                               const RevisionCheckOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  RevisionCheckResult out;
  std::map<Value, KeyOps, history::ValueLess> keys;
  for (size_t i = 0; i < history.size(); ++i) {
    const Op& inv = history[i];
    if (!inv.is_client() || !inv.is_invoke()) continue;
    if (inv.f != "read" && inv.f != "write" && inv.f != "cas") continue;
    const size_t p = history.partner(i);
    const Op* done = p == History::kNone ? nullptr : &history[p];
    const history::OpType type = done == nullptr ? history::OpType::kInfo : done->type;
    KeyOps& k = keys[inv.key ? *inv.key : NilValue()];
    if (type == history::OpType::kFail) continue;  // certainly did not happen
    const auto pos = static_cast<int64_t>(i);
    const int64_t comp =
        done == nullptr || type == history::OpType::kInfo ? kNever : static_cast<int64_t>(p);
    if (inv.f == "read") {
      if (type != history::OpType::kOk) continue;
      std::optional<int64_t> mod = IntExtra(*done, history::field::kModRevision);
      if (!mod || *mod < 0) {
        ++k.reads_without_mod_revision;
        continue;
      }
      k.reads.push_back(ReadOp{.inv = pos,
                               .comp = comp,
                               .index = inv.index,
                               .value = &done->value,
                               .mod_revision = *mod});
      continue;
    }
    WriteOp w;
    w.inv = pos;
    w.comp = comp;
    w.index = inv.index;
    w.ok = type == history::OpType::kOk;
    if (inv.f == "cas") {
      if (!inv.value.is_sequential() || inv.value.size() != 2) {
        return MakeError(ErrorCode::kInvalidArgument,
                         fmt::format("revision check: op {}: cas value must be [old new], got {}",
                                     inv.index, inv.value.ToEdn()));
      }
      w.cas = true;
      w.old = &inv.value.items()[0];
      w.value = &inv.value.items()[1];
    } else {
      w.value = &inv.value;
    }
    if (w.ok) {
      std::optional<int64_t> rev = IntExtra(*done, history::field::kRevision);
      if (!rev || *rev <= 0) {
        ++k.writes_without_revision;
        continue;
      }
      w.revision = *rev;
    }
    k.writes.push_back(std::move(w));
  }

  KeyChecker checker(options);
  out.keys = static_cast<int64_t>(keys.size());
  const bool one_key = keys.size() == 1;
  for (auto& [key, k] : keys) checker.CheckKey(one_key ? std::string() : key.ToEdn(), k, out);

  for (auto& [kind, v] : checker.violations_) {
    out.violations.push_back(std::move(v));
  }
  // The most telling kind first: it leads the explanation.
  constexpr std::string_view kRank[] = {"stale-read",          "future-read",        "wrong-value",
                                        "value-never-written", "cas-precondition",   "write-order",
                                        "duplicate-revision",  "non-monotonic-reads"};
  auto rank = [&](const RevisionViolation& v) {
    return std::find(std::begin(kRank), std::end(kRank), v.kind) - std::begin(kRank);
  };
  std::stable_sort(
      out.violations.begin(), out.violations.end(),
      [&](const RevisionViolation& a, const RevisionViolation& b) { return rank(a) < rank(b); });
  for (const auto& [reason, count] : checker.unknown_) {
    out.unknown_reasons.push_back(fmt::format("{} {}", count, reason));
  }
  if (!out.violations.empty()) {
    out.validity = Validity::kInvalid;
    std::vector<std::string> parts;
    for (const RevisionViolation& v : out.violations) {
      parts.push_back(fmt::format("{} {}", v.count, v.kind));
    }
    out.explanation =
        fmt::format("invalid: {} (e.g. {})", fmt::join(parts, ", "), out.violations[0].examples[0]);
  } else if (!out.unknown_reasons.empty()) {
    out.validity = Validity::kUnknown;
    out.explanation = fmt::format("unknown: {}", fmt::join(out.unknown_reasons, "; "));
  } else {
    out.explanation = fmt::format(
        "valid: {} reads and {} writes on {} key{} are linearizable in revision order ({} "
        "revisions attributed to info writes)",
        out.reads, out.writes, out.keys, out.keys == 1 ? "" : "s", out.attributed);
  }
  out.check_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return out;
}

std::string RevisionCheckResultToJson(const RevisionCheckResult& result) {
  nlohmann::ordered_json j;
  j["valid"] = std::string(checker::ValidityName(result.validity));
  j["keys"] = result.keys;
  j["keys_checked"] = result.keys_checked;
  j["writes"] = result.writes;
  j["reads"] = result.reads;
  j["versions"] = result.versions;
  j["attributed"] = result.attributed;
  j["inserted"] = result.inserted;
  nlohmann::ordered_json violations = nlohmann::ordered_json::array();
  for (const RevisionViolation& v : result.violations) {
    violations.push_back({{"kind", v.kind}, {"count", v.count}, {"examples", v.examples}});
  }
  j["violations"] = std::move(violations);
  j["unknown_reasons"] = result.unknown_reasons;
  j["explanation"] = result.explanation;
  j["check_ms"] = result.check_ms;
  return j.dump();
}

namespace {

Result<Verdict> RevisionOrderVerdict(const History& h, const RevisionCheckerOptions& options) {
  Result<RevisionCheckResult> r = CheckRevisionOrder(h, options.check);
  if (!r) return std::move(r).error();
  Verdict v;
  v.name = "revision-order";
  v.validity = r->validity;
  v.summary = fmt::format("{} ({} reads, {} writes, {} keys, {:.0f} ms)", ValidityName(r->validity),
                          r->reads, r->writes, r->keys, r->check_ms);
  v.detail = r->explanation + "\n";
  for (const RevisionViolation& violation : r->violations) {
    v.detail += fmt::format("{} {}: {}\n", violation.count, violation.kind,
                            fmt::join(violation.examples, "; "));
    v.anomalies[violation.kind] = violation.count;
    v.examples.insert(v.examples.end(), violation.examples.begin(), violation.examples.end());
  }
  v.json = RevisionCheckResultToJson(*r);
  return v;
}

std::string RevisionOrderDisagreement(const Verdict& first, const Verdict& mine,
                                      const RevisionCheckerOptions& options) {
  const bool disagree =
      (mine.validity == Validity::kValid && first.validity == Validity::kInvalid) ||
      (mine.validity == Validity::kInvalid && first.validity == Validity::kValid);
  if (!disagree) return {};
  return fmt::format(
      "!!! checkers disagree: {} says {}, revision-order says {} ({})\n", first.name,
      ValidityName(first.validity), ValidityName(mine.validity),
      mine.validity == Validity::kValid
          ? "a linearization in revision order exists, so the search is wrong: a checker bug"
      : options.serializable_reads
          ? "the values fit some order, but not the database's own version order (etcd's "
            "revisions, ZooKeeper's zxids): serializable reads "
            "may be stale or go back in time, and equal values hid it from the search"
          : "the values fit some order, but not the database's own version order (etcd's "
            "revisions, ZooKeeper's zxids): the database served stale reads, or the recording "
            "is wrong");
}

}  // namespace

std::unique_ptr<Checker> MakeRevisionOrderChecker(RevisionCheckerOptions options) {
  return internal::MakeChecker(
      "revision-order",
      {.check = [options = std::move(options)](
                    const History& h) { return RevisionOrderVerdict(h, options); },
       .applies = [](const History& h) { return HasRevisions(h); },
       .disagreement =
           [options](const Verdict& first, const Verdict& mine) {
             return RevisionOrderDisagreement(first, mine, options);
           }});
}

}  // namespace faultline::checker
