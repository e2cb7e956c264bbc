// SPDX-License-Identifier: Apache-2.0
#pragma once

// Private to the BLAKE3 files: the constants of the function and the table of primitives each
// backend provides. The tree and streaming logic in blake3.cpp only calls through Blake3Ops, so
// every backend shares it and only the compression loops differ.

#include <array>
#include <cstddef>
#include <cstdint>

namespace hfm::xet::detail {

inline constexpr std::size_t kBlake3BlockLen = 64;
inline constexpr std::size_t kBlake3ChunkLen = 1024;
inline constexpr std::size_t kBlake3BlocksPerChunk = kBlake3ChunkLen / kBlake3BlockLen;
inline constexpr std::size_t kBlake3CvLen = 32;
inline constexpr std::size_t kBlake3Rounds = 7;

// Domain flags (BLAKE3 spec, table 3); derive_key's two flags are not used here.
inline constexpr std::uint8_t kFlagChunkStart = 1;
inline constexpr std::uint8_t kFlagChunkEnd = 2;
inline constexpr std::uint8_t kFlagParent = 4;
inline constexpr std::uint8_t kFlagRoot = 8;
inline constexpr std::uint8_t kFlagKeyedHash = 16;

// The SHA-256 initial hash values, which BLAKE3 reuses as its IV.
inline constexpr std::array<std::uint32_t, 8> kBlake3Iv = {0x6A09E667U, 0xBB67AE85U, 0x3C6EF372U,
                                                           0xA54FF53AU, 0x510E527FU, 0x9B05688CU,
                                                           0x1F83D9ABU, 0x5BE0CD19U};

using Blake3Schedule = std::array<std::array<std::uint8_t, 16>, kBlake3Rounds>;

// Which message word each of the 16 G inputs of round r reads. The spec permutes the message
// between rounds; composing the permutation ahead of time lets every round index the original
// words directly.
constexpr Blake3Schedule makeBlake3Schedule() {
  constexpr std::array<std::uint8_t, 16> kPermutation = {2, 6,  3,  10, 7, 0,  4,  13,
                                                         1, 11, 12, 5,  9, 14, 15, 8};
  Blake3Schedule schedule{};
  for (std::uint8_t i = 0; i < 16; ++i) {
    schedule[0][i] = i;
  }
  for (std::size_t r = 1; r < kBlake3Rounds; ++r) {
    for (std::size_t i = 0; i < 16; ++i) {
      schedule[r][i] = schedule[r - 1][kPermutation[i]];
    }
  }
  return schedule;
}
inline constexpr Blake3Schedule kBlake3Schedule = makeBlake3Schedule();

using Blake3Cv = std::array<std::uint32_t, 8>;

// Compresses one 64-byte block (zero-padded past block_len) and replaces cv with the result.
using Blake3CompressInPlace = void (*)(Blake3Cv& cv, const std::uint8_t* block,
                                       std::uint8_t block_len, std::uint64_t counter,
                                       std::uint8_t flags);
// Compresses one block and writes all 64 output bytes (the extended output of a root node).
using Blake3CompressXof = void (*)(const Blake3Cv& cv, const std::uint8_t* block,
                                   std::uint8_t block_len, std::uint64_t counter,
                                   std::uint8_t flags, std::uint8_t* out);
// Hashes num_inputs inputs that lie back to back in `inputs`, each exactly blocks_per_input full
// blocks, all starting from `key`, and writes each one's 32-byte chaining value to out. The
// first block of each input also gets flags_start and the last flags_end. Input i uses
// counter + i if increment_counter (chunks) and counter otherwise (parents). This is the wide
// path: SIMD backends run one input per vector lane.
using Blake3HashMany = void (*)(const std::uint8_t* inputs, std::size_t num_inputs,
                                std::size_t blocks_per_input, const Blake3Cv& key,
                                std::uint64_t counter, bool increment_counter, std::uint8_t flags,
                                std::uint8_t flags_start, std::uint8_t flags_end,
                                std::uint8_t* out);

struct Blake3Ops {
  Blake3CompressInPlace compress_in_place;
  Blake3CompressXof compress_xof;
  Blake3HashMany hash_many;
};

const Blake3Ops& blake3PortableOps();
// Only call these after checking the CPU: their code uses SSE4.1 / AVX2 instructions.
const Blake3Ops& blake3Sse41Ops();
const Blake3Ops& blake3Avx2Ops();

// Little-endian word load/store, byte by byte: any alignment and any host byte order (compilers
// turn them into single moves on x86).
inline std::uint32_t loadLe32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
         (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}
inline void storeLe32(std::uint8_t* p, std::uint32_t w) {
  p[0] = static_cast<std::uint8_t>(w);
  p[1] = static_cast<std::uint8_t>(w >> 8);
  p[2] = static_cast<std::uint8_t>(w >> 16);
  p[3] = static_cast<std::uint8_t>(w >> 24);
}
inline void storeCv(std::uint8_t* out, const Blake3Cv& cv) {
  for (std::size_t i = 0; i < 8; ++i) {
    storeLe32(out + 4 * i, cv[i]);
  }
}
inline Blake3Cv loadCv(const std::uint8_t* in) {
  Blake3Cv cv{};
  for (std::size_t i = 0; i < 8; ++i) {
    cv[i] = loadLe32(in + 4 * i);
  }
  return cv;
}

}  // namespace hfm::xet::detail
