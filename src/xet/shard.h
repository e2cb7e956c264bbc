// SPDX-License-Identifier: Apache-2.0
#pragma once

// Shards (XET.md §4): the binary records that register files (their terms) and new xorbs (their
// chunks) with the CAS, and that answer global dedup queries.

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "common/result.h"
#include "xet/merkle_hash.h"

namespace hfm::xet {

// Chunks [chunk_start, chunk_end) of one xorb, in file order.
struct FileTerm {
  MerkleHash xorb_hash;
  std::uint32_t unpacked_bytes = 0;
  std::uint32_t chunk_start = 0;
  std::uint32_t chunk_end = 0;
  friend bool operator==(const FileTerm&, const FileTerm&) = default;
};

struct ShardFile {
  MerkleHash file_hash;
  std::vector<FileTerm> terms;
  // Empty, or one range hash per term.
  std::vector<MerkleHash> verification;
  // The file's SHA-256 in shard byte order (MerkleHash::fromHex of the usual hex).
  std::optional<MerkleHash> sha256;
  friend bool operator==(const ShardFile&, const ShardFile&) = default;
};

struct ShardXorbChunk {
  MerkleHash chunk_hash;
  std::uint32_t uncompressed_offset = 0;
  std::uint32_t uncompressed_size = 0;
  std::uint32_t flags = 0;
  friend bool operator==(const ShardXorbChunk&, const ShardXorbChunk&) = default;
};

struct ShardXorb {
  MerkleHash xorb_hash;
  std::uint32_t uncompressed_bytes = 0;
  std::uint32_t serialized_bytes = 0;
  std::vector<ShardXorbChunk> chunks;
  friend bool operator==(const ShardXorb&, const ShardXorb&) = default;
};

struct Shard {
  std::vector<ShardFile> files;
  std::vector<ShardXorb> xorbs;
  // Footer fields: zero key means chunk hashes are not keyed.
  MerkleHash hmac_key;
  std::uint64_t creation_time = 0;
  std::uint64_t key_expiry = 0;
  friend bool operator==(const Shard&, const Shard&) = default;
};

// An upload body (footer omitted) or, with_footer, a full shard with a footer and no lookup
// tables (the form of a dedup answer).
std::vector<std::uint8_t> serializeShard(const Shard& shard, bool with_footer);
// Parses either form; the footer, when present, fills the footer fields. kCorrupt on any
// malformed or truncated input.
common::Result<Shard> parseShard(std::span<const std::uint8_t> bytes);

}  // namespace hfm::xet
