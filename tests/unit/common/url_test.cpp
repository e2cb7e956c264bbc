// SPDX-License-Identifier: Apache-2.0
#include "common/url.h"

#include <gtest/gtest.h>

namespace hfm::common {
namespace {

TEST(UrlTest, DecodesEscapes) {
  EXPECT_EQ(percentDecode("refs%2Fpr%2F1"), "refs/pr/1");
  EXPECT_EQ(percentDecode("a+b"), "a+b");
  EXPECT_EQ(percentDecode("a+b", true), "a b");
  EXPECT_FALSE(percentDecode("%2"));
  EXPECT_FALSE(percentDecode("%zz"));
}

TEST(UrlTest, EncodesKeepingSlashOnRequest) {
  EXPECT_EQ(percentEncode("a b/c"), "a%20b%2Fc");
  EXPECT_EQ(percentEncode("a b/c", true), "a%20b/c");
}

TEST(UrlTest, SplitRawPathKeepsEncodedSlashInsideSegment) {
  auto s = splitRawPath("/api/models/a/b/tree/refs%2Fpr%2F1/dir%2Fsub");
  ASSERT_TRUE(s);
  ASSERT_EQ(s->size(), 7u);
  EXPECT_EQ((*s)[5], "refs/pr/1");
  EXPECT_EQ((*s)[6], "dir/sub");
  EXPECT_FALSE(splitRawPath("/a/%G0"));
  auto trailing = splitRawPath("/a/");
  ASSERT_TRUE(trailing);
  EXPECT_EQ(trailing->size(), 2u);
}

TEST(UrlTest, ParsesQueryWithRepeatedKeys) {
  auto q = parseQuery("expand=a&expand=b&x=1%202&flag&y=a+b");
  ASSERT_TRUE(q);
  ASSERT_EQ(q->size(), 5u);
  EXPECT_EQ((*q)[1].second, "b");
  EXPECT_EQ((*q)[2].second, "1 2");
  EXPECT_EQ((*q)[3].first, "flag");
  EXPECT_EQ((*q)[4].second, "a b");
}

}  // namespace
}  // namespace hfm::common
