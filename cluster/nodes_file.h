// The nodes file: a JSON description of a cluster whose nodes are reached over SSH (real machines,
// VMs, or the local cluster's namespaces running sshd: `faultline cluster up --ssh` writes one),
// and of the database commands that work on each node. Used with `--cluster ssh:FILE`
// (cluster/ssh_control.h).
//
// Example (every field shown; "system", "address", "client_address", "client_port",
// "ssh_options", "data_dir", "log_dir" and "db.data_dir" are optional; "db" too when "system"
// names a system other than etcd):
//
//   {
//     "cluster": "lab",
//     "system": "etcd",
//     "nodes": [
//       {
//         "name": "n1",
//         "host": "198.18.0.1",
//         "port": 22,
//         "user": "root",
//         "identity_file": "/var/lib/faultline/clusters/lab/ssh/id_ed25519",
//         "known_hosts": "/var/lib/faultline/clusters/lab/ssh/known_hosts",
//         "address": "198.18.0.1",
//         "client_address": "198.18.0.1",
//         "client_port": 2379,
//         "ssh_options": ["ConnectTimeout=5", "ServerAliveInterval=5"],
//         "data_dir": "/var/tmp/faultline/lab/n1/data",
//         "log_dir": "/var/tmp/faultline/lab/n1/logs",
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
//   system             the system under test: a built-in name (etcd, redis, zookeeper) or the
//                      path of a system file (systems/system_file.h), a relative path taken from
//                      the nodes file's directory; absent: whatever --system says (etcd by
//                      default). A --system that names another system is an error naming both.
//   nodes[]            at least one; names and hosts unique
//   name               the node's name in grudges and targets ("n1")
//   host, port, user   where ssh connects (port 1..65535)
//   identity_file      the private key (ssh -i); known_hosts: a private UserKnownHostsFile (host
//                      keys are accepted on first use, StrictHostKeyChecking=no)
//   address            the IPv4 address the node's peers see its packets come from, for network
//                      partitions; defaults to host when host is an IPv4 address
//   client_address     the IPv4 address clients connect to (default: address); {address} in a
//                      system file's commands
//   client_port        the port clients connect to (1..65535; default: the system's client
//                      port); {port} in a system file's commands
//   data_dir, log_dir  {data_dir} and {log_dir} of a system file's commands on this node
//                      (default /var/tmp/faultline/<cluster>/<name>/data and .../logs; faultline
//                      creates them over ssh)
//   ssh_options        extra `-o` options for ssh, each "Key=Value"
//   db                 etcd's commands; required unless "system" names another system, whose
//                      own commands (start, stop, kill, pid, ...) then run over ssh
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
  std::string client_address;  // "" when not given (then address; see ClientAddress)
  int client_port = 0;         // 0: the system's client port
  std::string data_dir;        // "" when not given (the runner's default)
  std::string log_dir;         // "" when not given
  DbCommands db;               // empty commands when the file has no "db"

  bool operator==(const SshNode&) const = default;
};

struct NodesFile {
  std::string cluster;
  // The "system" field: a built-in name, or a system file's absolute path (a relative one is
  // resolved against the nodes file's directory); "" when the file does not name one.
  std::string system;
  std::vector<SshNode> nodes;

  bool operator==(const NodesFile&) const = default;
};

// Where clients reach the node: client_address, else address.
inline const std::string& ClientAddress(const SshNode& node) {
  return node.client_address.empty() ? node.address : node.client_address;
}

// Parses the JSON text; `source` names it in errors ("nodes file FILE: nodes[2] (n3): field
// \"host\": missing"). InvalidArgument on any malformed or missing field.
[[nodiscard]] Result<NodesFile> ParseNodesFile(std::string_view json, std::string_view source);
// Whether a "system" value names a system file rather than a built-in system (it holds a '/' or
// ends in ".json"; systems/registry.h IsSystemFile says the same).
bool NamesSystemFile(std::string_view system);
// Reads and parses a file (NotFound if it does not exist).
[[nodiscard]] Result<NodesFile> ReadNodesFile(const std::string& path);
// The JSON text of a nodes file (pretty-printed, fields in the documented order); ParseNodesFile
// of it gives `file` back.
std::string FormatNodesFile(const NodesFile& file);

}  // namespace faultline::cluster

#endif  // FAULTLINE_CLUSTER_NODES_FILE_H_
