// SPDX-License-Identifier: Apache-2.0
#pragma once

// SignedUrlCache: the final (CDN) URL of a resolve redirect per (repo, commit, path), so that
// random reads of one file skip the resolve round trip until the signature expires. Bounded:
// least recently used entries go first. Internal to src/hub.
//
// Thread-safe: one mutex, held only for map operations.

#include <chrono>
#include <cstddef>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace hfm::hub::detail {

class SignedUrlCache {
 public:
  using Clock = std::chrono::steady_clock;
  explicit SignedUrlCache(std::size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

  // The URL stored for `key` if it is still valid at `now`; an expired one is dropped.
  std::optional<std::string> get(const std::string& key, Clock::time_point now);
  void put(const std::string& key, std::string url, Clock::time_point valid_until);
  void erase(const std::string& key);
  std::size_t size() const;

 private:
  struct Entry {
    std::string url;
    Clock::time_point valid_until;
    std::list<std::string>::iterator lru;
  };
  const std::size_t capacity_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;  // guarded by mu_
  std::list<std::string> lru_;                      // guarded by mu_; front = most recent
};

}  // namespace hfm::hub::detail
