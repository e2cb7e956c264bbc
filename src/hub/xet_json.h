// SPDX-License-Identifier: Apache-2.0
#pragma once

// The Xet download wire formats (XET.md §5.1, §5.3-§5.4), turned into checked DTOs: the Hub's
// CAS token answer, v1 and v2 reconstruction answers, and multipart/byteranges bodies of xorb
// fetches. nlohmann::json stays inside xet_json.cpp. Errors are kBadResponse with a reason but
// no request context; the caller prefixes "METHOD path: ".
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

}  // namespace hfm::hub::detail
