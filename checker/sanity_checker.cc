#include "checker/sanity_checker.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <utility>

#include "checker/internal/ops.h"
#include "history/fields.h"

namespace faultline::checker {
namespace {

using history::History;
using history::Op;

Result<Verdict> SanityVerdict(const History& h, const SanityOptions& options) {
  Verdict v;
  v.name = "sanity";
  const std::map<std::string, FCounts> by_f = CountByF(h);
  std::vector<std::string> problems;
  int64_t completions = 0;
  int64_t infos = 0;
  for (const std::string& f : options.expected_f) {
    auto it = by_f.find(f);
    if (it == by_f.end() || it->second.ok == 0) {
      problems.push_back(fmt::format("no {} completed ok", f));
    }
  }
  for (const auto& [f, c] : by_f) {
    completions += c.ok + c.fail + c.info;
    infos += c.info;
  }
  const double share = completions == 0 ? 0 : static_cast<double>(infos) / completions;
  if (completions == 0) problems.push_back("no client op was recorded");
  if (share > options.info_ceiling) {
    problems.push_back(fmt::format("{:.1f}% of ops ended info (ceiling {:.0f}%)", share * 100,
                                   options.info_ceiling * 100));
  }
  int64_t faults = 0;
  int64_t probed = 0;    // faults an independent probe confirmed
  int64_t unprobed = 0;  // faults only the nemesis's report vouches for
  int64_t without_effect = 0;
  std::vector<std::string> unprobed_examples;
  for (size_t i = 0; i < h.size(); ++i) {
    const Op& op = h[i];
    if (op.is_client() || h.partner(i) == History::kNone || h.partner(i) > i) continue;
    if (op.f != "heal") ++faults;
    if (!internal::ExtraIsTrue(op, history::field::kOk)) {
      ++without_effect;
      problems.push_back(fmt::format("{} at {:.1f} s did not take effect: {}", op.f,
                                     static_cast<double>(op.time_ns) / 1e9,
                                     op.value.is_string() ? op.value.text() : op.value.ToEdn()));
      continue;
    }
    // The independent probe's finding, when there was one (runner/campaign.h FaultProbe).
    const history::Value* confirmed = op.FindExtra(history::field::kConfirmed);
    const history::Value* probe = op.FindExtra(history::field::kProbe);
    const std::string evidence = probe != nullptr && probe->is_string() ? probe->text() : "";
    if (confirmed != nullptr && confirmed->kind() == history::ValueKind::kBool) {
      if (confirmed->as_bool()) {
        ++probed;
      } else {
        ++without_effect;
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
  if (options.faults_scheduled && faults == 0) {
    problems.push_back("faults were scheduled but none was recorded (run shorter than heal_s?)");
  }
  v.validity = problems.empty() ? Validity::kValid : Validity::kUnknown;
  v.summary = problems.empty()
                  ? fmt::format(
                        "valid (every f has ok completions; info {:.1f}% <= {:.0f}%; {} "
                        "fault{}, each took effect: {} confirmed by a probe, {} by the nemesis "
                        "report only)",
                        share * 100, options.info_ceiling * 100, faults, faults == 1 ? "" : "s",
                        probed, unprobed)
                  : fmt::format("unknown ({})", fmt::join(problems, "; "));
  if (!problems.empty()) v.anomalies["problems"] = static_cast<int64_t>(problems.size());
  if (without_effect > 0) v.anomalies["faults-without-effect"] = without_effect;
  v.examples = problems;
  nlohmann::ordered_json j;
  j["valid"] = std::string(ValidityName(v.validity));
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

std::map<std::string, FCounts> CountByF(const History& h) {
  std::map<std::string, FCounts> by_f;
  for (size_t i = 0; i < h.size(); ++i) {
    const Op& op = h[i];
    if (!op.is_client() || !op.is_invoke()) continue;
    FCounts& c = by_f[op.f];
    const size_t p = h.partner(i);
    const history::OpType type = p == History::kNone ? history::OpType::kInfo : h[p].type;
    if (type == history::OpType::kOk) {
      ++c.ok;
    } else if (type == history::OpType::kFail) {
      ++c.fail;
    } else {
      ++c.info;
    }
  }
  return by_f;
}

std::unique_ptr<Checker> MakeSanityChecker(SanityOptions options) {
  return internal::MakeChecker(
      "sanity", {.check = [options = std::move(options)](
                              const History& h) { return SanityVerdict(h, options); },
                 .applies = {},
                 .disagreement = {}});
}

}  // namespace faultline::checker
