// SPDX-License-Identifier: Apache-2.0
#pragma once

// Opening an LMDB environment the way the stores need it: create the directory, find damage
// (including an environment that was open without sync when the machine went down: its unsynced
// pages may be torn, which LMDB cannot detect by itself), and then either recreate the
// environment (the caches) or refuse to open it (the journal, whose data must not be lost).

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>

#include "cache/cache_error.h"
#include "cache/detail/lmdb_handles.h"

namespace hfm::cache::detail {

struct EnvConfig {
  std::filesystem::path dir;
  std::uint64_t map_size = 0;
  unsigned max_readers = 126;
  unsigned max_dbs = 4;
  bool sync = false;
  // On damage, delete and recreate the environment. When off, open() fails with kCorrupt and
  // leaves every file as found; a CREATED marker, written after the first successful open, then
  // also turns a missing or empty data file (which LMDB would silently start afresh) into damage.
  bool enable_rebuild = true;
  // Set for a run-time rebuild: the environment is deleted and recreated (unless another process
  // has it open), and rebuilt()/rebuildReason() report this reason.
  std::string rebuild_reason;
};

// What the store's format check found right after the environment opened.
struct InitOutcome {
  enum class Kind { kOk, kCorrupt, kIo };
  Kind kind = Kind::kOk;
  std::string message;
  static InitOutcome ok() { return {}; }
  static InitOutcome corrupt(std::string m) { return {Kind::kCorrupt, std::move(m)}; }
  static InitOutcome io(std::string m) { return {Kind::kIo, std::move(m)}; }
  // A failed LMDB call: corruption codes make the environment be rebuilt, anything else is I/O.
  static InitOutcome fromLmdb(int rc, std::string_view what) {
    std::string m = lmdbMessage(what, rc);
    return isCorruption(rc) ? corrupt(std::move(m)) : io(std::move(m));
  }
};
// Opens the store's databases and checks its format records; may run twice (after a rebuild).
using InitFn = std::function<InitOutcome(MDB_env*)>;

// An open environment. Thread-safe (LMDB's own rules apply to its handle). Destruction syncs,
// removes this process's open-marker and closes the environment: destroy every transaction and
// ReadTxnPool first.
class Environment {
 public:
  static CacheResult<std::unique_ptr<Environment>> open(const EnvConfig& config,
                                                        const InitFn& init);
  ~Environment();
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;

  MDB_env* get() const { return env_.get(); }
  std::uint32_t pageSize() const { return page_size_; }
  std::uint64_t mapSize() const;
  std::uint64_t fileBytes() const;  // (last page number + 1) x page size
  bool rebuilt() const { return rebuilt_; }
  const std::string& rebuildReason() const { return rebuild_reason_; }

  // Records that LMDB reported damage at run time, so that the next open rebuilds (or, without
  // rebuild, fails). Thread-safe; only the first call writes.
  void markCorrupt(std::string_view reason) noexcept;
  // The status of an LMDB call: kFull for a full map, kCorrupt (after markCorrupt) for damage,
  // kIo for anything else. Thread-safe.
  CacheStatus status(int rc, std::string_view what);
  // Forces dirty pages and the meta page to disk.
  int sync() const { return mdb_env_sync(env_.get(), 1); }

 private:
  Environment() = default;
  EnvHandle env_;
  std::filesystem::path dir_;
  std::filesystem::path open_marker_;  // empty when sync is on or the boot id is unknown
  std::uint32_t page_size_ = 4096;
  bool rebuilt_ = false;
  std::string rebuild_reason_;
  std::atomic<bool> marked_corrupt_{false};
};

// Pages in use as seen by `txn`: the two meta pages plus the branch, leaf and overflow pages of
// the free-list database, the main database and each of `dbis`. Pages on the free list are not
// counted: the data file never shrinks, but those pages are reused before it grows.
int usedPages(MDB_txn* txn, std::initializer_list<MDB_dbi> dbis, std::uint64_t& pages);

}  // namespace hfm::cache::detail
