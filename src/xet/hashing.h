// SPDX-License-Identifier: Apache-2.0
#pragma once

// The Xet hash rules (XET.md §2): chunk hashes, the variable-fanout Merkle aggregation behind
// xorb and file hashes, term verification hashes and the keyed chunk hashes of dedup answers.
// Pure functions; safe from any thread.

#include <cstdint>
#include <span>

#include "xet/merkle_hash.h"

namespace hfm::xet {

// One leaf of the aggregation: a chunk's hash and its uncompressed length.
struct ChunkLeaf {
  MerkleHash hash;
  std::uint64_t size = 0;
};

MerkleHash chunkHash(std::span<const std::uint8_t> chunk);
// The Merkle root over leaves in order: zero for none, the leaf itself for one.
MerkleHash aggregateHash(std::span<const ChunkLeaf> leaves);
inline MerkleHash xorbHash(std::span<const ChunkLeaf> chunks) { return aggregateHash(chunks); }
// The file id (X-Xet-Hash): keyed hash of the root under the zero salt; zero for an empty file.
MerkleHash fileHash(std::span<const ChunkLeaf> chunks);
MerkleHash fileHashWithSalt(std::span<const ChunkLeaf> chunks, const MerkleHash& salt);
// Verification hash of one term: keyed hash over the raw hashes of its chunks.
MerkleHash rangeHash(std::span<const MerkleHash> chunk_hashes);
// A chunk hash as a global-dedup answer protects it under that shard's key.
MerkleHash keyedChunkHash(const MerkleHash& key, const MerkleHash& chunk_hash);
// Chunks a server indexes for the global dedup query besides each file's first chunk.
inline bool isGlobalDedupCandidate(const MerkleHash& chunk_hash) {
  return chunk_hash.tailWord() % 1024 == 0;
}

}  // namespace hfm::xet
