// SPDX-License-Identifier: Apache-2.0
#pragma once

// MetadataStore: a key -> value map for the fs layer's immutable metadata (tree listings and file
// metadata of commit shas), so a remount of a warm repo makes no listing requests.
//
// It lives in its own LMDB environment, <dir>/meta/, apart from the blocks: clearing, evicting or
// rebuilding the block cache keeps it, and the block budget does not count it. Entries never
// expire and are never evicted; when its map is full, put() returns kFull (clear() or a larger
// CacheOptions::metadata_map_size are the remedies). Values carry a CRC-32C; a damaged value
// reads as absent. Keys of any length are accepted (long keys are stored under their sha256).
// Values may be several MiB.
//
// Thread-safety: thread-safe. get() runs in its own read transaction and never waits for a
// writer; put()/erase()/clear() are serialized.
//
// Lifetime: like LmdbBlockStore (open after daemonizing, once per directory per process).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "cache/cache_error.h"
#include "cache/cache_options.h"

namespace hfm::cache {

struct MetadataStats {
  std::uint64_t entries = 0;
  std::uint64_t used_bytes = 0;  // LMDB pages in use x page size
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;
  std::uint64_t corrupt_values = 0;
};

class MetadataStore {
 public:
  // Uses options.dir / "meta", metadata_map_size, max_readers and sync.
  static CacheResult<std::unique_ptr<MetadataStore>> open(const CacheOptions& options);

  ~MetadataStore();
  MetadataStore(const MetadataStore&) = delete;
  MetadataStore& operator=(const MetadataStore&) = delete;

  // nullopt when absent or damaged.
  std::optional<std::string> get(std::string_view key) const;
  CacheStatus put(std::string_view key, std::string_view value);
  // Erasing an absent key succeeds.
  CacheStatus erase(std::string_view key);
  CacheStatus clear();
  MetadataStats stats() const;

  bool rebuiltOnOpen() const;
  const std::string& rebuildReason() const;

 private:
  struct Impl;
  explicit MetadataStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hfm::cache
