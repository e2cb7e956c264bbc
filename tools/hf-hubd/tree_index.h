// SPDX-License-Identifier: Apache-2.0
#pragma once

// The directory structure of one commit, derived from its flat file list: which paths are
// folders, each folder's children in git order, and git tree ids for folders.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "hf-hubd/repo_model.h"

namespace hfm::hubd {

// Immutable after construction, so thread-safe to share. Holds a reference to the commit.
class TreeIndex {
 public:
  struct Entry {
    std::string path;
    bool is_dir = false;
    const FileEntry* file = nullptr;  // set for files
    std::string oid;                  // blob oid or tree oid
  };

  explicit TreeIndex(std::shared_ptr<const Commit> commit);
  // Builds the index of a file list that has no commit yet (to compute the root tree oid).
  explicit TreeIndex(const FileMap& files);

  bool isDir(std::string_view path) const;  // "" is the root
  const FileEntry* file(std::string_view path) const;
  const std::string& rootOid() const { return dirs_.at("").oid; }
  std::shared_ptr<const Commit> commit() const { return commit_; }

  // Entries directly under `dir` (non-recursive) or the whole subtree in depth-first order,
  // each folder followed by its contents. `dir` must be a folder.
  std::vector<Entry> list(std::string_view dir, bool recursive) const;
  // The entry of one path (file or folder), or nullopt.
  std::optional<Entry> entry(std::string_view path) const;

 private:
  struct Dir {
    std::vector<std::string> children;  // full paths, git order
    std::string oid;
  };
  void build(const FileMap& files);
  void appendChildren(const std::string& dir, bool recursive, std::vector<Entry>& out) const;

  std::shared_ptr<const Commit> commit_;
  const FileMap* files_ = nullptr;
  std::unordered_map<std::string, Dir> dirs_;
};

}  // namespace hfm::hubd
