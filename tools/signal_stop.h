// SignalStop: Ctrl-C (SIGINT) and SIGTERM as a stop request, for commands whose work heals and
// judges what it recorded before it exits (campaign, wave). The signals are blocked in every
// thread (construct it before any thread starts) and taken by one waiter thread, which prints the
// note and requests the stop.
//
// Thread-safety: token() and stopped() may be called from any thread.
#ifndef FAULTLINE_TOOLS_SIGNAL_STOP_H_
#define FAULTLINE_TOOLS_SIGNAL_STOP_H_

#include <fmt/format.h>
#include <signal.h>

#include <atomic>
#include <stop_token>
#include <string>
#include <thread>

#include "tools/commands.h"

namespace faultline::tools {

class SignalStop {
 public:
  // note: what a stop does, printed after "signal N: ".
  explicit SignalStop(std::string note) : note_(std::move(note)) {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
    thread_ = std::thread([this] {
      const timespec tick{.tv_sec = 0, .tv_nsec = 200 * 1000 * 1000};
      while (!done_) {
        const int sig = sigtimedwait(&set_, nullptr, &tick);
        if (sig > 0) {
          PrintNote(fmt::format("signal {}: {}", sig, note_));
          source_.request_stop();
        }
      }
    });
  }
  ~SignalStop() {
    done_ = true;
    thread_.join();
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SignalStop(const SignalStop&) = delete;
  SignalStop& operator=(const SignalStop&) = delete;
  std::stop_token token() const { return source_.get_token(); }
  bool stopped() const { return source_.stop_requested(); }

 private:
  std::string note_;
  sigset_t set_{};
  sigset_t old_{};
  std::stop_source source_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

}  // namespace faultline::tools

#endif  // FAULTLINE_TOOLS_SIGNAL_STOP_H_
