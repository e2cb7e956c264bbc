// SPDX-License-Identifier: Apache-2.0
#include "cache/detail/environment.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <system_error>
#include <utility>
#include <vector>

#include "common/file_util.h"

namespace hfm::cache::detail {
namespace {

constexpr const char* kCorruptMarker = "CORRUPT";
constexpr const char* kCreatedMarker = "CREATED";
constexpr std::string_view kOpenMarkerPrefix = "open.";

std::string readBootId() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  for (char c : id) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == '-';
    if (!ok) {
      return {};
    }
  }
  return id;
}

bool processAlive(long pid) {
  if (pid <= 0) {
    return false;
  }
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

// Open markers are "open.<boot id>.<pid>": one per process that has the environment open with
// sync off, removed after a final sync at close. A marker from another boot means the machine
// went down while the environment had unsynced commits. One from this boot whose process is gone
// is a process crash, which loses nothing (the page cache still had every committed page).
struct MarkerScan {
  bool has_other_boot = false;
  std::vector<std::filesystem::path> dead;
};

MarkerScan scanOpenMarkers(const std::filesystem::path& dir, const std::string& boot_id) {
  MarkerScan scan;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (name.rfind(kOpenMarkerPrefix, 0) != 0) {
      continue;
    }
    std::string rest = name.substr(kOpenMarkerPrefix.size());
    auto dot = rest.rfind('.');
    if (dot == std::string::npos) {
      scan.dead.push_back(entry.path());
      continue;
    }
    std::string boot = rest.substr(0, dot);
    long pid = std::strtol(rest.c_str() + dot + 1, nullptr, 10);
    if (boot != boot_id) {
      scan.has_other_boot = true;
    } else if (!processAlive(pid)) {
      scan.dead.push_back(entry.path());
    }
  }
  return scan;
}

// LMDB holds a shared fcntl lock on byte 0 of lock.mdb in every process that has the environment
// open; a conflicting write lock therefore means another process is using it. Our own process
// must not have it open (fcntl locks never conflict within a process).
bool inUseByAnotherProcess(const std::filesystem::path& dir) {
  int fd = ::open((dir / "lock.mdb").c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    return false;
  }
  struct flock probe {};
  probe.l_type = F_WRLCK;
  probe.l_whence = SEEK_SET;
  probe.l_start = 0;
  probe.l_len = 1;
  bool in_use = ::fcntl(fd, F_GETLK, &probe) == 0 && probe.l_type != F_UNLCK;
  ::close(fd);
  return in_use;
}

int openRaw(const EnvConfig& config, EnvHandle& out) {
  MDB_env* raw = nullptr;
  int rc = mdb_env_create(&raw);
  if (rc != MDB_SUCCESS) {
    return rc;
  }
  EnvHandle env(raw);  // mdb_env_close is required even when mdb_env_open fails
  if ((rc = mdb_env_set_mapsize(raw, static_cast<std::size_t>(config.map_size))) != 0 ||
      (rc = mdb_env_set_maxreaders(raw, config.max_readers)) != 0 ||
      (rc = mdb_env_set_maxdbs(raw, config.max_dbs)) != 0) {
    return rc;
  }
  // MDB_NOTLS ties read slots to transaction objects, so reads can run on any thread and pooled
  // transactions can move between threads. Never MDB_WRITEMAP: a full disk would then be SIGBUS.
  // MDB_NORDAHEAD: no read-around on page faults; readers ask for their pages (page_advice.h).
  unsigned flags = MDB_NOTLS | MDB_NORDAHEAD;
  if (!config.sync) {
    flags |= MDB_NOSYNC | MDB_NOMETASYNC;
  }
  rc = mdb_env_open(raw, config.dir.c_str(), flags, 0644);
  if (rc == MDB_SUCCESS) {
    out = std::move(env);
  }
  return rc;
}

// A data file shorter than the last page LMDB knows of would fault (SIGBUS) on first access
// through the memory map: found after a truncation or a lost file-size update.
std::string checkDataFile(MDB_env* env, const std::filesystem::path& dir) {
  MDB_envinfo info{};
  MDB_stat st{};
  mdb_env_info(env, &info);
  mdb_env_stat(env, &st);
  std::error_code ec;
  auto size = std::filesystem::file_size(dir / "data.mdb", ec);
  auto needed = (static_cast<std::uint64_t>(info.me_last_pgno) + 1) * st.ms_psize;
  if (ec || size < needed) {
    return "data file holds " + std::to_string(ec ? 0 : size) + " bytes, its pages need " +
           std::to_string(needed);
  }
  return {};
}

void removeEnvFiles(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::remove(dir / "data.mdb", ec);
  std::filesystem::remove(dir / "lock.mdb", ec);
  std::filesystem::remove(dir / kCorruptMarker, ec);
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().filename().string().rfind(kOpenMarkerPrefix, 0) == 0) {
      std::filesystem::remove(entry.path(), ec);
    }
  }
}

}  // namespace

std::string lmdbMessage(std::string_view what, int rc) {
  std::string text;
  if (rc > 0) {
    std::array<char, 256> buf{};
    text = strerror_r(rc, buf.data(), buf.size());
  } else {
    text = mdb_strerror(rc);  // static strings for LMDB's own codes
  }
  return std::string(what) + ": " + text;
}

bool isCorruption(int rc) {
  // MDB_PANIC: a failed meta-page write (a full disk) leaves the environment unusable until it
  // is reopened; rebuilding it also frees its space.
  return rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND || rc == MDB_INVALID ||
         rc == MDB_VERSION_MISMATCH || rc == MDB_INCOMPATIBLE || rc == MDB_PANIC;
}

int usedPages(MDB_txn* txn, std::initializer_list<MDB_dbi> dbis, std::uint64_t& pages) {
  constexpr MDB_dbi kFreeDbi = 0;
  constexpr MDB_dbi kMainDbi = 1;
  std::uint64_t total = 2;  // the two meta pages
  auto add = [&](MDB_dbi dbi) {
    MDB_stat st{};
    int rc = mdb_stat(txn, dbi, &st);
    if (rc == MDB_SUCCESS) {
      total += st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
    }
    return rc;
  };
  for (MDB_dbi dbi : {kFreeDbi, kMainDbi}) {
    if (int rc = add(dbi); rc != MDB_SUCCESS) {
      return rc;
    }
  }
  for (MDB_dbi dbi : dbis) {
    if (int rc = add(dbi); rc != MDB_SUCCESS) {
      return rc;
    }
  }
  pages = total;
  return MDB_SUCCESS;
}

CacheResult<std::unique_ptr<Environment>> Environment::open(const EnvConfig& config,
                                                            const InitFn& init) {
  if (auto made = common::makeDirs(config.dir); !made) {
    return makeCacheError(CacheErrorKind::kIo, made.error().message);
  }
  std::unique_ptr<Environment> self(new Environment());
  self->dir_ = config.dir;

  // Reasons known before LMDB even looks at the files.
  std::string reason = config.rebuild_reason;
  std::error_code ec;
  if (reason.empty() && std::filesystem::exists(config.dir / kCorruptMarker, ec)) {
    std::ifstream in(config.dir / kCorruptMarker);
    std::string text;
    std::getline(in, text);
    reason = "marked damaged at run time (" + text + ")";
  }
  const std::string boot_id = readBootId();
  if (!boot_id.empty()) {
    MarkerScan scan = scanOpenMarkers(config.dir, boot_id);
    for (const auto& dead : scan.dead) {
      std::filesystem::remove(dead, ec);
    }
    if (reason.empty() && scan.has_other_boot) {
      reason = "it was open without sync when the machine went down";
    }
  }
  auto keep_damaged = [&](const std::string& why) {
    return makeCacheError(CacheErrorKind::kCorrupt,
                          config.dir.string() + " is damaged (" + why + "); left as found");
  };
  if (!config.enable_rebuild) {
    if (reason.empty() && std::filesystem::exists(config.dir / kCreatedMarker, ec)) {
      auto size = std::filesystem::file_size(config.dir / "data.mdb", ec);
      if (ec || size == 0) {
        reason = "its data file is missing or empty";
      }
    }
    if (!reason.empty()) {
      return keep_damaged(reason);
    }
  }
  // Another process using the environment has already opened it successfully since boot, so
  // a rebuild is both unsafe and unnecessary then.
  if (!reason.empty() && !inUseByAnotherProcess(config.dir)) {
    removeEnvFiles(config.dir);
    self->rebuilt_ = true;
    self->rebuild_reason_ = reason;
  }

  auto rebuild = [&](std::string why) -> CacheStatus {
    self->env_.reset();
    if (!config.enable_rebuild) {
      return keep_damaged(why);
    }
    if (inUseByAnotherProcess(config.dir)) {
      return makeCacheError(CacheErrorKind::kCorrupt, config.dir.string() + " is damaged (" + why +
                                                          ") and in use by another process");
    }
    removeEnvFiles(config.dir);
    self->rebuilt_ = true;
    self->rebuild_reason_ = std::move(why);
    return {};
  };

  // At most two rounds: the environment as found, then (if damaged) a fresh one.
  for (int round = 0;; ++round) {
    std::string damage;
    int rc = openRaw(config, self->env_);
    if (rc != MDB_SUCCESS) {
      if (!isCorruption(rc)) {
        return makeCacheError(CacheErrorKind::kIo,
                              lmdbMessage("open LMDB environment " + config.dir.string(), rc));
      }
      damage = lmdbMessage("mdb_env_open", rc);
    } else {
      damage = checkDataFile(self->env_.get(), config.dir);
    }
    if (damage.empty()) {
      // Frees reader slots left by crashed processes; their snapshots would pin old pages.
      int dead_readers = 0;
      mdb_reader_check(self->env_.get(), &dead_readers);
      InitOutcome outcome = init(self->env_.get());
      if (outcome.kind == InitOutcome::Kind::kOk) {
        break;
      }
      if (outcome.kind == InitOutcome::Kind::kIo) {
        return makeCacheError(CacheErrorKind::kIo, config.dir.string() + ": " + outcome.message);
      }
      damage = outcome.message;
    }
    if (round > 0) {
      return makeCacheError(CacheErrorKind::kCorrupt,
                            config.dir.string() + " still damaged after a rebuild: " + damage);
    }
    if (auto r = rebuild(std::move(damage)); !r) {
      return common::Unexpected<CacheError>(r.error());
    }
  }

  MDB_stat st{};
  mdb_env_stat(self->env_.get(), &st);
  self->page_size_ = st.ms_psize;

  if (!config.enable_rebuild && !std::filesystem::exists(config.dir / kCreatedMarker, ec)) {
    // Written only now that the format record is committed, so a crash during the first open
    // leaves no marker and the empty environment is simply created again.
    if (int rc = self->sync(); rc != MDB_SUCCESS) {
      return makeCacheError(CacheErrorKind::kIo, lmdbMessage("sync " + config.dir.string(), rc));
    }
    if (auto written = common::writeFileAtomic(config.dir / kCreatedMarker, ""); !written) {
      return makeCacheError(CacheErrorKind::kIo, written.error().message);
    }
  }

  if (!config.sync && !boot_id.empty()) {
    auto marker = config.dir / (std::string(kOpenMarkerPrefix) + boot_id + "." +
                                std::to_string(static_cast<long>(::getpid())));
    auto fd = common::openFile(marker, O_WRONLY | O_CREAT | O_TRUNC);
    if (fd) {
      // The marker must be durable before any unsynced commit could be torn by a power cut.
      ::fsync(fd->get());
      (void)common::fsyncDir(config.dir);
      self->open_marker_ = marker;
    }
  }
  return self;
}

Environment::~Environment() {
  if (env_ == nullptr) {
    return;
  }
  int rc = sync();
  env_.reset();
  if (rc == MDB_SUCCESS && !open_marker_.empty()) {
    std::error_code ec;
    std::filesystem::remove(open_marker_, ec);
  }
}

std::uint64_t Environment::mapSize() const {
  MDB_envinfo info{};
  mdb_env_info(env_.get(), &info);
  return info.me_mapsize;
}

std::uint64_t Environment::fileBytes() const {
  MDB_envinfo info{};
  mdb_env_info(env_.get(), &info);
  return (static_cast<std::uint64_t>(info.me_last_pgno) + 1) * page_size_;
}

CacheStatus Environment::status(int rc, std::string_view what) {
  if (rc == MDB_SUCCESS) {
    return {};
  }
  if (rc == MDB_MAP_FULL) {
    return makeCacheError(CacheErrorKind::kFull, lmdbMessage(what, rc));
  }
  if (isCorruption(rc)) {
    markCorrupt(lmdbMessage(what, rc));
    return makeCacheError(CacheErrorKind::kCorrupt, lmdbMessage(what, rc));
  }
  return makeCacheError(CacheErrorKind::kIo, lmdbMessage(what, rc));
}

void Environment::markCorrupt(std::string_view reason) noexcept {
  if (marked_corrupt_.exchange(true)) {
    return;
  }
  try {
    (void)common::writeFileAtomic(dir_ / kCorruptMarker, std::string(reason) + "\n");
  } catch (...) {  // NOLINT(bugprone-empty-catch): best effort, the next read reports it again
  }
}

}  // namespace hfm::cache::detail
