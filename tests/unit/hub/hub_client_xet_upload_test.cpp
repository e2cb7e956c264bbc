// SPDX-License-Identifier: Apache-2.0
// HubClient's Xet uploads against LocalRawServer: the LFS batch offering "xet" (Hub token,
// body, answers), xorb and shard POSTs and the dedup query with the CAS token only (also on the
// endpoint's own origin), retries, refusals, the one refresh on a 401, and arguments refused
// without a request.
#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>

#include "tests/unit/hub/client_test_support.h"

namespace hfm::hub::testing {
namespace {

using nlohmann::json;

const std::string kSha = std::string(63, 'c') + "d";
const std::string kXorb = std::string(64, 'a');
const std::string kChunk = std::string(64, 'b');
const std::string kCasToken = "cas-WrItE-1";
const std::string kBatchPath = "/org/name.git/info/lfs/objects/batch";
const std::string kRefreshPath = "/api/models/org/name/xet-write-token/main";

std::span<const std::uint8_t> bytesOf(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

std::string shardBytes() {
  std::string out("HFRepoMetaData\0", 15);
  for (int b : {85, 105, 103, 69, 106, 123, 129, 87, 131, 165, 189, 217, 92, 205, 209, 74, 169}) {
    out.push_back(static_cast<char>(b));
  }
  return out + std::string(16, '\0') + "rest";
}

// A Hub with its CAS under /cas on the same origin. `cas` answers CAS requests; the write-token
// URL hands out kCasToken-<n>.
struct FakeCas {
  explicit FakeCas(std::function<RawReply(const RawRequest&)> cas)
      : server([this, cas = std::move(cas)](const RawRequest& r) {
          if (r.target == kRefreshPath) {
            ++refreshes;
            if (r.header("authorization") != "Bearer " + kToken) {
              return httpReply(401, "{}");
            }
            return httpReply(200,
                             json{{"accessToken", kCasToken + "-" + std::to_string(refreshes + 1)},
                                  {"exp", 4000000000},
                                  {"casUrl", server.url() + "/cas"}}
                                 .dump());
          }
          if (r.target.rfind("/cas/", 0) == 0) {
            ++cas_requests;
            if (r.header("authorization").rfind("Bearer " + kCasToken, 0) != 0) {
              ++wrong_authorization;
            }
          }
          return cas(r);
        }) {}

  XetWriteAccess access(bool with_refresh = true) const {
    return XetWriteAccess{server.url() + "/cas", kCasToken + "-1", 4000000000,
                          with_refresh ? server.url() + kRefreshPath : ""};
  }

  std::atomic<int> refreshes{0};
  std::atomic<int> cas_requests{0};
  std::atomic<int> wrong_authorization{0};
  LocalRawServer server;
};

TEST(HubClientXetUploadTest, OfferSendsTheBatchWithTheHubToken) {
  std::atomic<int> mode{0};
  LocalRawServer hub([&](const RawRequest& r) {
    if (r.method != "POST" || r.target != kBatchPath ||
        r.header("authorization") != "Bearer " + kToken ||
        r.header("content-type") != "application/vnd.git-lfs+json" ||
        r.header("accept") != "application/vnd.git-lfs+json") {
      return httpReply(400, R"({"error":"unexpected request"})");
    }
    auto body = json::parse(r.body);
    if (body["transfers"] != json::array({"basic", "multipart", "xet"}) ||
        body["objects"][0]["oid"] != kSha || body["objects"][0]["size"] != 99 ||
        body["ref"]["name"] != "main") {
      return httpReply(400, R"({"error":"unexpected body"})");
    }
    json object = {{"oid", kSha}, {"size", 99}};
    switch (mode.load()) {
      case 0:
        object["actions"] = {{"upload",
                              {{"href", "http://hub.example" + kRefreshPath},
                               {"header",
                                {{"X-Xet-Cas-Url", "http://cas.example/"},
                                 {"X-Xet-Access-Token", kCasToken},
                                 {"X-Xet-Token-Expiration", "4000000000"}}}}}};
        break;
      case 1:
        break;  // stored
      case 2:
        return httpReply(200,
                         json{{"transfer", "basic"}, {"objects", json::array({object})}}.dump());
      case 3:
        object["error"] = {{"code", 403}, {"message", "read-only token"}};
        break;
      default:
        return httpReply(200, R"({"transfer":"xet","objects":[{"oid":"x"}]})");
    }
    return httpReply(200, json{{"transfer", "xet"}, {"objects", json::array({object})}}.dump());
  });
  auto c = makeClient(optionsFor(hub.url()));
  // Upper case in, lower case on the wire.
  std::string upper = kSha;
  for (auto& ch : upper) {
    ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  }
  auto offer = c->offerXetUpload(kRepo, "main", upper, 99);
  ASSERT_TRUE(offer) << offer.error().message;
  ASSERT_TRUE(offer->has_value());
  EXPECT_FALSE((*offer)->already_stored);
  EXPECT_EQ((*offer)->access.cas_url, "http://cas.example");
  EXPECT_EQ((*offer)->access.token, kCasToken);
  EXPECT_EQ((*offer)->access.expires, 4000000000);
  EXPECT_EQ((*offer)->access.refresh_url, "http://hub.example" + kRefreshPath);
  mode = 1;
  offer = c->offerXetUpload(kRepo, "main", kSha, 99);
  ASSERT_TRUE(offer) << offer.error().message;
  ASSERT_TRUE(offer->has_value());
  EXPECT_TRUE((*offer)->already_stored);
  mode = 2;
  offer = c->offerXetUpload(kRepo, "main", kSha, 99);
  ASSERT_TRUE(offer) << offer.error().message;
  EXPECT_FALSE(offer->has_value());
  mode = 3;
  offer = c->offerXetUpload(kRepo, "main", kSha, 99);
  ASSERT_FALSE(offer);
  EXPECT_EQ(offer.error().kind, HubErrorKind::kForbidden);
  EXPECT_NE(offer.error().message.find("read-only token"), std::string::npos);
  EXPECT_NE(offer.error().message.find("POST " + kBatchPath), std::string::npos)
      << offer.error().message;
  mode = 4;
  offer = c->offerXetUpload(kRepo, "main", kSha, 99);
  ASSERT_FALSE(offer);
  EXPECT_EQ(offer.error().kind, HubErrorKind::kBadResponse);
  const auto requests = hub.requests().size();
  offer = c->offerXetUpload(kRepo, "main", "xyz", 99);
  ASSERT_FALSE(offer);
  EXPECT_EQ(offer.error().kind, HubErrorKind::kInvalidArgument);
  EXPECT_EQ(hub.requests().size(), requests);
}

TEST(HubClientXetUploadTest, PostsXorbsAndShardsWithTheCasTokenOnly) {
  const std::string xorb = testing::content(5000);
  const std::string shard = testing::content(700);
  FakeCas cas([&](const RawRequest& r) {
    if (r.method == "POST" && r.target == "/cas/v1/xorbs/default/" + kXorb &&
        r.header("content-type") == "application/octet-stream" && r.body == xorb) {
      return httpReply(200, R"({"was_inserted":true})");
    }
    if (r.method == "POST" && r.target == "/cas/v1/shards" && r.body == shard) {
      return httpReply(200, R"({"result":1})");
    }
    return httpReply(400, R"({"error":"unexpected"})");
  });
  // The CAS shares the endpoint's origin: still no Hub token there.
  auto c = makeClient(optionsFor(cas.server.url()));
  auto access = cas.access();
  access.cas_url += "/";
  std::string upper(64, 'A');
  auto inserted = c->xetUploadXorb(access, upper, bytesOf(xorb));
  ASSERT_TRUE(inserted) << inserted.error().message;
  EXPECT_TRUE(*inserted);
  auto registered = c->xetUploadShard(access, bytesOf(shard));
  ASSERT_TRUE(registered) << registered.error().message;
  EXPECT_EQ(cas.cas_requests, 2);
  EXPECT_EQ(cas.wrong_authorization, 0);
  for (const RawRequest& r : cas.server.requests()) {
    EXPECT_EQ(r.header("authorization").find(kToken), std::string::npos);
  }
  EXPECT_GE(c->stats().bytes_uploaded, xorb.size() + shard.size());
}

TEST(HubClientXetUploadTest, RetriesTransientFailures) {
  std::atomic<int> n{0};
  FakeCas cas([&](const RawRequest& r) {
    switch (n++ % 3) {
      case 0:
        return httpReply(503, "");
      case 1: {
        RawReply cut = httpReply(200, R"({"was_inserted":false})");
        cut.bytes.resize(cut.bytes.size() - 5);
        cut.close = true;
        return cut;
      }
      default:
        return r.target == "/cas/v1/shards" ? httpReply(200, R"({"result":0})")
                                            : httpReply(200, R"({"was_inserted":false})");
    }
  });
  auto c = makeClient(optionsFor(cas.server.url()));
  auto inserted = c->xetUploadXorb(cas.access(), kXorb, bytesOf("xorb"));
  ASSERT_TRUE(inserted) << inserted.error().message;
  EXPECT_FALSE(*inserted);
  ASSERT_TRUE(c->xetUploadShard(cas.access(), bytesOf("shard")));
  EXPECT_EQ(cas.cas_requests, 6);
  EXPECT_EQ(c->stats().retries, 4u);
}

TEST(HubClientXetUploadTest, RefusalsCarryTheServersMessageButNotTheToken) {
  std::atomic<int> mode{0};
  FakeCas cas([&](const RawRequest& r) {
    switch (mode.load()) {
      case 0:
        return httpReply(400, R"({"error":"xorb 0123 referenced by the shard is missing"})");
      case 1:  // echoes the token
        return httpReply(400, "", {"X-Error-Message: bad " + r.header("authorization")});
      case 2:
        return httpReply(403, R"({"error":"This CAS token is read-only"})");
      case 3:
        return httpReply(200, R"({"result":7})");
      case 4:
        return httpReply(200, R"({"was_inserted":"yes"})");
      default:  // would take the CAS token elsewhere
        return httpReply(307, "", {"Location: http://127.0.0.2:1/cas/v1/shards"});
    }
  });
  auto c = makeClient(optionsFor(cas.server.url()));
  auto r = c->xetUploadShard(cas.access(), bytesOf("shard"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().http_status, 400);
  EXPECT_EQ(r.error().kind, HubErrorKind::kBadResponse);
  EXPECT_NE(r.error().message.find("referenced by the shard is missing"), std::string::npos)
      << r.error().message;
  mode = 1;
  r = c->xetUploadShard(cas.access(), bytesOf("shard"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message.find(kCasToken), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("[token]"), std::string::npos) << r.error().message;
  mode = 2;
  r = c->xetUploadShard(cas.access(), bytesOf("shard"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, HubErrorKind::kForbidden);
  EXPECT_EQ(r.error().http_status, 403);
  mode = 3;
  r = c->xetUploadShard(cas.access(), bytesOf("shard"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, HubErrorKind::kBadResponse);
  mode = 4;
  auto x = c->xetUploadXorb(cas.access(), kXorb, bytesOf("xorb"));
  ASSERT_FALSE(x);
  EXPECT_EQ(x.error().kind, HubErrorKind::kBadResponse);
  mode = 5;
  r = c->xetUploadShard(cas.access(), bytesOf("shard"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, HubErrorKind::kBadResponse);
  EXPECT_EQ(cas.refreshes, 0);
  EXPECT_EQ(c->stats().retries, 0u);
  EXPECT_EQ(cas.wrong_authorization, 0);
}

TEST(HubClientXetUploadTest, QueriesChunks) {
  std::atomic<int> mode{0};
  FakeCas cas([&](const RawRequest& r) {
    if (r.method != "GET" || r.target != "/cas/v1/chunks/default/" + kChunk) {
      return httpReply(400, "");
    }
    switch (mode.load()) {
      case 0:
        return httpReply(200, shardBytes());
      case 1:
        return httpReply(404, R"({"error":"chunk not found"})");
      default:
        return httpReply(200, R"({"not":"a shard, but long enough to hold a shard header"})");
    }
  });
  auto c = makeClient(optionsFor(cas.server.url()));
  auto found = c->xetQueryChunk(cas.access(), std::string(64, 'B'));
  ASSERT_TRUE(found) << found.error().message;
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ(**found, shardBytes());
  mode = 1;
  found = c->xetQueryChunk(cas.access(), kChunk);
  ASSERT_TRUE(found) << found.error().message;
  EXPECT_FALSE(found->has_value());
  mode = 2;
  found = c->xetQueryChunk(cas.access(), kChunk);
  ASSERT_FALSE(found);
  EXPECT_EQ(found.error().kind, HubErrorKind::kBadResponse);
  EXPECT_EQ(cas.wrong_authorization, 0);
}

TEST(HubClientXetUploadTest, UnauthorizedRefreshesTheTokenOnceAndKeepsIt) {
  std::atomic<int> refusals{1};
  FakeCas cas([&](const RawRequest& r) {
    if (refusals-- > 0) {
      return httpReply(401, R"({"error":"token expired"})");
    }
    // The offer's token has expired; only fresh ones work.
    if (r.header("authorization") == "Bearer " + kCasToken + "-1") {
      return httpReply(401, R"({"error":"token expired"})");
    }
    return httpReply(200, R"({"was_inserted":true})");
  });
  auto c = makeClient(optionsFor(cas.server.url()));
  auto r = c->xetUploadXorb(cas.access(), kXorb, bytesOf("xorb"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(cas.refreshes, 1);
  EXPECT_EQ(cas.cas_requests, 2);
  // The fresh token is kept: the next call with the old access sends it straight away.
  r = c->xetUploadXorb(cas.access(), kXorb, bytesOf("xorb"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(cas.refreshes, 1);
  EXPECT_EQ(cas.cas_requests, 3);
  // Without a refresh URL, or when the fresh token fails too: kUnauthorized.
  r = c->xetUploadXorb(cas.access(/*with_refresh=*/false), kXorb, bytesOf("xorb"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, HubErrorKind::kUnauthorized);
  EXPECT_EQ(r.error().http_status, 401);
  EXPECT_EQ(cas.refreshes, 1);
  refusals = 100;
  r = c->xetUploadXorb(cas.access(), kXorb, bytesOf("xorb"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, HubErrorKind::kUnauthorized);
  EXPECT_EQ(cas.refreshes, 2);
  // A refresh URL on another origin would not get the Hub token: not used.
  auto elsewhere = cas.access();
  elsewhere.refresh_url = "http://127.0.0.2:1" + kRefreshPath;
  refusals = 1;
  r = c->xetUploadXorb(elsewhere, kXorb, bytesOf("xorb"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, HubErrorKind::kUnauthorized);
  EXPECT_EQ(cas.refreshes, 2);
  EXPECT_EQ(cas.wrong_authorization, 0);
}

TEST(HubClientXetUploadTest, RefusesArgumentsWithoutARequest) {
  FakeCas cas([](const RawRequest&) { return httpReply(200, R"({"was_inserted":true})"); });
  auto c = makeClient(optionsFor(cas.server.url()));
  auto expectInvalid = [](const auto& result, const char* what) {
    ASSERT_FALSE(result) << what;
    EXPECT_EQ(result.error().kind, HubErrorKind::kInvalidArgument) << what;
  };
  expectInvalid(c->xetUploadXorb(cas.access(), "abc", bytesOf("x")), "short hash");
  expectInvalid(c->xetUploadXorb(cas.access(), std::string(64, 'g'), bytesOf("x")), "not hex");
  expectInvalid(c->xetUploadXorb(cas.access(), kXorb, {}), "empty xorb");
  const std::string huge((64u << 20) + 1, 'x');
  expectInvalid(c->xetUploadXorb(cas.access(), kXorb, bytesOf(huge)), "huge xorb");
  expectInvalid(c->xetUploadShard(cas.access(), {}), "empty shard");
  expectInvalid(c->xetUploadShard(cas.access(), bytesOf(huge)), "huge shard");
  expectInvalid(c->xetQueryChunk(cas.access(), "zz"), "bad chunk hash");
  auto injected = cas.access();
  injected.token = "t\r\nX-Injected: 1";
  expectInvalid(c->xetUploadShard(injected, bytesOf("s")), "token with CRLF");
  auto no_token = cas.access();
  no_token.token.clear();
  expectInvalid(c->xetQueryChunk(no_token, kChunk), "no token");
  auto bad_url = cas.access();
  bad_url.cas_url = "ftp://cas";
  expectInvalid(c->xetUploadXorb(bad_url, kXorb, bytesOf("x")), "not http");
  bad_url.cas_url = cas.server.url() + "/cas?x=1";
  expectInvalid(c->xetUploadXorb(bad_url, kXorb, bytesOf("x")), "with query");
  EXPECT_TRUE(cas.server.requests().empty());
}

}  // namespace
}  // namespace hfm::hub::testing
