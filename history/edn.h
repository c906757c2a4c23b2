// Jepsen EDN: the value reader and writer for the subset in ../shared/FORMATS.md §1.4, and the
// history reader for the three framings of §1.1.
//
// Thread-safety: free functions without shared state.
#ifndef FAULTLINE_HISTORY_EDN_H_
#define FAULTLINE_HISTORY_EDN_H_

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "history/history.h"
#include "history/op.h"
#include "history/value.h"

namespace faultline::history {

// A top-level EDN form and the 1-based line where it starts.
struct EdnForm {
  Value value;
  int64_t line = 0;
};

// Reads every top-level form of `text`. Errors read "SOURCE: line N: column C: what was expected".
Result<std::vector<EdnForm>> ParseEdnForms(std::string_view text, std::string_view source);
// Exactly one form (surrounding whitespace and comments allowed).
Result<Value> ParseEdn(std::string_view text, std::string_view source = "<edn>");

// Reads a Jepsen history.edn (one map per line, one vector/list of maps, or a stream of maps),
// then builds the History (pairing and validation). Each op map goes through OpFromMap (common op
// maps are recognised directly, with the same result); its errors, and a non-map op, read
// "SOURCE: line N: ...". History::line(i) is the line where op i starts.
Result<History> ReadEdnHistory(std::string_view text, std::string_view source);
// ReadEdnHistory op by op, without building a History (history/jsonl.h's OpSink).
Status ForEachEdnOp(std::string_view text, std::string_view source, const OpSink& sink);

// One op as an EDN map on one line (no newline): `{:index 0, :time 5, :type :invoke, ...}`.
// Fields in order: :index and :time (when >= 0), :type, :process, :f (when non-empty), :key (when
// present), :value, :error (when present), then the extras. A process name or f that cannot be a
// keyword is written as a string.
void AppendEdnOp(std::string& out, const Op& op);
// A whole history, one op map per line.
std::string WriteEdnHistory(const History& history);

}  // namespace faultline::history

#endif  // FAULTLINE_HISTORY_EDN_H_
