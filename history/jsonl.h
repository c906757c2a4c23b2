// faultline's own history format: JSON Lines, one op per line, Jepsen's field names.
//
// Encoding (lossless with EDN, readable with jq for common ops):
// - fields: "index", "time", "type", "process", "f", "key", "value", "error", then extras;
//   "type" and "f" are plain strings (they are always keywords); "process" is an integer or a
//   string (a keyword such as "nemesis"); extra field names are plain strings when they are
//   keywords.
// - values: null, true/false, integers and JSON strings are EDN nil, bool, int64 and string; a JSON
//   array is an EDN vector; a JSON object whose keys are all plain names is an EDN map with keyword
//   keys. Everything else is a one-key object whose key starts with "~": {"~kw":"majority"},
//   {"~sym":"x"}, {"~char":"a"}, {"~big":"123456789012345678901234"}, {"~dec":"1.5"},
//   {"~ratio":"1/3"}, {"~double":"NaN"|"Inf"|"-Inf"}, {"~list":[...]}, {"~set":[...]},
//   {"~map":[[k,v],...]} (a map with a key that is not a keyword, or whose key starts with "~"),
//   {"~tag":["inst", form]}. Finite doubles are JSON numbers that always hold "." or "e".
//   A bare JSON integer outside int64 is an input error (big integers are written as "~big").
// - extras: when every extra key is a keyword whose name is a plain name (not empty, no leading
//   "~"), each extra is its own field; otherwise all of them go, in order, into one field
//   "~extras":[[k,v],...], so that order and key types survive.
// - a line whose object has the key "faultline" (and no "type") is run metadata, not an op:
//   {"faultline":{"format":1,"seed":42,...}}.
// - a truncated last line (no final newline and not valid JSON) is reported and ignored.
//
// Thread-safety: free functions without shared state.
#ifndef FAULTLINE_HISTORY_JSONL_H_
#define FAULTLINE_HISTORY_JSONL_H_

#include <string>
#include <string_view>

#include "common/result.h"
#include "history/history.h"
#include "history/op.h"
#include "history/value.h"

namespace faultline::history {

void AppendJsonValue(std::string& out, const Value& value);
Result<Value> ParseJsonValue(std::string_view text);

// One op as one JSON object, without the newline.
void AppendJsonOp(std::string& out, const Op& op);
// Parses one line; errors say what was expected (no file or line: the caller adds them).
Result<Op> ParseJsonOp(std::string_view line);

struct JsonlReadInfo {
  bool truncated_tail = false;  // the last line was cut off and ignored
  int64_t truncated_line = 0;
  std::vector<Value> metadata;  // the values of the "faultline" fields, in order
};

// Reads a whole JSON Lines history and builds it. Errors read "SOURCE: line N: what was expected".
Result<History> ReadJsonlHistory(std::string_view text, std::string_view source,
                                 JsonlReadInfo* info = nullptr);
std::string WriteJsonlHistory(const History& history);

// ReadJsonlHistory without building a History (no pairing or validation of the order: the sink's
// to do, e.g. with OpPairer). Same errors, `info` filled alike.
Status ForEachJsonlOp(std::string_view text, std::string_view source, JsonlReadInfo* info,
                      const OpSink& sink);

// The same ops as one JSON array (the form elle-cli reads: `[{"index":0,"type":"invoke",...},
// ...]`), objects laid out any way. As elle-cli does, a transaction's micro-op names written as
// strings (["append",1,2]) are read as keywords, and written back as strings. Errors read
// "SOURCE: line N: what was expected at column C".
Result<History> ReadJsonArrayHistory(std::string_view text, std::string_view source,
                                     JsonlReadInfo* info = nullptr);
std::string WriteJsonArrayHistory(const History& history);
Status ForEachJsonArrayOp(std::string_view text, std::string_view source, JsonlReadInfo* info,
                          const OpSink& sink);

}  // namespace faultline::history

#endif  // FAULTLINE_HISTORY_JSONL_H_
