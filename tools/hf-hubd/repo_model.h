// SPDX-License-Identifier: Apache-2.0
#pragma once

// The stored repository model: metadata, refs and commits. Commits are immutable and carry the
// full flat list of files, so any revision can be listed without walking history.

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/repo_id.h"

namespace hfm::hubd {

struct FileEntry {
  std::string sha256;       // content address in the object store (and the LFS oid)
  std::uint64_t size = 0;   // real content size
  bool is_lfs = false;
  std::string oid;          // git blob sha1: of the content, or of the LFS pointer
  std::string last_commit;  // the commit that last changed this path
  std::string xet_hash;     // the file's Xet hash (text form) when the CAS holds it
  bool operator==(const FileEntry&) const = default;
};

using FileMap = std::map<std::string, FileEntry>;  // repo path -> entry, sorted by path

struct Commit {
  std::string id;
  std::vector<std::string> parents;
  std::string tree_oid;
  std::string title;
  std::string message;
  std::string author;
  std::chrono::system_clock::time_point date;
  FileMap files;
};

struct RepoMeta {
  common::RepoId id;
  bool is_private = false;
  std::string gated;  // "" (not gated), "auto" or "manual"
  std::string object_id;  // the opaque `_id`
  std::string sdk;        // spaces only
  std::chrono::system_clock::time_point created_at;
  std::string default_branch = "main";
  bool xet_enabled = false;
};

struct TagRef {
  std::string commit;
  std::string message;
};

struct PullRequest {
  std::string commit;
  std::string title;
  std::string author;
};

struct Refs {
  std::map<std::string, std::string> branches;  // name -> commit
  std::map<std::string, TagRef> tags;
  std::map<int, PullRequest> pulls;  // refs/pr/<n>
};

// The pointer file git-lfs stores in place of the content; its git blob id is the tree oid.
std::string lfsPointer(const std::string& sha256, std::uint64_t size);

// Git's identity of a commit built from these fields (the "commit <len>\0..." object).
std::string gitCommitOid(const Commit& commit);

}  // namespace hfm::hubd
