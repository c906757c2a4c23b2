// The nodes file: a JSON description of a cluster whose nodes are reached over SSH (real machines,
// VMs, or the local cluster's namespaces running sshd: `faultline cluster up --ssh` writes one),
// and of the database commands that work on each node. Used with `--cluster ssh:FILE`
// (cluster/ssh_control.h).
//
// Example (every field shown; "address", "ssh_options" and "data_dir" are optional):
//
//   {
//     "cluster": "lab",
//     "nodes": [
//       {
//         "name": "n1",
//         "host": "198.18.0.1",
//         "port": 22,
//         "user": "root",
//         "identity_file": "/var/lib/faultline/clusters/lab/ssh/id_ed25519",
//         "known_hosts": "/var/lib/faultline/clusters/lab/ssh/known_hosts",
//         "address": "198.18.0.1",
//         "ssh_options": ["ConnectTimeout=5", "ServerAliveInterval=5"],
//         "db": {
//           "start": "systemctl start etcd",
//           "kill": "systemctl kill -s KILL etcd",
//           "pid": "pgrep -o -x etcd",
//           "data_dir": "/var/lib/etcd"
//         }
//       }
//     ]
//   }
//
// Fields:
//   cluster            a name for reports (required)
//   nodes[]            at least one; names and hosts unique
//   name               the node's name in grudges and targets ("n1")
//   host, port, user   where ssh connects (port 1..65535)
//   identity_file      the private key (ssh -i); known_hosts: a private UserKnownHostsFile (host
//                      keys are accepted on first use, StrictHostKeyChecking=no)
//   address            the IPv4 address the node's peers see its packets come from, for network
//                      partitions; defaults to host when host is an IPv4 address
//   ssh_options        extra `-o` options for ssh, each "Key=Value"
//   db.start           a shell command run on the node (through /bin/sh) that starts the database
//                      process (same data directory) and returns
//   db.kill            a shell command that stops it hard (SIGKILL or equivalent)
//   db.pid             a shell command that prints the database's pid, or nothing (exit 0) if it is
//                      not running
//   db.data_dir        the database's data directory, for reports and drills
//
// Thread-safety: pure functions (ReadNodesFile reads the file once).
#ifndef FAULTLINE_CLUSTER_NODES_FILE_H_
#define FAULTLINE_CLUSTER_NODES_FILE_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace faultline::cluster {

struct DbCommands {
  std::string start;
  std::string kill;
  std::string pid;
  std::optional<std::string> data_dir;

  bool operator==(const DbCommands&) const = default;
};

struct SshNode {
  std::string name;
  std::string host;
  int port = 22;
  std::string user;
  std::string identity_file;
  std::string known_hosts;
  std::string address;  // resolved: the "address" field, else host (if an IPv4 literal)
  std::vector<std::string> ssh_options;
  DbCommands db;

  bool operator==(const SshNode&) const = default;
};

struct NodesFile {
  std::string cluster;
  std::vector<SshNode> nodes;

  bool operator==(const NodesFile&) const = default;
};

// Parses the JSON text; `source` names it in errors ("nodes file FILE: nodes[2] (n3): field
// \"host\": missing"). InvalidArgument on any malformed or missing field.
[[nodiscard]] Result<NodesFile> ParseNodesFile(std::string_view json, std::string_view source);
// Reads and parses a file (NotFound if it does not exist).
[[nodiscard]] Result<NodesFile> ReadNodesFile(const std::string& path);
// The JSON text of a nodes file (pretty-printed, fields in the documented order); ParseNodesFile
// of it gives `file` back.
std::string FormatNodesFile(const NodesFile& file);

}  // namespace faultline::cluster

#endif  // FAULTLINE_CLUSTER_NODES_FILE_H_
