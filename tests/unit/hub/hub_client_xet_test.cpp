// SPDX-License-Identifier: Apache-2.0
// HubClient's Xet calls against LocalRawServer: which token goes where (the CAS on the
// endpoint's own origin included), the CAS token cache and its 401 refresh, the v1 fallback
// rule, and xorb fetch answers a real server would rarely send.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>

#include "tests/unit/hub/client_test_support.h"

namespace hfm::hub::testing {
namespace {

using nlohmann::json;

const std::string kFile = std::string(64, 'f');
const std::string kXorb = std::string(64, 'a');
const std::string kCasToken = "cas-SeCrEt-1";
const std::string kTokenPath = "/api/models/org/name/xet-read-token/" + kCommit;

std::int64_t unixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string tokenBody(const std::string& base, const std::string& token, std::int64_t exp) {
  return json{{"accessToken", token}, {"exp", exp}, {"casUrl", base + "/cas/"}}.dump();
}

std::string v2Body(const std::string& base) {
  return json{
      {"offset_into_first_range", 3},
      {"terms",
       json::array(
           {{{"hash", kXorb}, {"unpacked_length", 100}, {"range", {{"start", 0}, {"end", 1}}}}})},
      {"xorbs",
       {{kXorb,
         json::array({{{"url", base + "/xorb?sig=1"},
                       {"ranges", json::array({{{"chunks", {{"start", 0}, {"end", 1}}},
                                                {"bytes", {{"start", 0}, {"end", 49}}}}})}}})}}}}
      .dump();
}

std::string v1Body(const std::string& base) {
  return json{
      {"offset_into_first_range", 0},
      {"terms",
       json::array(
           {{{"hash", kXorb}, {"unpacked_length", 100}, {"range", {{"start", 0}, {"end", 1}}}}})},
      {"fetch_info",
       {{kXorb, json::array({{{"range", {{"start", 0}, {"end", 1}}},
                              {"url", base + "/xorb?v1"},
                              {"url_range", {{"start", 0}, {"end", 49}}}}})}}}}
      .dump();
}

// A Hub whose CAS lives on its own origin under /cas, as in hf-hubd. `cas` answers CAS requests.
struct FakeXetHub {
  explicit FakeXetHub(std::function<RawReply(const RawRequest&, const std::string& base)> cas,
                      std::int64_t token_lifetime_s = 3600)
      : server([this, cas = std::move(cas), token_lifetime_s](const RawRequest& r) {
          if (r.target == kTokenPath) {
            ++token_requests;
            if (r.header("authorization") != "Bearer " + kToken) {
              return httpReply(401, "{}");
            }
            std::string token = kCasToken + "-" + std::to_string(token_requests.load());
            return httpReply(200, tokenBody(server.url(), token, unixNow() + token_lifetime_s));
          }
          // Nothing but the CAS token may reach the CAS, and nothing at all a xorb URL.
          if (r.target.rfind("/cas/", 0) == 0) {
            ++cas_requests;
            if (r.header("authorization").rfind("Bearer " + kCasToken, 0) != 0) {
              ++wrong_authorization;
            }
          } else if (r.has("authorization")) {
            ++wrong_authorization;
          }
          return cas(r, server.url());
        }) {}
  // The counters outlive the server, whose threads update them.
  std::atomic<int> token_requests{0};
  std::atomic<int> cas_requests{0};
  std::atomic<int> wrong_authorization{0};
  LocalRawServer server;
};

TEST(HubClientXetTest, UsesV2WithTheCasTokenOnly) {
  FakeXetHub hub([](const RawRequest& r, const std::string& base) {
    if (r.target == "/cas/v2/reconstructions/" + kFile && r.header("range") == "bytes=3-90") {
      return httpReply(200, v2Body(base));
    }
    return httpReply(400, "{}");
  });
  auto c = makeClient(optionsFor(hub.server.url()));
  for (int i = 0; i < 3; ++i) {
    auto r = c->xetReconstruction(kRepo, kCommit, std::string(64, 'F'), 3, 90);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->offset_into_first_range, 3u);
    ASSERT_EQ(r->fetches.at(kXorb).size(), 1u);
    EXPECT_EQ(r->fetches.at(kXorb)[0].url, hub.server.url() + "/xorb?sig=1");
  }
  EXPECT_EQ(hub.token_requests, 1);  // cached
  EXPECT_EQ(hub.cas_requests, 3);
  EXPECT_EQ(hub.wrong_authorization, 0);
}

TEST(HubClientXetTest, ShortLivedTokensAreNotCached) {
  FakeXetHub hub(
      [](const RawRequest&, const std::string& base) { return httpReply(200, v2Body(base)); },
      /*token_lifetime_s=*/20);  // inside the 30 s margin
  auto c = makeClient(optionsFor(hub.server.url()));
  ASSERT_TRUE(c->xetReconstruction(kRepo, kCommit, kFile, 0, 10));
  ASSERT_TRUE(c->xetReconstruction(kRepo, kCommit, kFile, 0, 10));
  EXPECT_EQ(hub.token_requests, 2);
}

TEST(HubClientXetTest, CasUnauthorizedGetsAFreshTokenOnce) {
  std::atomic<int> refusals{1};
  FakeXetHub hub([&](const RawRequest&, const std::string& base) {
    if (refusals-- > 0) {
      return httpReply(401, R"({"error":"expired"})");
    }
    return httpReply(200, v2Body(base));
  });
  auto c = makeClient(optionsFor(hub.server.url()));
  auto r = c->xetReconstruction(kRepo, kCommit, kFile, 0, 10);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(hub.token_requests, 2);
  // The fresh token is the one cached.
  ASSERT_TRUE(c->xetReconstruction(kRepo, kCommit, kFile, 0, 10));
  EXPECT_EQ(hub.token_requests, 2);
}

TEST(HubClientXetTest, FallsBackToV1On501AndRemembers) {
  FakeXetHub hub([](const RawRequest& r, const std::string& base) {
    if (r.target.rfind("/cas/v2/", 0) == 0) {
      return httpReply(501, "not implemented");
    }
    return httpReply(200, v1Body(base));
  });
  auto c = makeClient(optionsFor(hub.server.url()));
  auto r = c->xetReconstruction(kRepo, kCommit, kFile, 0, 10);
  ASSERT_TRUE(r) << r.error().message;
  const auto& fetches = r->fetches.at(kXorb);
  ASSERT_EQ(fetches.size(), 1u);
  EXPECT_EQ(fetches[0].ranges, (std::vector<XetRange>{{0, 1, 0, 49}}));
  EXPECT_EQ(hub.cas_requests, 2);
  ASSERT_TRUE(c->xetReconstruction(kRepo, kCommit, kFile, 0, 10));
  EXPECT_EQ(hub.cas_requests, 3);     // straight to v1
  EXPECT_EQ(c->stats().retries, 0u);  // a 501 is not retried
}

TEST(HubClientXetTest, V2NotFoundIsCheckedAgainstV1) {
  FakeXetHub hub([](const RawRequest& r, const std::string& base) {
    if (r.target.rfind("/cas/v2/", 0) == 0) {
      return httpReply(404, "Not Found");  // a server without v2
    }
    if (r.target == "/cas/v1/reconstructions/" + kFile) {
      return httpReply(200, v1Body(base));
    }
    return httpReply(404, R"({"error":"file not found"})");
  });
  auto c = makeClient(optionsFor(hub.server.url()));
  auto missing = c->xetReconstruction(kRepo, kCommit, std::string(64, '0'), 0, 10);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, HubErrorKind::kNotFound);
  EXPECT_EQ(hub.cas_requests, 2);  // v2 404, then v1 404: still unknown which it serves
  ASSERT_TRUE(c->xetReconstruction(kRepo, kCommit, kFile, 0, 10));
  EXPECT_EQ(hub.cas_requests, 4);  // v2 404, v1 200: v1 only from now on
  ASSERT_TRUE(c->xetReconstruction(kRepo, kCommit, kFile, 0, 10));
  EXPECT_EQ(hub.cas_requests, 5);
}

TEST(HubClientXetTest, RejectsBadAnswersAndKeepsTokensOutOfMessages) {
  std::atomic<int> mode{0};
  FakeXetHub hub([&](const RawRequest& r, const std::string& base) {
    switch (mode.load()) {
      case 0:  // echoes the token it was sent
        return httpReply(400, "", {"X-Error-Message: bad token " + r.header("authorization")});
      case 1:
        return httpReply(200,
                         R"({"offset_into_first_range":0,"terms":[{"hash":"zz"}],"xorbs":{}})");
      case 2:  // a redirect to another origin would take the CAS token there
        return httpReply(302, "", {"Location: http://127.0.0.2:1/elsewhere"});
      default:
        return httpReply(200, v2Body(base));
    }
  });
  auto c = makeClient(optionsFor(hub.server.url()));
  auto r = c->xetReconstruction(kRepo, kCommit, kFile, 0, 10);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, HubErrorKind::kBadResponse);
  EXPECT_EQ(r.error().message.find(kCasToken), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("[token]"), std::string::npos) << r.error().message;
  mode = 1;
  r = c->xetReconstruction(kRepo, kCommit, kFile, 0, 10);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, HubErrorKind::kBadResponse);
  mode = 2;
  r = c->xetReconstruction(kRepo, kCommit, kFile, 0, 10);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, HubErrorKind::kBadResponse);
  EXPECT_EQ(hub.wrong_authorization, 0);
}

TEST(HubClientXetTest, TokenAnswerIsValidated) {
  LocalRawServer server([](const RawRequest&) {
    return httpReply(200,
                     R"({"accessToken":"a\r\nInjected: 1","exp":9999999999,"casUrl":"http://h"})");
  });
  auto c = makeClient(optionsFor(server.url()));
  auto r = c->xetReconstruction(kRepo, kCommit, kFile, 0, 10);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, HubErrorKind::kBadResponse);
}

// ---- xetFetch --------------------------------------------------------------------------------

struct FetchServer {
  explicit FetchServer(std::function<RawReply(const RawRequest&)> handler)
      : server([this, handler = std::move(handler)](const RawRequest& r) {
          ++requests;
          if (r.has("authorization")) {
            ++with_authorization;
          }
          return handler(r);
        }) {}
  std::atomic<int> requests{0};
  std::atomic<int> with_authorization{0};
  LocalRawServer server;
};

const std::string kXorbBytes = testing::content(400);

std::string slice(std::uint64_t a, std::uint64_t b) {
  return kXorbBytes.substr(static_cast<std::size_t>(a), static_cast<std::size_t>(b - a + 1));
}

TEST(HubClientXetFetchTest, SingleAndMultipleRanges) {
  FetchServer cdn([](const RawRequest& r) {
    if (r.header("range") == "bytes=10-59") {
      return httpReply(206, slice(10, 59), {"Content-Range: bytes 10-59/400"});
    }
    if (r.header("range") == "bytes=0-19,100-149") {
      std::string body = "--b\r\nContent-Range: bytes 0-19/400\r\n\r\n" + slice(0, 19) +
                         "\r\n--b\r\nContent-Range: bytes 100-149/400\r\n\r\n" + slice(100, 149) +
                         "\r\n--b--\r\n";
      return httpReply(206, body, {"Content-Type: multipart/byteranges; boundary=b"});
    }
    return httpReply(400, "");
  });
  // On the endpoint's own origin: still no Authorization.
  auto c = makeClient(optionsFor(cdn.server.url()));
  auto one = c->xetFetch(XetFetch{cdn.server.url() + "/x?s=1", {{0, 1, 10, 59}}});
  ASSERT_TRUE(one) << one.error().message;
  EXPECT_EQ(*one, std::vector<std::string>{slice(10, 59)});
  auto two = c->xetFetch(XetFetch{cdn.server.url() + "/x?s=1", {{0, 1, 0, 19}, {3, 4, 100, 149}}});
  ASSERT_TRUE(two) << two.error().message;
  EXPECT_EQ(*two, (std::vector<std::string>{slice(0, 19), slice(100, 149)}));
  EXPECT_EQ(cdn.with_authorization, 0);
}

TEST(HubClientXetFetchTest, ForbiddenIsFinal) {
  FetchServer cdn(
      [](const RawRequest&) { return httpReply(403, "", {"X-Error-Code: SignatureExpired"}); });
  auto c = makeClient(optionsFor(cdn.server.url()));
  auto r = c->xetFetch(XetFetch{cdn.server.url() + "/x?X-Signature=s3cr3t", {{0, 1, 10, 59}}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, HubErrorKind::kForbidden);
  EXPECT_EQ(r.error().http_status, 403);
  EXPECT_EQ(r.error().message.find("s3cr3t"), std::string::npos);
  EXPECT_EQ(cdn.requests, 1);
}

TEST(HubClientXetFetchTest, RetriesTransientFailures) {
  std::atomic<int> n{0};
  FetchServer cdn([&](const RawRequest&) {
    switch (n++) {
      case 0:
        return httpReply(503, "");
      case 1: {  // cut in the middle of the body
        RawReply reply = httpReply(206, slice(10, 59), {"Content-Range: bytes 10-59/400"});
        reply.bytes.resize(reply.bytes.size() - 10);
        reply.close = true;
        return reply;
      }
      default:
        return httpReply(206, slice(10, 59), {"Content-Range: bytes 10-59/400"});
    }
  });
  auto c = makeClient(optionsFor(cdn.server.url()));
  auto r = c->xetFetch(XetFetch{cdn.server.url() + "/x", {{0, 1, 10, 59}}});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->front(), slice(10, 59));
  EXPECT_EQ(cdn.requests, 3);
}

TEST(HubClientXetFetchTest, AcceptsA200OnlyFromByteZero) {
  FetchServer cdn([](const RawRequest&) { return httpReply(200, kXorbBytes); });
  auto c = makeClient(optionsFor(cdn.server.url()));
  auto r = c->xetFetch(XetFetch{cdn.server.url() + "/x", {{0, 1, 0, 49}}});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->front(), slice(0, 49));
  auto at = c->xetFetch(XetFetch{cdn.server.url() + "/x", {{1, 2, 50, 99}}});
  ASSERT_FALSE(at);
  EXPECT_EQ(at.error().kind, HubErrorKind::kBadResponse);
  auto several = c->xetFetch(XetFetch{cdn.server.url() + "/x", {{0, 1, 0, 49}, {1, 2, 50, 99}}});
  ASSERT_FALSE(several);
  EXPECT_EQ(several.error().kind, HubErrorKind::kBadResponse);
}

TEST(HubClientXetFetchTest, RejectsWrongAnswers) {
  std::vector<RawReply> replies = {
      httpReply(416, "", {"Content-Range: bytes */40"}),
      httpReply(206, slice(11, 60), {"Content-Range: bytes 11-60/400"}),
      httpReply(206, slice(10, 59), {"Content-Range: bytes 10-59/400", "Content-Encoding: gzip"}),
      httpReply(206, slice(10, 59) + "xx",
                {"Content-Range: bytes 10-59/400", "Content-Length: 52"}),
      // Several ranges answered by one plain part.
      httpReply(206, slice(10, 59), {"Content-Range: bytes 10-59/400"}),
      // Multipart with parts in the wrong order.
      httpReply(206,
                "--b\r\nContent-Range: bytes 100-149/400\r\n\r\n" + slice(100, 149) +
                    "\r\n--b\r\nContent-Range: bytes 10-59/400\r\n\r\n" + slice(10, 59) +
                    "\r\n--b--\r\n",
                {"Content-Type: multipart/byteranges; boundary=b"}),
  };
  std::atomic<std::size_t> i{0};
  FetchServer cdn([&](const RawRequest&) { return replies[i.load()]; });
  auto c = makeClient(optionsFor(cdn.server.url()));
  for (; i < replies.size(); ++i) {
    XetFetch f{cdn.server.url() + "/x", {{0, 1, 10, 59}}};
    if (i >= 4) {
      f.ranges.push_back({3, 4, 100, 149});
    }
    auto r = c->xetFetch(f);
    ASSERT_FALSE(r) << i;
    EXPECT_EQ(r.error().kind, HubErrorKind::kBadResponse) << i << ": " << r.error().message;
  }
  auto invalid = c->xetFetch(XetFetch{"ftp://x", {{0, 1, 10, 59}}});
  ASSERT_FALSE(invalid);
  EXPECT_EQ(invalid.error().kind, HubErrorKind::kInvalidArgument);
}

}  // namespace
}  // namespace hfm::hub::testing
