// SPDX-License-Identifier: Apache-2.0
#pragma once

// Repositories on disk under <root>/repos/<type>/<ns>/<name>/: meta.json, refs.json and one
// commits/<sha>.json per commit. Blobs live in the ObjectStore. A commit is durable (written,
// fsynced, renamed) before the branch moves to it, and the branch moves before the commit is
// acknowledged, so a killed server serves everything it acknowledged.

#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "hf-hubd/api_error.h"
#include "hf-hubd/object_store.h"
#include "hf-hubd/repo_model.h"
#include "hf-hubd/tree_index.h"

namespace hfm::hubd {

struct ResolvedRevision {
  std::string commit;
  enum class Kind { kBranch, kTag, kPullRequest, kCommit } kind = Kind::kCommit;
  std::string name;  // branch name, tag name, "refs/pr/N", or the sha
};

struct CommitOperation {
  enum class Kind { kAddFile, kDeleteFile, kDeleteFolder } kind = Kind::kAddFile;
  std::string path;
  FileEntry entry;  // for kAddFile (last_commit is filled in by the store)
};

struct CommitRequest {
  std::string revision;  // a branch or refs/pr/N
  std::optional<std::string> parent_commit;
  std::string title;
  std::string message;
  std::string author;
  bool create_pr = false;
  std::vector<CommitOperation> operations;
};

struct CommitResult {
  std::string commit;
  std::optional<int> pull_request;
};

struct CreateRepoOptions {
  bool is_private = false;
  std::string gated;
  std::string sdk;
  std::string author = "hf-hubd";
  bool initial_commit = true;  // the Hub starts a repo with a .gitattributes commit
  bool xet_enabled = false;    // large files are stored in the CAS and served through Xet
};

// Thread-safe. Commits to one repository are serialized; reads never wait for a commit's I/O.
class RepoStore {
 public:
  static common::Result<std::unique_ptr<RepoStore>> open(const std::filesystem::path& root,
                                                         const ObjectStore* objects);

  ApiResult<RepoMeta> createRepo(const common::RepoId& id, const CreateRepoOptions& options);
  ApiStatus deleteRepo(const common::RepoId& id);
  std::optional<RepoMeta> meta(const common::RepoId& id) const;
  std::vector<RepoMeta> listRepos(common::RepoType type) const;

  ApiResult<Refs> refs(const common::RepoId& id) const;
  // Accepts HEAD, branch, tag, refs/heads/X, refs/tags/X, refs/pr/N and full commit shas.
  ApiResult<ResolvedRevision> resolve(const common::RepoId& id, const std::string& revision) const;
  ApiResult<std::shared_ptr<const Commit>> commit(const common::RepoId& id,
                                                  const std::string& sha) const;
  ApiResult<std::shared_ptr<const TreeIndex>> tree(const common::RepoId& id,
                                                   const std::string& sha) const;
  // Commits reachable from `sha` by first parents, newest first.
  ApiResult<std::vector<std::shared_ptr<const Commit>>> history(const common::RepoId& id,
                                                                const std::string& sha) const;

  ApiResult<CommitResult> applyCommit(const common::RepoId& id, const CommitRequest& request);
  ApiStatus createBranch(const common::RepoId& id, const std::string& name,
                         const std::string& commit);
  ApiStatus deleteBranch(const common::RepoId& id, const std::string& name);
  ApiStatus createTag(const common::RepoId& id, const std::string& name, const std::string& commit,
                      const std::string& message);
  ApiStatus deleteTag(const common::RepoId& id, const std::string& name);

  const ObjectStore& objects() const { return *objects_; }

 private:
  struct RepoState {
    mutable std::mutex mu;  // guards refs and meta, serializes writers of this repository
    RepoMeta meta;
    Refs refs;
    std::filesystem::path dir;
  };

  RepoStore(std::filesystem::path repos_dir, const ObjectStore* objects)
      : repos_dir_(std::move(repos_dir)), objects_(objects) {}
  common::Status loadAll();
  std::shared_ptr<RepoState> state(const common::RepoId& id) const;
  ApiResult<std::shared_ptr<const Commit>> loadCommit(const RepoState& repo,
                                                      const std::string& sha) const;
  ApiResult<std::string> writeCommit(RepoState& repo, Commit commit) const;
  ApiStatus writeRefs(const RepoState& repo, const Refs& refs) const;
  ApiResult<ResolvedRevision> resolveLocked(const RepoState& repo, const std::string& rev) const;

  std::filesystem::path repos_dir_;
  const ObjectStore* objects_;

  mutable std::shared_mutex repos_mu_;  // guards repos_
  std::unordered_map<std::string, std::shared_ptr<RepoState>> repos_;

  mutable std::mutex cache_mu_;  // guards the two caches below
  mutable std::unordered_map<std::string, std::shared_ptr<const Commit>> commit_cache_;
  mutable std::unordered_map<std::string, std::shared_ptr<const TreeIndex>> tree_cache_;
};

}  // namespace hfm::hubd
