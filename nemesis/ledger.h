// Ledger: the nemesis's crash-safe record of the faults it applied and how to undo them.
//
// An append-only file of JSON lines. Before a fault touches any node, an "open" record names it
// (id, kind, nodes, the objects it makes and what undoing each needs: table and chain names, qdisc
// handles, helper PIDs with their start times, paused PIDs, killed nodes to start again), its
// owner (PID and start time) and its deadline; an "amend" record adds objects learnt while
// applying (a helper's PID); a "closed" record ends it. Every append is one write() followed by
// fsync(), and creating the file also fsyncs its directory, so a record that Append returned is
// on disk before the fault exists. A torn last line (a crash during write) is ignored and
// reported; the next append starts on a fresh line. Writers on one file serialize with flock(2),
// also across processes.
//
// Thread-safety: a Ledger may be used from several threads and processes at once (flock).
#ifndef FAULTLINE_NEMESIS_LEDGER_H_
#define FAULTLINE_NEMESIS_LEDGER_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "nemesis/net.h"

namespace faultline::nemesis {

// One object a fault made, with what undoing it needs. Undoing is idempotent: an object that is
// already gone counts as undone.
struct LedgerObject {
  // "partition"       Net backend `name` under the entry's run id (heal = that backend's Heal)
  // "nft-table"       table `inet <name>` in `netns`
  // "iptables-chain"  chain `name` in the filter table of `netns`, jumped to from OUTPUT; `flag`:
  //                   the filter table did not exist before (heal removes it if left empty)
  // "qdisc"           root qdisc `handle` on device `name` in `netns`
  // "helper"          our helper process `pid` (start time `start_time`), command-line tag `name`
  // "watchdog"        the deadline watchdog process `pid`
  // "paused"          database process `pid` on `node`, paused (heal resumes it)
  // "killed"          the database process of `node`, killed (heal starts it again; also recorded
  //                   for a crash by SIGKILL and for a corruption, whose heal is the same)
  // "setting"         control file `name` (a cgroup's cpu.shares, cpu.cfs_quota_us) held `value`
  //                   before a siege set it to `set_to` (heal writes `value` back while the file
  //                   still holds `set_to`: a value someone changed since is left alone)
  // "disk-corruption" a corruption of `node`'s data dir `name` through the faulty filesystem: the
  //                   undo file `value` holds each damaged range's original and damaged bytes,
  //                   whose HashDamage is `set_to` (heal, before any process of the entry starts:
  //                   RestoreCorruption, compare-and-swap; nemesis/corrupt.h)
  // "burner"          a siege worker process `pid` (start time `start_time`); heal SIGKILLs it
  // "scratch-file"    a file `name` a siege writes into (heal removes it)
  // "toxic"           toxic `name` on proxy `proxy` (nemesis/proxy_faults.h). The proxy lives in
  //                   process `pid` (start time `start_time`; 0 = not known, e.g. a remote
  //                   `faultline proxy`), as that process's in-process server number `handle`,
  //                   and/or answers the Toxiproxy API on `address`. Heal: a host process that is
  //                   gone took its proxies and toxics with it; this process removes it directly;
  //                   else DELETE on `address`
  std::string type;
  std::string node;
  std::string netns;
  std::string name;
  std::uint32_t handle = 0;
  int pid = 0;
  std::uint64_t start_time = 0;
  bool flag = false;
  std::string value;
  std::string set_to;
  std::string proxy;
  std::string address;
  bool operator==(const LedgerObject&) const = default;
};

struct LedgerEntry {
  std::uint64_t id = 0;  // assigned by Append, from 1
  // "partition", "loss", "delay", "bandwidth", "pause", "kill"; from drills
  // (nemesis/drill_faults.h) also "crash", "corrupt", "siege"; from proxies
  // (nemesis/proxy_faults.h) a proxy fault kind's name ("http-status", ...) or "toxic"
  std::string kind;
  std::string description;
  std::vector<std::string> nodes;
  std::string run_id;
  std::vector<NetNode> net;  // the cluster as the Net backends see it (for partition heals)
  std::vector<LedgerObject> objects;
  int owner_pid = 0;
  std::uint64_t owner_start_time = 0;
  std::int64_t opened_unix_ms = 0;
  std::int64_t deadline_unix_ms = 0;  // 0 = no deadline
  bool operator==(const LedgerEntry& other) const;
};

struct LedgerState {
  std::vector<LedgerEntry> open;  // entries without a "closed" record, by id, amends folded in
  std::uint64_t records = 0;      // well-formed records read
  std::uint64_t last_id = 0;
  std::optional<std::string> torn_tail;  // what was ignored at the end, if anything
  std::vector<std::string> warnings;     // malformed lines before the end (skipped)
};

class Ledger {
 public:
  // Opens the ledger at `path`, creating it (and fsyncing its directory) if needed.
  [[nodiscard]] static Result<Ledger> Open(std::string path);

  const std::string& path() const { return path_; }

  // Reads every record.
  [[nodiscard]] Result<LedgerState> Read() const;
  // Appends an "open" record with the next id (the entry's id is ignored) and returns the entry
  // as recorded. `fill`, if given, runs under the lock once the id is set (to name objects after
  // the id). Durable when it returns.
  [[nodiscard]] Result<LedgerEntry> Append(
      LedgerEntry entry, const std::function<void(LedgerEntry&)>& fill = {}) const;
  // Adds objects to an open entry.
  [[nodiscard]] Status Amend(std::uint64_t id, const std::vector<LedgerObject>& objects) const;
  // Closes an entry; `how` says why ("healed", "replaced by 7", ...).
  [[nodiscard]] Status Close(std::uint64_t id, std::string_view how) const;

 private:
  explicit Ledger(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// Milliseconds since the Unix epoch, now.
std::int64_t UnixMillis();

}  // namespace faultline::nemesis

#endif  // FAULTLINE_NEMESIS_LEDGER_H_
