// SPDX-License-Identifier: Apache-2.0
#pragma once

// The pending changes of one writable view, laid over the commit it shows (DESIGN.md §6): new or
// edited files (staged), files moved without being edited (still the remote bytes), folders made
// locally, and deletions. What the view shows is the base snapshot seen through these changes.
//
// Not thread-safe: the owning view locks it.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fs/snapshot.h"
#include "fs/staged_file.h"

namespace hfm::fs {

// A file exactly as a commit has it: where to fetch it, and its ids.
struct RemoteContent {
  std::string commit;
  std::string path;
  std::uint64_t size = 0;
  std::string oid;
  std::string lfs_sha256;
  std::string xet_hash;
  const std::string& contentId() const {
    return !lfs_sha256.empty() ? lfs_sha256 : (!xet_hash.empty() ? xet_hash : oid);
  }
  static RemoteContent of(const Snapshot& snap, const SnapshotEntry& e);
};

struct Change {
  enum class Kind { kFile, kDir, kDeleted };
  Kind kind = Kind::kFile;
  // kDir and kDeleted: nothing of the base at or below this path shows any more.
  bool hides_base = false;
  std::shared_ptr<StagedFile> staged;   // kFile: new bytes, or
  std::optional<RemoteContent> remote;  // kFile: a remote file moved here unchanged
  std::chrono::system_clock::time_point mtime;
  // kFile with staged: the generation a commit already carried while the file was open for
  // writing. The change stays (so the path keeps its inode for the open descriptors) but has
  // nothing to commit until the file changes again. 0: none.
  std::uint64_t committed_generation = 0;
};

// What a path is in the merged view.
struct Resolved {
  enum class What { kNone, kBaseFile, kBaseDir, kFile, kDir };
  What what = What::kNone;
  const Change* change = nullptr;         // kFile, and kDir when made locally
  const SnapshotEntry* base = nullptr;    // kBaseFile, kBaseDir
  bool isDir() const { return what == What::kBaseDir || what == What::kDir; }
  bool exists() const { return what != What::kNone; }
};

class Overlay {
 public:
  // `base` may be null (a view that has no snapshot yet shows only the changes).
  Resolved resolve(const Snapshot* base, std::string_view path) const;
  // Names in folder `dir` of the merged view, with whether each is a folder.
  std::map<std::string, bool> list(const Snapshot* base, std::string_view dir) const;
  // Every file path at or below `dir` in the merged view ("" is everything).
  std::vector<std::string> filesUnder(const Snapshot* base, std::string_view dir) const;
  // Every folder strictly below `dir` in the merged view.
  std::vector<std::string> foldersUnder(const Snapshot* base, std::string_view dir) const;

  void putFile(const std::string& path, std::shared_ptr<StagedFile> staged);
  void putRemote(const std::string& path, RemoteContent remote);
  void makeDir(const std::string& path);
  // Removes what the merged view shows at `path` (a file, or an empty folder).
  void remove(const Snapshot* base, const std::string& path);
  // Moves a file or a folder (with everything below it). The caller checked that `from` exists
  // and that `to` may be replaced.
  void rename(const Snapshot* base, const std::string& from, const std::string& to);

  const std::map<std::string, Change>& changes() const { return changes_; }
  std::map<std::string, Change>& mutableChanges() { return changes_; }
  bool empty() const { return changes_.empty(); }

 private:
  // The nearest change at `path` or above it that hides the base there, if any.
  bool baseHidden(std::string_view path) const;
  bool hasChangesBelow(std::string_view dir) const;
  // A file change at `path`, replacing whatever was at or below it.
  void putFileChange(const std::string& path, Change c);
  void walk(const Snapshot* base, std::string_view dir, std::vector<std::string>* files,
            std::vector<std::string>* folders) const;

  std::map<std::string, Change> changes_;
};

std::string joinPath(std::string_view dir, std::string_view name);
std::string_view parentPath(std::string_view path);

}  // namespace hfm::fs
