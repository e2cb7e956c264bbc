// SPDX-License-Identifier: Apache-2.0
// The Xet download wire formats: CAS token answers, v1/v2 reconstructions (valid and hostile),
// and multipart/byteranges bodies.
#include "hub/xet_json.h"

#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>

namespace hfm::hub::detail {
namespace {

using nlohmann::json;

const std::string kXorbA = std::string(64, 'a');
const std::string kXorbB = std::string(63, 'b') + "1";
const std::string kUrlA = "https://cdn.example/xorbs/a?r=0-99,200-299&sig=x";
const std::string kUrlB = "http://127.0.0.1:9/xorbs/b";

// Two terms on xorb A (chunks 0-2 and 5-7, fetched in one GET of two ranges) and one on B.
json validV2() {
  return json{
      {"offset_into_first_range", 5},
      {"terms",
       json::array({
           {{"hash", kXorbA}, {"unpacked_length", 1000}, {"range", {{"start", 0}, {"end", 2}}}},
           {{"hash", kXorbB}, {"unpacked_length", 70}, {"range", {{"start", 3}, {"end", 4}}}},
           {{"hash", kXorbA}, {"unpacked_length", 900}, {"range", {{"start", 5}, {"end", 7}}}},
       })},
      {"xorbs",
       {{kXorbA, json::array({{{"url", kUrlA},
                               {"ranges", json::array({
                                              {{"chunks", {{"start", 0}, {"end", 2}}},
                                               {"bytes", {{"start", 0}, {"end", 99}}}},
                                              {{"chunks", {{"start", 5}, {"end", 7}}},
                                               {"bytes", {{"start", 200}, {"end", 299}}}},
                                          })}}})},
        {kXorbB,
         json::array({{{"url", kUrlB},
                       {"ranges", json::array({{{"chunks", {{"start", 3}, {"end", 4}}},
                                                {"bytes", {{"start", 40}, {"end", 59}}}}})}}})}}}};
}

json validV1() {
  return json{
      {"offset_into_first_range", 0},
      {"terms",
       json::array({
           {{"hash", kXorbA}, {"unpacked_length", 1000}, {"range", {{"start", 0}, {"end", 2}}}},
           {{"hash", kXorbA}, {"unpacked_length", 900}, {"range", {{"start", 5}, {"end", 7}}}},
       })},
      {"fetch_info",
       {{kXorbA, json::array({
                     {{"range", {{"start", 0}, {"end", 2}}},
                      {"url", kUrlA},
                      {"url_range", {{"start", 0}, {"end", 99}}}},
                     {{"range", {{"start", 4}, {"end", 7}}},
                      {"url", kUrlB},
                      {"url_range", {{"start", 150}, {"end", 299}}}},
                 })}}}};
}

TEST(XetJsonTest, ParsesToken) {
  auto token = parseXetToken(
      R"({"accessToken":"abc.123.xyz","exp":1900000000,"casUrl":"https://cas.example/base/","x":1})");
  ASSERT_TRUE(token) << token.error().message;
  EXPECT_EQ(token->access_token, "abc.123.xyz");
  EXPECT_EQ(token->expires, 1900000000);
  EXPECT_EQ(token->cas_url, "https://cas.example/base");
}

TEST(XetJsonTest, RejectsBadTokens) {
  const json good = {{"accessToken", "t"}, {"exp", 1900000000}, {"casUrl", "http://h:1/cas"}};
  std::vector<std::function<void(json&)>> damage = {
      [](json& j) { j.erase("accessToken"); },
      [](json& j) { j["accessToken"] = 5; },
      [](json& j) { j["accessToken"] = ""; },
      [](json& j) { j["accessToken"] = "a b"; },
      [](json& j) { j["accessToken"] = "a\r\nX-Evil: 1"; },
      [](json& j) { j["accessToken"] = std::string(64001, 'a'); },
      [](json& j) { j.erase("exp"); },
      [](json& j) { j["exp"] = "1900000000"; },
      [](json& j) { j["exp"] = -1; },
      [](json& j) { j["exp"] = 0; },
      [](json& j) { j["exp"] = 1.5e9; },
      [](json& j) { j["exp"] = 18446744073709551615ull; },
      [](json& j) { j.erase("casUrl"); },
      [](json& j) { j["casUrl"] = nullptr; },
      [](json& j) { j["casUrl"] = "ftp://h/cas"; },
      [](json& j) { j["casUrl"] = "/relative"; },
      [](json& j) { j["casUrl"] = "http://user:pw@h/cas"; },
      [](json& j) { j["casUrl"] = "http://h/cas?x=1"; },
  };
  ASSERT_TRUE(parseXetToken(good.dump()));
  for (std::size_t i = 0; i < damage.size(); ++i) {
    json j = good;
    damage[i](j);
    auto token = parseXetToken(j.dump());
    ASSERT_FALSE(token) << i << ": " << j.dump();
    EXPECT_EQ(token.error().kind, HubErrorKind::kBadResponse);
  }
  for (const char* body : {"", "null", "[]", "not json", "{\"accessToken\":"}) {
    EXPECT_FALSE(parseXetToken(body)) << body;
  }
}

TEST(XetJsonTest, ParsesV2) {
  json body = validV2();
  body["terms"][1]["hash"] = std::string(63, 'B') + "1";  // upper case is lower-cased
  body["xorbs"].erase(kXorbB);
  body["xorbs"][std::string(63, 'B') + "1"] = validV2()["xorbs"][kXorbB];
  body["extra"] = {1, 2};
  auto r = parseReconstructionV2(body.dump());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->offset_into_first_range, 5u);
  ASSERT_EQ(r->terms.size(), 3u);
  EXPECT_EQ(r->terms[0].xorb_hash, kXorbA);
  EXPECT_EQ(r->terms[0].chunk_start, 0u);
  EXPECT_EQ(r->terms[0].chunk_end, 2u);
  EXPECT_EQ(r->terms[0].unpacked_length, 1000u);
  EXPECT_EQ(r->terms[1].xorb_hash, kXorbB);
  ASSERT_EQ(r->fetches.size(), 2u);
  const auto& a = r->fetches.at(kXorbA);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].url, kUrlA);
  ASSERT_EQ(a[0].ranges.size(), 2u);
  EXPECT_EQ(a[0].ranges[1], (XetRange{5, 7, 200, 299}));
  EXPECT_EQ(xetRangeHeader(a[0].ranges), "bytes=0-99,200-299");
  EXPECT_EQ(xetRangeHeader(r->fetches.at(kXorbB)[0].ranges), "bytes=40-59");
}

TEST(XetJsonTest, ParsesEmptyFile) {
  for (const char* body : {R"({"offset_into_first_range":0,"terms":[],"xorbs":{}})"}) {
    auto r = parseReconstructionV2(body);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE(r->terms.empty());
    EXPECT_TRUE(r->fetches.empty());
  }
  auto v1 = parseReconstructionV1(R"({"offset_into_first_range":0,"terms":[],"fetch_info":{}})");
  ASSERT_TRUE(v1) << v1.error().message;
  EXPECT_FALSE(parseReconstructionV2(R"({"offset_into_first_range":3,"terms":[],"xorbs":{}})"));
}

TEST(XetJsonTest, ConvertsV1ToOneRangePerFetch) {
  auto r = parseReconstructionV1(validV1().dump());
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->terms.size(), 2u);
  const auto& a = r->fetches.at(kXorbA);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].url, kUrlA);
  ASSERT_EQ(a[0].ranges.size(), 1u);
  EXPECT_EQ(a[0].ranges[0], (XetRange{0, 2, 0, 99}));
  EXPECT_EQ(a[1].url, kUrlB);
  EXPECT_EQ(a[1].ranges[0], (XetRange{4, 7, 150, 299}));
  // A v1 body is not a v2 body, nor the reverse.
  EXPECT_FALSE(parseReconstructionV2(validV1().dump()));
  EXPECT_FALSE(parseReconstructionV1(validV2().dump()));
}

TEST(XetJsonTest, RejectsHostileV2) {
  auto& a = kXorbA;
  std::vector<std::pair<const char*, std::function<void(json&)>>> damage = {
      {"no offset", [](json& j) { j.erase("offset_into_first_range"); }},
      {"negative offset", [](json& j) { j["offset_into_first_range"] = -1; }},
      {"float offset", [](json& j) { j["offset_into_first_range"] = 1.5; }},
      {"string offset", [](json& j) { j["offset_into_first_range"] = "5"; }},
      {"offset past first term", [](json& j) { j["offset_into_first_range"] = 1000; }},
      {"huge offset", [](json& j) { j["offset_into_first_range"] = 1e30; }},
      {"no terms", [](json& j) { j.erase("terms"); }},
      {"terms object", [](json& j) { j["terms"] = json::object(); }},
      {"term not object", [](json& j) { j["terms"][0] = 3; }},
      {"short hash", [](json& j) { j["terms"][0]["hash"] = std::string(63, 'a'); }},
      {"non-hex hash", [](json& j) { j["terms"][0]["hash"] = std::string(63, 'a') + "g"; }},
      {"numeric hash", [](json& j) { j["terms"][0]["hash"] = 5; }},
      {"inverted term",
       [](json& j) {
         j["terms"][0]["range"] = {{"start", 2}, {"end", 0}};
       }},
      {"empty term",
       [](json& j) {
         j["terms"][0]["range"] = {{"start", 1}, {"end", 1}};
       }},
      {"term past u32", [](json& j) { j["terms"][0]["range"]["end"] = 4294967296ull; }},
      {"term range missing", [](json& j) { j["terms"][0].erase("range"); }},
      {"zero length", [](json& j) { j["terms"][0]["unpacked_length"] = 0; }},
      {"length too big for chunks",
       [](json& j) { j["terms"][0]["unpacked_length"] = 2 * 131072 + 1; }},
      {"length string", [](json& j) { j["terms"][0]["unpacked_length"] = "1000"; }},
      {"no xorbs", [](json& j) { j.erase("xorbs"); }},
      {"xorbs array", [](json& j) { j["xorbs"] = json::array(); }},
      {"bad xorb key", [&](json& j) { j["xorbs"]["zz"] = j["xorbs"][a]; }},
      {"fetch list empty", [&](json& j) { j["xorbs"][a] = json::array(); }},
      {"fetch not object", [&](json& j) { j["xorbs"][a][0] = "x"; }},
      {"no url", [&](json& j) { j["xorbs"][a][0].erase("url"); }},
      {"relative url", [&](json& j) { j["xorbs"][a][0]["url"] = "/xorbs/a"; }},
      {"file url", [&](json& j) { j["xorbs"][a][0]["url"] = "file:///etc/passwd"; }},
      {"no ranges", [&](json& j) { j["xorbs"][a][0]["ranges"] = json::array(); }},
      {"ranges object", [&](json& j) { j["xorbs"][a][0]["ranges"] = json::object(); }},
      {"inverted bytes",
       [&](json& j) {
         j["xorbs"][a][0]["ranges"][0]["bytes"] = {{"start", 99}, {"end", 0}};
       }},
      {"bytes past a xorb",
       [&](json& j) {
         j["xorbs"][a][0]["ranges"][1]["bytes"] = {{"start", 200}, {"end", 64ull << 20}};
       }},
      {"inverted chunks",
       [&](json& j) {
         j["xorbs"][a][0]["ranges"][0]["chunks"] = {{"start", 2}, {"end", 0}};
       }},
      {"ranges out of order",
       [&](json& j) { std::swap(j["xorbs"][a][0]["ranges"][0], j["xorbs"][a][0]["ranges"][1]); }},
      {"overlapping bytes", [&](json& j) { j["xorbs"][a][0]["ranges"][1]["bytes"]["start"] = 99; }},
      {"too few bytes for the chunks",
       [&](json& j) {
         j["xorbs"][a][0]["ranges"][0]["bytes"] = {{"start", 0}, {"end", 10}};
       }},
      {"huge bytes", [&](json& j) { j["xorbs"][a][0]["ranges"][0]["bytes"]["end"] = 1e300; }},
      {"term outside its fetches", [](json& j) { j["terms"][2]["range"]["end"] = 8; }},
      {"term's xorb not fetched", [](json& j) { j["xorbs"].erase(kXorbB); }},
      {"xorb no term uses", [](json& j) { j["xorbs"][std::string(64, 'c')] = j["xorbs"][kXorbB]; }},
      {"duplicate xorb key case",
       [](json& j) { j["xorbs"][std::string(64, 'A')] = j["xorbs"][kXorbA]; }},
  };
  ASSERT_TRUE(parseReconstructionV2(validV2().dump()));
  for (const auto& [what, change] : damage) {
    json j = validV2();
    change(j);
    auto r = parseReconstructionV2(j.dump());
    ASSERT_FALSE(r) << what << ": " << j.dump();
    EXPECT_EQ(r.error().kind, HubErrorKind::kBadResponse) << what;
  }
  for (const char* body : {"", "[]", "null", "{", "{\"terms\":[]}"}) {
    EXPECT_FALSE(parseReconstructionV2(body)) << body;
  }
}

TEST(XetJsonTest, RejectsHostileV1) {
  auto& a = kXorbA;
  std::vector<std::pair<const char*, std::function<void(json&)>>> damage = {
      {"no fetch_info", [](json& j) { j.erase("fetch_info"); }},
      {"fetch_info array", [](json& j) { j["fetch_info"] = json::array(); }},
      {"no url_range", [&](json& j) { j["fetch_info"][a][0].erase("url_range"); }},
      {"inverted url_range",
       [&](json& j) {
         j["fetch_info"][a][0]["url_range"] = {{"start", 5}, {"end", 4}};
       }},
      {"no range", [&](json& j) { j["fetch_info"][a][0].erase("range"); }},
      {"url number", [&](json& j) { j["fetch_info"][a][0]["url"] = 7; }},
      {"term not covered", [&](json& j) { j["fetch_info"][a].erase(1); }},
      {"negative chunk", [&](json& j) { j["fetch_info"][a][0]["range"]["start"] = -1; }},
  };
  for (const auto& [what, change] : damage) {
    json j = validV1();
    change(j);
    auto r = parseReconstructionV1(j.dump());
    ASSERT_FALSE(r) << what << ": " << j.dump();
    EXPECT_EQ(r.error().kind, HubErrorKind::kBadResponse) << what;
  }
}

TEST(XetJsonTest, ChecksFetches) {
  XetFetch f{kUrlA, {{0, 2, 0, 99}, {5, 7, 200, 299}}};
  EXPECT_FALSE(xetFetchProblem(f));
  EXPECT_TRUE(xetFetchProblem(XetFetch{kUrlA, {}}));
  EXPECT_TRUE(xetFetchProblem(XetFetch{"not a url", f.ranges}));
  EXPECT_TRUE(xetFetchProblem(XetFetch{kUrlA, {{0, 1, 10, 5}}}));
  EXPECT_TRUE(xetFetchProblem(XetFetch{kUrlA, {{3, 3, 0, 99}}}));
  EXPECT_TRUE(xetFetchProblem(XetFetch{kUrlA, {{0, 1, 0, 99}, {0, 1, 200, 299}}}));
  // One chunk: at least a header and a byte, at most a header and 256 KiB.
  EXPECT_TRUE(xetFetchProblem(XetFetch{kUrlA, {{0, 1, 0, 7}}}));
  EXPECT_FALSE(xetFetchProblem(XetFetch{kUrlA, {{0, 1, 0, 8}}}));
  EXPECT_FALSE(xetFetchProblem(XetFetch{kUrlA, {{0, 1, 0, 8 + 262144 - 1}}}));
  EXPECT_TRUE(xetFetchProblem(XetFetch{kUrlA, {{0, 1, 0, 8 + 262144}}}));
}

TEST(XetJsonTest, FindsMultipartBoundary) {
  EXPECT_EQ(multipartBoundary("multipart/byteranges; boundary=abc"), "abc");
  EXPECT_EQ(multipartBoundary("Multipart/ByteRanges;charset=x; BOUNDARY=\"a b:c\""), "a b:c");
  EXPECT_EQ(multipartBoundary("multipart/byteranges ;boundary=3d6b6a416f9b5"), "3d6b6a416f9b5");
  EXPECT_FALSE(multipartBoundary("multipart/byteranges"));
  EXPECT_FALSE(multipartBoundary("multipart/byteranges; boundary="));
  EXPECT_FALSE(multipartBoundary("multipart/mixed; boundary=abc"));
  EXPECT_FALSE(multipartBoundary("application/octet-stream"));
  EXPECT_FALSE(multipartBoundary("multipart/byteranges; boundary=" + std::string(71, 'x')));
  EXPECT_FALSE(multipartBoundary("multipart/byteranges; boundary=a\x01z"));
}

// A multipart/byteranges body of `parts` (Content-Range, data), with line ends `eol`.
std::string multipart(const std::vector<std::pair<std::string, std::string>>& parts,
                      const std::string& boundary = "BND", const std::string& eol = "\r\n",
                      const std::string& preamble = "", const std::string& epilogue = "") {
  std::string body = preamble;
  for (const auto& [range, data] : parts) {
    body += "--" + boundary + eol + "Content-Type: application/octet-stream" + eol +
            "Content-Range: " + range + eol + eol + data + eol;
  }
  return body + "--" + boundary + "--" + eol + epilogue;
}

const std::vector<XetRange> kRanges = {{0, 1, 0, 9}, {2, 3, 20, 24}, {4, 5, 100, 102}};
const std::string kD0 = "0123456789", kD1 = "abcde", kD2 = "xyz";

TEST(XetMultipartTest, ParsesSeveralParts) {
  for (const std::string eol : {"\r\n", "\n"}) {
    std::string body = multipart(
        {{"bytes 0-9/500", kD0}, {"bytes 20-24/500", kD1}, {"bytes 100-102/*", kD2}}, "BND", eol);
    auto parts = parseMultipartByteranges(body, "BND", kRanges);
    ASSERT_TRUE(parts) << parts.error().message;
    EXPECT_EQ(*parts, (std::vector<std::string>{kD0, kD1, kD2}));
  }
  // A preamble, an epilogue, transport padding and header names in any case.
  std::string body =
      multipart({{"bytes 0-9/500", kD0}, {"bytes 20-24/500", kD1}, {"bytes 100-102/500", kD2}},
                "BND", "\r\n", "This is a preamble\r\n", "epilogue");
  auto parts = parseMultipartByteranges(body, "BND", kRanges);
  ASSERT_TRUE(parts) << parts.error().message;
  EXPECT_EQ((*parts)[2], kD2);
  std::string padded = "--BND  \r\ncontent-RANGE:bytes 0-9/10\r\n\r\n" + kD0 + "\r\n--BND--";
  parts = parseMultipartByteranges(padded, "BND", std::vector<XetRange>{kRanges[0]});
  ASSERT_TRUE(parts) << parts.error().message;
  EXPECT_EQ((*parts)[0], kD0);
}

TEST(XetMultipartTest, BoundaryAndLineEndsInsideTheData) {
  // Data that holds the delimiter, CRLFs and a fake closing boundary is cut by length.
  const std::string tricky = "\r\n--BND\r\nContent-Range: bytes 1-2/3\r\n\r\n--BND--\r\n";
  std::vector<XetRange> ranges = {{0, 1, 0, tricky.size() - 1}, {1, 2, 1000, 1002}};
  std::string body = multipart({{"bytes 0-" + std::to_string(tricky.size() - 1) + "/2000", tricky},
                                {"bytes 1000-1002/2000", "\r\n-"}});
  auto parts = parseMultipartByteranges(body, "BND", ranges);
  ASSERT_TRUE(parts) << parts.error().message;
  EXPECT_EQ((*parts)[0], tricky);
  EXPECT_EQ((*parts)[1], "\r\n-");
}

TEST(XetMultipartTest, RejectsMismatchedOrDamagedBodies) {
  const std::string good =
      multipart({{"bytes 0-9/500", kD0}, {"bytes 20-24/500", kD1}, {"bytes 100-102/500", kD2}});
  ASSERT_TRUE(parseMultipartByteranges(good, "BND", kRanges));
  std::vector<std::pair<const char*, std::string>> bodies = {
      {"wrong Content-Range",
       multipart({{"bytes 0-9/500", kD0}, {"bytes 21-25/500", kD1}, {"bytes 100-102/500", kD2}})},
      {"out of order",
       multipart({{"bytes 20-24/500", kD1}, {"bytes 0-9/500", kD0}, {"bytes 100-102/500", kD2}})},
      {"malformed Content-Range",
       multipart({{"bytes 0-9", kD0}, {"bytes 20-24/500", kD1}, {"bytes 100-102/500", kD2}})},
      {"Content-Range past total",
       multipart({{"bytes 0-9/5", kD0}, {"bytes 20-24/500", kD1}, {"bytes 100-102/500", kD2}})},
      {"too few parts", multipart({{"bytes 0-9/500", kD0}, {"bytes 20-24/500", kD1}})},
      {"too many parts", multipart({{"bytes 0-9/500", kD0},
                                    {"bytes 20-24/500", kD1},
                                    {"bytes 100-102/500", kD2},
                                    {"bytes 200-202/500", kD2}})},
      {"part data longer",
       multipart(
           {{"bytes 0-9/500", kD0 + "!"}, {"bytes 20-24/500", kD1}, {"bytes 100-102/500", kD2}})},
      {"part data shorter",
       multipart(
           {{"bytes 0-9/500", "012345678"}, {"bytes 20-24/500", kD1}, {"bytes 100-102/500", kD2}})},
      {"truncated in data", good.substr(0, good.find(kD2) + 1)},
      {"truncated in headers", good.substr(0, good.find("bytes 100") + 4)},
      {"no closing boundary", good.substr(0, good.rfind("--BND--"))},
      {"other boundary",
       multipart({{"bytes 0-9/500", kD0}, {"bytes 20-24/500", kD1}, {"bytes 100-102/500", kD2}},
                 "OTHER")},
      {"no Content-Range", "--BND\r\nContent-Type: x\r\n\r\n" + kD0 + "\r\n--BND--\r\n"},
      {"two Content-Ranges",
       "--BND\r\nContent-Range: bytes 0-9/500\r\nContent-Range: bytes 0-9/500\r\n\r\n" + kD0 +
           "\r\n--BND--\r\n"},
      {"header without colon",
       "--BND\r\nContent-Range bytes 0-9/500\r\n\r\n" + kD0 + "\r\n--BND--\r\n"},
      {"empty", ""},
  };
  for (const auto& [what, body] : bodies) {
    auto parts = parseMultipartByteranges(body, "BND", kRanges);
    ASSERT_FALSE(parts) << what;
    EXPECT_EQ(parts.error().kind, HubErrorKind::kBadResponse) << what;
  }
  // Endless headers are cut off.
  std::string long_headers = "--BND\r\n" + std::string(10000, 'x') + ": y\r\n\r\n";
  EXPECT_FALSE(parseMultipartByteranges(long_headers, "BND", kRanges));
}

}  // namespace
}  // namespace hfm::hub::detail
