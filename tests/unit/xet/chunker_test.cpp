// SPDX-License-Identifier: Apache-2.0
#include "xet/chunker.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include "common/hash.h"
#include "xet/gear_table.h"

#include "split_mix_data.h"

namespace hfm::xet {
namespace {

using test_data::splitMix64Data;

// The byte-at-a-time rule of XET.md §1.3 with no skipping, as an oracle for the fast path.
std::vector<std::size_t> referenceBoundaries(const std::vector<std::uint8_t>& data) {
  std::vector<std::size_t> ends;
  std::uint64_t h = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i < data.size(); ++i) {
    h = (h << 1) + detail::kGearTable[data[i]];
    const std::size_t size = i + 1 - start;
    if (size < kMinChunkSize) continue;
    if (size >= kMaxChunkSize || (h & 0xFFFF000000000000ULL) == 0) {
      ends.push_back(i + 1);
      start = i + 1;
      h = 0;
    }
  }
  if (start < data.size()) ends.push_back(data.size());
  return ends;
}

// Feeds `data` in pieces of `piece` bytes; returns the chunk ends.
std::vector<std::size_t> streamedBoundaries(const std::vector<std::uint8_t>& data,
                                            std::size_t piece) {
  std::vector<std::size_t> ends;
  Chunker chunker;
  std::size_t pos = 0;
  while (pos < data.size()) {
    const std::size_t piece_end = std::min(data.size(), pos + piece);
    while (pos < piece_end) {
      const auto len = chunker.next(std::span(data).subspan(pos, piece_end - pos));
      if (!len) {
        pos = piece_end;
        break;
      }
      pos += *len;
      ends.push_back(pos);
    }
  }
  if (chunker.pending() > 0) ends.push_back(data.size());
  return ends;
}

TEST(ChunkerTest, GearTableMatchesPublishedChecksums) {
  const auto& t = detail::kGearTable;
  EXPECT_EQ(t[0], 0xb088d3a9e840f559ULL);
  EXPECT_EQ(t[255], 0x63c7a906c1dd187bULL);
  std::string le;
  std::uint64_t x = 0;
  std::uint64_t sum = 0;
  for (std::uint64_t v : t) {
    for (int k = 0; k < 8; ++k) le.push_back(static_cast<char>(v >> (8 * k)));
    x ^= v;
    sum += v;
  }
  EXPECT_EQ(common::sha256Hex(le),
            "e1d3936666d7ae7a977c958e9afcc75f90aaca758ce5fbe4ece61dffefe1912c");
  EXPECT_EQ(x, 0x6aa26c5ca5f6cbfcULL);
  EXPECT_EQ(sum, 0xc1acb37ef35c570aULL);
}

TEST(ChunkerTest, Constants) {
  EXPECT_EQ(kTargetChunkSize, 65536u);
  EXPECT_EQ(kMinChunkSize, 8192u);
  EXPECT_EQ(kMaxChunkSize, 131072u);
}

TEST(ChunkerTest, EmptyInputHasNoChunks) {
  EXPECT_TRUE(chunkBoundaries({}).empty());
  Chunker chunker;
  EXPECT_FALSE(chunker.next({}).has_value());
  EXPECT_EQ(chunker.pending(), 0u);
}

TEST(ChunkerTest, SmallInputIsOneChunk) {
  const auto data = splitMix64Data(63, 0);
  Chunker chunker;
  EXPECT_FALSE(chunker.next(data).has_value());
  EXPECT_EQ(chunker.pending(), 63u);
  EXPECT_EQ(chunkBoundaries(data), std::vector<std::size_t>{63});
  const auto below_min = splitMix64Data(kMinChunkSize - 1, 3);
  EXPECT_EQ(chunkBoundaries(below_min), std::vector<std::size_t>{kMinChunkSize - 1});
}

TEST(ChunkerTest, SplitMix64Seed0MillionBytes) {
  const auto data = splitMix64Data(1000000, 0);
  ASSERT_EQ(data[0], 175);
  ASSERT_EQ(data[127], 132);
  ASSERT_EQ(data[111111], 118);
  const std::vector<std::size_t> expected = {84493,  134421, 144853, 243318, 271793, 336457, 467529,
                                             494581, 582000, 596735, 616815, 653164, 678202, 724510,
                                             815591, 827760, 958832, 991092, 1000000};
  EXPECT_EQ(chunkBoundaries(data), expected);
  EXPECT_EQ(referenceBoundaries(data), expected);
}

TEST(ChunkerTest, ConstantBytesCutAtMaximum) {
  const std::vector<std::uint8_t> data(1000000, 59);
  const std::vector<std::size_t> expected = {131072, 262144, 393216, 524288,
                                             655360, 786432, 917504, 1000000};
  EXPECT_EQ(chunkBoundaries(data), expected);
  EXPECT_EQ(streamedBoundaries(data, 4999), expected);
  const std::vector<std::uint8_t> zeros(8 * kMaxChunkSize, 0);
  const auto ends = chunkBoundaries(zeros);
  ASSERT_EQ(ends.size(), 8u);
  for (std::size_t k = 0; k < ends.size(); ++k) EXPECT_EQ(ends[k], (k + 1) * kMaxChunkSize);
}

TEST(ChunkerTest, StreamingGivesSameBoundaries) {
  const auto data = splitMix64Data(256000, 1);
  const auto whole = chunkBoundaries(data);
  ASSERT_EQ(whole, referenceBoundaries(data));
  ASSERT_GT(whole.size(), 1u);
  for (std::size_t piece : {std::size_t{1}, std::size_t{37}, std::size_t{255}}) {
    EXPECT_EQ(streamedBoundaries(data, piece), whole) << "piece " << piece;
  }
}

TEST(ChunkerTest, StreamingAroundTheSkipAndWarmUpEdges) {
  // Pieces whose ends fall just before, at and after the positions where the chunker starts
  // hashing (min - 64) and testing (min), and at the maximum.
  const auto data = splitMix64Data(3 * kMaxChunkSize + 1234, 7);
  const auto whole = referenceBoundaries(data);
  ASSERT_EQ(chunkBoundaries(data), whole);
  for (std::size_t piece : {kMinChunkSize - 65, kMinChunkSize - 64, kMinChunkSize - 63,
                            kMinChunkSize - 1, kMinChunkSize, kMinChunkSize + 1, kMaxChunkSize - 1,
                            kMaxChunkSize, kMaxChunkSize + 1, std::size_t{4096}, std::size_t{64}}) {
    EXPECT_EQ(streamedBoundaries(data, piece), whole) << "piece " << piece;
  }
}

TEST(ChunkerTest, RandomisedAgainstByteAtATimeRule) {
  // Low-entropy data cuts often and near the minimum; random data exercises the rest.
  for (std::uint64_t seed = 0; seed < 4; ++seed) {
    auto data = splitMix64Data(600000, 100 + seed);
    if (seed % 2 == 1) {
      for (auto& b : data) b = static_cast<std::uint8_t>(b & 0x3);
    }
    const auto expected = referenceBoundaries(data);
    EXPECT_EQ(chunkBoundaries(data), expected) << "seed " << seed;
    EXPECT_EQ(streamedBoundaries(data, 9001), expected) << "seed " << seed;
  }
}

// xet-core chunking.rs `get_triggering_base_data`: a 128-byte pattern known to trigger a
// boundary, then `padding` zero bytes, repeated to exactly n bytes.
std::vector<std::uint8_t> triggeringData(std::size_t n, std::size_t padding) {
  std::vector<std::uint8_t> data = {
      154, 52,  42,  34,  159, 75,  126, 224, 70,  236, 12,  196, 79,  236, 178, 124, 127, 50,  99,
      178, 44,  176, 174, 126, 250, 235, 205, 174, 252, 122, 35,  10,  20,  101, 214, 69,  193, 8,
      115, 105, 158, 228, 120, 111, 136, 162, 198, 251, 211, 183, 253, 252, 164, 147, 63,  16,  186,
      162, 117, 23,  170, 36,  205, 187, 174, 76,  210, 174, 211, 175, 12,  173, 145, 59,  2,   70,
      222, 181, 159, 227, 182, 156, 189, 51,  226, 106, 24,  50,  183, 157, 140, 10,  8,   23,  212,
      70,  10,  234, 23,  33,  219, 254, 39,  236, 70,  49,  191, 116, 9,   115, 15,  101, 26,  159,
      165, 220, 15,  170, 56,  125, 92,  163, 94,  235, 38,  40,  49,  81};
  data.resize(data.size() + padding, 0);
  while (data.size() < n) {
    const std::size_t take = std::min(n - data.size(), data.size());
    data.insert(data.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(take));
  }
  return data;
}

struct TriggeringCase {
  std::uint8_t sample_at_11111;
  std::array<std::size_t, 8> ends;
};

// xet-core chunking.rs `test_correctness_100kb_hitting_data`, indexed by padding.
constexpr std::array<TriggeringCase, 128> kTriggeringCases = {{
    {236, {8256, 16448, 24640, 32832, 41024, 49216, 57408, 65536}},
    {50, {8320, 16576, 24832, 33088, 41344, 49600, 57856, 65536}},
    {36, {8254, 16574, 24894, 33214, 41534, 49854, 58174, 65536}},
    {116, {8317, 16570, 24823, 33076, 41329, 49582, 57835, 65536}},
    {126, {8248, 16564, 24880, 33196, 41512, 49828, 58144, 65536}},
    {145, {8310, 16556, 24802, 33048, 41294, 49540, 57786, 65536}},
    {235, {8238, 16546, 24854, 33162, 41470, 49778, 58086, 65536}},
    {228, {8299, 16534, 24769, 33004, 41239, 49474, 57709, 65536}},
    {70, {8224, 16520, 24816, 33112, 41408, 49704, 58000, 65536}},
    {178, {8284, 16504, 24724, 32944, 41164, 49384, 57604, 65536}},
    {173, {8206, 16486, 24766, 33046, 41326, 49606, 57886, 65536}},
    {0, {8265, 16466, 24667, 32868, 41069, 49270, 57471, 65536}},
    {252, {8324, 16584, 24844, 33104, 41364, 49624, 57884, 65536}},
    {159, {8242, 16561, 24880, 33199, 41518, 49837, 58156, 65536}},
    {69, {8300, 16536, 24772, 33008, 41244, 49480, 57716, 65536}},
    {219, {8215, 16509, 24803, 33097, 41391, 49685, 57979, 65536}},
    {126, {8272, 16480, 24688, 32896, 41104, 49312, 57520, 65536}},
    {10, {8329, 16594, 24859, 33124, 41389, 49654, 57919, 65536}},
    {124, {8240, 16562, 24884, 33206, 41528, 49850, 58172, 65536}},
    {24, {8296, 16528, 24760, 32992, 41224, 49456, 57688, 65536}},
    {196, {8204, 16492, 24780, 33068, 41356, 49644, 57932, 65536}},
    {106, {8259, 16454, 24649, 32844, 41039, 49234, 57429, 65536}},
    {196, {8314, 16564, 24814, 33064, 41314, 49564, 57814, 65536}},
    {183, {8218, 16523, 24828, 33133, 41438, 49743, 58048, 65536}},
    {124, {8272, 16480, 24688, 32896, 41104, 49312, 57520, 65536}},
    {70, {8326, 16588, 24850, 33112, 41374, 49636, 57898, 65536}},
    {126, {8226, 16542, 24858, 33174, 41490, 49806, 58122, 65536}},
    {191, {8279, 16494, 24709, 32924, 41139, 49354, 57569, 65536}},
    {69, {8332, 16600, 24868, 33136, 41404, 49672, 57940, 65536}},
    {163, {8228, 16549, 24870, 33191, 41512, 49833, 58154, 65536}},
    {252, {8280, 16496, 24712, 32928, 41144, 49360, 57576, 65536}},
    {0, {8332, 16600, 24868, 33136, 41404, 49672, 57940, 65536}},
    {173, {8224, 16544, 24864, 33184, 41504, 49824, 58144, 65536}},
    {42, {8275, 16486, 24697, 32908, 41119, 49330, 57541, 65536}},
    {70, {8326, 16588, 24850, 33112, 41374, 49636, 57898, 65536}},
    {174, {8214, 16527, 24840, 33153, 41466, 49779, 58092, 65536}},
    {235, {8264, 16464, 24664, 32864, 41064, 49264, 57464, 65536}},
    {186, {8314, 16564, 24814, 33064, 41314, 49564, 57814, 65536}},
    {0, {8198, 16498, 24798, 33098, 41398, 49698, 57998, 65536}},
    {157, {8247, 16597, 24947, 33297, 41647, 49997, 58347, 65536}},
    {126, {8296, 16528, 24760, 32992, 41224, 49456, 57688, 65536}},
    {49, {8345, 16626, 24907, 33188, 41469, 49750, 58031, 65536}},
    {36, {8224, 16554, 24884, 33214, 41544, 49874, 58204, 65536}},
    {0, {8272, 16480, 24688, 32896, 41104, 49312, 57520, 65536}},
    {236, {8320, 16576, 24832, 33088, 41344, 49600, 57856, 65536}},
    {105, {8195, 16499, 24803, 33107, 41411, 49715, 58019, 65536}},
    {0, {8242, 16594, 24946, 33298, 41650, 50002, 58354, 65536}},
    {24, {8289, 16514, 24739, 32964, 41189, 49414, 57639, 65536}},
    {126, {8336, 16608, 24880, 33152, 41424, 49696, 57968, 65536}},
    {0, {8206, 16525, 24844, 33163, 41482, 49801, 58120, 65536}},
    {70, {8252, 16618, 24984, 33350, 41716, 50082, 58448, 65536}},
    {236, {8298, 16532, 24766, 33000, 41234, 49468, 57702, 65536}},
    {0, {8344, 16624, 24904, 33184, 41464, 49744, 58024, 65536}},
    {12, {8209, 16535, 24861, 33187, 41513, 49839, 58165, 65536}},
    {236, {8254, 16626, 24998, 33370, 41742, 50114, 58486, 65536}},
    {0, {8299, 16534, 24769, 33004, 41239, 49474, 57709, 65536}},
    {173, {8344, 16624, 24904, 33184, 41464, 49744, 58024, 65536}},
    {196, {8204, 16529, 24854, 33179, 41504, 49829, 58154, 65536}},
    {0, {8248, 16618, 24988, 33358, 41728, 50098, 58468, 65536}},
    {159, {8292, 16520, 24748, 32976, 41204, 49432, 57660, 65536}},
    {178, {8336, 16608, 24880, 33152, 41424, 49696, 57968, 65536}},
    {0, {8380, 16696, 25012, 33328, 41644, 49960, 58276, 65536}},
    {10, {8234, 16594, 24954, 33314, 41674, 50034, 58394, 65536}},
    {101, {8277, 16490, 24703, 32916, 41129, 49342, 57555, 65536}},
    {0, {8320, 16576, 24832, 33088, 41344, 49600, 57856, 65536}},
    {15, {8363, 16662, 24961, 33260, 41559, 49858, 58157, 65536}},
    {147, {8212, 16554, 24896, 33238, 41580, 49922, 58264, 65536}},
    {0, {8254, 16639, 25024, 33409, 41794, 50179, 58564, 65536}},
    {0, {8296, 16528, 24760, 32992, 41224, 49456, 57688, 65536}},
    {227, {8338, 16612, 24886, 33160, 41434, 49708, 57982, 65536}},
    {126, {8380, 16696, 25012, 33328, 41644, 49960, 58276, 65536}},
    {0, {8223, 16581, 24939, 33297, 41655, 50013, 58371, 65536}},
    {101, {8264, 16464, 24664, 32864, 41064, 49264, 57464, 65536}},
    {186, {8305, 16546, 24787, 33028, 41269, 49510, 57751, 65536}},
    {52, {8346, 16628, 24910, 33192, 41474, 49756, 58038, 65536}},
    {0, {8387, 16710, 25033, 33356, 41679, 50002, 58325, 65536}},
    {70, {8224, 16588, 24952, 33316, 41680, 50044, 58408, 65536}},
    {228, {8264, 16464, 24664, 32864, 41064, 49264, 57464, 65536}},
    {0, {8304, 16544, 24784, 33024, 41264, 49504, 57744, 65536}},
    {0, {8344, 16624, 24904, 33184, 41464, 49744, 58024, 65536}},
    {50, {8384, 16704, 25024, 33344, 41664, 49984, 58304, 65536}},
    {214, {8215, 16575, 24935, 33295, 41655, 50015, 58375, 65536}},
    {0, {8254, 16654, 25054, 33454, 41854, 50254, 58654, 65536}},
    {0, {8293, 16522, 24751, 32980, 41209, 49438, 57667, 65536}},
    {50, {8332, 16600, 24868, 33136, 41404, 49672, 57940, 65536}},
    {69, {8371, 16678, 24985, 33292, 41599, 49906, 58213, 65536}},
    {0, {8196, 16542, 24888, 33234, 41580, 49926, 58272, 65536}},
    {0, {8234, 16619, 25004, 33389, 41774, 50159, 58544, 65536}},
    {70, {8272, 16480, 24688, 32896, 41104, 49312, 57520, 65536}},
    {136, {8310, 16556, 24802, 33048, 41294, 49540, 57786, 65536}},
    {0, {8348, 16632, 24916, 33200, 41484, 49768, 58052, 65536}},
    {0, {8386, 16708, 25030, 33352, 41674, 49996, 58318, 65536}},
    {101, {8204, 16564, 24924, 33284, 41644, 50004, 58364, 65536}},
    {36, {8241, 16639, 25037, 33435, 41833, 50231, 58629, 65536}},
    {196, {8278, 16492, 24706, 32920, 41134, 49348, 57562, 65536}},
    {0, {8315, 16566, 24817, 33068, 41319, 49570, 57821, 65536}},
    {0, {8352, 16640, 24928, 33216, 41504, 49792, 58080, 65536}},
    {24, {8389, 16714, 25039, 33364, 41689, 50014, 58339, 65536}},
    {8, {8200, 16562, 24924, 33286, 41648, 50010, 58372, 65536}},
    {0, {8236, 16635, 25034, 33433, 41832, 50231, 58630, 65536}},
    {0, {8272, 16480, 24688, 32896, 41104, 49312, 57520, 65536}},
    {125, {8308, 16552, 24796, 33040, 41284, 49528, 57772, 65536}},
    {173, {8344, 16624, 24904, 33184, 41464, 49744, 58024, 65536}},
    {126, {8380, 16696, 25012, 33328, 41644, 49960, 58276, 65536}},
    {0, {8416, 16768, 25120, 33472, 41824, 50176, 58528, 65536}},
    {0, {8219, 16607, 24995, 33383, 41771, 50159, 58547, 65536}},
    {159, {8254, 16678, 25102, 33526, 41950, 50374, 58798, 65536}},
    {210, {8289, 16514, 24739, 32964, 41189, 49414, 57639, 65536}},
    {178, {8324, 16584, 24844, 33104, 41364, 49624, 57884, 65536}},
    {0, {8359, 16654, 24949, 33244, 41539, 49834, 58129, 65536}},
    {0, {8394, 16724, 25054, 33384, 41714, 50044, 58374, 65536}},
    {170, {8429, 16794, 25159, 33524, 41889, 50254, 58619, 65536}},
    {173, {8224, 16624, 25024, 33424, 41824, 50224, 58624, 65536}},
    {235, {8258, 16452, 24646, 32840, 41034, 49228, 57422, 65536}},
    {0, {8292, 16520, 24748, 32976, 41204, 49432, 57660, 65536}},
    {0, {8326, 16588, 24850, 33112, 41374, 49636, 57898, 65536}},
    {0, {8360, 16656, 24952, 33248, 41544, 49840, 58136, 65536}},
    {24, {8394, 16724, 25054, 33384, 41714, 50044, 58374, 65536}},
    {228, {8428, 16792, 25156, 33520, 41884, 50248, 58612, 65536}},
    {0, {8215, 16613, 25011, 33409, 41807, 50205, 58603, 65536}},
    {0, {8248, 16680, 25112, 33544, 41976, 50408, 58840, 65536}},
    {0, {8281, 16498, 24715, 32932, 41149, 49366, 57583, 65536}},
    {101, {8314, 16564, 24814, 33064, 41314, 49564, 57814, 65536}},
    {174, {8347, 16630, 24913, 33196, 41479, 49762, 58045, 65536}},
    {126, {8380, 16696, 25012, 33328, 41644, 49960, 58276, 65536}},
    {0, {8413, 16762, 25111, 33460, 41809, 50158, 58507, 65536}},
    {0, {8192, 16574, 24956, 33338, 41720, 50102, 58484, 65536}},
    {0, {8224, 16639, 25054, 33469, 41884, 50299, 58714, 65536}},
}};

TEST(ChunkerTest, TriggeringPatternTable) {
  for (std::size_t padding = 0; padding < kTriggeringCases.size(); ++padding) {
    const auto& c = kTriggeringCases[padding];
    const auto data = triggeringData(65536, padding);
    ASSERT_EQ(data.size(), 65536u);
    ASSERT_EQ(data[11111], c.sample_at_11111) << "padding " << padding;
    const std::vector<std::size_t> expected(c.ends.begin(), c.ends.end());
    EXPECT_EQ(chunkBoundaries(data), expected) << "padding " << padding;
    EXPECT_EQ(referenceBoundaries(data), expected) << "padding " << padding;
    EXPECT_EQ(streamedBoundaries(data, 127), expected) << "padding " << padding;
  }
}

}  // namespace
}  // namespace hfm::xet
