// SPDX-License-Identifier: Apache-2.0
#pragma once

// Small parsers for values found in requests: entity tags and decimal numbers.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hfm::hubd {

// An entity tag without its weak prefix and quotes: W/"abc" and "abc" are both abc.
inline std::string normalizeEtag(std::string_view etag) {
  if (etag.substr(0, 2) == "W/") {
    etag.remove_prefix(2);
  }
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    etag = etag.substr(1, etag.size() - 2);
  }
  return std::string(etag);
}

// A plain decimal number (no sign, at most 19 digits); nullopt otherwise.
inline std::optional<std::uint64_t> parseDecimal(std::string_view text) {
  if (text.empty() || text.size() > 19) {
    return std::nullopt;
  }
  std::uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return v;
}

}  // namespace hfm::hubd
