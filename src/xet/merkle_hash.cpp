// SPDX-License-Identifier: Apache-2.0
#include "xet/merkle_hash.h"

#include "common/hex.h"

namespace hfm::xet {
namespace {

constexpr std::size_t kGroup = 8;

std::uint64_t loadLe64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (std::size_t i = kGroup; i-- > 0;) v = (v << 8) | p[i];
  return v;
}

// The text form prints every 8-byte group back to front: text byte i shows raw byte twisted(i).
constexpr std::size_t twisted(std::size_t i) { return i - i % kGroup + (kGroup - 1 - i % kGroup); }

}  // namespace

std::optional<MerkleHash> MerkleHash::fromHex(std::string_view text) {
  if (!common::isHex(text, 2 * MerkleHash::kSize)) return std::nullopt;
  MerkleHash h;
  for (std::size_t i = 0; i < MerkleHash::kSize; ++i) {
    h.bytes[twisted(i)] = static_cast<std::uint8_t>(common::hexDigitValue(text[2 * i]) * 16 +
                                                    common::hexDigitValue(text[2 * i + 1]));
  }
  return h;
}

std::string MerkleHash::hex() const {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(2 * kSize, '0');
  for (std::size_t i = 0; i < kSize; ++i) {
    const std::uint8_t b = bytes[twisted(i)];
    out[2 * i] = kDigits[b >> 4];
    out[2 * i + 1] = kDigits[b & 0xF];
  }
  return out;
}

std::uint64_t MerkleHash::tailWord() const { return loadLe64(bytes.data() + 3 * kGroup); }
std::uint64_t MerkleHash::headWord() const { return loadLe64(bytes.data()); }

bool MerkleHash::isZero() const {
  for (std::uint8_t b : bytes) {
    if (b != 0) return false;
  }
  return true;
}

}  // namespace hfm::xet
