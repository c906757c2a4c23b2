// The machine check that runs before faults: whether this machine has what the faults below the
// network need, each fact with what is missing and how to get it.
//   fuse         /dev/fuse (read-write), the fuse filesystem in the kernel, fusermount3
//                (faulty filesystems under the nodes' data)
//   libfaketime  libfaketime.so.1 (clock faults on a local cluster; nemesis/clock.h)
//   nfqueue      the kernel's nfnetlink_queue and iptables (delay and the NFQUEUE packet faults)
// `faultline nemesis check` prints them; a campaign refuses fault kinds whose facts are missing
// (RequireMachine) before it brings a cluster up.
//
// Thread-safety: thread-safe (reads files only). Paths can be redirected for tests.
#ifndef FAULTLINE_NEMESIS_MACHINE_CHECK_H_
#define FAULTLINE_NEMESIS_MACHINE_CHECK_H_

#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "nemesis/fault.h"

namespace faultline::nemesis {

struct MachineFact {
  std::string name;  // "fuse", "libfaketime", "nfqueue"
  bool ok = false;
  std::string detail;     // what was found, or what is missing
  std::string fix;        // how to get it ("apt-get install fuse3"); empty when ok
  std::string needed_by;  // the faults that need it
};

// Where the check looks; the defaults are this machine's.
struct MachinePaths {
  std::string dev_fuse = "/dev/fuse";
  std::string proc_filesystems = "/proc/filesystems";
  std::string nfqueue_proc = "/proc/net/netfilter/nfnetlink_queue";
  std::string fusermount;   // "" = look it up (ResolveProgram("fusermount3"))
  std::string iptables;     // "" = look it up
  std::string libfaketime;  // "" = FindLibfaketime()
};

std::vector<MachineFact> CheckMachine(const MachinePaths& paths = {});

// One line per fact: "ok   libfaketime: /usr/lib/.../libfaketime.so.1" or
// "MISSING fuse: /dev/fuse: No such file or directory (fix: modprobe fuse; apt-get install fuse3)".
std::string DescribeMachine(const std::vector<MachineFact>& facts);

// The facts a fault kind needs ("libfaketime" for the clock kinds on a local cluster, "nfqueue"
// for delay); empty for kinds that need none of them.
std::vector<std::string> FactsNeeded(FaultKind kind, bool local);

// An error naming every missing fact the kinds need, with its fix.
[[nodiscard]] Status RequireMachine(std::span<const FaultKind> kinds, bool local,
                                    const std::vector<MachineFact>& facts);

}  // namespace faultline::nemesis

#endif  // FAULTLINE_NEMESIS_MACHINE_CHECK_H_
