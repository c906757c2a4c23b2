#include "dirt/internal/record.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "common/clock.h"

namespace faultline::dirt::internal {

DrillRecord::DrillRecord(const Scenario& scenario, const DrillOptions& options)
    : scenario_(scenario), options_(options) {}

void DrillRecord::OpenLog(const std::string& cluster, const std::vector<std::string>& nodes) {
  if (options_.log != nullptr) {
    writer_ = options_.log;
    Update([&](DrillResult& r) {
      r.history_log = DrillLogInfo{};
      r.history_log->path = writer_->path();
    });
    if (Status st = writer_->AppendMeta(DrillLogMeta(scenario_, cluster, nodes)); !st) {
      LogFailed(st.error().message());
    }
    event_log_ = std::make_unique<EventLog>(*writer_);
    return;
  }
  if (options_.history_dir.empty()) return;
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(options_.history_dir, ec);
  std::string path;
  for (int i = 1;; ++i) {
    path = (fs::path(options_.history_dir) /
            (i == 1 ? fmt::format("history-{}.log", scenario_.id)
                    : fmt::format("history-{}-{}.log", scenario_.id, i)))
               .string();
    if (!fs::exists(path, ec)) break;
  }
  Update([&](DrillResult& r) {
    r.history_log = DrillLogInfo{};
    r.history_log->path = path;
  });
  history::LogOptions lo;
  lo.meta = DrillLogMeta(scenario_, cluster, nodes);
  auto w = history::LogWriter::Create(path, lo);
  if (!w) {
    LogFailed(w.error().message());
    return;
  }
  log_ = std::move(*w);
  writer_ = log_.get();
  event_log_ = std::make_unique<EventLog>(*log_);
}

void DrillRecord::CloseLog() {
  if (writer_ != nullptr && !log_) {
    // The caller's log: it seals it when every part is done.
    event_log_.reset();
    writer_ = nullptr;
    return;
  }
  if (!log_) return;
  event_log_.reset();
  writer_ = nullptr;
  auto sum = log_->Close();
  if (sum) {
    Update([&](DrillResult& r) {
      r.history_log->records = sum->records;
      r.history_log->ops = sum->ops;
      r.history_log->head = sum->head;
    });
  } else {
    LogFailed(sum.error().message());
  }
  log_.reset();
}

void DrillRecord::Progress(const std::string& line) const {
  if (options_.progress) options_.progress(line);
}

void DrillRecord::AddEvent(std::string source, std::string kind, std::string node,
                           std::string detail, bool ok, EventTime at, int pid) {
  DrillEvent e;
  const MonoTime now = MonoNow();
  e.mono_ns = at.mono_ns != 0 ? at.mono_ns : NsOf(now);
  e.wall_ns = at.wall_ns != 0 ? at.wall_ns : WallNow().count() - (NsOf(now) - e.mono_ns);
  const MonoTime fault = fault_.load();
  e.offset_ms = fault != MonoTime{} ? Millis(MonoOf(e.mono_ns) - fault) : 0;
  e.source = std::move(source);
  e.kind = std::move(kind);
  e.node = std::move(node);
  e.detail = std::move(detail);
  e.ok = ok;
  e.pid = pid;
  if (event_log_ && !(in_step_ && e.source == "fault")) {
    Status st = event_log_->Record(e);
    if (!st) LogFailed(st.error().message());
  }
  std::lock_guard lock(mu_);
  result_.events.push_back(std::move(e));
}

void DrillRecord::Fired(const std::string& name) {
  std::lock_guard lock(mu_);
  auto& fired = result_.safeguards_fired;
  if (std::find(fired.begin(), fired.end(), name) == fired.end()) fired.push_back(name);
}

void DrillRecord::LogFailed(const std::string& why) {
  std::lock_guard lock(mu_);
  if (result_.history_log && result_.history_log->error.empty()) {
    result_.history_log->error = why;
    result_.notes.push_back("history log incomplete: " + why);
  }
}

void DrillRecord::BeginStep(size_t index, std::string_view kind, std::string_view targets,
                            std::string description) {
  {
    std::lock_guard lock(mu_);
    step_first_event_ = result_.events.size();
  }
  if (event_log_) {
    Status st = event_log_->BeginStep(index, kind, targets, std::move(description));
    if (!st) LogFailed(st.error().message());
  }
  in_step_ = true;
}

void DrillRecord::EndStep(size_t index, std::string_view kind) {
  in_step_ = false;
  if (!event_log_) return;
  std::vector<std::string> hit, details;
  bool ok = true;
  {
    std::lock_guard lock(mu_);
    for (size_t i = step_first_event_; i < result_.events.size(); ++i) {
      const DrillEvent& e = result_.events[i];
      if (e.source != "fault") continue;
      ok = ok && e.ok;
      if (!e.node.empty() && std::find(hit.begin(), hit.end(), e.node) == hit.end()) {
        hit.push_back(e.node);
      }
      details.push_back(fmt::format("{} {}: {}", e.kind, e.node, e.detail));
    }
  }
  if (details.empty()) {
    ok = false;
    details.push_back("nothing was applied");
  }
  Status st = event_log_->EndStep(index, kind, ok, hit, details);
  if (!st) LogFailed(st.error().message());
}

void DrillRecord::SetFault(MonoTime at) {
  fault_ = at;
  std::lock_guard lock(mu_);
  result_.fault_mono_ns = NsOf(at);
  result_.fault_wall_ns = WallNow().count() - (NsOf(MonoNow()) - NsOf(at));
}

void DrillRecord::Update(const std::function<void(DrillResult&)>& fn) {
  std::lock_guard lock(mu_);
  fn(result_);
}

DrillResult DrillRecord::Snapshot() const {
  std::lock_guard lock(mu_);
  return result_;
}

}  // namespace faultline::dirt::internal
