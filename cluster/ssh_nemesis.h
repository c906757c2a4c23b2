// A Nemesis over SSH: the nodes file's nodes reached through an SshControl (cluster/ssh_control.h),
// partitions installed by iptables-restore run over it (nemesis/command_net.h), process faults
// done by the nodes file's database commands. One construction shared by `faultline nemesis
// --cluster ssh:FILE` and campaigns against ssh:FILE.
//
// What works over SSH: partitions (drop, reject, new-only) and process faults (kill, pause,
// resume, start, restart), by the nodes file's db commands or the system's own. Packet faults
// (loss, delay, bandwidth) are refused by the Nemesis (they need the nodes' network namespaces on
// this machine).
//
// Thread-safety: OpenSshNemesis is thread-safe; the result is used as its parts say (the Nemesis
// by one caller at a time).
#ifndef FAULTLINE_CLUSTER_SSH_NEMESIS_H_
#define FAULTLINE_CLUSTER_SSH_NEMESIS_H_

#include <memory>
#include <string>

#include "cluster/ssh_control.h"
#include "common/result.h"
#include "nemesis/nemesis.h"

namespace faultline::cluster {

// The run id of SSH partitions: their iptables chain is `faultline_flssh` on every node. One id
// for every user of a nodes file, so that a heal by any of them removes what another left.
inline constexpr char kSshRunId[] = "flssh";

struct SshNemesis {
  std::unique_ptr<SshControl> control;
  // Borrows *control; declared after it, so it is destroyed first.
  std::unique_ptr<nemesis::Nemesis> nemesis;
};

// Reads the nodes file, opens an SshControl over it and a Nemesis whose net (the nodes' names and
// addresses, run id kSshRunId), control and make_net (iptables-restore through the control) are
// set here (control only when the caller left it null: a system's control over this one, which
// runs the system's own commands, may take its place); the other fields of `options` (ledger_path,
// deadline, heal_on_open, ...) are the caller's. Errors name the nodes file. options.backend must
// be kAuto (the SSH path has one partition backend): InvalidArgument otherwise.
[[nodiscard]] Result<SshNemesis> OpenSshNemesis(const std::string& nodes_file_path,
                                                nemesis::NemesisOptions options,
                                                const SshControlOptions& ssh = {});
// The same over a control the caller already has (e.g. one whose masters are up).
// REQUIRES: control is not null.
[[nodiscard]] Result<SshNemesis> OpenSshNemesis(std::unique_ptr<SshControl> control,
                                                nemesis::NemesisOptions options);

}  // namespace faultline::cluster

#endif  // FAULTLINE_CLUSTER_SSH_NEMESIS_H_
