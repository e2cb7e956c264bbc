// SPDX-License-Identifier: Apache-2.0
#pragma once

// On-disk encoding of the block cache's keys and values (docs/caching.md has the full layout).
//
// Value = header + payload. Header (little-endian):
//   u32 magic "HFB1" | u16 format version | u8 chunk shift | u8 zero | u32 payload length |
//   u32 header CRC | u32 CRC-32C of each 64 KiB chunk of the payload
// The header CRC covers the first 12 bytes and the chunk CRCs, so a damaged length or chunk CRC
// is caught before it is used. A CRC per chunk (instead of one per block) lets a 128 KiB read of
// a 1 MiB block verify 128 KiB instead of the whole block.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "cache/block_store.h"

namespace hfm::cache::detail {

inline constexpr std::uint32_t kBlockMagic = 0x31424648;  // "HFB1" read little-endian
inline constexpr std::uint16_t kBlockFormatVersion = 1;
inline constexpr unsigned kChunkShift = 16;
inline constexpr std::size_t kChunkSize = std::size_t{1} << kChunkShift;
inline constexpr std::size_t kFixedHeaderSize = 16;
inline constexpr std::uint32_t kMinBlockSize = 4 * 1024;
inline constexpr std::uint32_t kMaxBlockSize = 16 * 1024 * 1024;
inline constexpr std::size_t kMaxChunks = kMaxBlockSize / kChunkSize;
inline constexpr std::size_t kMaxHeaderSize = kFixedHeaderSize + 4 * kMaxChunks;

inline constexpr std::size_t chunkCount(std::size_t payload) {
  return (payload + kChunkSize - 1) / kChunkSize;
}
inline constexpr std::size_t headerSize(std::size_t payload) {
  return kFixedHeaderSize + 4 * chunkCount(payload);
}
// The payload length a value of `value_size` bytes has when well formed. Used to account for
// values whose header is damaged.
std::uint64_t payloadLengthOf(std::size_t value_size);

// (content id bytes)(block index, 8 bytes big-endian): one file's blocks sort together.
struct BlockKey {
  std::array<char, kMaxContentIdBytes + 8> bytes{};
  std::size_t size = 0;
  std::string_view view() const { return {bytes.data(), size}; }
};
// False when the content id is empty or longer than kMaxContentIdBytes.
bool makeBlockKey(std::string_view content_id, std::uint64_t index, BlockKey& out);

struct EncodedHeader {
  std::array<char, kMaxHeaderSize> bytes{};
  std::size_t size = 0;
  std::string_view view() const { return {bytes.data(), size}; }
};
// Precondition: payload.size() <= kMaxBlockSize.
void encodeHeader(std::string_view payload, EncodedHeader& out);

// A value whose header checked out. Points into the value; valid while it is.
struct BlockView {
  std::uint32_t length = 0;
  const char* chunk_crcs = nullptr;
  const char* payload = nullptr;
};
std::optional<BlockView> parseBlock(std::string_view value);
// Verifies the chunks overlapping [begin, end) of the payload; end <= length.
bool verifyRange(const BlockView& block, std::size_t begin, std::size_t end);

inline void storeLe32(char* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) {
    p[i] = static_cast<char>((v >> (8 * i)) & 0xFFu);
  }
}
inline std::uint32_t loadLe32(const char* p) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) {
    v = (v << 8) | static_cast<unsigned char>(p[i]);
  }
  return v;
}
inline void storeBe64(char* p, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    p[i] = static_cast<char>(v & 0xFFu);
    v >>= 8;
  }
}
inline std::uint64_t loadBe64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) {
    v = (v << 8) | static_cast<unsigned char>(p[i]);
  }
  return v;
}

}  // namespace hfm::cache::detail
