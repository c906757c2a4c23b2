#include "nemesis/drill_faults.h"

#include <fmt/format.h>
#include <signal.h>

#include <cerrno>
#include <cstring>

#include "nemesis/disk.h"
#include "nemesis/internal/heal.h"
#include "nemesis/internal/proc.h"

namespace faultline::nemesis {
namespace {

LedgerObject Killed(const std::string& node) {
  LedgerObject o;
  o.type = "killed";
  o.node = node;
  return o;
}

LedgerObject FromChange(const SiegeChange& c) {
  LedgerObject o;
  switch (c.kind) {
    case SiegeChange::Kind::kSetting:
      o.type = "setting";
      o.name = c.path;
      o.value = c.old_value;
      o.set_to = c.new_value;
      break;
    case SiegeChange::Kind::kWorker:
      o.type = "burner";
      o.pid = c.pid;
      o.start_time = c.start_time;
      break;
    case SiegeChange::Kind::kFile:
      o.type = "scratch-file";
      o.name = c.path;
      break;
  }
  return o;
}

}  // namespace

bool OwnedByThisProcess(const LedgerEntry& entry) {
  return entry.owner_pid == internal::SelfPid() &&
         entry.owner_start_time == internal::SelfStartTime();
}

Result<std::unique_ptr<DrillFaults>> DrillFaults::Open(const std::string& ledger_path,
                                                       NodeControl& control, std::string run_id) {
  FAULTLINE_ASSIGN_OR_RETURN(Ledger ledger, Ledger::Open(ledger_path));
  return std::unique_ptr<DrillFaults>(
      new DrillFaults(std::move(ledger), control, std::move(run_id)));
}

LedgerEntry DrillFaults::BaseEntry(std::string kind) const {
  LedgerEntry e;
  e.kind = std::move(kind);
  e.run_id = run_id_;
  e.owner_pid = internal::SelfPid();
  e.owner_start_time = internal::SelfStartTime();
  e.opened_unix_ms = UnixMillis();
  return e;
}

Result<FaultReport> DrillFaults::Crash(const std::vector<std::string>& nodes) {
  if (nodes.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "nemesis: crash: no nodes given");
  }
  FaultReport report;
  report.kind = FaultKind::kCrash;
  report.start_mono_ns = internal::MonoNanos();
  FAULTLINE_ASSIGN_OR_RETURN(std::vector<DbProcess> dbs, control_.Databases());
  LedgerEntry entry = BaseEntry(std::string(FaultKindName(FaultKind::kCrash)));
  entry.nodes = nodes;
  entry.description = fmt::format("crash (SIGKILL) {}", fmt::join(nodes, ","));
  for (const auto& n : nodes) entry.objects.push_back(Killed(n));
  FAULTLINE_ASSIGN_OR_RETURN(entry, ledger_.Append(std::move(entry)));
  report.ledger_id = entry.id;
  report.description = entry.description;
  report.nodes = nodes;
  for (const auto& node : nodes) {
    const DbProcess* d = nullptr;
    for (const auto& x : dbs) {
      if (x.node == node) d = &x;
    }
    std::string what;
    bool ok = false;
    if (d == nullptr || d->pid <= 0 || !d->alive) {
      what = "no running database process";
    } else {
      const auto st = internal::ReadProcStat(d->pid);
      const std::uint64_t start = st ? st->start_time : 0;
      if (d->start_time != 0 && start != d->start_time) {
        what = fmt::format("pid {} start time {} != recorded {}: left alone", d->pid, start,
                           d->start_time);
      } else if (::kill(d->pid, SIGKILL) != 0) {
        what = fmt::format("kill({}, SIGKILL): {}", d->pid, std::strerror(errno));
      } else {
        ok = true;
        what = fmt::format("SIGKILL sent directly to the server pid {} (start time {}), as a crash",
                           d->pid, d->start_time);
      }
    }
    report.details.push_back(fmt::format("{}: {}", node, what));
    if (!ok) report.failed.push_back(node);
  }
  report.ok = report.failed.empty();
  report.end_mono_ns = internal::MonoNanos();
  return report;
}

Result<std::uint64_t> DrillFaults::RecordCorruption(const std::string& node,
                                                    const std::string& description) {
  LedgerEntry entry = BaseEntry(std::string(FaultKindName(FaultKind::kCorrupt)));
  entry.nodes = {node};
  entry.description = description;
  entry.objects.push_back(Killed(node));
  FAULTLINE_ASSIGN_OR_RETURN(entry, ledger_.Append(std::move(entry)));
  return entry.id;
}

Result<CorruptReport> DrillFaults::CorruptUndoable(std::uint64_t id, const std::string& node,
                                                   const CorruptSpec& spec) {
  return CorruptWithLedger(ledger_, id, node, spec);
}

Result<DrillFaults::StartedSiege> DrillFaults::StartSiege(const SiegeTarget& target,
                                                          SiegeSpec spec) {
  LedgerEntry entry = BaseEntry(std::string(FaultKindName(FaultKind::kSiege)));
  entry.nodes = {target.name};
  std::vector<std::string> what;
  if (spec.cpu) what.push_back(fmt::format("cpu {}%", spec.cpu->target_percent));
  if (spec.memory) what.push_back(fmt::format("memory {} bytes", spec.memory->target_bytes));
  if (spec.disk) what.push_back(fmt::format("disk {} ops/s", spec.disk->target_ops_per_s));
  entry.description = fmt::format("siege {} ({})", target.name, fmt::join(what, ", "));
  FAULTLINE_ASSIGN_OR_RETURN(entry, ledger_.Append(std::move(entry)));
  const std::uint64_t id = entry.id;
  auto outer = std::move(spec.before_change);
  spec.before_change = [this, id, outer](const SiegeChange& change) -> Status {
    FAULTLINE_RETURN_IF_ERROR(ledger_.Amend(id, {FromChange(change)}));
    return outer ? outer(change) : OkStatus();
  };
  auto siege = Siege::Start(target, spec);
  if (!siege) {
    // Start stopped what it began; the heal covers what a failed stop may have left.
    (void)Heal([id](const LedgerEntry& e) { return e.id == id; });
    return std::move(siege).error();
  }
  return StartedSiege{.ledger_id = id, .siege = std::move(*siege)};
}

Status DrillFaults::Close(std::uint64_t id, std::string_view how) { return ledger_.Close(id, how); }

FaultReport DrillFaults::Heal(const std::function<bool(const LedgerEntry&)>& select) {
  std::vector<std::unique_ptr<Net>> nets;
  return internal::HealEntries(ledger_, &control_, internal::FreshNets(nets), select);
}

Result<std::uint64_t> DrillFaults::LastId() const {
  FAULTLINE_ASSIGN_OR_RETURN(LedgerState state, ledger_.Read());
  return state.last_id;
}

}  // namespace faultline::nemesis
