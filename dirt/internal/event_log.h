// Drill events as history ops in the immutable log (history/log.h): every fault step, safeguard,
// playbook, detection, rollback and check action of a drill becomes an op of the process that
// acted, as it happens, so the evidence of a drill is tamper-evident the same way a campaign's
// history is (`faultline audit verify` checks it). Not part of the public API.
//
// Op shapes (process names say who acted):
// - "nemesis": the drill's faults. Jepsen's convention: :info on both halves. A fault step is an
//   invocation when it is issued (value: what is about to be done; :step, :targets) and a
//   completion when it returns (value: what was done; :ok, :nodes, :details). Faults that end on
//   their own schedule (resume, heal, siege-stop) are pairs recorded when they happen.
// - "safeguard" (the supervisor's restart policy acting: restarted, restart-failed, escalated,
//   restart-policy changes), "supervisor" (process exits and starts it saw), "playbook" (the repair
//   playbook's steps), "detection", "rollback", "check": an :invoke then an :ok or :fail
//   completion, recorded back to back once the outcome is known.
// Every completion carries :ok (bool), :source (the drill event's source), :node when there is
// one, :pid when known, :wall_ns and :offset_ms: the event's own time (the supervisor's clock for
// its events, which the drill reads a moment later). The op's :time is when it was recorded, so
// times never decrease in file order.
//
// Thread-safety: Record, BeginStep and EndStep may be called from many threads; a pair is
// appended under one lock so that no other record of the same process and f falls between its
// halves.
#ifndef FAULTLINE_DIRT_INTERNAL_EVENT_LOG_H_
#define FAULTLINE_DIRT_INTERNAL_EVENT_LOG_H_

#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "dirt/drill.h"
#include "history/log.h"
#include "history/op.h"

namespace faultline::dirt::internal {

// The process that acted for a drill event source: "fault" -> the nemesis, others by their name.
history::Process ActorOf(std::string_view source);

// The meta record a drill log starts with: {"faultline":{"dirt":{...}}}.
std::string DrillLogMeta(const Scenario& scenario, std::string_view cluster_name,
                         const std::vector<std::string>& nodes);

class EventLog {
 public:
  // Borrows log, which must outlive this object.
  explicit EventLog(history::LogWriter& log) : log_(log) {}
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  // An action whose outcome is known: its invocation and completion, back to back.
  Status Record(const DrillEvent& event);

  // The invocation of fault step `index` (f: the fault kind), before it is applied.
  Status BeginStep(size_t index, std::string_view f, std::string_view targets,
                   std::string description);
  // Its completion: ok when every part of it was; one detail per node or part.
  Status EndStep(size_t index, std::string_view f, bool ok, const std::vector<std::string>& nodes,
                 const std::vector<std::string>& details);

  history::LogWriter& writer() { return log_; }

 private:
  std::mutex mu_;
  history::LogWriter& log_;
};

}  // namespace faultline::dirt::internal

#endif  // FAULTLINE_DIRT_INTERNAL_EVENT_LOG_H_
