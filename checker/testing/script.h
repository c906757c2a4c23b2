// Tests' builder of small client histories: Invoke opens an op of process p, Done / Ok completes
// it (from the invocation, so process, f and key cannot diverge), Build makes the History.
// A checker's test derives its own Script with the workload's shorthands (Add, Read, Check):
//   class Script : public testing::ScriptBase<Script> { Script& Add(...) {...} };
// so that chains keep the derived type: Script().Invoke(0, "read", Nil()).Ok(0, Int(1)).
//
// Thread-safety: one thread.
#ifndef FAULTLINE_CHECKER_TESTING_SCRIPT_H_
#define FAULTLINE_CHECKER_TESTING_SCRIPT_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "history/fields.h"
#include "history/history.h"
#include "history/op.h"
#include "history/value.h"

namespace faultline::checker::testing {

template <typename Self>
class ScriptBase {
 public:
  // `key`: the key of every op that names none.
  explicit ScriptBase(std::string key = "k") : key_(std::move(key)) {}

  // Opens an op of process p on `key` (default: the script's); `final` marks a final read
  // (history::field::kFinal).
  Self& Invoke(int p, std::string f, history::Value v, std::optional<std::string> key = {},
               bool final = false) {
    history::Op op{.index = -1,
                   .time_ns = -1,
                   .type = history::OpType::kInvoke,
                   .process = history::Process::Client(p),
                   .f = std::move(f),
                   .key = history::Value::String(key ? std::move(*key) : key_),
                   .value = std::move(v),
                   .error = std::nullopt,
                   .extras = {}};
    if (final) op.AddExtra(history::field::kFinal, history::Value::Bool(true));
    open_[p] = op;
    ops_.push_back(std::move(op));
    return self();
  }
  // Completes process p's open op.
  Self& Done(int p, history::OpType type, history::Value v = history::Value::Nil()) {
    ops_.push_back(open_[p].Complete(type, std::move(v)));
    return self();
  }
  // An ok completion served by `node` at `revision` (left out when empty / 0).
  Self& Ok(int p, history::Value v, std::string node = "", int64_t revision = 0) {
    history::Op done = open_[p].Complete(history::OpType::kOk, std::move(v));
    if (!node.empty())
      done.AddExtra(history::field::kNode, history::Value::String(std::move(node)));
    if (revision != 0) done.AddExtra(history::field::kRevision, history::Value::Int(revision));
    ops_.push_back(std::move(done));
    return self();
  }

  const std::vector<history::Op>& ops() const { return ops_; }

  // The history so far; a build error fails the test.
  Result<history::History> Build() const {
    Result<history::History> h = history::History::Build(ops_);
    EXPECT_TRUE(h) << h.error().message();
    return h;
  }

 private:
  Self& self() { return static_cast<Self&>(*this); }

  std::string key_;
  std::vector<history::Op> ops_;
  std::map<int, history::Op> open_;
};

}  // namespace faultline::checker::testing

#endif  // FAULTLINE_CHECKER_TESTING_SCRIPT_H_
