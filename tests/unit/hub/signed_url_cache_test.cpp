// SPDX-License-Identifier: Apache-2.0
#include "hub/signed_url_cache.h"

#include <gtest/gtest.h>

namespace hfm::hub::detail {
namespace {

using std::chrono::seconds;

TEST(SignedUrlCacheTest, ExpiresEntries) {
  SignedUrlCache cache(4);
  auto now = SignedUrlCache::Clock::now();
  cache.put("k", "http://cdn/x", now + seconds(10));
  EXPECT_EQ(cache.get("k", now), "http://cdn/x");
  EXPECT_EQ(cache.get("k", now + seconds(10)), std::nullopt);
  EXPECT_EQ(cache.size(), 0u);
}

TEST(SignedUrlCacheTest, EvictsLeastRecentlyUsed) {
  SignedUrlCache cache(2);
  auto now = SignedUrlCache::Clock::now();
  auto later = now + seconds(100);
  cache.put("a", "A", later);
  cache.put("b", "B", later);
  EXPECT_TRUE(cache.get("a", now));  // a is now the most recent
  cache.put("c", "C", later);
  EXPECT_TRUE(cache.get("a", now));
  EXPECT_FALSE(cache.get("b", now));
  EXPECT_TRUE(cache.get("c", now));
  cache.put("c", "C2", later);
  EXPECT_EQ(cache.get("c", now), "C2");
  cache.erase("c");
  EXPECT_FALSE(cache.get("c", now));
  EXPECT_EQ(cache.size(), 1u);
}

}  // namespace
}  // namespace hfm::hub::detail
