// SPDX-License-Identifier: Apache-2.0
#pragma once

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum stored with every cached
// block. LMDB pages carry no checksum of their own, so this is what turns a flipped bit on disk
// into a cache miss instead of wrong bytes handed to a reader.
//
// crc32c() uses the SSE4.2 crc32 instruction when the CPU has it (checked once at run time) and a
// portable slicing-by-8 table otherwise. All functions are pure and thread-safe.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace hfm::cache {

// Extends `crc` (the value returned for the preceding bytes; 0 to start) over `size` bytes.
// crc32c(crc32c(0, a), b) == crc32c(0, a + b).
std::uint32_t crc32c(std::uint32_t crc, const void* data, std::size_t size);
inline std::uint32_t crc32c(std::string_view data) { return crc32c(0, data.data(), data.size()); }

// CRC of each `chunk_size`-byte chunk of `data` (the last one may be shorter), written to
// out[0 .. ceil(size / chunk_size)). With SSE4.2 three chunks run as independent instruction
// streams, which roughly triples throughput over one dependent chain.
void crc32cChunks(const void* data, std::size_t size, std::size_t chunk_size, std::uint32_t* out);

// The two implementations, exposed so tests can check both against the same vectors.
std::uint32_t crc32cPortable(std::uint32_t crc, const void* data, std::size_t size);
// Precondition: crc32cHasHardware().
std::uint32_t crc32cHardware(std::uint32_t crc, const void* data, std::size_t size);
bool crc32cHasHardware();

}  // namespace hfm::cache
