// SPDX-License-Identifier: Apache-2.0
#include "hf-hubd/object_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/hex.h"

namespace hfm::hubd {

using common::ErrorKind;
using common::makeError;

BlobWriter::BlobWriter(const ObjectStore* store, common::UniqueFd fd, std::filesystem::path temp,
                       std::optional<std::uint64_t> declared_size, bool with_git_oid)
    : store_(store), fd_(std::move(fd)), temp_(std::move(temp)), declared_size_(declared_size) {
  if (declared_size_ && with_git_oid) {
    git_.emplace(common::gitBlobDigest(*declared_size_));
  }
}

BlobWriter::BlobWriter(BlobWriter&&) noexcept = default;

BlobWriter& BlobWriter::operator=(BlobWriter&& other) noexcept {
  if (this != &other) {
    abandon();
    store_ = other.store_;
    fd_ = std::move(other.fd_);
    temp_ = std::move(other.temp_);
    declared_size_ = other.declared_size_;
    sha256_ = std::move(other.sha256_);
    git_ = std::move(other.git_);
    written_ = other.written_;
    other.temp_.clear();
  }
  return *this;
}

BlobWriter::~BlobWriter() { abandon(); }

void BlobWriter::abandon() {
  if (fd_.valid() && !temp_.empty()) {
    fd_.reset();
    ::unlink(temp_.c_str());
  }
  temp_.clear();
}

common::Status BlobWriter::write(std::string_view data) {
  if (declared_size_ && written_ + data.size() > *declared_size_) {
    return makeError(ErrorKind::kInvalidArgument,
                     "body is longer than the declared size " + std::to_string(*declared_size_));
  }
  if (auto st = common::writeAll(fd_.get(), data.data(), data.size()); !st) {
    return st;
  }
  sha256_.update(data);
  if (git_) {
    git_->update(data);
  }
  written_ += data.size();
  return {};
}

common::Result<BlobInfo> BlobWriter::finish(std::optional<std::string_view> expected_sha256) {
  if (declared_size_ && written_ != *declared_size_) {
    abandon();
    return makeError(ErrorKind::kInvalidArgument,
                     "received " + std::to_string(written_) + " bytes, expected " +
                         std::to_string(*declared_size_));
  }
  BlobInfo info{sha256_.finishHex(), written_, git_ ? git_->finishHex() : std::string()};
  if (expected_sha256 && *expected_sha256 != info.sha256) {
    abandon();
    return makeError(ErrorKind::kInvalidArgument, "content sha256 " + info.sha256 +
                                                      " does not match " +
                                                      std::string(*expected_sha256));
  }
  auto final_path = store_->path(info.sha256);
  if (store_->size(info.sha256)) {
    abandon();  // identical content already stored
    return info;
  }
  if (auto st = common::makeDirs(final_path.parent_path()); !st) {
    abandon();
    return common::Unexpected<common::Error>(st.error());
  }
  if (auto st = common::commitTempFile(fd_.get(), temp_, final_path); !st) {
    abandon();
    return common::Unexpected<common::Error>(st.error());
  }
  fd_.reset();
  temp_.clear();
  return info;
}

common::Result<ObjectStore> ObjectStore::open(const std::filesystem::path& root) {
  auto objects = root / "objects";
  auto temp = root / "tmp";
  for (const auto& dir : {objects, temp}) {
    if (auto st = common::makeDirs(dir); !st) {
      return common::Unexpected<common::Error>(st.error());
    }
  }
  // Temporary files of an earlier run were never acknowledged: drop them.
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(temp, ec)) {
    std::filesystem::remove_all(entry.path(), ec);
  }
  return ObjectStore(objects, temp);
}

std::filesystem::path ObjectStore::path(std::string_view sha256) const {
  std::string name(sha256);
  return objects_dir_ / name.substr(0, 2) / name;
}

std::optional<std::uint64_t> ObjectStore::size(std::string_view sha256) const {
  if (!common::isHex(sha256, 64)) {
    return std::nullopt;
  }
  struct stat st {};
  if (::stat(path(sha256).c_str(), &st) != 0) {
    return std::nullopt;
  }
  return static_cast<std::uint64_t>(st.st_size);
}

common::Result<common::UniqueFd> ObjectStore::openBlob(std::string_view sha256) const {
  if (!common::isHex(sha256, 64)) {
    return makeError(ErrorKind::kInvalidArgument, "not a sha256: " + std::string(sha256));
  }
  return common::openFile(path(sha256), O_RDONLY);
}

common::Result<BlobWriter> ObjectStore::create(std::optional<std::uint64_t> declared_size,
                                               bool with_git_oid) const {
  auto temp = common::uniqueTempPath(temp_dir_);
  auto fd = common::openFile(temp, O_WRONLY | O_CREAT | O_EXCL, 0644);
  if (!fd) {
    return common::Unexpected<common::Error>(fd.error());
  }
  return BlobWriter(this, std::move(*fd), temp, declared_size, with_git_oid);
}

common::Result<BlobInfo> ObjectStore::put(std::string_view content) const {
  auto writer = create(content.size());
  if (!writer) {
    return common::Unexpected<common::Error>(writer.error());
  }
  if (auto st = writer->write(content); !st) {
    return common::Unexpected<common::Error>(st.error());
  }
  return writer->finish();
}

}  // namespace hfm::hubd
