// SPDX-License-Identifier: Apache-2.0
#pragma once

// What this machine knows about Xet chunks, kept in the block cache next to the chunks' bytes:
//   (chunk hash, 0)                   the chunk's bytes (XetRangeSource)
//   (xorb hash, 1 + index)            which chunk sits at that index: 32-byte hash + u32 size
//   (chunk hash, kXetLocationIndex)   where the chunk is stored: 32-byte xorb hash + u32 index
// Entries are learned from chunks read (and hash-checked) and from xorbs uploaded. Being cache
// entries, they may be evicted: a missing entry is only a lost shortcut. The hash families of
// chunks and xorbs cannot collide, and the index ranges keep a one-chunk xorb (whose hash is its
// chunk's) apart. Functions are thread-safe as the BlockStore is.

#include <cstdint>
#include <optional>

#include "cache/block_store.h"
#include "xet/file_packer.h"
#include "xet/merkle_hash.h"

namespace hfm::fs {

inline constexpr std::uint64_t kXetLocationIndex = 1ull << 40;

struct XetChunkId {
  xet::MerkleHash hash;
  std::uint32_t size = 0;
};

std::optional<XetChunkId> chunkAt(cache::BlockStore& cache, const xet::MerkleHash& xorb,
                                  std::uint32_t index);
std::optional<xet::ChunkLocation> findChunk(cache::BlockStore& cache,
                                            const xet::MerkleHash& chunk);
void recordChunk(cache::BlockStore& cache, const xet::MerkleHash& xorb, std::uint32_t index,
                 const XetChunkId& chunk);

}  // namespace hfm::fs
