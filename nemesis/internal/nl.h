// libnl in one place for the nemesis: owning pointers for its objects, one mapping of its error
// codes onto faultline's, and a connected rtnetlink socket. Used by the netlink partition backend
// and the tbf bandwidth fault.
//
// Thread-safety: free functions are thread-safe; a socket is used by one thread at a time.
#ifndef FAULTLINE_NEMESIS_INTERNAL_NL_H_
#define FAULTLINE_NEMESIS_INTERNAL_NL_H_

#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/route.h>
#include <netlink/socket.h>

#include <memory>
#include <string_view>

#include "common/result.h"

namespace faultline::nemesis::internal {

struct NlSockDeleter {
  void operator()(nl_sock* s) const { nl_socket_free(s); }
};
struct NlCacheDeleter {
  void operator()(nl_cache* c) const { nl_cache_free(c); }
};
struct NlAddrDeleter {
  void operator()(nl_addr* a) const { nl_addr_put(a); }
};
struct NlRouteDeleter {
  void operator()(rtnl_route* r) const { rtnl_route_put(r); }
};
struct NlLinkDeleter {
  void operator()(rtnl_link* l) const { rtnl_link_put(l); }
};
struct NlQdiscDeleter {
  void operator()(rtnl_qdisc* q) const { rtnl_qdisc_put(q); }
};
using NlSockPtr = std::unique_ptr<nl_sock, NlSockDeleter>;
using NlCachePtr = std::unique_ptr<nl_cache, NlCacheDeleter>;
using NlAddrPtr = std::unique_ptr<nl_addr, NlAddrDeleter>;
using NlRoutePtr = std::unique_ptr<rtnl_route, NlRouteDeleter>;
using NlLinkPtr = std::unique_ptr<rtnl_link, NlLinkDeleter>;
using NlQdiscPtr = std::unique_ptr<rtnl_qdisc, NlQdiscDeleter>;

// Hints appended to some errors, which depend on what the caller was doing.
struct NlHints {
  std::string_view exists = "";  // NLE_EXIST, e.g. " (a route to this peer exists ...)"
  std::string_view unsupported = " (not supported by this kernel)";  // NLE_OPNOTSUPP and kin
};

// libnl returns negative NLE_* codes; this maps them onto faultline's codes, once:
// "<context>: <libnl's message><hint>".
Error NlError(int err, std::string_view context, const NlHints& hints = {});

// A socket connected to NETLINK_ROUTE in the calling thread's network namespace.
[[nodiscard]] Result<NlSockPtr> ConnectRoute();

}  // namespace faultline::nemesis::internal

#endif  // FAULTLINE_NEMESIS_INTERNAL_NL_H_
