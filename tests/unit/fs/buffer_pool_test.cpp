// SPDX-License-Identifier: Apache-2.0
#include "fs/buffer_pool.h"

#include <gtest/gtest.h>

#include <cstring>
#include <thread>
#include <vector>

namespace hfm::fs {
namespace {

constexpr std::size_t kMiB = 1 << 20;

TEST(BufferPoolTest, AGivenBackBufferIsReusedForTheSameSize) {
  auto pool = BufferPool::create(8 * kMiB);
  const char* first = nullptr;
  {
    auto a = pool->take(4 * kMiB);
    std::memset(a.get(), 'x', 4 * kMiB);
    first = a.get();
  }
  EXPECT_EQ(pool->usage().mapped, 4 * kMiB);  // kept idle
  auto b = pool->take(4 * kMiB - 100);      // same rounded size
  EXPECT_EQ(b.get(), first);
  EXPECT_EQ(pool->usage().mapped, 4 * kMiB);
}

TEST(BufferPoolTest, IdleBuffersBeyondTheAllowanceAreUnmapped) {
  auto pool = BufferPool::create(4 * kMiB);
  {
    std::vector<std::shared_ptr<char[]>> held;
    for (int i = 0; i < 3; ++i) {
      held.push_back(pool->take(4 * kMiB));
    }
    EXPECT_EQ(pool->usage().mapped, 12 * kMiB);
  }
  EXPECT_EQ(pool->usage().mapped, 4 * kMiB);
  pool->releaseIdle();
  EXPECT_EQ(pool->usage().mapped, 0u);
}

TEST(BufferPoolTest, ABufferOutlivesItsPoolsOwner) {
  std::shared_ptr<char[]> kept;
  {
    auto pool = BufferPool::create(kMiB);
    kept = pool->take(100);
  }
  std::memset(kept.get(), 1, 100);
  kept.reset();
}

TEST(BufferPoolTest, ConcurrentTakersGetDistinctBuffers) {
  auto pool = BufferPool::create(16 * kMiB);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&pool, t] {
      for (int i = 0; i < 200; ++i) {
        auto a = pool->take(kMiB);
        auto b = pool->take(kMiB);
        ASSERT_NE(a.get(), b.get());
        a[0] = static_cast<char>(t);
        b[0] = static_cast<char>(t + 1);
        ASSERT_EQ(a[0], static_cast<char>(t));
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_LE(pool->usage().mapped, 16 * kMiB);
}

}  // namespace
}  // namespace hfm::fs
