// SPDX-License-Identifier: Apache-2.0
#include "cache/crc32c.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "test_util.h"

namespace hfm::cache {
namespace {

struct Vector {
  std::string input;
  std::uint32_t crc;
};

// RFC 3720 (iSCSI) appendix B.4 and the classic check value.
std::vector<Vector> knownVectors() {
  return {
      {"123456789", 0xE3069283u},
      {"", 0x00000000u},
      {std::string(32, '\0'), 0x8A9136AAu},
      {std::string(32, '\xFF'), 0x62A8AB43u},
  };
}

TEST(Crc32cTest, PortableMatchesKnownVectors) {
  for (const auto& v : knownVectors()) {
    EXPECT_EQ(crc32cPortable(0, v.input.data(), v.input.size()), v.crc) << v.input.size();
  }
}

TEST(Crc32cTest, HardwareMatchesKnownVectors) {
  if (!crc32cHasHardware()) {
    GTEST_SKIP() << "CPU without SSE4.2";
  }
  for (const auto& v : knownVectors()) {
    EXPECT_EQ(crc32cHardware(0, v.input.data(), v.input.size()), v.crc) << v.input.size();
  }
}

TEST(Crc32cTest, DispatchMatchesCheckValue) { EXPECT_EQ(crc32c("123456789"), 0xE3069283u); }

TEST(Crc32cTest, PathsAgreeOnEveryLengthAndAlignment) {
  std::string data = testing::patternBytes(7, 4096 + 64);
  for (std::size_t offset = 0; offset < 9; ++offset) {
    for (std::size_t len : {0u, 1u, 7u, 8u, 9u, 15u, 16u, 63u, 64u, 65u, 1000u, 4096u}) {
      std::uint32_t portable = crc32cPortable(0, data.data() + offset, len);
      EXPECT_EQ(crc32c(0, data.data() + offset, len), portable) << offset << " " << len;
      if (crc32cHasHardware()) {
        EXPECT_EQ(crc32cHardware(0, data.data() + offset, len), portable) << offset << " " << len;
      }
    }
  }
}

TEST(Crc32cTest, ExtendsIncrementally) {
  std::string data = testing::patternBytes(3, 1000);
  std::uint32_t whole = crc32c(data);
  for (std::size_t split : {0u, 1u, 13u, 500u, 999u, 1000u}) {
    std::uint32_t crc = crc32c(0, data.data(), split);
    EXPECT_EQ(crc32c(crc, data.data() + split, data.size() - split), whole) << split;
    std::uint32_t p = crc32cPortable(0, data.data(), split);
    EXPECT_EQ(crc32cPortable(p, data.data() + split, data.size() - split), whole) << split;
  }
}

TEST(Crc32cTest, ChunksMatchPerChunkCrc) {
  constexpr std::size_t kChunk = 1024;
  for (std::size_t size : {0u, 1u, 1023u, 1024u, 1025u, 3u * 1024, 3u * 1024 + 5, 7u * 1024 + 1}) {
    std::string data = testing::patternBytes(size, size);
    std::vector<std::uint32_t> got((size + kChunk - 1) / kChunk + 1, 0xDEADBEEFu);
    crc32cChunks(data.data(), size, kChunk, got.data());
    for (std::size_t i = 0; i * kChunk < size; ++i) {
      std::size_t n = std::min(kChunk, size - i * kChunk);
      EXPECT_EQ(got[i], crc32cPortable(0, data.data() + i * kChunk, n)) << size << " " << i;
    }
    EXPECT_EQ(got.back(), 0xDEADBEEFu) << "wrote past the last chunk for size " << size;
  }
}

}  // namespace
}  // namespace hfm::cache
