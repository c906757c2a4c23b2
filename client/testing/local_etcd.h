// A throwaway single-member etcd on 127.0.0.1 for tests and benchmarks: free ports, a data
// directory under a temporary directory, started as a child of this process and killed by pid
// (and its directory removed) when the object dies. The child also dies with its parent
// (PR_SET_PDEATHSIG), so a crashed test leaves no etcd behind.
//
// Thread-safety: not thread-safe; one owner.
#ifndef FAULTLINE_CLIENT_TESTING_LOCAL_ETCD_H_
#define FAULTLINE_CLIENT_TESTING_LOCAL_ETCD_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "client/etcd.h"
#include "common/result.h"

namespace faultline::client::testing {

// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read it, close).
[[nodiscard]] Result<std::uint16_t> PickFreePort();

class LocalEtcd {
 public:
  // Starts etcd (from PATH) and waits until /v3/maintenance/status answers with a leader.
  [[nodiscard]] static Result<std::unique_ptr<LocalEtcd>> Start(
      std::chrono::milliseconds ready_timeout = std::chrono::seconds(30));
  ~LocalEtcd();
  LocalEtcd(const LocalEtcd&) = delete;
  LocalEtcd& operator=(const LocalEtcd&) = delete;

  // node "n1", host 127.0.0.1, the client port.
  EtcdEndpoint endpoint() const;
  pid_t pid() const { return pid_; }
  const std::string& dir() const { return dir_; }

  // SIGSTOP / SIGCONT the etcd process.
  [[nodiscard]] Status Pause();
  [[nodiscard]] Status Resume();
  // SIGKILL and reap it now (idempotent); the destructor still removes the directory.
  void Kill();

 private:
  LocalEtcd() = default;

  pid_t pid_ = -1;
  std::string dir_;
  std::uint16_t client_port_ = 0;
};

}  // namespace faultline::client::testing

#endif  // FAULTLINE_CLIENT_TESTING_LOCAL_ETCD_H_
