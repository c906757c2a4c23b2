#include "nemesis/internal/conntrack.h"

#include <fmt/format.h>
#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/netfilter/ct.h>
#include <netlink/netfilter/nfnl.h>
#include <netlink/socket.h>
#include <sys/socket.h>

#include <cstdio>
#include <memory>
#include <vector>

namespace faultline::nemesis::internal {
namespace {

struct SockDeleter {
  void operator()(nl_sock* s) const { nl_socket_free(s); }
};
struct CacheDeleter {
  void operator()(nl_cache* c) const { nl_cache_free(c); }
};

Error NlError(int err, std::string_view context) {
  const int e = err < 0 ? -err : err;
  const ErrorCode code = e == NLE_PERM || e == NLE_NOACCESS ? ErrorCode::kPermissionDenied
                         : e == NLE_OBJ_NOTFOUND            ? ErrorCode::kNotFound
                                                            : ErrorCode::kUnavailable;
  return Error(code, fmt::format("conntrack: {}: {}", context, nl_geterror(e)));
}

// The number of conntrack entries of the calling thread's network namespace (sysctls under
// /proc/sys/net follow the opening thread's namespace), or -1 if unknown.
long ConntrackCount() {
  std::FILE* f = std::fopen("/proc/sys/net/netfilter/nf_conntrack_count", "re");
  if (f == nullptr) return -1;
  long count = -1;
  if (std::fscanf(f, "%ld", &count) != 1) count = -1;
  std::fclose(f);
  return count;
}

}  // namespace

Result<int> DeleteConntrackFrom(const std::set<std::string>& sources) {
  if (sources.empty()) return 0;
  // A dump walks the whole host-wide conntrack hash (262144 buckets here: ~30 ms) whatever the
  // namespace holds, so skip it when the namespace tracks nothing.
  if (ConntrackCount() == 0) return 0;
  std::unique_ptr<nl_sock, SockDeleter> sock(nl_socket_alloc());
  if (!sock) return MakeError(ErrorCode::kUnavailable, "conntrack: cannot allocate a socket");
  if (int err = nfnl_connect(sock.get()); err < 0) return NlError(err, "connect nfnetlink");
  nl_cache* raw = nullptr;
  if (int err = nfnl_ct_alloc_cache(sock.get(), &raw); err < 0) {
    return NlError(err, "dump connections");
  }
  std::unique_ptr<nl_cache, CacheDeleter> cache(raw);
  std::vector<nfnl_ct*> doomed;
  for (nl_object* obj = nl_cache_get_first(cache.get()); obj != nullptr;
       obj = nl_cache_get_next(obj)) {
    auto* ct = reinterpret_cast<nfnl_ct*>(obj);
    if (nfnl_ct_get_family(ct) != AF_INET) continue;
    nl_addr* src = nfnl_ct_get_src(ct, 0);
    if (src == nullptr) continue;
    char buf[64];
    std::string text = nl_addr2str(src, buf, sizeof(buf));
    if (const auto slash = text.find('/'); slash != std::string::npos) text.resize(slash);
    if (sources.count(text) != 0) doomed.push_back(ct);
  }
  int deleted = 0;
  for (nfnl_ct* ct : doomed) {
    const int err = nfnl_ct_del(sock.get(), ct, 0);
    // An entry may expire between the dump and the delete.
    if (err < 0 && -err != NLE_OBJ_NOTFOUND) return NlError(err, "delete connection");
    if (err >= 0) ++deleted;
  }
  return deleted;
}

}  // namespace faultline::nemesis::internal
