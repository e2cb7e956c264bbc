// SPDX-License-Identifier: Apache-2.0
#pragma once

// Content-defined chunking with the gear rolling hash (XET.md §1): chunk ends depend only on the
// bytes, so an edit moves only the boundaries near it.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace hfm::xet {

inline constexpr std::size_t kTargetChunkSize = 64 * 1024;
inline constexpr std::size_t kMinChunkSize = kTargetChunkSize / 8;
inline constexpr std::size_t kMaxChunkSize = kTargetChunkSize * 2;

// Streaming chunker with the exact boundary rule of XET.md §1.3: the gear hash
// h = 2h + kGearTable[byte] is tested after each byte once the chunk holds at least kMinChunkSize
// bytes; a chunk ends (including that byte) where the top 16 bits of h are zero, or at
// kMaxChunkSize. h is reset at every cut. Boundaries do not depend on how the stream is split
// into next() calls. Not thread-safe: one object per stream.
class Chunker {
 public:
  // Scans `data`, the continuation of the stream. Returns how many bytes of `data` the current
  // chunk takes (it ends there), or nullopt when it goes on past `data` (all of it consumed).
  // After a boundary, call again with the rest of `data`.
  std::optional<std::size_t> next(std::span<const std::uint8_t> data);
  // Bytes of the current, unfinished chunk; at end of stream these form the last chunk.
  std::size_t pending() const { return pending_; }

 private:
  // Gear state; meaningful only once the chunk is within 64 bytes of kMinChunkSize (§1.4).
  std::uint64_t hash_ = 0;
  std::size_t pending_ = 0;
};

// The end offset of every chunk of `data` taken as a whole stream (the last one is data.size()).
std::vector<std::size_t> chunkBoundaries(std::span<const std::uint8_t> data);

}  // namespace hfm::xet
