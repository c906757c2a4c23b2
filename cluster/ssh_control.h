// NodeControl over the OpenSSH client: nodes described by a nodes file (cluster/nodes_file.h),
// commands run as `ssh -p PORT USER@HOST sh -c '<command>'` with the input on stdin, database
// process faults done by the nodes file's commands:
//   kill     db.kill
//   pause    kill -STOP <pid>   (pid printed by db.pid, in the same remote command)
//   resume   kill -CONT <pid>
//   start    db.start
//   restart  db.kill, then db.start
//
// A command that leaves a background process holding its stdout keeps a fresh or multiplexed ssh
// open until that process exits (or the command timeout): redirect daemons' output.
//
// Connections (PLATFORM.md §9): a fresh ssh costs 135-240 ms, a command multiplexed over an open
// ControlMaster about 12 ms. With multiplexing on (the default), the first command to a node
// starts a master (`ssh -M -N -f`, ControlPersist=60) whose socket sits in a private directory
// (mode 0700, under /tmp so the path stays below the 108-byte socket limit); later commands use
// ControlMaster=no, so if the master has gone they fall back to a direct connection rather than
// leaving a new one behind. Close() (and the destructor) sends `ssh -O exit` to every master and
// removes the directory. On top of that, by default, each node keeps one remote `sh` open over
// its master (SshControlOptions::persistent_shell), fed one framed command at a time: that skips
// the ssh client, the session, bash and sh per command (see cluster_ssh_bench for the costs).
// Options always set: BatchMode=yes, KexAlgorithms=curve25519-sha256
// (cheaper than the default sntrup761 hybrid), StrictHostKeyChecking=no with the node's private
// UserKnownHostsFile, IdentitiesOnly=yes, `-F none` (the user's ssh_config is ignored), then the
// node's ssh_options.
//
// Thread-safety: thread-safe; calls for different nodes run concurrently, calls for one node too
// (they share its master; through the persistent shell they take turns). Close() must not run
// concurrently with other calls.
#ifndef FAULTLINE_CLUSTER_SSH_CONTROL_H_
#define FAULTLINE_CLUSTER_SSH_CONTROL_H_

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "cluster/nodes_file.h"
#include "common/result.h"
#include "nemesis/net.h"
#include "nemesis/node_control.h"

namespace faultline::cluster {

struct SshControlOptions {
  bool multiplex = true;  // ControlMaster; off: one full SSH handshake per command
  // Keep one remote `sh` per node open (a session over the master when multiplexing) and feed it
  // each command framed with a random tag, instead of a new ssh client, session, bash and sh per
  // command. Commands run in a subshell, their input as a here-document (so an input that does
  // not end in a newline goes through a fresh ssh instead), their stderr through a temporary file
  // on the node. A command that times out ends the shell; the next one starts another.
  // On by default: 5-10x cheaper per command than a multiplexed ssh (cluster_ssh_bench).
  bool persistent_shell = true;
  std::chrono::seconds control_persist{60};
  std::chrono::milliseconds command_timeout{30000};  // per command, connection included
  std::chrono::seconds connect_timeout{5};           // ssh ConnectTimeout
  std::string ssh_binary = "ssh";
};

class SshControl final : public nemesis::NodeControl {
 public:
  ~SshControl() override;

  std::string_view Name() const override { return "ssh"; }
  std::vector<std::string> Nodes() const override;
  std::vector<nemesis::ProcessReport> Process(const std::vector<std::string>& nodes,
                                              nemesis::ProcessAction action) override;
  [[nodiscard]] Result<std::vector<nemesis::DbProcess>> Databases() override;
  [[nodiscard]] Result<nemesis::CommandOutput> Run(std::string_view node, std::string_view command,
                                                   std::string_view input = {}) override;

  // Ends every master (`ssh -O exit`) and removes the control directory. Idempotent; later
  // commands connect afresh (and start masters again).
  void Close();

  const NodesFile& nodes_file() const { return file_; }
  // The argv of the ssh command that would run `remote` on the node (for logs and tests).
  [[nodiscard]] Result<std::vector<std::string>> SshArgv(std::string_view node,
                                                         std::string_view remote) const;

 private:
  friend Result<std::unique_ptr<SshControl>> MakeSshControl(NodesFile, const SshControlOptions&);
  struct Node;
  SshControl(NodesFile file, SshControlOptions options);
  Result<size_t> Find(std::string_view node) const;
  std::vector<std::string> BaseArgv(size_t i, bool use_master) const;
  Status EnsureMaster(size_t i);
  // nullopt if the shell could not be started (then a plain ssh says why).
  std::optional<Result<nemesis::CommandOutput>> RunInShell(size_t i, std::string_view command,
                                                           std::string_view input);
  nemesis::ProcessReport ProcessOne(size_t i, nemesis::ProcessAction action);
  Result<nemesis::DbProcess> Database(size_t i);

  NodesFile file_;
  SshControlOptions options_;
  std::mutex dir_mu_;        // guards control_dir_ and the nodes' control paths
  std::string control_dir_;  // made on first use when multiplexing; empty otherwise
  std::vector<std::unique_ptr<Node>> nodes_;
};

[[nodiscard]] Result<std::unique_ptr<SshControl>> MakeSshControl(
    NodesFile file, const SshControlOptions& options = {});
// Reads the nodes file at path, then as above.
[[nodiscard]] Result<std::unique_ptr<SshControl>> MakeSshControl(
    const std::string& nodes_file_path, const SshControlOptions& options = {});

// A NetConfig for nemesis::MakeCommandNet over an SSH control: each node's name and address (the
// netns field is the node name; the command backend does not use it).
nemesis::NetConfig SshNetConfig(const NodesFile& file, const std::string& run_id);

}  // namespace faultline::cluster

#endif  // FAULTLINE_CLUSTER_SSH_CONTROL_H_
