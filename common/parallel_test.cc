#include "common/parallel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>

namespace faultline {
namespace {

TEST(ParallelForTest, ReturnsEachResultInIndexOrder) {
  auto out = ParallelFor(5, [](size_t i) -> Result<int> { return static_cast<int>(i * i); });
  ASSERT_EQ(out.size(), 5u);
  for (size_t i = 0; i < out.size(); ++i) EXPECT_EQ(out[i].value(), static_cast<int>(i * i));
}

TEST(ParallelForTest, RunsTasksConcurrently) {
  // Each task waits until all have started: this only finishes if they run at once.
  std::atomic<int> started{0};
  auto out = ParallelFor(4, [&](size_t) -> Status {
    ++started;
    while (started.load() < 4) std::this_thread::yield();
    return OkStatus();
  });
  for (const auto& s : out) EXPECT_TRUE(s);
}

TEST(ParallelForTest, AThrowBecomesAnErrorNotATerminate) {
  auto out = ParallelFor(3, [](size_t i) -> Status {
    if (i == 1) throw std::runtime_error("boom");
    if (i == 2) throw 7;
    return OkStatus();
  });
  EXPECT_TRUE(out[0]);
  ASSERT_FALSE(out[1]);
  EXPECT_EQ(out[1].error().code(), ErrorCode::kInternal);
  EXPECT_EQ(out[1].error().message(), "task 1: uncaught exception: boom");
  ASSERT_FALSE(out[2]);
}

TEST(ParallelForTest, ZeroAndOneTasks) {
  EXPECT_TRUE(ParallelFor(0, [](size_t) { return OkStatus(); }).empty());
  const auto self = std::this_thread::get_id();
  auto one =
      ParallelFor(1, [&](size_t) -> Result<bool> { return std::this_thread::get_id() == self; });
  EXPECT_TRUE(one[0].value());
}

}  // namespace
}  // namespace faultline
