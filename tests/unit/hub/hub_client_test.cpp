// SPDX-License-Identifier: Apache-2.0
// HubClient against LocalRawServer: the happy paths, and a hostile server that lies, loops,
// truncates, stalls and fails, which must end in a clear HubError and never in a crash.

#include "hub/hub_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "tests/unit/hub/client_test_support.h"
#include "tests/unit/hub/local_raw_server.h"

namespace hfm::hub::testing {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

const std::string kOtherCommit = "89abcdef0123456789abcdef0123456789abcdef";

// "bytes=a-b" of a request.
std::pair<std::uint64_t, std::uint64_t> requestedRange(const RawRequest& req) {
  std::string r = req.header("range");
  auto eq = r.find('=');
  auto dash = r.find('-');
  return {std::stoull(r.substr(eq + 1, dash - eq - 1)), std::stoull(r.substr(dash + 1))};
}

RawReply rangeReply(const RawRequest& req, const std::string& data) {
  auto [a, b] = requestedRange(req);
  if (a >= data.size()) {
    return httpReply(416, "", {"Content-Range: bytes */" + std::to_string(data.size())});
  }
  b = std::min<std::uint64_t>(b, data.size() - 1);
  return httpReply(206, data.substr(a, b - a + 1),
                   {"Content-Range: bytes " + std::to_string(a) + "-" + std::to_string(b) + "/" +
                    std::to_string(data.size())});
}

std::string revisionJson(const std::string& sha) {
  return R"({"id":"org/name","sha":")" + sha +
         R"(","lastModified":"2024-05-01T10:00:00.000Z","private":false,"gated":false})";
}

std::string fileEntry(const std::string& path, std::uint64_t size = 1) {
  return R"({"type":"file","path":")" + path + R"(","oid":")" + kCommit +
         R"(","size":)" + std::to_string(size) + "}";
}
std::string dirEntry(const std::string& path) {
  return R"({"type":"directory","path":")" + path + R"(","oid":")" + kCommit + R"(","size":0})";
}

// ---- API calls ------------------------------------------------------------------------------

TEST(HubClientTest, RevisionSendsTokenAndEncodesTheRevision) {
  LocalRawServer server([](const RawRequest&) { return httpReply(200, revisionJson(kCommit)); });
  auto client = makeClient(optionsFor(server.url()));
  auto info = client->revision(kRepo, "refs/pr/1");
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->commit, kCommit);
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].target, "/api/models/org/name/revision/refs%2Fpr%2F1");
  EXPECT_EQ(reqs[0].header("authorization"), "Bearer " + kToken);
  EXPECT_EQ(reqs[0].header("user-agent"), "hf-mount/0.1");
}

TEST(HubClientTest, RevisionRejectsMalformedAnswers) {
  std::atomic<int> n{0};
  LocalRawServer server([&](const RawRequest&) {
    switch (n++) {
      case 0:
        return httpReply(200, "{not json");
      case 1:
        return httpReply(200, R"({"sha":42})");
      default:
        return httpReply(200, revisionJson(kOtherCommit));  // not the commit asked for
    }
  });
  auto client = makeClient(optionsFor(server.url()));
  for (int i = 0; i < 3; ++i) {
    auto info = client->revision(kRepo, kCommit);
    ASSERT_FALSE(info);
    EXPECT_EQ(info.error().kind, HubErrorKind::kBadResponse) << info.error().message;
  }
  EXPECT_EQ(client->stats().errors, 3u);
}

TEST(HubClientTest, MapsHubErrors) {
  std::atomic<int> n{0};
  LocalRawServer server([&](const RawRequest&) {
    switch (n++) {
      case 0:
        return httpReply(401, R"({"error":"Repository not found"})",
                         {"X-Error-Code: RepoNotFound", "X-Error-Message: Repository not found"});
      case 1:
        return httpReply(404, "", {"X-Error-Code: RevisionNotFound"});
      case 2:
        return httpReply(403, "", {"X-Error-Code: GatedRepo"});
      case 3:
        return httpReply(401, "", {"X-Error-Message: Invalid credentials in Authorization header"});
      default:
        // A hostile server echoing the token must not get it into a message.
        return httpReply(400, R"({"error":"bad token )" + kToken + R"("})");
    }
  });
  auto client = makeClient(optionsFor(server.url()));
  auto e = client->revision(kRepo, "main");
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().kind, HubErrorKind::kNotFound);
  EXPECT_TRUE(e.error().maybe_private);
  EXPECT_EQ(e.error().http_status, 401);
  EXPECT_NE(e.error().message.find("GET /api/models/org/name/revision/main: HTTP 401 RepoNotFound"),
            std::string::npos)
      << e.error().message;
  EXPECT_EQ(client->revision(kRepo, "main").error().kind, HubErrorKind::kRevisionNotFound);
  EXPECT_EQ(client->revision(kRepo, "main").error().kind, HubErrorKind::kGated);
  EXPECT_EQ(client->revision(kRepo, "main").error().kind, HubErrorKind::kUnauthorized);
  e = client->revision(kRepo, "main");
  EXPECT_EQ(e.error().kind, HubErrorKind::kBadResponse);
  EXPECT_EQ(e.error().message.find(kToken), std::string::npos) << e.error().message;
  EXPECT_NE(e.error().message.find("[token]"), std::string::npos) << e.error().message;
}

TEST(HubClientTest, GarbageInsteadOfHttpIsABadResponse) {
  LocalRawServer server([](const RawRequest&) { return RawReply{"HELLO THERE\r\n\r\n", true, {}}; });
  auto client = makeClient(optionsFor(server.url()));
  auto info = client->revision(kRepo, "main");
  ASSERT_FALSE(info);
  EXPECT_TRUE(info.error().kind == HubErrorKind::kBadResponse ||
              info.error().kind == HubErrorKind::kNetwork)
      << info.error().message;
}

TEST(HubClientTest, WhoAmI) {
  LocalRawServer server([](const RawRequest& req) {
    if (req.header("authorization") != "Bearer " + kToken) {
      return httpReply(401, "");
    }
    return httpReply(200, R"({"name":"alice","orgs":[{"name":"acme"}],"auth":{"accessToken":{"role":"read"}}})");
  });
  auto client = makeClient(optionsFor(server.url()));
  auto who = client->whoami();
  ASSERT_TRUE(who) << who.error().message;
  EXPECT_EQ(who->name, "alice");
  EXPECT_EQ(who->role, "read");
  auto options = optionsFor(server.url());
  options.token.reset();
  auto anonymous = makeClient(options);
  EXPECT_EQ(anonymous->whoami().error().kind, HubErrorKind::kUnauthorized);
  EXPECT_EQ(server.requests().size(), 1u);  // no request without a token
}

// ---- pagination -----------------------------------------------------------------------------

TEST(HubClientTest, TreeFollowsLinksAndChecksEntries) {
  std::string base;
  LocalRawServer server([&](const RawRequest& req) {
    if (req.target.find("cursor=2") != std::string::npos) {
      return httpReply(200, "[" + fileEntry("d/c") + "]");
    }
    if (req.target.find("cursor=1") != std::string::npos) {
      // A relative Link is resolved against the page's URL.
      return httpReply(200, "[" + dirEntry("d/sub") + "]",
                       {"Link: </api/models/org/name/tree/x/d?recursive=false&cursor=2>; rel=\"next\""});
    }
    return httpReply(200, "[" + fileEntry("d/a", 5) + "," + fileEntry("d/b") + "]",
                     {"Link: <" + base + "/api/models/org/name/tree/x/d?recursive=false&cursor=1>; rel=\"next\""});
  });
  base = server.url();
  auto client = makeClient(optionsFor(server.url()));
  auto entries = client->listTree(kRepo, kCommit, "d", false);
  ASSERT_TRUE(entries) << entries.error().message;
  ASSERT_EQ(entries->size(), 4u);
  EXPECT_EQ((*entries)[0].path, "d/a");
  EXPECT_EQ((*entries)[0].size, 5u);
  EXPECT_TRUE((*entries)[2].is_dir);
  EXPECT_EQ(server.requests()[0].target,
            "/api/models/org/name/tree/" + kCommit + "/d?recursive=false");
}

struct HostileTreeCase {
  const char* name;
  std::string dir;
  bool recursive;
  std::vector<std::string> pages;  // page i links to page i+1 (unless `link` overrides)
  std::string link;                // a Link header for every page instead
};

class HostileTreeTest : public ::testing::TestWithParam<HostileTreeCase> {};

TEST_P(HostileTreeTest, IsABadResponse) {
  const HostileTreeCase& c = GetParam();
  std::string base;
  LocalRawServer server([&](const RawRequest& req) {
    auto pos = req.target.find("page=");
    std::size_t page = pos == std::string::npos ? 0 : std::stoul(req.target.substr(pos + 5));
    std::string link = c.link.empty() ? "<" + base + "/api/p?page=" + std::to_string(page + 1) + ">; rel=\"next\""
                                      : c.link;
    if (link.find("BASE") != std::string::npos) {
      link.replace(link.find("BASE"), 4, base);
    }
    std::vector<std::string> headers;
    if (page + 1 < c.pages.size() || !c.link.empty()) {
      headers.push_back("Link: " + link);
    }
    return httpReply(200, c.pages[std::min(page, c.pages.size() - 1)], headers);
  });
  base = server.url();
  auto options = optionsFor(server.url());
  options.max_pages = 5;
  auto client = makeClient(options);
  auto entries = client->listTree(kRepo, kCommit, c.dir, c.recursive);
  ASSERT_FALSE(entries);
  EXPECT_EQ(entries.error().kind, HubErrorKind::kBadResponse) << entries.error().message;
  EXPECT_EQ(entries.error().message.find('\0'), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, HostileTreeTest,
    ::testing::Values(
        HostileTreeCase{"malformed", "", true, {"[{\"type\":"}, ""},
        HostileTreeCase{"dotdot", "", true, {"[" + fileEntry("a/../../etc/passwd") + "]"}, ""},
        HostileTreeCase{"absolute", "", true, {"[" + fileEntry("/etc/passwd") + "]"}, ""},
        HostileTreeCase{"nul", "", true, {"[" + fileEntry("a\\u0000b") + "]"}, ""},
        HostileTreeCase{"huge", "", true, {"[" + fileEntry("a", 1ull << 60) + "]"}, ""},
        HostileTreeCase{"negative", "", true, {R"([{"type":"file","path":"a","oid":")" + kCommit + R"(","size":-5}])"}, ""},
        HostileTreeCase{"duplicate_across_pages", "", true, {"[" + fileEntry("a") + "]", "[" + fileEntry("a") + "]"}, ""},
        HostileTreeCase{"outside_dir", "d", true, {"[" + fileEntry("e/x") + "]"}, ""},
        HostileTreeCase{"grandchild", "d", false, {"[" + fileEntry("d/x/y") + "]"}, ""},
        HostileTreeCase{"file_and_folder", "", true, {"[" + fileEntry("a") + "," + fileEntry("a/b") + "]"}, ""},
        HostileTreeCase{"link_other_origin", "", true, {"[" + fileEntry("a") + "]"},
                        "<http://127.0.0.1:1/api/p?page=1>; rel=\"next\""},
        HostileTreeCase{"link_loop", "", true, {"[]"}, "<BASE/api/p?page=0>; rel=\"next\""},
        HostileTreeCase{"too_many_pages", "", true,
                        {"[" + fileEntry("p1") + "]", "[" + fileEntry("p2") + "]", "[" + fileEntry("p3") + "]",
                         "[" + fileEntry("p4") + "]", "[" + fileEntry("p5") + "]", "[" + fileEntry("p6") + "]"},
                        ""},
        // An empty page that links to a next one ends the listing as malformed at once, rather
        // than after max_pages requests.
        HostileTreeCase{"empty_page_with_next", "", true, {"[" + fileEntry("a") + "]", "[]", "[" + fileEntry("b") + "]"}, ""}),
    [](const ::testing::TestParamInfo<HostileTreeCase>& param) { return std::string(param.param.name); });

TEST(HubClientTest, PathsInfoChecksTheAnswer) {
  std::atomic<int> n{0};
  LocalRawServer server([&](const RawRequest& req) {
    if (n++ == 0) {
      EXPECT_EQ(req.header("content-type"), "application/x-www-form-urlencoded");
      EXPECT_EQ(req.body, "paths=a%20b&paths=d&expand=false");
      return httpReply(200, "[" + fileEntry("a b") + "," + dirEntry("d") + "]");
    }
    return httpReply(200, "[" + fileEntry("not-asked") + "]");
  });
  auto client = makeClient(optionsFor(server.url()));
  auto entries = client->pathsInfo(kRepo, kCommit, {"a b", "d/", "../x", "/abs", "a b"});
  ASSERT_TRUE(entries) << entries.error().message;
  EXPECT_EQ(entries->size(), 2u);
  EXPECT_EQ(server.requests()[0].target, "/api/models/org/name/paths-info/" + kCommit);
  auto bad = client->pathsInfo(kRepo, kCommit, {"x"});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, HubErrorKind::kBadResponse);
  auto none = client->pathsInfo(kRepo, kCommit, {"../only-invalid"});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(server.requests().size(), 2u);
}

TEST(HubClientTest, ListReposPaginatesFiltersAndStops) {
  std::string base;
  LocalRawServer server([&](const RawRequest& req) {
    if (req.target.find("cursor=1") != std::string::npos) {
      return httpReply(200, R"([{"id":"alice/c"},{"id":"alice/d"}])",
                       {"Link: <" + base + "/api/models?author=alice&cursor=2>; rel=\"next\""});
    }
    return httpReply(200, R"([{"id":"alice/a","private":true},{"id":"bob/x"},{"id":"alice/a"},{"id":"gpt2"}])",
                     {"Link: <" + base + "/api/models?author=alice&cursor=1>; rel=\"next\""});
  });
  base = server.url();
  auto client = makeClient(optionsFor(server.url()));
  auto repos = client->listRepos(common::RepoType::kModel, "alice", 2);
  ASSERT_TRUE(repos) << repos.error().message;
  ASSERT_EQ(repos->size(), 2u);
  EXPECT_EQ((*repos)[0].id.fullName(), "alice/a");
  EXPECT_TRUE((*repos)[0].is_private);
  EXPECT_EQ((*repos)[1].id.fullName(), "alice/c");
  EXPECT_EQ(server.requests().size(), 2u);  // stopped before the third page
  EXPECT_EQ(server.requests()[0].target, "/api/models?author=alice&limit=2");
  auto invalid = client->listRepos(common::RepoType::kModel, "../x", 10);
  ASSERT_TRUE(invalid);
  EXPECT_TRUE(invalid->empty());
}

// ---- retries --------------------------------------------------------------------------------

TEST(HubClientTest, RetriesServerErrorsThenSucceeds) {
  std::atomic<int> n{0};
  LocalRawServer server([&](const RawRequest&) {
    if (n++ < 2) {
      return httpReply(503, "busy");
    }
    return httpReply(200, revisionJson(kCommit));
  });
  auto client = makeClient(optionsFor(server.url()));
  auto info = client->revision(kRepo, "main");
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(client->stats().retries, 2u);
  EXPECT_EQ(client->stats().requests, 3u);
}

TEST(HubClientTest, HonoursRetryAfter) {
  std::atomic<int> n{0};
  LocalRawServer server([&](const RawRequest&) {
    if (n++ == 0) {
      return httpReply(429, "", {"Retry-After: 1"});
    }
    return httpReply(200, revisionJson(kCommit));
  });
  auto client = makeClient(optionsFor(server.url()));
  auto start = Clock::now();
  auto info = client->revision(kRepo, "main");
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_GE(Clock::now() - start, milliseconds(990));
  EXPECT_EQ(client->stats().retries, 1u);
}

TEST(HubClientTest, GivesUpAtTheDeadlineWithTheLastError) {
  LocalRawServer s503([](const RawRequest&) { return httpReply(503, ""); });
  LocalRawServer s429([](const RawRequest&) { return httpReply(429, "", {"Retry-After: 60"}); });
  for (auto* server : {&s503, &s429}) {
    auto options = optionsFor(server->url());
    options.retry_deadline = milliseconds(500);
    auto client = makeClient(options);
    auto start = Clock::now();
    auto info = client->revision(kRepo, "main");
    auto elapsed = Clock::now() - start;
    ASSERT_FALSE(info);
    EXPECT_EQ(info.error().kind,
              server == &s503 ? HubErrorKind::kServerError : HubErrorKind::kRateLimited);
    EXPECT_LT(elapsed, milliseconds(1500));
    if (server == &s429) {
      // Retry-After beyond the deadline: give up at once instead of sleeping past it.
      EXPECT_EQ(client->stats().requests, 1u);
    }
  }
}

TEST(HubClientTest, ServerDownIsANetworkErrorWithinTheDeadline) {
  auto options = optionsFor(testing::unreachableUrl());
  options.retry_deadline = milliseconds(700);
  auto client = makeClient(options);
  auto start = Clock::now();
  std::vector<char> buf(10);
  auto n = client->readRange(kRepo, kCommit, "f", 0, buf);
  ASSERT_FALSE(n);
  EXPECT_TRUE(n.error().kind == HubErrorKind::kNetwork || n.error().kind == HubErrorKind::kTimeout)
      << n.error().message;
  EXPECT_LT(Clock::now() - start, milliseconds(2000));
  EXPECT_GT(client->stats().retries, 0u);
}

// ---- readRange ------------------------------------------------------------------------------

TEST(HubClientTest, ReadRangeEncodesThePath) {
  const std::string data = content(100);
  LocalRawServer server([&](const RawRequest& req) { return rangeReply(req, data); });
  auto client = makeClient(optionsFor(server.url()));
  std::vector<char> buf(10);
  auto n = client->readRange(kRepo, "refs/pr/1", "dir with space/a#b.txt", 20, buf);
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(*n, 10u);
  EXPECT_EQ(std::string(buf.data(), 10), data.substr(20, 10));
  auto req = server.requests().at(0);
  EXPECT_EQ(req.target, "/org/name/resolve/refs%2Fpr%2F1/dir%20with%20space/a%23b.txt");
  EXPECT_EQ(req.header("range"), "bytes=20-29");
}

TEST(HubClientTest, ReadRangeFollowsCdnRedirectWithoutTokenAndRemembersIt) {
  const std::string data = content(5000);
  std::atomic<int> cdn_refusals{0};
  LocalRawServer cdn([&](const RawRequest& req) {
    if (req.target.find("sig=old") != std::string::npos && cdn_refusals.load() > 0) {
      return httpReply(403, "", {"X-Error-Code: SignatureExpired"});
    }
    return rangeReply(req, data);
  });
  std::atomic<int> resolves{0};
  LocalRawServer hub([&](const RawRequest&) {
    std::string sig = resolves++ == 0 ? "old" : "new";
    auto expires = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch() + std::chrono::hours(1))
                       .count();
    return httpReply(302, "Found", {"Location: " + cdn.url() + "/lfs/abc?X-Expires=" +
                                        std::to_string(expires) + "&sig=" + sig});
  });
  auto client = makeClient(optionsFor(hub.url()));
  std::vector<char> buf(100);
  for (std::uint64_t offset : {0u, 1000u, 4950u}) {
    auto n = client->readRange(kRepo, kCommit, "model.bin", offset, buf);
    ASSERT_TRUE(n) << n.error().message;
    EXPECT_EQ(*n, std::min<std::size_t>(100, 5000 - offset));
    EXPECT_EQ(std::string(buf.data(), *n), data.substr(offset, *n));
  }
  EXPECT_EQ(resolves.load(), 1);  // later reads went straight to the remembered CDN URL
  EXPECT_EQ(client->stats().cdn_url_cache_hits, 2u);
  EXPECT_EQ(client->stats().redirects_followed, 1u);
  // The CDN starts refusing the remembered URL: drop it, resolve again, read.
  cdn_refusals = 1;
  auto n = client->readRange(kRepo, kCommit, "model.bin", 10, buf);
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(std::string(buf.data(), 100), data.substr(10, 100));
  EXPECT_EQ(resolves.load(), 2);
  for (const auto& req : hub.requests()) {
    EXPECT_EQ(req.header("authorization"), "Bearer " + kToken);
  }
  for (const auto& req : cdn.requests()) {
    EXPECT_FALSE(req.has("authorization")) << req.target;
  }
}

TEST(HubClientTest, SameOriginRedirectKeepsTheToken) {
  const std::string data = content(300);
  LocalRawServer server([&](const RawRequest& req) {
    if (req.target.rfind("/api/resolve-cache/", 0) == 0) {
      return rangeReply(req, data);
    }
    // A renamed repo or the Hub's resolve cache: a relative redirect on the same origin.
    return httpReply(307, "", {"Location: /api/resolve-cache/models/org/name/" + kCommit + "/f?etag=x"});
  });
  auto client = makeClient(optionsFor(server.url()));
  std::vector<char> buf(50);
  auto n = client->readRange(kRepo, kCommit, "f", 100, buf);
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(std::string(buf.data(), 50), data.substr(100, 50));
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 2u);
  for (const auto& req : reqs) {
    EXPECT_EQ(req.header("authorization"), "Bearer " + kToken) << req.target;
    EXPECT_EQ(req.header("range"), "bytes=100-149");
  }
}

TEST(HubClientTest, ReadRangeResumesABrokenBody) {
  const std::string data = content(200000);
  std::atomic<int> n{0};
  LocalRawServer server([&](const RawRequest& req) {
    auto [a, b] = requestedRange(req);
    if (n++ < 2) {
      // Declare the whole range, send a part, hang up.
      RawReply reply = httpReply(206, data.substr(a, 1000),
                                 {"Content-Range: bytes " + std::to_string(a) + "-" + std::to_string(b) +
                                      "/" + std::to_string(data.size()),
                                  "Content-Length: " + std::to_string(b - a + 1)});
      reply.close = true;
      return reply;
    }
    return rangeReply(req, data);
  });
  auto client = makeClient(optionsFor(server.url()));
  std::vector<char> buf(150000);
  auto got = client->readRange(kRepo, kCommit, "f", 100, buf);
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(*got, buf.size());
  EXPECT_EQ(std::string(buf.data(), buf.size()), data.substr(100, buf.size()));
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0].header("range"), "bytes=100-150099");
  EXPECT_EQ(reqs[1].header("range"), "bytes=1100-150099");
  EXPECT_EQ(reqs[2].header("range"), "bytes=2100-150099");
  EXPECT_EQ(client->stats().retries, 2u);
}

TEST(HubClientTest, ReadRangeAtEndOfFile) {
  const std::string data = content(100);
  LocalRawServer server([&](const RawRequest& req) { return rangeReply(req, data); });
  auto client = makeClient(optionsFor(server.url()));
  std::vector<char> buf(20);
  auto n = client->readRange(kRepo, kCommit, "f", 90, buf);
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(*n, 10u);
  EXPECT_EQ(std::string(buf.data(), 10), data.substr(90));
  n = client->readRange(kRepo, kCommit, "f", 100, buf);
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(*n, 0u);
  std::vector<char> empty;
  EXPECT_EQ(*client->readRange(kRepo, kCommit, "f", 5, empty), 0u);
}

TEST(HubClientTest, ReadRangeWhenTheServerIgnoresRange) {
  const std::string data = content(1000);
  LocalRawServer server([&](const RawRequest&) { return httpReply(200, data); });
  auto client = makeClient(optionsFor(server.url()));
  std::vector<char> buf(100);
  auto n = client->readRange(kRepo, kCommit, "f", 0, buf);
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(*n, 100u);
  EXPECT_EQ(std::string(buf.data(), 100), data.substr(0, 100));
  std::vector<char> big(5000);
  n = client->readRange(kRepo, kCommit, "f", 0, big);
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(*n, 1000u);  // the whole (shorter) file
  n = client->readRange(kRepo, kCommit, "f", 10, buf);
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error().kind, HubErrorKind::kBadResponse);
}

struct HostileRangeCase {
  const char* name;
  std::function<RawReply(const RawRequest&, const std::string&)> reply;
};

class HostileRangeTest : public ::testing::TestWithParam<HostileRangeCase> {};

TEST_P(HostileRangeTest, IsABadResponse) {
  const std::string data = content(1000);
  LocalRawServer server([&](const RawRequest& req) { return GetParam().reply(req, data); });
  auto client = makeClient(optionsFor(server.url()));
  std::vector<char> buf(100);
  auto n = client->readRange(kRepo, kCommit, "f", 200, buf);
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error().kind, HubErrorKind::kBadResponse) << n.error().message;
}

RawReply partial(int status, const std::string& body, std::vector<std::string> headers) {
  return httpReply(status, body, std::move(headers));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, HostileRangeTest,
    ::testing::Values(
        HostileRangeCase{"wrong_start", [](const RawRequest&, const std::string& d) {
                           return partial(206, d.substr(0, 100), {"Content-Range: bytes 0-99/1000"});
                         }},
        HostileRangeCase{"past_requested_end", [](const RawRequest&, const std::string& d) {
                           return partial(206, d.substr(200, 200), {"Content-Range: bytes 200-399/1000"});
                         }},
        HostileRangeCase{"short_not_at_eof", [](const RawRequest&, const std::string& d) {
                           return partial(206, d.substr(200, 50), {"Content-Range: bytes 200-249/1000"});
                         }},
        HostileRangeCase{"no_content_range", [](const RawRequest&, const std::string& d) {
                           return partial(206, d.substr(200, 100), {});
                         }},
        HostileRangeCase{"garbage_content_range", [](const RawRequest&, const std::string& d) {
                           return partial(206, d.substr(200, 100), {"Content-Range: bytes 299-200/1000"});
                         }},
        HostileRangeCase{"length_disagrees", [](const RawRequest&, const std::string& d) {
                           return partial(206, d.substr(200, 100),
                                          {"Content-Range: bytes 200-299/1000", "Content-Length: 90"});
                         }},
        HostileRangeCase{"chunked_body_too_long", [](const RawRequest&, const std::string& d) {
                           std::string body = d.substr(200, 150);
                           char size[16];
                           std::snprintf(size, sizeof size, "%zx", body.size());
                           return RawReply{"HTTP/1.1 206 X\r\nContent-Range: bytes 200-299/1000\r\n"
                                           "Transfer-Encoding: chunked\r\n\r\n" +
                                               std::string(size) + "\r\n" + body + "\r\n0\r\n\r\n",
                                           false, {}};
                         }},
        HostileRangeCase{"ignored_range_at_offset", [](const RawRequest&, const std::string& d) {
                           return httpReply(200, d);
                         }},
        HostileRangeCase{"compressed", [](const RawRequest&, const std::string& d) {
                           return partial(206, d.substr(200, 100),
                                          {"Content-Range: bytes 200-299/1000", "Content-Encoding: gzip"});
                         }},
        HostileRangeCase{"redirect_loop", [](const RawRequest& req, const std::string&) {
                           return httpReply(302, "", {"Location: " + req.target + "x"});
                         }},
        HostileRangeCase{"redirect_to_file_scheme", [](const RawRequest&, const std::string&) {
                           return httpReply(302, "", {"Location: file:///etc/passwd"});
                         }},
        HostileRangeCase{"redirect_without_location", [](const RawRequest&, const std::string&) {
                           return httpReply(302, "");
                         }}),
    [](const ::testing::TestParamInfo<HostileRangeCase>& param) { return std::string(param.param.name); });

TEST(HubClientTest, ReadRangeMapsEntryNotFound) {
  LocalRawServer server([](const RawRequest&) {
    return httpReply(404, "", {"X-Error-Code: EntryNotFound", "X-Repo-Commit: " + kCommit});
  });
  auto client = makeClient(optionsFor(server.url()));
  std::vector<char> buf(10);
  auto n = client->readRange(kRepo, kCommit, "missing", 0, buf);
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error().kind, HubErrorKind::kEntryNotFound);
  EXPECT_EQ(server.requests().size(), 1u);  // not retried
}

TEST(HubClientTest, StalledTransferTimesOut) {
  const std::string data = content(100000);
  LocalRawServer server([&](const RawRequest& req) {
    auto [a, b] = requestedRange(req);
    RawReply reply = httpReply(206, data.substr(a, 10),
                               {"Content-Range: bytes " + std::to_string(a) + "-" + std::to_string(b) +
                                    "/100000",
                                "Content-Length: " + std::to_string(b - a + 1)});
    reply.stall_after = milliseconds(3000);
    reply.close = true;
    return reply;
  });
  auto options = optionsFor(server.url());
  options.stall_timeout = milliseconds(300);
  options.retry_deadline = milliseconds(800);
  auto client = makeClient(options);
  std::vector<char> buf(50000);
  auto start = Clock::now();
  auto n = client->readRange(kRepo, kCommit, "f", 0, buf);
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error().kind, HubErrorKind::kTimeout) << n.error().message;
  EXPECT_LT(Clock::now() - start, milliseconds(2500));
}

TEST(HubClientTest, CancelStopsARead) {
  LocalRawServer server([](const RawRequest&) {
    RawReply reply{"HTTP/1.1 206 X\r\nContent-Range: bytes 0-99/100\r\nContent-Length: 100\r\n\r\n", true,
                   milliseconds(5000)};
    return reply;
  });
  auto client = makeClient(optionsFor(server.url()));
  std::stop_source stop;
  std::thread canceler([&] {
    std::this_thread::sleep_for(milliseconds(200));
    stop.request_stop();
  });
  std::vector<char> buf(100);
  auto start = Clock::now();
  auto n = client->readRange(kRepo, kCommit, "f", 0, buf, stop.get_token());
  canceler.join();
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error().kind, HubErrorKind::kCanceled) << n.error().message;
  EXPECT_LT(Clock::now() - start, milliseconds(1800));
}

TEST(HubClientTest, RejectsBadOptions) {
  HubOptions options;
  options.endpoint = "ftp://x";
  EXPECT_FALSE(HubClient::create(options));
  options.endpoint = "http://ok";
  options.token = "a\r\nX-Injected: 1";
  EXPECT_FALSE(HubClient::create(options));
  options.token = "";
  auto client = HubClient::create(options);
  ASSERT_TRUE(client);
  EXPECT_FALSE((*client)->options().token);
  options.endpoint = "http://ok///";
  EXPECT_EQ((*HubClient::create(options))->options().endpoint, "http://ok");
}

TEST(HubClientTest, ConcurrentReadsShareTheConnectionBound) {
  const std::string data = content(1 << 20);
  std::atomic<int> in_flight{0};
  std::atomic<int> peak{0};
  LocalRawServer server([&](const RawRequest& req) {
    int now = ++in_flight;
    int old = peak.load();
    while (now > old && !peak.compare_exchange_weak(old, now)) {
    }
    std::this_thread::sleep_for(milliseconds(5));
    --in_flight;
    return rangeReply(req, data);
  });
  auto options = optionsFor(server.url());
  options.max_connections = 3;
  auto client = makeClient(options);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      std::vector<char> buf(4096);
      for (int i = 0; i < 20; ++i) {
        std::uint64_t offset = static_cast<std::uint64_t>(t * 7919 + i * 104729) % (data.size() - 4096);
        auto n = client->readRange(kRepo, kCommit, "f", offset, buf);
        if (!n || *n != buf.size() || std::string(buf.data(), buf.size()) != data.substr(offset, buf.size())) {
          ++failures;
        }
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(failures.load(), 0);
  EXPECT_LE(peak.load(), 3);
  EXPECT_LE(server.connections(), 3u + 1u);  // kept alive and reused
}

}  // namespace
}  // namespace hfm::hub::testing
