// SPDX-License-Identifier: Apache-2.0
#include "common/time_util.h"

#include <cstdio>
#include <ctime>

namespace hfm::common {

std::string formatIso8601(std::chrono::system_clock::time_point when) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(when.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  int millis = static_cast<int>(ms % 1000);
  if (millis < 0) {
    millis += 1000;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  return buf;
}

std::optional<std::chrono::system_clock::time_point> parseIso8601(std::string_view text) {
  std::tm tm{};
  int millis = 0;
  std::string s(text);
  int n = std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon,
                      &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &millis);
  if (n < 6) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  std::time_t secs = timegm(&tm);
  // system_clock counts nanoseconds in 64 bits (years 1678 to 2261); a server's date outside
  // that range would overflow the conversion. One second of margin covers the milliseconds.
  constexpr auto kLimit = std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::duration::max())
                              .count() -
                          1;
  if (secs < -kLimit || secs > kLimit) {
    return std::nullopt;
  }
  return std::chrono::system_clock::from_time_t(secs) + std::chrono::milliseconds(n == 7 ? millis : 0);
}

std::int64_t unixSecondsNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace hfm::common
