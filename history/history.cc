#include "history/history.h"

#include <fmt/format.h>

#include <deque>
#include <unordered_map>
#include <utility>

namespace faultline::history {
namespace {

std::string Where(const std::string& source, int64_t line, size_t position) {
  std::string name = source.empty() ? std::string("<history>") : source;
  if (line > 0) return fmt::format("{}: line {}", name, line);
  return fmt::format("{}: op {}", name, position);
}

std::string LineRef(int64_t line, size_t position) {
  return line > 0 ? fmt::format("line {}", line) : fmt::format("op {}", position);
}

struct NemesisKey {
  std::string process;
  std::string f;
  bool operator==(const NemesisKey&) const = default;
};

struct NemesisKeyHash {
  size_t operator()(const NemesisKey& k) const {
    return std::hash<std::string>()(k.process) * 31 + std::hash<std::string>()(k.f);
  }
};

}  // namespace

struct OpPairer::Open {
  struct Invocation {
    size_t position;
    int64_t line;
    std::string f;
  };
  std::unordered_map<int64_t, Invocation> client;  // process -> its open invocation
  std::unordered_map<NemesisKey, size_t, NemesisKeyHash> nemesis;
  std::deque<size_t> none;  // open invocations without a process, oldest first
};

OpPairer::OpPairer(std::string source_name) : source_name_(std::move(source_name)) {}
OpPairer::OpPairer(OpPairer&&) noexcept = default;
OpPairer& OpPairer::operator=(OpPairer&&) noexcept = default;
OpPairer::~OpPairer() = default;

size_t OpPairer::open() const {
  return open_ == nullptr ? 0 : open_->client.size() + open_->nemesis.size() + open_->none.size();
}

Result<size_t> OpPairer::Add(Op& op, size_t i, int64_t line) {
  if (open_ == nullptr) open_ = std::make_unique<Open>();
  auto fail = [&](std::string what) -> Error {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("{}: {}", Where(source_name_, line, i), what));
  };
  if (op.index < 0) op.index = static_cast<int64_t>(i);
  if (i > 0 && op.index <= last_index_) {
    return fail(
        fmt::format(":index {} does not increase (the op before has {})", op.index, last_index_));
  }
  last_index_ = op.index;
  if (op.time_ns >= 0) {
    // Not an error: the file order is the real-time order (see above); count it so the reader
    // warns. last_time_ keeps the maximum so a regression is counted once per op.
    if (op.time_ns < last_time_) {
      if (time_regressions_++ == 0) {
        first_time_regression_ = i;
        first_time_regression_line_ = line;
      }
    } else {
      last_time_ = op.time_ns;
    }
  }

  if (op.process.is_nemesis()) {
    // Jepsen's nemesis writes :info on both halves: the first opens a fault, the next of the
    // same f closes it. An explicit :invoke opens too; :ok/:fail close when something is open.
    NemesisKey key{op.process.name, op.f};
    auto it = open_->nemesis.find(key);
    const bool closes = it != open_->nemesis.end() && op.type != OpType::kInvoke;
    if (closes) {
      const size_t partner = it->second;
      open_->nemesis.erase(it);
      return partner;
    }
    if (op.type == OpType::kInvoke || op.type == OpType::kInfo) {
      if (it != open_->nemesis.end()) open_->nemesis.erase(it);  // an unclosed fault stays open
      open_->nemesis.emplace(std::move(key), i);
      ++invocations_;
    }
    return kNone;
  }

  if (op.process.is_none()) {
    // A minimal history names no processes, so nothing but the file order can pair its ops: a
    // completion closes the oldest open invocation without a process; with none open it stands
    // alone (partner kNone), a transaction known only by its completion, as in papers.
    if (op.type == OpType::kInvoke) {
      open_->none.push_back(i);
      ++invocations_;
      return kNone;
    }
    if (open_->none.empty()) return kNone;
    const size_t partner = open_->none.front();
    open_->none.pop_front();
    return partner;
  }
  auto it = open_->client.find(op.process.number);
  if (op.type == OpType::kInvoke) {
    if (it != open_->client.end()) {
      const Open::Invocation& prev = it->second;
      return fail(
          fmt::format("process {} invokes {} while its {} from {} is still open "
                      "(a process runs one op at a time)",
                      op.process.ToString(), op.f.empty() ? "nil" : op.f,
                      prev.f.empty() ? "nil" : prev.f, LineRef(prev.line, prev.position)));
    }
    open_->client.emplace(op.process.number,
                          Open::Invocation{.position = i, .line = line, .f = op.f});
    ++invocations_;
    return kNone;
  }
  if (it == open_->client.end()) {
    return fail(fmt::format("completion of process {} ({} {}) with no open invocation",
                            op.process.ToString(), OpTypeName(op.type),
                            op.f.empty() ? "nil" : op.f));
  }
  const Open::Invocation& inv = it->second;
  if (inv.f != op.f) {
    return fail(fmt::format("completion of process {} has f {} but its invocation at {} has f {}",
                            op.process.ToString(), op.f.empty() ? "nil" : op.f,
                            LineRef(inv.line, inv.position), inv.f.empty() ? "nil" : inv.f));
  }
  const size_t partner = inv.position;
  open_->client.erase(it);
  return partner;
}

Result<History> History::Build(std::vector<Op> ops, const Source& source) {
  History h;
  h.source_name_ = source.name;
  h.lines_ = source.lines;
  h.partner_.assign(ops.size(), kNone);
  OpPairer pairer(source.name);
  for (size_t i = 0; i < ops.size(); ++i) {
    FAULTLINE_ASSIGN_OR_RETURN(
        const size_t partner, pairer.Add(ops[i], i, i < source.lines.size() ? source.lines[i] : 0));
    if (partner != kNone) {
      h.partner_[i] = partner;
      h.partner_[partner] = i;
    }
  }
  h.invocations_ = pairer.invocations();
  h.open_ = pairer.open();
  h.time_regressions_ = pairer.time_regressions();
  h.first_time_regression_ = pairer.first_time_regression();
  h.ops_ = std::move(ops);
  return h;
}

namespace {

// `count` ops with a :time regression; `first` is the first one's position, `first_line` its line
// or 0.
std::string RegressionNote(size_t count, size_t first, int64_t first_line) {
  if (count == 0) return {};
  return fmt::format(
      "{} op{} {} a :time before that of an op above (first: {}); the file order is used for "
      "real-time precedence",
      count, count == 1 ? "" : "s", count == 1 ? "has" : "have", LineRef(first_line, first));
}

}  // namespace

std::string OpPairer::TimeRegressionNote() const {
  return RegressionNote(time_regressions_, first_time_regression_, first_time_regression_line_);
}

std::string TimeRegressionNote(const History& history) {
  const size_t first = history.first_time_regression();
  return RegressionNote(history.time_regressions(), first,
                        first == History::kNone ? 0 : history.line(first));
}

Result<std::map<Value, History, ValueLess>> History::SplitIndependent() const {
  struct Part {
    std::vector<Op> ops;
    std::vector<int64_t> lines;
  };
  std::map<Value, Part, ValueLess> parts;
  auto is_pair = [](const Value& v) { return v.is_sequential() && v.size() == 2; };
  for (size_t i = 0; i < ops_.size(); ++i) {
    const Op& op = ops_[i];
    if (!op.is_client()) continue;
    const Op* invocation = op.is_invoke() ? &op : nullptr;
    if (!invocation && partner_[i] != kNone) invocation = &ops_[partner_[i]];
    if (!invocation || !is_pair(invocation->value)) {
      if (op.is_invoke() || invocation) {
        return MakeError(
            ErrorCode::kInvalidArgument,
            fmt::format("{}: expected an independent [key value] pair as the value of "
                        "{}, got {}",
                        Where(source_name_, line(i), i), Describe(op), op.value.ToEdn()));
      }
      continue;
    }
    const Value& key = invocation->value.items()[0];
    Op sub = op;
    sub.key = key;
    if (is_pair(op.value) && op.value.items()[0] == key) {
      sub.value = op.value.items()[1];
    } else if (op.is_invoke()) {
      sub.value = op.value.items()[1];
    }  // else: a completion without the pair (e.g. a bare nil): keep its value as it is
    Part& part = parts[key];
    part.ops.push_back(std::move(sub));
    part.lines.push_back(line(i));
  }
  std::map<Value, History, ValueLess> out;
  for (auto& [key, part] : parts) {
    Source src{.name = source_name_, .lines = std::move(part.lines)};
    auto built = Build(std::move(part.ops), src);
    if (!built) return std::move(built).error();
    out.emplace(key, std::move(built).value());
  }
  return out;
}

}  // namespace faultline::history
