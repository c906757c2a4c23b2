// faultline::checker: linearizability checking of a history against a model.
//
// Verdicts follow Jepsen: valid / unknown / invalid, merged invalid > unknown > valid. A time or
// memory limit ends in unknown, never in a crash or a wrong verdict; an unknown says why.
//
// Thread-safety: Check may be called from many threads at once; it uses its own worker threads for
// independent partitions.
#ifndef FAULTLINE_CHECKER_CHECKER_H_
#define FAULTLINE_CHECKER_CHECKER_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "history/history.h"
#include "history/value.h"

namespace faultline::checker {

enum class Validity { kValid, kUnknown, kInvalid };

// "valid", "unknown", "invalid".
std::string_view ValidityName(Validity v);
// invalid > unknown > valid.
Validity Merge(Validity a, Validity b);

// Why a history is not linearizable, in model terms.
struct Counterexample {
  // The partition (key) where the violation is, as EDN text; empty when the model is unpartitioned.
  std::string key;
  // Position in the checked History of the invocation that cannot be linearized.
  size_t failing_op = 0;
  // The longest linearizable prefixes found before it: each is a list of invocation positions in
  // the History, in linearization order. At least one.
  std::vector<std::vector<size_t>> prefixes;
  // Model states reachable just before the failing op (Describe of each), sorted, deduplicated.
  std::vector<std::string> states;
  // "read() -> 4, but the register holds 3" — one sentence, model terms.
  std::string explanation;
};

// Which search decides each partition. kAuto: the depth-first search, joined by the frontier
// search (internal/frontier.h) once a partition needs more than a million configurations; the
// first to decide wins. The others force one search (the frontier one where it applies, else the
// depth-first one), for tests and measurements.
enum class SearchMode { kAuto, kDepthFirst, kFrontier };

struct CheckOptions {
  std::string model = "cas-register";
  std::optional<history::Value> initial;  // the model's initial state; nullopt = model default
  double time_limit_s = 0;                // 0 = none
  size_t memory_limit_mb = 0;             // 0 = none; accounts the checker's own memo tables
  int threads = 0;                        // 0 = all cores
  SearchMode search = SearchMode::kAuto;
  // The sound detectors run before the search (stale reads, write-order cycles); false leaves every
  // verdict to the search, for measuring the search alone.
  bool detectors = true;
};

struct CheckResult {
  Validity validity = Validity::kValid;
  size_t ops = 0;                                // client invocations checked (nemesis ops skipped)
  size_t partitions = 0;                         // independent parts checked
  std::optional<Counterexample> counterexample;  // set when invalid
  // Set when unknown: which limit was hit, which keys were undecided, configurations explored.
  std::string unknown_reason;
  std::vector<std::string> unknown_keys;
  uint64_t configurations = 0;  // search states explored, over all partitions
  double check_ms = 0;
  size_t peak_memory_bytes = 0;  // the checker's own accounting of its tables
};

// The model names accepted by CheckOptions::model, sorted.
std::vector<std::string> ModelNames();

// Checks `history` for linearizability against options.model. An error means the history could
// not be checked at all (unknown model, an op the model cannot decode such as a cas whose value is
// not [old new]); the message names the op's index and source line.
Result<CheckResult> Check(const history::History& history, const CheckOptions& options);

}  // namespace faultline::checker

#endif  // FAULTLINE_CHECKER_CHECKER_H_
