// DrillRecord: what a drill has seen and done so far — its result being built, its events, and its
// tamper-evident history log (dirt/internal/event_log.h). The stepping loop, the fault applier,
// the repair playbook's thread and the checks all write here. Not part of the public API.
//
// Thread-safety: thread-safe. Update runs its function under the record's lock: it must not call
// back into the record.
#ifndef FAULTLINE_DIRT_INTERNAL_RECORD_H_
#define FAULTLINE_DIRT_INTERNAL_RECORD_H_

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "dirt/drill.h"
#include "dirt/internal/event_log.h"
#include "dirt/internal/time.h"
#include "history/log.h"

namespace faultline::dirt::internal {

// When the event happened, if not now (the supervisor's events carry their own times).
struct EventTime {
  std::int64_t mono_ns = 0;
  std::int64_t wall_ns = 0;
};

class DrillRecord {
 public:
  DrillRecord(const Scenario& scenario, const DrillOptions& options);
  DrillRecord(const DrillRecord&) = delete;
  DrillRecord& operator=(const DrillRecord&) = delete;

  // Creates history-<id>.log (-2, -3, ... when taken) in DrillOptions::history_dir, if one is set,
  // or records into DrillOptions::log (after the drill's meta record) when that is given.
  void OpenLog(const std::string& cluster, const std::vector<std::string>& nodes);
  // Seals the log and notes its head and counts in the result (a caller's log: only stops
  // recording into it).
  void CloseLog();
  // The open log, or null (none asked for, or it could not be created).
  history::LogWriter* log() { return writer_; }

  void Progress(const std::string& line) const;
  void AddEvent(std::string source, std::string kind, std::string node, std::string detail, bool ok,
                EventTime at = {}, int pid = 0);
  // A safeguard that fired ("restart", "repair", "escalation"), once each.
  void Fired(const std::string& name);
  void LogFailed(const std::string& why);

  // Brackets fault step `index`: its "fault" events between the two make up the step's completion
  // in the log instead of pairs of their own.
  void BeginStep(size_t index, std::string_view kind, std::string_view targets,
                 std::string description);
  void EndStep(size_t index, std::string_view kind);

  // The first fault's time; zero until it is set.
  void SetFault(MonoTime at);
  MonoTime fault() const { return fault_.load(); }
  bool has_fault() const { return fault_.load() != MonoTime{}; }

  // Runs fn on the result under the lock.
  void Update(const std::function<void(DrillResult&)>& fn);
  // A copy of the result.
  DrillResult Snapshot() const;

 private:
  const Scenario& scenario_;
  const DrillOptions& options_;
  std::atomic<MonoTime> fault_{MonoTime{}};  // the epoch until the first fault
  std::atomic<bool> in_step_{false};
  std::size_t step_first_event_ = 0;
  // The log is declared before the event log, which borrows it.
  std::unique_ptr<history::LogWriter> log_;
  history::LogWriter* writer_ = nullptr;  // log_, or DrillOptions::log
  std::unique_ptr<EventLog> event_log_;
  mutable std::mutex mu_;
  DrillResult result_;
};

}  // namespace faultline::dirt::internal

#endif  // FAULTLINE_DIRT_INTERNAL_RECORD_H_
