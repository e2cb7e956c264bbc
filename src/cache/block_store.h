// SPDX-License-Identifier: Apache-2.0
#pragma once

// BlockStore: the content-addressed block cache as the read engine in src/fs sees it. A block is
// identified by (content id, block index); since a content id is a hash of the file's bytes, a
// stored block never needs invalidating, and identical files in different repos or revisions
// share blocks. LmdbBlockStore is the implementation; tests above the cache may supply fakes.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "cache/cache_error.h"

namespace hfm::cache {

// The longest content id accepted: a sha256 in hex (a git oid is 40).
inline constexpr std::size_t kMaxContentIdBytes = 64;

struct CacheStats {
  std::uint64_t blocks = 0;         // blocks stored
  std::uint64_t used_bytes = 0;     // LMDB pages in use x page size: what the budget counts
  std::uint64_t logical_bytes = 0;  // sum of the stored payload lengths
  std::uint64_t file_bytes = 0;     // high-water mark of the data file (it never shrinks)
  std::uint64_t budget_bytes = 0;   // effective budget (max_bytes, capped by the map size)
  std::uint64_t map_bytes = 0;      // size of the memory map
  // Counters since open.
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;          // includes corrupt blocks
  std::uint64_t corrupt_blocks = 0;  // checksum or header mismatches seen by read()
  std::uint64_t evicted_blocks = 0;
  std::uint64_t writes = 0;           // blocks written (or found already stored) successfully
  std::uint64_t failed_writes = 0;    // write() calls that returned an error
  std::uint64_t map_full = 0;         // write transactions that hit a full map (map too small?)
  std::uint64_t dropped_touches = 0;  // LRU touches lost because the touch buffer was full
  std::uint64_t rebuilds = 0;         // damaged environments replaced by empty ones at run time
  std::uint64_t disk_full = 0;        // write transactions the disk refused (ENOSPC, EDQUOT, EFBIG)
};

// One block for writeMany(); the views must outlive the call.
struct BlockWrite {
  std::string_view content_id;
  std::uint64_t index = 0;
  std::string_view data;
};

// Thread-safe: every method may be called from any thread concurrently. Errors are CacheError
// values; no method throws.
class BlockStore {
 public:
  virtual ~BlockStore() = default;

  // Copies up to out.size() bytes of block `index` of `content_id`, starting at
  // `offset_in_block`, into `out` and returns how many were copied (0 when the offset is at or
  // past the end of a short block). nullopt is a miss: absent, or failing its checksum (then it
  // is counted as corrupt and removed by a later write). On a miss `out` may have been written.
  virtual std::optional<std::size_t> read(std::string_view content_id, std::uint64_t index,
                                          std::uint64_t offset_in_block, std::span<char> out) = 0;

  // True when the block is stored. Cheap (no copy, no checksum, no LRU touch); meant for
  // planning fetches, so a later read() may still miss.
  virtual bool contains(std::string_view content_id, std::uint64_t index) const = 0;

  // contains(), and when the block is stored, asks the OS to start reading it from disk in the
  // background: the cache's map does no read-around of its own (random reads would pay for it),
  // so a sequential reader announces the blocks it will want.
  virtual bool warm(std::string_view content_id, std::uint64_t index) const {
    return contains(content_id, index);
  }

  // Stores a block: data.size() <= blockSize(), shorter only for a file's last block. Blocks from
  // concurrent callers are committed together. kFull when there is no room even after eviction;
  // the caller then serves the data uncached.
  virtual CacheStatus write(std::string_view content_id, std::uint64_t index,
                            std::string_view data) = 0;

  // Stores several blocks, as write() would each, in as few transactions as the store can:
  // many small records cost one commit instead of one each. Returns the first failure.
  virtual CacheStatus writeMany(std::span<const BlockWrite> writes) {
    CacheStatus first;
    for (const BlockWrite& w : writes) {
      CacheStatus st = write(w.content_id, w.index, w.data);
      if (!st && first) first = std::move(st);
    }
    return first;
  }

  // Applies pending LRU touches and lazy deletions and syncs the environment to disk.
  virtual void flush() = 0;
  virtual CacheStats stats() const = 0;
  // Evicts least recently used blocks until the pages in use are at most `to_bytes`.
  virtual CacheStatus prune(std::uint64_t to_bytes) = 0;
  // Removes every block. The data file keeps its size; its pages are reused.
  virtual CacheStatus clear() = 0;
  virtual std::uint32_t blockSize() const = 0;
};

}  // namespace hfm::cache
