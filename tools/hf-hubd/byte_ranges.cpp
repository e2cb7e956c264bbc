// SPDX-License-Identifier: Apache-2.0
#include "hf-hubd/byte_ranges.h"

#include <algorithm>
#include <string_view>

#include "hf-hubd/http_text.h"

namespace hfm::hubd {

RangeKind parseRange(const std::string& header, std::uint64_t size, ByteRange& out) {
  constexpr std::string_view kPrefix = "bytes=";
  if (header.rfind(kPrefix, 0) != 0 || header.find(',') != std::string::npos) {
    return RangeKind::kNone;
  }
  std::string spec = header.substr(kPrefix.size());
  auto dash = spec.find('-');
  if (dash == std::string::npos) {
    return RangeKind::kNone;
  }
  auto number = [](const std::string& s, std::uint64_t& v) {
    auto parsed = parseDecimal(s);
    v = parsed.value_or(0);
    return parsed.has_value();
  };
  std::string a = spec.substr(0, dash);
  std::string b = spec.substr(dash + 1);
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  if (a.empty()) {
    if (!number(b, last) || last == 0) {
      return last == 0 && !b.empty() ? RangeKind::kUnsatisfiable : RangeKind::kNone;
    }
    if (size == 0) {
      return RangeKind::kUnsatisfiable;
    }
    out = {size - std::min(last, size), size - 1};
    return RangeKind::kSatisfiable;
  }
  if (!number(a, first) || (!b.empty() && (!number(b, last) || last < first))) {
    return RangeKind::kNone;
  }
  if (first >= size) {
    return RangeKind::kUnsatisfiable;
  }
  out = {first, b.empty() ? size - 1 : std::min(last, size - 1)};
  return RangeKind::kSatisfiable;
}

std::optional<std::vector<ByteRange>> parseRangeList(const std::string& header) {
  constexpr std::string_view kPrefix = "bytes=";
  if (header.rfind(kPrefix, 0) != 0) {
    return std::nullopt;
  }
  std::vector<ByteRange> out;
  std::string_view rest = std::string_view(header).substr(kPrefix.size());
  while (!rest.empty()) {
    auto comma = rest.find(',');
    std::string_view spec = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    while (!spec.empty() && spec.front() == ' ') spec.remove_prefix(1);
    auto dash = spec.find('-');
    if (dash == std::string_view::npos) {
      return std::nullopt;
    }
    auto first = parseDecimal(spec.substr(0, dash));
    auto last = parseDecimal(spec.substr(dash + 1));
    if (!first || !last || *last < *first) {
      return std::nullopt;
    }
    out.push_back({*first, *last});
  }
  if (out.empty()) {
    return std::nullopt;
  }
  return out;
}

}  // namespace hfm::hubd
