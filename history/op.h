// faultline::history::Op: one event of a history in Jepsen's vocabulary — an invocation or a
// completion (ok / fail / info) of operation f by a process. Faults are ops of the nemesis process.
//
// Thread-safety: a plain value type.
#ifndef FAULTLINE_HISTORY_OP_H_
#define FAULTLINE_HISTORY_OP_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "history/value.h"

namespace faultline::history {

enum class OpType { kInvoke, kOk, kFail, kInfo };

// "invoke", "ok", "fail", "info".
std::string_view OpTypeName(OpType type);
// Parses a name as written by OpTypeName (no colon); nullopt when unknown.
std::optional<OpType> ParseOpType(std::string_view name);

// A process: a client number, or a named non-client such as the nemesis. Jepsen writes clients as
// integers and the fault injector as the keyword :nemesis; any other non-integer is also a
// non-client and keeps its name so that it is written back unchanged. An op without :process (the
// minimal histories of papers and bug reports: :index, :type, :value) is a client with no process,
// Process::None(), written back without one; History::Build says how it is paired.
struct Process {
  static constexpr int64_t kNone = INT64_MIN;

  int64_t number = 0;
  std::string name;  // empty for a client

  static Process Client(int64_t n) { return Process{.number = n, .name = {}}; }
  static Process Nemesis() { return Process{.number = 0, .name = "nemesis"}; }
  static Process Named(std::string n) { return Process{.number = 0, .name = std::move(n)}; }
  static Process None() { return Process{.number = kNone, .name = {}}; }

  bool is_client() const { return name.empty(); }
  bool is_nemesis() const { return !name.empty(); }
  bool is_none() const { return name.empty() && number == kNone; }
  // "3", "nemesis", or "-" for none.
  std::string ToString() const;

  bool operator==(const Process&) const = default;
  auto operator<=>(const Process&) const = default;
};

// One extra field of an op: a key (usually a keyword) and its value, kept in input order.
struct Field {
  Value key;
  Value value;
  bool operator==(const Field&) const = default;
};

struct Op {
  int64_t index = -1;    // unique and increasing; -1 until assigned (readers assign positions)
  int64_t time_ns = -1;  // ns since the run started (CLOCK_MONOTONIC based); -1 unknown
  OpType type = OpType::kInvoke;
  Process process;
  std::string f;               // keyword name without colon; empty when the op has no :f
  std::optional<Value> key;    // the op's :key field (Porcupine kv), if any
  Value value;                 // arguments on an invocation, results on a completion
  std::optional<Value> error;  // the :error field, if any (keyword, string, vector or map)
  std::vector<Field> extras;   // every other field, in input order

  bool is_invoke() const { return type == OpType::kInvoke; }
  bool is_completion() const { return type != OpType::kInvoke; }
  bool is_client() const { return process.is_client(); }

  // A completion of this invocation: same process, f and key, with the given type and value.
  // index and time are left for the recorder to stamp.
  Op Complete(OpType completion_type, Value result) const {
    return Op{.index = -1,
              .time_ns = -1,
              .type = completion_type,
              .process = process,
              .f = f,
              .key = key,
              .value = std::move(result),
              .error = std::nullopt,
              .extras = {}};
  }

  // The error rendered as text ("timeout", "etcdserver: request timed out"), empty if none.
  std::string ErrorText() const;

  // Looks an extra field up by keyword name; nullptr when absent.
  const Value* FindExtra(std::string_view keyword) const;
  // Appends the extra field :keyword value (after the existing extras; no check for duplicates).
  void AddExtra(std::string_view keyword, Value extra);

  bool operator==(const Op&) const = default;
};

// Converts between an op and its field map (the EDN op map: keyword keys `:index :time :type
// :process :f :key :value :error`, then extras in order). Used by every reader, so validation is
// the same for all formats. Errors say what was expected: "missing :type", ":type must be one of
// :invoke :ok :fail :info, got :foo", ":process must be an integer or a keyword".
// REQUIRES for OpFromMap: map.kind() == ValueKind::kMap, or an error is returned.
Result<Op> OpFromMap(const Value& map);
// Fields absent from the op (index -1, time -1, no key/error) are left out.
Value OpToMap(const Op& op);

// A one-line human description: "3 invoke cas [1 2]", "nemesis info start-partition :majority".
std::string Describe(const Op& op);

}  // namespace faultline::history

#endif  // FAULTLINE_HISTORY_OP_H_
