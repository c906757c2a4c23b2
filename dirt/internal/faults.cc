#include "dirt/internal/faults.h"

#include <fmt/format.h>
#include <signal.h>

#include <algorithm>
#include <cstdlib>

#include "nemesis/corrupt.h"
#include "nemesis/grudge.h"

namespace faultline::dirt::internal {
namespace {

std::string Join(const std::vector<std::string>& v) { return fmt::format("{}", fmt::join(v, ",")); }

// The per-node lines of a nemesis report ("n1: mechanism") by node.
std::string DetailOf(const nemesis::FaultReport& r, const std::string& node) {
  const std::string prefix = node + ": ";
  for (const auto& d : r.details) {
    if (d.starts_with(prefix)) return d.substr(prefix.size());
  }
  return r.ok ? r.description : "failed";
}

// The test hook of dirt/internal/faults.h.
void MaybeKill(FaultKind kind) {
  const char* at = std::getenv("FAULTLINE_KILL_POINT");
  if (at == nullptr) return;
  std::string point;
  switch (kind) {
    case FaultKind::kIsolate:
      point = "during-isolate";
      break;
    case FaultKind::kSiege:
      point = "during-siege";
      break;
    default:
      point = fmt::format("after-{}", FaultKindName(kind));
  }
  if (point == at) ::raise(SIGKILL);
}

std::string StepDescription(const Step& step, size_t index, const std::vector<std::string>& nodes) {
  std::string d = fmt::format("{} {} (step {} at +{} ms, targets \"{}\"", FaultKindName(step.fault),
                              Join(nodes), index, step.at.count(), step.targets);
  if (step.duration.count() > 0) d += fmt::format(", for {} ms", step.duration.count());
  if (step.fault == FaultKind::kCorrupt) {
    d += fmt::format(", {} of {}", step.mode, fmt::join(step.files, " "));
  }
  if (step.cpu_percent) d += fmt::format(", cpu {}%", *step.cpu_percent);
  if (step.memory_mb) d += fmt::format(", memory {} MiB", *step.memory_mb);
  if (step.disk_ops) d += fmt::format(", disk {} ops/s", *step.disk_ops);
  return d + ")";
}

}  // namespace

std::string LedgerPath(const cluster::ClusterState& state) {
  return state.run_dir + "/nemesis.ledger";
}

FaultApplier::FaultApplier(const cluster::ClusterState& state, nemesis::NodeControl& control,
                           const Scenario& scenario, const DrillOptions& options,
                           DrillRecord& record, SetPolicy set_policy)
    : state_(state),
      control_(control),
      s_(scenario),
      options_(options),
      record_(record),
      set_policy_(std::move(set_policy)) {
  for (const auto& n : state.nodes) names_.push_back(n.name);
}

FaultApplier::~FaultApplier() {
  // A siege must not outlive the drill even when Rollback was never reached.
  for (auto& s : sieges_) {
    if (s.siege) (void)s.siege->Stop();
  }
}

Status FaultApplier::Open() {
  nemesis::NemesisOptions o;
  o.net = state_.NetConfig();
  o.ledger_path = LedgerPath(state_);
  o.control = &control_;
  o.control_address = state_.control_address;
  // A watchdog heals what a hung drill leaves, well after the drill should have ended.
  o.deadline = s_.observe + std::chrono::milliseconds(60000);
  // Faults whose owner is gone (a drill that was killed, a command's) are healed before this
  // drill measures its steady state.
  o.heal_on_open = true;
  FAULTLINE_ASSIGN_OR_RETURN(nemesis_, nemesis::Nemesis::Open(o));
  if (auto r = nemesis_->recovered()) {
    record_.AddEvent("check", "ledger-recovered", Join(r->nodes), r->Describe(), r->ok);
  }
  FAULTLINE_ASSIGN_OR_RETURN(drill_faults_,
                             nemesis::DrillFaults::Open(o.ledger_path, control_, o.net.run_id));
  FAULTLINE_ASSIGN_OR_RETURN(first_id_, drill_faults_->LastId());
  return OkStatus();
}

void FaultApplier::Failed(const std::string& kind, const std::string& node,
                          const std::string& why) {
  record_.AddEvent("fault", kind, node, why, false);
  step_failed_ = true;
}

void FaultApplier::Apply(const Step& step, size_t index, const std::vector<std::string>& nodes) {
  const std::string kind(FaultKindName(step.fault));
  record_.BeginStep(index, kind, step.targets, StepDescription(step, index, nodes));
  const MonoTime now = MonoNow();
  switch (step.fault) {
    case FaultKind::kCrash:
      Crash(nodes);
      break;
    case FaultKind::kKill:
      if (!Process("fault", kind, nodes, nemesis::ProcessAction::kKill)) step_failed_ = true;
      break;
    case FaultKind::kStart:
      if (!Process("fault", kind, nodes, nemesis::ProcessAction::kStart)) step_failed_ = true;
      break;
    case FaultKind::kPause:
      if (!Process("fault", kind, nodes, nemesis::ProcessAction::kPause)) step_failed_ = true;
      if (step.duration.count() > 0) {
        timed_.push_back({.due = now + step.duration,
                          .end = Timed::End::kResume,
                          .nodes = nodes,
                          .ledger_id = 0,
                          .siege = 0,
                          .done = false});
      }
      break;
    case FaultKind::kIsolate:
      Isolate(step, nodes);
      break;
    case FaultKind::kCorrupt:
      for (const auto& n : nodes) CorruptNode(step, index, n);
      break;
    case FaultKind::kSiege:
      for (const auto& n : nodes) StartSiege(step, n);
      break;
  }
  record_.EndStep(index, kind);
  MaybeKill(step.fault);
}

bool FaultApplier::Process(const std::string& source, const std::string& kind,
                           const std::vector<std::string>& nodes, nemesis::ProcessAction action) {
  Result<nemesis::FaultReport> r = [&] {
    std::lock_guard lock(mu_);
    return nemesis_->Process(nodes, action);
  }();
  if (!r) {
    for (const auto& n : nodes) record_.AddEvent(source, kind, n, r.error().message(), false);
    return false;
  }
  for (const auto& n : nodes) {
    const bool ok = std::find(r->failed.begin(), r->failed.end(), n) == r->failed.end();
    record_.AddEvent(source, kind, n, DetailOf(*r, n), ok);
  }
  return r->ok;
}

// SIGKILL straight to the process, as a crash or the OOM killer would: the supervisor sees an
// unexpected exit, which is what its restart safeguard is for.
void FaultApplier::Crash(const std::vector<std::string>& nodes) {
  Result<nemesis::FaultReport> r = [&] {
    std::lock_guard lock(mu_);
    return drill_faults_->Crash(nodes);
  }();
  if (!r) {
    Failed("crash", Join(nodes), r.error().message());
    return;
  }
  for (const auto& n : nodes) {
    const bool ok = std::find(r->failed.begin(), r->failed.end(), n) == r->failed.end();
    record_.AddEvent("fault", "crash", n, DetailOf(*r, n), ok, {.mono_ns = r->start_mono_ns});
    if (!ok) step_failed_ = true;
  }
}

void FaultApplier::Isolate(const Step& step, const std::vector<std::string>& nodes) {
  std::vector<nemesis::NodeSet> parts;
  nemesis::NodeSet rest(names_.begin(), names_.end());
  for (const auto& n : nodes) {
    parts.push_back({n});
    rest.erase(n);
  }
  if (!rest.empty()) parts.push_back(rest);
  Result<nemesis::FaultReport> rep = [&] {
    std::lock_guard lock(mu_);
    return nemesis_->Partition(nemesis::CompleteGrudge(parts), nemesis::PartitionMode::kDrop);
  }();
  record_.AddEvent("fault", "isolate", Join(nodes), rep ? rep->Describe() : rep.error().message(),
                   rep && rep->ok);
  if (!rep || !rep->ok) step_failed_ = true;
  if (rep && step.duration.count() > 0) {
    timed_.push_back({.due = MonoNow() + step.duration,
                      .end = Timed::End::kHealPartition,
                      .nodes = nodes,
                      .ledger_id = rep->ledger_id,
                      .siege = 0,
                      .done = false});
  }
}

void FaultApplier::HealPartition(std::uint64_t id, const std::string& nodes) {
  nemesis::FaultReport r = [&] {
    std::lock_guard lock(mu_);
    return drill_faults_->Heal([id](const nemesis::LedgerEntry& e) { return e.id == id; });
  }();
  record_.AddEvent("fault", "heal", r.nodes.empty() ? nodes : Join(r.nodes), r.Describe(), r.ok);
}

void FaultApplier::CorruptNode(const Step& step, size_t index, const std::string& name) {
  const cluster::NodeState* n = nullptr;
  for (const auto& node : state_.nodes) {
    if (node.name == name) n = &node;
  }
  if (n == nullptr) return;
  Result<std::uint64_t> id = [&] {
    std::lock_guard lock(mu_);
    return drill_faults_->RecordCorruption(
        name, fmt::format("corrupt {}: {} of {} in {}", name, step.mode, fmt::join(step.files, " "),
                          n->data_dir));
  }();
  if (!id) {
    Failed("corrupt", name, id.error().message());
    return;
  }
  // The files must not be rewritten by a live process or restarted under us mid-way: stop the
  // member with the restart safeguard held off, damage the files, start it, restore the
  // safeguard. What happens next (refusal to start, restarts, escalation) is the drill.
  if (s_.restart.enabled) set_policy_(false, "corrupting " + name);
  if (!Process("fault", "stop-for-corruption", {name}, nemesis::ProcessAction::kKill)) {
    step_failed_ = true;
  }
  nemesis::CorruptSpec spec;
  spec.directory = n->data_dir;
  spec.patterns = step.files;
  spec.mode = *nemesis::ParseCorruptMode(step.mode);
  spec.count = step.count;
  spec.offset = step.offset;
  spec.seed = s_.seed + index;
  auto rep = nemesis::Corrupt(spec);
  if (rep) {
    record_.Update([&](DrillResult& r) {
      r.corrupted_bytes += rep->bytes_altered;
      r.corruption.push_back(name + ": " + rep->Describe());
    });
    record_.AddEvent("fault", "corrupt", name, rep->Describe(), rep->bytes_altered > 0);
    corrupted_[name] = MonoNow();
  } else {
    Failed("corrupt", name, rep.error().message());
  }
  if (s_.restart.enabled) set_policy_(true, "corruption of " + name + " done");
  if (!Process("fault", "start-after-corruption", {name}, nemesis::ProcessAction::kStart)) {
    step_failed_ = true;
  }
}

void FaultApplier::StartSiege(const Step& step, const std::string& name) {
  const cluster::NodeState* n = nullptr;
  for (const auto& node : state_.nodes) {
    if (node.name == name) n = &node;
  }
  auto mounts = nemesis::DetectCgroups();
  if (n == nullptr || !mounts) {
    Failed("siege", name, mounts ? "unknown node" : mounts.error().message());
    return;
  }
  auto target = nemesis::TargetFromCgroups(name, n->cgroups, *mounts);
  if (!target) {
    Failed("siege", name, target.error().message());
    return;
  }
  nemesis::SiegeSpec spec;
  if (step.cpu_percent) {
    spec.cpu.emplace();
    spec.cpu->target_percent = *step.cpu_percent;
    if (options_.siege_cpu_shares > 0) spec.cpu->shares = options_.siege_cpu_shares;
  }
  if (step.memory_mb) {
    spec.memory.emplace();
    spec.memory->target_bytes = *step.memory_mb << 20;
  }
  if (step.disk_ops) {
    spec.disk.emplace();
    spec.disk->target_ops_per_s = *step.disk_ops;
    spec.disk->directory = n->data_dir;
  }
  auto started = [&] {
    std::lock_guard lock(mu_);
    return drill_faults_->StartSiege(*target, spec);
  }();
  if (!started) {
    Failed("siege", name, started.error().message());
    return;
  }
  record_.AddEvent("fault", "siege", name,
                   fmt::format("started in {} (mounts: {})", target->cpu, mounts->Describe()),
                   true);
  sieges_.push_back({.ledger_id = started->ledger_id, .siege = std::move(started->siege)});
  if (step.duration.count() > 0) {
    timed_.push_back({.due = MonoNow() + step.duration,
                      .end = Timed::End::kStopSiege,
                      .nodes = {name},
                      .ledger_id = 0,
                      .siege = sieges_.size() - 1,
                      .done = false});
  }
}

void FaultApplier::StopSiege(size_t idx, const std::string& source) {
  RunningSiege& s = sieges_[idx];
  if (!s.siege) return;
  nemesis::SiegeReport r = s.siege->Stop();
  s.siege.reset();
  {
    std::lock_guard lock(mu_);
    if (Status st = drill_faults_->Close(s.ledger_id, "siege stopped"); !st) {
      r.notes.push_back("ledger: " + st.error().message());
    }
  }
  record_.Update([&](DrillResult& res) {
    res.siege_figures.push_back(r.Describe());
    if (!r.valid) res.siege_valid = false;
  });
  record_.AddEvent(source, "siege-stop", r.target, r.Describe(), r.valid);
}

void FaultApplier::EndDue() {
  for (Timed& t : timed_) {
    if (t.done || t.due > MonoNow()) continue;
    t.done = true;
    switch (t.end) {
      case Timed::End::kResume:
        (void)Process("fault", "resume", t.nodes, nemesis::ProcessAction::kResume);
        break;
      case Timed::End::kHealPartition:
        HealPartition(t.ledger_id, Join(t.nodes));
        break;
      case Timed::End::kStopSiege:
        StopSiege(t.siege, "fault");
        break;
    }
  }
}

bool FaultApplier::Ended() const {
  return std::all_of(timed_.begin(), timed_.end(), [](const Timed& t) { return t.done; });
}

void FaultApplier::Rollback() {
  for (Timed& t : timed_) t.done = true;
  for (size_t i = 0; i < sieges_.size(); ++i) StopSiege(i, "rollback");
  if (drill_faults_) {
    const std::uint64_t first = first_id_;
    nemesis::FaultReport r = [&] {
      std::lock_guard lock(mu_);
      return drill_faults_->Heal([first](const nemesis::LedgerEntry& e) {
        return e.id > first && nemesis::OwnedByThisProcess(e);
      });
    }();
    record_.AddEvent("rollback", "heal", Join(r.nodes), r.Describe(), r.ok);
  }
  // Any database process not running is started again (a failed node too: start clears it).
  auto dbs = control_.Databases();
  if (!dbs) {
    record_.AddEvent("rollback", "databases", "", dbs.error().message(), false);
    return;
  }
  std::vector<std::string> down;
  for (const auto& d : *dbs) {
    if (!d.alive) down.push_back(d.node);
  }
  if (!down.empty() && nemesis_) {
    (void)Process("rollback", "start", down, nemesis::ProcessAction::kStart);
  }
}

}  // namespace faultline::dirt::internal
