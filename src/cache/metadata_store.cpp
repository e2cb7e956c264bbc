// SPDX-License-Identifier: Apache-2.0
#include "cache/metadata_store.h"

#include <atomic>

#include "cache/detail/kv_database.h"
#include "common/hash.h"

namespace hfm::cache {
namespace {

// Layout in docs/caching.md. Value magic "HFM1"; the CRC does not cover the LMDB key (this
// format predates that option of KvDatabase).
constexpr detail::KvFormat kFormat{1, 0x314D4648, false};

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

}  // namespace

struct MetadataStore::Impl {
  std::unique_ptr<detail::KvDatabase> db;
  mutable std::atomic<std::uint64_t> hits{0};
  mutable std::atomic<std::uint64_t> misses{0};
};

CacheResult<std::unique_ptr<MetadataStore>> MetadataStore::open(const CacheOptions& options) {
  if (options.dir.empty()) {
    return makeCacheError(CacheErrorKind::kIo, "cache directory not set");
  }
  if (options.max_readers == 0) {
    return makeCacheError(CacheErrorKind::kIo, "max_readers must be positive");
  }
  detail::EnvConfig config;
  config.dir = options.dir / "meta";
  config.map_size = options.metadata_map_size != 0 ? options.metadata_map_size : kGiB;
  config.max_readers = options.max_readers;
  config.sync = options.sync;
  auto db = detail::KvDatabase::open(config, kFormat);
  if (!db) {
    return common::Unexpected<CacheError>(std::move(db).error());
  }
  auto impl = std::make_unique<Impl>();
  impl->db = std::move(*db);
  return std::unique_ptr<MetadataStore>(new MetadataStore(std::move(impl)));
}

MetadataStore::MetadataStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MetadataStore::~MetadataStore() = default;

std::optional<std::string> MetadataStore::get(std::string_view key) const {
  EncodedKey encoded = encodeKey(key);
  auto result = impl_->db->get(encoded.bytes, encoded.hashed ? key : std::string_view());
  (result ? impl_->hits : impl_->misses).fetch_add(1, std::memory_order_relaxed);
  return result;
}

CacheStatus MetadataStore::put(std::string_view key, std::string_view value) {
  EncodedKey encoded = encodeKey(key);
  detail::KvWrite write{encoded.bytes, encoded.hashed ? key : std::string_view(), value};
  return impl_->db->write({&write, 1}, "write metadata");
}

CacheStatus MetadataStore::erase(std::string_view key) {
  EncodedKey encoded = encodeKey(key);
  detail::KvWrite write{encoded.bytes, {}, std::nullopt};
  return impl_->db->write({&write, 1}, "erase metadata");
}

CacheStatus MetadataStore::clear() { return impl_->db->clear("clear metadata"); }

MetadataStats MetadataStore::stats() const {
  MetadataStats out;
  out.hits = impl_->hits.load(std::memory_order_relaxed);
  out.misses = impl_->misses.load(std::memory_order_relaxed);
  out.corrupt_values = impl_->db->corruptValues();
  detail::KvUsage usage = impl_->db->usage();
  out.entries = usage.entries;
  out.used_bytes = usage.used_bytes;
  return out;
}

bool MetadataStore::rebuiltOnOpen() const { return impl_->db->environment().rebuilt(); }
const std::string& MetadataStore::rebuildReason() const {
  return impl_->db->environment().rebuildReason();
}

}  // namespace hfm::cache
