// SPDX-License-Identifier: Apache-2.0
#pragma once

// Content-addressed blob storage under <root>/objects/<aa>/<sha256>. Every blob, regular or
// LFS, is stored once by the sha256 of its content; a blob becomes visible only after it was
// written to a temporary file, fsynced and renamed, so a crash never leaves a partial blob.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "common/file_util.h"
#include "common/hash.h"
#include "common/result.h"

namespace hfm::hubd {

struct BlobInfo {
  std::string sha256;
  std::uint64_t size = 0;
  std::string git_oid;  // sha1 of the git blob; empty unless the size was declared up front
};

class ObjectStore;

// One blob being written. Not thread-safe; abandoned (temp file removed) unless finish()ed.
class BlobWriter {
 public:
  BlobWriter(BlobWriter&&) noexcept;
  BlobWriter& operator=(BlobWriter&&) noexcept;
  ~BlobWriter();

  common::Status write(std::string_view data);
  std::uint64_t written() const { return written_; }
  // Seals the blob. When `expected_sha256` is given and differs, the blob is discarded.
  common::Result<BlobInfo> finish(std::optional<std::string_view> expected_sha256 = std::nullopt);

 private:
  friend class ObjectStore;
  BlobWriter(const ObjectStore* store, common::UniqueFd fd, std::filesystem::path temp,
             std::optional<std::uint64_t> declared_size, bool with_git_oid);
  void abandon();

  const ObjectStore* store_ = nullptr;
  common::UniqueFd fd_;
  std::filesystem::path temp_;
  std::optional<std::uint64_t> declared_size_;
  common::Digest sha256_{common::Digest::Algorithm::kSha256};
  std::optional<common::Digest> git_;
  std::uint64_t written_ = 0;
};

// Thread-safe: blobs are immutable and every write goes through its own temporary file.
class ObjectStore {
 public:
  static common::Result<ObjectStore> open(const std::filesystem::path& root);

  // Size of a stored blob, or nullopt when absent.
  std::optional<std::uint64_t> size(std::string_view sha256) const;
  std::filesystem::path path(std::string_view sha256) const;
  common::Result<common::UniqueFd> openBlob(std::string_view sha256) const;
  // With a declared size the git blob id is computed too, unless `with_git_oid` is false.
  common::Result<BlobWriter> create(std::optional<std::uint64_t> declared_size = std::nullopt,
                                    bool with_git_oid = true) const;
  common::Result<BlobInfo> put(std::string_view content) const;
  const std::filesystem::path& tempDir() const { return temp_dir_; }

 private:
  friend class BlobWriter;
  ObjectStore(std::filesystem::path objects, std::filesystem::path temp)
      : objects_dir_(std::move(objects)), temp_dir_(std::move(temp)) {}
  std::filesystem::path objects_dir_;
  std::filesystem::path temp_dir_;
};

}  // namespace hfm::hubd
