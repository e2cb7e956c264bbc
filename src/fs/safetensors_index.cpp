// SPDX-License-Identifier: Apache-2.0
#include "fs/safetensors_index.h"

#include <algorithm>
#include <charconv>

namespace hfm::fs {

std::optional<std::uint64_t> safetensorsHeaderLength(std::string_view first8,
                                                     std::uint64_t file_size) {
  if (first8.size() < 8) {
    return std::nullopt;
  }
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) {
    n = (n << 8) | static_cast<unsigned char>(first8[static_cast<std::size_t>(i)]);
  }
  if (n < 2 || n > kMaxSafetensorsHeader || 8 + n > file_size) {
    return std::nullopt;
  }
  return n;
}

std::optional<std::vector<std::uint64_t>> safetensorsBoundaries(std::string_view header,
                                                                std::uint64_t file_size) {
  // Only the offsets matter, so a scan for the "data_offsets" arrays is enough; a header that
  // does not parse that way is simply not used.
  if (header.empty() || header.front() != '{') {
    return std::nullopt;
  }
  const std::uint64_t data_start = 8 + header.size();
  constexpr std::string_view kKey = "\"data_offsets\"";
  std::vector<std::uint64_t> out;
  std::size_t pos = 0;
  while ((pos = header.find(kKey, pos)) != std::string_view::npos) {
    pos += kKey.size();
    std::uint64_t values[2] = {0, 0};
    for (auto& v : values) {
      while (pos < header.size() && (header[pos] == ' ' || header[pos] == ':' ||
                                     header[pos] == '[' || header[pos] == ',')) {
        ++pos;
      }
      auto [next, ec] = std::from_chars(header.data() + pos, header.data() + header.size(), v);
      if (ec != std::errc()) {
        return std::nullopt;
      }
      pos = static_cast<std::size_t>(next - header.data());
    }
    if (values[0] > values[1] || data_start + values[1] > file_size) {
      return std::nullopt;
    }
    out.push_back(data_start + values[0]);
    out.push_back(data_start + values[1]);
  }
  if (out.empty()) {
    return std::nullopt;
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

bool isSafetensorsPath(std::string_view path) {
  constexpr std::string_view kSuffix = ".safetensors";
  return path.size() >= kSuffix.size() &&
         path.compare(path.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0;
}

}  // namespace hfm::fs
