// SPDX-License-Identifier: Apache-2.0
#pragma once

// The 32-byte hash every Xet object is named by (chunks, xorbs, files), and its text form.

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hfm::xet {

// Raw bytes as BLAKE3 produced them; this is also their layout inside shards. A value type.
struct MerkleHash {
  static constexpr std::size_t kSize = 32;
  std::array<std::uint8_t, kSize> bytes{};

  // The Xet text form used in URLs, JSON and headers: each 8-byte group read as a little-endian
  // u64 and printed as 16 lower-case hex digits.
  std::string hex() const;
  // Inverse of hex(): exactly 64 hex digits, either case; nullopt otherwise. Given a SHA-256
  // digest's usual hex, it yields the bytes a shard stores for that digest (XET.md §4.6).
  static std::optional<MerkleHash> fromHex(std::string_view text);
  static MerkleHash fromBytes(const std::array<std::uint8_t, kSize>& raw) { return {raw}; }

  // Bytes 24..31 as a little-endian u64: what `hash % n` means in the Xet rules.
  std::uint64_t tailWord() const;
  // Bytes 0..7 as a little-endian u64: the shard lookup key.
  std::uint64_t headWord() const;
  bool isZero() const;

  friend bool operator==(const MerkleHash&, const MerkleHash&) = default;
  friend std::strong_ordering operator<=>(const MerkleHash&, const MerkleHash&) = default;
};

struct MerkleHashHasher {
  std::size_t operator()(const MerkleHash& h) const noexcept {
    return static_cast<std::size_t>(h.headWord());
  }
};

}  // namespace hfm::xet
