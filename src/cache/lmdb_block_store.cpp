// SPDX-License-Identifier: Apache-2.0
#include "cache/lmdb_block_store.h"

#include <algorithm>
#include <cerrno>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <shared_mutex>
#include <stop_token>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "cache/detail/block_format.h"
#include "cache/detail/page_advice.h"
#include "cache/detail/environment.h"
#include "cache/detail/lmdb_handles.h"

namespace hfm::cache {
namespace {

using detail::BlockKey;
using detail::Cursor;
using detail::Txn;

constexpr std::uint32_t kStoreFormatVersion = 1;
constexpr std::string_view kMetaFormat = "format_version";
constexpr std::string_view kMetaBlockSize = "block_size";
constexpr std::string_view kMetaNextTick = "next_tick";
constexpr std::string_view kMetaLogicalBytes = "logical_bytes";

// Touches recorded by reads and not yet applied. 4096 x 1 MiB blocks is 4 GiB of reads; the
// background flusher drains the buffer long before that unless it is disabled.
constexpr std::size_t kTouchCapacity = 4096;
constexpr std::size_t kSuspectCapacity = 1024;
// One write transaction takes at most this much; LMDB keeps a transaction's dirty pages in
// anonymous memory until commit.
constexpr std::size_t kMaxBatchWrites = 512;
constexpr std::uint64_t kMaxBatchBytes = 16 * kMiB;
// Checksum mismatches logged one by one; after that only every kLogEveryCorrupt-th.
constexpr std::uint64_t kLogFirstCorrupt = 20;
constexpr std::uint64_t kLogEveryCorrupt = 1000;

std::uint64_t defaultMapSize(std::uint64_t max_bytes) {
  return std::max<std::uint64_t>(kGiB,
                                 max_bytes + std::max<std::uint64_t>(max_bytes / 4, 256 * kMiB));
}

struct PendingWrite {
  BlockKey key;
  detail::EncodedHeader header;
  std::string_view data;
  CacheStatus result;
  bool done = false;  // guarded by Impl::queue_mu
};

// What a write transaction changes in the store's own state, applied only if it commits.
struct TxnState {
  std::uint64_t next_tick = 0;
  std::uint64_t logical_bytes = 0;
  std::uint64_t evicted = 0;

  void subtractLogical(std::uint64_t n) {
    logical_bytes = logical_bytes >= n ? logical_bytes - n : 0;
  }
};

MDB_val u64Val(char* buf, std::uint64_t v) {
  detail::storeBe64(buf, v);
  return MDB_val{8, buf};
}

}  // namespace

struct LmdbBlockStore::Impl {
  CacheOptions options;
  detail::EnvConfig env_config;
  // Swapped only by rebuildIfNeeded(), under gen_mu held exclusively. Every other user of env,
  // readers, the dbis or budget_bytes holds gen_mu shared for the whole operation, so no read
  // lease, transaction or pointer into the old map outlives it. env is null once a run-time
  // rebuild failed: the store then misses and refuses writes until the next open.
  std::unique_ptr<detail::Environment> env;
  std::unique_ptr<detail::ReadTxnPool> readers;
  MDB_dbi meta_dbi = 0;
  MDB_dbi blocks_dbi = 0;
  MDB_dbi atime_dbi = 0;
  MDB_dbi lru_dbi = 0;
  std::uint32_t block_size = 0;
  // Lowered (never raised) while open when the disk refuses to grow the data file.
  std::atomic<std::uint64_t> budget_bytes{0};

  std::atomic<std::uint64_t> hits{0};
  std::atomic<std::uint64_t> misses{0};
  std::atomic<std::uint64_t> corrupt_blocks{0};
  std::atomic<std::uint64_t> evicted_blocks{0};
  std::atomic<std::uint64_t> writes{0};
  std::atomic<std::uint64_t> failed_writes{0};
  std::atomic<std::uint64_t> dropped_touches{0};
  std::atomic<std::uint64_t> map_full{0};
  std::atomic<std::uint64_t> rebuilds{0};
  std::atomic<std::uint64_t> disk_full{0};

  bool rebuilt_on_open = false;
  std::string rebuild_reason_on_open;

  // Run-time damage (an LMDB corruption code) asks for a rebuild; the next operation boundary
  // (or the flusher) performs it. Order: gen_mu -> write_mu -> LMDB writer -> touch_mu.
  mutable std::shared_mutex gen_mu;
  mutable std::atomic<bool> needs_rebuild{false};
  mutable std::mutex damage_mu;
  mutable std::string damage;  // guarded by damage_mu: why the rebuild was asked for

  // Group commit: callers queue their writes; one of them (the "leader") commits the queue.
  std::mutex queue_mu;
  std::condition_variable queue_cv;
  std::deque<PendingWrite*> queue;  // guarded by queue_mu
  bool leader_active = false;       // guarded by queue_mu

  // Held for every write transaction: LMDB's writer lock would serialize them anyway, but this
  // one is ours to hold across the MAP_FULL retry. Order: write_mu -> LMDB writer -> touch_mu.
  std::mutex write_mu;

  // Reads record here; write transactions drain it. Leaf lock, held only to push or swap.
  std::mutex touch_mu;
  std::condition_variable_any touch_cv;
  std::vector<BlockKey> pending_touches;   // guarded by touch_mu
  std::vector<BlockKey> pending_suspects;  // guarded by touch_mu: failed a checksum in read()

  std::jthread flusher;  // declared last; stopped first in ~Impl

  ~Impl() {
    if (flusher.joinable()) {
      flusher.request_stop();
      flusher.join();
    }
    if (env != nullptr) {
      applyPendingNow();
    }
    readers.reset();
    env.reset();
  }

  // --- state shared by all write transactions ---

  // Requires gen_mu (shared) and a live env.
  void noteLmdbError(int rc, std::string_view what) const {
    if (detail::isCorruption(rc)) {
      requestRebuild(detail::lmdbMessage(what, rc));
    }
  }

  // Requires gen_mu (shared) and a live env.
  CacheStatus toStatus(int rc, std::string_view what) {
    noteLmdbError(rc, what);
    return env->status(rc, what);
  }

  // Records the damage (so that the next open rebuilds, should this process end first) and asks
  // for a rebuild at the next operation boundary. Requires gen_mu (shared) and a live env.
  void requestRebuild(const std::string& why) const {
    env->markCorrupt(why);
    {
      std::lock_guard lock(damage_mu);
      if (damage.empty()) {
        damage = why;
      }
    }
    if (!needs_rebuild.exchange(true)) {
      spdlog::error("block cache damaged at run time ({}): rebuilding it", why);
    }
  }

  static CacheStatus disabledError() {
    return makeCacheError(CacheErrorKind::kIo,
                          "block cache disabled after damage it could not rebuild");
  }

  // Replaces a damaged environment with a new, empty one. Must be called without gen_mu held;
  // waits for the operations in flight to end. Blocks then are fetched again and re-cached.
  void rebuildIfNeeded() {
    if (!needs_rebuild.load(std::memory_order_acquire)) {
      return;
    }
    std::unique_lock gen(gen_mu);
    if (!needs_rebuild.load(std::memory_order_relaxed)) {
      return;  // another thread did it
    }
    std::string why;
    {
      std::lock_guard lock(damage_mu);
      why = std::exchange(damage, {});
    }
    {
      std::lock_guard lock(touch_mu);
      pending_touches.clear();
      pending_suspects.clear();
    }
    readers.reset();
    env.reset();
    detail::EnvConfig config = env_config;
    config.rebuild_reason = "damaged at run time (" + why + ")";
    options.block_size = block_size;  // the read engine keeps the block size it was given
    auto opened = detail::Environment::open(config, [this](MDB_env* e) { return init(e); });
    needs_rebuild.store(false, std::memory_order_release);
    if (!opened || !(*opened)->rebuilt() || block_size != options.block_size) {
      spdlog::error("block cache {} could not be rebuilt ({}): reads go to the server, uncached, "
                    "until the next mount",
                    config.dir.string(),
                    !opened ? opened.error().message : "the environment is in use elsewhere");
      return;
    }
    env = std::move(*opened);
    budget_bytes = std::min(options.max_bytes, env->mapSize() / 8 * 7);
    readers = std::make_unique<detail::ReadTxnPool>(env->get(),
                                                    std::max(1u, options.max_readers / 2));
    rebuilds.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("block cache rebuilt at run time, empty: {}", why);
  }

  int usedBytes(MDB_txn* txn, std::uint64_t& bytes) const {
    std::uint64_t pages = 0;
    int rc = detail::usedPages(txn, {meta_dbi, blocks_dbi, atime_dbi, lru_dbi}, pages);
    bytes = pages * env->pageSize();
    return rc;
  }

  // The tick counter and byte total are read from the meta database in every write transaction
  // rather than cached: another process sharing the cache directory may have moved them.
  int beginWrite(Txn& txn, TxnState& st) {
    int rc = Txn::begin(env->get(), 0, txn);
    if (rc != MDB_SUCCESS) {
      return rc;
    }
    st = TxnState{1, 0, 0};
    if ((rc = loadCounters(txn.get(), st)) != MDB_SUCCESS) {
      return rc;
    }
    // Appends to the LRU index need next_tick above every stored tick.
    Cursor cursor;
    if ((rc = cursor.open(txn.get(), lru_dbi)) != MDB_SUCCESS) {
      return rc;
    }
    MDB_val tick{};
    MDB_val key{};
    rc = mdb_cursor_get(cursor.get(), &tick, &key, MDB_LAST);
    if (rc == MDB_SUCCESS && tick.mv_size == 8) {
      st.next_tick =
          std::max(st.next_tick, detail::loadBe64(static_cast<const char*>(tick.mv_data)) + 1);
    }
    return rc == MDB_NOTFOUND ? MDB_SUCCESS : rc;
  }

  int loadCounters(MDB_txn* txn, TxnState& st) const {
    MDB_val key = detail::toVal(kMetaNextTick);
    MDB_val val{};
    int rc = mdb_get(txn, meta_dbi, &key, &val);
    if (rc == MDB_SUCCESS && val.mv_size == 8) {
      st.next_tick = detail::loadBe64(static_cast<const char*>(val.mv_data));
    } else if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) {
      return rc;
    }
    key = detail::toVal(kMetaLogicalBytes);
    rc = mdb_get(txn, meta_dbi, &key, &val);
    if (rc == MDB_SUCCESS && val.mv_size == 8) {
      st.logical_bytes = detail::loadBe64(static_cast<const char*>(val.mv_data));
    } else if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) {
      return rc;
    }
    return MDB_SUCCESS;
  }

  int commit(Txn& txn, const TxnState& st) {
    char buf[8];
    MDB_val key = detail::toVal(kMetaNextTick);
    MDB_val val = u64Val(buf, st.next_tick);
    int rc = mdb_put(txn.get(), meta_dbi, &key, &val, 0);
    if (rc == MDB_SUCCESS) {
      key = detail::toVal(kMetaLogicalBytes);
      val = u64Val(buf, st.logical_bytes);
      rc = mdb_put(txn.get(), meta_dbi, &key, &val, 0);
    }
    if (rc != MDB_SUCCESS) {
      return rc;
    }
    rc = txn.commit();
    if (rc == MDB_SUCCESS) {
      evicted_blocks.fetch_add(st.evicted, std::memory_order_relaxed);
    }
    return rc;
  }

  // --- operations inside a write transaction ---

  int assignTick(MDB_txn* txn, TxnState& st, std::string_view key) {
    char buf[8];
    MDB_val tick = u64Val(buf, st.next_tick++);
    MDB_val k = detail::toVal(key);
    int rc = mdb_put(txn, atime_dbi, &k, &tick, 0);
    if (rc == MDB_SUCCESS) {
      // Ticks only grow (next_tick is persisted with every commit), so append is valid.
      rc = mdb_put(txn, lru_dbi, &tick, &k, MDB_APPEND);
    }
    return rc;
  }

  // Moves an existing block to the most recent end of the LRU order. MDB_NOTFOUND when the
  // block is gone (evicted since the read that recorded the touch).
  int touch(MDB_txn* txn, TxnState& st, std::string_view key) {
    MDB_val k = detail::toVal(key);
    MDB_val old{};
    int rc = mdb_get(txn, atime_dbi, &k, &old);
    if (rc != MDB_SUCCESS) {
      return rc;
    }
    if (old.mv_size == 8) {
      char buf[8];
      std::memcpy(buf, old.mv_data, 8);
      MDB_val old_tick{8, buf};
      rc = mdb_del(txn, lru_dbi, &old_tick, nullptr);
      if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) {
        return rc;
      }
    }
    return assignTick(txn, st, key);
  }

  int removeBlock(MDB_txn* txn, TxnState& st, std::string_view key) {
    MDB_val k = detail::toVal(key);
    MDB_val v{};
    int rc = mdb_get(txn, blocks_dbi, &k, &v);
    if (rc == MDB_SUCCESS) {
      st.subtractLogical(detail::payloadLengthOf(v.mv_size));
      rc = mdb_del(txn, blocks_dbi, &k, nullptr);
    }
    if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) {
      return rc;
    }
    rc = mdb_get(txn, atime_dbi, &k, &v);
    if (rc == MDB_NOTFOUND) {
      return MDB_SUCCESS;
    }
    if (rc != MDB_SUCCESS) {
      return rc;
    }
    char buf[8] = {};
    bool has_tick = v.mv_size == 8;
    if (has_tick) {
      std::memcpy(buf, v.mv_data, 8);  // v points into a page the deletes below may change
    }
    rc = mdb_del(txn, atime_dbi, &k, nullptr);
    if (rc == MDB_SUCCESS && has_tick) {
      MDB_val tick{8, buf};
      rc = mdb_del(txn, lru_dbi, &tick, nullptr);
    }
    return rc == MDB_NOTFOUND ? MDB_SUCCESS : rc;
  }

  int putBlock(MDB_txn* txn, TxnState& st, const PendingWrite& req) {
    std::string_view key = req.key.view();
    std::size_t size = req.header.size + req.data.size();
    MDB_val k = detail::toVal(key);
    MDB_val old{};
    int rc = mdb_get(txn, blocks_dbi, &k, &old);
    if (rc == MDB_SUCCESS) {
      // Same content id and index means the same bytes; an identical header (its CRC covers the
      // chunk CRCs) means the stored copy is current, so only the LRU position changes.
      if (old.mv_size == size &&
          std::memcmp(old.mv_data, req.header.bytes.data(), req.header.size) == 0) {
        rc = touch(txn, st, key);
        return rc == MDB_NOTFOUND ? assignTick(txn, st, key) : rc;
      }
      st.subtractLogical(detail::payloadLengthOf(old.mv_size));
    } else if (rc != MDB_NOTFOUND) {
      return rc;
    }
    MDB_val val{size, nullptr};
    rc = mdb_put(txn, blocks_dbi, &k, &val, MDB_RESERVE);
    if (rc != MDB_SUCCESS) {
      return rc;
    }
    auto* out = static_cast<char*>(val.mv_data);
    std::memcpy(out, req.header.bytes.data(), req.header.size);
    if (!req.data.empty()) {
      std::memcpy(out + req.header.size, req.data.data(), req.data.size());
    }
    st.logical_bytes += req.data.size();
    rc = touch(txn, st, key);
    return rc == MDB_NOTFOUND ? assignTick(txn, st, key) : rc;
  }

  // Deletes least recently used blocks until the pages in use are at most `target_bytes` or no
  // block is left.
  int evictUntil(MDB_txn* txn, TxnState& st, std::uint64_t target_bytes) {
    Cursor cursor;
    int rc = cursor.open(txn, lru_dbi);
    if (rc != MDB_SUCCESS) {
      return rc;
    }
    for (;;) {
      std::uint64_t used = 0;
      if ((rc = usedBytes(txn, used)) != MDB_SUCCESS) {
        return rc;
      }
      if (used <= target_bytes) {
        return MDB_SUCCESS;
      }
      MDB_val tick{};
      MDB_val key{};
      rc = mdb_cursor_get(cursor.get(), &tick, &key, MDB_FIRST);
      if (rc == MDB_NOTFOUND) {
        return MDB_SUCCESS;  // nothing left to evict; the rest is tree overhead
      }
      if (rc != MDB_SUCCESS) {
        return rc;
      }
      BlockKey victim;
      bool valid = key.mv_size > 8 && key.mv_size <= victim.bytes.size();
      if (valid) {
        std::memcpy(victim.bytes.data(), key.mv_data, key.mv_size);
        victim.size = key.mv_size;
      }
      if ((rc = mdb_cursor_del(cursor.get(), 0)) != MDB_SUCCESS) {
        return rc;
      }
      if (valid) {
        if ((rc = removeBlock(txn, st, victim.view())) != MDB_SUCCESS) {
          return rc;
        }
        ++st.evicted;
      }
    }
  }

  int evictIfOverBudget(MDB_txn* txn, TxnState& st) {
    std::uint64_t used = 0;
    int rc = usedBytes(txn, used);
    if (rc != MDB_SUCCESS || used <= budget_bytes) {
      return rc;
    }
    // Down to 90%, so that a cache at its budget evicts in occasional large steps rather than a
    // few blocks in every transaction.
    return evictUntil(txn, st, budget_bytes / 10 * 9);
  }

  void takePending(std::vector<BlockKey>& touches, std::vector<BlockKey>& suspects) {
    std::lock_guard lock(touch_mu);
    touches.swap(pending_touches);
    suspects.swap(pending_suspects);
  }

  int applyPending(MDB_txn* txn, TxnState& st, const std::vector<BlockKey>& touches,
                   const std::vector<BlockKey>& suspects) {
    for (const BlockKey& key : suspects) {
      // Checked again: the block may have been rewritten since the read that failed.
      MDB_val k = detail::toVal(key.view());
      MDB_val v{};
      int rc = mdb_get(txn, blocks_dbi, &k, &v);
      if (rc == MDB_NOTFOUND) {
        continue;
      }
      if (rc != MDB_SUCCESS) {
        return rc;
      }
      auto block = detail::parseBlock(detail::toView(v));
      if (!block || !detail::verifyRange(*block, 0, block->length)) {
        if ((rc = removeBlock(txn, st, key.view())) != MDB_SUCCESS) {
          return rc;
        }
      }
    }
    // The last touch of a key decides its position; earlier ones would only churn the index.
    std::unordered_set<std::string_view> seen;
    std::vector<const BlockKey*> order;
    for (auto it = touches.rbegin(); it != touches.rend(); ++it) {
      if (seen.insert(it->view()).second) {
        order.push_back(&*it);
      }
    }
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
      int rc = touch(txn, st, (*it)->view());
      if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) {
        return rc;
      }
    }
    return MDB_SUCCESS;
  }

  // Requires write_mu.
  int attemptBatch(std::span<PendingWrite* const> batch, const std::vector<BlockKey>& touches,
                   const std::vector<BlockKey>& suspects) {
    Txn txn;
    TxnState st;
    int rc = beginWrite(txn, st);
    if (rc != MDB_SUCCESS) {
      return rc;
    }
    if ((rc = applyPending(txn.get(), st, touches, suspects)) != MDB_SUCCESS) {
      return rc;
    }
    for (const PendingWrite* req : batch) {
      if ((rc = putBlock(txn.get(), st, *req)) != MDB_SUCCESS) {
        return rc;
      }
    }
    if ((rc = evictIfOverBudget(txn.get(), st)) != MDB_SUCCESS) {
      return rc;
    }
    return commit(txn, st);
  }

  // After MDB_MAP_FULL: evict in a transaction of its own, then commit one more small
  // transaction. LMDB reuses the pages freed by transaction N only from transaction N + 2 on
  // (snapshot N - 1 stays intact as the fallback meta page), so the retry runs third.
  // Requires write_mu.
  int makeRoom(std::uint64_t incoming_bytes, bool disk_full_now) {
    int rc = evictForRoom(incoming_bytes, disk_full_now);
    if (rc != MDB_SUCCESS) {
      return rc;
    }
    Txn txn;
    TxnState st;
    if ((rc = beginWrite(txn, st)) != MDB_SUCCESS) {
      return rc;
    }
    return commit(txn, st);  // rewrites the meta records, so it is never an empty commit
  }

  // A full map frees a tenth of the map at least; a full disk only twice what is coming.
  int evictForRoom(std::uint64_t incoming_bytes, bool disk_full_now) {
    Txn txn;
    TxnState st;
    int rc = beginWrite(txn, st);
    if (rc != MDB_SUCCESS) {
      return rc;
    }
    std::uint64_t used = 0;
    if ((rc = usedBytes(txn.get(), used)) != MDB_SUCCESS) {
      return rc;
    }
    std::uint64_t to_free = disk_full_now ? 2 * incoming_bytes
                                          : std::max(2 * incoming_bytes, env->mapSize() / 10);
    std::uint64_t target = std::min(budget_bytes / 10 * 9, used > to_free ? used - to_free : 0);
    if ((rc = evictUntil(txn.get(), st, target)) != MDB_SUCCESS) {
      return rc;
    }
    return commit(txn, st);
  }

  void runBatch(std::span<PendingWrite* const> batch) {
    std::shared_lock gen(gen_mu);
    if (env == nullptr) {
      for (PendingWrite* req : batch) {
        req->result = disabledError();
      }
      return;
    }
    std::lock_guard lock(write_mu);
    std::vector<BlockKey> touches;
    std::vector<BlockKey> suspects;
    takePending(touches, suspects);
    int rc = attemptBatch(batch, touches, suspects);
    bool disk = rc == ENOSPC || rc == EDQUOT || rc == EFBIG;
    if (disk) {
      // The disk holds less than the budget: the budget becomes what the data file already
      // holds, so eviction makes room inside it and the retry reuses its pages instead of
      // growing it. Logged the first time only.
      if (disk_full.fetch_add(1, std::memory_order_relaxed) == 0) {
        spdlog::warn("block cache {}: the disk is full ({}); the cache now keeps within its data "
                     "file ({} MiB) instead of its budget",
                     env_config.dir.string(), detail::lmdbMessage("write", rc),
                     env->fileBytes() / kMiB);
      }
      std::uint64_t within_file = env->fileBytes() / 8 * 7;
      if (within_file < budget_bytes.load()) {
        budget_bytes.store(within_file);
      }
    }
    if (rc == MDB_MAP_FULL || disk) {
      if (!disk) {
        map_full.fetch_add(1, std::memory_order_relaxed);
      }
      std::uint64_t incoming = 0;
      for (const PendingWrite* req : batch) {
        incoming += req->header.size + req->data.size();
      }
      rc = makeRoom(incoming, disk);
      if (rc == MDB_SUCCESS) {
        rc = attemptBatch(batch, {}, {});
      }
    }
    CacheStatus status = toStatus(rc, "write blocks");
    for (PendingWrite* req : batch) {
      req->result = status;
    }
  }

  // Applies recorded touches and deletions, if any. Best effort: a failure drops them.
  void applyPendingNow() {
    std::shared_lock gen(gen_mu);
    if (env == nullptr) {
      return;
    }
    std::lock_guard lock(write_mu);
    std::vector<BlockKey> touches;
    std::vector<BlockKey> suspects;
    takePending(touches, suspects);
    if (touches.empty() && suspects.empty()) {
      return;
    }
    Txn txn;
    TxnState st;
    int rc = beginWrite(txn, st);
    if (rc == MDB_SUCCESS) {
      rc = applyPending(txn.get(), st, touches, suspects);
    }
    if (rc == MDB_SUCCESS) {
      rc = commit(txn, st);
    }
    noteLmdbError(rc, "apply LRU touches");
  }

  void recordTouch(const BlockKey& key) {
    bool wake = false;
    {
      std::lock_guard lock(touch_mu);
      if (pending_touches.size() >= kTouchCapacity) {
        dropped_touches.fetch_add(1, std::memory_order_relaxed);
        return;
      }
      pending_touches.push_back(key);
      wake = pending_touches.size() == kTouchCapacity / 2;
    }
    if (wake) {
      touch_cv.notify_one();
    }
  }

  // True when the block is stored; with `warm`, starts reading its pages from disk.
  bool find(std::string_view content_id, std::uint64_t index, bool warm) const {
    BlockKey key;
    if (!detail::makeBlockKey(content_id, index, key)) {
      return false;
    }
    std::shared_lock gen(gen_mu);
    if (env == nullptr) {
      return false;
    }
    detail::ReadTxnPool::Lease lease;
    if (readers->acquire(lease) != MDB_SUCCESS) {
      return false;
    }
    MDB_val k = detail::toVal(key.view());
    MDB_val v{};
    if (int rc = mdb_get(lease.get(), blocks_dbi, &k, &v); rc != MDB_SUCCESS) {
      noteLmdbError(rc, "look up block");
      return false;
    }
    if (warm) {
      detail::adviseWillNeed(v.mv_data, v.mv_size);
    }
    return true;
  }

  void recordSuspect(const BlockKey& key) {
    std::lock_guard lock(touch_mu);
    if (pending_suspects.size() < kSuspectCapacity) {
      pending_suspects.push_back(key);
    }
  }

  void flusherLoop(const std::stop_token& stop) {
    std::unique_lock lock(touch_mu);
    while (!stop.stop_requested()) {
      touch_cv.wait_for(lock, stop, options.touch_flush_interval,
                        [this] { return pending_touches.size() >= kTouchCapacity / 2; });
      if (stop.stop_requested()) {
        return;
      }
      if (needs_rebuild.load(std::memory_order_acquire)) {
        lock.unlock();
        rebuildIfNeeded();
        lock.lock();
      }
      if (pending_touches.empty() && pending_suspects.empty()) {
        continue;
      }
      lock.unlock();
      applyPendingNow();
      lock.lock();
    }
  }

  // --- open ---

  detail::InitOutcome init(MDB_env* raw_env) {
    using detail::InitOutcome;
    auto fail = &InitOutcome::fromLmdb;
    Txn txn;
    int rc = Txn::begin(raw_env, 0, txn);
    if (rc != MDB_SUCCESS) {
      return fail(rc, "begin");
    }
    if ((rc = mdb_dbi_open(txn.get(), "meta", MDB_CREATE, &meta_dbi)) != MDB_SUCCESS ||
        (rc = mdb_dbi_open(txn.get(), "blocks", MDB_CREATE, &blocks_dbi)) != MDB_SUCCESS ||
        (rc = mdb_dbi_open(txn.get(), "atime", MDB_CREATE, &atime_dbi)) != MDB_SUCCESS ||
        (rc = mdb_dbi_open(txn.get(), "lru", MDB_CREATE, &lru_dbi)) != MDB_SUCCESS) {
      return fail(rc, "open databases");
    }
    auto get = [&](std::string_view name, MDB_val& out) {
      MDB_val key = detail::toVal(name);
      return mdb_get(txn.get(), meta_dbi, &key, &out);
    };
    auto put = [&](std::string_view name, std::string_view value) {
      MDB_val key = detail::toVal(name);
      MDB_val val = detail::toVal(value);
      return mdb_put(txn.get(), meta_dbi, &key, &val, 0);
    };
    char buf[4];
    MDB_val val{};
    rc = get(kMetaFormat, val);
    if (rc == MDB_NOTFOUND) {
      MDB_stat st{};
      if ((rc = mdb_stat(txn.get(), blocks_dbi, &st)) != MDB_SUCCESS) {
        return fail(rc, "stat blocks");
      }
      if (st.ms_entries != 0) {
        return InitOutcome::corrupt("blocks without a format record");
      }
      detail::storeLe32(buf, kStoreFormatVersion);
      if ((rc = put(kMetaFormat, {buf, 4})) != MDB_SUCCESS) {
        return fail(rc, "write format");
      }
      detail::storeLe32(buf, options.block_size);
      if ((rc = put(kMetaBlockSize, {buf, 4})) != MDB_SUCCESS) {
        return fail(rc, "write block size");
      }
      rc = get(kMetaFormat, val);
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
    if ((rc = get(kMetaBlockSize, val)) != MDB_SUCCESS || val.mv_size != 4) {
      return InitOutcome::corrupt("missing block size record");
    }
    block_size = detail::loadLe32(static_cast<const char*>(val.mv_data));
    if (block_size < detail::kMinBlockSize || block_size > detail::kMaxBlockSize) {
      return InitOutcome::corrupt("recorded block size " + std::to_string(block_size) +
                                  " out of range");
    }
    {
      // A cheap look at the ends of the LRU index catches a damaged tree before first use.
      Cursor cursor;
      if ((rc = cursor.open(txn.get(), lru_dbi)) != MDB_SUCCESS) {
        return fail(rc, "open cursor");
      }
      MDB_val tick{};
      MDB_val key{};
      for (MDB_cursor_op op : {MDB_FIRST, MDB_LAST}) {
        rc = mdb_cursor_get(cursor.get(), &tick, &key, op);
        if (rc == MDB_NOTFOUND) {
          break;
        }
        if (rc != MDB_SUCCESS) {
          return fail(rc, "read LRU index");
        }
        if (tick.mv_size != 8 || key.mv_size <= 8 || key.mv_size > kMaxContentIdBytes + 8) {
          return InitOutcome::corrupt("malformed LRU index");
        }
      }
    }
    if ((rc = txn.commit()) != MDB_SUCCESS) {
      return fail(rc, "commit");
    }
    return InitOutcome::ok();
  }
};

CacheResult<std::unique_ptr<LmdbBlockStore>> LmdbBlockStore::open(const CacheOptions& options) {
  if (options.dir.empty()) {
    return makeCacheError(CacheErrorKind::kIo, "cache directory not set");
  }
  if (options.block_size < detail::kMinBlockSize || options.block_size > detail::kMaxBlockSize) {
    return makeCacheError(CacheErrorKind::kIo, "block size " + std::to_string(options.block_size) +
                                                   " outside [4 KiB, 16 MiB]");
  }
  if (options.max_readers == 0) {
    return makeCacheError(CacheErrorKind::kIo, "max_readers must be positive");
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  detail::EnvConfig config;
  config.dir = options.dir / "blocks";
  config.map_size = options.map_size != 0 ? options.map_size : defaultMapSize(options.max_bytes);
  config.max_readers = options.max_readers;
  config.max_dbs = 4;
  config.sync = options.sync;
  Impl* raw = impl.get();
  impl->env_config = config;
  auto env = detail::Environment::open(config, [raw](MDB_env* e) { return raw->init(e); });
  if (!env) {
    return common::Unexpected<CacheError>(std::move(env).error());
  }
  impl->env = std::move(*env);
  impl->rebuilt_on_open = impl->env->rebuilt();
  impl->rebuild_reason_on_open = impl->env->rebuildReason();
  // LMDB grows the map to the data file's size when the file is larger than asked for.
  impl->budget_bytes = std::min(options.max_bytes, impl->env->mapSize() / 8 * 7);
  impl->readers = std::make_unique<detail::ReadTxnPool>(impl->env->get(),
                                                        std::max(1u, options.max_readers / 2));
  impl->pending_touches.reserve(kTouchCapacity);
  if (options.touch_flush_interval.count() > 0) {
    impl->flusher = std::jthread([raw](const std::stop_token& stop) { raw->flusherLoop(stop); });
  }
  return std::unique_ptr<LmdbBlockStore>(new LmdbBlockStore(std::move(impl)));
}

LmdbBlockStore::LmdbBlockStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LmdbBlockStore::~LmdbBlockStore() = default;

std::optional<std::size_t> LmdbBlockStore::read(std::string_view content_id, std::uint64_t index,
                                                std::uint64_t offset_in_block,
                                                std::span<char> out) {
  Impl& s = *impl_;
  BlockKey key;
  if (!detail::makeBlockKey(content_id, index, key)) {
    s.misses.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  s.rebuildIfNeeded();
  bool absent = false;
  bool corrupt = false;
  std::size_t copied = 0;
  {
    std::shared_lock gen(s.gen_mu);
    if (s.env == nullptr) {
      s.misses.fetch_add(1, std::memory_order_relaxed);
      return std::nullopt;
    }
    detail::ReadTxnPool::Lease lease;
    int rc = s.readers->acquire(lease);
    MDB_val k = detail::toVal(key.view());
    MDB_val v{};
    if (rc == MDB_SUCCESS) {
      rc = mdb_get(lease.get(), s.blocks_dbi, &k, &v);
    }
    if (rc != MDB_SUCCESS) {
      if (rc != MDB_NOTFOUND) {
        s.noteLmdbError(rc, "read block");
      }
      absent = true;
    } else if (auto block = detail::parseBlock(detail::toView(v)); !block) {
      // Verified and copied out before the transaction ends: LMDB's memory never leaves here.
      corrupt = true;
    } else if (offset_in_block < block->length) {
      auto begin = static_cast<std::size_t>(offset_in_block);
      copied = std::min(out.size(), block->length - begin);
      detail::adviseWillNeedRange(*block, begin, begin + copied);
      if (!detail::verifyRange(*block, begin, begin + copied)) {
        corrupt = true;
      } else if (copied > 0) {
        std::memcpy(out.data(), block->payload + begin, copied);
      }
    }
  }
  if (absent) {
    s.misses.fetch_add(1, std::memory_order_relaxed);
    s.rebuildIfNeeded();  // after the lease and gen_mu are released
    return std::nullopt;
  }
  if (corrupt) {
    std::uint64_t n = s.corrupt_blocks.fetch_add(1, std::memory_order_relaxed) + 1;
    if (n <= kLogFirstCorrupt || n % kLogEveryCorrupt == 0) {
      spdlog::warn("block cache: checksum mismatch in block {} of {}: a miss, fetched again "
                   "({} damaged blocks seen)",
                   index, content_id, n);
    }
    s.misses.fetch_add(1, std::memory_order_relaxed);
    s.recordSuspect(key);
    return std::nullopt;
  }
  s.hits.fetch_add(1, std::memory_order_relaxed);
  s.recordTouch(key);
  return copied;
}

bool LmdbBlockStore::contains(std::string_view content_id, std::uint64_t index) const {
  return impl_->find(content_id, index, false);
}

bool LmdbBlockStore::warm(std::string_view content_id, std::uint64_t index) const {
  return impl_->find(content_id, index, true);
}

CacheStatus LmdbBlockStore::write(std::string_view content_id, std::uint64_t index,
                                  std::string_view data) {
  const BlockWrite one{content_id, index, data};
  return writeMany(std::span<const BlockWrite>(&one, 1));
}

CacheStatus LmdbBlockStore::writeMany(std::span<const BlockWrite> writes) {
  Impl& s = *impl_;
  std::vector<PendingWrite> reqs(writes.size());
  std::vector<PendingWrite*> queued;
  queued.reserve(writes.size());
  for (std::size_t i = 0; i < writes.size(); ++i) {
    const BlockWrite& w = writes[i];
    PendingWrite& req = reqs[i];
    if (!detail::makeBlockKey(w.content_id, w.index, req.key)) {
      req.result = makeCacheError(CacheErrorKind::kIo,
                                  "invalid argument: content id must be 1 to " +
                                      std::to_string(kMaxContentIdBytes) + " bytes");
    } else if (w.data.size() > s.block_size) {
      req.result = makeCacheError(CacheErrorKind::kIo,
                                  "invalid argument: " + std::to_string(w.data.size()) +
                                      " bytes exceed the block size " +
                                      std::to_string(s.block_size));
    } else {
      // Checksums are computed here, in parallel across writers, not under the writer lock.
      detail::encodeHeader(w.data, req.header);
      req.data = w.data;
      queued.push_back(&req);
    }
  }

  std::unique_lock lock(s.queue_mu);
  s.queue.insert(s.queue.end(), queued.begin(), queued.end());
  auto all_done = [&queued] {
    return std::all_of(queued.begin(), queued.end(), [](const PendingWrite* p) { return p->done; });
  };
  while (!all_done()) {
    if (s.leader_active) {
      s.queue_cv.wait(lock);
      continue;
    }
    s.leader_active = true;
    std::vector<PendingWrite*> batch;
    std::uint64_t bytes = 0;
    while (!s.queue.empty() && batch.size() < kMaxBatchWrites &&
           (batch.empty() || bytes + s.queue.front()->data.size() <= kMaxBatchBytes)) {
      bytes += s.queue.front()->data.size();
      batch.push_back(s.queue.front());
      s.queue.pop_front();
    }
    lock.unlock();
    s.runBatch(batch);
    lock.lock();
    for (PendingWrite* p : batch) {
      p->done = true;
    }
    s.leader_active = false;
    s.queue_cv.notify_all();
  }
  lock.unlock();
  s.rebuildIfNeeded();
  CacheStatus first;
  for (PendingWrite& req : reqs) {
    if (req.result) {
      s.writes.fetch_add(1, std::memory_order_relaxed);
    } else {
      s.failed_writes.fetch_add(1, std::memory_order_relaxed);
      if (first) first = std::move(req.result);
    }
  }
  return first;
}

void LmdbBlockStore::flush() {
  impl_->rebuildIfNeeded();
  impl_->applyPendingNow();
  std::shared_lock gen(impl_->gen_mu);
  if (impl_->env != nullptr) {
    (void)impl_->env->sync();
  }
}

CacheStats LmdbBlockStore::stats() const {
  const Impl& s = *impl_;
  CacheStats out;
  out.rebuilds = s.rebuilds.load(std::memory_order_relaxed);
  out.disk_full = s.disk_full.load(std::memory_order_relaxed);
  out.hits = s.hits.load(std::memory_order_relaxed);
  out.misses = s.misses.load(std::memory_order_relaxed);
  out.corrupt_blocks = s.corrupt_blocks.load(std::memory_order_relaxed);
  out.evicted_blocks = s.evicted_blocks.load(std::memory_order_relaxed);
  out.writes = s.writes.load(std::memory_order_relaxed);
  out.failed_writes = s.failed_writes.load(std::memory_order_relaxed);
  out.dropped_touches = s.dropped_touches.load(std::memory_order_relaxed);
  out.map_full = s.map_full.load(std::memory_order_relaxed);
  std::shared_lock gen(s.gen_mu);
  if (s.env == nullptr) {
    return out;
  }
  out.budget_bytes = s.budget_bytes;
  out.map_bytes = s.env->mapSize();
  out.file_bytes = s.env->fileBytes();
  detail::ReadTxnPool::Lease lease;
  if (s.readers->acquire(lease) == MDB_SUCCESS) {
    MDB_stat st{};
    if (mdb_stat(lease.get(), s.blocks_dbi, &st) == MDB_SUCCESS) {
      out.blocks = st.ms_entries;
    }
    (void)s.usedBytes(lease.get(), out.used_bytes);
    TxnState counters;
    if (s.loadCounters(lease.get(), counters) == MDB_SUCCESS) {
      out.logical_bytes = counters.logical_bytes;
    }
  }
  return out;
}

CacheStatus LmdbBlockStore::prune(std::uint64_t to_bytes) {
  Impl& s = *impl_;
  s.rebuildIfNeeded();
  std::shared_lock gen(s.gen_mu);
  if (s.env == nullptr) {
    return Impl::disabledError();
  }
  std::lock_guard lock(s.write_mu);
  std::vector<BlockKey> touches;
  std::vector<BlockKey> suspects;
  s.takePending(touches, suspects);
  Txn txn;
  TxnState st;
  int rc = s.beginWrite(txn, st);
  if (rc == MDB_SUCCESS) {
    rc = s.applyPending(txn.get(), st, touches, suspects);
  }
  if (rc == MDB_SUCCESS) {
    rc = s.evictUntil(txn.get(), st, to_bytes);
  }
  if (rc == MDB_SUCCESS) {
    rc = s.commit(txn, st);
  }
  return s.toStatus(rc, "prune");
}

CacheStatus LmdbBlockStore::clear() {
  Impl& s = *impl_;
  s.rebuildIfNeeded();
  std::shared_lock gen(s.gen_mu);
  if (s.env == nullptr) {
    return Impl::disabledError();
  }
  std::lock_guard lock(s.write_mu);
  {
    std::lock_guard touch_lock(s.touch_mu);
    s.pending_touches.clear();
    s.pending_suspects.clear();
  }
  Txn txn;
  TxnState st;
  int rc = s.beginWrite(txn, st);
  for (MDB_dbi dbi : {s.blocks_dbi, s.atime_dbi, s.lru_dbi}) {
    if (rc == MDB_SUCCESS) {
      rc = mdb_drop(txn.get(), dbi, 0);
    }
  }
  st.logical_bytes = 0;
  if (rc == MDB_SUCCESS) {
    rc = s.commit(txn, st);
  }
  return s.toStatus(rc, "clear");
}

std::uint32_t LmdbBlockStore::blockSize() const { return impl_->block_size; }
bool LmdbBlockStore::rebuiltOnOpen() const { return impl_->rebuilt_on_open; }
const std::string& LmdbBlockStore::rebuildReason() const { return impl_->rebuild_reason_on_open; }

}  // namespace hfm::cache
