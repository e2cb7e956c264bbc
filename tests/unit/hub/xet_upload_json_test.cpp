// SPDX-License-Identifier: Apache-2.0
// The Xet upload wire formats: the LFS batch request offering "xet", its answers (xet, basic,
// per-object errors, hostile shapes), the CAS's xorb and shard answers, and the dedup answer's
// shard header check.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "hub/xet_json.h"

namespace hfm::hub::detail {
namespace {

using nlohmann::json;

const std::string kOid = std::string(63, 'a') + "1";
constexpr std::uint64_t kSize = 1234;
const std::string kCas = "http://127.0.0.1:9/_hubd/cas";
const std::string kHref = "http://127.0.0.1:9/api/models/org/name/xet-write-token/main";

json xetHeader() {
  return json{{"X-Xet-Cas-Url", kCas + "/"},
              {"X-Xet-Access-Token", "cas.tok-1"},
              {"X-Xet-Token-Expiration", "1900000000"},
              {"X-Xet-Session-Id", "abc"}};
}

json xetAnswer(json object_extra) {
  json object = {{"oid", kOid}, {"size", kSize}};
  for (auto& [key, value] : object_extra.items()) {
    object[key] = value;
  }
  return json{{"transfer", "xet"}, {"objects", json::array({object})}, {"hash_algo", "sha256"}};
}

json withUpload(json header, json href = kHref) {
  return xetAnswer({{"actions", {{"upload", {{"href", href}, {"header", std::move(header)}}}}}});
}

HubResult<std::optional<XetUploadOffer>> parse(const json& answer) {
  return parseXetBatchAnswer(answer.dump(), kOid, kSize);
}

TEST(XetUploadJsonTest, BatchBodyOffersXet) {
  auto body = xetBatchBody(kOid, kSize, "main");
  ASSERT_TRUE(body);
  auto j = json::parse(*body);
  EXPECT_EQ(j["operation"], "upload");
  EXPECT_EQ(j["transfers"], json::array({"basic", "multipart", "xet"}));
  EXPECT_EQ(j["objects"], json::array({{{"oid", kOid}, {"size", kSize}}}));
  EXPECT_EQ(j["hash_algo"], "sha256");
  EXPECT_EQ(j["ref"], json({{"name", "main"}}));
  auto no_ref = xetBatchBody(kOid, kSize, "");
  ASSERT_TRUE(no_ref);
  EXPECT_FALSE(json::parse(*no_ref).contains("ref"));
  auto bad = xetBatchBody(kOid, kSize, "\xff\xfe");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, HubErrorKind::kInvalidArgument);
}

TEST(XetUploadJsonTest, XetWithUploadActionGivesAccess) {
  auto offer = parse(withUpload(xetHeader()));
  ASSERT_TRUE(offer) << offer.error().message;
  ASSERT_TRUE(offer->has_value());
  const XetUploadOffer& o = **offer;
  EXPECT_FALSE(o.already_stored);
  EXPECT_EQ(o.access.cas_url, kCas);  // trailing '/' dropped
  EXPECT_EQ(o.access.token, "cas.tok-1");
  EXPECT_EQ(o.access.expires, 1900000000);
  EXPECT_EQ(o.access.refresh_url, kHref);

  // Header names in any case, an integer expiry, an upper-case oid in the answer.
  json header = {
      {"x-xet-cas-url", kCas}, {"X-XET-ACCESS-TOKEN", "t"}, {"x-xet-token-expiration", 7}};
  json answer = withUpload(header);
  answer["objects"][0]["oid"] = std::string(63, 'A') + "1";
  offer = parse(answer);
  ASSERT_TRUE(offer) << offer.error().message;
  ASSERT_TRUE(offer->has_value());
  EXPECT_EQ((*offer)->access.token, "t");
  EXPECT_EQ((*offer)->access.expires, 7);
}

TEST(XetUploadJsonTest, XetWithoutActionsIsAlreadyStored) {
  for (const json& extra :
       {json::object(), json{{"actions", nullptr}}, json{{"actions", json::object()}},
        json{{"actions", {{"upload", nullptr}}}}}) {
    auto offer = parse(xetAnswer(extra));
    ASSERT_TRUE(offer) << extra.dump() << ": " << offer.error().message;
    ASSERT_TRUE(offer->has_value());
    EXPECT_TRUE((*offer)->already_stored);
    EXPECT_TRUE((*offer)->access.token.empty());
  }
}

TEST(XetUploadJsonTest, OtherTransfersAreNulloptOnceChecked) {
  json basic = {{"transfer", "basic"},
                {"objects", json::array({{{"oid", kOid},
                                          {"size", kSize},
                                          {"actions", {{"upload", {{"href", "http://h/u"}}}}}}})}};
  auto offer = parse(basic);
  ASSERT_TRUE(offer) << offer.error().message;
  EXPECT_FALSE(offer->has_value());
  basic.erase("transfer");  // git-lfs's default
  offer = parse(basic);
  ASSERT_TRUE(offer) << offer.error().message;
  EXPECT_FALSE(offer->has_value());
  // Checked as uploadLfs checks it.
  basic["objects"][0]["actions"]["upload"]["href"] = "ftp://h/u";
  offer = parse(basic);
  ASSERT_FALSE(offer);
  EXPECT_EQ(offer.error().kind, HubErrorKind::kBadResponse);
  basic["transfer"] = "ssh";
  offer = parse(basic);
  ASSERT_FALSE(offer);
  EXPECT_EQ(offer.error().kind, HubErrorKind::kBadResponse);
}

TEST(XetUploadJsonTest, ObjectErrorsBecomeTheirKind) {
  auto forbidden = parse(xetAnswer({{"error", {{"code", 403}, {"message", "no write access"}}}}));
  ASSERT_FALSE(forbidden);
  EXPECT_EQ(forbidden.error().kind, HubErrorKind::kForbidden);
  EXPECT_EQ(forbidden.error().http_status, 403);
  EXPECT_NE(forbidden.error().message.find("no write access"), std::string::npos);
  auto invalid = parse(xetAnswer({{"error", {{"code", 422}, {"message", "bad object"}}}}));
  ASSERT_FALSE(invalid);
  EXPECT_EQ(invalid.error().kind, HubErrorKind::kBadResponse);
  auto weird = parse(xetAnswer({{"error", {{"code", 42}, {"message", "?"}}}}));
  ASSERT_FALSE(weird);
  EXPECT_EQ(weird.error().http_status, 400);
  auto shapeless = parse(xetAnswer({{"error", "nope"}}));
  ASSERT_FALSE(shapeless);
  EXPECT_EQ(shapeless.error().kind, HubErrorKind::kBadResponse);
  // The same error in a basic answer.
  json basic = {{"objects", json::array({{{"oid", kOid},
                                          {"size", kSize},
                                          {"error", {{"code", 404}, {"message", "gone"}}}}})}};
  auto not_found = parse(basic);
  ASSERT_FALSE(not_found);
  EXPECT_EQ(not_found.error().kind, HubErrorKind::kNotFound);
}

TEST(XetUploadJsonTest, RejectsMalformedXetAnswers) {
  auto header = [](const char* name, json value) {
    json h = xetHeader();
    if (value.is_null()) {
      h.erase(name);
    } else {
      h[name] = std::move(value);
    }
    return h;
  };
  std::vector<std::pair<std::string, json>> cases = {
      {"not JSON", json("{")},
      {"array", json::array()},
      {"no objects", json{{"transfer", "xet"}}},
      {"two objects", json{{"transfer", "xet"},
                           {"objects", json::array({{{"oid", kOid}, {"size", kSize}},
                                                    {{"oid", kOid}, {"size", kSize}}})}}},
      {"no objects in array", json{{"transfer", "xet"}, {"objects", json::array()}}},
      {"object not an object", json{{"transfer", "xet"}, {"objects", json::array({1})}}},
      {"other oid",
       [] {
         json a = xetAnswer({});
         a["objects"][0]["oid"] = std::string(64, 'b');
         return a;
       }()},
      {"short oid",
       [] {
         json a = xetAnswer({});
         a["objects"][0]["oid"] = kOid.substr(1);
         return a;
       }()},
      {"other size",
       [] {
         json a = xetAnswer({});
         a["objects"][0]["size"] = kSize + 1;
         return a;
       }()},
      {"size as string",
       [] {
         json a = xetAnswer({});
         a["objects"][0]["size"] = "1234";
         return a;
       }()},
      {"actions not an object", xetAnswer({{"actions", "x"}})},
      {"upload not an object", xetAnswer({{"actions", {{"upload", 1}}}})},
      {"no href", xetAnswer({{"actions", {{"upload", {{"header", xetHeader()}}}}}})},
      {"relative href", withUpload(xetHeader(), "/api/x")},
      {"no header", xetAnswer({{"actions", {{"upload", {{"href", kHref}}}}}})},
      {"header not an object", withUpload(json::array())},
      {"no CAS URL", withUpload(header("X-Xet-Cas-Url", nullptr))},
      {"CAS URL with query", withUpload(header("X-Xet-Cas-Url", kCas + "?x=1"))},
      {"CAS URL not http", withUpload(header("X-Xet-Cas-Url", "file:///etc"))},
      {"CAS URL not a string", withUpload(header("X-Xet-Cas-Url", 5))},
      {"no token", withUpload(header("X-Xet-Access-Token", nullptr))},
      {"empty token", withUpload(header("X-Xet-Access-Token", ""))},
      {"token with CRLF", withUpload(header("X-Xet-Access-Token", "a\r\nInjected: 1"))},
      {"token with space", withUpload(header("X-Xet-Access-Token", "a b"))},
      {"token too long", withUpload(header("X-Xet-Access-Token", std::string(64001, 'x')))},
      {"no expiry", withUpload(header("X-Xet-Token-Expiration", nullptr))},
      {"zero expiry", withUpload(header("X-Xet-Token-Expiration", "0"))},
      {"negative expiry", withUpload(header("X-Xet-Token-Expiration", -5))},
      {"expiry not digits", withUpload(header("X-Xet-Token-Expiration", "12a"))},
      {"expiry float", withUpload(header("X-Xet-Token-Expiration", 1.5))},
      {"expiry huge", withUpload(header("X-Xet-Token-Expiration", "99999999999999"))},
  };
  for (const auto& [what, answer] : cases) {
    auto offer = answer.is_string() ? parseXetBatchAnswer(answer.get<std::string>(), kOid, kSize)
                                    : parse(answer);
    ASSERT_FALSE(offer) << what;
    EXPECT_EQ(offer.error().kind, HubErrorKind::kBadResponse) << what;
  }
}

TEST(XetUploadJsonTest, CasAnswers) {
  EXPECT_EQ(parseXorbUploadAnswer(R"({"was_inserted":true})").value(), true);
  EXPECT_EQ(parseXorbUploadAnswer(R"({"was_inserted":false,"extra":1})").value(), false);
  for (const char* bad :
       {"", "[]", "{}", R"({"was_inserted":1})", R"({"was_inserted":"true"})", "true"}) {
    auto r = parseXorbUploadAnswer(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().kind, HubErrorKind::kBadResponse);
  }
  EXPECT_EQ(parseShardUploadAnswer(R"({"result":0})").value(), 0);
  EXPECT_EQ(parseShardUploadAnswer(R"({"result":1})").value(), 1);
  for (const char* bad : {"", "{}", R"({"result":2})", R"({"result":-1})", R"({"result":"1"})",
                          R"({"result":1.0})", R"({"result":true})"}) {
    auto r = parseShardUploadAnswer(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().kind, HubErrorKind::kBadResponse);
  }
}

TEST(XetUploadJsonTest, ShardHeaderAndTokenChecks) {
  std::string header("HFRepoMetaData\0", 15);
  for (int b : {85, 105, 103, 69, 106, 123, 129, 87, 131, 165, 189, 217, 92, 205, 209, 74, 169}) {
    header.push_back(static_cast<char>(b));
  }
  std::string shard = header + std::string(16, '\0');
  EXPECT_TRUE(looksLikeShard(shard));
  EXPECT_TRUE(looksLikeShard(shard + "more"));
  EXPECT_FALSE(looksLikeShard(shard.substr(0, 47)));
  std::string wrong = shard;
  wrong[31] = 'x';
  EXPECT_FALSE(looksLikeShard(wrong));
  EXPECT_FALSE(looksLikeShard("{\"error\":\"not found\"}"));

  EXPECT_TRUE(isUsableCasToken("abc.DEF-123_~"));
  EXPECT_FALSE(isUsableCasToken(""));
  EXPECT_FALSE(isUsableCasToken("a b"));
  EXPECT_FALSE(isUsableCasToken("a\nb"));
  EXPECT_FALSE(isUsableCasToken("caf\xc3\xa9"));
  EXPECT_EQ(casUrlValue("https://cas.example//").value(), "https://cas.example");
  EXPECT_EQ(casUrlValue("http://h:1/p").value(), "http://h:1/p");
  EXPECT_FALSE(casUrlValue("http://h/p#f"));
  EXPECT_FALSE(casUrlValue("ftp://h"));
  EXPECT_FALSE(casUrlValue(""));
}

}  // namespace
}  // namespace hfm::hub::detail
