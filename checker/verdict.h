// The judge's interface: a Checker takes a history and returns a Verdict (validity, a one-line
// summary, anomaly counts, examples, detail text and a JSON object). Every property the project
// checks implements it (linearizability per key, set-full, counter bounds, mutex, revision order,
// sanity and fault probes), and ComposeChecker merges several into one verdict.
//
// Merge rule (STYLE.md §3.5): invalid > unknown > valid. A second opinion (ComposeChecker::
// AddSecondOpinion) runs beside the checker added before it: its invalid counts, its unknown does
// not override a verdict the first one decided, and where the two disagree (Checker::
// Disagreement) both details say so and the second's JSON carries "checkers_disagree".
//
// Thread-safety: a Checker is used by one thread at a time; Check never mutates the history.
#ifndef FAULTLINE_CHECKER_VERDICT_H_
#define FAULTLINE_CHECKER_VERDICT_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "checker/checker.h"
#include "common/result.h"
#include "history/history.h"

namespace faultline::checker {

struct Verdict {
  std::string name;  // "linearizable", "set", "counter", "mutex", "revision-order", "sanity"
  Validity validity = Validity::kValid;
  std::string summary;  // one line
  std::string detail;   // more lines (the counterexample, the failed sanity checks); may be empty
  std::string json;     // one JSON object
  // Anomalies found, by kind ("lost", "stale-read", "overlapping-holds"); kinds with none may be
  // left out.
  std::map<std::string, int64_t> anomalies;
  // A few anomalies, each one line in model terms.
  std::vector<std::string> examples;
};

class Checker {
 public:
  Checker() = default;
  virtual ~Checker() = default;
  Checker(const Checker&) = delete;
  Checker& operator=(const Checker&) = delete;

  // The name its Verdict carries.
  virtual std::string_view name() const = 0;
  // An error when the history could not be checked at all (an op the model cannot decode); what
  // the history says is in the verdict, never in an error.
  [[nodiscard]] virtual Result<Verdict> Check(const history::History& history) = 0;
  // Whether this history carries what the checker needs (the revision-order checker wants etcd's
  // revisions); a composition skips a checker that does not apply.
  virtual bool Applies(const history::History& /*history*/) const { return true; }
  // As a second opinion: why `mine` and the first checker's verdict disagree, one line ending in
  // a newline, which both details then carry; empty when they agree. The default explains nothing
  // and so never reports a disagreement.
  virtual std::string Disagreement(const Verdict& /*first*/, const Verdict& /*mine*/) const {
    return {};
  }
};

// Runs checkers in order and merges their verdicts. Check returns the merged validity, the
// members' verdicts as parts() of the last Check, and a summary naming each member.
class ComposeChecker final : public Checker {
 public:
  explicit ComposeChecker(std::string name = "compose");

  // A member whose verdict merges.
  void Add(std::unique_ptr<Checker> checker);
  // A second opinion on the member added just before it: run only when it applies and that member
  // checked; its unknown does not merge (its summary says so).
  // REQUIRES: a member was added before.
  void AddSecondOpinion(std::unique_ptr<Checker> checker);

  std::string_view name() const override { return name_; }
  [[nodiscard]] Result<Verdict> Check(const history::History& history) override;

  // The members' verdicts from the last Check, in the order they ran.
  const std::vector<Verdict>& parts() const { return parts_; }

 private:
  struct Member {
    std::unique_ptr<Checker> checker;
    bool second_opinion = false;
  };
  std::string name_;
  std::vector<Member> members_;
  std::vector<Verdict> parts_;
};

}  // namespace faultline::checker

#endif  // FAULTLINE_CHECKER_VERDICT_H_
