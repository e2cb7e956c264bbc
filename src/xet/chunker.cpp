// SPDX-License-Identifier: Apache-2.0
#include "xet/chunker.h"

#include <algorithm>

#include "xet/gear_table.h"

namespace hfm::xet {
namespace {

// A cut needs the top 16 bits of the gear hash clear: (target - 1) shifted to the top (§1.1).
constexpr std::uint64_t kMask = 0xFFFF000000000000ULL;
// Every byte enters the hash shifted left once per later byte, so h depends only on the last
// 64 bytes. The first position tested is a chunk size of kMinChunkSize; hashing can start
// kWindow bytes before it with any prior state, which lets us skip the rest (§1.4).
constexpr std::size_t kWindow = 64;
constexpr std::size_t kHashStart = kMinChunkSize - kWindow;

static_assert(kMask == (std::uint64_t{kTargetChunkSize - 1} << 48));
static_assert(kMinChunkSize > kWindow && kMaxChunkSize > kMinChunkSize);

inline std::uint64_t gearStep(std::uint64_t h, std::uint8_t b) {
  return (h << 1) + detail::kGearTable[b];
}

// Hashes p[i..end) and returns the first index j at which the hash after byte j has a clear
// top, or `end`. On return h is the state after the last byte hashed.
inline std::size_t scan(const std::uint8_t* p, std::size_t i, std::size_t end, std::uint64_t& h) {
  std::uint64_t x = h;
  // Four bytes per round: the serial dependency is one shift-add per byte, and the tests are
  // off that path (taken at most once per chunk, so the branches predict well).
  while (i + 4 <= end) {
    x = gearStep(x, p[i]);
    if ((x & kMask) == 0) {
      h = x;
      return i;
    }
    x = gearStep(x, p[i + 1]);
    if ((x & kMask) == 0) {
      h = x;
      return i + 1;
    }
    x = gearStep(x, p[i + 2]);
    if ((x & kMask) == 0) {
      h = x;
      return i + 2;
    }
    x = gearStep(x, p[i + 3]);
    if ((x & kMask) == 0) {
      h = x;
      return i + 3;
    }
    i += 4;
  }
  for (; i < end; ++i) {
    x = gearStep(x, p[i]);
    if ((x & kMask) == 0) {
      h = x;
      return i;
    }
  }
  h = x;
  return end;
}

}  // namespace

std::optional<std::size_t> Chunker::next(std::span<const std::uint8_t> data) {
  const std::uint8_t* p = data.data();
  const std::size_t n = data.size();
  if (n == 0) return std::nullopt;

  // i indexes `data`; the chunk holds pending_ + i bytes before data[i].
  std::size_t i = 0;
  std::uint64_t h = hash_;
  if (pending_ < kHashStart) {
    // Bytes before kHashStart cannot influence any tested hash: skip them, and forget h, which
    // the 64 shifts before the first test push out anyway.
    i = std::min(kHashStart - pending_, n);
    h = 0;
  }
  // Warm-up: bytes whose chunk size after them is below kMinChunkSize are hashed, not tested.
  if (pending_ + i < kMinChunkSize - 1) {
    const std::size_t warm_end = std::min(n, kMinChunkSize - 1 - pending_);
    for (; i < warm_end; ++i) h = gearStep(h, p[i]);
  }
  if (i == n) {
    hash_ = h;
    pending_ += n;
    return std::nullopt;
  }
  // Test every byte from here, but never past the forced cut at kMaxChunkSize.
  const std::size_t room = kMaxChunkSize - (pending_ + i);
  const std::size_t end = i + std::min(room, n - i);
  const std::size_t j = scan(p, i, end, h);
  if (j < end || end - i == room) {
    const std::size_t cut = (j < end) ? j + 1 : end;
    hash_ = 0;
    pending_ = 0;
    return cut;
  }
  hash_ = h;
  pending_ += n;
  return std::nullopt;
}

std::vector<std::size_t> chunkBoundaries(std::span<const std::uint8_t> data) {
  std::vector<std::size_t> ends;
  ends.reserve(data.size() / kTargetChunkSize + 2);
  Chunker chunker;
  std::size_t pos = 0;
  while (pos < data.size()) {
    const auto len = chunker.next(data.subspan(pos));
    if (!len) break;
    pos += *len;
    ends.push_back(pos);
  }
  if (chunker.pending() > 0) ends.push_back(data.size());
  return ends;
}

}  // namespace hfm::xet
