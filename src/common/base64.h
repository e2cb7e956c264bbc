// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace hfm::common {

// Standard alphabet with '=' padding.
std::string base64Encode(std::string_view data);
// Accepts the standard and the URL-safe alphabet, padded or not, and ignores ASCII whitespace;
// nullopt on any other character.
std::optional<std::string> base64Decode(std::string_view text);

}  // namespace hfm::common
