// Clock faults: libfaketime timestamp files on a local cluster, clock_settime over SSH.
#include "nemesis/clock.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "common/clock.h"
#include "common/file.h"
#include "common/parallel.h"
#include "common/shell.h"
#include "nemesis/internal/clock_heal.h"
#include "nemesis/internal/heal.h"
#include "nemesis/internal/proc.h"
#include "nemesis/nemesis.h"

namespace faultline::nemesis {
namespace {

using std::chrono::milliseconds;

constexpr std::string_view kStrobeName = "faultline-clock-strobe-";

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  size_t start = 0;
  while (start < s.size() && (s[start] == ' ' || s[start] == '\n')) ++start;
  return s.substr(start);
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    std::string line = Trim(text.substr(start, nl - start));
    if (!line.empty()) out.push_back(std::move(line));
    start = nl + 1;
  }
  return out;
}

// Seconds with 3 decimals, signed: "0.500", "-2.250".
std::string Seconds(milliseconds ms) {
  const std::int64_t v = ms.count();
  const std::int64_t a = v < 0 ? -v : v;
  return fmt::format("{}{}.{:03}", v < 0 ? "-" : "", a / 1000, a % 1000);
}

// Runs `command` on `node`; an error unless it exits 0 (with its first stderr line).
Result<std::string> RunOk(NodeControl& control, const std::string& node, const std::string& command,
                          std::string_view what) {
  Result<CommandOutput> out = control.Run(node, command);
  if (!out) return std::move(out).error().WithContext(fmt::format("{} on {}", what, node));
  if (out->exit_code != 0) {
    const std::vector<std::string> err = Lines(out->err);
    return MakeError(ErrorCode::kUnavailable,
                     fmt::format("{} on {}: exit code {}{}", what, node, out->exit_code,
                                 err.empty() ? "" : ": " + err.front()));
  }
  return out->out;
}

bool IsClockEntry(const LedgerEntry& e) {
  for (const FaultKindInfo& k : kFaultKinds) {
    if (IsClockFaultKind(k.kind) && e.kind == k.name) return true;
  }
  return false;
}

bool Touches(const LedgerEntry& e, const std::vector<std::string>& nodes) {
  return std::any_of(e.nodes.begin(), e.nodes.end(), [&](const std::string& n) {
    return std::find(nodes.begin(), nodes.end(), n) != nodes.end();
  });
}

LedgerObject Object(std::string type, std::string node, std::string name) {
  LedgerObject o;
  o.type = std::move(type);
  o.node = std::move(node);
  o.name = std::move(name);
  return o;
}

FaultReport Begin(const FaultSpec& spec, const std::vector<std::string>& targets) {
  FaultReport r;
  r.kind = spec.kind;
  r.description = DescribeFault(spec);
  r.nodes = targets;
  r.start_mono_ns = internal::MonoNanos();
  return r;
}

void Finish(FaultReport& r) {
  r.ok = r.failed.empty();
  if (!r.ok) r.notes.push_back("failed nodes may hold part of the fault: heal");
  r.end_mono_ns = internal::MonoNanos();
}

// An earlier clock fault on one of the targets is healed first: offsets are absolute.
void HealEarlier(const ClockRequest& req, FaultReport& report) {
  if (!req.heal) return;
  auto state = req.ledger->Read();
  if (!state) return;
  const bool any = std::any_of(state->open.begin(), state->open.end(), [&](const LedgerEntry& e) {
    return IsClockEntry(e) && Touches(e, req.targets);
  });
  if (!any) return;
  const FaultReport healed =
      req.heal([&](const LedgerEntry& e) { return IsClockEntry(e) && Touches(e, req.targets); });
  report.notes.push_back(
      fmt::format("first healed the clock faults open on these nodes: {}", healed.description));
  for (const auto& d : healed.details) report.details.push_back("reset: " + d);
}

// ---- libfaketime (local cluster) ----

Result<FaultReport> ApplyFaketime(const ClockRequest& req) {
  const FaultSpec& spec = *req.spec;
  const std::string_view kind = FaultKindName(spec.kind);
  const std::string reason =
      req.access->refusal.empty()
          ? std::string("its system does not start its servers under libfaketime")
          : req.access->refusal;
  std::map<std::string, std::string> files;
  for (const std::string& node : req.targets) {
    auto it = req.access->faketime_files.find(node);
    if (it == req.access->faketime_files.end()) {
      return MakeError(ErrorCode::kUnavailable,
                       fmt::format("nemesis: {}: {}: no libfaketime timestamp file is known for "
                                   "this node: {}",
                                   kind, node, reason));
    }
    files[node] = it->second;
  }
  // Each target's server must read its clock through that file, or the fault would do nothing.
  FAULTLINE_ASSIGN_OR_RETURN(std::vector<DbProcess> dbs, req.control->Databases());
  std::vector<std::string> notes;
  for (const std::string& node : req.targets) {
    const DbProcess* db = nullptr;
    for (const auto& d : dbs) {
      if (d.node == node) db = &d;
    }
    if (db == nullptr || db->pid <= 0 || !db->alive) {
      notes.push_back(
          fmt::format("{}: no database process runs now: its file is set all the "
                      "same and applies when it starts",
                      node));
      continue;
    }
    Result<std::string> environ = ReadFile(fmt::format("/proc/{}/environ", db->pid));
    if (!environ) {
      return MakeError(ErrorCode::kUnavailable,
                       fmt::format("nemesis: {}: {}: read the environment of pid {}: {}", kind,
                                   node, db->pid, environ.error().message()));
    }
    if (Status ok = CheckFaketimeEnviron(*environ, files[node]); !ok) {
      return MakeError(ErrorCode::kUnavailable,
                       fmt::format("nemesis: {}: {}: the database process (pid {}) cannot be "
                                   "reached: {}: {}",
                                   kind, node, db->pid, ok.error().message(), reason));
    }
  }
  FaultReport report = Begin(spec, req.targets);
  report.notes = notes;
  HealEarlier(req, report);
  if (spec.kind == FaultKind::kClockReset) {
    for (const auto& [node, file] : files) {
      Status s = WriteFaketimeFile(file, milliseconds(0));
      if (s) {
        report.details.push_back(fmt::format("{}: wrote +0 to {}", node, file));
      } else {
        report.failed.push_back(node);
        report.details.push_back(fmt::format("{}: {}", node, s.error().message()));
      }
    }
    Finish(report);
    return report;
  }
  const bool strobe = spec.kind == FaultKind::kClockStrobe;
  std::string helper;
  if (strobe) {
    FAULTLINE_ASSIGN_OR_RETURN(helper, internal::HelperPath());
  }
  LedgerEntry entry = req.base;
  entry.nodes = req.targets;
  entry.description = DescribeFault(spec);
  const std::string ledger_path = req.ledger->path();
  FAULTLINE_ASSIGN_OR_RETURN(entry, req.record(std::move(entry), [&](LedgerEntry& e) {
    // The strobe's helper ends before the files are reset (objects heal in order).
    if (strobe) {
      e.objects.push_back(Object("helper", "", fmt::format("{}#{}", ledger_path, e.id)));
    }
    for (const auto& [node, file] : files) {
      LedgerObject o = Object("clock-file", node, file);
      o.set_to = FaketimeOffset(spec.clock_offset);
      e.objects.push_back(std::move(o));
    }
  }));
  report.ledger_id = entry.id;
  if (!strobe) {
    size_t done = 0;
    for (const auto& [node, file] : files) {
      if (done++ == 1) internal::MaybeCrash("between-nodes");
      Status s = WriteFaketimeFile(file, spec.clock_offset);
      if (s) {
        report.details.push_back(
            fmt::format("{}: libfaketime file {} holds {} (the server rereads it on every call)",
                        node, file, FaketimeOffset(spec.clock_offset)));
      } else {
        report.failed.push_back(node);
        report.details.push_back(fmt::format("{}: {}", node, s.error().message()));
      }
    }
    Finish(report);
    return report;
  }
  const std::string tag = fmt::format("{}#{}", ledger_path, entry.id);
  std::vector<std::string> argv = {helper,        "clock-strobe",
                                   "--offset-ms", std::to_string(spec.clock_offset.count()),
                                   "--period-ms", std::to_string(spec.clock_period.count()),
                                   "--tag",       tag};
  for (const auto& [node, file] : files) {
    argv.push_back("--file");
    argv.push_back(file);
  }
  Result<int> pid = internal::SpawnHelper(argv, std::chrono::seconds(5));
  if (!pid) {
    for (const auto& [node, file] : files) report.failed.push_back(node);
    report.details.push_back("clock-strobe helper: " + pid.error().message());
    Finish(report);
    return report;
  }
  LedgerObject h = Object("helper", "", tag);
  h.pid = *pid;
  const auto st = internal::ReadProcStat(*pid);
  h.start_time = st ? st->start_time : 0;
  FAULTLINE_RETURN_IF_ERROR(req.ledger->Amend(entry.id, {h}));
  for (const auto& [node, file] : files) {
    report.details.push_back(
        fmt::format("{}: libfaketime file {} alternates {} / +0 every {} ms (helper pid {})", node,
                    file, FaketimeOffset(spec.clock_offset), spec.clock_period.count(), *pid));
  }
  Finish(report);
  return report;
}

// ---- clock_settime (SSH) ----

Result<FaultReport> ApplySettime(const ClockRequest& req) {
  const FaultSpec& spec = *req.spec;
  const std::string_view kind = FaultKindName(spec.kind);
  NodeControl& control = *req.control;
  FAULTLINE_ASSIGN_OR_RETURN(std::string ours, OurBootId());
  // Never this machine's clock: every target must run on a kernel of its own.
  std::vector<Result<std::string>> boot = ParallelFor(req.targets.size(), [&](size_t i) {
    return RunOk(control, req.targets[i], "cat /proc/sys/kernel/random/boot_id", "read boot_id");
  });
  for (size_t i = 0; i < boot.size(); ++i) {
    if (!boot[i]) return std::move(boot[i]).error().WithContext(fmt::format("nemesis: {}", kind));
    if (Status other = CheckOtherKernel(req.targets[i], *boot[i], ours); !other) {
      return std::move(other).error().WithContext(fmt::format("nemesis: {}", kind));
    }
  }
  FaultReport report = Begin(spec, req.targets);
  HealEarlier(req, report);
  if (spec.kind == FaultKind::kClockReset) {
    report.details.push_back(
        "over ssh a reset heals the clock faults open on the nodes (their boot-time reference); "
        "nodes without one were left alone");
    Finish(report);
    return report;
  }
  // What undoing needs, read before anything changes: the reference and the NTP services.
  struct NodeClock {
    std::string reference;
    std::vector<std::string> ntp;
  };
  std::vector<Result<NodeClock>> read =
      ParallelFor(req.targets.size(), [&](size_t i) -> Result<NodeClock> {
        NodeClock c;
        FAULTLINE_ASSIGN_OR_RETURN(
            std::string ref,
            RunOk(control, req.targets[i], ClockReferenceCommand(), "read the clock reference"));
        c.reference = Trim(ref);
        FAULTLINE_ASSIGN_OR_RETURN(std::string ntp,
                                   RunOk(control, req.targets[i], ActiveNtpCommand(), "list NTP"));
        c.ntp = Lines(ntp);
        return c;
      });
  std::vector<NodeClock> clocks;
  for (auto& r : read) {
    if (!r) return std::move(r).error().WithContext(fmt::format("nemesis: {}", kind));
    clocks.push_back(std::move(*r));
  }
  const bool strobe = spec.kind == FaultKind::kClockStrobe;
  LedgerEntry entry = req.base;
  entry.nodes = req.targets;
  entry.description = DescribeFault(spec);
  FAULTLINE_ASSIGN_OR_RETURN(entry, req.record(std::move(entry), [&](LedgerEntry& e) {
    const std::string tag = fmt::format("{}-{}", e.run_id, e.id);
    for (const std::string& node : req.targets) {
      if (strobe) e.objects.push_back(Object("clock-strobe-loop", node, tag));
    }
    for (size_t i = 0; i < req.targets.size(); ++i) {
      LedgerObject o = Object("clock-settime", req.targets[i], "");
      o.value = clocks[i].reference;
      o.set_to = fmt::format("{}", fmt::join(clocks[i].ntp, ","));
      e.objects.push_back(std::move(o));
    }
  }));
  report.ledger_id = entry.id;
  const std::string tag = fmt::format("{}-{}", entry.run_id, entry.id);
  for (size_t i = 0; i < req.targets.size(); ++i) {
    if (i == 1) internal::MaybeCrash("between-nodes");
    const std::string& node = req.targets[i];
    std::string what;
    Result<std::string> done = [&]() -> Result<std::string> {
      if (!clocks[i].ntp.empty()) {
        FAULTLINE_RETURN_IF_ERROR(
            RunOk(control, node, StopServicesCommand(clocks[i].ntp), "stop NTP"));
      }
      if (!strobe) {
        FAULTLINE_RETURN_IF_ERROR(RunOk(
            control, node, SetClockCommand(clocks[i].reference, spec.clock_offset), "date -s"));
        return fmt::format("date -s: {:+} ms from the boot-time reference",
                           spec.clock_offset.count());
      }
      FAULTLINE_ASSIGN_OR_RETURN(
          std::string pid,
          RunOk(control, node,
                StrobeLoopCommand(clocks[i].reference, spec.clock_offset, spec.clock_period, tag),
                "start the strobe loop"));
      LedgerObject loop = Object("clock-strobe-loop", node, tag);
      loop.pid = std::atoi(Trim(pid).c_str());
      FAULTLINE_RETURN_IF_ERROR(req.ledger->Amend(entry.id, {loop}));
      return fmt::format("strobe loop pid {}: {:+} ms / true time every {} ms", loop.pid,
                         spec.clock_offset.count(), spec.clock_period.count());
    }();
    if (done) {
      report.details.push_back(
          fmt::format("{}: {}{}", node, *done,
                      clocks[i].ntp.empty() ? std::string("; no NTP service was running")
                                            : fmt::format("; stopped {} (the heal starts it again)",
                                                          fmt::join(clocks[i].ntp, ", "))));
    } else {
      report.failed.push_back(node);
      report.details.push_back(fmt::format("{}: {}", node, done.error().message()));
    }
  }
  report.notes.push_back("a jump puts Redis Sentinel into TILT mode for 30 s");
  Finish(report);
  return report;
}

}  // namespace

std::optional<std::string> FindLibfaketime() {
  if (const char* env = std::getenv("FAULTLINE_LIBFAKETIME"); env != nullptr && *env != '\0') {
    if (::access(env, R_OK) == 0) return std::string(env);
    return std::nullopt;
  }
  for (const char* p : {"/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
                        "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
                        "/usr/lib/faketime/libfaketime.so.1"}) {
    if (::access(p, R_OK) == 0) return std::string(p);
  }
  return std::nullopt;
}

std::string FaketimeFile(std::string_view run_dir, std::string_view node) {
  return fmt::format("{}/{}/faketime.rc", run_dir, node);
}

std::vector<std::pair<std::string, std::string>> FaketimeEnv(const std::string& library,
                                                             const std::string& file) {
  return {{"LD_PRELOAD", library},
          {"FAKETIME_TIMESTAMP_FILE", file},
          {"FAKETIME_NO_CACHE", "1"},
          {"FAKETIME_DONT_FAKE_MONOTONIC", "1"},
          {"FAKETIME_FORCE_MONOTONIC_FIX", "0"}};
}

std::string FaketimeExports(const std::string& library, const std::string& file) {
  std::string out = "export";
  for (const auto& [name, value] : FaketimeEnv(library, file)) {
    out += fmt::format(" {}={}", name, ShellQuote(value));
  }
  return out + "; ";
}

std::string FaketimeOffset(milliseconds offset) {
  if (offset.count() == 0) return "+0";
  const std::string s = Seconds(offset);
  return s.front() == '-' ? s : "+" + s;
}

Result<milliseconds> ParseFaketimeOffset(std::string_view text) {
  std::string t = Trim(std::string(text));
  auto bad = [&] {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("libfaketime offset '{}': expected +S[.mmm] or -S[.mmm]", text));
  };
  if (t.size() < 2 || (t[0] != '+' && t[0] != '-')) return bad();
  const bool negative = t[0] == '-';
  const std::string body = t.substr(1);
  const size_t dot = body.find('.');
  const std::string whole = body.substr(0, dot);
  std::string frac = dot == std::string::npos ? "" : body.substr(dot + 1);
  if (whole.empty() || whole.find_first_not_of("0123456789") != std::string::npos ||
      frac.find_first_not_of("0123456789") != std::string::npos || frac.size() > 3 ||
      whole.size() > 9) {
    return bad();
  }
  while (frac.size() < 3) frac += '0';
  const std::int64_t ms = std::stoll(whole) * 1000 + std::stoll(frac);
  return milliseconds(negative ? -ms : ms);
}

Status WriteFaketimeFile(const std::string& path, milliseconds offset) {
  const std::string tmp = fmt::format("{}.tmp.{}", path, ::getpid());
  const std::string text = FaketimeOffset(offset) + "\n";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return MakeError(ErrorCode::kUnavailable,
                     fmt::format("write {}: {}", tmp, std::strerror(errno)));
  }
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const int err = errno;
  ::close(fd);
  if (!written || ::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = written ? errno : err;
    ::unlink(tmp.c_str());
    return MakeError(ErrorCode::kUnavailable, fmt::format("write {}: {}", path, std::strerror(e)));
  }
  return OkStatus();
}

Status CheckFaketimeEnviron(std::string_view environ, const std::string& file) {
  std::map<std::string, std::string, std::less<>> vars;
  size_t start = 0;
  while (start < environ.size()) {
    size_t end = environ.find('\0', start);
    if (end == std::string_view::npos) end = environ.size();
    const std::string_view var = environ.substr(start, end - start);
    const size_t eq = var.find('=');
    if (eq != std::string_view::npos) {
      vars[std::string(var.substr(0, eq))] = std::string(var.substr(eq + 1));
    }
    start = end + 1;
  }
  auto preload = vars.find("LD_PRELOAD");
  if (preload == vars.end() || preload->second.find("libfaketime") == std::string::npos) {
    return MakeError(ErrorCode::kUnavailable, "its environment preloads no libfaketime");
  }
  auto ts = vars.find("FAKETIME_TIMESTAMP_FILE");
  if (ts == vars.end() || ts->second != file) {
    return MakeError(
        ErrorCode::kUnavailable,
        fmt::format("its FAKETIME_TIMESTAMP_FILE is {}, not {}",
                    ts == vars.end() ? std::string("unset") : "'" + ts->second + "'", file));
  }
  if (vars.count("FAKETIME")) {
    return MakeError(ErrorCode::kUnavailable,
                     "its FAKETIME variable overrides the timestamp file (libfaketime gives the "
                     "variable priority)");
  }
  return OkStatus();
}

std::string ClockReferenceCommand() {
  return "read up rest </proc/uptime && now=$(date +%s.%N) && "
         "awk -v u=\"$up\" -v n=\"$now\" 'BEGIN { printf \"%.3f\\n\", n - u }'";
}

std::string SetClockCommand(std::string_view reference, milliseconds offset) {
  return fmt::format(
      "date -s \"@$(awk -v r={} -v d={} '{{ printf \"%.3f\", $1 + r + d }}' /proc/uptime)\" "
      ">/dev/null",
      ShellQuote(reference), Seconds(offset));
}

std::string ActiveNtpCommand() {
  return "for s in systemd-timesyncd chrony chronyd ntp ntpd ntpsec openntpd; do "
         "systemctl is-active --quiet \"$s\" 2>/dev/null && echo \"$s\"; done; true";
}

std::string StopServicesCommand(const std::vector<std::string>& services) {
  std::string out = "systemctl stop";
  for (const auto& s : services) {
    out += ' ';
    out += ShellQuote(s);
  }
  return out;
}

std::string StartServicesCommand(const std::vector<std::string>& services) {
  std::string out = "systemctl start";
  for (const auto& s : services) {
    out += ' ';
    out += ShellQuote(s);
  }
  return out;
}

std::string StrobeLoopCommand(std::string_view reference, milliseconds offset, milliseconds period,
                              std::string_view tag) {
  const std::string loop = fmt::format(
      "while :; do {}; sleep {}; {}; sleep {}; done", SetClockCommand(reference, offset),
      Seconds(period), SetClockCommand(reference, milliseconds(0)), Seconds(period));
  return fmt::format("nohup sh -c {} {} >/dev/null 2>&1 </dev/null & echo $!", ShellQuote(loop),
                     ShellQuote(fmt::format("{}{}", kStrobeName, tag)));
}

std::string EndStrobeLoopCommand(int pid, std::string_view tag) {
  // The name is split in the command's text, so the shell running this never matches itself.
  const std::string half = std::string(kStrobeName.substr(0, 10));
  const std::string rest = fmt::format("{}{}", kStrobeName.substr(10), tag);
  return fmt::format(
      "n={}{}; for d in /proc/[0-9]*; do p=${{d#/proc/}}; "
      "grep -qaF -- \"$n\" \"$d/cmdline\" 2>/dev/null && kill \"$p\" 2>/dev/null; done; "
      "echo \"recorded pid {}\"",
      ShellQuote(half), ShellQuote(rest), pid);
}

Status CheckOtherKernel(std::string_view node, std::string_view node_boot_id,
                        std::string_view our_boot_id) {
  const std::string theirs = Trim(std::string(node_boot_id));
  const std::string mine = Trim(std::string(our_boot_id));
  if (theirs.empty()) {
    return MakeError(ErrorCode::kUnavailable, fmt::format("{}: its boot_id is empty", node));
  }
  if (theirs == mine) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        fmt::format("{}: refused: the node runs on this machine's kernel (same boot_id {}), so "
                    "setting its clock would set this machine's (the local SSH test cluster "
                    "does this; on a local cluster clock faults go through libfaketime)",
                    node, theirs));
  }
  return OkStatus();
}

Result<std::string> OurBootId() {
  FAULTLINE_ASSIGN_OR_RETURN(std::string id, ReadFile("/proc/sys/kernel/random/boot_id"));
  return Trim(id);
}

Result<FaultReport> ApplyClockFault(const ClockRequest& req) {
  if (req.spec == nullptr || !IsClockFaultKind(req.spec->kind)) {
    return MakeError(ErrorCode::kInvalidArgument, "nemesis: not a clock fault");
  }
  const std::string_view kind = FaultKindName(req.spec->kind);
  if (req.control == nullptr || req.access == nullptr || req.ledger == nullptr || !req.record) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        fmt::format("nemesis: {}: no node control given (NemesisOptions::control)", kind));
  }
  if (req.targets.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, fmt::format("nemesis: {}: no nodes", kind));
  }
  if (req.control->Name() == "ssh") return ApplySettime(req);
  return ApplyFaketime(req);
}

Result<ClockReading> MeasureClockOffset(NodeControl& control, const std::string& node) {
  std::string env;
  std::string how = "date on the node";
  if (control.Name() != "ssh") {
    // The server's own clock settings, from its environment.
    FAULTLINE_ASSIGN_OR_RETURN(std::vector<DbProcess> dbs, control.Databases());
    int pid = 0;
    for (const auto& d : dbs) {
      if (d.node == node && d.alive) pid = d.pid;
    }
    if (pid <= 0) {
      return MakeError(ErrorCode::kUnavailable,
                       fmt::format("clock of {}: no database process runs", node));
    }
    FAULTLINE_ASSIGN_OR_RETURN(std::string environ, ReadFile(fmt::format("/proc/{}/environ", pid)));
    size_t start = 0;
    while (start < environ.size()) {
      size_t end = environ.find('\0', start);
      if (end == std::string::npos) end = environ.size();
      const std::string var = environ.substr(start, end - start);
      if (var.starts_with("LD_PRELOAD=") || var.starts_with("FAKETIME")) {
        env += ' ';
        env += ShellQuote(var);
      }
      start = end + 1;
    }
    how = fmt::format("date on the node with the clock environment of pid {}{}", pid,
                      env.empty() ? " (none: the real clock)" : "");
  }
  const std::int64_t before = std::chrono::duration_cast<milliseconds>(WallNow()).count();
  FAULTLINE_ASSIGN_OR_RETURN(
      std::string out, RunOk(control, node, fmt::format("env{} date +%s%3N", env), "read clock"));
  const std::int64_t after = std::chrono::duration_cast<milliseconds>(WallNow()).count();
  const std::string text = Trim(out);
  char* end = nullptr;
  const long long theirs = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || end != text.c_str() + text.size()) {
    return MakeError(ErrorCode::kUnavailable,
                     fmt::format("clock of {}: date printed '{}'", node, text));
  }
  ClockReading r;
  r.node = node;
  r.offset = milliseconds(theirs - (before + after) / 2);
  r.uncertainty = milliseconds((after - before + 1) / 2);
  r.how = how;
  return r;
}

}  // namespace faultline::nemesis

namespace faultline::nemesis::internal {

bool IsClockObject(const LedgerObject& o) {
  return o.type == "clock-file" || o.type == "clock-settime" || o.type == "clock-strobe-loop";
}

Result<std::string> HealClockObject(const LedgerObject& o, NodeControl* control) {
  if (o.type == "clock-file") {
    const std::string dir = std::filesystem::path(o.name).parent_path().string();
    if (::access(dir.c_str(), F_OK) != 0) {
      return fmt::format("{}: {} is gone (nothing to reset)", o.node, dir);
    }
    FAULTLINE_RETURN_IF_ERROR(WriteFaketimeFile(o.name, milliseconds(0)));
    return fmt::format("{}: libfaketime file {} holds +0 (true time)", o.node, o.name);
  }
  if (control == nullptr) {
    return MakeError(ErrorCode::kUnavailable,
                     fmt::format("{}: its clock is set over ssh and only node control can reset "
                                 "it (run `faultline nemesis heal --cluster ssh:FILE`)",
                                 o.node));
  }
  if (o.type == "clock-strobe-loop") {
    FAULTLINE_ASSIGN_OR_RETURN(
        std::string out,
        RunOk(*control, o.node, EndStrobeLoopCommand(o.pid, o.name), "end the strobe loop"));
    return fmt::format("{}: strobe loop {} ended", o.node, o.name);
  }
  FAULTLINE_ASSIGN_OR_RETURN(
      std::string set,
      RunOk(*control, o.node, SetClockCommand(o.value, milliseconds(0)), "reset the clock"));
  std::string what =
      fmt::format("{}: clock set to boot-time reference {} + uptime", o.node, o.value);
  std::string listed = o.set_to;  // "chrony,ntp"
  std::replace(listed.begin(), listed.end(), ',', '\n');
  const std::vector<std::string> services = Lines(listed);
  if (!services.empty()) {
    FAULTLINE_ASSIGN_OR_RETURN(
        std::string started,
        RunOk(*control, o.node, StartServicesCommand(services), "start NTP again"));
    what += fmt::format("; started {} again", fmt::join(services, ", "));
  }
  return what;
}

}  // namespace faultline::nemesis::internal
