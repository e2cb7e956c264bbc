// SPDX-License-Identifier: Apache-2.0
#include "xet/merkle_hash.h"

#include <gtest/gtest.h>

#include <string>
#include <unordered_set>

namespace hfm::xet {
namespace {

MerkleHash sequentialBytes() {
  MerkleHash h;
  for (std::size_t i = 0; i < MerkleHash::kSize; ++i) h.bytes[i] = static_cast<std::uint8_t>(i);
  return h;
}

TEST(MerkleHashTest, HexReversesEachEightByteGroup) {
  // XET.md §2.2 (hub-docs api.md, with its missing "10" byte restored).
  EXPECT_EQ(sequentialBytes().hex(),
            "07060504030201000f0e0d0c0b0a090817161514131211101f1e1d1c1b1a1918");
}

TEST(MerkleHashTest, HexOfDataHashRsExample) {
  // xet-core data_hash.rs test (XET.md §2.2).
  const std::array<std::uint8_t, 32> raw = {22, 175, 58,  132, 4,   75,  131, 214, 190, 153, 138,
                                            66, 226, 3,   153, 242, 204, 86,  80,  234, 249, 153,
                                            80, 99,  159, 80,  65,  138, 236, 231, 149, 78};
  const MerkleHash h = MerkleHash::fromBytes(raw);
  const std::string text = "d6834b04843aaf16f29903e2428a99be635099f9ea5056cc4e95e7ec8a41509f";
  EXPECT_EQ(h.hex(), text);
  const auto parsed = MerkleHash::fromHex(text);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(*parsed, h);
}

TEST(MerkleHashTest, FromHexIsTheInverseAndAcceptsUpperCase) {
  const MerkleHash h = sequentialBytes();
  EXPECT_EQ(MerkleHash::fromHex(h.hex()), h);
  EXPECT_EQ(MerkleHash::fromHex("07060504030201000F0E0D0C0B0A090817161514131211101F1E1D1C1B1A1918"),
            h);
  EXPECT_EQ(MerkleHash::fromHex(std::string(64, '0')), MerkleHash{});
  EXPECT_TRUE(MerkleHash::fromHex(std::string(64, '0'))->isZero());
}

TEST(MerkleHashTest, FromHexRejectsBadText) {
  const std::string good = sequentialBytes().hex();
  EXPECT_FALSE(MerkleHash::fromHex(good.substr(0, 63)).has_value());
  EXPECT_FALSE(MerkleHash::fromHex(good + "0").has_value());
  EXPECT_FALSE(MerkleHash::fromHex("").has_value());
  EXPECT_FALSE(MerkleHash::fromHex(good.substr(0, 62)).has_value());
  for (char bad : {'g', 'G', 'x', ' ', '-', ':', '\0'}) {
    std::string text = good;
    text[17] = bad;
    EXPECT_FALSE(MerkleHash::fromHex(text).has_value()) << "char " << static_cast<int>(bad);
  }
  std::string prefixed = "0x" + good.substr(2);
  EXPECT_FALSE(MerkleHash::fromHex(prefixed).has_value());
}

TEST(MerkleHashTest, WordsAreLittleEndianGroups) {
  const MerkleHash h = sequentialBytes();
  EXPECT_EQ(h.headWord(), 0x0706050403020100ULL);
  EXPECT_EQ(h.tailWord(), 0x1f1e1d1c1b1a1918ULL);
  EXPECT_EQ(h.tailWord() % 4, 0u);
  EXPECT_FALSE(h.isZero());
  EXPECT_TRUE(MerkleHash{}.isZero());
  // The text form shows the words as plain numbers: the last 16 digits are tailWord().
  EXPECT_EQ(h.hex().substr(48), "1f1e1d1c1b1a1918");
  EXPECT_EQ(h.hex().substr(0, 16), "0706050403020100");
}

TEST(MerkleHashTest, OrderingAndHashingUseRawBytes) {
  MerkleHash a;
  MerkleHash b;
  b.bytes[0] = 1;
  EXPECT_LT(a, b);
  EXPECT_NE(a, b);
  std::unordered_set<MerkleHash, MerkleHashHasher> set = {a, b, a};
  EXPECT_EQ(set.size(), 2u);
}

}  // namespace
}  // namespace hfm::xet
