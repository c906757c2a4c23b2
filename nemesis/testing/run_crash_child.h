// Runs the nemesis crash child (nemesis/crash_child.cc) for the crash tests: with
// FAULTLINE_CRASH_AT set to a named kill point (or unset), and optionally SIGKILLed that long
// after it printed "go". Returns its wait status. Test-only.
//
// Thread-safety: call from one thread at a time (it forks).
#ifndef FAULTLINE_NEMESIS_TESTING_RUN_CRASH_CHILD_H_
#define FAULTLINE_NEMESIS_TESTING_RUN_CRASH_CHILD_H_

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace faultline::nemesis::testing {

inline int RunCrashChild(std::vector<std::string> argv, const std::string& crash_at,
                         std::optional<std::chrono::microseconds> kill_after) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "FAULTLINE_CRASH_AT=", 19) != 0) env.emplace_back(*e);
  }
  if (!crash_at.empty()) env.push_back("FAULTLINE_CRASH_AT=" + crash_at);
  std::vector<char*> cargv;
  std::vector<char*> cenv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  for (auto& e : env) cenv.push_back(e.data());
  cenv.push_back(nullptr);
  std::array<int, 2> out{};
  if (::pipe2(out.data(), O_CLOEXEC) != 0) return -1;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::execve(cargv[0], cargv.data(), cenv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  if (kill_after) {
    pollfd p{.fd = out[0], .events = POLLIN, .revents = 0};
    if (::poll(&p, 1, 10000) > 0) {
      std::this_thread::sleep_for(*kill_after);
      ::kill(pid, SIGKILL);
    }
  }
  // Keep reading until the child is gone: closing early would kill it with SIGPIPE.
  char buf[64];
  while (::read(out[0], buf, sizeof(buf)) > 0) {
  }
  ::close(out[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

// For a child SIGKILLed at a random moment: true when the kill landed; otherwise the child must
// have finished cleanly (a failure names `what`).
inline bool WasKilled(int status, const std::string& what) {
  if (WIFSIGNALED(status)) return true;
  EXPECT_EQ(WEXITSTATUS(status), 0) << what << ": the child failed";
  return false;
}

}  // namespace faultline::nemesis::testing

#endif  // FAULTLINE_NEMESIS_TESTING_RUN_CRASH_CHILD_H_
