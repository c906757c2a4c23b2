// The exec client: a client for any system, written in any language, as a program speaking JSON
// lines (`"client": "exec:COMMAND"` in a system file, systems/system_file.h).
//
// One program per process (worker), started at its first op through /bin/sh -c COMMAND in the
// given directory, with FAULTLINE_NODE ("n2"), FAULTLINE_ADDRESS, FAULTLINE_PORT (the worker's
// node: process number modulo the node count) and FAULTLINE_NODES (every address:port,
// comma-separated) in its environment. Like every client, one whose op ended info is discarded
// (its program is killed) and the worker goes on with a new process and a new program.
//
// Protocol, one JSON object per line:
//   faultline -> stdin  {"id": 7, "process": 3, "workload": "register", "f": "cas",
//                        "key": "faultline/run/4", "value": [1, 2]}
//     register: f "read" (value null), "write" (an integer), "cas" ([old, new])
//     set:      f "add" (an integer), "read" (value null)
//   stdout -> faultline {"id": 7, "type": "ok" | "fail" | "info", "value": ..., "error": "..."}
//     the value of an ok read: the integer read or null (register), the list of integers (set);
//     other ops' values are taken from the invocation. "error" is optional.
// The answer must come within the timeout (for a program's first op, 3 s more: its start is not
// the op's fault) and carry the op's id. A timeout, a program that exits
// or closes stdout, and a line that is not such an answer all complete the op as info (never
// fail: whether it took effect is unknown), with the error naming what happened and the last
// lines of the program's stderr (kept in `stderr_dir`/<process>.stderr). faultline never waits
// on a stuck program past the timeout: it is killed.
//
// Thread-safety: as client/client.h.
#ifndef FAULTLINE_CLIENT_EXEC_H_
#define FAULTLINE_CLIENT_EXEC_H_

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "client/client.h"
#include "common/result.h"

namespace faultline::client {

struct ExecEndpoint {
  std::string node;     // "n1"
  std::string address;  // "198.18.0.1"
  int port = 0;
};

struct ExecClientOptions {
  std::string command;                  // run by /bin/sh -c
  std::string dir;                      // working directory ("" keeps faultline's)
  std::vector<ExecEndpoint> endpoints;  // at least one
  std::string workload = "register";    // "register" or "set"
  std::chrono::milliseconds timeout{1000};
  std::string stderr_dir;  // required: one <process>.stderr file per program
};

[[nodiscard]] Result<std::unique_ptr<ClientFactory>> MakeExecClientFactory(
    ExecClientOptions options);

}  // namespace faultline::client

#endif  // FAULTLINE_CLIENT_EXEC_H_
