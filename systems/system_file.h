// The system file: a system faultline has never seen, described in JSON (`--system FILE`).
//
//   {
//     "name": "kv",                       // required; [a-z0-9_-]+
//     "nodes": 3,                          // nodes of a local cluster (1..9; default 3)
//     "client_port": 7001,                 // required
//     "commands": {                        // run through /bin/sh on the node (its namespace)
//       "setup":  "...",                   // optional, once per node before the first start
//       "start":  "...",                   // returns once started (daemonize the server)
//       "stop":   "...", "kill": "...",
//       "pid":    "...",                   // prints the server's pid; nothing if not running
//       "wipe":   "...",                   // removes the node's data
//       "is_up":  "...",                   // exit 0 when the node serves clients
//       "pause":  "...", "resume": "..."   // optional: SIGSTOP / SIGCONT to the pid by default
//     },
//     "logs": ["{log_dir}/server.log"],    // files kept in the run directory (nodes/<node>/)
//     "workloads": ["register", "set"],    // default ["register"]
//     "client": "exec:python3 client.py",  // required; see client/exec.h
//     "clock": "libfaketime"                // optional: the servers read the time through libc,
//                                           // so clock faults reach them on a local cluster
//                                           // (their start command runs with libfaketime
//                                           // preloaded); default "none"
//   }
//
// Placeholders in commands, logs and the client command: {node} "n1", {address}, {port} (the
// client port), {peers} (every node's address:port, comma-separated, in node order), {data_dir}
// and {log_dir} (per node, created by faultline), {cluster} (the cluster's name) and {dir} (the
// directory holding the system file). Commands and the client run with {dir} as their working
// directory. A {word} of lowercase letters and '_' must be one of these (a typo is an error);
// anything else, such as ${HOME}, is left as it is. Values are inserted as they are, unquoted.
//
// Thread-safety: pure functions.
#ifndef FAULTLINE_SYSTEMS_SYSTEM_FILE_H_
#define FAULTLINE_SYSTEMS_SYSTEM_FILE_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace faultline::systems {

struct SystemCommands {
  std::string setup;  // optional
  std::string start;
  std::string stop;
  std::string kill;
  std::string pid;
  std::string wipe;
  std::string is_up;
  std::string pause;   // optional: SIGSTOP to the pid
  std::string resume;  // optional: SIGCONT to the pid
};

struct SystemFile {
  std::string path;  // as given
  std::string dir;   // absolute directory of the file ({dir})
  std::string name;
  int nodes = 3;
  int client_port = 0;
  SystemCommands commands;
  std::vector<std::string> logs;
  std::vector<std::string> workloads = {"register"};
  std::string client;          // "exec:COMMAND"
  std::string clock = "none";  // "libfaketime" or "none"
};

// Parses a system file's text; `path` names it in errors and gives {dir}. Every error names the
// file and the field ("kv.json: field \"commands.start\": missing").
[[nodiscard]] Result<SystemFile> ParseSystemFile(std::string_view text, std::string_view path);
// Reads and parses the file.
[[nodiscard]] Result<SystemFile> LoadSystemFile(std::string_view path);

// Placeholder values: name -> value ("node" -> "n1").
using Placeholders = std::map<std::string, std::string, std::less<>>;
// Replaces every {name} in `text`; an unknown {word} (lowercase letters and '_') is an error
// naming it, other braces are kept.
[[nodiscard]] Result<std::string> ExpandPlaceholders(std::string_view text,
                                                     const Placeholders& values);
// The placeholders every command knows ({node} ... {dir}); node-specific ones empty when
// `node` is empty (for the client command).
std::vector<std::string> PlaceholderNames();

}  // namespace faultline::systems

#endif  // FAULTLINE_SYSTEMS_SYSTEM_FILE_H_
