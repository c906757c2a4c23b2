#include "checker/internal/ops.h"

#include <utility>
#include <vector>

namespace faultline::checker::internal {
namespace {

class FunctionChecker final : public Checker {
 public:
  FunctionChecker(std::string name, CheckerFns fns)
      : name_(std::move(name)), fns_(std::move(fns)) {}

  std::string_view name() const override { return name_; }

  Result<Verdict> Check(const history::History& history) override {
    Result<Verdict> v = fns_.check(history);
    if (!v) return std::move(v).error().WithContext("check: " + name_);
    return v;
  }

  bool Applies(const history::History& history) const override {
    return !fns_.applies || fns_.applies(history);
  }

  std::string Disagreement(const Verdict& first, const Verdict& mine) const override {
    return fns_.disagreement ? fns_.disagreement(first, mine) : std::string();
  }

 private:
  std::string name_;
  CheckerFns fns_;
};

}  // namespace

std::unique_ptr<Checker> MakeChecker(std::string name, CheckerFns fns) {
  return std::make_unique<FunctionChecker>(std::move(name), std::move(fns));
}

Result<history::History> AsIndependent(const history::History& h) {
  std::vector<history::Op> ops(h.ops().begin(), h.ops().end());
  for (history::Op& op : ops) {
    if (!op.is_client() || !op.key) continue;
    op.value = history::Value::Vector({*op.key, std::move(op.value)});
  }
  return history::History::Build(std::move(ops),
                                 history::Source{.name = h.source_name(), .lines = {}});
}

std::string ExtraText(const history::Op& op, std::string_view name) {
  const history::Value* v = op.FindExtra(name);
  if (v == nullptr) return "?";
  return v->kind() == history::ValueKind::kString ? v->text() : v->ToEdn();
}

bool ExtraIsTrue(const history::Op& op, std::string_view name) {
  const history::Value* v = op.FindExtra(name);
  return v != nullptr && v->kind() == history::ValueKind::kBool && v->as_bool();
}

}  // namespace faultline::checker::internal
