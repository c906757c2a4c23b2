// The netlink backend: blackhole (drop) or prohibit (reject) host routes, added and removed
// in-process with libnl through one rtnetlink socket per node, opened inside its namespace. Routes
// steer what a node SENDS, so the backend installs Invert(grudge): "n2 drops n1" becomes "n1 does
// not send to n2". For TCP and ICMP that is the same two-way cut as a drop on the receiver's input
// (the handshake or echo needs both directions); for a one-way cut the sender's packets never leave
// it.
#include "nemesis/net.h"

#include <fmt/format.h>
#include <linux/rtnetlink.h>
#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/route.h>
#include <netlink/socket.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <functional>
#include <memory>

#include "nemesis/internal/backend.h"
#include "nemesis/internal/netns.h"
#include "nemesis/internal/nl.h"

namespace faultline::nemesis {
namespace {

constexpr std::string_view kName = "netlink";

using SockPtr = internal::NlSockPtr;
using RoutePtr = internal::NlRoutePtr;
using AddrPtr = internal::NlAddrPtr;
using CachePtr = internal::NlCachePtr;

Error NlError(int err, std::string_view context) {
  return internal::NlError(err, context,
                           {.exists = " (a route to this peer exists and is not faultline's)",
                            .unsupported = " (not supported by this kernel)"});
}

Result<RoutePtr> HostRoute(const std::string& address, uint8_t type) {
  nl_addr* raw = nullptr;
  const std::string prefix = address + "/32";
  if (int err = nl_addr_parse(prefix.c_str(), AF_INET, &raw); err < 0) {
    return NlError(err, fmt::format("parse address {}", prefix));
  }
  AddrPtr dst(raw);
  RoutePtr route(rtnl_route_alloc());
  if (!route) return MakeError(ErrorCode::kUnavailable, "libnl: cannot allocate a route");
  rtnl_route_set_family(route.get(), AF_INET);
  if (int err = rtnl_route_set_dst(route.get(), dst.get()); err < 0) {
    return NlError(err, "set route destination");
  }
  rtnl_route_set_table(route.get(), RT_TABLE_MAIN);
  rtnl_route_set_type(route.get(), type);
  rtnl_route_set_protocol(route.get(), static_cast<uint8_t>(kRouteProtocol));
  rtnl_route_set_scope(route.get(), RT_SCOPE_UNIVERSE);
  return route;
}

// Deletes every IPv4 route of ours (protocol kRouteProtocol) whose destination is one of
// `addresses` as a /32: only this cluster's peers, only faultline's routes. Returns how many.
Result<int> DeleteOurRoutes(nl_sock* sock, const std::set<std::string>& addresses) {
  nl_cache* raw = nullptr;
  if (int err = rtnl_route_alloc_cache(sock, AF_INET, 0, &raw); err < 0) {
    return NlError(err, "dump routes");
  }
  CachePtr cache(raw);
  std::vector<rtnl_route*> ours;
  for (nl_object* obj = nl_cache_get_first(cache.get()); obj != nullptr;
       obj = nl_cache_get_next(obj)) {
    auto* route = reinterpret_cast<rtnl_route*>(obj);
    if (rtnl_route_get_protocol(route) != kRouteProtocol) continue;
    nl_addr* dst = rtnl_route_get_dst(route);
    if (dst == nullptr || nl_addr_get_prefixlen(dst) != 32) continue;
    char buf[64];
    std::string text = nl_addr2str(dst, buf, sizeof(buf));
    if (const auto slash = text.find('/'); slash != std::string::npos) text.resize(slash);
    if (addresses.count(text) != 0) ours.push_back(route);
  }
  int deleted = 0;
  for (rtnl_route* route : ours) {
    const int err = rtnl_route_delete(sock, route, 0);
    if (err < 0 && -err != NLE_OBJ_NOTFOUND) return NlError(err, "delete route");
    ++deleted;
  }
  return deleted;
}

class NetlinkNet final : public Net {
 public:
  explicit NetlinkNet(NetConfig config) : config_(std::move(config)) {
    for (const auto& n : config_.nodes) {
      netns_.push_back(n.netns);
      addresses_.insert(n.address);
    }
    socks_.resize(config_.nodes.size());
  }

  std::string_view Name() const override { return kName; }
  bool Supports(PartitionMode mode) const override { return mode != PartitionMode::kNewOnly; }

  Result<NetReport> Apply(const Grudge& grudge, PartitionMode mode) override {
    if (!Supports(mode)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "nemesis: netlink apply: mode new-only needs connection state, which "
                       "routes do not have (use --backend nft or iptables)");
    }
    FAULTLINE_ASSIGN_OR_RETURN(Grudge g, internal::ValidateGrudge(kName, config_, grudge));
    Grudge sends = Invert(g);
    const uint8_t type = mode == PartitionMode::kDrop ? RTN_BLACKHOLE : RTN_PROHIBIT;
    const std::string_view type_name = mode == PartitionMode::kDrop ? "blackhole" : "prohibit";
    std::vector<NodeReport> nodes = internal::PendingReports(config_, sends);
    const auto statuses = ForEachNode([&](size_t i, nl_sock* sock) -> Status {
      NodeReport& r = nodes[i];
      r.mechanism = r.peers.empty()
                        ? std::string("netlink: no routes (sends to everyone)")
                        : fmt::format("netlink: {} route(s) {}/32 proto {} to {} peer(s)",
                                      r.peers.size(), type_name, kRouteProtocol, r.peers.size());
      FAULTLINE_RETURN_IF_ERROR(DeleteOurRoutes(sock, addresses_));
      for (const auto& address : internal::PeerAddresses(config_, r.peers)) {
        FAULTLINE_ASSIGN_OR_RETURN(RoutePtr route, HostRoute(address, type));
        if (int err = rtnl_route_add(sock, route.get(), NLM_F_CREATE | NLM_F_EXCL); err < 0) {
          return NlError(err, fmt::format("add {} route to {}", type_name, address));
        }
      }
      r.needs_heal = !r.peers.empty();
      return OkStatus();
    });
    NetReport report =
        internal::MakeReport(kName, "apply", mode, config_, std::move(nodes), statuses);
    report.grudge = DescribeGrudge(g);
    report.notes.push_back(
        "netlink acts on the sending side: each node's peers are the nodes it no longer sends to "
        "(the inverted grudge)");
    return report;
  }

  NetReport Heal() override {
    std::vector<NodeReport> nodes(config_.nodes.size());
    const auto statuses = ForEachNode([&](size_t i, nl_sock* sock) -> Status {
      FAULTLINE_ASSIGN_OR_RETURN(int deleted, DeleteOurRoutes(sock, addresses_));
      nodes[i].mechanism =
          fmt::format("netlink: deleted {} route(s) with proto {}", deleted, kRouteProtocol);
      return OkStatus();
    });
    return internal::MakeReport(kName, "heal", PartitionMode::kDrop, config_, std::move(nodes),
                                statuses);
  }

 private:
  // A rtnetlink socket opened inside a node's namespace. A socket stays bound to the namespace it
  // was created in, so it is made once on a thread that entered the namespace and then used from
  // the caller's thread: no thread and no setns per apply. It is remade when the namespace file
  // now names another namespace (a node rebuilt under the same name).
  struct NodeSocket {
    SockPtr sock;
    dev_t dev = 0;
    ino_t ino = 0;
  };

  // Runs fn(i, socket) for every node on the caller's thread; a node whose socket cannot be made
  // gets that error instead.
  std::vector<Status> ForEachNode(const std::function<Status(size_t, nl_sock*)>& fn) {
    std::vector<Status> out(netns_.size(), OkStatus());
    std::vector<size_t> missing;
    for (size_t i = 0; i < netns_.size(); ++i) {
      const std::string path = internal::NetnsPath(netns_[i]);
      struct stat st {};
      if (::stat(path.c_str(), &st) != 0) {
        out[i] = internal::ErrnoError(errno, fmt::format("enter network namespace {}", path));
        socks_[i].sock.reset();
        continue;
      }
      if (!socks_[i].sock || socks_[i].dev != st.st_dev || socks_[i].ino != st.st_ino) {
        socks_[i] = NodeSocket{.sock = nullptr, .dev = st.st_dev, .ino = st.st_ino};
        missing.push_back(i);
      }
    }
    if (!missing.empty()) {
      std::vector<std::string> netns;
      for (size_t i : missing) netns.push_back(netns_[i]);
      const auto made = internal::RunInNetnsParallel(netns, [&](size_t k) -> Status {
        FAULTLINE_ASSIGN_OR_RETURN(socks_[missing[k]].sock, internal::ConnectRoute());
        return OkStatus();
      });
      for (size_t k = 0; k < missing.size(); ++k) {
        if (!made[k]) out[missing[k]] = made[k];
      }
    }
    for (size_t i = 0; i < netns_.size(); ++i) {
      if (out[i] && socks_[i].sock) out[i] = fn(i, socks_[i].sock.get());
    }
    return out;
  }

  NetConfig config_;
  std::vector<std::string> netns_;
  std::set<std::string> addresses_;
  std::vector<NodeSocket> socks_;
};

}  // namespace

Result<std::unique_ptr<Net>> MakeNetlinkNet(const NetConfig& config) {
  FAULTLINE_RETURN_IF_ERROR(internal::ValidateConfig(kName, config));
  return std::unique_ptr<Net>(std::make_unique<NetlinkNet>(config));
}

}  // namespace faultline::nemesis
