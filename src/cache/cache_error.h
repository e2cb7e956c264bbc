// SPDX-License-Identifier: Apache-2.0
#pragma once

// The cache layer's error type (STYLE.md §4.2: one error enum per layer). A cache miss is not an
// error: lookups return std::optional. Callers of the block and metadata stores treat every
// CacheError as "serve this request uncached" and log it; none of them is fatal to the
// filesystem. The journal is different: its errors mean pending changes are not recorded (or
// cannot be read back), and the caller reports them.

#include <string>
#include <utility>

#include "common/result.h"

namespace hfm::cache {

enum class CacheErrorKind {
  kIo,       // LMDB or file-system failure, or an invalid argument (a caller bug)
  kCorrupt,  // the environment is damaged; the caches rebuild it on the next open, the journal
             // leaves it as found (its data is not ours to discard)
  kFull,     // no room even after eviction (map full, or space pinned by readers)
  kBusy,     // another open holds the directory's lock (another hf-mount process, or another
             // view of this one, uses the same journal); retrying does not help while it runs
};

struct CacheError {
  CacheErrorKind kind = CacheErrorKind::kIo;
  std::string message;
};

template <class T>
using CacheResult = common::Result<T, CacheError>;
using CacheStatus = common::Result<void, CacheError>;

inline common::Unexpected<CacheError> makeCacheError(CacheErrorKind kind, std::string message) {
  return common::Unexpected<CacheError>(CacheError{kind, std::move(message)});
}

const char* toString(CacheErrorKind kind);

}  // namespace hfm::cache
