// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hfm::common {

// The value of one hex digit (either case), or -1.
int hexDigitValue(char c);

// Lower-case hex of bytes.
std::string toHex(std::span<const std::uint8_t> bytes);
// Decodes hex (either case); nullopt on odd length or a non-hex character.
std::optional<std::vector<std::uint8_t>> fromHex(std::string_view hex);
// True when `text` is exactly `length` lower- or upper-case hex digits.
bool isHex(std::string_view text, std::size_t length);

}  // namespace hfm::common
