// A NodeControl for tests: each node's "database process" is a PID the test started (a `sleep`),
// paused with SIGSTOP, resumed with SIGCONT and killed with SIGKILL; commands run through /bin/sh
// inside the node's namespace. It cannot start processes again (kStart fails).
//
// Thread-safety: thread-safe (it keeps no mutable state besides the processes themselves).
#ifndef FAULTLINE_NEMESIS_TESTING_FAKE_NODE_CONTROL_H_
#define FAULTLINE_NEMESIS_TESTING_FAKE_NODE_CONTROL_H_

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/process.h"
#include "nemesis/internal/netns.h"
#include "nemesis/internal/proc.h"
#include "nemesis/net.h"
#include "nemesis/node_control.h"

namespace faultline::nemesis::testing {

// A `sleep 600` child of this process: a dummy database process for the fake control.
inline pid_t SpawnSleep() {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execl("/bin/sleep", "sleep", "600", nullptr);
    ::_exit(127);
  }
  return pid;
}

class FakeNodeControl final : public NodeControl {
 public:
  // nodes[i] has database process pids[i] (0 = none).
  FakeNodeControl(std::vector<NetNode> nodes, std::vector<int> pids)
      : nodes_(std::move(nodes)), pids_(std::move(pids)) {}

  std::string_view Name() const override { return "fake"; }
  std::vector<std::string> Nodes() const override {
    std::vector<std::string> out;
    for (const auto& n : nodes_) out.push_back(n.name);
    return out;
  }

  std::vector<ProcessReport> Process(const std::vector<std::string>& nodes,
                                     ProcessAction action) override {
    std::vector<ProcessReport> out;
    for (const auto& name : nodes) {
      ProcessReport r;
      r.node = name;
      r.action = action;
      const int pid = PidOf(name);
      r.pid_before = pid;
      int sig = 0;
      if (action == ProcessAction::kPause) sig = SIGSTOP;
      if (action == ProcessAction::kResume) sig = SIGCONT;
      if (action == ProcessAction::kKill) sig = SIGKILL;
      if (pid == 0 || sig == 0) {
        r.error = Error(ErrorCode::kInvalidArgument, fmt::format("fake control: cannot {} on {}",
                                                                 ProcessActionName(action), name));
      } else if (::kill(pid, sig) != 0) {
        r.error = Error(ErrorCode::kNotFound, fmt::format("fake control: pid {} is gone", pid));
      } else {
        r.ok = true;
        r.mechanism = fmt::format("signal {} to pid {}", sig, pid);
        r.pid_after = action == ProcessAction::kKill ? 0 : pid;
      }
      out.push_back(std::move(r));
    }
    return out;
  }

  Result<std::vector<DbProcess>> Databases() override {
    std::vector<DbProcess> out;
    for (size_t i = 0; i < nodes_.size(); ++i) {
      DbProcess d;
      d.node = nodes_[i].name;
      d.pid = pids_[i];
      const auto st = internal::ReadProcStat(d.pid);
      if (st && st->state != 'Z') {
        d.start_time = st->start_time;
        d.alive = true;
        d.paused = st->state == 'T';
        d.state = d.paused ? "paused" : "running";
      } else {
        d.state = "exited";
      }
      out.push_back(std::move(d));
    }
    return out;
  }

  Result<CommandOutput> Run(std::string_view node, std::string_view command,
                            std::string_view input) override {
    for (const auto& n : nodes_) {
      if (n.name != node) continue;
      CommandOutput out;
      auto done = internal::RunInNetns(n.netns, [&]() -> Status {
        FAULTLINE_ASSIGN_OR_RETURN(
            ProcessOutput r, RunProcess({"/bin/sh", "-c", std::string(command)}, {.input = input}));
        out.exit_code = r.exit_code;
        out.out = std::move(r.out);
        out.err = std::move(r.err);
        return OkStatus();
      });
      if (!done) return std::move(done).error();
      return out;
    }
    return MakeError(ErrorCode::kNotFound, fmt::format("fake control: no node {}", node));
  }

 private:
  int PidOf(const std::string& name) const {
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (nodes_[i].name == name) return pids_[i];
    }
    return 0;
  }

  std::vector<NetNode> nodes_;
  std::vector<int> pids_;
};

}  // namespace faultline::nemesis::testing

#endif  // FAULTLINE_NEMESIS_TESTING_FAKE_NODE_CONTROL_H_
