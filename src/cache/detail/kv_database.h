// SPDX-License-Identifier: Apache-2.0
#pragma once

// KvDatabase: one key -> value database with checksummed values in its own LMDB environment; the
// storage under MetadataStore and Journal (docs/caching.md has both layouts).
//
// Two databases: "info" holds the format record ("format_version", u32 little-endian) and "kv"
// the entries. A kv value = header + stored key + value. Header (little-endian):
//   u32 magic | u16 version (1) | u16 zero | u32 stored key length | u32 value length |
//   u32 CRC-32C of (the first 16 header bytes, [the LMDB key], stored key, value)
// The LMDB key is covered when KvFormat::crc_covers_key is set, so a damaged key is caught too;
// MetadataStore's format predates that and keeps it off.
//
// Thread-safety: thread-safe. Reads run in pooled read transactions and never wait for a
// writer; writes are serialized by a mutex that is a leaf lock.
//
// Errors: a value that fails its check, or a read LMDB reports as failed, reads as absent and is
// counted in corruptValues(); LMDB damage also marks the environment (Environment::markCorrupt).

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cache/cache_error.h"
#include "cache/detail/environment.h"
#include "cache/detail/lmdb_handles.h"

namespace hfm::cache::detail {

inline constexpr std::size_t kMaxKvKeyBytes = 511;  // LMDB's default maximum key size
inline constexpr std::size_t kMaxKvValueBytes = std::size_t{1} << 31;

struct KvFormat {
  std::uint32_t record_version = 1;  // any other recorded version is damage
  std::uint32_t value_magic = 0;
  bool crc_covers_key = false;
};

struct KvWrite {
  std::string_view key;                   // the LMDB key: 1 to kMaxKvKeyBytes bytes
  std::string_view stored_key;            // kept inside the value (see MetadataStore)
  std::optional<std::string_view> value;  // nullopt: delete the key (an absent key is fine)
};

struct KvUsage {
  std::uint64_t entries = 0;
  std::uint64_t used_bytes = 0;  // LMDB pages in use x page size
};

class KvDatabase {
 public:
  // config.max_dbs is set here.
  static CacheResult<std::unique_ptr<KvDatabase>> open(EnvConfig config, const KvFormat& format);
  ~KvDatabase();
  KvDatabase(const KvDatabase&) = delete;
  KvDatabase& operator=(const KvDatabase&) = delete;

  // Every write in one transaction: all or nothing. Sizes are checked before the transaction
  // begins (kIo, "invalid argument"). `what` starts every error message.
  CacheStatus write(std::span<const KvWrite> writes, std::string_view what);
  CacheStatus clear(std::string_view what);

  // The value under `key` if it passes its check and was stored with `stored_key`.
  std::optional<std::string> get(std::string_view key, std::string_view stored_key) const;
  // Every intact (key, value) whose key starts with `prefix`, in key order.
  std::vector<std::pair<std::string, std::string>> list(std::string_view prefix) const;

  KvUsage usage() const;
  std::uint64_t corruptValues() const { return corrupt_.load(std::memory_order_relaxed); }
  const Environment& environment() const { return *env_; }

 private:
  KvDatabase() = default;
  InitOutcome init(MDB_env* env);
  // Decodes one stored value of `key`; nullopt (and counted) when it fails its check.
  std::optional<std::string_view> decode(std::string_view key, std::string_view stored,
                                         std::string_view& stored_key) const;
  void noteReadFailure(int rc, std::string_view what) const;

  KvFormat format_;
  std::unique_ptr<Environment> env_;
  std::unique_ptr<ReadTxnPool> readers_;  // destroyed before env_ (see ~KvDatabase)
  MDB_dbi info_dbi_ = 0;
  MDB_dbi kv_dbi_ = 0;
  std::mutex write_mu_;  // serializes write transactions; leaf lock
  mutable std::atomic<std::uint64_t> corrupt_{0};
};

}  // namespace hfm::cache::detail
