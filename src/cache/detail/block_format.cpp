// SPDX-License-Identifier: Apache-2.0
#include "cache/detail/block_format.h"

#include <algorithm>
#include <cstring>

#include "cache/crc32c.h"

namespace hfm::cache::detail {

std::uint64_t payloadLengthOf(std::size_t value_size) {
  if (value_size <= kFixedHeaderSize) {
    return 0;
  }
  // value = 16 + 4 * ceil(len / C) + len; every full chunk adds C + 4 bytes.
  std::size_t rest = value_size - kFixedHeaderSize;
  std::size_t full = rest / (kChunkSize + 4);
  std::size_t tail = rest - full * (kChunkSize + 4);
  return full * kChunkSize + (tail > 4 ? tail - 4 : 0);
}

bool makeBlockKey(std::string_view content_id, std::uint64_t index, BlockKey& out) {
  if (content_id.empty() || content_id.size() > kMaxContentIdBytes) {
    return false;
  }
  std::memcpy(out.bytes.data(), content_id.data(), content_id.size());
  storeBe64(out.bytes.data() + content_id.size(), index);
  out.size = content_id.size() + 8;
  return true;
}

void encodeHeader(std::string_view payload, EncodedHeader& out) {
  char* p = out.bytes.data();
  storeLe32(p, kBlockMagic);
  p[4] = static_cast<char>(kBlockFormatVersion & 0xFFu);
  p[5] = static_cast<char>(kBlockFormatVersion >> 8);
  p[6] = static_cast<char>(kChunkShift);
  p[7] = 0;
  storeLe32(p + 8, static_cast<std::uint32_t>(payload.size()));
  std::size_t chunks = chunkCount(payload.size());
  std::array<std::uint32_t, kMaxChunks> crcs{};
  crc32cChunks(payload.data(), payload.size(), kChunkSize, crcs.data());
  for (std::size_t i = 0; i < chunks; ++i) {
    storeLe32(p + kFixedHeaderSize + 4 * i, crcs[i]);
  }
  std::uint32_t header_crc = crc32c(0, p, 12);
  header_crc = crc32c(header_crc, p + kFixedHeaderSize, 4 * chunks);
  storeLe32(p + 12, header_crc);
  out.size = kFixedHeaderSize + 4 * chunks;
}

std::optional<BlockView> parseBlock(std::string_view value) {
  if (value.size() < kFixedHeaderSize) {
    return std::nullopt;
  }
  const char* p = value.data();
  auto version = static_cast<std::uint16_t>(static_cast<unsigned char>(p[4]) |
                                            (static_cast<unsigned char>(p[5]) << 8));
  if (loadLe32(p) != kBlockMagic || version != kBlockFormatVersion ||
      static_cast<unsigned char>(p[6]) != kChunkShift) {
    return std::nullopt;
  }
  std::uint32_t length = loadLe32(p + 8);
  if (length > kMaxBlockSize || value.size() != headerSize(length) + length) {
    return std::nullopt;
  }
  std::size_t chunks = chunkCount(length);
  std::uint32_t header_crc = crc32c(0, p, 12);
  header_crc = crc32c(header_crc, p + kFixedHeaderSize, 4 * chunks);
  if (header_crc != loadLe32(p + 12)) {
    return std::nullopt;
  }
  return BlockView{length, p + kFixedHeaderSize, p + headerSize(length)};
}

bool verifyRange(const BlockView& block, std::size_t begin, std::size_t end) {
  if (begin >= end) {
    return true;
  }
  std::size_t first = begin / kChunkSize;
  std::size_t last = (end - 1) / kChunkSize;  // inclusive
  std::size_t from = first * kChunkSize;
  std::size_t to = std::min<std::size_t>((last + 1) * kChunkSize, block.length);
  std::array<std::uint32_t, kMaxChunks> crcs{};
  crc32cChunks(block.payload + from, to - from, kChunkSize, crcs.data());
  for (std::size_t i = first; i <= last; ++i) {
    if (crcs[i - first] != loadLe32(block.chunk_crcs + 4 * i)) {
      return false;
    }
  }
  return true;
}

}  // namespace hfm::cache::detail
