// SPDX-License-Identifier: Apache-2.0
#include "cache/metadata_store.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "cache/lmdb_block_store.h"
#include "test_util.h"

namespace hfm::cache {
namespace {

using testing::patternBytes;
using testing::TempDir;

class MetadataStoreTest : public ::testing::Test {
 protected:
  CacheOptions options() const {
    CacheOptions o;
    o.dir = dir_.path();
    o.touch_flush_interval = std::chrono::milliseconds(0);
    return o;
  }
  std::unique_ptr<MetadataStore> open() {
    auto store = MetadataStore::open(options());
    EXPECT_TRUE(store.has_value()) << (store ? "" : store.error().message);
    return store ? std::move(*store) : nullptr;
  }
  TempDir dir_;
};

TEST_F(MetadataStoreTest, RoundTripOverwriteErase) {
  auto store = open();
  ASSERT_TRUE(store);
  EXPECT_FALSE(store->get("tree/abc").has_value());
  ASSERT_TRUE(store->put("tree/abc", "listing-1"));
  EXPECT_EQ(store->get("tree/abc"), "listing-1");
  ASSERT_TRUE(store->put("tree/abc", "listing-2"));
  EXPECT_EQ(store->get("tree/abc"), "listing-2");
  ASSERT_TRUE(store->put("", ""));  // empty key and value are legal
  EXPECT_EQ(store->get(""), "");
  ASSERT_TRUE(store->erase("tree/abc"));
  ASSERT_TRUE(store->erase("tree/abc"));  // absent: still fine
  EXPECT_FALSE(store->get("tree/abc").has_value());
  MetadataStats st = store->stats();
  EXPECT_EQ(st.entries, 1u);
  EXPECT_EQ(st.hits, 3u);
  EXPECT_EQ(st.misses, 2u);
}

TEST_F(MetadataStoreTest, LongKeysAndLargeValues) {
  auto store = open();
  ASSERT_TRUE(store);
  std::string long_key = "file/" + std::string(3000, 'p');
  std::string other_long_key = "file/" + std::string(2999, 'p') + "q";
  std::string big = patternBytes(5, 5 * 1024 * 1024);
  ASSERT_TRUE(store->put(long_key, big));
  ASSERT_TRUE(store->put(other_long_key, "small"));
  EXPECT_EQ(store->get(long_key), big);
  EXPECT_EQ(store->get(other_long_key), "small");
  EXPECT_FALSE(store->get(long_key + "x").has_value());
}

TEST_F(MetadataStoreTest, ReopenKeepsEntriesAndBlocksAreSeparate) {
  {
    auto store = open();
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->put("commit/0123", "meta"));
    auto blocks = LmdbBlockStore::open(options());
    ASSERT_TRUE(blocks);
    ASSERT_TRUE((*blocks)->write(std::string(64, 'a'), 0, "data"));
    ASSERT_TRUE((*blocks)->clear());  // clearing blocks keeps metadata
  }
  auto store = open();
  ASSERT_TRUE(store);
  EXPECT_FALSE(store->rebuiltOnOpen());
  EXPECT_EQ(store->get("commit/0123"), "meta");
  ASSERT_TRUE(store->clear());
  EXPECT_FALSE(store->get("commit/0123").has_value());
  EXPECT_EQ(store->stats().entries, 0u);
}

TEST_F(MetadataStoreTest, DamagedValueReadsAsAbsent) {
  std::string value = patternBytes(11, 10000);
  {
    auto store = open();
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->put("k", value));
    ASSERT_TRUE(store->put("k2", "intact"));
  }
  ASSERT_TRUE(testing::flipByteAfter(dir_.path() / "meta" / "data.mdb", value.substr(0, 64), 500));
  auto store = open();
  ASSERT_TRUE(store);
  EXPECT_FALSE(store->get("k").has_value());
  EXPECT_EQ(store->stats().corrupt_values, 1u);
  EXPECT_EQ(store->get("k2"), "intact");
  ASSERT_TRUE(store->put("k", value));
  EXPECT_EQ(store->get("k"), value);
}

TEST_F(MetadataStoreTest, FullMapReportsFull) {
  CacheOptions o = options();
  o.metadata_map_size = 256 * 1024;
  auto store = MetadataStore::open(o);
  ASSERT_TRUE(store);
  auto r = (*store)->put("big", std::string(1024 * 1024, 'x'));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, CacheErrorKind::kFull);
  ASSERT_TRUE((*store)->put("small", "ok"));
  EXPECT_EQ((*store)->get("small"), "ok");
}

TEST_F(MetadataStoreTest, ConcurrentPutAndGet) {
  auto store = open();
  ASSERT_TRUE(store);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        std::string key = "k" + std::to_string(t) + "/" + std::to_string(i);
        if (t % 2 == 0) {
          EXPECT_TRUE(store->put(key, key + "=v"));
        } else {
          std::string other = "k" + std::to_string(t - 1) + "/" + std::to_string(i);
          auto v = store->get(other);
          if (v) {
            EXPECT_EQ(*v, other + "=v");
          }
        }
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(store->stats().entries, 800u);
}

}  // namespace
}  // namespace hfm::cache
