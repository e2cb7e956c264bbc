// SPDX-License-Identifier: Apache-2.0
#include "cache/detail/kv_database.h"

#include <algorithm>
#include <cstring>

#include "cache/crc32c.h"
#include "cache/detail/block_format.h"

namespace hfm::cache::detail {
namespace {

constexpr std::string_view kInfoFormat = "format_version";
constexpr std::uint16_t kValueVersion = 1;
constexpr std::size_t kHeaderSize = 20;

std::uint32_t valueCrc(const char* header, std::string_view covered_key, std::string_view rest) {
  std::uint32_t crc = crc32c(0, header, 16);
  crc = crc32c(crc, covered_key.data(), covered_key.size());
  return crc32c(crc, rest.data(), rest.size());
}

// Fills the kHeaderSize + stored_key.size() + value.size() bytes at `p`.
void encodeValue(char* p, std::uint32_t magic, std::string_view covered_key,
                 std::string_view stored_key, std::string_view value) {
  storeLe32(p, magic);
  p[4] = static_cast<char>(kValueVersion & 0xFFu);
  p[5] = static_cast<char>(kValueVersion >> 8);
  p[6] = 0;
  p[7] = 0;
  storeLe32(p + 8, static_cast<std::uint32_t>(stored_key.size()));
  storeLe32(p + 12, static_cast<std::uint32_t>(value.size()));
  if (!stored_key.empty()) {
    std::memcpy(p + kHeaderSize, stored_key.data(), stored_key.size());
  }
  if (!value.empty()) {
    std::memcpy(p + kHeaderSize + stored_key.size(), value.data(), value.size());
  }
  // Over the bytes as stored, so a bad copy is caught as well.
  storeLe32(p + 16, valueCrc(p, covered_key, {p + kHeaderSize, stored_key.size() + value.size()}));
}

common::Unexpected<CacheError> invalidArgument(std::string_view what, std::string detail) {
  return makeCacheError(CacheErrorKind::kIo,
                        std::string(what) + ": invalid argument: " + std::move(detail));
}

}  // namespace

CacheResult<std::unique_ptr<KvDatabase>> KvDatabase::open(EnvConfig config,
                                                          const KvFormat& format) {
  std::unique_ptr<KvDatabase> db(new KvDatabase());
  db->format_ = format;
  config.max_dbs = 2;
  KvDatabase* raw = db.get();
  auto env = Environment::open(config, [raw](MDB_env* e) { return raw->init(e); });
  if (!env) {
    return common::Unexpected<CacheError>(std::move(env).error());
  }
  db->env_ = std::move(*env);
  db->readers_ =
      std::make_unique<ReadTxnPool>(db->env_->get(), std::max(1u, config.max_readers / 2));
  return db;
}

KvDatabase::~KvDatabase() = default;

InitOutcome KvDatabase::init(MDB_env* env) {
  auto fail = &InitOutcome::fromLmdb;
  Txn txn;
  int rc = Txn::begin(env, 0, txn);
  if (rc != MDB_SUCCESS) {
    return fail(rc, "begin");
  }
  if ((rc = mdb_dbi_open(txn.get(), "info", MDB_CREATE, &info_dbi_)) != MDB_SUCCESS ||
      (rc = mdb_dbi_open(txn.get(), "kv", MDB_CREATE, &kv_dbi_)) != MDB_SUCCESS) {
    return fail(rc, "open databases");
  }
  MDB_val key = toVal(kInfoFormat);
  MDB_val val{};
  rc = mdb_get(txn.get(), info_dbi_, &key, &val);
  if (rc == MDB_NOTFOUND) {
    MDB_stat st{};
    if ((rc = mdb_stat(txn.get(), kv_dbi_, &st)) != MDB_SUCCESS) {
      return fail(rc, "stat");
    }
    if (st.ms_entries != 0) {
      return InitOutcome::corrupt("entries without a format record");
    }
    char buf[4];
    storeLe32(buf, format_.record_version);
    MDB_val version{4, buf};
    if ((rc = mdb_put(txn.get(), info_dbi_, &key, &version, 0)) != MDB_SUCCESS) {
      return fail(rc, "write format");
    }
    rc = mdb_get(txn.get(), info_dbi_, &key, &val);
  }
  if (rc != MDB_SUCCESS) {
    return fail(rc, "read format");
  }
  if (val.mv_size != 4) {
    return InitOutcome::corrupt("malformed format record");
  }
  std::uint32_t version = loadLe32(static_cast<const char*>(val.mv_data));
  if (version != format_.record_version) {
    return InitOutcome::corrupt("format version " + std::to_string(version) +
                                ", this build reads " + std::to_string(format_.record_version));
  }
  if ((rc = txn.commit()) != MDB_SUCCESS) {
    return fail(rc, "commit");
  }
  return InitOutcome::ok();
}

CacheStatus KvDatabase::write(std::span<const KvWrite> writes, std::string_view what) {
  for (const KvWrite& w : writes) {
    if (w.key.empty() || w.key.size() > kMaxKvKeyBytes) {
      return invalidArgument(what, "key of " + std::to_string(w.key.size()) + " bytes (1 to " +
                                       std::to_string(kMaxKvKeyBytes) + " allowed)");
    }
    if (w.value && w.value->size() + w.stored_key.size() > kMaxKvValueBytes) {
      return invalidArgument(what, "value of " + std::to_string(w.value->size()) + " bytes");
    }
  }
  if (writes.empty()) {
    return {};
  }
  std::lock_guard lock(write_mu_);
  Txn txn;
  int rc = Txn::begin(env_->get(), 0, txn);
  for (auto it = writes.begin(); rc == MDB_SUCCESS && it != writes.end(); ++it) {
    MDB_val k = toVal(it->key);
    if (!it->value) {
      rc = mdb_del(txn.get(), kv_dbi_, &k, nullptr);
      rc = rc == MDB_NOTFOUND ? MDB_SUCCESS : rc;
      continue;
    }
    // MDB_RESERVE: the value is encoded straight into the page, one copy.
    MDB_val v{kHeaderSize + it->stored_key.size() + it->value->size(), nullptr};
    rc = mdb_put(txn.get(), kv_dbi_, &k, &v, MDB_RESERVE);
    if (rc == MDB_SUCCESS) {
      encodeValue(static_cast<char*>(v.mv_data), format_.value_magic,
                  format_.crc_covers_key ? it->key : std::string_view(), it->stored_key,
                  *it->value);
    }
  }
  if (rc == MDB_SUCCESS) {
    rc = txn.commit();
  }
  return env_->status(rc, what);
}

CacheStatus KvDatabase::clear(std::string_view what) {
  std::lock_guard lock(write_mu_);
  Txn txn;
  int rc = Txn::begin(env_->get(), 0, txn);
  if (rc == MDB_SUCCESS) {
    rc = mdb_drop(txn.get(), kv_dbi_, 0);
  }
  if (rc == MDB_SUCCESS) {
    rc = txn.commit();
  }
  return env_->status(rc, what);
}

std::optional<std::string_view> KvDatabase::decode(std::string_view key, std::string_view stored,
                                                   std::string_view& stored_key) const {
  if (stored.size() >= kHeaderSize) {
    const char* p = stored.data();
    auto version = static_cast<std::uint16_t>(static_cast<unsigned char>(p[4]) |
                                              (static_cast<unsigned char>(p[5]) << 8));
    std::uint64_t key_len = loadLe32(p + 8);
    std::uint64_t value_len = loadLe32(p + 12);
    std::string_view covered_key = format_.crc_covers_key ? key : std::string_view();
    if (loadLe32(p) == format_.value_magic && version == kValueVersion &&
        stored.size() == kHeaderSize + key_len + value_len &&
        valueCrc(p, covered_key, stored.substr(kHeaderSize)) == loadLe32(p + 16)) {
      stored_key = stored.substr(kHeaderSize, key_len);
      return stored.substr(kHeaderSize + key_len);
    }
  }
  corrupt_.fetch_add(1, std::memory_order_relaxed);
  return std::nullopt;
}

void KvDatabase::noteReadFailure(int rc, std::string_view what) const {
  corrupt_.fetch_add(1, std::memory_order_relaxed);
  (void)env_->status(rc, what);  // marks the environment when LMDB reports damage
}

std::optional<std::string> KvDatabase::get(std::string_view key,
                                           std::string_view stored_key) const {
  if (key.empty() || key.size() > kMaxKvKeyBytes) {
    return std::nullopt;  // never stored
  }
  ReadTxnPool::Lease lease;
  int rc = readers_->acquire(lease);
  MDB_val k = toVal(key);
  MDB_val v{};
  if (rc == MDB_SUCCESS) {
    rc = mdb_get(lease.get(), kv_dbi_, &k, &v);
  }
  if (rc != MDB_SUCCESS) {
    if (rc != MDB_NOTFOUND) {
      noteReadFailure(rc, "read");
    }
    return std::nullopt;
  }
  std::string_view found_key;
  auto value = decode(key, toView(v), found_key);
  if (!value || found_key != stored_key) {
    return std::nullopt;
  }
  return std::string(*value);  // copied before the lease ends the transaction
}

std::vector<std::pair<std::string, std::string>> KvDatabase::list(std::string_view prefix) const {
  std::vector<std::pair<std::string, std::string>> out;
  if (prefix.size() > kMaxKvKeyBytes) {
    return out;  // no stored key is that long
  }
  ReadTxnPool::Lease lease;
  Cursor cursor;  // closed before the lease ends
  int rc = readers_->acquire(lease);
  if (rc == MDB_SUCCESS) {
    rc = cursor.open(lease.get(), kv_dbi_);
  }
  MDB_val k = toVal(prefix);
  MDB_val v{};
  if (rc == MDB_SUCCESS) {
    rc = mdb_cursor_get(cursor.get(), &k, &v, prefix.empty() ? MDB_FIRST : MDB_SET_RANGE);
  }
  while (rc == MDB_SUCCESS) {
    std::string_view key = toView(k);
    if (!key.starts_with(prefix)) {
      break;
    }
    std::string_view stored_key;
    if (auto value = decode(key, toView(v), stored_key)) {
      out.emplace_back(key, *value);
    }
    rc = mdb_cursor_get(cursor.get(), &k, &v, MDB_NEXT);
  }
  if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) {
    noteReadFailure(rc, "list");
  }
  return out;
}

KvUsage KvDatabase::usage() const {
  KvUsage out;
  ReadTxnPool::Lease lease;
  if (readers_->acquire(lease) == MDB_SUCCESS) {
    MDB_stat st{};
    if (mdb_stat(lease.get(), kv_dbi_, &st) == MDB_SUCCESS) {
      out.entries = st.ms_entries;
    }
    std::uint64_t pages = 0;
    if (usedPages(lease.get(), {info_dbi_, kv_dbi_}, pages) == MDB_SUCCESS) {
      out.used_bytes = pages * env_->pageSize();
    }
  }
  return out;
}

}  // namespace hfm::cache::detail
