// SPDX-License-Identifier: Apache-2.0
#include "cache/metadata_store.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>

#include "cache/crc32c.h"
#include "cache/detail/block_format.h"
#include "cache/detail/environment.h"
#include "cache/detail/lmdb_handles.h"
#include "common/hash.h"

namespace hfm::cache {
namespace {

using detail::Txn;

constexpr std::uint32_t kStoreFormatVersion = 1;
constexpr std::string_view kInfoFormat = "format_version";

// Value = header + (full key, for hashed keys) + value. Header (little-endian):
//   u32 magic "HFM1" | u16 version | u16 zero | u32 stored key length | u32 value length |
//   u32 CRC-32C of (the first 16 header bytes, stored key, value)
constexpr std::uint32_t kValueMagic = 0x314D4648;  // "HFM1" read little-endian
constexpr std::uint16_t kValueVersion = 1;
constexpr std::size_t kHeaderSize = 20;
constexpr std::size_t kMaxValueBytes = std::size_t{1} << 31;

// LMDB keys are at most 511 bytes. Longer keys (deep repo paths) are stored under their sha256,
// with the full key kept in the value to tell the rare collision from a hit.
constexpr std::size_t kMaxRawKey = 400;

struct EncodedKey {
  std::string bytes;  // 'r' + key, or 'h' + hex sha256(key)
  bool hashed = false;
};

EncodedKey encodeKey(std::string_view key) {
  if (key.size() <= kMaxRawKey) {
    return {"r" + std::string(key), false};
  }
  return {"h" + common::sha256Hex(key), true};
}

void encodeHeader(char* p, std::string_view stored_key, std::string_view value) {
  detail::storeLe32(p, kValueMagic);
  p[4] = static_cast<char>(kValueVersion & 0xFFu);
  p[5] = static_cast<char>(kValueVersion >> 8);
  p[6] = 0;
  p[7] = 0;
  detail::storeLe32(p + 8, static_cast<std::uint32_t>(stored_key.size()));
  detail::storeLe32(p + 12, static_cast<std::uint32_t>(value.size()));
  std::uint32_t crc = crc32c(0, p, 16);
  crc = crc32c(crc, stored_key.data(), stored_key.size());
  crc = crc32c(crc, value.data(), value.size());
  detail::storeLe32(p + 16, crc);
}

enum class Decoded { kOk, kCorrupt, kOtherKey };

Decoded decodeValue(std::string_view stored, std::string_view key, bool hashed,
                    std::string_view& value) {
  if (stored.size() < kHeaderSize) {
    return Decoded::kCorrupt;
  }
  const char* p = stored.data();
  auto version = static_cast<std::uint16_t>(static_cast<unsigned char>(p[4]) |
                                            (static_cast<unsigned char>(p[5]) << 8));
  std::uint64_t key_len = detail::loadLe32(p + 8);
  std::uint64_t value_len = detail::loadLe32(p + 12);
  if (detail::loadLe32(p) != kValueMagic || version != kValueVersion ||
      stored.size() != kHeaderSize + key_len + value_len) {
    return Decoded::kCorrupt;
  }
  std::uint32_t crc = crc32c(0, p, 16);
  crc = crc32c(crc, p + kHeaderSize, stored.size() - kHeaderSize);
  if (crc != detail::loadLe32(p + 16)) {
    return Decoded::kCorrupt;
  }
  std::string_view stored_key = stored.substr(kHeaderSize, key_len);
  if (hashed && stored_key != key) {
    return Decoded::kOtherKey;
  }
  value = stored.substr(kHeaderSize + key_len);
  return Decoded::kOk;
}

}  // namespace

struct MetadataStore::Impl {
  std::unique_ptr<detail::Environment> env;
  std::unique_ptr<detail::ReadTxnPool> readers;
  MDB_dbi info_dbi = 0;
  MDB_dbi kv_dbi = 0;
  std::mutex write_mu;  // serializes write transactions; leaf lock

  mutable std::atomic<std::uint64_t> hits{0};
  mutable std::atomic<std::uint64_t> misses{0};
  mutable std::atomic<std::uint64_t> corrupt{0};

  ~Impl() {
    readers.reset();
    env.reset();
  }

  CacheStatus toStatus(int rc, std::string_view what) const {
    if (rc == MDB_SUCCESS) {
      return {};
    }
    if (rc == MDB_MAP_FULL) {
      return makeCacheError(CacheErrorKind::kFull, detail::lmdbMessage(what, rc));
    }
    if (detail::isCorruption(rc)) {
      env->markCorrupt(detail::lmdbMessage(what, rc));
      return makeCacheError(CacheErrorKind::kCorrupt, detail::lmdbMessage(what, rc));
    }
    return makeCacheError(CacheErrorKind::kIo, detail::lmdbMessage(what, rc));
  }

  detail::InitOutcome init(MDB_env* raw_env) {
    using detail::InitOutcome;
    auto fail = &InitOutcome::fromLmdb;
    Txn txn;
    int rc = Txn::begin(raw_env, 0, txn);
    if (rc != MDB_SUCCESS) {
      return fail(rc, "begin");
    }
    if ((rc = mdb_dbi_open(txn.get(), "info", MDB_CREATE, &info_dbi)) != MDB_SUCCESS ||
        (rc = mdb_dbi_open(txn.get(), "kv", MDB_CREATE, &kv_dbi)) != MDB_SUCCESS) {
      return fail(rc, "open databases");
    }
    MDB_val key = detail::toVal(kInfoFormat);
    MDB_val val{};
    rc = mdb_get(txn.get(), info_dbi, &key, &val);
    if (rc == MDB_NOTFOUND) {
      MDB_stat st{};
      if ((rc = mdb_stat(txn.get(), kv_dbi, &st)) != MDB_SUCCESS) {
        return fail(rc, "stat");
      }
      if (st.ms_entries != 0) {
        return InitOutcome::corrupt("entries without a format record");
      }
      char buf[4];
      detail::storeLe32(buf, kStoreFormatVersion);
      MDB_val version{4, buf};
      if ((rc = mdb_put(txn.get(), info_dbi, &key, &version, 0)) != MDB_SUCCESS) {
        return fail(rc, "write format");
      }
      rc = mdb_get(txn.get(), info_dbi, &key, &val);
    }
    if (rc != MDB_SUCCESS) {
      return fail(rc, "read format");
    }
    if (val.mv_size != 4) {
      return InitOutcome::corrupt("malformed format record");
    }
    std::uint32_t version = detail::loadLe32(static_cast<const char*>(val.mv_data));
    if (version != kStoreFormatVersion) {
      return InitOutcome::corrupt("format version " + std::to_string(version) +
                                  ", this build reads " + std::to_string(kStoreFormatVersion));
    }
    if ((rc = txn.commit()) != MDB_SUCCESS) {
      return fail(rc, "commit");
    }
    return InitOutcome::ok();
  }
};

CacheResult<std::unique_ptr<MetadataStore>> MetadataStore::open(const CacheOptions& options) {
  if (options.dir.empty()) {
    return makeCacheError(CacheErrorKind::kIo, "cache directory not set");
  }
  if (options.max_readers == 0) {
    return makeCacheError(CacheErrorKind::kIo, "max_readers must be positive");
  }
  auto impl = std::make_unique<Impl>();
  detail::EnvConfig config;
  config.dir = options.dir / "meta";
  config.map_size = options.metadata_map_size != 0 ? options.metadata_map_size : kGiB;
  config.max_readers = options.max_readers;
  config.max_dbs = 2;
  config.sync = options.sync;
  Impl* raw = impl.get();
  auto env = detail::Environment::open(config, [raw](MDB_env* e) { return raw->init(e); });
  if (!env) {
    return common::Unexpected<CacheError>(std::move(env).error());
  }
  impl->env = std::move(*env);
  impl->readers = std::make_unique<detail::ReadTxnPool>(impl->env->get(),
                                                        std::max(1u, options.max_readers / 2));
  return std::unique_ptr<MetadataStore>(new MetadataStore(std::move(impl)));
}

MetadataStore::MetadataStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MetadataStore::~MetadataStore() = default;

std::optional<std::string> MetadataStore::get(std::string_view key) const {
  const Impl& s = *impl_;
  EncodedKey encoded = encodeKey(key);
  Decoded decoded = Decoded::kOtherKey;
  std::optional<std::string> result;
  {
    detail::ReadTxnPool::Lease lease;
    int rc = s.readers->acquire(lease);
    MDB_val k = detail::toVal(encoded.bytes);
    MDB_val v{};
    if (rc == MDB_SUCCESS) {
      rc = mdb_get(lease.get(), s.kv_dbi, &k, &v);
    }
    if (rc == MDB_SUCCESS) {
      std::string_view value;
      decoded = decodeValue(detail::toView(v), key, encoded.hashed, value);
      if (decoded == Decoded::kOk) {
        result.emplace(value);  // copied before the transaction ends
      }
    } else if (rc != MDB_NOTFOUND) {
      (void)s.toStatus(rc, "read metadata");
    }
  }
  if (result) {
    s.hits.fetch_add(1, std::memory_order_relaxed);
    return result;
  }
  if (decoded == Decoded::kCorrupt) {
    s.corrupt.fetch_add(1, std::memory_order_relaxed);
  }
  s.misses.fetch_add(1, std::memory_order_relaxed);
  return std::nullopt;
}

CacheStatus MetadataStore::put(std::string_view key, std::string_view value) {
  Impl& s = *impl_;
  if (value.size() > kMaxValueBytes) {
    return makeCacheError(CacheErrorKind::kIo, "invalid argument: metadata value of " +
                                                   std::to_string(value.size()) + " bytes");
  }
  EncodedKey encoded = encodeKey(key);
  std::string_view stored_key = encoded.hashed ? key : std::string_view();
  std::lock_guard lock(s.write_mu);
  Txn txn;
  int rc = Txn::begin(s.env->get(), 0, txn);
  if (rc == MDB_SUCCESS) {
    MDB_val k = detail::toVal(encoded.bytes);
    MDB_val v{kHeaderSize + stored_key.size() + value.size(), nullptr};
    rc = mdb_put(txn.get(), s.kv_dbi, &k, &v, MDB_RESERVE);
    if (rc == MDB_SUCCESS) {
      auto* p = static_cast<char*>(v.mv_data);
      encodeHeader(p, stored_key, value);
      if (!stored_key.empty()) {
        std::memcpy(p + kHeaderSize, stored_key.data(), stored_key.size());
      }
      if (!value.empty()) {
        std::memcpy(p + kHeaderSize + stored_key.size(), value.data(), value.size());
      }
      rc = txn.commit();
    }
  }
  return s.toStatus(rc, "write metadata");
}

CacheStatus MetadataStore::erase(std::string_view key) {
  Impl& s = *impl_;
  EncodedKey encoded = encodeKey(key);
  std::lock_guard lock(s.write_mu);
  Txn txn;
  int rc = Txn::begin(s.env->get(), 0, txn);
  if (rc == MDB_SUCCESS) {
    MDB_val k = detail::toVal(encoded.bytes);
    rc = mdb_del(txn.get(), s.kv_dbi, &k, nullptr);
    if (rc == MDB_NOTFOUND) {
      rc = MDB_SUCCESS;
    }
    if (rc == MDB_SUCCESS) {
      rc = txn.commit();
    }
  }
  return s.toStatus(rc, "erase metadata");
}

CacheStatus MetadataStore::clear() {
  Impl& s = *impl_;
  std::lock_guard lock(s.write_mu);
  Txn txn;
  int rc = Txn::begin(s.env->get(), 0, txn);
  if (rc == MDB_SUCCESS) {
    rc = mdb_drop(txn.get(), s.kv_dbi, 0);
  }
  if (rc == MDB_SUCCESS) {
    rc = txn.commit();
  }
  return s.toStatus(rc, "clear metadata");
}

MetadataStats MetadataStore::stats() const {
  const Impl& s = *impl_;
  MetadataStats out;
  out.hits = s.hits.load(std::memory_order_relaxed);
  out.misses = s.misses.load(std::memory_order_relaxed);
  out.corrupt_values = s.corrupt.load(std::memory_order_relaxed);
  detail::ReadTxnPool::Lease lease;
  if (s.readers->acquire(lease) == MDB_SUCCESS) {
    MDB_stat st{};
    if (mdb_stat(lease.get(), s.kv_dbi, &st) == MDB_SUCCESS) {
      out.entries = st.ms_entries;
    }
    std::uint64_t pages = 0;
    if (detail::usedPages(lease.get(), {s.info_dbi, s.kv_dbi}, pages) == MDB_SUCCESS) {
      out.used_bytes = pages * s.env->pageSize();
    }
  }
  return out;
}

bool MetadataStore::rebuiltOnOpen() const { return impl_->env->rebuilt(); }
const std::string& MetadataStore::rebuildReason() const { return impl_->env->rebuildReason(); }

}  // namespace hfm::cache
