// SPDX-License-Identifier: Apache-2.0
#include "cache/journal.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <cerrno>
#include <filesystem>
#include <ranges>
#include <vector>

#include "cache/detail/kv_database.h"
#include "common/file_util.h"

namespace hfm::cache {
namespace {

// Layout in docs/caching.md. Value magic "HFJ1"; the CRC covers the key too, so a damaged key
// cannot hand one change's value to another path.
constexpr detail::KvFormat kFormat{1, 0x314A4648, true};
static_assert(Journal::kMaxKeyBytes == detail::kMaxKvKeyBytes);

// LMDB reader slots: reads come from FUSE worker threads and the committer.
constexpr unsigned kMaxReaders = 126;

// Creates `dir` and its missing parents with mode 0700: pending changes name the user's files.
CacheStatus makePrivateDirs(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> missing;
  std::error_code ec;
  for (auto p = dir; !p.empty() && !std::filesystem::exists(p, ec); p = p.parent_path()) {
    missing.push_back(p);
    if (p == p.parent_path()) {
      break;
    }
  }
  for (const auto& p : std::views::reverse(missing)) {  // outermost first
    if (::mkdir(p.c_str(), 0700) != 0 && errno != EEXIST) {
      return makeCacheError(CacheErrorKind::kIo, common::errnoMessage("mkdir", p, errno));
    }
  }
  return {};
}

// flock, not fcntl: fcntl locks belong to the process, so a second open in this process would
// succeed, and closing any descriptor of the file would drop the lock.
CacheResult<common::UniqueFd> lockDir(const std::filesystem::path& dir) {
  const auto path = dir / "lock";
  auto fd = common::openFile(path, O_RDWR | O_CREAT, 0600);
  if (!fd) {
    return makeCacheError(CacheErrorKind::kIo, fd.error().message);
  }
  int rc = 0;
  do {
    rc = ::flock(fd->get(), LOCK_EX | LOCK_NB);
  } while (rc != 0 && errno == EINTR);
  if (rc == 0) {
    return std::move(*fd);
  }
  if (errno == EWOULDBLOCK) {
    return makeCacheError(CacheErrorKind::kBusy,
                          "journal " + dir.string() +
                              " is in use by another hf-mount process (or another mount in this "
                              "one) holding " +
                              path.string());
  }
  return makeCacheError(CacheErrorKind::kIo, common::errnoMessage("flock", path, errno));
}

}  // namespace

struct Journal::Impl {
  std::string dir;
  common::UniqueFd lock;  // released after db is closed
  std::unique_ptr<detail::KvDatabase> db;
};

CacheResult<std::unique_ptr<Journal>> Journal::open(const JournalOptions& options) {
  if (options.dir.empty()) {
    return makeCacheError(CacheErrorKind::kIo, "invalid argument: journal directory not set");
  }
  if (auto made = makePrivateDirs(options.dir); !made) {
    return common::Unexpected<CacheError>(made.error());
  }
  auto impl = std::make_unique<Impl>();
  impl->dir = options.dir;
  // Taken before LMDB sees the files: LMDB forbids opening one environment twice in a process.
  auto lock = lockDir(options.dir);
  if (!lock) {
    return common::Unexpected<CacheError>(std::move(lock).error());
  }
  impl->lock = std::move(*lock);

  detail::EnvConfig config;
  config.dir = options.dir;
  config.map_size = options.map_size != 0 ? options.map_size : JournalOptions{}.map_size;
  config.max_readers = kMaxReaders;
  config.sync = true;
  config.enable_rebuild = false;
  auto db = detail::KvDatabase::open(config, kFormat);
  if (!db) {
    CacheError error = std::move(db).error();
    if (error.kind == CacheErrorKind::kCorrupt) {
      error.message = "pending-changes journal " + error.message +
                      ". hf-mount neither repairs nor discards a journal, and the changes "
                      "recorded in it are not committed; move the directory aside to start an "
                      "empty one.";
    }
    return common::Unexpected<CacheError>(std::move(error));
  }
  impl->db = std::move(*db);
  return std::unique_ptr<Journal>(new Journal(std::move(impl)));
}

Journal::Journal(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Journal::~Journal() = default;

CacheStatus Journal::apply(const std::vector<JournalWrite>& writes) {
  std::vector<detail::KvWrite> batch;
  batch.reserve(writes.size());
  for (const JournalWrite& w : writes) {
    batch.push_back(
        {w.key, {}, w.value ? std::optional<std::string_view>(*w.value) : std::nullopt});
  }
  return impl_->db->write(batch, "journal write");
}

CacheStatus Journal::put(std::string_view key, std::string_view value) {
  detail::KvWrite write{key, {}, value};
  return impl_->db->write({&write, 1}, "journal write");
}

CacheStatus Journal::erase(std::string_view key) {
  detail::KvWrite write{key, {}, std::nullopt};
  return impl_->db->write({&write, 1}, "journal erase");
}

std::optional<std::string> Journal::get(std::string_view key) const {
  return impl_->db->get(key, {});
}

std::vector<std::pair<std::string, std::string>> Journal::list(std::string_view prefix) const {
  return impl_->db->list(prefix);
}

const std::string& Journal::dir() const { return impl_->dir; }

std::uint64_t Journal::corruptValues() const { return impl_->db->corruptValues(); }

}  // namespace hfm::cache
