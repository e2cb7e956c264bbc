// SPDX-License-Identifier: Apache-2.0
#pragma once

// The Xet wire formats (XET.md §5.1, §5.3-§5.4, §5.6-§5.8, §6.2), turned into checked DTOs: the
// Hub's CAS token answer, v1 and v2 reconstruction answers, multipart/byteranges bodies of xorb
// fetches, and on the upload side the LFS batch that negotiates "xet" and the CAS's answers to
// xorb and shard uploads. nlohmann::json stays inside xet_json.cpp (and the internal
// json_util.h). Errors are kBadResponse with a reason but no request context; the caller
// prefixes "METHOD path: ".
// Internal to src/hub. All functions are thread-safe (pure).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hub/hub_error.h"
#include "hub/hub_types.h"

namespace hfm::hub::detail {

// Limits of the Xet format (XET.md §3.2, §3.4), restated here: src/hub does not depend on
// src/xet.
inline constexpr std::uint64_t kXetMaxXorbBytes = 64ull << 20;  // serialized
inline constexpr std::uint64_t kXetChunkHeaderBytes = 8;
inline constexpr std::uint64_t kXetMaxChunkBytes = 128ull << 10;                  // uncompressed
inline constexpr std::uint64_t kXetMaxChunkPayloadBytes = 2 * kXetMaxChunkBytes;  // compressed
inline constexpr std::size_t kXetMaxRangesPerFetch = 8192;
inline constexpr std::size_t kXetMaxTokenBytes = 64000;
inline constexpr std::size_t kXetMaxUrlBytes = 64 << 10;

// GET /api/{t}s/{ns}/{name}/xet-read-token/{rev}: {"accessToken","exp","casUrl"}.
struct XetTokenInfo {
  std::string access_token;  // 1..64000 printable ASCII characters, no spaces (a header value)
  std::int64_t expires = 0;  // unix seconds
  std::string cas_url;       // absolute http(s) URL without query, fragment or trailing '/'
};
HubResult<XetTokenInfo> parseXetToken(std::string_view body);

// GET {cas}/v2/reconstructions/{hash}:
// {"offset_into_first_range", "terms": [{"hash","unpacked_length","range":{"start","end"}}],
//  "xorbs": {hash: [{"url", "ranges": [{"chunks":{"start","end"}, "bytes":{"start","end"}}]}]}}
// (chunk ends exclusive, byte ends inclusive; ranges of one fetch strictly ascending).
HubResult<XetReconstruction> parseReconstructionV2(std::string_view body);
// GET {cas}/v1/reconstructions/{hash}: the same "terms", and
// "fetch_info": {hash: [{"range":{"start","end"}, "url", "url_range":{"start","end"}}]}, each
// entry becoming one XetFetch of one range.
HubResult<XetReconstruction> parseReconstructionV1(std::string_view body);

// Checks shared by both versions and by HubClient::xetFetch: an absolute http(s) URL; 1 to
// kXetMaxRangesPerFetch ranges, strictly ascending in chunks and bytes; each with
// chunk_start < chunk_end, byte_first <= byte_last < kXetMaxXorbBytes, and a byte length a run
// of that many chunks can have. nullopt when fine, else the reason.
std::optional<std::string> xetFetchProblem(const XetFetch& fetch);

// "bytes=a-b,c-d" from the ranges in order.
std::string xetRangeHeader(std::span<const XetRange> ranges);

// The boundary of a "multipart/byteranges; boundary=..." Content-Type (quoted or not, 1 to 70
// characters); nullopt for any other type or a missing or malformed boundary.
std::optional<std::string> multipartBoundary(std::string_view content_type);

// The parts of a multipart/byteranges body, which must answer exactly `ranges`, in order: one
// part per range, each with a Content-Range of that range. Parts are cut by their length (so
// the boundary may occur in the data); line ends are CRLF, or bare LF throughout when the first
// boundary line ends so. A preamble before the first boundary and an epilogue after the closing
// one are ignored.
HubResult<std::vector<std::string>> parseMultipartByteranges(std::string_view body,
                                                             std::string_view boundary,
                                                             std::span<const XetRange> ranges);

// ---- uploads (XET.md §5.6-§5.8, §6.2) -----------------------------------------------------

inline constexpr std::size_t kXetMaxShardBytes = 64u << 20;  // MDB_SHARD_TARGET_SIZE
inline constexpr std::size_t kXetShardHeaderBytes = 48;

// Whether `token` can be sent as a CAS token: 1..kXetMaxTokenBytes printable ASCII characters
// without spaces (it becomes a header value).
bool isUsableCasToken(std::string_view token);
// `url` without trailing '/' when it is an absolute http(s) URL without query or fragment (at
// most 2048 bytes), else nullopt.
std::optional<std::string> casUrlValue(std::string_view url);

// POST {prefix}{ns}/{name}.git/info/lfs/objects/batch for one upload of `oid` (64 lower-case
// hex) offering "basic", "multipart" and "xet". `ref` is left out when `revision` is empty.
HubResult<std::string> xetBatchBody(std::string_view oid, std::uint64_t size,
                                    std::string_view revision);

// The answer to xetBatchBody. Another "transfer" than "xet" (or none: git-lfs's basic) is
// nullopt once the answer passes parseLfsBatchAnswer (hub_json.h), so that an object error or a
// malformed answer is reported here and not only by the uploadLfs that follows. "xet": the
// answer must be about exactly the object asked (oid, size); an object "error" becomes the
// HubError its code maps to; no "actions" (or no "actions.upload") is already_stored; else
// "actions.upload" needs an absolute http(s) "href" (the write-token URL, kept as refresh_url)
// and a "header" object with X-Xet-Cas-Url (casUrlValue), X-Xet-Access-Token
// (isUsableCasToken) and X-Xet-Token-Expiration (positive unix seconds, a digit string or an
// integer). Header names are matched without regard to case; others are ignored.
HubResult<std::optional<XetUploadOffer>> parseXetBatchAnswer(std::string_view body,
                                                             std::string_view oid,
                                                             std::uint64_t size);

// POST {cas}/v1/xorbs/default/{hash}: {"was_inserted": bool}.
HubResult<bool> parseXorbUploadAnswer(std::string_view body);
// POST {cas}/v1/shards: {"result": 0 | 1} (0: already registered, 1: registered).
HubResult<int> parseShardUploadAnswer(std::string_view body);
// Whether `bytes` can be a shard (a dedup answer): at least a header, starting with the MDB
// shard header tag (XET.md §4.2). The rest is the caller's to parse.
bool looksLikeShard(std::string_view bytes);

}  // namespace hfm::hub::detail
