// SPDX-License-Identifier: Apache-2.0
#include "fs/staged_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <utility>
#include <vector>

namespace hfm::fs {

using common::Error;
using common::ErrorKind;
using common::Status;

namespace {

constexpr std::uint64_t kWritebackChunk = 8u << 20;

common::Unexpected<Error> ioError(const std::string& what, const std::filesystem::path& path,
                                  int err) {
  return common::makeError(err == ENOSPC || err == EDQUOT ? ErrorKind::kNoSpace : ErrorKind::kIo,
                           common::errnoMessage(what, path, err));
}

// Copies the first `size` bytes of `from` into `to` inside the kernel.
Status copyBytes(int from, int to, std::uint64_t size, const std::filesystem::path& path) {
  loff_t in = 0;
  loff_t out = 0;
  while (static_cast<std::uint64_t>(in) < size) {
    ssize_t n = ::copy_file_range(from, &in, to, &out, size - static_cast<std::uint64_t>(in), 0);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return ioError("copy staging file", path, n < 0 ? errno : EIO);
    }
  }
  return {};
}

}  // namespace

StagingBlob::~StagingBlob() {
  if (discard_.load()) {
    std::error_code ec;
    std::filesystem::remove(path_, ec);  // best effort: leftovers are swept at the next mount
  }
}

StagedFile::StagedFile(std::filesystem::path dir, std::shared_ptr<StagingBlob> blob,
                       std::uint64_t size)
    : dir_(std::move(dir)), blob_(std::move(blob)), size_(size) {}

common::Result<std::shared_ptr<StagedFile>> StagedFile::create(const std::filesystem::path& dir,
                                                               const std::string& name) {
  auto path = dir / name;
  auto fd = common::openFile(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (!fd) {
    return common::Unexpected<Error>(fd.error());
  }
  auto blob = std::make_shared<StagingBlob>(path, std::move(*fd));
  return std::shared_ptr<StagedFile>(new StagedFile(dir, std::move(blob), 0));
}

common::Result<std::shared_ptr<StagedFile>> StagedFile::reopen(const std::filesystem::path& dir,
                                                               const std::string& name,
                                                               std::optional<std::string> sha256) {
  auto path = dir / name;
  auto fd = common::openFile(path, O_RDWR | O_CLOEXEC);
  if (!fd) {
    return common::Unexpected<Error>(fd.error());
  }
  auto size = common::fileSize(fd->get());
  if (!size) {
    return common::Unexpected<Error>(size.error());
  }
  auto blob = std::make_shared<StagingBlob>(path, std::move(*fd));
  std::shared_ptr<StagedFile> staged(new StagedFile(dir, std::move(blob), *size));
  staged->hash_valid_ = false;
  staged->known_sha256_ = std::move(sha256);
  return staged;
}

common::Result<std::size_t> StagedFile::read(std::uint64_t offset, std::span<char> out) const {
  std::shared_ptr<StagingBlob> blob;
  std::uint64_t size = 0;
  {
    std::lock_guard lock(mu_);
    blob = blob_;
    size = size_;
  }
  if (offset >= size) {
    return std::size_t{0};
  }
  std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), size - offset));
  std::size_t done = 0;
  while (done < want) {
    ssize_t n = ::pread(blob->fd(), out.data() + done, want - done,
                        static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return ioError("read staging file", blob->path(), errno);
    }
    if (n == 0) {
      // Shorter on disk than recorded (a truncate raced this read): the rest reads as zeros.
      std::fill(out.begin() + static_cast<std::ptrdiff_t>(done),
                out.begin() + static_cast<std::ptrdiff_t>(want), '\0');
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  return want;
}

Status StagedFile::unfreezeLocked() {
  if (!frozen_) {
    return {};
  }
  std::string name = blob_->path().filename().string();
  if (auto dot = name.find('.'); dot != std::string::npos) {
    name.resize(dot);
  }
  auto path = dir_ / (name + "." + std::to_string(++copies_));
  auto fd = common::openFile(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (!fd) {
    return common::Unexpected<Error>(fd.error());
  }
  if (auto copied = copyBytes(blob_->fd(), fd->get(), size_, path); !copied) {
    std::error_code ec;
    std::filesystem::remove(path, ec);
    return copied;
  }
  // The frozen file belongs to the commit in progress, and the journal may still name it: it
  // is kept until the journal names the copy (forgetSuperseded).
  superseded_.push_back(blob_);
  blob_ = std::make_shared<StagingBlob>(path, std::move(*fd));
  frozen_ = false;
  return {};
}

bool StagedFile::changedLocked() {
  ++generation_;
  known_sha256_.reset();
  if (!committed_) {
    return false;
  }
  committed_ = false;
  blob_->keep();
  return true;
}

common::Result<bool> StagedFile::write(std::uint64_t offset, std::span<const char> data) {
  std::lock_guard lock(mu_);
  auto fail = [&](Error e) {
    // Bytes the writer meant to store are missing (possibly a part of this very write).
    if (!failure_) {
      failure_ = e;
      failed_from_ = offset;
    } else {
      failed_from_ = std::min(failed_from_, offset);
    }
    return common::Unexpected<Error>(std::move(e));
  };
  if (auto ok = unfreezeLocked(); !ok) {
    return fail(ok.error());
  }
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::pwrite(blob_->fd(), data.data() + done, data.size() - done,
                         static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      int err = errno;
      if (done > 0) {
        // Part of it landed: it counts as content (and as a change) for what reads show. A
        // committed file coming back is reported by the next write or truncate that succeeds,
        // or by takeRevived(): changedLocked() answers true only once.
        if (changedLocked()) {
          revive_pending_ = true;
        }
        hash_valid_ = false;
        size_ = std::max<std::uint64_t>(size_, offset + done);
      }
      return fail(ioError("write staging file", blob_->path(), err).error());
    }
    done += static_cast<std::size_t>(n);
  }
  bool revived = changedLocked();
  revived = std::exchange(revive_pending_, false) || revived;
  if (hash_valid_ && offset == hashed_until_) {
    digest_.update(data.data(), data.size());
    hashed_until_ += data.size();
  } else {
    hash_valid_ = false;  // a rewrite, a hole or a jump: the committer hashes the file instead
  }
  size_ = std::max<std::uint64_t>(size_, offset + data.size());
  // close() must make the file durable: start writing back as the file grows, so that the final
  // fdatasync has little left to wait for.
  if (offset + data.size() >= writeback_from_ + kWritebackChunk) {
    std::uint64_t end = offset + data.size();
    (void)::sync_file_range(blob_->fd(), static_cast<off64_t>(writeback_from_),
                            static_cast<off64_t>(end - writeback_from_), SYNC_FILE_RANGE_WRITE);
    writeback_from_ = end;
  } else if (offset + data.size() < writeback_from_) {
    writeback_from_ = offset;  // a rewrite behind the mark: cover it next time
  }
  return revived;
}

common::Result<bool> StagedFile::truncate(std::uint64_t size) {
  std::lock_guard lock(mu_);
  // Every byte left was written successfully; the mark goes only once the truncate is done (on
  // a full disk the copy unfreezeLocked() makes can fail, leaving the damaged file as it was).
  bool clears = failure_ && size <= failed_from_;
  if (size == size_) {
    if (clears) {
      failure_.reset();
    }
    return std::exchange(revive_pending_, false);
  }
  if (auto ok = unfreezeLocked(); !ok) {
    return common::Unexpected<Error>(ok.error());
  }
  if (::ftruncate(blob_->fd(), static_cast<off_t>(size)) != 0) {
    return ioError("truncate staging file", blob_->path(), errno);
  }
  if (clears) {
    failure_.reset();
  }
  if (size == 0) {
    digest_ = common::Digest(common::Digest::Algorithm::kSha256);
    hashed_until_ = 0;
    hash_valid_ = true;
  } else if (size < hashed_until_ || size > size_) {
    hash_valid_ = false;
  }
  size_ = size;
  bool revived = changedLocked();
  return std::exchange(revive_pending_, false) || revived;
}

bool StagedFile::takeRevived() {
  std::lock_guard lock(mu_);
  return std::exchange(revive_pending_, false);
}

Status StagedFile::sync() const {
  std::shared_ptr<StagingBlob> blob;
  {
    std::lock_guard lock(mu_);
    blob = blob_;
  }
  if (::fdatasync(blob->fd()) != 0) {
    auto e = ioError("sync staging file", blob->path(), errno);
    std::lock_guard lock(mu_);
    if (!failure_) {
      failure_ = e.error();
    }
    failed_from_ = 0;
    return e;
  }
  return {};
}

std::optional<common::Error> StagedFile::writeFailure() const {
  std::lock_guard lock(mu_);
  return failure_;
}

std::optional<std::string> StagedFile::shaLocked() const {
  if (failure_) {
    // Bytes may be missing or differ from any hash taken before: whoever needs the hash (the
    // journal record, so the next mount) computes it from the file as it is.
    return std::nullopt;
  }
  if (known_sha256_) {
    return known_sha256_;
  }
  if (hash_valid_ && hashed_until_ == size_) {
    return digest_.peekHex();
  }
  return std::nullopt;
}

FrozenContent StagedFile::freeze() {
  std::lock_guard lock(mu_);
  frozen_ = true;
  return FrozenContent{blob_, size_, shaLocked(), generation_};
}

std::optional<FrozenContent> StagedFile::freezeUnlessFailed() {
  std::lock_guard lock(mu_);
  if (failure_) {
    return std::nullopt;
  }
  frozen_ = true;
  return FrozenContent{blob_, size_, shaLocked(), generation_};
}

void StagedFile::thaw(std::uint64_t generation) {
  std::lock_guard lock(mu_);
  if (generation_ == generation) {
    frozen_ = false;
  }
}

bool StagedFile::markCommitted(std::uint64_t generation) {
  std::lock_guard lock(mu_);
  if (generation_ != generation) {
    return false;
  }
  committed_ = true;
  frozen_ = false;
  blob_->discard();
  dropSupersededLocked();
  return true;
}

void StagedFile::forgetSuperseded() {
  std::lock_guard lock(mu_);
  dropSupersededLocked();
}

void StagedFile::dropSupersededLocked() {
  for (auto& old : superseded_) {
    old->discard();
  }
  superseded_.clear();
}

bool StagedFile::changedSince(std::uint64_t generation) const {
  std::lock_guard lock(mu_);
  return generation_ != generation;
}

void StagedFile::discard() {
  std::lock_guard lock(mu_);
  blob_->discard();
  dropSupersededLocked();
}

std::uint64_t StagedFile::size() const {
  std::lock_guard lock(mu_);
  return size_;
}

std::uint64_t StagedFile::generation() const {
  std::lock_guard lock(mu_);
  return generation_;
}

std::string StagedFile::name() const {
  std::lock_guard lock(mu_);
  return blob_->path().filename().string();
}

std::optional<std::string> StagedFile::knownSha256() const {
  std::lock_guard lock(mu_);
  return shaLocked();
}

void StagedFile::addWriter() {
  std::lock_guard lock(mu_);
  ++writers_;
}

void StagedFile::removeWriter() {
  std::lock_guard lock(mu_);
  if (writers_ > 0) {
    --writers_;
  }
}

unsigned StagedFile::writers() const {
  std::lock_guard lock(mu_);
  return writers_;
}

}  // namespace hfm::fs
