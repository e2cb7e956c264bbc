// SPDX-License-Identifier: Apache-2.0
#pragma once

// The new content of one changed file, kept in a staging file on local disk until a commit
// carrying it is confirmed (DESIGN.md §6). Handles, the overlay and the committer share one
// StagedFile; renames move it between paths without touching its bytes.
//
// Freezing: a commit uploads the content as it was when the commit started. freeze() hands the
// committer the current file; the first write after that copies the file (copy on write), so
// the upload keeps reading the frozen bytes while the writer goes on.
//
// The SHA-256 (LFS needs it before uploading) is computed while the file is written from its
// start onwards; any other write pattern leaves it unknown and the committer hashes the file.
//
// A failed write (ENOSPC, EIO, ... on the staging disk) leaves the file with bytes missing: it is
// marked failed (writeFailure()) and held back from commits until a truncate to at most the
// offset of the first failed write (O_TRUNC, or `truncate` below the damage) clears the mark, or
// the file is removed (docs/SEMANTICS.md, "Full disk").
//
// Thread-safe: every method locks the object.

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/file_util.h"
#include "common/hash.h"
#include "common/result.h"

namespace hfm::fs {

// A staging file on disk. Removed when the last owner lets go, if it was marked discardable;
// otherwise it stays for the next mount (a crash or an unmount with changes still pending).
class StagingBlob {
 public:
  StagingBlob(std::filesystem::path path, common::UniqueFd fd)
      : path_(std::move(path)), fd_(std::move(fd)) {}
  ~StagingBlob();
  StagingBlob(const StagingBlob&) = delete;
  StagingBlob& operator=(const StagingBlob&) = delete;

  const std::filesystem::path& path() const { return path_; }
  int fd() const { return fd_.get(); }
  void discard() { discard_.store(true); }
  void keep() { discard_.store(false); }

 private:
  std::filesystem::path path_;
  common::UniqueFd fd_;
  std::atomic<bool> discard_{false};
};

// What the committer uploads: the bytes as they were when the commit started.
struct FrozenContent {
  std::shared_ptr<StagingBlob> blob;
  std::uint64_t size = 0;
  std::optional<std::string> sha256;  // known when the file was written sequentially
  std::uint64_t generation = 0;
};

class StagedFile {
 public:
  // An empty file named `name` in `dir`.
  static common::Result<std::shared_ptr<StagedFile>> create(const std::filesystem::path& dir,
                                                            const std::string& name);
  // An existing staging file found in the journal after a restart.
  static common::Result<std::shared_ptr<StagedFile>> reopen(const std::filesystem::path& dir,
                                                            const std::string& name,
                                                            std::optional<std::string> sha256);

  common::Result<std::size_t> read(std::uint64_t offset, std::span<char> out) const;
  // write() and truncate() answer true when the file had been committed (markCommitted) and so
  // has pending changes again: the caller puts it back among the view's changes.
  // A write that fails after part of it landed brings a committed file back too: that is
  // answered by the next write or truncate that succeeds, or by takeRevived().
  common::Result<bool> write(std::uint64_t offset, std::span<const char> data);
  common::Result<bool> truncate(std::uint64_t size);
  // Whether a failed write brought a committed file back (see write()); answers true once.
  bool takeRevived();
  // Makes the bytes durable (fdatasync). A failure marks the file failed, like a failed write.
  common::Status sync() const;
  // Why the file must not be committed (an earlier write or sync failed), or nullopt.
  std::optional<common::Error> writeFailure() const;

  FrozenContent freeze();
  // freeze(), unless a write or sync failed (writeFailure()): checked and frozen under one lock,
  // so that a failing write cannot land between the check and the freeze.
  std::optional<FrozenContent> freezeUnlessFailed();
  // Ends a freeze whose content nobody uploads any more, if nothing was written since: the next
  // write then needs no copy.
  void thaw(std::uint64_t generation);
  // Whether anything changed since the freeze that produced `generation`.
  bool changedSince(std::uint64_t generation) const;
  // The commit carried `generation` and nothing changed since: the change is done, and the file
  // goes once nobody uses it. A later write brings it back (see write()). False when changed.
  bool markCommitted(std::uint64_t generation);
  // Marks the current file for removal once nobody uses it (the file was removed or replaced).
  void discard();
  // The journal now names the current file: the copies left behind by copy on write may go.
  void forgetSuperseded();

  std::uint64_t size() const;
  std::uint64_t generation() const;
  std::string name() const;  // the current file's name inside the staging folder
  std::optional<std::string> knownSha256() const;

  // Handles open for writing; a file with writers is not committed unless it is being fsynced.
  void addWriter();
  void removeWriter();
  unsigned writers() const;

 private:
  StagedFile(std::filesystem::path dir, std::shared_ptr<StagingBlob> blob, std::uint64_t size);
  // Requires mu_. Gives the writer a private copy when the current file is frozen.
  common::Status unfreezeLocked();
  // Requires mu_. Called by every change of content.
  bool changedLocked();
  // Requires mu_. Marks the files left by copy on write for removal.
  void dropSupersededLocked();
  std::optional<std::string> shaLocked() const;

  const std::filesystem::path dir_;
  mutable std::mutex mu_;
  std::shared_ptr<StagingBlob> blob_;  // guarded by mu_
  std::uint64_t size_ = 0;             // guarded by mu_
  std::uint64_t generation_ = 1;       // guarded by mu_
  bool frozen_ = false;                // guarded by mu_
  unsigned copies_ = 0;                // guarded by mu_: names the copy-on-write files
  // Streaming hash of bytes [0, hashed_until_); unusable once a write lands elsewhere.
  common::Digest digest_{common::Digest::Algorithm::kSha256};  // guarded by mu_
  std::uint64_t hashed_until_ = 0;                             // guarded by mu_
  bool hash_valid_ = true;                                     // guarded by mu_
  std::optional<std::string> known_sha256_;  // guarded by mu_: from the journal after a restart
  unsigned writers_ = 0;                     // guarded by mu_
  // Start of the bytes written but not yet handed to the disk (see write()).
  std::uint64_t writeback_from_ = 0;  // guarded by mu_
  bool committed_ = false;            // guarded by mu_: see markCommitted()
  // A failed write brought the committed file back; not yet reported (see write()).
  bool revive_pending_ = false;  // guarded by mu_
  // The first failed write or sync since the last clearing truncate, and the lowest offset a
  // failed write aimed at (a failed sync: 0, so only a truncate to 0 clears it).
  mutable std::optional<common::Error> failure_;  // guarded by mu_
  mutable std::uint64_t failed_from_ = 0;         // guarded by mu_
  // Files replaced by copy on write, kept while the journal may still name them.
  std::vector<std::shared_ptr<StagingBlob>> superseded_;  // guarded by mu_
};

}  // namespace hfm::fs
