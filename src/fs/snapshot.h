// SPDX-License-Identifier: Apache-2.0
#pragma once

// The file tree of one commit: every path with its kind, size and content id, and each folder's
// children. Built once from a recursive tree listing, then immutable, so it can be shared by any
// number of threads and cached forever (a commit never changes).

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace hfm::fs {

struct SnapshotEntry {
  std::string path;  // "" for the root
  bool is_dir = false;
  std::uint64_t size = 0;
  std::string oid;         // git blob or tree id
  std::string lfs_sha256;  // empty unless LFS
  std::string xet_hash;    // empty unless Xet
  std::vector<std::size_t> children;  // indexes into Snapshot::entries(), folders only, sorted by name

  // The cache key of the content: the LFS sha256, else the Xet hash, else the git blob id. Identical
  // content in any revision or repository shares one id, so cached blocks never need invalidating.
  const std::string& contentId() const {
    return !lfs_sha256.empty() ? lfs_sha256 : (!xet_hash.empty() ? xet_hash : oid);
  }
};

struct SnapshotFile {
  std::string path;
  bool is_dir = false;
  std::uint64_t size = 0;
  std::string oid;
  std::string lfs_sha256;
  std::string xet_hash;
};

// Immutable after construction: thread-safe.
class Snapshot {
 public:
  // Missing parent folders are added; entries whose path collides with a file's ancestors are
  // dropped (a server answer like that is malformed) and counted in dropped().
  Snapshot(std::string commit, std::chrono::system_clock::time_point date,
           std::vector<SnapshotFile> files);

  const std::string& commit() const { return commit_; }
  std::chrono::system_clock::time_point date() const { return date_; }
  const SnapshotEntry& root() const { return entries_[0]; }
  const std::vector<SnapshotEntry>& entries() const { return entries_; }
  std::optional<std::size_t> find(std::string_view path) const;
  std::optional<std::size_t> child(std::size_t dir, std::string_view name) const;
  std::size_t dropped() const { return dropped_; }

  // A compact text form for the metadata cache; parse() returns nullopt on anything malformed.
  std::string serialize() const;
  static std::optional<Snapshot> parse(std::string_view text);

 private:
  std::string commit_;
  std::chrono::system_clock::time_point date_;
  std::vector<SnapshotEntry> entries_;
  std::unordered_map<std::string, std::size_t> by_path_;
  std::size_t dropped_ = 0;
};

std::string_view baseName(std::string_view path);

}  // namespace hfm::fs
