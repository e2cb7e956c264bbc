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

namespace hfm::cache::testing {

// A fresh directory, removed with its contents at scope exit.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("hfm-cache-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

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
