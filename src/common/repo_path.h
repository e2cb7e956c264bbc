// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string_view>

namespace hfm::common {

// A file path inside a repository, as the Hub and a POSIX filesystem can both hold it:
// relative, '/'-separated, no empty, "." or ".." segment, no NUL or control character, each
// segment at most 255 bytes, 4096 bytes in all.
bool isValidRepoPath(std::string_view path);

}  // namespace hfm::common
