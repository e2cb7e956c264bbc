// SPDX-License-Identifier: Apache-2.0
#pragma once

// Shared by the hub integration tests: the hf-hubd binary, deterministic file contents, and
// hf-hubd's request and byte counters (GET /_hubd/stats, which does not count itself).

#include <httplib.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

#ifndef HFM_HUBD_BINARY
#error "HFM_HUBD_BINARY must name the hf-hubd executable"
#endif

namespace hfm::hub::testing {

inline const std::string kHubd = HFM_HUBD_BINARY;

inline std::string randomBytes(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; i += 8) {
    std::uint64_t v = rng();
    std::memcpy(s.data() + i, &v, std::min<std::size_t>(8, n - i));
  }
  return s;
}

// Random text: no NUL byte, so hf-hubd keeps it a regular (non-LFS) file below its threshold.
inline std::string randomText(std::size_t n, std::uint64_t seed) {
  std::string s = randomBytes(n, seed);
  for (auto& c : s) {
    c = static_cast<char>('!' + static_cast<unsigned char>(c) % 90);
  }
  return s;
}

inline nlohmann::json hubdStats(const std::string& url) {
  httplib::Client http(url);
  auto res = http.Get("/_hubd/stats");
  EXPECT_TRUE(res && res->status == 200);
  return res ? nlohmann::json::parse(res->body) : nlohmann::json();
}

}  // namespace hfm::hub::testing
