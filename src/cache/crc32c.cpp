// SPDX-License-Identifier: Apache-2.0
#include "cache/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace hfm::cache {
namespace {

constexpr std::uint32_t kPolynomial = 0x82F63B78u;

// Slicing-by-8 tables: kTables[k][b] is the CRC of byte b followed by k zero bytes.
using Tables = std::array<std::array<std::uint32_t, 256>, 8>;

constexpr Tables makeTables() {
  Tables t{};
  for (std::uint32_t b = 0; b < 256; ++b) {
    std::uint32_t crc = b;
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 1u) != 0 ? (crc >> 1) ^ kPolynomial : crc >> 1;
    }
    t[0][b] = crc;
  }
  for (std::size_t k = 1; k < 8; ++k) {
    for (std::size_t b = 0; b < 256; ++b) {
      std::uint32_t prev = t[k - 1][b];
      t[k][b] = (prev >> 8) ^ t[0][prev & 0xFFu];
    }
  }
  return t;
}

constexpr Tables kTables = makeTables();

#if defined(__x86_64__)
bool detectHardware() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("sse4.2") != 0;
}
#endif

}  // namespace

std::uint32_t crc32cPortable(std::uint32_t crc, const void* data, std::size_t size) {
  const auto* p = static_cast<const unsigned char*>(data);
  std::uint32_t c = ~crc;
  while (size >= 8) {
    std::uint32_t lo = 0;
    std::uint32_t hi = 0;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + 4, 4);
    // The tables are defined over little-endian words; x86 and aarch64 Linux both are.
    lo ^= c;
    c = kTables[7][lo & 0xFFu] ^ kTables[6][(lo >> 8) & 0xFFu] ^ kTables[5][(lo >> 16) & 0xFFu] ^
        kTables[4][lo >> 24] ^ kTables[3][hi & 0xFFu] ^ kTables[2][(hi >> 8) & 0xFFu] ^
        kTables[1][(hi >> 16) & 0xFFu] ^ kTables[0][hi >> 24];
    p += 8;
    size -= 8;
  }
  while (size > 0) {
    c = (c >> 8) ^ kTables[0][(c ^ *p) & 0xFFu];
    ++p;
    --size;
  }
  return ~c;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) std::uint32_t crc32cHardware(std::uint32_t crc, const void* data,
                                                               std::size_t size) {
  const auto* p = static_cast<const unsigned char*>(data);
  std::uint64_t c = ~crc;
  while (size >= 8) {
    std::uint64_t word = 0;
    std::memcpy(&word, p, 8);
    c = _mm_crc32_u64(c, word);
    p += 8;
    size -= 8;
  }
  auto c32 = static_cast<std::uint32_t>(c);
  while (size > 0) {
    c32 = _mm_crc32_u8(c32, *p);
    ++p;
    --size;
  }
  return ~c32;
}

// Three equal-length buffers at once: the crc32 instruction has a latency of three cycles and a
// throughput of one, so three independent chains keep the unit busy.
__attribute__((target("sse4.2"))) void crc32cHardware3(const unsigned char* a,
                                                       const unsigned char* b,
                                                       const unsigned char* c, std::size_t size,
                                                       std::uint32_t* out) {
  std::uint64_t ca = 0xFFFFFFFFu;
  std::uint64_t cb = 0xFFFFFFFFu;
  std::uint64_t cc = 0xFFFFFFFFu;
  std::size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    std::uint64_t wa = 0;
    std::uint64_t wb = 0;
    std::uint64_t wc = 0;
    std::memcpy(&wa, a + i, 8);
    std::memcpy(&wb, b + i, 8);
    std::memcpy(&wc, c + i, 8);
    ca = _mm_crc32_u64(ca, wa);
    cb = _mm_crc32_u64(cb, wb);
    cc = _mm_crc32_u64(cc, wc);
  }
  auto ra = static_cast<std::uint32_t>(ca);
  auto rb = static_cast<std::uint32_t>(cb);
  auto rc = static_cast<std::uint32_t>(cc);
  for (; i < size; ++i) {
    ra = _mm_crc32_u8(ra, a[i]);
    rb = _mm_crc32_u8(rb, b[i]);
    rc = _mm_crc32_u8(rc, c[i]);
  }
  out[0] = ~ra;
  out[1] = ~rb;
  out[2] = ~rc;
}

bool crc32cHasHardware() {
  static const bool kHasHardware = detectHardware();
  return kHasHardware;
}
#else
std::uint32_t crc32cHardware(std::uint32_t crc, const void* data, std::size_t size) {
  return crc32cPortable(crc, data, size);
}

bool crc32cHasHardware() { return false; }
#endif

void crc32cChunks(const void* data, std::size_t size, std::size_t chunk_size, std::uint32_t* out) {
  const auto* p = static_cast<const unsigned char*>(data);
  std::size_t i = 0;
#if defined(__x86_64__)
  if (crc32cHasHardware()) {
    for (; size - i >= 3 * chunk_size; i += 3 * chunk_size) {
      crc32cHardware3(p + i, p + i + chunk_size, p + i + 2 * chunk_size, chunk_size, out);
      out += 3;
    }
  }
#endif
  for (; i < size; i += chunk_size) {
    std::size_t n = size - i < chunk_size ? size - i : chunk_size;
    *out++ = crc32c(0, p + i, n);
  }
}

std::uint32_t crc32c(std::uint32_t crc, const void* data, std::size_t size) {
  return crc32cHasHardware() ? crc32cHardware(crc, data, size) : crc32cPortable(crc, data, size);
}

}  // namespace hfm::cache
