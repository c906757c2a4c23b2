// A loopback HTTP/1.1 server for end-to-end tests of `faultline proxy` (tests/proxy_cli_test.sh):
// prints "port N" on stdout, serves the routes of testing/loopback_http.h, and exits on
// SIGINT/SIGTERM or after 300 s, so a leaked one does not outlive its test for long.
#include <signal.h>

#include <cstdio>
#include <ctime>

#include "nemesis/testing/loopback_http.h"

int main() {
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  faultline::nemesis::testing::LoopbackServer server(
      faultline::nemesis::testing::LoopbackServer::Mode::kHttp);
  std::printf("port %u\n", static_cast<unsigned>(server.port()));
  std::fflush(stdout);
  const timespec limit{300, 0};
  sigtimedwait(&stop, nullptr, &limit);
  return 0;
}
