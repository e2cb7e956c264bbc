// SPDX-License-Identifier: Apache-2.0
#include "cache/detail/block_format.h"

#include <gtest/gtest.h>

#include <string>

#include "test_util.h"

namespace hfm::cache::detail {
namespace {

std::string encode(std::string_view payload) {
  EncodedHeader header;
  encodeHeader(payload, header);
  return std::string(header.view()) + std::string(payload);
}

TEST(BlockFormatTest, KeysKeepOneFilesBlocksTogetherInIndexOrder) {
  std::string id(64, 'a');
  BlockKey k1;
  BlockKey k2;
  BlockKey k256;
  ASSERT_TRUE(makeBlockKey(id, 1, k1));
  ASSERT_TRUE(makeBlockKey(id, 2, k2));
  ASSERT_TRUE(makeBlockKey(id, 256, k256));
  EXPECT_EQ(k1.size, 72u);
  EXPECT_LT(k1.view(), k2.view());
  EXPECT_LT(k2.view(), k256.view());
  EXPECT_EQ(k1.view().substr(0, 64), id);
  EXPECT_EQ(loadBe64(k256.bytes.data() + 64), 256u);
}

TEST(BlockFormatTest, RejectsEmptyAndOverlongContentIds) {
  BlockKey key;
  EXPECT_FALSE(makeBlockKey("", 0, key));
  EXPECT_FALSE(makeBlockKey(std::string(65, 'a'), 0, key));
  EXPECT_TRUE(makeBlockKey(std::string(40, 'b'), 0, key));
}

TEST(BlockFormatTest, RoundTripsAndVerifies) {
  for (std::size_t size : {std::size_t{0}, std::size_t{1}, kChunkSize - 1, kChunkSize,
                           kChunkSize + 1, 5 * kChunkSize + 17, std::size_t{kMaxBlockSize}}) {
    std::string payload = testing::patternBytes(size, size);
    std::string value = encode(payload);
    ASSERT_EQ(value.size(), headerSize(size) + size);
    EXPECT_EQ(payloadLengthOf(value.size()), size);
    auto block = parseBlock(value);
    ASSERT_TRUE(block.has_value()) << size;
    EXPECT_EQ(block->length, size);
    EXPECT_EQ(std::string_view(block->payload, size), payload);
    EXPECT_TRUE(verifyRange(*block, 0, size));
  }
}

TEST(BlockFormatTest, DamageIsConfinedToItsChunk) {
  std::string payload = testing::patternBytes(1, 4 * kChunkSize);
  std::string value = encode(payload);
  value[headerSize(payload.size()) + kChunkSize + 10] ^= 1;  // inside chunk 1
  auto block = parseBlock(value);
  ASSERT_TRUE(block.has_value());
  EXPECT_FALSE(verifyRange(*block, 0, payload.size()));
  EXPECT_FALSE(verifyRange(*block, kChunkSize + 10, kChunkSize + 11));
  EXPECT_TRUE(verifyRange(*block, 0, kChunkSize));
  EXPECT_TRUE(verifyRange(*block, 2 * kChunkSize, 4 * kChunkSize));
}

TEST(BlockFormatTest, RejectsDamagedHeaders) {
  std::string value = encode(testing::patternBytes(2, 3 * kChunkSize));
  for (std::size_t i = 0; i < headerSize(3 * kChunkSize); ++i) {
    std::string bad = value;
    bad[i] ^= 0x10;
    EXPECT_FALSE(parseBlock(bad).has_value()) << "byte " << i;
  }
  EXPECT_FALSE(parseBlock(value.substr(0, value.size() - 1)).has_value());
  EXPECT_FALSE(parseBlock(value.substr(0, 8)).has_value());
}

}  // namespace
}  // namespace hfm::cache::detail
