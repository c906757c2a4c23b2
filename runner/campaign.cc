// RunCampaign: workers as coroutines on one io_context thread, the nemesis on its own thread
// (netlink and process faults block), the log as the single record of both.
#include "runner/campaign.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

#include "checker/fault_probe.h"
#include "history/fields.h"
#include "nemesis/mangle_probe.h"

namespace faultline::runner {
namespace {

namespace asio = boost::asio;
using history::Op;
using history::OpType;
using history::Process;
using history::Value;
using Clock = std::chrono::steady_clock;

Op NemesisOp(std::string_view f, std::string description) {
  return Op{.index = -1,
            .time_ns = -1,
            .type = OpType::kInfo,
            .process = Process::Nemesis(),
            .f = std::string(f),
            .key = std::nullopt,
            .value = Value::String(std::move(description)),
            .error = std::nullopt,
            .extras = {}};
}

// The adapter from the runner's FaultInjector to nemesis::Nemesis.
class NemesisInjector final : public FaultInjector {
 public:
  NemesisInjector(nemesis::Nemesis& n, std::vector<std::string> nodes,
                  std::function<std::optional<std::string>()> leader, ProbeTargets probes)
      : nemesis_(n),
        nodes_(std::move(nodes)),
        leader_(std::move(leader)),
        probes_(std::move(probes)) {}

  std::vector<std::string> Nodes() const override { return nodes_; }

  Result<nemesis::FaultReport> Apply(const nemesis::FaultSpec& spec) override {
    // The leader is asked at most once per fault, so the probe's grudge is the applied one.
    std::optional<std::optional<std::string>> asked;
    const nemesis::LeaderFn leader = [&] {
      if (!asked) asked = leader_ ? leader_() : std::nullopt;
      return *asked;
    };
    if (nemesis::IsPartitionKind(spec.kind)) {
      Result<nemesis::Grudge> grudge = nemesis::FaultGrudge(spec, nodes_, leader);
      if (!grudge) return std::move(grudge).error().WithContext("nemesis");
      last_grudge_ = std::move(*grudge);
    }
    Result<nemesis::FaultReport> report = nemesis::ApplyFault(nemesis_, spec, nodes_, leader);
    if (report && nemesis::IsPartitionKind(spec.kind)) {
      report->cut_off = nemesis::CutOffFromMajority(last_grudge_, nodes_);
    }
    return report;
  }

  nemesis::FaultReport HealAll() override { return nemesis_.HealAll(); }

  FaultProbe Probe(const nemesis::FaultSpec& spec, const nemesis::FaultReport& report) override {
    if (probes_.control == nullptr) return {};
    auto targets = [&] {
      if (!report.nodes.empty()) return report.nodes;
      Result<std::vector<std::string>> resolved = nemesis::FaultTargets(spec, nodes_, leader_);
      return resolved ? *resolved : std::vector<std::string>{};
    };
    switch (spec.kind) {
      case FaultKind::kPartition:
      case FaultKind::kIsolate:
      case FaultKind::kIsolateLeader:
        return ProbePartition(last_grudge_);
      case FaultKind::kKill:
      case FaultKind::kPause:
        return ProbeProcesses(spec.kind, targets());
      case FaultKind::kLoss:
        return ProbeLoss(targets(), spec.probability);
      case FaultKind::kClockBump:
      case FaultKind::kClockStrobe:
        return ProbeClock(targets(), spec);
      case FaultKind::kDuplicate:
      case FaultKind::kReorder:
      case FaultKind::kPacketCorrupt:
        return ProbeMangling(targets(), spec);
      default:
        return {};
    }
  }

 private:
  // A TCP connect from `from`'s namespace (or machine) to `to`'s peer port. "timeout" when no
  // answer came, "connected", "refused" (packets flowed: a reset came back), or "error: ..." for
  // other failures (an unreachable route counts as cut).
  std::string Connect(const std::string& from, const std::string& to) {
    auto addr = probes_.peer_addresses.find(to);
    if (addr == probes_.peer_addresses.end()) return "error: no address known for " + to;
    const std::string command =
        fmt::format("timeout {:.1f} bash -c 'exec 3<>/dev/tcp/{}/{}'", probes_.connect_timeout_s,
                    addr->second, probes_.peer_port);
    Result<nemesis::CommandOutput> out = probes_.control->Run(from, command);
    if (!out) return "error: " + out.error().message();
    if (out->exit_code == 0) return "connected";
    if (out->exit_code == 124) return "timeout";
    if (out->err.find("refused") != std::string::npos) return "refused";
    // One line: bash prints the connect error twice ("connect: ..." and "/dev/tcp/...: ...").
    std::string err = out->err;
    while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
    const size_t nl = err.find('\n');
    if (nl != std::string::npos) err.resize(nl);
    return fmt::format("error: exit {} ({})", out->exit_code, err);
  }

  FaultProbe ProbePartition(const nemesis::Grudge& grudge) {
    // A cut pair: `to` drops packets from `from`. A kept pair: neither drops the other.
    std::optional<std::pair<std::string, std::string>> cut;
    std::optional<std::pair<std::string, std::string>> kept;
    auto drops = [&](const std::string& a, const std::string& b) {
      auto it = grudge.find(a);
      return it != grudge.end() && it->second.count(b) > 0;
    };
    for (const std::string& to : nodes_) {
      for (const std::string& from : nodes_) {
        if (from == to) continue;
        if (!cut && drops(to, from)) cut.emplace(from, to);
        if (!kept && !drops(to, from) && !drops(from, to)) kept.emplace(from, to);
      }
    }
    if (!cut) return FaultProbe{.confirmed = std::nullopt, .evidence = "no pair is cut"};
    const checker::ConnectSeen cut_seen{
        .from = cut->first, .to = cut->second, .seen = Connect(cut->first, cut->second)};
    std::optional<checker::ConnectSeen> kept_seen;
    if (kept && checker::ConnectWasCut(cut_seen.seen)) {
      kept_seen = checker::ConnectSeen{
          .from = kept->first, .to = kept->second, .seen = Connect(kept->first, kept->second)};
    }
    return checker::JudgePartitionProbe(cut_seen, kept_seen, probes_.peer_port);
  }

  // Loss is statistical: kTries short connects from the first lossy node to a peer; a dropped SYN
  // (or SYN-ACK) makes a connect miss its short timeout. At the default 30% loss, the chance that
  // none of 30 connects is hit is 0.7^30 = 2e-5, so "none lost" means the loss is not there.
  FaultProbe ProbeLoss(const std::vector<std::string>& lossy, double probability) {
    constexpr int kTries = 30;
    if (lossy.empty() || probability < 0.1) {
      return FaultProbe{.confirmed = std::nullopt,
                        .evidence = "not probed: no node, or loss too rare to see in a probe"};
    }
    const std::string& from = lossy.front();
    std::string to;
    for (const std::string& n : nodes_) {
      if (std::find(lossy.begin(), lossy.end(), n) == lossy.end()) {
        to = n;
        break;
      }
    }
    auto addr = probes_.peer_addresses.find(to);
    if (to.empty() || addr == probes_.peer_addresses.end()) {
      return FaultProbe{.confirmed = std::nullopt, .evidence = "not probed: no peer to connect to"};
    }
    const std::string command = fmt::format(
        "lost=0; for i in $(seq {}); do timeout 0.3 bash -c 'exec 3<>/dev/tcp/{}/{}' "
        "2>/dev/null || lost=$((lost+1)); done; echo $lost",
        kTries, addr->second, probes_.peer_port);
    Result<nemesis::CommandOutput> out = probes_.control->Run(from, command);
    if (!out || out->exit_code != 0) {
      return FaultProbe{
          .confirmed = std::nullopt,
          .evidence = "loss probe could not run: " + (out ? out->err : out.error().message())};
    }
    return checker::JudgeLossProbe({.from = from,
                                    .to = to,
                                    .port = probes_.peer_port,
                                    .tries = kTries,
                                    .lost = std::atoi(out->out.c_str()),
                                    .probability = probability});
  }

  FaultProbe ProbeProcesses(FaultKind kind, const std::vector<std::string>& targets) {
    Result<std::vector<nemesis::DbProcess>> dbs = probes_.control->Databases();
    if (!dbs) {
      return FaultProbe{.confirmed = std::nullopt,
                        .evidence = "process table unreadable: " + dbs.error().message()};
    }
    std::vector<checker::ProcessSeen> seen;
    for (const std::string& node : targets) {
      auto it = std::find_if(dbs->begin(), dbs->end(),
                             [&](const nemesis::DbProcess& d) { return d.node == node; });
      if (it == dbs->end()) {
        seen.push_back(checker::ProcessSeen{
            .node = node, .found = false, .alive = false, .paused = false, .state = "", .pid = 0});
        continue;
      }
      seen.push_back(checker::ProcessSeen{.node = node,
                                          .found = true,
                                          .alive = it->alive,
                                          .paused = it->paused,
                                          .state = it->state,
                                          .pid = it->pid});
    }
    return checker::JudgeProcessProbe(kind == FaultKind::kKill, seen);
  }

  // Each target's clock as a process on the node reads it; a strobe is read four times over a
  // period, so both of its halves show.
  FaultProbe ProbeClock(const std::vector<std::string>& targets, const nemesis::FaultSpec& spec) {
    const bool strobe = spec.kind == FaultKind::kClockStrobe;
    std::vector<checker::ClockSeen> seen;
    for (int round = 0; round < (strobe ? 4 : 1); ++round) {
      if (round > 0) std::this_thread::sleep_for(spec.clock_period / 2);
      for (const std::string& node : targets) {
        Result<nemesis::ClockReading> r = nemesis::MeasureClockOffset(*probes_.control, node);
        checker::ClockSeen s{.node = node,
                             .read = r.has_value(),
                             .offset_ms = r ? r->offset.count() : 0,
                             .uncertainty_ms = r ? r->uncertainty.count() : 0,
                             .error = r ? std::string() : r.error().message()};
        seen.push_back(std::move(s));
      }
    }
    return checker::JudgeClockProbe(spec.clock_offset.count(), strobe, seen);
  }

  // Numbered datagrams from the first faulted node to a peer of the fault (one it does not fault
  // itself if there is one), sent through the fault's queue rule (nemesis/mangle_probe.h). 300
  // datagrams 1 ms apart: at a share of 5%, the chance that none is mangled is 0.95^300 = 2e-7; a
  // reorder hold must outlast a few spacings for a held datagram to be overtaken.
  FaultProbe ProbeMangling(const std::vector<std::string>& targets,
                           const nemesis::FaultSpec& spec) {
    if (targets.empty() || spec.probability < 0.05) {
      return FaultProbe{.confirmed = std::nullopt,
                        .evidence = "not probed: no node, or a share too small to see in a probe"};
    }
    if (spec.kind == FaultKind::kReorder &&
        spec.delay - spec.jitter < std::chrono::milliseconds(5)) {
      return FaultProbe{.confirmed = std::nullopt,
                        .evidence = "not probed: a hold under 5 ms is overtaken too rarely"};
    }
    const std::string& from = targets.front();
    const std::vector<std::string>& peers = spec.peers.empty() ? nodes_ : spec.peers;
    std::string to;
    for (const std::string& n : peers) {
      if (n == from) continue;
      const bool faulted = std::find(targets.begin(), targets.end(), n) != targets.end();
      if (to.empty() || !faulted) to = n;
      if (!faulted) break;
    }
    auto addr = probes_.peer_addresses.find(to);
    if (to.empty() || addr == probes_.peer_addresses.end()) {
      return FaultProbe{.confirmed = std::nullopt, .evidence = "not probed: no peer to send to"};
    }
    const auto kind = spec.kind == FaultKind::kDuplicate ? checker::ManglingProbeKind::kDuplicate
                      : spec.kind == FaultKind::kReorder ? checker::ManglingProbeKind::kReorder
                                                         : checker::ManglingProbeKind::kCorrupt;
    Result<nemesis::packet::PacketCounts> counts = nemesis::ProbeDatagrams(
        *probes_.control, nemesis::DatagramProbe{.from = from,
                                                 .to = to,
                                                 .to_address = addr->second,
                                                 .port = 47017,
                                                 .count = 300,
                                                 .spacing = std::chrono::microseconds(1000),
                                                 .wait = std::chrono::milliseconds(3000)});
    return checker::JudgeManglingProbe(
        kind, checker::ManglingSeen{.from = from,
                                    .to = to,
                                    .counts = counts ? *counts : nemesis::packet::PacketCounts{},
                                    .error = counts ? std::string() : counts.error().message()});
  }

  nemesis::Nemesis& nemesis_;
  std::vector<std::string> nodes_;
  std::function<std::optional<std::string>()> leader_;
  ProbeTargets probes_;
  nemesis::Grudge last_grudge_;
};

// State shared by the workers (io thread), the progress timer (io thread) and the nemesis thread.
struct Context {
  const CampaignConfig& config;
  CampaignDeps& deps;
  history::LogWriter& log;
  asio::io_context io;
  Generator gen;
  std::stop_source run_over;  // time limit reached, Ctrl-C, or a log failure
  Clock::time_point start;
  Clock::time_point deadline;
  std::string phase = "run";

  // io thread only.
  std::vector<Process> processes;
  std::vector<std::unique_ptr<client::Client>> clients;
  int active = 0;
  int64_t ok = 0;
  int64_t fail = 0;
  int64_t info = 0;
  int64_t invocations = 0;

  std::mutex mu;  // guards the fields below
  std::string fault = "none";
  std::optional<Error> error;
  std::vector<std::string> warnings;

  Context(const CampaignConfig& c, CampaignDeps& d, GeneratorOptions g)
      : config(c), deps(d), log(*d.log), gen(std::move(g)) {}

  void Fail(Error e) {
    {
      std::lock_guard lock(mu);
      if (!error) error = std::move(e);
    }
    run_over.request_stop();
  }
  void Warn(std::string w) {
    std::lock_guard lock(mu);
    if (warnings.size() < 100) warnings.push_back(std::move(w));
  }
  void SetFault(std::string f) {
    std::lock_guard lock(mu);
    fault = std::move(f);
  }
  bool Append(const Op& op) {
    Status s = log.Append(op);
    if (!s) Fail(std::move(s).error().WithContext("campaign: record op"));
    return static_cast<bool>(s);
  }
};

// Fills in what the server said, unless the client already recorded it, and pins process, f and
// key to the invocation's (a client bug must not unpair the history).
Op CompletionOp(const Op& invoke, client::Completion c) {
  Op op = std::move(c.op);
  op.index = -1;
  op.time_ns = -1;
  op.process = invoke.process;
  op.f = invoke.f;
  op.key = invoke.key;
  if (op.type == OpType::kInvoke) op.type = OpType::kInfo;
  auto add = [&](std::string_view name, Value v) {
    if (op.FindExtra(name) == nullptr) op.AddExtra(name, std::move(v));
  };
  if (!c.node.empty()) add(history::field::kNode, Value::String(c.node));
  if (c.member_id != 0) add(history::field::kMemberId, Value::String(std::to_string(c.member_id)));
  if (c.revision != 0) add(history::field::kRevision, Value::Int(c.revision));
  if (c.raft_term != 0)
    add(history::field::kRaftTerm, Value::Int(static_cast<int64_t>(c.raft_term)));
  add(history::field::kLatencyNs, Value::Int(c.latency.count()));
  return op;
}

// Opens the worker's client if it has none. False (and a warning) when the factory refuses.
bool EnsureClient(Context& ctx, int w) {
  auto& client = ctx.clients[static_cast<size_t>(w)];
  if (client) return true;
  Result<std::unique_ptr<client::Client>> opened =
      ctx.deps.clients->Open(ctx.processes[static_cast<size_t>(w)], ctx.io);
  if (!opened) {
    ctx.Warn(fmt::format("worker {}: open client for process {}: {}", w,
                         ctx.processes[static_cast<size_t>(w)].ToString(),
                         opened.error().message()));
    return false;
  }
  client = std::move(*opened);
  return true;
}

// Invokes one op and records both halves. Returns the completion type, or nullopt when the log
// failed.
asio::awaitable<std::optional<OpType>> InvokeOne(Context& ctx, int w, Op invoke) {
  if (!ctx.Append(invoke)) co_return std::nullopt;
  ++ctx.invocations;
  auto& client = ctx.clients[static_cast<size_t>(w)];
  client::Completion c = co_await client->Invoke(invoke);
  Op op = CompletionOp(invoke, std::move(c));
  if (!ctx.Append(op)) co_return std::nullopt;
  switch (op.type) {
    case OpType::kOk:
      ++ctx.ok;
      break;
    case OpType::kFail:
      ++ctx.fail;
      break;
    default:
      ++ctx.info;
      // Jepsen's process semantics: the process's state is unknown, so it is retired and the worker
      // continues as a new process on a new connection.
      client->Close();
      client.reset();
      ctx.processes[static_cast<size_t>(w)] =
          NextProcess(ctx.processes[static_cast<size_t>(w)], ctx.config.concurrency);
      break;
  }
  co_return op.type;
}

asio::awaitable<void> Sleep(std::chrono::nanoseconds d) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_after(d);
  co_await timer.async_wait(asio::use_awaitable);
}

asio::awaitable<void> Worker(Context& ctx, int w) {
  const auto token = ctx.run_over.get_token();
  // A lock holder finishes its cycle (hold, release) after the time limit; see Generator::InCycle.
  while ((!token.stop_requested() && Clock::now() < ctx.deadline) || ctx.gen.InCycle(w)) {
    if (!EnsureClient(ctx, w)) {
      co_await Sleep(std::chrono::milliseconds(100));
      continue;
    }
    Op invoke = ctx.gen.Next(w, ctx.processes[static_cast<size_t>(w)]);
    const bool cas = invoke.f == "cas";
    const std::string f = invoke.f;
    std::optional<OpType> type = co_await InvokeOne(ctx, w, std::move(invoke));
    if (!type) break;
    ctx.gen.Completed(w, f, *type);  // the lock workload's cycle follows the outcome
    // A fail other than a cas's false compare means the node refused the connection (it is
    // down): back off instead of spinning on it, which would only fill the history.
    if (*type == OpType::kFail && !cas) co_await Sleep(std::chrono::milliseconds(50));
    const auto delay = ctx.gen.Delay(w);
    if (delay.count() > 0) co_await Sleep(delay);
  }
}

// Final reads: each worker reads until one succeeds or the deadline passes.
asio::awaitable<void> FinalReader(Context& ctx, int w, Clock::time_point deadline) {
  while (Clock::now() < deadline && !ctx.deps.stop.stop_requested()) {
    std::optional<Op> read = ctx.gen.FinalRead(w, ctx.processes[static_cast<size_t>(w)]);
    if (!read) co_return;
    if (!EnsureClient(ctx, w)) {
      co_await Sleep(std::chrono::milliseconds(100));
      continue;
    }
    std::optional<OpType> type = co_await InvokeOne(ctx, w, std::move(*read));
    if (!type || *type == OpType::kOk) co_return;
    co_await Sleep(std::chrono::milliseconds(250));
  }
}

asio::awaitable<void> ProgressTimer(Context& ctx, const ProgressFn& progress) {
  int64_t last = ctx.ok + ctx.fail + ctx.info;
  auto last_time = Clock::now();
  while (ctx.active > 0) {
    co_await Sleep(std::chrono::milliseconds(100));
    const auto now = Clock::now();
    if (now - last_time < std::chrono::seconds(1)) continue;
    const int64_t done = ctx.ok + ctx.fail + ctx.info;
    ProgressInfo p;
    p.elapsed_s = std::chrono::duration<double>(now - ctx.start).count();
    p.ops_per_s =
        static_cast<double>(done - last) / std::chrono::duration<double>(now - last_time).count();
    p.ok = ctx.ok;
    p.fail = ctx.fail;
    p.info = ctx.info;
    {
      std::lock_guard lock(ctx.mu);
      p.fault = ctx.fault;
    }
    p.phase = ctx.phase;
    last = done;
    last_time = now;
    if (progress) progress(p);
  }
}

// Runs `make(w)` for every worker as coroutines until all return.
template <typename Make>
void RunWorkers(Context& ctx, const ProgressFn& progress, Make make) {
  ctx.io.restart();
  ctx.active = ctx.config.concurrency;
  for (int w = 0; w < ctx.config.concurrency; ++w) {
    asio::co_spawn(ctx.io, make(w), [&ctx](std::exception_ptr e) {
      --ctx.active;
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        ctx.Fail(
            Error(ErrorCode::kInternal,
                  fmt::format("campaign: worker: internal error (please report): {}", ex.what())));
      }
    });
  }
  asio::co_spawn(ctx.io, ProgressTimer(ctx, progress), asio::detached);
  ctx.io.run();
}

double SecondsSinceLogStart(const history::LogWriter& log) {
  return static_cast<double>(log.ElapsedNs()) / 1e9;
}

// Heals everything and records it as a heal pair. Returns the report's line.
std::string Heal(Context& ctx, FaultInjector& injector,
                 std::map<std::string, std::int64_t>* counts = nullptr) {
  ctx.SetFault("healing");
  const std::string_view f = nemesis::FaultF(FaultKind::kHeal);
  ctx.Append(NemesisOp(f, "heal all"));
  nemesis::FaultReport r = injector.HealAll();
  if (counts != nullptr) {
    for (const auto& [k, v] : r.counts) (*counts)[k] += v;
  }
  Op done = NemesisOp(f, r.description.empty() ? std::string("healed") : r.description);
  done.AddExtra(history::field::kOk, Value::Bool(r.ok));
  if (!r.failed.empty()) done.AddExtra(history::field::kFailed, Value::Strings(r.failed));
  ctx.Append(done);
  ctx.SetFault("none");
  return r.ok ? fmt::format("heal: {}", r.description)
              : fmt::format("heal: incomplete: {} (failed on {})", r.description,
                            fmt::join(r.failed, ","));
}

// The nemesis thread: quiet for heal_s, a fault for fault_s, heal, and again, until the run ends.
void NemesisLoop(Context& ctx, FaultInjector& injector, std::vector<FaultInterval>& faults,
                 std::vector<std::string>& heals) {
  NemesisSchedule schedule(NemesisScheduleOptions{.kinds = ctx.config.nemesis,
                                                  .nodes = injector.Nodes(),
                                                  .isolate_node = ctx.config.isolate_node,
                                                  .leader = ctx.deps.leader,
                                                  .seed = ctx.config.seed});
  const auto token = ctx.run_over.get_token();
  std::mutex m;
  std::condition_variable_any cv;
  // True when the whole time passed, false when the run ended first.
  auto sleep = [&](double seconds) {
    std::unique_lock lock(m);
    cv.wait_for(lock, token, std::chrono::duration<double>(seconds), [] { return false; });
    return !token.stop_requested();
  };
  while (sleep(ctx.config.heal_s)) {
    Result<nemesis::FaultSpec> spec = schedule.Next();
    if (!spec) {
      ctx.Warn(spec.error().WithContext("nemesis schedule").message());
      return;
    }
    const std::string_view f = nemesis::FaultF(spec->kind);
    const std::string described = nemesis::DescribeFault(*spec);
    FaultInterval interval;
    interval.spec = *spec;
    interval.start_s = SecondsSinceLogStart(ctx.log);
    if (!ctx.Append(NemesisOp(f, described))) return;
    ctx.SetFault(described);
    Result<nemesis::FaultReport> report = injector.Apply(*spec);
    Op done = NemesisOp(f, "");
    if (report) {
      interval.description = report->description;
      interval.ok = report->ok;
      interval.nodes = report->nodes;
      interval.failed = report->failed;
      interval.details = report->details;
      interval.cut_off = report->cut_off;
      interval.counts = report->counts;
      if (report->end_mono_ns > report->start_mono_ns && report->start_mono_ns > 0) {
        interval.apply_ms = static_cast<double>(report->end_mono_ns - report->start_mono_ns) / 1e6;
      }
      done.value = Value::String(report->description);
    } else {
      interval.description = report.error().message();
      done.value = Value::String(interval.description);
      done.error = Value::String(interval.description);
    }
    double probe_s = 0;
    if (report && report->ok) {
      const auto probe_start = Clock::now();
      interval.probe = injector.Probe(*spec, *report);
      probe_s = std::chrono::duration<double>(Clock::now() - probe_start).count();
      for (const auto& [k, v] : interval.probe.counts) interval.counts[k] = v;
      if (interval.probe.confirmed) {
        done.AddExtra(history::field::kConfirmed, Value::Bool(*interval.probe.confirmed));
      }
      if (!interval.probe.evidence.empty()) {
        done.AddExtra(history::field::kProbe, Value::String(interval.probe.evidence));
      }
    }
    done.AddExtra(history::field::kOk, Value::Bool(interval.ok));
    if (!interval.nodes.empty())
      done.AddExtra(history::field::kNodes, Value::Strings(interval.nodes));
    if (!interval.failed.empty())
      done.AddExtra(history::field::kFailed, Value::Strings(interval.failed));
    // Always on a partition (empty: nobody lost the majority), so the checker can tell a stale
    // read from a cut-off node from one of a lagging node in the majority.
    if (report && nemesis::IsPartitionKind(spec->kind)) {
      done.AddExtra(history::field::kCutOff, Value::Strings(report->cut_off));
    }
    if (!ctx.Append(done)) return;
    // The probe ran while the fault was in force; it counts toward the fault's time.
    const bool full = sleep(std::max(0.0, ctx.config.fault_s - probe_s));
    interval.heal_s = SecondsSinceLogStart(ctx.log);
    heals.push_back(Heal(ctx, injector, &interval.counts));
    interval.end_s = SecondsSinceLogStart(ctx.log);
    faults.push_back(std::move(interval));
    if (!full) return;
  }
}

}  // namespace

std::unique_ptr<FaultInjector> MakeNemesisInjector(
    nemesis::Nemesis& nemesis, std::vector<std::string> nodes,
    std::function<std::optional<std::string>()> leader, ProbeTargets probes) {
  return std::make_unique<NemesisInjector>(nemesis, std::move(nodes), std::move(leader),
                                           std::move(probes));
}

Result<RunStats> RunCampaign(const CampaignConfig& config, CampaignDeps& deps,
                             const ProgressFn& progress) {
  FAULTLINE_RETURN_IF_ERROR(ValidateConfig(config));
  if (deps.clients == nullptr || deps.log == nullptr) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "campaign: a client factory and a log are needed");
  }
  if (!config.nemesis.empty() && deps.nemesis == nullptr) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "campaign: faults are scheduled but no nemesis was given");
  }
  GeneratorOptions g{.workload = config.workload,
                     .concurrency = config.concurrency,
                     .per_key_limit = config.per_key_limit,
                     .ops_per_key = config.ops_per_key,
                     .value_domain = config.value_domain,
                     .set_read_share = 0.1,
                     .lock_ttl_s = config.lock_ttl_s,
                     .key_prefix = fmt::format("fl{}-{}", config.seed, history::MonotonicNowNs()),
                     .rate = config.rate,
                     .seed = config.seed};
  Context ctx(config, deps, std::move(g));
  ctx.start = Clock::now();
  ctx.deadline = ctx.start + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(config.time_limit_s));
  for (int w = 0; w < config.concurrency; ++w) ctx.processes.push_back(Process::Client(w));
  ctx.clients.resize(static_cast<size_t>(config.concurrency));

  RunStats stats;
  std::atomic<bool> interrupted{false};
  std::stop_callback on_stop(deps.stop, [&] {
    interrupted = true;
    ctx.run_over.request_stop();
  });

  std::vector<FaultInterval> faults;
  std::vector<std::string> heals;
  std::thread nemesis_thread;
  if (deps.nemesis != nullptr && !config.nemesis.empty()) {
    nemesis_thread = std::thread([&] { NemesisLoop(ctx, *deps.nemesis, faults, heals); });
  }

  RunWorkers(ctx, progress, [&ctx](int w) { return Worker(ctx, w); });
  ctx.run_over.request_stop();
  if (nemesis_thread.joinable()) nemesis_thread.join();

  // Final phase: heal everything (also what another process may have left), wait for the cluster,
  // then the final reads. A Ctrl-C skips the wait and the reads, never the heal.
  {
    std::lock_guard lock(ctx.mu);
    ctx.phase = "heal";
  }
  if (deps.nemesis != nullptr) heals.push_back(Heal(ctx, *deps.nemesis));
  const bool log_ok = [&] {
    std::lock_guard lock(ctx.mu);
    return !ctx.error.has_value();
  }();
  if (!interrupted && log_ok) {
    const auto final_deadline =
        Clock::now() + std::chrono::duration_cast<Clock::duration>(
                           std::chrono::duration<double>(config.final_phase_s));
    if (deps.wait_ready) stats.cluster_answered = deps.wait_ready(final_deadline);
    if (!stats.cluster_answered) {
      ctx.Warn("final phase: the cluster did not answer before the deadline");
    }
    ctx.phase = "final reads";
    RunWorkers(ctx, progress,
               [&ctx, final_deadline](int w) { return FinalReader(ctx, w, final_deadline); });
  }
  for (auto& c : ctx.clients) {
    if (c) c->Close();
  }
  ctx.clients.clear();

  stats.invocations = ctx.invocations;
  stats.duration_s = std::chrono::duration<double>(Clock::now() - ctx.start).count();
  stats.interrupted = interrupted;
  stats.faults = std::move(faults);
  stats.heal_reports = std::move(heals);
  std::lock_guard lock(ctx.mu);
  stats.warnings = ctx.warnings;
  if (ctx.error) return *ctx.error;
  return stats;
}

}  // namespace faultline::runner
