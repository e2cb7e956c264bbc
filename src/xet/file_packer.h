// SPDX-License-Identifier: Apache-2.0
#pragma once

// Turns a file, chunk by chunk, into its Xet description: terms that reference chunks already
// stored somewhere (found through a lookup the caller provides, or repeated inside the file) and
// new xorbs packed from the rest. Used by clients that upload and by hf-hubd when it stores a
// plain blob in its CAS.

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "xet/hashing.h"
#include "xet/merkle_hash.h"
#include "xet/shard.h"
#include "xet/xorb.h"

namespace hfm::xet {

struct ChunkLocation {
  MerkleHash xorb;
  std::uint32_t index = 0;
};

// A packed xorb, ready to upload (or store) before the shard that references it.
struct SealedXorb {
  MerkleHash hash;
  std::vector<std::uint8_t> bytes;
  std::vector<XorbChunk> chunks;
};

// Not thread-safe: one object per file.
class FilePacker {
 public:
  using Locate = std::function<std::optional<ChunkLocation>(const MerkleHash& chunk)>;

  explicit FilePacker(Locate locate, CompressionScheme scheme = CompressionScheme::kLz4,
                      std::size_t max_xorb_bytes = kMaxXorbBytes)
      : locate_(std::move(locate)),
        scheme_(scheme),
        max_xorb_bytes_(max_xorb_bytes),
        builder_(scheme, max_xorb_bytes) {}

  // Adds the file's next chunk; returns the xorb this closed, if any.
  std::optional<SealedXorb> add(std::span<const std::uint8_t> chunk);
  // The xorb still open, if it holds anything. Call once after the last add().
  std::optional<SealedXorb> flush();
  // The file's shard entry (terms, verification hashes, file hash, SHA-256 given as the usual
  // hex). Precondition: flush() was called.
  ShardFile finish(const std::string& sha256_hex) const;

  const std::vector<ChunkLeaf>& leaves() const { return leaves_; }
  // Chunks of new xorbs a server indexes for the global dedup query (the file's first chunk and
  // the hash-selected ones), with their xorb once it is sealed.
  std::vector<std::pair<MerkleHash, MerkleHash>> dedupCandidates() const;
  std::uint64_t newBytes() const { return new_bytes_; }

 private:
  struct PendingTerm {
    std::optional<MerkleHash> stored;  // else the packed xorb at position `packed`
    std::size_t packed = 0;
    std::uint32_t start = 0;
    std::uint32_t end = 0;
    std::uint64_t bytes = 0;
  };
  void extend(std::optional<MerkleHash> stored, std::size_t packed, std::uint32_t index,
              std::uint64_t size);
  std::optional<SealedXorb> seal();

  Locate locate_;
  CompressionScheme scheme_;
  std::size_t max_xorb_bytes_;
  XorbBuilder builder_;
  std::vector<PendingTerm> terms_;
  std::vector<MerkleHash> sealed_;  // hashes of the packed xorbs, by position
  std::vector<ChunkLeaf> leaves_;
  std::unordered_map<MerkleHash, std::uint32_t, MerkleHashHasher> in_builder_;
  std::vector<std::pair<MerkleHash, std::size_t>> candidates_;  // chunk, packed xorb position
  std::uint64_t new_bytes_ = 0;
};

// Reads `fd` from its current offset to the end and hands each content-defined chunk to `sink`,
// which returns false to stop early. kIo when a read fails.
common::Status chunkFile(int fd, const std::function<bool(std::span<const std::uint8_t>)>& sink);

}  // namespace hfm::xet
