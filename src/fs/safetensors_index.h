// SPDX-License-Identifier: Apache-2.0
#pragma once

// Where the tensors of a safetensors file begin and end, read from its header: an 8-byte
// little-endian length, then a JSON object whose entries carry "data_offsets": [begin, end]
// relative to the end of the header. The read engine uses the boundaries to keep prefetch
// inside the tensor being read, so loading one tensor through mmap does not drag in the next.

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace hfm::fs {

inline constexpr std::uint64_t kMaxSafetensorsHeader = 100ull << 20;

// The header length from the first 8 bytes, if plausible for a file of `file_size` bytes.
std::optional<std::uint64_t> safetensorsHeaderLength(std::string_view first8, std::uint64_t file_size);

// Sorted, distinct absolute offsets of every tensor's start and end; nullopt when the header is
// not a safetensors header or an offset falls outside the file.
std::optional<std::vector<std::uint64_t>> safetensorsBoundaries(std::string_view header,
                                                                std::uint64_t file_size);

bool isSafetensorsPath(std::string_view path);

}  // namespace hfm::fs
