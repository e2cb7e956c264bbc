// SPDX-License-Identifier: Apache-2.0
#pragma once

// HTTP Range headers as hf-hubd reads them: one range for blobs and reconstructions, a list of
// ranges for multi-range xorb fetches. Pure functions.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace hfm::hubd {

struct ByteRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;  // inclusive
  bool operator==(const ByteRange&) const = default;
};

enum class RangeKind { kNone, kSatisfiable, kUnsatisfiable };

// Parses a single "bytes=a-b", "bytes=a-" or "bytes=-n" against a body of `size` bytes. Several
// ranges, or a header that is not a byte range, read as kNone: the whole body is served, as
// RFC 9110 allows.
RangeKind parseRange(const std::string& header, std::uint64_t size, ByteRange& out);

// "bytes=a-b,c-d,..." with explicit ends only, in the order given; nullopt when malformed.
std::optional<std::vector<ByteRange>> parseRangeList(const std::string& header);

}  // namespace hfm::hubd
