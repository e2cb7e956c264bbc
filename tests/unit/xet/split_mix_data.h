// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace hfm::xet::test_data {

// The portable generator of xet-core's chunker tests (XET.md §7.2): SplitMix64 words, little
// endian, truncated to n bytes. Incompressible and reproducible.
inline std::vector<std::uint8_t> splitMix64Data(std::size_t n, std::uint64_t seed) {
  std::vector<std::uint8_t> out;
  out.reserve(n + 8);
  std::uint64_t state = seed;
  while (out.size() < n) {
    state += 0x9E3779B97F4A7C15ULL;
    std::uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    for (int k = 0; k < 8; ++k) out.push_back(static_cast<std::uint8_t>(z >> (8 * k)));
  }
  out.resize(n);
  return out;
}

}  // namespace hfm::xet::test_data
