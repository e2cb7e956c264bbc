// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hfm::common {

// "2023-03-21T09:05:27.000Z", the form the Hub uses for dates.
std::string formatIso8601(std::chrono::system_clock::time_point when);
std::optional<std::chrono::system_clock::time_point> parseIso8601(std::string_view text);

std::int64_t unixSecondsNow();

}  // namespace hfm::common
