// SPDX-License-Identifier: Apache-2.0
// BLAKE3 with SSE4.1. Built with -msse4.1; blake3.cpp calls in only after checking the CPU.
//
// Two layouts. compress*: one block, the 4x4 state as four row vectors, the diagonal step made
// into a column step by rotating rows 1-3. hashMany: four inputs at once, one per lane; each
// vector holds the same state word of the four inputs, so a G step is plain lane-wise
// arithmetic and the message must be transposed on load. x86 is little-endian, so the block
// bytes are the message words as they lie in memory.

#include <immintrin.h>

#include <cstring>

#include "xet/blake3_internal.h"

namespace hfm::xet::detail {
namespace {

// -Wsign-conversion: the intrinsics take int, BLAKE3 words are uint32 (C++20 wraps modulo 2^32).
inline int asInt(std::uint32_t w) { return static_cast<int>(w); }

inline __m128i add(__m128i a, __m128i b) { return _mm_add_epi32(a, b); }
inline __m128i xorv(__m128i a, __m128i b) { return _mm_xor_si128(a, b); }
// Right rotations of every 32-bit lane. 16 and 8 are whole bytes, so one byte shuffle does them.
inline __m128i rotr16(__m128i x) {
  return _mm_shuffle_epi8(x, _mm_set_epi8(13, 12, 15, 14, 9, 8, 11, 10, 5, 4, 7, 6, 1, 0, 3, 2));
}
inline __m128i rotr8(__m128i x) {
  return _mm_shuffle_epi8(x, _mm_set_epi8(12, 15, 14, 13, 8, 11, 10, 9, 4, 7, 6, 5, 0, 3, 2, 1));
}
inline __m128i rotr12(__m128i x) {
  return _mm_or_si128(_mm_srli_epi32(x, 12), _mm_slli_epi32(x, 20));
}
inline __m128i rotr7(__m128i x) {
  return _mm_or_si128(_mm_srli_epi32(x, 7), _mm_slli_epi32(x, 25));
}

inline void mixG(__m128i& a, __m128i& b, __m128i& c, __m128i& d, __m128i mx, __m128i my) {
  a = add(add(a, b), mx);
  d = rotr16(xorv(d, a));
  c = add(c, d);
  b = rotr12(xorv(b, c));
  a = add(add(a, b), my);
  d = rotr8(xorv(d, a));
  c = add(c, d);
  b = rotr7(xorv(b, c));
}

// ---- One block, row layout. ----

struct Rows {
  __m128i r0, r1, r2, r3;
};

inline __m128i gather4(const std::array<std::uint32_t, 16>& m, std::uint8_t i0, std::uint8_t i1,
                       std::uint8_t i2, std::uint8_t i3) {
  return _mm_setr_epi32(asInt(m[i0]), asInt(m[i1]), asInt(m[i2]), asInt(m[i3]));
}

Rows compressRows(const Blake3Cv& cv, const std::uint8_t* block, std::uint8_t block_len,
                  std::uint64_t counter, std::uint8_t flags) {
  std::array<std::uint32_t, 16> m{};
  std::memcpy(m.data(), block, sizeof(m));
  Rows s{};
  s.r0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(cv.data()));
  s.r1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(cv.data() + 4));
  s.r2 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(kBlake3Iv.data()));
  s.r3 = _mm_setr_epi32(asInt(static_cast<std::uint32_t>(counter)),
                        asInt(static_cast<std::uint32_t>(counter >> 32)), block_len, flags);
  for (const auto& k : kBlake3Schedule) {
    mixG(s.r0, s.r1, s.r2, s.r3, gather4(m, k[0], k[2], k[4], k[6]),
         gather4(m, k[1], k[3], k[5], k[7]));
    // Rotate rows 1-3 left by 1, 2, 3 lanes: the diagonals line up as columns.
    s.r1 = _mm_shuffle_epi32(s.r1, _MM_SHUFFLE(0, 3, 2, 1));
    s.r2 = _mm_shuffle_epi32(s.r2, _MM_SHUFFLE(1, 0, 3, 2));
    s.r3 = _mm_shuffle_epi32(s.r3, _MM_SHUFFLE(2, 1, 0, 3));
    mixG(s.r0, s.r1, s.r2, s.r3, gather4(m, k[8], k[10], k[12], k[14]),
         gather4(m, k[9], k[11], k[13], k[15]));
    s.r1 = _mm_shuffle_epi32(s.r1, _MM_SHUFFLE(2, 1, 0, 3));
    s.r2 = _mm_shuffle_epi32(s.r2, _MM_SHUFFLE(1, 0, 3, 2));
    s.r3 = _mm_shuffle_epi32(s.r3, _MM_SHUFFLE(0, 3, 2, 1));
  }
  return s;
}

void compressInPlaceSse41(Blake3Cv& cv, const std::uint8_t* block, std::uint8_t block_len,
                          std::uint64_t counter, std::uint8_t flags) {
  const Rows s = compressRows(cv, block, block_len, counter, flags);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(cv.data()), xorv(s.r0, s.r2));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(cv.data() + 4), xorv(s.r1, s.r3));
}

void compressXofSse41(const Blake3Cv& cv, const std::uint8_t* block, std::uint8_t block_len,
                      std::uint64_t counter, std::uint8_t flags, std::uint8_t* out) {
  const Rows s = compressRows(cv, block, block_len, counter, flags);
  const __m128i cv_lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(cv.data()));
  const __m128i cv_hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(cv.data() + 4));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out), xorv(s.r0, s.r2));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 16), xorv(s.r1, s.r3));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 32), xorv(s.r2, cv_lo));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 48), xorv(s.r3, cv_hi));
}

// ---- Four inputs, one per lane. ----

constexpr std::size_t kLanes = 4;
// A plain array in a struct: std::array<__m128i> drops the vector type's attributes (GCC
// -Wignored-attributes).
struct Words4 {
  __m128i w[16];
};

// Rows a..d become columns: out[i] holds word i of a, b, c and d.
inline void transpose4(__m128i& a, __m128i& b, __m128i& c, __m128i& d) {
  const __m128i ab_lo = _mm_unpacklo_epi32(a, b);
  const __m128i cd_lo = _mm_unpacklo_epi32(c, d);
  const __m128i ab_hi = _mm_unpackhi_epi32(a, b);
  const __m128i cd_hi = _mm_unpackhi_epi32(c, d);
  a = _mm_unpacklo_epi64(ab_lo, cd_lo);
  b = _mm_unpackhi_epi64(ab_lo, cd_lo);
  c = _mm_unpacklo_epi64(ab_hi, cd_hi);
  d = _mm_unpackhi_epi64(ab_hi, cd_hi);
}

// Loads one 64-byte block of each of the four inputs (stride bytes apart), transposed.
inline Words4 loadMessage4(const std::uint8_t* block, std::size_t stride) {
  Words4 m{};
  for (std::size_t q = 0; q < 4; ++q) {
    for (std::size_t lane = 0; lane < kLanes; ++lane) {
      m.w[4 * q + lane] =
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + lane * stride + 16 * q));
    }
    transpose4(m.w[4 * q], m.w[4 * q + 1], m.w[4 * q + 2], m.w[4 * q + 3]);
  }
  return m;
}

inline void round4(Words4& v, const Words4& m, const std::array<std::uint8_t, 16>& k) {
  mixG(v.w[0], v.w[4], v.w[8], v.w[12], m.w[k[0]], m.w[k[1]]);
  mixG(v.w[1], v.w[5], v.w[9], v.w[13], m.w[k[2]], m.w[k[3]]);
  mixG(v.w[2], v.w[6], v.w[10], v.w[14], m.w[k[4]], m.w[k[5]]);
  mixG(v.w[3], v.w[7], v.w[11], v.w[15], m.w[k[6]], m.w[k[7]]);
  mixG(v.w[0], v.w[5], v.w[10], v.w[15], m.w[k[8]], m.w[k[9]]);
  mixG(v.w[1], v.w[6], v.w[11], v.w[12], m.w[k[10]], m.w[k[11]]);
  mixG(v.w[2], v.w[7], v.w[8], v.w[13], m.w[k[12]], m.w[k[13]]);
  mixG(v.w[3], v.w[4], v.w[9], v.w[14], m.w[k[14]], m.w[k[15]]);
}

void hash4(const std::uint8_t* inputs, std::size_t blocks, const Blake3Cv& key,
           std::uint64_t counter, bool increment_counter, std::uint8_t flags,
           std::uint8_t flags_start, std::uint8_t flags_end, std::uint8_t* out) {
  std::array<std::uint32_t, kLanes> ctr_lo{};
  std::array<std::uint32_t, kLanes> ctr_hi{};
  for (std::size_t lane = 0; lane < kLanes; ++lane) {
    const std::uint64_t c = increment_counter ? counter + lane : counter;
    ctr_lo[lane] = static_cast<std::uint32_t>(c);
    ctr_hi[lane] = static_cast<std::uint32_t>(c >> 32);
  }
  __m128i h[8];
  for (std::size_t i = 0; i < 8; ++i) {
    h[i] = _mm_set1_epi32(asInt(key[i]));
  }
  const std::size_t stride = blocks * kBlake3BlockLen;
  for (std::size_t b = 0; b < blocks; ++b) {
    std::uint8_t block_flags = flags;
    block_flags |= b == 0 ? flags_start : 0;
    block_flags |= b + 1 == blocks ? flags_end : 0;
    const Words4 m = loadMessage4(inputs + b * kBlake3BlockLen, stride);
    Words4 v = {{h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7],
                 _mm_set1_epi32(asInt(kBlake3Iv[0])), _mm_set1_epi32(asInt(kBlake3Iv[1])),
                 _mm_set1_epi32(asInt(kBlake3Iv[2])), _mm_set1_epi32(asInt(kBlake3Iv[3])),
                 _mm_loadu_si128(reinterpret_cast<const __m128i*>(ctr_lo.data())),
                 _mm_loadu_si128(reinterpret_cast<const __m128i*>(ctr_hi.data())),
                 _mm_set1_epi32(static_cast<int>(kBlake3BlockLen)), _mm_set1_epi32(block_flags)}};
    for (const auto& k : kBlake3Schedule) {
      round4(v, m, k);
    }
    for (std::size_t i = 0; i < 8; ++i) {
      h[i] = xorv(v.w[i], v.w[i + 8]);
    }
  }
  // Back from "word i of every lane" to "the 8 words of lane l".
  transpose4(h[0], h[1], h[2], h[3]);
  transpose4(h[4], h[5], h[6], h[7]);
  for (std::size_t lane = 0; lane < kLanes; ++lane) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + lane * kBlake3CvLen), h[lane]);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + lane * kBlake3CvLen + 16), h[lane + 4]);
  }
}

void hashOneSse41(const std::uint8_t* input, std::size_t blocks, const Blake3Cv& key,
                  std::uint64_t counter, std::uint8_t flags, std::uint8_t flags_start,
                  std::uint8_t flags_end, std::uint8_t* out) {
  Blake3Cv cv = key;
  for (std::size_t b = 0; b < blocks; ++b) {
    std::uint8_t block_flags = flags;
    block_flags |= b == 0 ? flags_start : 0;
    block_flags |= b + 1 == blocks ? flags_end : 0;
    compressInPlaceSse41(cv, input + b * kBlake3BlockLen, kBlake3BlockLen, counter, block_flags);
  }
  std::memcpy(out, cv.data(), kBlake3CvLen);
}

void hashManySse41(const std::uint8_t* inputs, std::size_t num_inputs, std::size_t blocks_per_input,
                   const Blake3Cv& key, std::uint64_t counter, bool increment_counter,
                   std::uint8_t flags, std::uint8_t flags_start, std::uint8_t flags_end,
                   std::uint8_t* out) {
  const std::size_t input_len = blocks_per_input * kBlake3BlockLen;
  std::size_t i = 0;
  for (; i + kLanes <= num_inputs; i += kLanes) {
    hash4(inputs + i * input_len, blocks_per_input, key, increment_counter ? counter + i : counter,
          increment_counter, flags, flags_start, flags_end, out + i * kBlake3CvLen);
  }
  for (; i < num_inputs; ++i) {
    hashOneSse41(inputs + i * input_len, blocks_per_input, key,
                 increment_counter ? counter + i : counter, flags, flags_start, flags_end,
                 out + i * kBlake3CvLen);
  }
}

}  // namespace

const Blake3Ops& blake3Sse41Ops() {
  static constexpr Blake3Ops kOps{compressInPlaceSse41, compressXofSse41, hashManySse41};
  return kOps;
}

}  // namespace hfm::xet::detail
