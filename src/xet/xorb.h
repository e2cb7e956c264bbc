// SPDX-License-Identifier: Apache-2.0
#pragma once

// Xorbs on the wire (XET.md §3): a run of [8-byte header][payload] chunks, each payload raw,
// LZ4-framed, or byte-grouped then LZ4-framed. Builders and readers here are shared by the
// client (uploads, downloads) and hf-hubd (validating uploads, serving ranges).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "common/result.h"
#include "xet/merkle_hash.h"

namespace hfm::xet {

inline constexpr std::size_t kChunkHeaderSize = 8;
inline constexpr std::size_t kMaxXorbBytes = 64 * 1024 * 1024;
inline constexpr std::size_t kMaxXorbChunks = 8192;
// A chunk header's limits (XET.md §3.2): a chunk holds at most 128 KiB, its payload at most twice
// that.
inline constexpr std::size_t kMaxUncompressedChunkSize = 128 * 1024;
inline constexpr std::size_t kMaxCompressedChunkSize = 2 * kMaxUncompressedChunkSize;

enum class CompressionScheme : std::uint8_t { kNone = 0, kLz4 = 1, kByteGrouping4Lz4 = 2 };

struct ChunkHeader {
  std::uint32_t compressed_size = 0;
  CompressionScheme scheme = CompressionScheme::kNone;
  std::uint32_t uncompressed_size = 0;
};

// Parses and validates one header (version 0, known scheme, sizes within limits) from the first
// kChunkHeaderSize bytes of `header`. kCorrupt otherwise, including for a xorb footer ("XETBLOB").
common::Result<ChunkHeader> parseChunkHeader(std::span<const std::uint8_t> header);

// Decodes one chunk's payload (exactly header.compressed_size bytes) into `out`, replacing its
// contents. kCorrupt unless it decodes to exactly header.uncompressed_size bytes with nothing
// left over; never allocates more than the header's limits allow.
common::Status decodeChunkPayload(const ChunkHeader& header, std::span<const std::uint8_t> payload,
                                  std::vector<std::uint8_t>& out);

// Appends one serialized chunk to `out`, compressed with `scheme` unless that does not make it
// strictly smaller (then raw). Returns the bytes appended.
// Precondition: chunk.size() <= kMaxUncompressedChunkSize.
std::size_t appendChunk(std::vector<std::uint8_t>& out, std::span<const std::uint8_t> chunk,
                        CompressionScheme scheme);

namespace detail {
// Byte grouping (XET.md §3.3): lane k takes bytes k, k+4, k+8, ...; the lanes are concatenated.
// Regroup is the inverse. Precondition: out.size() == input size.
void bg4Split(std::span<const std::uint8_t> input, std::span<std::uint8_t> out);
void bg4Regroup(std::span<const std::uint8_t> grouped, std::span<std::uint8_t> out);
}  // namespace detail

// Decodes serialized chunks one after another. Not thread-safe; `data` must outlive it.
class ChunkReader {
 public:
  explicit ChunkReader(std::span<const std::uint8_t> data) : data_(data) {}
  // Decodes the next chunk into `out` (replacing its contents). false at the end of the data;
  // kCorrupt for a bad header, a truncated payload, or a payload that does not decode to the
  // header's size.
  common::Result<bool> next(std::vector<std::uint8_t>& out);
  // As next(), without copying a chunk stored raw: the view is then into `data`, else into
  // `scratch` (replaced). An empty optional at the end of the data.
  common::Result<std::optional<std::span<const std::uint8_t>>> nextView(
      std::vector<std::uint8_t>& scratch);
  // Serialized bytes consumed so far.
  std::size_t offset() const { return offset_; }

 private:
  std::span<const std::uint8_t> data_;
  std::size_t offset_ = 0;
};

// Where one chunk sits in a xorb.
struct XorbChunk {
  MerkleHash hash;
  std::uint32_t uncompressed_offset = 0;  // sum of the uncompressed sizes before it
  std::uint32_t uncompressed_size = 0;
  std::uint32_t serialized_end = 0;  // end of its header + payload in the serialized xorb
};

// Packs chunks into one xorb within the size and count limits. Not thread-safe.
class XorbBuilder {
 public:
  // `max_bytes` (at most kMaxXorbBytes) caps the serialized xorb, and so the memory it holds.
  explicit XorbBuilder(CompressionScheme scheme = CompressionScheme::kLz4,
                       std::size_t max_bytes = kMaxXorbBytes);
  // Whether a chunk of this size can still be added (worst case: stored raw).
  bool fits(std::size_t chunk_size) const;
  // Adds a chunk whose hash the caller computed. Precondition: fits(chunk.size()).
  void add(const MerkleHash& chunk_hash, std::span<const std::uint8_t> chunk);
  bool empty() const { return chunks_.empty(); }
  const std::vector<XorbChunk>& chunks() const { return chunks_; }
  const std::vector<std::uint8_t>& bytes() const { return bytes_; }
  // The serialized bytes, moved out: the builder is then spent.
  std::vector<std::uint8_t> takeBytes() { return std::move(bytes_); }
  MerkleHash hash() const;

 private:
  CompressionScheme scheme_;
  std::size_t max_bytes_;
  std::vector<std::uint8_t> bytes_;
  std::vector<XorbChunk> chunks_;
  std::uint64_t uncompressed_ = 0;
};

// A whole uploaded xorb checked the way a server must: every chunk decodes, is hashed, and the
// xorb hash over them is returned with the chunk table. kCorrupt on malformed input,
// kInvalidArgument past the limits.
struct XorbIndex {
  MerkleHash hash;
  std::vector<XorbChunk> chunks;
};
common::Result<XorbIndex> indexXorb(std::span<const std::uint8_t> serialized);

}  // namespace hfm::xet
