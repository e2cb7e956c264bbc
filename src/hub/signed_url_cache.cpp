// SPDX-License-Identifier: Apache-2.0
#include "hub/signed_url_cache.h"

namespace hfm::hub::detail {

std::optional<std::string> SignedUrlCache::get(const std::string& key, Clock::time_point now) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    return std::nullopt;
  }
  if (now >= it->second.valid_until) {
    lru_.erase(it->second.lru);
    entries_.erase(it);
    return std::nullopt;
  }
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  return it->second.url;
}

void SignedUrlCache::put(const std::string& key, std::string url, Clock::time_point valid_until) {
  std::lock_guard lock(mu_);
  if (auto it = entries_.find(key); it != entries_.end()) {
    it->second.url = std::move(url);
    it->second.valid_until = valid_until;
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    return;
  }
  while (entries_.size() >= capacity_ && !lru_.empty()) {
    entries_.erase(lru_.back());
    lru_.pop_back();
  }
  lru_.push_front(key);
  entries_.emplace(key, Entry{std::move(url), valid_until, lru_.begin()});
}

void SignedUrlCache::erase(const std::string& key) {
  std::lock_guard lock(mu_);
  if (auto it = entries_.find(key); it != entries_.end()) {
    lru_.erase(it->second.lru);
    entries_.erase(it);
  }
}

std::size_t SignedUrlCache::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace hfm::hub::detail
