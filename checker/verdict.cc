#include "checker/verdict.h"

#include <fmt/format.h>

#include <cassert>
#include <nlohmann/json.hpp>
#include <utility>

namespace faultline::checker {

ComposeChecker::ComposeChecker(std::string name) : name_(std::move(name)) {}

void ComposeChecker::Add(std::unique_ptr<Checker> checker) {
  members_.push_back(Member{.checker = std::move(checker), .second_opinion = false});
}

void ComposeChecker::AddSecondOpinion(std::unique_ptr<Checker> checker) {
  assert(!members_.empty());
  members_.push_back(Member{.checker = std::move(checker), .second_opinion = true});
}

Result<Verdict> ComposeChecker::Check(const history::History& history) {
  parts_.clear();
  std::vector<bool> second_opinion;  // per part
  // The position in parts_ of the last member that is not a second opinion, and whether it ran.
  size_t first = 0;
  bool first_ran = false;
  for (Member& m : members_) {
    if (m.second_opinion && !first_ran) continue;
    if (!m.checker->Applies(history)) {
      if (!m.second_opinion) first_ran = false;
      continue;
    }
    FAULTLINE_ASSIGN_OR_RETURN(Verdict v, m.checker->Check(history));
    if (!m.second_opinion) {
      first = parts_.size();
      first_ran = true;
      parts_.push_back(std::move(v));
      second_opinion.push_back(false);
      continue;
    }
    const std::string line = m.checker->Disagreement(parts_[first], v);
    v.detail += line;
    parts_[first].detail += line;
    nlohmann::ordered_json j = nlohmann::ordered_json::parse(v.json, nullptr, false);
    if (j.is_object()) {
      j["checkers_disagree"] = !line.empty();
      v.json = j.dump();
    }
    parts_.push_back(std::move(v));
    second_opinion.push_back(true);
  }

  Verdict out;
  out.name = name_;
  out.validity = Validity::kValid;
  std::vector<std::string> summaries;
  for (size_t i = 0; i < parts_.size(); ++i) {
    Verdict& v = parts_[i];
    if (second_opinion[i] && v.validity == Validity::kUnknown) {
      v.summary += " (a second opinion: its unknown leaves the verdict to the search)";
    } else {
      out.validity = Merge(out.validity, v.validity);
    }
    for (const auto& [kind, n] : v.anomalies) out.anomalies[kind] += n;
    summaries.push_back(fmt::format("{}: {}", v.name, v.summary));
    if (!v.detail.empty()) out.detail += v.detail;
  }
  out.summary = fmt::format("{} ({})", ValidityName(out.validity), fmt::join(summaries, "; "));
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  j["valid"] = std::string(ValidityName(out.validity));
  for (const Verdict& v : parts_) {
    j[v.name] = nlohmann::ordered_json::parse(v.json, nullptr, false);
  }
  out.json = j.dump();
  return out;
}

}  // namespace faultline::checker
