// SPDX-License-Identifier: Apache-2.0
#pragma once

// Filesystem's private state, shared by its source files (reads, writes, commits).

#include <condition_variable>
#include <filesystem>
#include <map>
#include <set>

#include "cache/journal.h"
#include "fs/filesystem.h"
#include "fs/overlay.h"

namespace hfm::fs {

// What a writable view needs besides its snapshot: the pending changes and their commits.
struct WriteState {
  std::filesystem::path staging_dir;
  std::unique_ptr<cache::Journal> journal;
  Overlay overlay;                 // guarded by View::mu
  std::string base_commit;         // guarded by View::mu: the commit the changes were made on
  std::string session;             // set once: this process's prefix for staging file names
  std::uint64_t next_staged = 1;   // guarded by View::mu: names staging files
  std::chrono::steady_clock::time_point last_change;  // guarded by View::mu
  std::string message;             // guarded by View::mu: summary of the next commit, if set
  // Staged files that the next commit takes although they are open for writing (fsync).
  std::set<std::shared_ptr<StagedFile>> forced;  // guarded by View::mu
  // Commit rounds: a waiter for round N is done once rounds_done >= N.
  std::uint64_t rounds_started = 0;  // guarded by View::mu
  std::uint64_t rounds_done = 0;     // guarded by View::mu
  std::uint64_t rounds_wanted = 0;   // guarded by View::mu
  std::uint64_t last_failed_round = 0;  // guarded by View::mu
  std::optional<FsError> last_error;    // guarded by View::mu
  std::string last_commit;              // guarded by View::mu
  std::chrono::steady_clock::time_point retry_at;  // guarded by View::mu: after a failure
  std::mutex persist_mu;  // orders journal writes: held from reading the overlay to applying
  // Commits of this process whose inflight record is in the journal: per commit id, the frozen
  // generation of each staged file it carries. A staged file matches its inflight record only
  // if still at that generation (an in-place write after the commit leaves the record as it
  // was). Ids from an earlier run are not here: their files are as reopened from the journal.
  std::map<std::string, std::map<std::string, std::uint64_t>> inflight_generations;  // View::mu

  // Requires View::mu.
  std::string nextStagingName() { return session + "-" + std::to_string(next_staged++); }
  bool committing = false;              // guarded by View::mu
  std::condition_variable done_cv;      // with View::mu
};

struct Filesystem::View {
  std::string key;
  common::RepoId repo;
  std::string revision;
  bool immutable = false;  // a commit sha: never re-resolved
  bool writable = false;   // a branch of a mount that allows writes
  std::mutex refresh_mu;   // serializes resolving; see the lock order in the header
  std::mutex mu;
  std::shared_ptr<const Snapshot> current;        // guarded by mu
  std::chrono::steady_clock::time_point checked;  // guarded by mu
  std::uint64_t epoch = 0;  // guarded by mu: bumped when a commit of ours installs its snapshot
  std::optional<bool> can_write;                  // guarded by mu: asked once, at the first write
  bool not_a_branch = false;                      // guarded by mu: a tag; writes are EROFS
  std::unique_ptr<WriteState> writes;             // set once, under mu, at the first write
};

struct Filesystem::Node {
  enum class Kind { kRoot, kTypeDir, kNamespaceDir, kRepoLink, kViewDir, kViewFile };
  Kind kind = Kind::kRoot;
  std::uint64_t ino = 0;
  std::string key;  // guarded by table_mu_ (a rename rewrites it)
  common::RepoType type = common::RepoType::kModel;
  std::string ns;
  std::string repo_name;
  std::shared_ptr<View> view;  // view nodes
  std::string path;            // guarded by table_mu_: inside the view (a rename rewrites it)
  FileRef file;                // files from a commit: the content this inode stands for
  std::string oid;             // files: git blob id, and the LFS / Xet ids when there are
  std::string lfs_sha256;
  std::string xet_hash;
  std::chrono::system_clock::time_point mtime;  // guarded by staged_mu
  std::uint64_t lookups = 0;  // guarded by table_mu_
  bool pinned = false;
  // Files with new content: the staged bytes (set when created, or at the first write); also
  // guards the attributes that change after the node is made.
  mutable std::mutex staged_mu;
  std::shared_ptr<StagedFile> staged;  // guarded by staged_mu
  std::uint32_t mode = 0;              // guarded by staged_mu: chmod, kept locally (0: default)
  std::optional<std::chrono::system_clock::time_point> changed;  // guarded by staged_mu

  std::shared_ptr<StagedFile> stagedFile() const {
    std::lock_guard lock(staged_mu);
    return staged;
  }
  void setMtime(std::chrono::system_clock::time_point t) {
    std::lock_guard lock(staged_mu);
    mtime = t;
  }
};

// The node key of a staged file: it is tied to the StagedFile, which stays the same object
// however often the file is written or renamed.
inline std::string stagedKey(const std::string& view_key, const StagedFile* staged) {
  return "V:" + view_key + ":s:" + std::to_string(reinterpret_cast<std::uintptr_t>(staged));
}

// What a path of a view is, copied out of the overlay under the view's lock.
struct Found {
  Resolved::What what = Resolved::What::kNone;
  std::shared_ptr<StagedFile> staged;
  std::optional<RemoteContent> remote;
  const SnapshotEntry* base = nullptr;  // points into the snapshot the caller holds
  bool exists() const { return what != Resolved::What::kNone; }
  bool isDir() const { return what == Resolved::What::kBaseDir || what == Resolved::What::kDir; }
};

struct Filesystem::Handle {
  std::shared_ptr<Node> node;
  ReadState state;
  bool writer = false;  // opened for writing; set before the handle is shared
  std::mutex mu;
  std::shared_ptr<StagedFile> staged;  // guarded by mu: once it wrote (or was created, truncated)

  std::shared_ptr<StagedFile> stagedFile() {
    std::lock_guard lock(mu);
    return staged;
  }
};

}  // namespace hfm::fs
