// SPDX-License-Identifier: Apache-2.0
#include "fs/xet_chunk_index.h"

#include <array>
#include <cstring>
#include <string>

namespace hfm::fs {

namespace {

using xet::MerkleHash;

constexpr std::size_t kRecordBytes = MerkleHash::kSize + 4;

std::string record(const MerkleHash& hash, std::uint32_t n) {
  std::string out(reinterpret_cast<const char*>(hash.bytes.data()), MerkleHash::kSize);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xFF));
  return out;
}

std::optional<std::pair<MerkleHash, std::uint32_t>> readRecord(cache::BlockStore& cache,
                                                               const MerkleHash& key,
                                                               std::uint64_t index) {
  std::array<char, kRecordBytes> raw{};
  auto got = cache.read(key.hex(), index, 0, raw);
  if (!got || *got != kRecordBytes) return std::nullopt;
  MerkleHash hash;
  std::memcpy(hash.bytes.data(), raw.data(), MerkleHash::kSize);
  std::uint32_t n = 0;
  for (std::size_t i = 4; i-- > 0;) n = (n << 8) | static_cast<std::uint8_t>(raw[MerkleHash::kSize + i]);
  return std::make_pair(hash, n);
}

}  // namespace

std::optional<XetChunkId> chunkAt(cache::BlockStore& cache, const MerkleHash& xorb,
                                  std::uint32_t index) {
  auto r = readRecord(cache, xorb, 1 + std::uint64_t{index});
  if (!r) return std::nullopt;
  return XetChunkId{r->first, r->second};
}

std::optional<xet::ChunkLocation> findChunk(cache::BlockStore& cache, const MerkleHash& chunk) {
  auto r = readRecord(cache, chunk, kXetLocationIndex);
  if (!r) return std::nullopt;
  return xet::ChunkLocation{r->first, r->second};
}

void recordChunk(cache::BlockStore& cache, const MerkleHash& xorb, std::uint32_t index,
                 const XetChunkId& chunk) {
  (void)cache.write(xorb.hex(), 1 + std::uint64_t{index}, record(chunk.hash, chunk.size));
  (void)cache.write(chunk.hash.hex(), kXetLocationIndex, record(xorb, index));
}

}  // namespace hfm::fs
