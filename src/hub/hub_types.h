// SPDX-License-Identifier: Apache-2.0
#pragma once

// The values HubClient returns: plain data, already validated (see docs/hub-client.md).

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/repo_id.h"

namespace hfm::hub {

// What a revision (branch, tag, refs/pr/N or commit sha) resolves to.
struct RevisionInfo {
  std::string commit;  // 40 lower-case hex digits
  std::chrono::system_clock::time_point last_modified;  // date of that commit
  bool is_private = false;
  std::string gated;  // "" when not gated, else the Hub's mode ("auto", "manual")
};

// One file or directory of a tree listing or a paths-info answer.
struct TreeEntry {
  std::string path;  // relative, passes common::isValidRepoPath
  bool is_dir = false;
  std::uint64_t size = 0;  // content size (for LFS files the real size, not the pointer's); 0 for dirs
  std::string oid;         // git blob (file) or tree (dir) id, lower-case hex; may be empty for dirs
  std::optional<std::string> lfs_sha256;  // 64 lower-case hex digits
  std::optional<std::string> xet_hash;    // 64 lower-case hex digits
};

struct RepoSummary {
  common::RepoId id;
  bool is_private = false;
};

// Branch and tag names of a repository.
struct RepoRefs {
  std::vector<std::string> branches;
  std::vector<std::string> tags;
};

struct WhoAmI {
  std::string name;
  std::vector<std::string> orgs;
  std::string role;  // the token's role ("read", "write", ...), "" when the server does not say
};

// Counters since the client was created. Each is monotonic; the set is not a consistent snapshot.
struct HubStats {
  std::uint64_t requests = 0;            // HTTP exchanges, redirect hops included
  std::uint64_t retries = 0;             // attempts repeated after a transient failure
  std::uint64_t errors = 0;              // calls that returned an error
  std::uint64_t bytes_downloaded = 0;    // body bytes of successful (2xx) responses
  std::uint64_t bytes_uploaded = 0;      // request body bytes of exchanges answered 2xx
  std::uint64_t redirects_followed = 0;
  std::uint64_t cdn_url_cache_hits = 0;  // readRange calls that skipped the resolve redirect
};

// ---- uploads ------------------------------------------------------------------------------

// How the Hub wants a file's content: inline in the commit, or through LFS first.
enum class UploadMode { kRegular, kLfs };

// One file announced to preupload.
struct PreuploadFile {
  std::string path;
  std::uint64_t size = 0;
  std::string sample;  // the first <= 512 raw bytes (the client base64-encodes them)
};

struct PreuploadAnswer {
  std::string path;
  UploadMode mode = UploadMode::kRegular;
  bool should_ignore = false;             // the Hub would drop it (.git/..., .gitignore rules)
  std::optional<std::string> remote_oid;  // what the path holds now: git sha1 (regular) or sha256
                                          // (LFS), lower-case hex; lets the caller skip no-ops
};

// One line of a commit.
struct CommitOperation {
  enum class Kind { kFile, kLfsFile, kDeletedFile, kDeletedFolder };
  Kind kind = Kind::kFile;
  std::string path;
  std::string content;     // kFile: raw bytes, sent base64
  std::string sha256;      // kLfsFile: 64 hex digits, already uploaded with uploadLfs
  std::uint64_t size = 0;  // kLfsFile
};

struct CommitRequest {
  std::string summary;
  std::string description;
  // Sent when non-empty: an optimistic lock, the Hub answers 412 (kConflict) when the branch
  // has moved on from it.
  std::string parent_commit;
  std::vector<CommitOperation> operations;
};

struct CommitInfo {
  std::string commit;  // 40 lower-case hex digits
};

// One entry of a commit listing.
struct CommitSummary {
  std::string id;  // 40 lower-case hex digits
  std::string title;
  std::string message;
  std::chrono::system_clock::time_point date;
};

// Upload progress. on_bytes receives the bytes sent since its previous call (bytes resent after
// a failure are not counted twice, so the calls of one upload add up to its size). It may be
// empty, and may be called from several threads at once.
struct UploadProgress {
  std::function<void(std::uint64_t bytes)> on_bytes;
};


// ---- Xet downloads (docs/hub-client.md, "Xet") ---------------------------------------------
// Reconstructions as HubClient::xetReconstruction returns them, already checked: hashes are 64
// lower-case hex digits, chunk ranges are non-empty, byte ranges ordered, and every term lies
// inside a range of a fetch of its xorb.

// One term of a reconstruction: chunks [chunk_start, chunk_end) of a xorb, which decode to
// unpacked_length bytes.
struct XetTerm {
  std::string xorb_hash;  // 64 lower-case hex digits
  std::uint32_t chunk_start = 0, chunk_end = 0;
  std::uint64_t unpacked_length = 0;
};

// One range of a xorb fetch: chunks [chunk_start, chunk_end) are the serialized bytes
// [byte_first, byte_last] (inclusive) of the xorb.
struct XetRange {
  std::uint32_t chunk_start = 0, chunk_end = 0;
  std::uint64_t byte_first = 0, byte_last = 0;
  bool operator==(const XetRange&) const = default;
};

// One GET of a (signed, short-lived) xorb URL with Range: bytes=a-b[,c-d...], ranges ascending.
struct XetFetch {
  std::string url;
  std::vector<XetRange> ranges;
};

// How to rebuild bytes [first, last] of a Xet file: decode each term's chunks from the data its
// xorb's fetches return, concatenate, skip offset_into_first_range bytes, keep last-first+1.
struct XetReconstruction {
  std::uint64_t offset_into_first_range = 0;
  std::vector<XetTerm> terms;
  std::map<std::string, std::vector<XetFetch>> fetches;  // xorb hash (64 hex) -> GETs
};

// ---- Xet uploads (docs/hub-client.md, "Xet uploads") ---------------------------------------

// Write access to a CAS, from an LFS batch answer that picked "xet". The token is a secret:
// never log it (HubClient keeps it out of its messages).
struct XetWriteAccess {
  std::string cas_url;       // absolute http(s) URL without query or trailing '/'
  std::string token;         // the CAS token (Authorization: Bearer), printable, no spaces
  std::int64_t expires = 0;  // unix seconds
  // The upload action's href: where a fresh write token comes from (GET with the Hub token).
  // Used once by a call whose CAS request is answered 401; empty: no refresh.
  std::string refresh_url;
};

// What the LFS batch said about one object when it picked "xet".
struct XetUploadOffer {
  bool already_stored = false;  // no actions: nothing to upload; `access` is empty
  XetWriteAccess access;
};

}  // namespace hfm::hub
