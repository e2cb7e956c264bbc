// SPDX-License-Identifier: Apache-2.0
#pragma once

// The filesystem's logic in plain C++: the namespace of DESIGN.md §3 (models|datasets|spaces /
// <ns> / <name>@<rev>, the <name> symlink to the default branch, single-repo mode), the inode
// table, revision views with their snapshots, and reads through the read engine. The FUSE bridge
// only translates to and from this interface.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <condition_variable>
#include <set>
#include <thread>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cache/block_store.h"
#include "cache/metadata_store.h"
#include "common/repo_id.h"
#include "common/stop_generation.h"
#include "fs/fs_error.h"
#include "fs/overlay.h"
#include "fs/read_engine.h"
#include "fs/snapshot.h"
#include "fs/xet_uploader.h"
#include "hub/hub_client.h"

namespace hfm::fs {

inline constexpr std::uint64_t kRootIno = 1;

struct FsOptions {
  // Single-repo mode: the repository (and revision) shown at the mount's root.
  std::optional<common::RepoId> single_repo;
  std::string single_revision = "main";
  std::chrono::seconds revision_ttl{30};  // how long a branch view trusts its resolved commit
  std::chrono::seconds immutable_ttl{3600};
  std::size_t max_namespace_entries = 1000;
  uid_t uid = 0;
  gid_t gid = 0;
  // Writes (DESIGN.md §6): branch views accept them unless read_only.
  bool read_only = true;
  std::string endpoint;         // names the journals: one per (endpoint, repo, branch)
  std::string write_dir;        // journals and staging files live below it
  std::chrono::milliseconds commit_delay{5000};  // quiet time before pending changes commit
  std::string commit_message;   // default summary; empty: one naming the number of files
  std::size_t xet_xorb_bytes = xet::kMaxXorbBytes;  // largest xorb a Xet upload holds in memory
  // Names never committed (editor and tool droppings): shell patterns matched against each
  // path component, or a path prefix ending in '/'.
  std::vector<std::string> ignore = {"*.swp", "*~", ".#*", "4913", "*.incomplete",
                                     ".cache/huggingface/"};
};

struct Found;
struct WriteState;

// One writable view's state for `hf-mount status`.
struct PendingInfo {
  std::string view;  // type/ns/name@revision
  std::size_t changes = 0;
  std::string last_commit;
  std::string last_error;
};

struct SetAttrRequest {
  std::optional<std::uint64_t> size;
  std::optional<std::uint32_t> mode;
  std::optional<std::chrono::system_clock::time_point> mtime;
  std::optional<std::uint64_t> fh;  // the handle the change came through, if any
};

enum class NodeType { kDirectory, kFile, kSymlink };

struct Attr {
  std::uint64_t ino = 0;
  NodeType type = NodeType::kDirectory;
  std::uint64_t size = 0;
  std::uint32_t perm = 0555;
  std::chrono::system_clock::time_point mtime;
  std::uint32_t nlink = 1;
  std::chrono::seconds timeout{1};
};

struct Entry {
  Attr attr;
  std::chrono::seconds entry_timeout{1};
};

struct DirEntry {
  std::string name;
  NodeType type = NodeType::kFile;
};

struct FsStat {
  std::uint64_t block_size = 0;
  std::uint64_t blocks = 0;
  std::uint64_t blocks_free = 0;
  std::uint64_t files = 0;
};

// Thread-safe. Lock order: a view's refresh_mu, then table_mu_, then a view's mu; no lock is
// held across Hub or cache I/O except a view's refresh_mu (which only that view's refreshers
// wait on, and only when the view has no snapshot at all yet).
class Filesystem {
 public:
  Filesystem(hub::HubClient* hub, cache::MetadataStore* metadata, cache::BlockStore* blocks,
             ReadEngine* engine, FsOptions options);
  ~Filesystem();

  FsResult<Entry> lookup(std::uint64_t parent, std::string_view name);
  void forget(std::uint64_t ino, std::uint64_t count);
  FsResult<Attr> getattr(std::uint64_t ino);
  FsResult<std::string> readlink(std::uint64_t ino);
  FsResult<std::vector<DirEntry>> readdir(std::uint64_t ino);
  FsResult<std::uint64_t> open(std::uint64_t ino, int flags);
  // See ReadEngine::read for `pieces`.
  FsResult<std::size_t> read(std::uint64_t fh, std::uint64_t offset, std::span<char> out,
                             std::vector<ReadPiece>* pieces = nullptr);
  void release(std::uint64_t fh);
  FsResult<std::string> getxattr(std::uint64_t ino, std::string_view name);
  FsResult<std::vector<std::string>> listxattr(std::uint64_t ino);
  FsStat statfs() const;

  // Ends the Hub requests that FUSE operations are waiting on (called when the FUSE session
  // ends, so that a stalled server cannot hold the daemon): they fail with kCanceled. Commits
  // and requests made afterwards are not affected.
  void cancelRequests();

  // Writes. A created file comes with an open handle.
  struct Created {
    Entry entry;
    std::uint64_t fh = 0;
  };
  FsResult<Created> create(std::uint64_t parent, std::string_view name, std::uint32_t mode,
                           int flags);
  FsResult<std::size_t> write(std::uint64_t fh, std::uint64_t offset, std::span<const char> data);
  FsResult<Attr> setattr(std::uint64_t ino, const SetAttrRequest& request);
  FsResult<Entry> mkdir(std::uint64_t parent, std::string_view name);
  FsResult<void> unlink(std::uint64_t parent, std::string_view name);
  FsResult<void> rmdir(std::uint64_t parent, std::string_view name);
  FsResult<void> rename(std::uint64_t parent, std::string_view name, std::uint64_t new_parent,
                        std::string_view new_name, unsigned flags);
  // close(): what was written through the handle becomes durable (staging file and journal).
  FsResult<void> flush(std::uint64_t fh);
  // Returns once a commit containing the file (or the folder's view) exists on the Hub.
  FsResult<void> fsync(std::uint64_t fh);
  FsResult<void> fsyncdir(std::uint64_t ino);
  // user.hf.commit_message on a view's folder sets the summary of its next commit.
  FsResult<void> setxattr(std::uint64_t ino, std::string_view name, std::string_view value);
  // Commits what every view has pending (files still open for writing included); false when
  // something could not be committed within `limit`.
  bool commitAll(std::chrono::milliseconds limit);
  std::vector<PendingInfo> pending() const;
  // What Xet uploads did, for `hf-mount status`.
  XetUploadStats xetUploadStats() const { return uploader_.stats(); }
  // Whether the kernel may keep a file's pages across opens: always, since a path whose
  // content changes gets a new inode.
  static constexpr bool kKeepCache = true;

  // Checks that the configured repository (single-repo mode) resolves; used before mounting.
  FsResult<std::string> checkSingleRepo();
  // Single-repo mode at a commit sha whose tree is in the metadata cache: no request needed.
  bool singleRepoIsCached();

 private:
  struct View;
  struct Node;
  struct Handle;

  std::shared_ptr<Node> node(std::uint64_t ino) const;
  std::shared_ptr<Node> intern(const std::string& key, const std::function<std::shared_ptr<Node>()>& make);
  FsResult<std::shared_ptr<View>> view(const common::RepoId& repo, const std::string& revision);
  FsResult<std::shared_ptr<const Snapshot>> snapshot(View& view);
  std::shared_ptr<const Snapshot> cachedSnapshot(const common::RepoId& repo,
                                                 const std::string& commit) const;
  FsResult<std::shared_ptr<const Snapshot>> loadSnapshot(const common::RepoId& repo,
                                                         const std::string& commit,
                                                         std::optional<std::chrono::system_clock::time_point> date);
  FsResult<Entry> lookupInView(const std::shared_ptr<Node>& parent, std::string_view name);
  FsResult<Entry> lookupInNamespace(const std::shared_ptr<Node>& parent, std::string_view name);
  Attr attrOf(const Node& n) const;
  Entry entryOf(Node& n);

  // Writes (filesystem_write.cpp).
  struct WriteTarget;
  FsResult<WriteTarget> writeTarget(std::uint64_t parent, std::string_view name);
  FsResult<void> ensureWritable(View& v);
  // The handle's staged file, made at its first write: a copy of the current content when
  // `copy`, else empty.
  FsResult<std::shared_ptr<StagedFile>> stageForWrite(Handle& handle, bool copy);
  FsResult<std::unique_ptr<WriteState>> openWriteState(const common::RepoId& repo,
                                                       const std::string& revision);
  FsResult<void> persist(View& v, const std::vector<std::string>& paths);
  std::string pathOf(const Node& n) const;
  Found find(View& v, const Snapshot& snap, const std::string& path);
  // The node for what `found` says is at `path`; counts a lookup.
  std::shared_ptr<Node> nodeFor(const std::shared_ptr<View>& v, const Snapshot& snap,
                                const std::string& path, const Found& found);
  void movePaths(const View& v, const std::string& from, const std::string& to);
  bool ignored(std::string_view path) const;
  void noteChange(View& v);
  void restage(Node& n, const std::shared_ptr<StagedFile>& staged);
  FsResult<void> waitForCommit(View& v, std::shared_ptr<StagedFile> forced);

  // Commits (filesystem_commit.cpp).
  void committerLoop(std::stop_token stop);
  // Views whose journals hold changes from an earlier run get them committed.
  void recoverPending();
  FsResult<void> commitRound(const std::shared_ptr<View>& v);
  // Commits an earlier run (or round) sent without learning the outcome: the changes a landed
  // one carried are dropped, so they are not committed twice.
  FsResult<void> settleInflight(View& v);
  std::vector<std::shared_ptr<View>> writableViews() const;

  hub::HubClient* hub_;
  cache::MetadataStore* metadata_;
  cache::BlockStore* blocks_;
  XetUploader uploader_;
  ReadEngine* engine_;
  FsOptions options_;
  std::chrono::system_clock::time_point mount_time_;
  common::StopGeneration requests_stop_;  // see cancelRequests

  mutable std::mutex table_mu_;
  std::unordered_map<std::uint64_t, std::shared_ptr<Node>> nodes_;  // guarded by table_mu_
  std::unordered_map<std::string, std::uint64_t> keys_;              // guarded by table_mu_
  std::uint64_t next_ino_ = 16;                                      // guarded by table_mu_
  std::unordered_map<std::string, std::shared_ptr<View>> views_;     // guarded by table_mu_
  std::set<std::string> visited_namespaces_;                          // guarded by table_mu_
  std::set<std::string> known_repos_;                                 // guarded by table_mu_
  std::unordered_map<std::uint64_t, std::shared_ptr<Handle>> handles_;  // guarded by table_mu_
  std::uint64_t next_fh_ = 1;                                          // guarded by table_mu_

  mutable std::mutex problems_mu_;
  // Journals (or staging folders without one) whose pending changes cannot be committed;
  // pending() reports them. Guarded by problems_mu_.
  std::vector<PendingInfo> journal_problems_;

  std::mutex committer_mu_;
  std::condition_variable_any committer_cv_;  // with committer_mu_: a commit is wanted now
  std::jthread committer_;                    // last: it uses everything above
};

}  // namespace hfm::fs
