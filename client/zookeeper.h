// The ZooKeeper client (issue 14 §3): the register workload on znodes through the C client
// (libzookeeper-mt's asynchronous API). read = getData, write = setData (create when the znode
// does not exist yet), cas = getData, then setData with the version read.
//
// Each worker (process) stays on one server: the process number modulo the node count picks it,
// and the session is given that server alone, so a plain read is served by it. Read modes:
//   kPlain: getData as it is; a server cut off from the leader answers from its own copy until it
//           notices, so stale reads are possible (the completion names the server);
//   kSync:  sync, then getData, on the same session (ZooKeeper orders a session's requests), so
//           the server has caught up with the leader before it answers.
//
// Versions (history/fields.h): an ok write or cas carries :revision, its zxid (the znode's new
// mzxid); an ok read :mod_revision, the mzxid of the version it read (0: no znode). Zxids order
// every write of the ensemble, so the checkers can tell a stale read by its version and name the
// write it missed (checker/stale_reads.h); the revision-order checker reads them too.
//
// Classification (client/client.h): an error the library returns before sending (no session,
// bad arguments) and an answer that certainly means "not done" (ZBADVERSION, ZNONODE for a cas,
// a cas whose read value differs) are fail; connection loss, session expiry, operation timeout,
// closing and faultline's own timeout while a write or cas write is outstanding are info. Every
// read error is fail (a read changes nothing). A client whose op ended info is discarded: its
// next process opens a new session.
//
// Thread-safety: as client/client.h; the library's completion thread only posts to the
// worker's io_context.
#ifndef FAULTLINE_CLIENT_ZOOKEEPER_H_
#define FAULTLINE_CLIENT_ZOOKEEPER_H_

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "client/client.h"
#include "common/result.h"
#include "history/op.h"

namespace faultline::client {

enum class ZkReadMode { kPlain, kSync };

struct ZkEndpoint {
  std::string node;     // "n1"
  std::string address;  // "198.18.0.1"
  int port = 2181;
};

struct ZkClientOptions {
  std::vector<ZkEndpoint> endpoints;  // at least one
  ZkReadMode read_mode = ZkReadMode::kSync;
  std::chrono::milliseconds timeout{1000};  // per op (a new session gets kZkConnectAllowance more)
  std::chrono::milliseconds session_timeout{4000};
  std::string key_prefix = "faultline/";
};

// Time a new session may take to connect, on top of its first op's timeout.
inline constexpr std::chrono::milliseconds kZkConnectAllowance{2000};

// "plain" / "serializable" -> kPlain, "sync" / "linearizable" -> kSync; anything else an error
// naming the accepted modes.
[[nodiscard]] Result<ZkReadMode> ParseZkReadMode(std::string_view mode);

// How a ZooKeeper return code completes an op. `sent`: the request reached the library's queue
// (false when the call itself returned the code). `mutating`: a write, or the write half of a
// cas.
history::OpType ClassifyZkError(int rc, bool sent, bool mutating);

// The znode an op's key lives at: "/faultline_r_3" for prefix "faultline/" and key 3 (flat, so
// no parent has to exist).
std::string ZnodePath(std::string_view key_prefix, const history::Op& op);

[[nodiscard]] Result<std::unique_ptr<ClientFactory>> MakeZkClientFactory(ZkClientOptions options);

}  // namespace faultline::client

#endif  // FAULTLINE_CLIENT_ZOOKEEPER_H_
