// SPDX-License-Identifier: Apache-2.0
#pragma once

// Streaming SHA-256 and SHA-1 (OpenSSL libcrypto underneath), the git blob id, and HMAC-SHA256.

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace hfm::common {

// Incremental digest. Not thread-safe: one object per stream. Movable, not copyable.
class Digest {
 public:
  enum class Algorithm { kSha256, kSha1 };

  explicit Digest(Algorithm algorithm);
  ~Digest();
  Digest(Digest&&) noexcept;
  Digest& operator=(Digest&&) noexcept;
  Digest(const Digest&) = delete;
  Digest& operator=(const Digest&) = delete;

  void update(const void* data, std::size_t size);
  void update(std::string_view data) { update(data.data(), data.size()); }
  // Lower-case hex of the digest. The object must not be updated afterwards.
  std::string finishHex();
  // The digest of what was fed so far, leaving this object usable for more input.
  std::string peekHex() const;
  // An independent copy of the state.
  Digest clone() const;

 private:
  struct Impl;
  explicit Digest(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

std::string sha256Hex(std::string_view data);
std::string sha1Hex(std::string_view data);

// The git object id of a blob: sha1("blob <size>\0" + content). Feed the content to the
// returned digest after construction.
Digest gitBlobDigest(std::uint64_t size);
std::string gitBlobOid(std::string_view content);

// HMAC-SHA256 of `message` under `key`, lower-case hex.
std::string hmacSha256Hex(std::string_view key, std::string_view message);

// Constant-time equality for secrets such as signatures.
bool constantTimeEquals(std::string_view a, std::string_view b);

}  // namespace hfm::common
