#include "nemesis/internal/nl.h"

#include <fmt/format.h>
#include <netlink/errno.h>

#include <string>

namespace faultline::nemesis::internal {

Error NlError(int err, std::string_view context, const NlHints& hints) {
  const int e = err < 0 ? -err : err;
  ErrorCode code = ErrorCode::kInternal;
  std::string_view hint;
  switch (e) {
    case NLE_PERM:
    case NLE_NOACCESS:
      code = ErrorCode::kPermissionDenied;
      hint = " (run as root or grant CAP_NET_ADMIN)";
      break;
    case NLE_OBJ_NOTFOUND:
    case NLE_NOADDR:
    case NLE_NODEV:
      code = ErrorCode::kNotFound;
      break;
    case NLE_EXIST:
      code = ErrorCode::kInvalidArgument;
      hint = hints.exists;
      break;
    case NLE_NOMEM:
    case NLE_AGAIN:
    case NLE_BUSY:
      code = ErrorCode::kUnavailable;
      break;
    case NLE_OPNOTSUPP:
    case NLE_AF_NOSUPPORT:
    case NLE_PROTO_MISMATCH:
      code = ErrorCode::kUnavailable;
      hint = hints.unsupported;
      break;
    default:
      break;
  }
  return Error(code, fmt::format("{}: {}{}", context, nl_geterror(e), hint));
}

Result<NlSockPtr> ConnectRoute() {
  NlSockPtr sock(nl_socket_alloc());
  if (!sock) return MakeError(ErrorCode::kUnavailable, "libnl: cannot allocate a socket");
  if (int err = nl_connect(sock.get(), NETLINK_ROUTE); err < 0) {
    return NlError(err, "libnl: connect rtnetlink");
  }
  return sock;
}

}  // namespace faultline::nemesis::internal
