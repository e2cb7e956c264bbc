// SPDX-License-Identifier: Apache-2.0
#include "common/base64.h"

#include <gtest/gtest.h>

namespace hfm::common {
namespace {

TEST(Base64Test, EncodesRfc4648Vectors) {
  EXPECT_EQ(base64Encode(""), "");
  EXPECT_EQ(base64Encode("f"), "Zg==");
  EXPECT_EQ(base64Encode("fo"), "Zm8=");
  EXPECT_EQ(base64Encode("foo"), "Zm9v");
  EXPECT_EQ(base64Encode("foobar"), "Zm9vYmFy");
}

TEST(Base64Test, RoundTripsBinary) {
  std::string data;
  for (int i = 0; i < 1000; ++i) {
    data.push_back(static_cast<char>(i * 37));
  }
  EXPECT_EQ(base64Decode(base64Encode(data)), data);
}

TEST(Base64Test, AcceptsUrlSafeUnpaddedAndWhitespace) {
  EXPECT_EQ(base64Decode("Zm9vYg"), "foob");
  EXPECT_EQ(base64Decode("Zm9v\nYmFy"), "foobar");
  EXPECT_EQ(base64Decode("_-8="), std::string("\xff\xef", 2));
}

TEST(Base64Test, RejectsGarbage) {
  EXPECT_FALSE(base64Decode("Zm9v*"));
  EXPECT_FALSE(base64Decode("Zg==Zg"));
  EXPECT_FALSE(base64Decode("Z"));
}

}  // namespace
}  // namespace hfm::common
