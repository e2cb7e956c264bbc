// SPDX-License-Identifier: Apache-2.0
#include "fs/safetensors_index.h"

#include <gtest/gtest.h>

#include <string>

namespace hfm::fs {
namespace {

std::string lengthPrefix(std::uint64_t n) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) {
    out[static_cast<std::size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
  }
  return out;
}

TEST(SafetensorsIndexTest, ReadsTheHeaderLength) {
  EXPECT_EQ(safetensorsHeaderLength(lengthPrefix(100), 1000), 100u);
  EXPECT_FALSE(safetensorsHeaderLength(lengthPrefix(100), 50));          // past the end
  EXPECT_FALSE(safetensorsHeaderLength(lengthPrefix(1ull << 40), 1ull << 41));  // absurd
  EXPECT_FALSE(safetensorsHeaderLength("short", 1000));
}

TEST(SafetensorsIndexTest, CollectsSortedDistinctBoundaries) {
  std::string header =
      R"({"__metadata__":{"format":"pt"},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},)"
      R"("a":{"dtype":"F32","shape":[2],"data_offsets": [0, 8]}})";
  auto b = safetensorsBoundaries(header, 8 + header.size() + 16);
  ASSERT_TRUE(b);
  std::uint64_t start = 8 + header.size();
  EXPECT_EQ(*b, (std::vector<std::uint64_t>{start, start + 8, start + 16}));
}

TEST(SafetensorsIndexTest, RejectsWhatIsNotAHeader) {
  EXPECT_FALSE(safetensorsBoundaries("not json", 100));
  EXPECT_FALSE(safetensorsBoundaries(R"({"a":{"data_offsets":[0,999999]}})", 100));
  EXPECT_FALSE(safetensorsBoundaries(R"({"a":{"data_offsets":[8,4]}})", 1000));
  EXPECT_FALSE(safetensorsBoundaries(R"({"a":{"data_offsets":[x]}})", 1000));
  EXPECT_FALSE(safetensorsBoundaries(R"({"__metadata__":{}})", 1000));
  EXPECT_TRUE(isSafetensorsPath("dir/model-00001-of-00002.safetensors"));
  EXPECT_FALSE(isSafetensorsPath("model.bin"));
}

}  // namespace
}  // namespace hfm::fs
