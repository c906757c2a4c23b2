// The datagram probe for the packet manglings (duplicate, reorder, packet-corrupt): numbered
// datagrams (nemesis/packet_mangle.h ProbeDatagram) from a faulted node to a peer, sent and
// received by `faultline-nemesis-helper udp-probe` run in the two nodes through the NodeControl.
// The sender's packets leave through the fault's queue rule, so the helper that applies the
// fault mangles them like etcd's; what the receiver tallies is evidence that does not come from
// that helper. Local clusters only (the helper binary must be on the node: the packet faults are
// local only too).
//
// Thread-safety: thread-safe if the NodeControl is (it runs the two commands concurrently).
#ifndef FAULTLINE_NEMESIS_MANGLE_PROBE_H_
#define FAULTLINE_NEMESIS_MANGLE_PROBE_H_

#include <chrono>
#include <string>

#include "common/result.h"
#include "nemesis/node_control.h"
#include "nemesis/packet_mangle.h"

namespace faultline::nemesis {

struct DatagramProbe {
  std::string from;        // the faulted node (sender)
  std::string to;          // a peer (receiver)
  std::string to_address;  // the address `to` is reached at from `from`
  int port = 47017;        // UDP
  int count = 300;
  std::chrono::microseconds spacing{1000};
  std::chrono::milliseconds wait{3000};  // for the receiver to answer / the first datagram
};

// Runs the probe; the counts are TallyProbe's plus "probe_sent". An error when either side could
// not run (no helper, the receiver never answered, a bind failure).
[[nodiscard]] Result<packet::PacketCounts> ProbeDatagrams(NodeControl& control,
                                                          const DatagramProbe& probe);

}  // namespace faultline::nemesis

#endif  // FAULTLINE_NEMESIS_MANGLE_PROBE_H_
