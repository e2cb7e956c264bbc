// SPDX-License-Identifier: Apache-2.0
#pragma once

// Journal: the durable record of one writable view's pending changes (DESIGN.md §6). The fs
// layer keeps one per (endpoint, repo, branch); what the keys and values mean is its business.
//
// Storage: its own LMDB environment in options.dir, apart from the caches, and always synced:
// every mutating call returns only after its data is on disk, so a change recorded before a
// close()/fsync() returned survives kill -9 and power loss, and the next mount with the same
// cache dir finds it.
//
// Exclusive: open() takes flock(LOCK_EX | LOCK_NB) on <dir>/lock and holds it until destruction,
// so two mounts sharing a cache dir never commit the same changes twice. While it is held, any
// other open of the same dir, in this process or another, fails with kBusy. The lock belongs to
// the open file description: a child forked after open() shares it until it execs (the fd is
// close-on-exec) or exits, which is one more reason to open after daemonizing.
//
// Never discards data: damage (LMDB refuses the files, the data file is shorter than its pages,
// missing or emptied, or LMDB reported damage while it was in use) makes open() fail with
// kCorrupt and a message naming the directory; the files are left as found for the caller to
// report. Each value carries a CRC-32C: one that fails it is never returned (get() reports it
// absent, list() skips it) and is counted in corruptValues(), which the caller checks after a
// list() it is about to act on.
//
// Keys are 1 to kMaxKeyBytes bytes of any value; values may be several MiB (the map,
// JournalOptions::map_size, bounds the total: kFull when it is exhausted).
//
// Thread-safety: thread-safe. Reads run in their own read transactions and never wait for a
// writer; mutating calls are serialized.
//
// Lifetime: open after daemonizing; destroy only when no call is in flight.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cache/cache_error.h"

namespace hfm::cache {

struct JournalOptions {
  std::string dir;                        // created if missing (with parents), mode 0700
  std::uint64_t map_size = 256ull << 20;  // LMDB map size; 0 picks the default
};

struct JournalWrite {
  std::string key;
  std::optional<std::string> value;  // nullopt: erase the key (absent key: fine)
};

class Journal {
 public:
  static constexpr std::size_t kMaxKeyBytes = 511;  // LMDB's maximum key size

  static CacheResult<std::unique_ptr<Journal>> open(const JournalOptions& options);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // All writes in one transaction: all or nothing; durable on success. A key that is empty or
  // longer than kMaxKeyBytes fails the whole batch with kIo ("invalid argument").
  CacheStatus apply(const std::vector<JournalWrite>& writes);
  CacheStatus put(std::string_view key, std::string_view value);  // = apply of one write
  CacheStatus erase(std::string_view key);
  // nullopt when absent or damaged.
  std::optional<std::string> get(std::string_view key) const;
  // Every (key, value) whose key starts with prefix, in key order; damaged values are skipped.
  std::vector<std::pair<std::string, std::string>> list(std::string_view prefix = {}) const;
  const std::string& dir() const;

  // Values that failed their check, or reads LMDB failed, since open.
  std::uint64_t corruptValues() const;

 private:
  struct Impl;
  explicit Journal(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hfm::cache
