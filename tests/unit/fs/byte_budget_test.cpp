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
  std::thread t([&] { std::this_thread::sleep_for(30ms); stop.request_stop(); });
  auto b = budget.acquire(5, stop.get_token());
  t.join();
  EXPECT_FALSE(b.held());
  EXPECT_EQ(budget.used(), 10u);
}

}  // namespace
}  // namespace hfm::fs
