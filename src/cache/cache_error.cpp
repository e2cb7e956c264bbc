// SPDX-License-Identifier: Apache-2.0
#include "cache/cache_error.h"

namespace hfm::cache {

const char* toString(CacheErrorKind kind) {
  switch (kind) {
    case CacheErrorKind::kIo:
      return "io";
    case CacheErrorKind::kCorrupt:
      return "corrupt";
    case CacheErrorKind::kFull:
      return "full";
    case CacheErrorKind::kBusy:
      return "busy";
  }
  return "unknown";
}

}  // namespace hfm::cache
