// SPDX-License-Identifier: Apache-2.0
#pragma once

// Helpers shared by the cache tests.

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <string_view>

#include "tests/support/temp_dir.h"

namespace hfm::cache::testing {

using hfm::testing::TempDir;

// Deterministic pseudo-random bytes: the same (seed, size) always gives the same block.
inline std::string patternBytes(std::uint64_t seed, std::size_t size) {
  std::string out(size, '\0');
  std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (auto& c : out) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x & 0xFFu);
  }
  return out;
}

inline std::string readWholeFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void writeWholeFile(const std::filesystem::path& path, std::string_view data) {
  std::fstream out(path, std::ios::binary | std::ios::in | std::ios::out);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

// Flips one byte of `path` at the first occurrence of `needle` plus `delta`. False if absent.
inline bool flipByteAfter(const std::filesystem::path& path, std::string_view needle,
                          std::size_t delta) {
  std::string bytes = readWholeFile(path);
  auto pos = bytes.find(needle);
  if (pos == std::string::npos || pos + delta >= bytes.size()) {
    return false;
  }
  bytes[pos + delta] = static_cast<char>(bytes[pos + delta] ^ 0x5A);
  writeWholeFile(path, bytes);
  return true;
}

}  // namespace hfm::cache::testing
