// SPDX-License-Identifier: Apache-2.0
#pragma once

// Invariant checks for the fuzz targets: a broken invariant aborts, which libFuzzer records as
// a crash with its input, exactly like a sanitizer report.

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "common/hex.h"

#define HFM_FUZZ_CHECK(cond)                                                              \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      std::fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                       \
    }                                                                                     \
  } while (false)

namespace hfm::fuzz {

// The form every parser promises for ids it accepts: lower-case hex of exactly `length` digits.
inline bool isLowerHex(std::string_view text, std::size_t length) {
  return common::isHex(text, length) && text.find_first_of("ABCDEF") == std::string_view::npos;
}

}  // namespace hfm::fuzz
