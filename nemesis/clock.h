// Clock faults: a node's wall clock moved (clock-bump), strobed between two times (clock-strobe)
// and set right again (clock-reset, heal). CLOCK_MONOTONIC is left alone, as NTP leaves it.
//
// Two mechanisms, chosen by how the nodes are reached:
// - libfaketime, on a local cluster (nodes are namespaces on this machine, sharing its clock).
//   A system whose servers read the time through libc (the JVM of ZooKeeper, Redis, a Python
//   server) declares it (systems/system.h SystemInfo::clock) and starts its servers with
//   FaketimeEnv: LD_PRELOAD=libfaketime.so.1 and FAKETIME_TIMESTAMP_FILE naming the node's file
//   in the cluster's run directory (FaketimeFile), re-read on every call (FAKETIME_NO_CACHE=1;
//   Debian's 0.9.10 otherwise caches it for 10 s, and FAKETIME_CACHE_DURATION takes whole
//   seconds only). A bump writes "+0.500" into the file, a reset "+0"; a strobe is a helper
//   process (faultline-nemesis-helper clock-strobe) that rewrites it every period. Only those
//   servers see it: this machine's clock is never touched. Before a fault, each target's database
//   process must show the file in its environment (/proc/PID/environ): a system that reads the
//   clock without libc (Go programs such as etcd go through the vDSO) is refused, with the
//   reason its SystemInfo gives.
// - clock_settime over SSH (real machines): `date -s` on the node as root, with the NTP services
//   it runs (systemd-timesyncd, chrony, ntpd) stopped first and started again by the heal, as
//   Jepsen does; a strobe is a shell loop on the node. Refused when the node shares this
//   machine's kernel (the same /proc/sys/kernel/random/boot_id; the local SSH test cluster does):
//   faultline never moves this machine's clock. Note: a jump makes Redis Sentinel enter TILT mode
//   for 30 s.
//
// Every clock fault is written to the ledger before it touches a node, with what undoing it
// needs: "clock-file" (the node's timestamp file: heal writes "+0") or "clock-settime" (heal sets
// the node's clock to boot-time reference + uptime, then starts the NTP services it stopped).
// Offsets are absolute: a bump of +500 after one of -200 leaves the node 500 ms ahead (the
// earlier fault on that node is healed first). So a heal, a clock-reset, or the heal after a
// SIGKILL of faultline all give the true time back.
//
// Thread-safety: pure functions, except ApplyClockFault and MeasureClockOffset, which run
// commands through the NodeControl (thread-safe) and append to the ledger (flock).
#ifndef FAULTLINE_NEMESIS_CLOCK_H_
#define FAULTLINE_NEMESIS_CLOCK_H_

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "nemesis/fault.h"
#include "nemesis/ledger.h"
#include "nemesis/node_control.h"

namespace faultline::nemesis {

struct FaultReport;  // nemesis/nemesis.h

// libfaketime.so.1: $FAULTLINE_LIBFAKETIME if set, else Debian's
// /usr/lib/<multiarch>/faketime/libfaketime.so.1. nullopt if there is none (install the
// libfaketime package).
std::optional<std::string> FindLibfaketime();

// The timestamp file of `node` in a local cluster's run directory: <run_dir>/<node>/faketime.rc.
std::string FaketimeFile(std::string_view run_dir, std::string_view node);

// The environment a server is started with so that clock faults reach it, in order:
// LD_PRELOAD, FAKETIME_TIMESTAMP_FILE, FAKETIME_NO_CACHE=1, FAKETIME_DONT_FAKE_MONOTONIC=1,
// FAKETIME_FORCE_MONOTONIC_FIX=0. The last: Debian's 0.9.10 turns its "monotonic fix" on at run
// time for this glibc, and with it pthread_cond_timedwait on a CLOCK_MONOTONIC condition variable
// returns at once, so a JVM's timed waits spin (ZooKeeper 3.8 never finished starting: ~15,000
// reads of the timestamp file a second, its threads queued on libfaketime's lock); with 0 it
// serves in about a second, and the wall clock is still faked (measured here, issue 17 §2).
std::vector<std::pair<std::string, std::string>> FaketimeEnv(const std::string& library,
                                                             const std::string& file);
// The same as `export A=... B=...; ` for the head of a shell command (values quoted).
std::string FaketimeExports(const std::string& library, const std::string& file);

// libfaketime's relative offset for `offset`: "+0", "+0.500", "-2.250".
std::string FaketimeOffset(std::chrono::milliseconds offset);
// Reads it back ("+0.5", "-2", "+1.250"); InvalidArgument for anything else.
[[nodiscard]] Result<std::chrono::milliseconds> ParseFaketimeOffset(std::string_view text);
// Replaces the file with FaketimeOffset(offset) (a temporary file renamed over it, so a reader
// sees the old offset or the new one). Not fsynced: the processes reading it die with the machine.
[[nodiscard]] Status WriteFaketimeFile(const std::string& path, std::chrono::milliseconds offset);

// Whether a process with this environment (/proc/PID/environ: NUL-separated NAME=value) reads its
// clock through libfaketime with `file`; the error says what is missing.
[[nodiscard]] Status CheckFaketimeEnviron(std::string_view environ, const std::string& file);

// How clock faults reach a cluster's nodes (NemesisOptions::clock).
struct ClockAccess {
  // Local cluster: node -> its timestamp file (FaketimeFile). Unused over SSH.
  std::map<std::string, std::string> faketime_files;
  // Why the system's servers cannot be reached (SystemInfo::clock's reason, e.g. "etcd is a Go
  // program ..."); given when a clock fault on a local cluster is refused.
  std::string refusal;
};

// ---- clock_settime over SSH: the commands run on a node (pure, so tested without root) ----

// Prints the node's boot-time reference: realtime minus uptime, in seconds with 3 decimals.
std::string ClockReferenceCommand();
// Sets the node's clock to uptime + reference + offset (`date -s @...`).
std::string SetClockCommand(std::string_view reference, std::chrono::milliseconds offset);
// Prints, one per line, the NTP services active on the node (systemd-timesyncd, chrony, ntp,
// ntpsec, openntpd); they are stopped with StopServicesCommand and started again by the heal.
std::string ActiveNtpCommand();
std::string StopServicesCommand(const std::vector<std::string>& services);
std::string StartServicesCommand(const std::vector<std::string>& services);
// A strobe: a loop on the node (argv[0] "faultline-clock-strobe-<tag>") that sets the clock to
// reference + offset and back every period; prints its PID.
std::string StrobeLoopCommand(std::string_view reference, std::chrono::milliseconds offset,
                              std::chrono::milliseconds period, std::string_view tag);
// Ends that loop (PID checked against the tag in its command line).
std::string EndStrobeLoopCommand(int pid, std::string_view tag);
// Refuses a node whose boot_id is ours: it runs on this machine's kernel and clock.
[[nodiscard]] Status CheckOtherKernel(std::string_view node, std::string_view node_boot_id,
                                      std::string_view our_boot_id);
// This machine's /proc/sys/kernel/random/boot_id.
[[nodiscard]] Result<std::string> OurBootId();

// ---- applying ----

struct ClockRequest {
  const FaultSpec* spec = nullptr;   // kClockBump, kClockStrobe or kClockReset
  std::vector<std::string> targets;  // resolved (FaultTargets)
  NodeControl* control = nullptr;    // required
  const ClockAccess* access = nullptr;
  const Ledger* ledger = nullptr;
  LedgerEntry base;  // kind, run id, owner, deadline filled in by the caller
  // Appends the entry (and starts its watchdog); `fill` runs once the id is known.
  std::function<Result<LedgerEntry>(LedgerEntry, const std::function<void(LedgerEntry&)>&)> record;
  // Heals and closes the open entries `select` accepts (an earlier clock fault on a target).
  std::function<FaultReport(const std::function<bool(const LedgerEntry&)>&)> heal;
};
// Applies a clock fault. Local clusters (control->Name() != "ssh"): libfaketime; SSH: settime.
// Refusals (Unavailable / InvalidArgument) touch nothing and record nothing.
[[nodiscard]] Result<FaultReport> ApplyClockFault(const ClockRequest& request);

// What the node's servers read as the time, minus this machine's: locally a `date` run on the node
// with the clock environment of its database process (/proc/PID/environ), over SSH the node's
// `date`. The error of the measurement is about half the command's round trip (reported).
struct ClockReading {
  std::string node;
  std::chrono::milliseconds offset{0};
  std::chrono::milliseconds uncertainty{0};
  std::string how;
};
[[nodiscard]] Result<ClockReading> MeasureClockOffset(NodeControl& control,
                                                      const std::string& node);

}  // namespace faultline::nemesis

#endif  // FAULTLINE_NEMESIS_CLOCK_H_
