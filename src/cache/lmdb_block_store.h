// SPDX-License-Identifier: Apache-2.0
#pragma once

// LmdbBlockStore: BlockStore on one LMDB environment in <dir>/blocks/.
//
// Layout, checksums, eviction accounting and crash behavior are described in docs/caching.md.
// In short: each value is a small header (length, a CRC-32C per 64 KiB chunk) plus the payload;
// an access-order index (tick -> key) drives LRU eviction by LMDB pages in use; reads record
// touches in a bounded in-memory buffer that a write transaction applies later, so a read never
// needs a write transaction.
//
// Thread-safety: thread-safe. Reads run in their own short LMDB read transactions (MDB_NOTLS) and
// never wait for a writer. Writes from any number of threads are queued; one of the waiting
// callers commits the whole queue in one write transaction (group commit).
//
// Lifetime: open() opens the environment (call it after daemonizing: a forked child must not
// inherit an open environment). Open one LmdbBlockStore per directory per process. Destruction
// applies pending touches, syncs and closes the environment; no call may be in flight.
//
// Errors: open() fails only when the directory cannot be used; a damaged environment is deleted
// and recreated instead, and rebuiltOnOpen()/rebuildReason() say so for the caller to log. Damage
// LMDB reports while open (MDB_CORRUPTED, ...) is a miss, logged, and the environment is rebuilt
// empty at the next operation boundary once the operations in flight have ended.

#include <cstdint>
#include <memory>
#include <string>

#include "cache/block_store.h"
#include "cache/cache_options.h"

namespace hfm::cache {

class LmdbBlockStore final : public BlockStore {
 public:
  static CacheResult<std::unique_ptr<LmdbBlockStore>> open(const CacheOptions& options);

  ~LmdbBlockStore() override;
  LmdbBlockStore(const LmdbBlockStore&) = delete;
  LmdbBlockStore& operator=(const LmdbBlockStore&) = delete;

  std::optional<std::size_t> read(std::string_view content_id, std::uint64_t index,
                                  std::uint64_t offset_in_block, std::span<char> out) override;
  bool contains(std::string_view content_id, std::uint64_t index) const override;
  bool warm(std::string_view content_id, std::uint64_t index) const override;
  CacheStatus write(std::string_view content_id, std::uint64_t index,
                    std::string_view data) override;
  CacheStatus writeMany(std::span<const BlockWrite> writes) override;
  void flush() override;
  CacheStats stats() const override;
  CacheStatus prune(std::uint64_t to_bytes) override;
  CacheStatus clear() override;
  std::uint32_t blockSize() const override;

  // True when open() found the environment damaged (or left open across a reboot without sync)
  // and recreated it empty; rebuildReason() says why. For the caller to log.
  bool rebuiltOnOpen() const;
  const std::string& rebuildReason() const;

 private:
  struct Impl;
  explicit LmdbBlockStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hfm::cache
