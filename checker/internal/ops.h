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

// The add and read counts of the set and counter checkers, as the first fields of their JSON.
struct AddReadCounts {
  Validity validity = Validity::kValid;
  std::optional<int64_t> keys;  // written after "valid" when set
  int64_t attempted = 0;
  int64_t acknowledged = 0;
  int64_t failed = 0;
  int64_t indeterminate = 0;
  int64_t reads = 0;
  int64_t final_reads = 0;
};
nlohmann::ordered_json AddReadCountsJson(const AddReadCounts& counts);

}  // namespace faultline::checker::internal

#endif  // FAULTLINE_CHECKER_INTERNAL_OPS_H_
