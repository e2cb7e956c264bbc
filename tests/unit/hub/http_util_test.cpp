// SPDX-License-Identifier: Apache-2.0
#include "hub/http_util.h"

#include <gtest/gtest.h>

namespace hfm::hub::detail {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const common::RepoId kModel{common::RepoType::kModel, "org", "name"};
const common::RepoId kDataset{common::RepoType::kDataset, "org", "data"};

TEST(HttpUtilTest, RevisionIsQuotedWithoutSafeCharacters) {
  EXPECT_EQ(quoteRevision("refs/pr/1"), "refs%2Fpr%2F1");
  EXPECT_EQ(quoteRevision("main"), "main");
  EXPECT_EQ(quoteRevision("v1.0 beta#2"), "v1.0%20beta%232");
}

TEST(HttpUtilTest, PathKeepsSlashesAndEscapesTheRest) {
  EXPECT_EQ(quotePath("dir with space/a#b.txt"), "dir%20with%20space/a%23b.txt");
  EXPECT_EQ(quotePath("a/b?c%d"), "a/b%3Fc%25d");
  EXPECT_EQ(quotePath("日本"), "%E6%97%A5%E6%9C%AC");
}

TEST(HttpUtilTest, BuildsHubUrls) {
  const std::string ep = "https://huggingface.co";
  EXPECT_EQ(revisionUrl(ep, kModel, "refs/pr/1"),
            "https://huggingface.co/api/models/org/name/revision/refs%2Fpr%2F1");
  EXPECT_EQ(treeUrl(ep, kDataset, "main", "", false),
            "https://huggingface.co/api/datasets/org/data/tree/main?recursive=false");
  EXPECT_EQ(treeUrl(ep, kModel, "abc", "dir/sub dir", true),
            "https://huggingface.co/api/models/org/name/tree/abc/dir%2Fsub%20dir?recursive=true");
  EXPECT_EQ(pathsInfoUrl(ep, kModel, "refs/pr/1"),
            "https://huggingface.co/api/models/org/name/paths-info/refs%2Fpr%2F1");
  EXPECT_EQ(resolveUrl(ep, kModel, "refs/pr/1", "dir with space/a#b.txt"),
            "https://huggingface.co/org/name/resolve/refs%2Fpr%2F1/dir%20with%20space/a%23b.txt");
  EXPECT_EQ(resolveUrl(ep, kDataset, "main", "x.bin"),
            "https://huggingface.co/datasets/org/data/resolve/main/x.bin");
  EXPECT_EQ(resolveUrl(ep, common::RepoId{common::RepoType::kSpace, "", "gpt2"}, "main", "f"),
            "https://huggingface.co/spaces/gpt2/resolve/main/f");
  EXPECT_EQ(repoListUrl(ep, common::RepoType::kModel, "alice", 50),
            "https://huggingface.co/api/models?author=alice&limit=50");
  EXPECT_EQ(whoamiUrl(ep), "https://huggingface.co/api/whoami-v2");
}

TEST(HttpUtilTest, OriginsCompareNormalized) {
  EXPECT_TRUE(sameOrigin("https://HuggingFace.co/a", "https://huggingface.co:443/b?x"));
  EXPECT_TRUE(sameOrigin("http://127.0.0.1", "http://127.0.0.1:80/x"));
  EXPECT_FALSE(sameOrigin("http://127.0.0.1:8000/a", "http://127.0.0.1:8001/a"));  // port counts
  EXPECT_FALSE(sameOrigin("http://h/a", "https://h/a"));
  EXPECT_FALSE(sameOrigin("http://h.example/a", "http://h.example.evil/a"));
  EXPECT_TRUE(sameOrigin("http://[::1]:9/a", "http://[::1]:9"));
  EXPECT_FALSE(parseOrigin("ftp://h/x"));
  EXPECT_FALSE(parseOrigin("http://user:pw@h/x"));
  EXPECT_FALSE(parseOrigin("http://h:99999/"));
  EXPECT_FALSE(parseOrigin("http:///x"));
  EXPECT_FALSE(parseOrigin("http://h/a b"));
  EXPECT_FALSE(parseOrigin("/relative"));
}

TEST(HttpUtilTest, ResolvesRedirectLocations) {
  const std::string base = "http://hub:1/org/name/resolve/main/a/b.bin?x=1";
  EXPECT_EQ(resolveReference(base, "https://cdn/lfs/abc?sig=1"), "https://cdn/lfs/abc?sig=1");
  EXPECT_EQ(resolveReference(base, "//cdn:2/x"), "http://cdn:2/x");
  EXPECT_EQ(resolveReference(base, "/api/resolve-cache/x?etag=1"), "http://hub:1/api/resolve-cache/x?etag=1");
  EXPECT_EQ(resolveReference(base, "c.bin"), "http://hub:1/org/name/resolve/main/a/c.bin");
  EXPECT_EQ(resolveReference(base, "?y=2"), "http://hub:1/org/name/resolve/main/a/b.bin?y=2");
  EXPECT_FALSE(resolveReference(base, "file:///etc/passwd"));
  EXPECT_FALSE(resolveReference(base, "javascript:alert(1)"));
  EXPECT_FALSE(resolveReference(base, ""));
  EXPECT_FALSE(resolveReference(base, "http://user@evil/"));
}

TEST(HttpUtilTest, DescribesUrlsWithoutQueries) {
  EXPECT_EQ(describeUrl("http://hub:1/api/x?sig=secret", "http://hub:1"), "/api/x");
  EXPECT_EQ(describeUrl("https://cdn/lfs/abc?X-Signature=s#f", "http://hub:1"), "https://cdn/lfs/abc");
  EXPECT_EQ(stripQuery("http://a/b#frag"), "http://a/b");
}

TEST(HttpUtilTest, ParsesLinkNext) {
  EXPECT_EQ(parseLinkNext("<https://hub/api/models/a/b/tree/main?cursor=3>; rel=\"next\""),
            "https://hub/api/models/a/b/tree/main?cursor=3");
  EXPECT_EQ(parseLinkNext("<https://h/p1>; rel=\"prev\", <https://h/p3>; rel=\"next\""), "https://h/p3");
  EXPECT_EQ(parseLinkNext("<https://h/p3>;rel=next"), "https://h/p3");
  EXPECT_EQ(parseLinkNext("<https://h/p3>; title=\"a, b\"; REL=\"last next\""), "https://h/p3");
  EXPECT_EQ(parseLinkNext("<https://h/p1>; rel=\"prev\""), std::nullopt);
  EXPECT_EQ(parseLinkNext(""), std::nullopt);
  EXPECT_EQ(parseLinkNext("<https://h/p1; rel=\"next\""), std::nullopt);
  EXPECT_EQ(parseLinkNext("<>; rel=\"next\""), std::nullopt);
  EXPECT_EQ(parseLinkNext("garbage"), std::nullopt);
}

TEST(HttpUtilTest, ParsesContentRange) {
  auto r = parseContentRange("bytes 0-99/1000");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->first, 0u);
  EXPECT_EQ(r->last, 99u);
  EXPECT_EQ(r->total, 1000u);
  r = parseContentRange("bytes 5-5/*");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->first, 5u);
  EXPECT_FALSE(r->total);
  r = parseContentRange("bytes */1000");
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->first);
  EXPECT_EQ(r->total, 1000u);
  EXPECT_EQ(parseContentRange("Bytes 1-2/3")->last, 2u);
  EXPECT_FALSE(parseContentRange("bytes 10-5/100"));      // inverted
  EXPECT_FALSE(parseContentRange("bytes 0-100/100"));     // past the total
  EXPECT_FALSE(parseContentRange("bytes -1-5/100"));
  EXPECT_FALSE(parseContentRange("bytes 0-5"));
  EXPECT_FALSE(parseContentRange("items 0-5/10"));
  EXPECT_FALSE(parseContentRange("bytes */*"));
  EXPECT_FALSE(parseContentRange("bytes 0-99999999999999999999/1"));  // overflow
  EXPECT_FALSE(parseContentRange(""));
}

TEST(HttpUtilTest, ParsesRetryAfterSeconds) {
  EXPECT_EQ(parseRetryAfter("3"), seconds(3));
  EXPECT_EQ(parseRetryAfter(" 0 "), seconds(0));
  EXPECT_EQ(parseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT"), std::nullopt);
  EXPECT_EQ(parseRetryAfter("-1"), std::nullopt);
  EXPECT_EQ(parseRetryAfter("1.5"), std::nullopt);
  EXPECT_EQ(parseRetryAfter("99999999"), std::nullopt);
}

TEST(HttpUtilTest, BackoffIsJitteredExponentialAndCapped) {
  const milliseconds base(100);
  const milliseconds cap(5000);
  EXPECT_EQ(backoffDelay(0, std::nullopt, 0.0, base, cap), milliseconds(0));
  EXPECT_EQ(backoffDelay(0, std::nullopt, 0.5, base, cap), milliseconds(50));
  EXPECT_EQ(backoffDelay(3, std::nullopt, 0.5, base, cap), milliseconds(400));  // 100*8/2
  EXPECT_EQ(backoffDelay(10, std::nullopt, 0.5, base, cap), milliseconds(2500));  // capped at 5 s
  EXPECT_EQ(backoffDelay(1000, std::nullopt, 0.999, base, cap), milliseconds(4995));
  for (unsigned retry = 0; retry < 20; ++retry) {
    auto d = backoffDelay(retry, std::nullopt, 0.99999, base, cap);
    EXPECT_LT(d, cap);
    EXPECT_LT(d.count(), 100 << std::min(retry, 10u));
  }
}

TEST(HttpUtilTest, BackoffHonoursRetryAfter) {
  const milliseconds base(100);
  const milliseconds cap(5000);
  EXPECT_EQ(backoffDelay(0, milliseconds(3000), 0.5, base, cap), milliseconds(3000));
  // Retry-After is a floor, even above the cap; a longer jittered delay wins.
  EXPECT_EQ(backoffDelay(0, milliseconds(9000), 0.5, base, cap), milliseconds(9000));
  EXPECT_EQ(backoffDelay(10, milliseconds(1000), 0.8, base, cap), milliseconds(4000));
}

TEST(HttpUtilTest, SignedUrlExpiry) {
  using std::chrono::system_clock;
  auto at = [](std::int64_t s) { return system_clock::time_point(seconds(s)); };
  EXPECT_EQ(signedUrlExpiry("http://cdn/lfs/x?X-Expires=1700000000&X-Signature=ab"), at(1700000000));
  EXPECT_EQ(signedUrlExpiry("https://cdn/x?Expires=1700000100&Signature=s&Key-Pair-Id=k"), at(1700000100));
  EXPECT_EQ(signedUrlExpiry("https://s3/x?X-Amz-Algorithm=A&X-Amz-Date=20231114T221320Z&X-Amz-Expires=3600"),
            at(1700000000 + 3600));
  EXPECT_EQ(signedUrlExpiry("https://cdn/x?x-expires=200&expires=100"), at(100));  // earliest
  EXPECT_EQ(signedUrlExpiry("https://cdn/x"), std::nullopt);
  EXPECT_EQ(signedUrlExpiry("https://cdn/x?X-Expires=soon"), std::nullopt);
  EXPECT_EQ(signedUrlExpiry("https://cdn/x?X-Amz-Date=bad&X-Amz-Expires=60"), std::nullopt);
}

TEST(HttpUtilTest, MapsHubErrorCodes) {
  auto e = errorFromStatus(404, "RepoNotFound", "Repository not found", "GET /api/models/a/b");
  EXPECT_EQ(e.kind, HubErrorKind::kNotFound);
  EXPECT_FALSE(e.maybe_private);
  EXPECT_EQ(e.message, "GET /api/models/a/b: HTTP 404 RepoNotFound: Repository not found");
  e = errorFromStatus(401, "RepoNotFound", "", "GET /x");
  EXPECT_EQ(e.kind, HubErrorKind::kNotFound);
  EXPECT_TRUE(e.maybe_private);
  EXPECT_EQ(e.http_status, 401);
  EXPECT_EQ(errorFromStatus(404, "RevisionNotFound", "", "c").kind, HubErrorKind::kRevisionNotFound);
  EXPECT_EQ(errorFromStatus(404, "EntryNotFound", "", "c").kind, HubErrorKind::kEntryNotFound);
  EXPECT_EQ(errorFromStatus(403, "GatedRepo", "", "c").kind, HubErrorKind::kGated);
  EXPECT_EQ(errorFromStatus(401, "GatedRepo", "", "c").kind, HubErrorKind::kGated);
  EXPECT_EQ(errorFromStatus(401, "", "Invalid credentials in Authorization header", "c").kind,
            HubErrorKind::kUnauthorized);
  EXPECT_EQ(errorFromStatus(401, "", "", "c").kind, HubErrorKind::kUnauthorized);
  EXPECT_EQ(errorFromStatus(403, "", "Access to this resource is disabled.", "c").kind,
            HubErrorKind::kForbidden);
  EXPECT_EQ(errorFromStatus(404, "", "", "c").kind, HubErrorKind::kNotFound);
  EXPECT_EQ(errorFromStatus(409, "", "", "c").kind, HubErrorKind::kConflict);
  EXPECT_EQ(errorFromStatus(412, "", "", "c").kind, HubErrorKind::kConflict);
  EXPECT_EQ(errorFromStatus(416, "", "", "c").kind, HubErrorKind::kRangeNotSatisfiable);
  EXPECT_EQ(errorFromStatus(408, "", "", "c").kind, HubErrorKind::kTimeout);
  EXPECT_EQ(errorFromStatus(429, "", "", "c").kind, HubErrorKind::kRateLimited);
  EXPECT_EQ(errorFromStatus(500, "", "", "c").kind, HubErrorKind::kServerError);
  EXPECT_EQ(errorFromStatus(503, "", "", "c").kind, HubErrorKind::kServerError);
  EXPECT_EQ(errorFromStatus(400, "", "", "c").kind, HubErrorKind::kBadResponse);
  EXPECT_EQ(errorFromStatus(304, "", "", "c").kind, HubErrorKind::kBadResponse);
}

TEST(HttpUtilTest, RetryableStatuses) {
  for (int s : {408, 429, 500, 502, 503, 504}) {
    EXPECT_TRUE(isRetryableStatus(s)) << s;
  }
  for (int s : {200, 301, 400, 401, 403, 404, 409, 412, 416}) {
    EXPECT_FALSE(isRetryableStatus(s)) << s;
  }
}

TEST(HttpUtilTest, LowerHexLowersOnlyHexDigits) {
  EXPECT_EQ(lowerHex("0123456789ABCDEFabcdef"), "0123456789abcdefabcdef");
  EXPECT_EQ(lowerHex("XYZ-g"), "XYZ-g");
}

TEST(HttpUtilTest, ServerTextIsSanitized) {
  EXPECT_EQ(sanitizeServerText("a\r\nb\x01"), "a  b");
  EXPECT_EQ(sanitizeServerText(std::string(500, 'x'), 10), std::string(10, 'x') + "...");
  auto e = errorFromStatus(404, "Entry\nNotFound", std::string(1000, 'm'), "c");
  EXPECT_EQ(e.message.find('\n'), std::string::npos);
  EXPECT_LT(e.message.size(), 400u);
}

}  // namespace
}  // namespace hfm::hub::detail
