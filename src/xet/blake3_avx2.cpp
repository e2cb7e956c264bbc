// SPDX-License-Identifier: Apache-2.0
// BLAKE3 hash_many with AVX2: eight inputs at once, one per 32-bit lane of a 256-bit vector,
// laid out as in blake3_sse41.cpp's hash4. Built with -mavx2; blake3.cpp calls in only after
// checking the CPU for AVX2 and SSE4.1. Single blocks and the last (< 8) inputs use the SSE4.1
// code: one block fills only four lanes, so 256-bit vectors would not help there.

#include <immintrin.h>

#include "xet/blake3_internal.h"

namespace hfm::xet::detail {
namespace {

constexpr std::size_t kLanes = 8;

// -Wsign-conversion: the intrinsics take int, BLAKE3 words are uint32 (C++20 wraps modulo 2^32).
inline int asInt(std::uint32_t w) { return static_cast<int>(w); }

inline __m256i add(__m256i a, __m256i b) { return _mm256_add_epi32(a, b); }
inline __m256i xorv(__m256i a, __m256i b) { return _mm256_xor_si256(a, b); }
// Right rotations of every 32-bit lane; the byte shuffles work within each 128-bit half, so the
// pattern is the SSE one twice.
inline __m256i rotr16(__m256i x) {
  return _mm256_shuffle_epi8(
      x, _mm256_set_epi8(13, 12, 15, 14, 9, 8, 11, 10, 5, 4, 7, 6, 1, 0, 3, 2, 13, 12, 15, 14, 9, 8,
                         11, 10, 5, 4, 7, 6, 1, 0, 3, 2));
}
inline __m256i rotr8(__m256i x) {
  return _mm256_shuffle_epi8(
      x, _mm256_set_epi8(12, 15, 14, 13, 8, 11, 10, 9, 4, 7, 6, 5, 0, 3, 2, 1, 12, 15, 14, 13, 8,
                         11, 10, 9, 4, 7, 6, 5, 0, 3, 2, 1));
}
inline __m256i rotr12(__m256i x) {
  return _mm256_or_si256(_mm256_srli_epi32(x, 12), _mm256_slli_epi32(x, 20));
}
inline __m256i rotr7(__m256i x) {
  return _mm256_or_si256(_mm256_srli_epi32(x, 7), _mm256_slli_epi32(x, 25));
}

inline void mixG(__m256i& a, __m256i& b, __m256i& c, __m256i& d, __m256i mx, __m256i my) {
  a = add(add(a, b), mx);
  d = rotr16(xorv(d, a));
  c = add(c, d);
  b = rotr12(xorv(b, c));
  a = add(add(a, b), my);
  d = rotr8(xorv(d, a));
  c = add(c, d);
  b = rotr7(xorv(b, c));
}

// A plain array in a struct: std::array<__m256i> drops the vector type's attributes (GCC
// -Wignored-attributes).
struct Words8 {
  __m256i w[16];
};

// An 8x8 transpose of 32-bit words: on return r[i] holds word i of the eight input rows.
inline void transpose8(__m256i* r) {
  // Within each 128-bit half: interleave pairs of rows, then pairs of pairs.
  const __m256i t0 = _mm256_unpacklo_epi32(r[0], r[1]);
  const __m256i t1 = _mm256_unpackhi_epi32(r[0], r[1]);
  const __m256i t2 = _mm256_unpacklo_epi32(r[2], r[3]);
  const __m256i t3 = _mm256_unpackhi_epi32(r[2], r[3]);
  const __m256i t4 = _mm256_unpacklo_epi32(r[4], r[5]);
  const __m256i t5 = _mm256_unpackhi_epi32(r[4], r[5]);
  const __m256i t6 = _mm256_unpacklo_epi32(r[6], r[7]);
  const __m256i t7 = _mm256_unpackhi_epi32(r[6], r[7]);
  // u0 = words 0|4 of rows 0-3, u1 = 1|5, u2 = 2|6, u3 = 3|7; u4-u7 the same for rows 4-7.
  const __m256i u0 = _mm256_unpacklo_epi64(t0, t2);
  const __m256i u1 = _mm256_unpackhi_epi64(t0, t2);
  const __m256i u2 = _mm256_unpacklo_epi64(t1, t3);
  const __m256i u3 = _mm256_unpackhi_epi64(t1, t3);
  const __m256i u4 = _mm256_unpacklo_epi64(t4, t6);
  const __m256i u5 = _mm256_unpackhi_epi64(t4, t6);
  const __m256i u6 = _mm256_unpacklo_epi64(t5, t7);
  const __m256i u7 = _mm256_unpackhi_epi64(t5, t7);
  // Join the halves: low halves give words 0-3, high halves words 4-7.
  r[0] = _mm256_permute2x128_si256(u0, u4, 0x20);
  r[1] = _mm256_permute2x128_si256(u1, u5, 0x20);
  r[2] = _mm256_permute2x128_si256(u2, u6, 0x20);
  r[3] = _mm256_permute2x128_si256(u3, u7, 0x20);
  r[4] = _mm256_permute2x128_si256(u0, u4, 0x31);
  r[5] = _mm256_permute2x128_si256(u1, u5, 0x31);
  r[6] = _mm256_permute2x128_si256(u2, u6, 0x31);
  r[7] = _mm256_permute2x128_si256(u3, u7, 0x31);
}

// Loads one 64-byte block of each of the eight inputs (stride bytes apart), transposed.
inline Words8 loadMessage8(const std::uint8_t* block, std::size_t stride) {
  Words8 m;
  for (std::size_t half = 0; half < 2; ++half) {
    for (std::size_t lane = 0; lane < kLanes; ++lane) {
      m.w[8 * half + lane] =
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + lane * stride + 32 * half));
    }
    transpose8(m.w + 8 * half);
  }
  return m;
}

inline void round8(Words8& v, const Words8& m, const std::array<std::uint8_t, 16>& k) {
  mixG(v.w[0], v.w[4], v.w[8], v.w[12], m.w[k[0]], m.w[k[1]]);
  mixG(v.w[1], v.w[5], v.w[9], v.w[13], m.w[k[2]], m.w[k[3]]);
  mixG(v.w[2], v.w[6], v.w[10], v.w[14], m.w[k[4]], m.w[k[5]]);
  mixG(v.w[3], v.w[7], v.w[11], v.w[15], m.w[k[6]], m.w[k[7]]);
  mixG(v.w[0], v.w[5], v.w[10], v.w[15], m.w[k[8]], m.w[k[9]]);
  mixG(v.w[1], v.w[6], v.w[11], v.w[12], m.w[k[10]], m.w[k[11]]);
  mixG(v.w[2], v.w[7], v.w[8], v.w[13], m.w[k[12]], m.w[k[13]]);
  mixG(v.w[3], v.w[4], v.w[9], v.w[14], m.w[k[14]], m.w[k[15]]);
}

void hash8(const std::uint8_t* inputs, std::size_t blocks, const Blake3Cv& key,
           std::uint64_t counter, bool increment_counter, std::uint8_t flags,
           std::uint8_t flags_start, std::uint8_t flags_end, std::uint8_t* out) {
  std::array<std::uint32_t, kLanes> ctr_lo{};
  std::array<std::uint32_t, kLanes> ctr_hi{};
  for (std::size_t lane = 0; lane < kLanes; ++lane) {
    const std::uint64_t c = increment_counter ? counter + lane : counter;
    ctr_lo[lane] = static_cast<std::uint32_t>(c);
    ctr_hi[lane] = static_cast<std::uint32_t>(c >> 32);
  }
  __m256i h[8];
  for (std::size_t i = 0; i < 8; ++i) {
    h[i] = _mm256_set1_epi32(asInt(key[i]));
  }
  const std::size_t stride = blocks * kBlake3BlockLen;
  for (std::size_t b = 0; b < blocks; ++b) {
    std::uint8_t block_flags = flags;
    block_flags |= b == 0 ? flags_start : 0;
    block_flags |= b + 1 == blocks ? flags_end : 0;
    const Words8 m = loadMessage8(inputs + b * kBlake3BlockLen, stride);
    Words8 v = {{h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7],
                 _mm256_set1_epi32(asInt(kBlake3Iv[0])), _mm256_set1_epi32(asInt(kBlake3Iv[1])),
                 _mm256_set1_epi32(asInt(kBlake3Iv[2])), _mm256_set1_epi32(asInt(kBlake3Iv[3])),
                 _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ctr_lo.data())),
                 _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ctr_hi.data())),
                 _mm256_set1_epi32(static_cast<int>(kBlake3BlockLen)),
                 _mm256_set1_epi32(block_flags)}};
    for (const auto& k : kBlake3Schedule) {
      round8(v, m, k);
    }
    for (std::size_t i = 0; i < 8; ++i) {
      h[i] = xorv(v.w[i], v.w[i + 8]);
    }
  }
  // Back from "word i of every lane" to "the 8 words of lane l".
  transpose8(h);
  for (std::size_t lane = 0; lane < kLanes; ++lane) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + lane * kBlake3CvLen), h[lane]);
  }
}

void hashManyAvx2(const std::uint8_t* inputs, std::size_t num_inputs, std::size_t blocks_per_input,
                  const Blake3Cv& key, std::uint64_t counter, bool increment_counter,
                  std::uint8_t flags, std::uint8_t flags_start, std::uint8_t flags_end,
                  std::uint8_t* out) {
  const std::size_t input_len = blocks_per_input * kBlake3BlockLen;
  std::size_t i = 0;
  for (; i + kLanes <= num_inputs; i += kLanes) {
    hash8(inputs + i * input_len, blocks_per_input, key, increment_counter ? counter + i : counter,
          increment_counter, flags, flags_start, flags_end, out + i * kBlake3CvLen);
  }
  if (i < num_inputs) {
    blake3Sse41Ops().hash_many(inputs + i * input_len, num_inputs - i, blocks_per_input, key,
                               increment_counter ? counter + i : counter, increment_counter, flags,
                               flags_start, flags_end, out + i * kBlake3CvLen);
  }
}

}  // namespace

const Blake3Ops& blake3Avx2Ops() {
  static const Blake3Ops kOps{blake3Sse41Ops().compress_in_place, blake3Sse41Ops().compress_xof,
                              hashManyAvx2};
  return kOps;
}

}  // namespace hfm::xet::detail
