// Helpers shared by the checkers: a Checker made of functions, the independent form of a keyed
// history, extra fields read as text or as a flag, and the counts the set and counter results
// share.
//
// Thread-safety: pure functions.
#ifndef FAULTLINE_CHECKER_INTERNAL_OPS_H_
#define FAULTLINE_CHECKER_INTERNAL_OPS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "checker/checker.h"
#include "checker/verdict.h"
#include "common/result.h"
#include "history/history.h"

namespace faultline::checker::internal {

// What a Checker does, as functions. check is required; an empty applies applies to every
// history, an empty disagreement reports none (see Checker).
struct CheckerFns {
  std::function<Result<Verdict>(const history::History&)> check;
  std::function<bool(const history::History&)> applies;
  std::function<std::string(const Verdict& first, const Verdict& mine)> disagreement;
};

// A Checker named `name` doing `fns`; an error of check gets the context "check: <name>".
std::unique_ptr<Checker> MakeChecker(std::string name, CheckerFns fns);

// The same history with every keyed client op's value written [key value], the form the checker's
// independent split reads. Positions and indexes are unchanged.
Result<history::History> AsIndependent(const history::History& h);

// An extra field as text ("?" when absent): strings bare, other values as EDN.
std::string ExtraText(const history::Op& op, std::string_view name);

// Whether the extra field is the boolean true (:final true, :ok true).
bool ExtraIsTrue(const history::Op& op, std::string_view name);

// The add and read counts that SetCheckResult and CounterCheckResult share, as the first fields
// of their JSON ("keys" after "valid" when given).
template <typename AddReadResult>
nlohmann::ordered_json AddReadCountsJson(const AddReadResult& r, std::optional<int64_t> keys) {
  nlohmann::ordered_json j;
  j["valid"] = std::string(ValidityName(r.validity));
  if (keys) j["keys"] = *keys;
  j["attempted"] = r.attempted;
  j["acknowledged"] = r.acknowledged;
  j["failed"] = r.failed;
  j["indeterminate"] = r.indeterminate;
  j["reads"] = r.reads;
  j["final_reads"] = r.final_reads;
  return j;
}

}  // namespace faultline::checker::internal

#endif  // FAULTLINE_CHECKER_INTERNAL_OPS_H_
