// SPDX-License-Identifier: Apache-2.0
#include "hub/hub_json.h"

#include <gtest/gtest.h>

namespace hfm::hub::detail {
namespace {

const std::string kSha = "0123456789abcdef0123456789abcdef01234567";
const std::string kSha256 = std::string(64, 'a');

std::string fileEntry(const std::string& path, const std::string& size = "10",
                      const std::string& extra = "") {
  return R"({"type":"file","path":")" + path + R"(","oid":")" + kSha + R"(","size":)" + size + extra + "}";
}

TEST(HubJsonTest, ParsesRevisionInfo) {
  auto info = parseRevisionInfo(R"({"sha":")" + kSha +
                                R"(","lastModified":"2023-03-21T09:05:27.000Z","private":true,"gated":"manual","extra":[1]})");
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->commit, kSha);
  EXPECT_TRUE(info->is_private);
  EXPECT_EQ(info->gated, "manual");
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::seconds>(info->last_modified.time_since_epoch()).count(),
            1679389527);
  info = parseRevisionInfo(R"({"sha":")" + kSha + R"(","lastModified":"2023-03-21T09:05:27Z","gated":false})");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->gated, "");
  EXPECT_FALSE(info->is_private);
}

TEST(HubJsonTest, RejectsBadRevisionInfo) {
  for (const std::string& body : std::vector<std::string>{
           std::string("not json"), std::string("[]"), std::string("{}"),
           R"({"sha":null,"lastModified":"2023-03-21T09:05:27Z"})",
           R"({"sha":"abc","lastModified":"2023-03-21T09:05:27Z"})",
           R"({"sha":")" + kSha + R"("})",
           R"({"sha":")" + kSha + R"(","lastModified":"yesterday"})",
           R"({"sha":")" + kSha + R"(","lastModified":"2023-03-21T09:05:27Z","private":"yes"})",
           R"({"sha":")" + kSha + R"(","lastModified":"2023-03-21T09:05:27Z","gated":3})",
           std::string(R"({"sha":")") + kSha,  // truncated
       }) {
    auto info = parseRevisionInfo(body);
    ASSERT_FALSE(info) << body;
    EXPECT_EQ(info.error().kind, HubErrorKind::kBadResponse);
  }
}

// Found by tests/fuzz/hub_json_fuzz: years past 2261 overflowed system_clock's nanoseconds.
TEST(HubJsonTest, RejectsDatesOutsideTheClockRange) {
  for (const char* date : {"4048-05-01T12:34:56.000Z", "9999-12-31T23:59:59Z", "1000-01-01T00:00:00Z"}) {
    auto info = parseRevisionInfo(R"({"sha":")" + kSha + R"(","lastModified":")" + date + R"("})");
    ASSERT_FALSE(info) << date;
    EXPECT_EQ(info.error().kind, HubErrorKind::kBadResponse);
    auto commits = parseCommitList(R"([{"id":")" + kSha + R"(","date":")" + date + R"("}])");
    EXPECT_FALSE(commits) << date;
  }
  EXPECT_TRUE(parseRevisionInfo(R"({"sha":")" + kSha + R"(","lastModified":"2261-12-31T23:59:59Z"})"));
}

TEST(HubJsonTest, ParsesTreeEntries) {
  std::string body = "[" + fileEntry("a.txt") + "," +
                     R"({"type":"directory","path":"dir","oid":")" + kSha + R"(","size":0},)" +
                     fileEntry("dir/w.bin", "9007199254740992",
                               R"(,"lfs":{"oid":")" + kSha256 + R"(","size":9007199254740992,"pointerSize":134},"xetHash":")" +
                                   std::string(64, 'B') + "\"") +
                     R"(,{"type":"unknown","path":"x"}])";
  auto entries = parseTreeEntries(body);
  ASSERT_TRUE(entries) << entries.error().message;
  ASSERT_EQ(entries->size(), 3u);
  EXPECT_EQ((*entries)[0].path, "a.txt");
  EXPECT_FALSE((*entries)[0].is_dir);
  EXPECT_EQ((*entries)[0].size, 10u);
  EXPECT_EQ((*entries)[0].oid, kSha);
  EXPECT_TRUE((*entries)[1].is_dir);
  EXPECT_EQ((*entries)[2].size, 1ull << 53);
  EXPECT_EQ((*entries)[2].lfs_sha256, kSha256);
  EXPECT_EQ((*entries)[2].xet_hash, std::string(64, 'b'));  // lower-cased
}

TEST(HubJsonTest, RejectsHostileTreeEntries) {
  const std::vector<std::string> bad = {
      "{}",
      "[1]",
      "[" + fileEntry("../etc/passwd") + "]",
      "[" + fileEntry("/etc/passwd") + "]",
      "[" + fileEntry("a//b") + "]",
      "[" + fileEntry("a/./b") + "]",
      "[" + fileEntry("a/") + "]",
      "[" + fileEntry("") + "]",
      "[" + fileEntry(R"(a\u0000b)") + "]",
      "[" + fileEntry(R"(a\nb)") + "]",
      "[" + fileEntry(std::string(256, 'x')) + "]",
      "[" + fileEntry("a", "-1") + "]",
      "[" + fileEntry("a", "1.5") + "]",
      "[" + fileEntry("a", "9007199254740993") + "]",
      "[" + fileEntry("a", "18446744073709551615") + "]",
      "[" + fileEntry("a", "\"10\"") + "]",
      "[" + fileEntry("a", "10", R"(,"lfs":{"oid":"short","size":10})") + "]",
      "[" + fileEntry("a", "10", R"(,"lfs":{"oid":")" + kSha256 + R"(","size":11})") + "]",
      "[" + fileEntry("a", "10", R"(,"lfs":"yes")") + "]",
      "[" + fileEntry("a", "10", R"(,"xetHash":"zz")") + "]",
      R"([{"type":"file","path":"a","size":1}])",                  // no oid
      R"([{"type":"file","path":"a","oid":"xyz","size":1}])",     // oid not hex
      R"([{"type":"file","oid":")" + kSha + R"(","size":1}])",     // no path
      R"([{"path":"a","oid":")" + kSha + R"(","size":1}])",        // no type
      R"([{"type":"file","path":7,"oid":")" + kSha + R"(","size":1}])",
      "[" + fileEntry("a") + ",",
  };
  for (const auto& body : bad) {
    auto entries = parseTreeEntries(body);
    ASSERT_FALSE(entries) << body;
    EXPECT_EQ(entries.error().kind, HubErrorKind::kBadResponse);
  }
}

TEST(HubJsonTest, DeeplyNestedJsonDoesNotCrash) {
  std::string deep(200000, '[');
  EXPECT_FALSE(parseTreeEntries(deep));
  deep += std::string(200000, ']');
  EXPECT_FALSE(parseTreeEntries(deep));
}

TEST(HubJsonTest, ChecksPlacementUnderTheListedFolder) {
  TreeEntry e;
  e.path = "a/b/c";
  EXPECT_FALSE(misplacedEntry(e, "", true));
  EXPECT_TRUE(misplacedEntry(e, "", false));
  EXPECT_FALSE(misplacedEntry(e, "a/b", false));
  EXPECT_FALSE(misplacedEntry(e, "a", true));
  EXPECT_TRUE(misplacedEntry(e, "a", false));
  EXPECT_TRUE(misplacedEntry(e, "a/b/c", true));  // the folder itself
  EXPECT_TRUE(misplacedEntry(e, "x", true));
  EXPECT_TRUE(misplacedEntry(e, "a/bb", true));
  e.path = "a/bb/c";
  EXPECT_TRUE(misplacedEntry(e, "a/b", true));
}

TEST(HubJsonTest, ParsesRefs) {
  auto refs = parseRefs(
      R"({"branches":[{"name":"main","ref":"refs/heads/main"},{"name":"dev"}],"tags":[{"name":"v1"}],"converts":[]})");
  ASSERT_TRUE(refs);
  EXPECT_EQ(refs->branches, (std::vector<std::string>{"main", "dev"}));
  EXPECT_EQ(refs->tags, std::vector<std::string>{"v1"});
  EXPECT_FALSE(parseRefs(R"({"branches":[]})"));
  EXPECT_FALSE(parseRefs(R"({"branches":[{"ref":"x"}],"tags":[]})"));
  EXPECT_FALSE(parseRefs("[]"));
}

TEST(HubJsonTest, ParsesWhoAmIAndRepoLists) {
  auto who = parseWhoAmI(R"({"name":"alice","orgs":[{"name":"acme"},{"x":1},"junk"],"auth":{"accessToken":{"role":"write"}}})");
  ASSERT_TRUE(who);
  EXPECT_EQ(who->name, "alice");
  EXPECT_EQ(who->orgs, std::vector<std::string>{"acme"});
  EXPECT_EQ(who->role, "write");
  EXPECT_FALSE(parseWhoAmI(R"({"orgs":[]})"));
  auto repos = parseRepoList(R"([{"id":"alice/a","private":true},{"id":"alice/b"}])");
  ASSERT_TRUE(repos);
  ASSERT_EQ(repos->size(), 2u);
  EXPECT_TRUE((*repos)[0].is_private);
  EXPECT_FALSE(parseRepoList(R"([{"private":true}])"));
  EXPECT_FALSE(parseRepoList(R"({"id":"a/b"})"));
}

TEST(HubJsonTest, ErrorBodies) {
  EXPECT_EQ(errorMessageFromBody(R"({"error":"Repository not found"})"), "Repository not found");
  EXPECT_EQ(errorMessageFromBody(R"({"error":["a","b"]})"), "a; b");
  EXPECT_EQ(errorMessageFromBody(R"({"error":"x","error_description":"y"})"), "x; y");
  EXPECT_EQ(errorMessageFromBody(R"({"message":"m"})"), "m");
  EXPECT_EQ(errorMessageFromBody("<html>"), "");
  EXPECT_EQ(errorMessageFromBody(""), "");
}

}  // namespace
}  // namespace hfm::hub::detail
