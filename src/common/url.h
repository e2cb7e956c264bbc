// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hfm::common {

// Decodes %XX escapes; '+' stays '+' unless `plus_is_space`. nullopt on a malformed escape.
std::optional<std::string> percentDecode(std::string_view text, bool plus_is_space = false);

// Escapes everything but RFC 3986 unreserved characters; '/' is kept when `keep_slash`.
std::string percentEncode(std::string_view text, bool keep_slash = false);

// Splits a raw URL path ("/a/b%2Fc/") on literal '/' and decodes each segment, so an encoded
// slash stays inside its segment. Empty segments are kept except the leading one.
std::optional<std::vector<std::string>> splitRawPath(std::string_view raw_path);

// Parses "a=1&b=x%20y&a=2" into ordered (key, value) pairs, '+' meaning space.
std::optional<std::vector<std::pair<std::string, std::string>>> parseQuery(std::string_view query);

}  // namespace hfm::common
