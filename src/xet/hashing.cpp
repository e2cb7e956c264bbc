// SPDX-License-Identifier: Apache-2.0
#include "xet/hashing.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <vector>

#include "xet/blake3.h"

namespace hfm::xet {
namespace {

// The keys of XET.md §2.1 (xet-core data_hash.rs DATA_KEY and INTERNAL_NODE_HASH,
// chunk_verification.rs VERIFICATION_KEY).
constexpr Blake3Key kDataKey = {102, 151, 245, 119, 91,  149, 80,  222, 49,  53,  203,
                                172, 165, 151, 24,  28,  157, 228, 33,  16,  155, 235,
                                43,  88,  180, 208, 176, 75,  147, 173, 242, 41};
constexpr Blake3Key kInternalNodeKey = {1,   126, 197, 199, 165, 71,  41,  150, 253, 148, 102,
                                        102, 180, 138, 2,   230, 93,  221, 83,  111, 55,  199,
                                        109, 210, 248, 99,  82,  230, 74,  83,  113, 63};
constexpr Blake3Key kVerificationKey = {127, 24,  87,  214, 206, 86,  237, 102, 18,  127, 249,
                                        19,  231, 165, 195, 243, 164, 205, 38,  213, 181, 219,
                                        73,  230, 65,  36,  152, 127, 40,  251, 148, 195};

// Tree shape (XET.md §2.4): a group closes at the first member from the third on whose hash is
// 0 mod 4, and holds at most 2 * 4 + 1 members.
constexpr std::uint64_t kMeanBranching = 4;
constexpr std::size_t kMaxGroup = 2 * kMeanBranching + 1;

// One node line: 64 hex digits, " : ", up to 20 decimal digits, '\n'.
constexpr std::size_t kMaxLine = 2 * MerkleHash::kSize + 3 + 20 + 1;

MerkleHash toHash(const Blake3Digest& digest) { return MerkleHash::fromBytes(digest); }

std::span<const std::uint8_t> asBytes(const MerkleHash& h) { return {h.bytes.data(), h.kSize}; }

// Writes the Xet text form of `h` (each 8-byte group printed as a little-endian u64).
char* writeHex(const MerkleHash& h, char* out) {
  static constexpr char kDigits[] = "0123456789abcdef";
  for (std::size_t group = 0; group < MerkleHash::kSize; group += 8) {
    for (std::size_t k = 8; k-- > 0;) {
      const std::uint8_t b = h.bytes[group + k];
      *out++ = kDigits[b >> 4];
      *out++ = kDigits[b & 0xF];
    }
  }
  return out;
}

// How many of `nodes` (non-empty) the next group of the level takes.
std::size_t nextGroupSize(std::span<const ChunkLeaf> nodes) {
  if (nodes.size() <= 2) return nodes.size();
  const std::size_t end = std::min(kMaxGroup, nodes.size());
  for (std::size_t i = 2; i < end; ++i) {
    if (nodes[i].hash.tailWord() % kMeanBranching == 0) return i + 1;
  }
  return end;
}

// The parent of a group: the keyed hash of its "<hex> : <size>\n" lines, and the summed size.
ChunkLeaf mergeGroup(std::span<const ChunkLeaf> group) {
  std::array<char, kMaxGroup * kMaxLine> text;
  char* out = text.data();
  std::uint64_t total = 0;
  for (const ChunkLeaf& node : group) {
    out = writeHex(node.hash, out);
    *out++ = ' ';
    *out++ = ':';
    *out++ = ' ';
    out = std::to_chars(out, out + 20, node.size).ptr;
    *out++ = '\n';
    total += node.size;
  }
  const auto len = static_cast<std::size_t>(out - text.data());
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(text.data());
  return {toHash(blake3KeyedHash(kInternalNodeKey, {bytes, len})), total};
}

}  // namespace

MerkleHash chunkHash(std::span<const std::uint8_t> chunk) {
  return toHash(blake3KeyedHash(kDataKey, chunk));
}

MerkleHash aggregateHash(std::span<const ChunkLeaf> leaves) {
  if (leaves.empty()) return {};
  if (leaves.size() == 1) return leaves[0].hash;
  // Levels are built in place: a group's parent goes to a slot at or before the group's start.
  std::vector<ChunkLeaf> level(leaves.begin(), leaves.end());
  while (level.size() > 1) {
    std::size_t write = 0;
    std::size_t read = 0;
    while (read < level.size()) {
      const std::span<const ChunkLeaf> rest(level.data() + read, level.size() - read);
      const std::size_t take = nextGroupSize(rest);
      level[write++] = mergeGroup(rest.first(take));
      read += take;
    }
    level.resize(write);
  }
  return level[0].hash;
}

MerkleHash fileHash(std::span<const ChunkLeaf> chunks) {
  return fileHashWithSalt(chunks, MerkleHash{});
}

MerkleHash fileHashWithSalt(std::span<const ChunkLeaf> chunks, const MerkleHash& salt) {
  if (chunks.empty()) return {};
  return keyedChunkHash(salt, aggregateHash(chunks));
}

MerkleHash rangeHash(std::span<const MerkleHash> chunk_hashes) {
  Blake3 hasher(kVerificationKey);
  // Batch the 32-byte hashes so the hasher sees whole blocks rather than one call per hash.
  constexpr std::size_t kBatch = 32;
  std::array<std::uint8_t, kBatch * MerkleHash::kSize> buffer;
  std::size_t i = 0;
  while (i < chunk_hashes.size()) {
    const std::size_t n = std::min(kBatch, chunk_hashes.size() - i);
    for (std::size_t k = 0; k < n; ++k) {
      std::copy(chunk_hashes[i + k].bytes.begin(), chunk_hashes[i + k].bytes.end(),
                buffer.begin() + static_cast<std::ptrdiff_t>(k * MerkleHash::kSize));
    }
    hasher.update(std::span<const std::uint8_t>(buffer.data(), n * MerkleHash::kSize));
    i += n;
  }
  return toHash(hasher.finalize());
}

MerkleHash keyedChunkHash(const MerkleHash& key, const MerkleHash& chunk_hash) {
  return toHash(blake3KeyedHash(key.bytes, asBytes(chunk_hash)));
}

}  // namespace hfm::xet
