// ParallelFor: one task per node (or any index), each on its own thread, all joined before it
// returns. A task that throws becomes an Internal error in its slot instead of ending the process
// (an exception escaping a raw std::thread calls std::terminate). Use it for the short fan-outs
// over a cluster's nodes (ssh to each host, one command per namespace); there are never more than
// a handful of nodes, so a thread each is cheaper than a pool.
//
// Thread-safety: fn is called concurrently from n threads, once per index; it must be safe to
// call so. ParallelFor itself may be called from several threads at once.
#ifndef FAULTLINE_COMMON_PARALLEL_H_
#define FAULTLINE_COMMON_PARALLEL_H_

#include <cstddef>
#include <exception>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/result.h"

namespace faultline {

namespace parallel_internal {

inline Error TaskThrew(std::size_t i, const char* what) {
  return Error(ErrorCode::kInternal,
               std::string("task ") + std::to_string(i) + ": uncaught exception: " + what);
}

}  // namespace parallel_internal

// Runs fn(i) for every i in [0, n) in parallel and returns what each returned, in index order.
// fn returns Result<T> or Status. n == 1 runs on the calling thread.
template <typename F, typename R = std::invoke_result_t<F&, std::size_t>>
std::vector<R> ParallelFor(std::size_t n, F&& fn) {
  std::vector<std::optional<R>> slots(n);
  auto run = [&](std::size_t i) {
    try {
      slots[i].emplace(fn(i));
    } catch (const std::exception& e) {
      slots[i].emplace(parallel_internal::TaskThrew(i, e.what()));
    } catch (...) {
      slots[i].emplace(parallel_internal::TaskThrew(i, "not a std::exception"));
    }
  };
  if (n == 1) {
    run(0);
  } else {
    std::vector<std::thread> threads;
    threads.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      try {
        threads.emplace_back(run, i);
      } catch (const std::system_error&) {
        // No thread to be had (EAGAIN): do this one here rather than lose it.
        run(i);
      }
    }
    for (auto& t : threads) t.join();
  }
  std::vector<R> out;
  out.reserve(n);
  for (auto& s : slots) out.push_back(std::move(*s));
  return out;
}

}  // namespace faultline

#endif  // FAULTLINE_COMMON_PARALLEL_H_
