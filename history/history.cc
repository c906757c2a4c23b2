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

Result<History> History::Build(std::vector<Op> ops, const Source& source) {
  History h;
  h.source_name_ = source.name;
  h.lines_ = source.lines;
  h.partner_.assign(ops.size(), kNone);
  auto line_of = [&source](size_t i) -> int64_t {
    return i < source.lines.size() ? source.lines[i] : 0;
  };
  auto fail = [&](size_t i, std::string what) -> Error {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("{}: {}", Where(source.name, line_of(i), i), what));
  };

  std::unordered_map<int64_t, size_t> open_client;  // process -> position of its open invocation
  std::unordered_map<NemesisKey, size_t, NemesisKeyHash> open_nemesis;
  std::deque<size_t> open_none;  // open invocations without a process, oldest first
  int64_t last_index = -1;
  int64_t last_time = -1;
  for (size_t i = 0; i < ops.size(); ++i) {
    Op& op = ops[i];
    if (op.index < 0) op.index = static_cast<int64_t>(i);
    if (i > 0 && op.index <= last_index) {
      return fail(i, fmt::format(":index {} does not increase (the op before has {})", op.index,
                                 last_index));
    }
    last_index = op.index;
    if (op.time_ns >= 0) {
      // Not an error: the file order is the real-time order (see history.h); count it so the
      // reader warns. last_time keeps the maximum so a regression is counted once per op.
      if (op.time_ns < last_time) {
        if (h.time_regressions_++ == 0) h.first_time_regression_ = i;
      } else {
        last_time = op.time_ns;
      }
    }

    if (op.process.is_nemesis()) {
      // Jepsen's nemesis writes :info on both halves: the first opens a fault, the next of the
      // same f closes it. An explicit :invoke opens too; :ok/:fail close when something is open.
      NemesisKey key{op.process.name, op.f};
      auto it = open_nemesis.find(key);
      bool closes = it != open_nemesis.end() && op.type != OpType::kInvoke;
      if (closes) {
        h.partner_[i] = it->second;
        h.partner_[it->second] = i;
        open_nemesis.erase(it);
      } else if (op.type == OpType::kInvoke || op.type == OpType::kInfo) {
        if (it != open_nemesis.end())
          open_nemesis.erase(it);  // an unclosed earlier fault stays open
        open_nemesis.emplace(std::move(key), i);
        ++h.invocations_;
      }
      continue;
    }

    if (op.process.is_none()) {
      // A minimal history names no processes, so nothing but the file order can pair its ops: a
      // completion closes the oldest open invocation without a process; with none open it stands
      // alone (partner kNone), a transaction known only by its completion, as in papers.
      if (op.type == OpType::kInvoke) {
        open_none.push_back(i);
        ++h.invocations_;
      } else if (!open_none.empty()) {
        h.partner_[i] = open_none.front();
        h.partner_[open_none.front()] = i;
        open_none.pop_front();
      }
      continue;
    }
    auto it = open_client.find(op.process.number);
    if (op.type == OpType::kInvoke) {
      if (it != open_client.end()) {
        const Op& prev = ops[it->second];
        return fail(i, fmt::format("process {} invokes {} while its {} from {} is still open "
                                   "(a process runs one op at a time)",
                                   op.process.ToString(), op.f.empty() ? "nil" : op.f,
                                   prev.f.empty() ? "nil" : prev.f,
                                   LineRef(line_of(it->second), it->second)));
      }
      open_client.emplace(op.process.number, i);
      ++h.invocations_;
      continue;
    }
    if (it == open_client.end()) {
      return fail(
          i, fmt::format("completion of process {} ({} {}) with no open invocation",
                         op.process.ToString(), OpTypeName(op.type), op.f.empty() ? "nil" : op.f));
    }
    const Op& inv = ops[it->second];
    if (inv.f != op.f) {
      return fail(
          i, fmt::format("completion of process {} has f {} but its invocation at {} has "
                         "f {}",
                         op.process.ToString(), op.f.empty() ? "nil" : op.f,
                         LineRef(line_of(it->second), it->second), inv.f.empty() ? "nil" : inv.f));
    }
    h.partner_[i] = it->second;
    h.partner_[it->second] = i;
    open_client.erase(it);
  }
  h.open_ = open_client.size() + open_nemesis.size() + open_none.size();
  h.ops_ = std::move(ops);
  return h;
}

std::string TimeRegressionNote(const History& history) {
  const size_t n = history.time_regressions();
  if (n == 0) return {};
  const size_t first = history.first_time_regression();
  return fmt::format(
      "{} op{} {} a :time before that of an op above (first: {}); the file order is used for "
      "real-time precedence",
      n, n == 1 ? "" : "s", n == 1 ? "has" : "have", LineRef(history.line(first), first));
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
