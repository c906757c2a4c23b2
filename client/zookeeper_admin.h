// ZooKeeper's administrative calls (issue 17 §4), for the system's membership changes: read the
// ensemble's configuration (/zookeeper/config) and change it with reconfig, through the C client
// (libzookeeper-mt's asynchronous calls, each on a session of its own, bounded by a timeout).
//
// reconfig needs reconfigEnabled=true on the servers and an authorised client: faultline's own
// test ensembles run with skipACL=yes (systems/zookeeper_system.cc says why), so no credentials are
// sent here.
//
// Thread-safety: the functions may be called from several threads at once.
#ifndef FAULTLINE_CLIENT_ZOOKEEPER_ADMIN_H_
#define FAULTLINE_CLIENT_ZOOKEEPER_ADMIN_H_

#include <chrono>
#include <string>
#include <string_view>

#include "common/result.h"

namespace faultline::client {

// The configuration the server at `hosts` ("198.18.0.1:2181", or a list the library picks from)
// has committed last: "server.1=...\nserver.2=...\nversion=100000000" as /zookeeper/config holds
// it. Unavailable when no answer came within `timeout` or the connection failed.
[[nodiscard]] Result<std::string> ZkGetConfig(std::string_view hosts,
                                              std::chrono::milliseconds timeout);

// An incremental reconfig sent through `hosts`: `joining` server lines ("server.3=a:2888:3888:
// participant;a:2181", comma-separated) and `leaving` server ids ("3"), either may be empty.
// Returns the new configuration. Errors: Unavailable for what may pass (no quorum of the new
// configuration yet, another reconfig in progress, connection loss, no answer within `timeout`),
// InvalidArgument for what will not (reconfig disabled, not authorised, bad arguments); the
// message names ZooKeeper's code.
[[nodiscard]] Result<std::string> ZkReconfig(std::string_view hosts, std::string_view joining,
                                             std::string_view leaving,
                                             std::chrono::milliseconds timeout);

}  // namespace faultline::client

#endif  // FAULTLINE_CLIENT_ZOOKEEPER_ADMIN_H_
