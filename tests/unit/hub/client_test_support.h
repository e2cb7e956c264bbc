// SPDX-License-Identifier: Apache-2.0
#pragma once

// Shared by the HubClient unit tests: a repo, a token, options with short timeouts for a
// LocalRawServer, a URL nothing listens on, and deterministic content. The tests live in this
// namespace too (in an anonymous one inside it), so they name all of it unqualified; gtest's
// namespace is then spelled ::testing.

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "hub/hub_client.h"
#include "tests/unit/hub/local_raw_server.h"

namespace hfm::hub::testing {

inline const common::RepoId kRepo{common::RepoType::kModel, "org", "name"};
inline const std::string kCommit = "0123456789abcdef0123456789abcdef01234567";
inline const std::string kToken = "hf_SeCrEtToKeN1234";

inline std::string content(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) {
    s[i] = static_cast<char>((i * 131 + 7) % 251);
  }
  return s;
}

inline HubOptions optionsFor(const std::string& url) {
  using std::chrono::milliseconds;
  HubOptions o;
  o.endpoint = url;
  o.token = kToken;
  o.connect_timeout = milliseconds(1000);
  o.stall_timeout = milliseconds(2000);
  o.retry_deadline = milliseconds(3000);
  o.backoff_base = milliseconds(5);
  o.backoff_cap = milliseconds(50);
  return o;
}

// The URL of a loopback server that has just stopped: connections to it are refused.
inline std::string unreachableUrl() {
  LocalRawServer gone([](const RawRequest&) { return httpReply(200, ""); });
  return gone.url();
}

inline std::unique_ptr<HubClient> makeClient(const HubOptions& options) {
  auto client = HubClient::create(options);
  EXPECT_TRUE(client) << client.error().message;
  return client ? std::move(*client) : nullptr;
}

}  // namespace hfm::hub::testing
