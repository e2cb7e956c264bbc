// SPDX-License-Identifier: Apache-2.0
#pragma once

// What this machine knows about Xet chunks, kept as small records in the block cache:
//   (origin⊕xorb, 1 + index)       which chunk sits at that index of a xorb: hash + size
//   (origin⊕chunk, kXetLocation)   where the CAS has the chunk: xorb hash + index
//   (chunk, kXetPlace)             where its bytes are cached: inside the blocks of a file read
//                                  before (content id + offset + size)
// A chunk's bytes are not stored twice: they are read back from the blocks of the file the read
// engine cached them for, and checked against the chunk's hash, so a record pointing at blocks
// since evicted or rewritten is only a miss.
//
// Records about xorbs describe what one CAS said, so they are kept per origin (the Hub endpoint):
// a server cannot plant (xorb, index) records that a read from another server would trust. A
// place record needs no origin: the hash is computed here from the bytes, and checked again on
// every use.
//
// Records are learned from chunks read (and hash-checked) and from xorbs uploaded. Being cache
// entries, they may be evicted: a missing entry is only a lost shortcut.
//
// Thread-safe as the BlockStore is; a Batch belongs to one thread.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "cache/block_store.h"
#include "xet/file_packer.h"
#include "xet/merkle_hash.h"

namespace hfm::fs {

inline constexpr std::uint64_t kXetLocationIndex = 1ull << 40;
inline constexpr std::uint64_t kXetPlaceIndex = kXetLocationIndex + 1;

struct XetChunkId {
  xet::MerkleHash hash;
  std::uint32_t size = 0;
};

// A chunk's bytes inside a file's cached blocks.
struct XetChunkPlace {
  std::string content_id;
  std::uint64_t offset = 0;
};

class XetChunkIndex {
 public:
  // `origin`: the Hub endpoint the xorb records describe.
  XetChunkIndex(cache::BlockStore* cache, const std::string& origin);

  bool enabled() const { return cache_ != nullptr; }
  std::optional<XetChunkId> chunkAt(const xet::MerkleHash& xorb, std::uint32_t index) const;
  std::optional<xet::ChunkLocation> findChunk(const xet::MerkleHash& chunk) const;
  std::optional<XetChunkPlace> placeOf(const xet::MerkleHash& chunk) const;
  // The chunk's bytes from the blocks of its place, when all are cached and hash to `chunk.hash`.
  std::optional<std::vector<std::uint8_t>> readChunk(const XetChunkId& chunk) const;

  // Records gathered and written in one cache transaction by commit(), or when the batch is
  // destroyed (so an error path keeps what was checked before it). Nothing is gathered without
  // a cache.
  class Batch {
   public:
    explicit Batch(const XetChunkIndex& index) : index_(index) {}
    ~Batch();
    Batch(const Batch&) = delete;
    Batch& operator=(const Batch&) = delete;
    void chunkAt(const xet::MerkleHash& xorb, std::uint32_t index, const XetChunkId& chunk);
    void location(const xet::MerkleHash& chunk, const xet::MerkleHash& xorb, std::uint32_t index);
    void place(const xet::MerkleHash& chunk, const XetChunkPlace& place);
    void commit();

   private:
    struct Record {
      std::string key;
      std::uint64_t index;
      std::string value;
    };
    const XetChunkIndex& index_;
    std::vector<Record> records_;
  };

 private:
  // The cache key of a record about `hash` as the origin's CAS describes it.
  std::string originKey(const xet::MerkleHash& hash) const;

  cache::BlockStore* cache_;
  xet::MerkleHash origin_key_;
};

}  // namespace hfm::fs
