// The TCP ports of the systems under test, named once: the cluster starts etcd on them, clients
// and probes connect to them, and nodes files and help texts describe them.
//
// Thread-safety: constants only.
#ifndef FAULTLINE_COMMON_PORTS_H_
#define FAULTLINE_COMMON_PORTS_H_

#include <cstdint>

namespace faultline {

inline constexpr std::uint16_t kEtcdClientPort = 2379;  // clients, /health, the JSON gateway
inline constexpr std::uint16_t kEtcdPeerPort = 2380;    // raft traffic between members

}  // namespace faultline

#endif  // FAULTLINE_COMMON_PORTS_H_
