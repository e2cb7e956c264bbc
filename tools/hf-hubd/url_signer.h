// SPDX-License-Identifier: Apache-2.0
#pragma once

// Signed, expiring URLs for the CDN listener and the upload targets, so that a client that drops
// its Authorization header on a cross-origin redirect (as every official client does) can still
// fetch, and nobody can forge one.

#include <cstdint>
#include <string>
#include <string_view>

namespace hfm::hubd {

// Immutable after construction: thread-safe.
class UrlSigner {
 public:
  UrlSigner(std::string key, std::int64_t ttl_seconds) : key_(std::move(key)), ttl_(ttl_seconds) {}

  struct Signature {
    std::string expires;  // unix seconds
    std::string value;    // hex
  };
  Signature sign(std::string_view resource, std::int64_t now) const;
  // "X-Expires=<unix>&X-Signature=<hex>" for `resource` (a path plus any bound parameters).
  std::string signQuery(std::string_view resource) const;
  std::string signQuery(std::string_view resource, std::int64_t now) const;

  enum class Verdict { kValid, kMissing, kForged, kExpired };
  Verdict verify(std::string_view resource, std::string_view expires, std::string_view signature,
                 std::int64_t now) const;

 private:
  std::string signature(std::string_view resource, std::string_view expires) const;
  std::string key_;
  std::int64_t ttl_;
};

}  // namespace hfm::hubd
