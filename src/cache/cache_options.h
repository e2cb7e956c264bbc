// SPDX-License-Identifier: Apache-2.0
#pragma once

// Configuration of the on-disk cache, filled in by tools/hf-mount from flags and config
// (STYLE.md §4.9). Units are in the names; see docs/caching.md for the rules behind each default.

#include <chrono>
#include <cstdint>
#include <filesystem>

namespace hfm::cache {

inline constexpr std::uint64_t kKiB = 1024;
inline constexpr std::uint64_t kMiB = 1024 * kKiB;
inline constexpr std::uint64_t kGiB = 1024 * kMiB;

struct CacheOptions {
  // Cache directory. Blocks live in dir/blocks/, metadata in dir/meta/ (two LMDB environments).
  std::filesystem::path dir;
  // Budget for the block cache, counted in LMDB pages in use (docs/caching.md).
  std::uint64_t max_bytes = 10 * kGiB;
  // Size of the block environment's memory map (address space, not disk). 0 picks
  // max_bytes + max(max_bytes / 4, 256 MiB), at least 1 GiB. A smaller explicit value also
  // lowers the effective budget to 7/8 of the map.
  std::uint64_t map_size = 0;
  // Block size of a NEW cache; an existing cache keeps the block size it was created with.
  std::uint32_t block_size = static_cast<std::uint32_t>(kMiB);
  // LMDB reader slots per environment: at least FUSE worker threads + background threads.
  unsigned max_readers = 256;
  // Sync every commit. Off by default: a lost block is only a miss, and an environment that was
  // open when the machine went down is rebuilt on the next open (docs/caching.md).
  bool sync = false;
  // Map size of the metadata environment (dir/meta/), which has no eviction.
  std::uint64_t metadata_map_size = kGiB;
  // How often a background thread applies the LRU touches recorded by reads. Zero: no thread;
  // touches are then applied by the next write or flush().
  std::chrono::milliseconds touch_flush_interval{1000};
};

}  // namespace hfm::cache
