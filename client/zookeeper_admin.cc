#include "client/zookeeper_admin.h"

#include <fmt/format.h>
#include <zookeeper/zookeeper.h>

#include <condition_variable>
#include <memory>
#include <mutex>

namespace faultline::client {
namespace {

// One call's answer; the library's completion thread fills it.
struct Call {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  int rc = ZOK;
  std::string data;
};

void OnData(int rc, const char* value, int value_len, const Stat* /*stat*/, const void* data) {
  std::unique_ptr<std::shared_ptr<Call>> owner(
      static_cast<std::shared_ptr<Call>*>(const_cast<void*>(data)));
  Call& c = **owner;
  std::lock_guard lock(c.mu);
  c.rc = rc;
  if (value != nullptr && value_len > 0) c.data.assign(value, static_cast<size_t>(value_len));
  c.done = true;
  c.cv.notify_all();
}

void IgnoreWatch(zhandle_t* /*zh*/, int /*type*/, int /*state*/, const char* /*path*/,
                 void* /*ctx*/) {}

bool Transient(int rc) {
  return rc == ZNEWCONFIGNOQUORUM || rc == ZRECONFIGINPROGRESS || rc == ZCONNECTIONLOSS ||
         rc == ZOPERATIONTIMEOUT || rc == ZSESSIONEXPIRED || rc == ZCLOSING ||
         rc == ZINVALIDSTATE || rc == ZNOTREADONLY;
}

// Opens a session on `hosts`, starts the call (`start` returns the library's code for queueing
// it) and waits for its completion up to `timeout`; the session is closed before returning.
template <typename Start>
Result<std::string> Run(std::string_view what, std::string_view hosts,
                        std::chrono::milliseconds timeout, Start start) {
  static std::once_flag quiet;
  std::call_once(quiet, [] { zoo_set_debug_level(static_cast<ZooLogLevel>(0)); });
  const std::string host_list(hosts);
  zhandle_t* zh = zookeeper_init(host_list.c_str(), IgnoreWatch, 4000, nullptr, nullptr, 0);
  if (zh == nullptr) {
    return MakeError(ErrorCode::kUnavailable,
                     fmt::format("zookeeper {} through {}: zookeeper_init failed (errno {})", what,
                                 hosts, errno));
  }
  auto call = std::make_shared<Call>();
  auto* owner = new std::shared_ptr<Call>(call);
  const int queued = start(zh, owner);
  if (queued != ZOK) {
    delete owner;
    zookeeper_close(zh);
    return MakeError(
        Transient(queued) ? ErrorCode::kUnavailable : ErrorCode::kInvalidArgument,
        fmt::format("zookeeper {} through {}: {} ({})", what, hosts, zerror(queued), queued));
  }
  bool answered = false;
  {
    std::unique_lock lock(call->mu);
    answered = call->cv.wait_for(lock, timeout, [&] { return call->done; });
  }
  // Close calls an outstanding completion with ZCLOSING, so `owner` is freed either way.
  zookeeper_close(zh);
  std::lock_guard lock(call->mu);
  if (!answered) {
    return MakeError(ErrorCode::kUnavailable,
                     fmt::format("zookeeper {} through {}: no answer within {} ms", what, hosts,
                                 timeout.count()));
  }
  if (call->rc != ZOK) {
    return MakeError(
        Transient(call->rc) ? ErrorCode::kUnavailable : ErrorCode::kInvalidArgument,
        fmt::format("zookeeper {} through {}: {} ({})", what, hosts, zerror(call->rc), call->rc));
  }
  return call->data;
}

}  // namespace

Result<std::string> ZkGetConfig(std::string_view hosts, std::chrono::milliseconds timeout) {
  return Run("getconfig", hosts, timeout,
             [](zhandle_t* zh, void* owner) { return zoo_agetconfig(zh, 0, OnData, owner); });
}

Result<std::string> ZkReconfig(std::string_view hosts, std::string_view joining,
                               std::string_view leaving, std::chrono::milliseconds timeout) {
  const std::string join(joining);
  const std::string leave(leaving);
  return Run(fmt::format("reconfig{}{}", join.empty() ? "" : " -add " + join,
                         leave.empty() ? "" : " -remove " + leave),
             hosts, timeout, [&](zhandle_t* zh, void* owner) {
               return zoo_areconfig(zh, join.empty() ? nullptr : join.c_str(),
                                    leave.empty() ? nullptr : leave.c_str(), nullptr, -1, OnData,
                                    owner);
             });
}

}  // namespace faultline::client
