#include "dirt/internal/consistency.h"

#include <fstream>
#include <set>
#include <sstream>

#include "common/file.h"
#include "history/history.h"
#include "history/log.h"

namespace faultline::dirt::internal {
namespace {

void AppendLine(std::string& text, const std::string& line) {
  text.append(text.empty() ? "" : "\n").append(line);
}

}  // namespace

ConsistencyResult CheckLoggedConsistency(const std::string& log_path,
                                         const runner::CampaignConfig& config,
                                         const std::vector<std::string>& warnings) {
  ConsistencyResult c;
  c.workload = std::string(runner::WorkloadName(config.workload));
  c.validity = checker::Validity::kUnknown;
  for (const std::string& w : warnings) AppendLine(c.detail, "workload: " + w);
  Result<std::string> text = ReadFile(log_path);
  if (!text) {
    c.summary = "the history log " + log_path + " cannot be opened";
    return c;
  }
  std::string note;
  auto h = history::ReadLogHistory(*text, log_path, &note);
  if (!h) {
    c.summary = "the history log could not be read back: " + h.error().message();
    return c;
  }
  // The log is read back before its seal on purpose (the verdict is recorded in it afterwards):
  // only a note about something else is worth keeping.
  if (!note.empty() && note.find("no seal") == std::string::npos)
    AppendLine(c.detail, "log: " + note);
  std::vector<history::Op> ops;
  std::set<std::string> keys;
  for (const history::Op& op : h->ops()) {
    if (!op.is_client()) continue;
    if (op.key) keys.insert(op.key->ToEdn());
    ops.push_back(op);
  }
  auto client_history =
      history::History::Build(std::move(ops), history::Source{.name = log_path, .lines = {}});
  if (!client_history) {
    c.summary = "the client ops do not form a history: " + client_history.error().message();
    return c;
  }
  auto v = runner::CheckHistory(*client_history, config);
  if (!v) {
    c.summary = "the checker could not run: " + v.error().message();
    return c;
  }
  c.validity = v->validity;
  c.ops = v->figures.client_ops;
  c.keys = static_cast<std::int64_t>(keys.size());
  for (const auto& [f, n] : v->figures.by_f) {
    c.ok += n.ok;
    c.fail += n.fail;
    c.info += n.info;
  }
  for (const runner::CheckerVerdict& cv : v->checkers) {
    c.summary.append(c.summary.empty() ? "" : "; ").append(cv.name + ": " + cv.summary);
    if (!cv.detail.empty()) AppendLine(c.detail, cv.detail);
  }
  return c;
}

std::optional<std::pair<Verdict, std::string>> ConsistencyVerdict(const ConsistencyResult& c) {
  switch (c.validity) {
    case checker::Validity::kValid:
      return std::nullopt;
    case checker::Validity::kInvalid:
      return std::pair(Verdict::kFail, "the " + c.workload +
                                           " workload's history is not linearizable: " + c.summary);
    case checker::Validity::kUnknown:
      break;
  }
  return std::pair(
      Verdict::kInvalid,
      "the " + c.workload + " workload's consistency could not be established: " + c.summary);
}

}  // namespace faultline::dirt::internal
