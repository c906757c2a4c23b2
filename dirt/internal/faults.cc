#include "dirt/internal/faults.h"

#include <fmt/format.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include "nemesis/corrupt.h"
#include "nemesis/disk.h"

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
  const nemesis::FaultSpec& spec = step.spec;
  std::string d = fmt::format("{} {} (step {} at +{} ms, targets \"{}\"", FaultKindName(spec.kind),
                              Join(nodes), index, step.at.count(), spec.targets);
  if (spec.duration.count() > 0) d += fmt::format(", for {} ms", spec.duration.count());
  if (spec.kind == FaultKind::kCorrupt) {
    d += fmt::format(", {} of {}", nemesis::CorruptModeName(spec.corrupt.mode),
                     fmt::join(spec.corrupt.files, " "));
  }
  if (spec.siege.cpu_percent) d += fmt::format(", cpu {}%", *spec.siege.cpu_percent);
  if (spec.siege.memory_mb) d += fmt::format(", memory {} MiB", *spec.siege.memory_mb);
  if (spec.siege.disk_ops) d += fmt::format(", disk {} ops/s", *spec.siege.disk_ops);
  return d + ")";
}

// The spec nemesis::ApplyFault gets for a fault of `kind` on `nodes`, already resolved: the drill
// resolves a step's targets once (dirt/drill.cc), so "leader" or "one" cannot name another node
// when the nemesis resolves them again. Only what the kind takes is copied (a scenario step may
// carry parameters its kind ignores, which ValidateFaultSpec would reject).
nemesis::FaultSpec ResolvedSpec(FaultKind kind, const std::vector<std::string>& nodes,
                                std::chrono::milliseconds duration = {}) {
  nemesis::FaultSpec spec;
  spec.kind = kind;
  spec.targets = Join(nodes);
  if (nemesis::KindInfo(kind).params & nemesis::kParamDuration) spec.duration = duration;
  return spec;
}

// Kinds an event names.
std::string KindName(FaultKind kind) { return std::string(FaultKindName(kind)); }

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
  const nemesis::FaultSpec& spec = step.spec;
  const std::string kind = KindName(spec.kind);
  record_.BeginStep(index, kind, spec.targets, StepDescription(step, index, nodes));
  const MonoTime now = MonoNow();
  switch (spec.kind) {
    case FaultKind::kCrash:
      Crash(nodes);
      break;
    case FaultKind::kKill:
    case FaultKind::kStart:
      if (!ApplyProcess("fault", kind, ResolvedSpec(spec.kind, nodes, spec.duration), nodes)) {
        step_failed_ = true;
      }
      break;
    case FaultKind::kPause:
      if (!ApplyProcess("fault", kind, ResolvedSpec(spec.kind, nodes, spec.duration), nodes)) {
        step_failed_ = true;
      }
      if (spec.duration.count() > 0) {
        timed_.push_back({.due = now + spec.duration,
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
    default:
      // ParseScenario admits only dirt::kScenarioFaultKinds.
      Failed(kind, Join(nodes), "not a fault a drill step applies");
      break;
  }
  record_.EndStep(index, kind);
  MaybeKill(spec.kind);
}

Result<nemesis::FaultReport> FaultApplier::ApplyResolved(const nemesis::FaultSpec& spec) {
  std::lock_guard lock(mu_);
  // The targets are node names already: no leader is asked for.
  return nemesis::ApplyFault(*nemesis_, spec, names_, [] { return std::nullopt; },
                             {.drill_faults = drill_faults_.get()});
}

bool FaultApplier::Process(const std::string& source, const std::string& kind,
                           const std::vector<std::string>& nodes, nemesis::ProcessAction action) {
  return ApplyProcess(source, kind, ResolvedSpec(nemesis::ProcessFaultKind(action), nodes), nodes);
}

bool FaultApplier::ApplyProcess(const std::string& source, const std::string& kind,
                                const nemesis::FaultSpec& spec,
                                const std::vector<std::string>& nodes) {
  // Empty targets would mean "all" to the nemesis.
  if (nodes.empty()) return true;
  Result<nemesis::FaultReport> r = ApplyResolved(spec);
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
  Result<nemesis::FaultReport> r = ApplyResolved(ResolvedSpec(FaultKind::kCrash, nodes));
  if (!r) {
    Failed(KindName(FaultKind::kCrash), Join(nodes), r.error().message());
    return;
  }
  for (const auto& n : nodes) {
    const bool ok = std::find(r->failed.begin(), r->failed.end(), n) == r->failed.end();
    record_.AddEvent("fault", KindName(FaultKind::kCrash), n, DetailOf(*r, n), ok,
                     {.mono_ns = r->start_mono_ns});
    if (!ok) step_failed_ = true;
  }
}

// Each target cut off from every other node (nemesis::FaultGrudge), packets dropped.
void FaultApplier::Isolate(const Step& step, const std::vector<std::string>& nodes) {
  Result<nemesis::FaultReport> rep =
      ApplyResolved(ResolvedSpec(FaultKind::kIsolate, nodes, step.spec.duration));
  record_.AddEvent("fault", KindName(FaultKind::kIsolate), Join(nodes),
                   rep ? rep->Describe() : rep.error().message(), rep && rep->ok);
  if (!rep || !rep->ok) step_failed_ = true;
  if (rep && step.spec.duration.count() > 0) {
    timed_.push_back({.due = MonoNow() + step.spec.duration,
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
  record_.AddEvent("fault", KindName(FaultKind::kHeal), r.nodes.empty() ? nodes : Join(r.nodes),
                   r.Describe(), r.ok);
}

void FaultApplier::CorruptNode(const Step& step, size_t index, const std::string& name) {
  const cluster::NodeState* n = nullptr;
  for (const auto& node : state_.nodes) {
    if (node.name == name) n = &node;
  }
  if (n == nullptr) return;
  const nemesis::CorruptParams& corrupt = step.spec.corrupt;
  Result<std::uint64_t> id = [&] {
    std::lock_guard lock(mu_);
    return drill_faults_->RecordCorruption(
        name,
        fmt::format("corrupt {}: {} of {} in {}", name, nemesis::CorruptModeName(corrupt.mode),
                    fmt::join(corrupt.files, " "), n->data_dir));
  }();
  if (!id) {
    Failed(KindName(FaultKind::kCorrupt), name, id.error().message());
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
  spec.patterns = corrupt.files;
  spec.mode = corrupt.mode;
  spec.count = corrupt.count;
  spec.offset = corrupt.offset;
  spec.seed = s_.seed + index;
  // On the faulty filesystem the damage keeps an undo that the heal (the drill's rollback, or
  // `faultline nemesis heal`) restores; a plain directory is damaged for good.
  const bool mounted = nemesis::IsDiskMounted(n->data_dir);
  Result<nemesis::CorruptReport> rep = [&]() -> Result<nemesis::CorruptReport> {
    if (!mounted) return nemesis::Corrupt(spec);
    std::lock_guard lock(mu_);
    return drill_faults_->CorruptUndoable(*id, name, spec);
  }();
  if (rep) {
    record_.Update([&](DrillResult& r) {
      r.corrupted_bytes += rep->bytes_altered;
      r.corruption.push_back(name + ": " + rep->Describe());
    });
    record_.AddEvent("fault", KindName(FaultKind::kCorrupt), name, rep->Describe(),
                     rep->bytes_altered > 0);
    corrupted_[name] = MonoNow();
  } else {
    Failed(KindName(FaultKind::kCorrupt), name, rep.error().message());
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
    Failed(KindName(FaultKind::kSiege), name, mounts ? "unknown node" : mounts.error().message());
    return;
  }
  auto target = nemesis::TargetFromCgroups(name, n->cgroups, *mounts);
  if (!target) {
    Failed(KindName(FaultKind::kSiege), name, target.error().message());
    return;
  }
  const nemesis::SiegeParams& siege = step.spec.siege;
  nemesis::SiegeSpec spec;
  if (siege.cpu_percent) {
    spec.cpu.emplace();
    spec.cpu->target_percent = *siege.cpu_percent;
    if (options_.siege_cpu_shares > 0) spec.cpu->shares = options_.siege_cpu_shares;
  }
  if (siege.memory_mb) {
    spec.memory.emplace();
    spec.memory->target_bytes = *siege.memory_mb << 20;
  }
  if (siege.disk_ops) {
    spec.disk.emplace();
    spec.disk->target_ops_per_s = *siege.disk_ops;
    spec.disk->directory = n->data_dir;
  }
  auto started = [&] {
    std::lock_guard lock(mu_);
    return drill_faults_->StartSiege(*target, spec);
  }();
  if (!started) {
    Failed(KindName(FaultKind::kSiege), name, started.error().message());
    return;
  }
  record_.AddEvent("fault", KindName(FaultKind::kSiege), name,
                   fmt::format("started in {} (mounts: {})", target->cpu, mounts->Describe()),
                   true);
  sieges_.push_back({.ledger_id = started->ledger_id, .siege = std::move(started->siege)});
  if (step.spec.duration.count() > 0) {
    timed_.push_back({.due = MonoNow() + step.spec.duration,
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
        (void)Process("fault", KindName(FaultKind::kResume), t.nodes,
                      nemesis::ProcessAction::kResume);
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
    const auto& owns = options_.owns_entry;
    nemesis::FaultReport r = [&] {
      std::lock_guard lock(mu_);
      return drill_faults_->Heal([first, &owns](const nemesis::LedgerEntry& e) {
        return e.id > first && nemesis::OwnedByThisProcess(e) && (!owns || owns(e));
      });
    }();
    record_.AddEvent("rollback", KindName(FaultKind::kHeal), Join(r.nodes), r.Describe(), r.ok);
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
    (void)Process("rollback", KindName(FaultKind::kStart), down, nemesis::ProcessAction::kStart);
  }
}

}  // namespace faultline::dirt::internal
