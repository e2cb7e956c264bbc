// SPDX-License-Identifier: Apache-2.0
#pragma once

// RAII owners for LMDB handles (STYLE.md §4.3). Private to src/cache: included only by .cpp files,
// so no other layer ever sees an MDB_* type.

#include <lmdb.h>

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hfm::cache::detail {

// "what: <LMDB or errno text>".
std::string lmdbMessage(std::string_view what, int rc);
// Return codes that mean the environment itself is damaged (rebuild rather than retry).
bool isCorruption(int rc);

inline MDB_val toVal(std::string_view bytes) {
  // LMDB takes non-const pointers but never writes through the key or a non-reserved value.
  return MDB_val{bytes.size(), const_cast<char*>(bytes.data())};  // NOLINT
}
inline std::string_view toView(const MDB_val& val) {
  return {static_cast<const char*>(val.mv_data), val.mv_size};
}

struct EnvCloser {
  void operator()(MDB_env* env) const noexcept { mdb_env_close(env); }
};
using EnvHandle = std::unique_ptr<MDB_env, EnvCloser>;

// Owns a transaction and aborts it in the destructor unless committed. Not thread-safe; a write
// transaction must end on the thread that began it. Any Cursor opened in a write transaction
// must be destroyed before the transaction ends (LMDB frees such cursors itself).
class Txn {
 public:
  Txn() = default;
  ~Txn() { abort(); }
  Txn(Txn&& other) noexcept : txn_(std::exchange(other.txn_, nullptr)) {}
  Txn& operator=(Txn&& other) noexcept {
    if (this != &other) {
      abort();
      txn_ = std::exchange(other.txn_, nullptr);
    }
    return *this;
  }
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;

  static int begin(MDB_env* env, unsigned flags, Txn& out) {
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(env, nullptr, flags, &txn);
    if (rc == MDB_SUCCESS) {
      out = Txn(txn);
    }
    return rc;
  }

  MDB_txn* get() const { return txn_; }
  explicit operator bool() const { return txn_ != nullptr; }
  // LMDB frees the handle whether or not the commit succeeds.
  int commit() { return mdb_txn_commit(std::exchange(txn_, nullptr)); }
  void abort() noexcept {
    if (txn_ != nullptr) {
      mdb_txn_abort(std::exchange(txn_, nullptr));
    }
  }

 private:
  explicit Txn(MDB_txn* txn) : txn_(txn) {}
  MDB_txn* txn_ = nullptr;
};

// Owns a cursor. Not thread-safe. See Txn for the write-transaction lifetime rule.
class Cursor {
 public:
  Cursor() = default;
  ~Cursor() { reset(); }
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;

  int open(MDB_txn* txn, MDB_dbi dbi) {
    reset();
    return mdb_cursor_open(txn, dbi, &cursor_);
  }
  MDB_cursor* get() const { return cursor_; }
  void reset() noexcept {
    if (cursor_ != nullptr) {
      mdb_cursor_close(std::exchange(cursor_, nullptr));
    }
  }

 private:
  MDB_cursor* cursor_ = nullptr;
};

// Reusable read-only transactions. Under MDB_NOTLS, mdb_txn_begin takes LMDB's reader-table
// mutex to find a free slot on every call; a reset transaction keeps its slot and renewing it
// takes no lock, which keeps short reads cheap. Thread-safe: the pool's mutex guards only the
// idle list and is never held across an LMDB call. Destroy the pool before the environment.
class ReadTxnPool {
 public:
  ReadTxnPool(MDB_env* env, std::size_t max_idle) : env_(env), max_idle_(max_idle) {}
  ~ReadTxnPool() {
    for (MDB_txn* txn : idle_) {
      mdb_txn_abort(txn);
    }
  }
  ReadTxnPool(const ReadTxnPool&) = delete;
  ReadTxnPool& operator=(const ReadTxnPool&) = delete;

  // A renewed read transaction, returned to the pool (reset) when the lease ends.
  class Lease {
   public:
    Lease() = default;
    ~Lease() {
      if (txn_ != nullptr) {
        pool_->release(txn_);
      }
    }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    MDB_txn* get() const { return txn_; }

   private:
    friend class ReadTxnPool;
    ReadTxnPool* pool_ = nullptr;
    MDB_txn* txn_ = nullptr;
  };

  int acquire(Lease& lease) {
    MDB_txn* txn = nullptr;
    {
      std::lock_guard lock(mu_);
      if (!idle_.empty()) {
        txn = idle_.back();
        idle_.pop_back();
      }
    }
    int rc = MDB_SUCCESS;
    if (txn != nullptr) {
      rc = mdb_txn_renew(txn);
      if (rc != MDB_SUCCESS) {
        mdb_txn_abort(txn);
        return rc;
      }
    } else {
      rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn);
      if (rc != MDB_SUCCESS) {
        return rc;
      }
    }
    lease.pool_ = this;
    lease.txn_ = txn;
    return MDB_SUCCESS;
  }

 private:
  void release(MDB_txn* txn) {
    mdb_txn_reset(txn);
    {
      std::lock_guard lock(mu_);
      if (idle_.size() < max_idle_) {
        idle_.push_back(txn);
        return;
      }
    }
    mdb_txn_abort(txn);
  }

  MDB_env* env_;
  std::size_t max_idle_;
  std::mutex mu_;
  std::vector<MDB_txn*> idle_;  // guarded by mu_
};

}  // namespace hfm::cache::detail
