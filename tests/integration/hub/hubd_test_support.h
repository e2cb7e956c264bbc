// SPDX-License-Identifier: Apache-2.0
#pragma once

// Shared by the hub integration tests: the hf-hubd binary, deterministic file contents,
// hf-hubd's request and byte counters (GET /_hubd/stats, which does not count itself), clients
// of a server, and the frame of a suite that starts its servers once. The tests live in this
// namespace too (in an anonymous one inside it); gtest's namespace is then spelled ::testing.

#include <httplib.h>

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "hub/hub_client.h"

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

// Options for a client of the hf-hubd at `url`: `token`, and retries for up to 20 s.
inline HubOptions hubdOptions(const std::string& url, std::optional<std::string> token) {
  HubOptions o;
  o.endpoint = url;
  o.token = std::move(token);
  o.retry_deadline = std::chrono::milliseconds(20000);
  return o;
}

// A client made with `options`; null (and a test failure) when it cannot be made.
inline std::unique_ptr<HubClient> hubdClient(const HubOptions& options) {
  auto c = HubClient::create(options);
  EXPECT_TRUE(c) << c.error().message;
  return c ? std::move(*c) : nullptr;
}

// The frame of a suite whose SetUpTestSuite starts hf-hubd once for all its tests: a temporary
// directory of its own (removed by the suite's TearDownTestSuite), and the first setup error,
// which fails every test. `Suite`, the derived fixture, gives each suite statics of its own.
template <class Suite>
class HubdSuite : public ::testing::Test {
 protected:
  // Makes dir_ a new directory below the system's temporary one, its name led by `prefix`.
  static void makeDir(const std::string& prefix) {
    dir_ = std::filesystem::temp_directory_path() / (prefix + "." + std::to_string(::getpid()) +
                                                     "." + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(dir_);
  }
  void SetUp() override { ASSERT_TRUE(setup_error_.empty()) << setup_error_; }

  static inline std::filesystem::path dir_;
  static inline std::string setup_error_;
};

}  // namespace hfm::hub::testing
