// SPDX-License-Identifier: Apache-2.0
#pragma once

// JSON bodies of the Hub API turned into the hub layer's DTOs, with every field the client relies
// on checked (type, range, format), and the request bodies of uploads built from DTOs.
// nlohmann::json stays inside hub_json.cpp (and the internal json_util.h). Errors are
// kBadResponse with a reason but no request context; the caller prefixes "METHOD path: ".
// Internal to src/hub. All functions are thread-safe (pure).

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hub/hub_error.h"
#include "hub/hub_types.h"

namespace hfm::hub::detail {

// Largest size accepted from the server: JSON numbers are exact only up to 2^53.
inline constexpr std::uint64_t kMaxJsonSize = 1ull << 53;

// Answer of GET /api/{t}/{repo}/revision/{rev}: needs "sha" (40 hex) and "lastModified".
HubResult<RevisionInfo> parseRevisionInfo(std::string_view body);

// A tree or paths-info page: a JSON array of entries. Entries of an unknown "type" are skipped;
// anything else malformed fails the whole page.
HubResult<std::vector<TreeEntry>> parseTreeEntries(std::string_view body);

// Why `entry` cannot be a child of `dir` (a descendant when `recursive`); nullopt when it can.
std::optional<std::string> misplacedEntry(const TreeEntry& entry, std::string_view dir,
                                          bool recursive);

struct RepoListItem {
  std::string id;  // "ns/name" as sent, not yet validated
  bool is_private = false;
};
HubResult<std::vector<RepoListItem>> parseRepoList(std::string_view body);

HubResult<WhoAmI> parseWhoAmI(std::string_view body);
HubResult<RepoRefs> parseRefs(std::string_view body);

// ---- uploads: request bodies and their answers ----------------------------------------------
// Encoders refuse (kInvalidArgument) what cannot be sent: invalid repo paths, text that is not
// UTF-8, malformed hashes.

// POST preupload: {"files":[{"path","sample" (base64),"size"}]}; samples are cut to 512 bytes.
HubResult<std::string> preuploadBody(std::span<const PreuploadFile> files);
// Its answer, in the order of `files`: each asked path answered once (no others), each answer
// with a string "path" and an "uploadMode" of "regular" or "lfs"; "shouldIgnore" (boolean) and
// "oid" (40 or 64 hex digits) are optional.
HubResult<std::vector<PreuploadAnswer>> parsePreuploadAnswers(std::string_view body,
                                                              std::span<const PreuploadFile> files);

// POST commit, NDJSON: the header line, then one line per operation, every line ending in '\n'.
// Folder paths lose a trailing '/'; parent_commit must be 5 to 40 hex digits when set.
HubResult<std::string> commitNdjson(const CommitRequest& request);
// {"commitOid": 40 hex, ...}
HubResult<CommitInfo> parseCommitInfo(std::string_view body);
// GET commits: [{"id": 40 hex, "title", "message", "date": ISO 8601}, ...]
HubResult<std::vector<CommitSummary>> parseCommitList(std::string_view body);

// POST .git/info/lfs/objects/batch for one upload of `oid` (64 lower-case hex), offering
// "basic" and "multipart", then "xet" when `offer_xet`. `ref` is left out when `revision` is
// empty.
HubResult<std::string> lfsBatchBody(std::string_view oid, std::uint64_t size,
                                    std::string_view revision, bool offer_xet = false);

// What the LFS batch answer asks the client to do with one object.
struct LfsUploadPlan {
  enum class Kind { kAlreadyStored, kBasic, kMultipart };
  Kind kind = Kind::kAlreadyStored;
  std::string upload_url;              // kBasic: PUT target; kMultipart: completion POST target
  std::uint64_t chunk_size = 0;        // kMultipart: size of every part but the last
  std::vector<std::string> part_urls;  // kMultipart: PUT targets of parts 1..n, in order
  std::optional<std::string> verify_url;
};
// The answer must be about exactly the object asked (same oid and size). An object "error"
// becomes the HubError its code maps to; a multipart upload needs a positive "chunk_size" and
// part URLs numbered exactly 1..ceil(size / chunk_size). Every URL is an absolute http(s) URL.
HubResult<LfsUploadPlan> parseLfsBatchAnswer(std::string_view body, std::string_view oid,
                                             std::uint64_t size);
// {"oid", "parts": [{"partNumber": i + 1, "etag": etags[i]}, ...]}
std::string multipartCompletionBody(std::string_view oid, const std::vector<std::string>& etags);
// {"oid", "size"}
std::string lfsVerifyBody(std::string_view oid, std::uint64_t size);

// The message of a JSON error body ({"error": "..."}, {"error": [...]}, {"message": "..."}, with
// "error_description"); "" when the body is not one.
std::string errorMessageFromBody(std::string_view body);

}  // namespace hfm::hub::detail
