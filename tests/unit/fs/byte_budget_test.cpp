// SPDX-License-Identifier: Apache-2.0
#include "fs/byte_budget.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace hfm::fs {
namespace {

using namespace std::chrono_literals;

TEST(ByteBudgetTest, AcquireWaitsUntilTheBytesFit) {
  ByteBudget budget(100);
  auto a = budget.acquire(60, {});
  ASSERT_TRUE(a.held());
  std::atomic<bool> got{false};
  std::thread t([&] {
    auto b = budget.acquire(50, {});
    got = b.held();
  });
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(got) << "60 + 50 is over 100";
  a = {};
  t.join();
  EXPECT_TRUE(got);
  EXPECT_EQ(budget.used(), 0u);
}

TEST(ByteBudgetTest, ARequestLargerThanTheBudgetGoesAheadAlone) {
  ByteBudget budget(100);
  auto big = budget.acquire(500, {});
  EXPECT_TRUE(big.held());
  EXPECT_EQ(budget.used(), 500u);
  ByteBudget::Lease moved = std::move(big);
  EXPECT_FALSE(big.held());
  EXPECT_EQ(budget.used(), 500u);
}

TEST(ByteBudgetTest, AStopRequestEndsTheWaitWithAnEmptyLease) {
  ByteBudget budget(10);
  auto a = budget.acquire(10, {});
  std::stop_source stop;
  std::thread t([&] {
    std::this_thread::sleep_for(30ms);
    stop.request_stop();
  });
  auto b = budget.acquire(5, stop.get_token());
  t.join();
  EXPECT_FALSE(b.held());
  EXPECT_EQ(budget.used(), 10u);
}

TEST(ByteBudgetTest, ALargeRequestIsNotPassedByLaterSmallOnes) {
  ByteBudget budget(100);
  auto small = budget.acquire(30, {});
  std::atomic<bool> large_got{false};
  std::atomic<bool> later_got{false};
  std::thread large([&] {
    auto l = budget.acquire(90, {});
    large_got = true;
  });
  std::this_thread::sleep_for(50ms);  // the large request waits first
  std::thread later([&] {
    auto l = budget.acquire(10, {});  // would fit now (30 + 10), but comes after the large one
    later_got = true;
  });
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(large_got);
  EXPECT_FALSE(later_got);
  small = {};
  large.join();
  later.join();
  EXPECT_TRUE(large_got);
  EXPECT_TRUE(later_got);
  EXPECT_EQ(budget.used(), 0u);
}

TEST(ByteBudgetTest, AStoppedWaiterLetsTheNextOneGo) {
  ByteBudget budget(100);
  auto held = budget.acquire(100, {});
  std::stop_source stop;
  std::thread first([&] { EXPECT_FALSE(budget.acquire(50, stop.get_token()).held()); });
  std::this_thread::sleep_for(30ms);
  std::atomic<bool> second_got{false};
  std::thread second([&] { second_got = budget.acquire(50, {}).held(); });
  std::this_thread::sleep_for(30ms);
  stop.request_stop();
  first.join();
  held = {};
  second.join();
  EXPECT_TRUE(second_got);
}

}  // namespace
}  // namespace hfm::fs
