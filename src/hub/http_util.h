// SPDX-License-Identifier: Apache-2.0
#pragma once

// Pure helpers of the hub layer's HTTP handling: URL building and origin rules, header parsing
// (Link, Content-Range, Retry-After), backoff, signed-URL expiry, the error mapping and the
// spelling of hex ids. No I/O, no third-party types, so each is unit-tested on its own.
// Internal to src/hub.
// All functions are thread-safe (pure).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/repo_id.h"
#include "hub/hub_error.h"

namespace hfm::hub::detail {

// scheme://host[:port] of an http(s) URL, normalized (lower-case scheme and host, default port
// filled in) so that two spellings of one origin compare equal.
struct Origin {
  std::string scheme;
  std::string host;  // an IPv6 literal keeps its brackets
  std::uint16_t port = 0;
  bool operator==(const Origin&) const = default;
};

// nullopt for anything but an absolute http/https URL with a plausible host, and for URLs with
// user info, whitespace or control characters (a redirect must not smuggle credentials).
std::optional<Origin> parseOrigin(std::string_view url);
bool sameOrigin(std::string_view a, std::string_view b);

// The absolute URL a Location header points to, relative to `base`: absolute http(s) URLs,
// scheme-relative "//host/p", absolute paths "/p", and relative references. nullopt for other
// schemes and malformed values.
std::optional<std::string> resolveReference(std::string_view base, std::string_view location);

// `url` without its query and fragment (signed URLs carry secrets there).
std::string stripQuery(std::string_view url);
// For messages: the path (no query) for URLs of `endpoint`'s origin, origin + path otherwise.
std::string describeUrl(std::string_view url, std::string_view endpoint);

// The target of rel="next" in a Link header (RFC 8288), nullopt when absent or malformed.
std::optional<std::string> parseLinkNext(std::string_view header);

struct ContentRange {
  std::optional<std::uint64_t> first;  // both set for "bytes a-b/...", both unset for "bytes */n"
  std::optional<std::uint64_t> last;   // inclusive
  std::optional<std::uint64_t> total;  // unset for ".../*"
};
// "bytes a-b/total", "bytes a-b/*", "bytes */total"; nullopt when malformed or inconsistent.
std::optional<ContentRange> parseContentRange(std::string_view header);

// Retry-After in its delta-seconds form; nullopt for an HTTP-date or garbage.
std::optional<std::chrono::seconds> parseRetryAfter(std::string_view header);

// Delay before retry number `retry` (0 for the first): full jitter, uniform in
// [0, min(cap, base * 2^retry)) for `unit_random` in [0, 1), raised to `retry_after` if given.
std::chrono::milliseconds backoffDelay(unsigned retry,
                                       std::optional<std::chrono::milliseconds> retry_after,
                                       double unit_random, std::chrono::milliseconds base,
                                       std::chrono::milliseconds cap);

// When a signed URL stops working: X-Expires (unix seconds), Expires (unix seconds, S3 v2 and
// CloudFront) or X-Amz-Date + X-Amz-Expires (SigV4); the earliest when several are present.
std::optional<std::chrono::system_clock::time_point> signedUrlExpiry(std::string_view url);

bool isRetryableStatus(int status);  // 408, 429, 5xx

// The HubError for a non-2xx HTTP answer. `error_code` and `error_message` are the server's
// X-Error-Code and X-Error-Message (or body "error"); `context` is "METHOD url-path".
HubError errorFromStatus(int status, std::string_view error_code, std::string_view error_message,
                         std::string_view context);

// Whether `a` and `b` are equal but for the case of ASCII letters (header names, media types).
bool iequals(std::string_view a, std::string_view b);

// `text` with A-F lower-cased: the one spelling of a hex id (a hash, an oid) that compares equal.
std::string lowerHex(std::string text);

// Server-provided text made safe for a message: control characters replaced, at most
// `max_bytes` bytes (an ellipsis marks a cut).
std::string sanitizeServerText(std::string_view text, std::size_t max_bytes = 300);

// "ns/name", or "name" for the Hub's legacy repos without a namespace.
std::string repoPath(const common::RepoId& repo);
// Python's quote(rev, safe=""): '/' becomes %2F.
std::string quoteRevision(std::string_view revision);
// Python's quote(path): '/' stays, ' ' is %20, '#' is %23.
std::string quotePath(std::string_view path);

std::string revisionUrl(std::string_view endpoint, const common::RepoId& repo,
                        std::string_view revision);
std::string treeUrl(std::string_view endpoint, const common::RepoId& repo,
                    std::string_view revision, std::string_view dir, bool recursive);
std::string pathsInfoUrl(std::string_view endpoint, const common::RepoId& repo,
                         std::string_view revision);
std::string resolveUrl(std::string_view endpoint, const common::RepoId& repo,
                       std::string_view revision, std::string_view path);
std::string preuploadUrl(std::string_view endpoint, const common::RepoId& repo,
                         std::string_view revision);
std::string commitUrl(std::string_view endpoint, const common::RepoId& repo,
                      std::string_view revision);
std::string commitsUrl(std::string_view endpoint, const common::RepoId& repo,
                       std::string_view revision, std::size_t limit);
// {endpoint}/{prefix}{ns}/{name}.git/info/lfs/objects/batch
std::string lfsBatchUrl(std::string_view endpoint, const common::RepoId& repo);
std::string repoListUrl(std::string_view endpoint, common::RepoType type, std::string_view author,
                        std::size_t limit);
std::string whoamiUrl(std::string_view endpoint);
std::string refsUrl(std::string_view endpoint, const common::RepoId& repo);

}  // namespace hfm::hub::detail
