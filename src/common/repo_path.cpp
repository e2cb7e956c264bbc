// SPDX-License-Identifier: Apache-2.0
#include "common/repo_path.h"

namespace hfm::common {

bool isValidRepoPath(std::string_view path) {
  if (path.empty() || path.size() > 4096) {
    return false;
  }
  std::size_t start = 0;
  while (true) {
    std::size_t slash = path.find('/', start);
    std::string_view segment =
        path.substr(start, slash == std::string_view::npos ? slash : slash - start);
    if (segment.empty() || segment == "." || segment == ".." || segment.size() > 255) {
      return false;
    }
    for (char c : segment) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
        return false;
      }
    }
    if (slash == std::string_view::npos) {
      return true;
    }
    start = slash + 1;
  }
}

}  // namespace hfm::common
